//! Which functions a read asks about: one name, or every name that starts
//! with a prefix (written with a trailing `*`).

use std::fmt;
use std::str::FromStr;

/// A filter on function names: exact (`billing::charge`) or a prefix with a
/// trailing `*` (`billing::*`, or `*` alone for every function).
///
/// Parsed from the text a user types (`--name` in the `monitor` command),
/// and shown back the same way. The comparison is byte for byte (case
/// matters), as names are written in the logs and in `stats.db`.
///
/// ```
/// use monitor_core::NameFilter;
///
/// let exact: NameFilter = "billing::charge".parse()?;
/// assert!(exact.matches("billing::charge"));
/// assert!(!exact.matches("billing::charge_all"));
///
/// let prefix: NameFilter = "billing::*".parse()?;
/// assert!(prefix.matches("billing::charge"));
/// assert!(prefix.matches("billing::refund"));
/// assert!(!prefix.matches("shipping::send"));
/// assert_eq!(prefix.to_string(), "billing::*");
///
/// // A `*` anywhere but at the end is refused, with the accepted forms.
/// assert!("bill*ing".parse::<NameFilter>().is_err());
/// # Ok::<(), monitor_core::ParseNameFilterError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NameFilter(Kind);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Exact(String),
    Prefix(String),
}

impl NameFilter {
    /// A filter that matches this name only.
    ///
    /// ```
    /// use monitor_core::NameFilter;
    /// let filter = NameFilter::exact("jobs::nightly");
    /// assert!(filter.matches("jobs::nightly"));
    /// assert!(!filter.matches("jobs::nightly2"));
    /// ```
    pub fn exact(name: impl Into<String>) -> NameFilter {
        NameFilter(Kind::Exact(name.into()))
    }

    /// A filter that matches every name starting with `prefix` (the empty
    /// prefix matches every name).
    ///
    /// ```
    /// use monitor_core::NameFilter;
    /// let filter = NameFilter::prefix("jobs::");
    /// assert!(filter.matches("jobs::nightly"));
    /// assert_eq!(filter.to_string(), "jobs::*");
    /// ```
    pub fn prefix(prefix: impl Into<String>) -> NameFilter {
        NameFilter(Kind::Prefix(prefix.into()))
    }

    /// Whether `name` passes the filter.
    ///
    /// ```
    /// use monitor_core::NameFilter;
    /// let all: NameFilter = "*".parse()?;
    /// assert!(all.matches("anything::at_all"));
    /// # Ok::<(), monitor_core::ParseNameFilterError>(())
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        match &self.0 {
            Kind::Exact(exact) => name == exact,
            Kind::Prefix(prefix) => name.starts_with(prefix.as_str()),
        }
    }

    /// The exact name, when the filter is one (`None` for a prefix).
    ///
    /// ```
    /// use monitor_core::NameFilter;
    /// assert_eq!(NameFilter::exact("a::b").as_exact(), Some("a::b"));
    /// assert_eq!(NameFilter::prefix("a::").as_exact(), None);
    /// ```
    pub fn as_exact(&self) -> Option<&str> {
        match &self.0 {
            Kind::Exact(exact) => Some(exact),
            Kind::Prefix(_) => None,
        }
    }

    /// The prefix, when the filter is one (without its `*`; `None` for an
    /// exact name).
    ///
    /// ```
    /// use monitor_core::NameFilter;
    /// assert_eq!(NameFilter::prefix("a::").as_prefix(), Some("a::"));
    /// assert_eq!(NameFilter::exact("a::b").as_prefix(), None);
    /// ```
    pub fn as_prefix(&self) -> Option<&str> {
        match &self.0 {
            Kind::Exact(_) => None,
            Kind::Prefix(prefix) => Some(prefix),
        }
    }
}

impl fmt::Display for NameFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Exact(exact) => f.write_str(exact),
            Kind::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

impl FromStr for NameFilter {
    type Err = ParseNameFilterError;

    fn from_str(text: &str) -> Result<NameFilter, ParseNameFilterError> {
        let error = |problem: &'static str| ParseNameFilterError {
            text: text.chars().take(128).collect(),
            problem,
        };
        if text.is_empty() {
            return Err(error("the name is empty"));
        }
        let (body, is_prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.contains('*') {
            return Err(error("`*` is accepted only once, at the end"));
        }
        Ok(if is_prefix {
            NameFilter::prefix(body)
        } else {
            NameFilter::exact(body)
        })
    }
}

/// Why a text is not a [`NameFilter`]: it is empty, or it has a `*`
/// elsewhere than at its end. The message shows the accepted forms.
///
/// ```
/// use monitor_core::NameFilter;
/// let error = "a*b".parse::<NameFilter>().unwrap_err();
/// assert!(error.to_string().contains("`a*b`"));
/// assert!(error.to_string().contains("prefix::*"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNameFilterError {
    text: String,
    problem: &'static str,
}

impl fmt::Display for ParseNameFilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a name filter: {} (write a function's name, `module::function`, \
             or a prefix followed by `*`, `prefix::*`)",
            self.text.escape_debug(),
            self.problem
        )
    }
}

impl std::error::Error for ParseNameFilterError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_prefix_and_star_alone() {
        assert_eq!("a::b".parse(), Ok(NameFilter::exact("a::b")));
        assert_eq!("a::*".parse(), Ok(NameFilter::prefix("a::")));
        assert_eq!("*".parse(), Ok(NameFilter::prefix("")));
        assert!("*".parse::<NameFilter>().unwrap().matches(""));
    }

    #[test]
    fn refuses_empty_and_inner_or_double_stars() {
        for bad in ["", "a*b", "**", "a**", "*a"] {
            assert!(bad.parse::<NameFilter>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn prefix_does_not_match_shorter_names() {
        let filter = NameFilter::prefix("jobs::night");
        assert!(!filter.matches("jobs::"));
        assert!(filter.matches("jobs::nightly"));
    }

    #[test]
    fn display_round_trips() {
        for text in ["a::b", "a::*", "*", "ü::ß*"] {
            assert_eq!(text.parse::<NameFilter>().unwrap().to_string(), text);
        }
    }
}
