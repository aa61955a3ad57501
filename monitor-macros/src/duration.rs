//! `"200ms"`, `"1.5s"`, `"1h"` → nanoseconds, at compile time.

/// Parses a duration; the error says what is accepted.
pub(crate) fn parse_nanos(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit; write e.g. \"200ms\", \"5s\" or \"1h\""))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("`{text}` does not start with a number; write e.g. \"200ms\", \"5s\" or \"1h\"")
    })?;
    let scale = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86_400e9,
        other => {
            return Err(format!(
                "unknown unit `{other}`; use ns, us, ms, s, m, h or d"
            ))
        }
    };
    let nanos = value * scale;
    if !(nanos >= 1.0 && nanos < u64::MAX as f64) {
        return Err(format!(
            "`{text}` must be longer than zero and shorter than 500 years"
        ));
    }
    Ok(nanos as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_nanos;

    #[test]
    fn units() {
        assert_eq!(parse_nanos("200ms"), Ok(200_000_000));
        assert_eq!(parse_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_nanos("1h"), Ok(3_600_000_000_000));
        assert!(parse_nanos("5").is_err());
        assert!(parse_nanos("5 parsecs").is_err());
        assert!(parse_nanos("0s").is_err());
    }
}
