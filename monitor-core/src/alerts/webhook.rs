//! [`WebhookNotifier`] (feature `webhook`): each notification POSTed as
//! JSON to a URL, with a timeout and retries with back-off, on the
//! notifier's own thread. The one place the HTTP client (`ureq`) is used.

use std::time::Duration;

use super::notify::Notifier;
use super::types::Alert;

/// POSTs every alert notification (fired, reminder, resolved) as JSON to a
/// URL: a Slack-compatible `text` (the alert's one-line text, so a Slack or
/// Mattermost incoming webhook shows it as it is) and the structured
/// `alert` (the alerts log's line: rule, function, state, severity,
/// message, since, numbers, episode…):
///
/// ```json
/// {"text":"[error] consecutive_failures firing: scale_ec2: 5 failures in a row …",
///  "alert":{"timestamp":"…","rule":"consecutive_failures","function":"scale_ec2",…}}
/// ```
///
/// Like every [`Notifier`] it runs on its own `monitor-notifier-N` thread,
/// so a slow or failing endpoint never holds up the host or the collector.
/// Each POST has a [timeout](Self::timeout) (default 5 s); a transport
/// error, a time-out, a `5xx` or a `429` answer is retried after a
/// [back-off](Self::backoff) that doubles (default 500 ms, at most 30 s),
/// up to [`attempts`](Self::attempts) tries in all (default 3). Any other
/// answer outside `2xx` is not retried. A URL that cannot be requested
/// (malformed, a scheme other than `http`/`https`, no host) and a zero
/// timeout are refused by `install()` ([`Notifier::validate`]). A
/// notification given up on is
/// counted ([`Notifier::failures`]): it raises the `notifier_failing`
/// alert, which the other notifiers receive, and shows in
/// [`health`](crate::health). Keep `attempts × timeout` plus the back-offs
/// below the [notifier timeout](crate::MonitorBuilder::notifier_timeout)
/// if `flush()` should wait for the deliveries.
///
/// HTTPS is supported (rustls with the Mozilla root certificates).
///
/// ```no_run
/// use std::time::Duration;
/// use monitor_core::{Monitor, WebhookNotifier};
///
/// let guard = Monitor::builder()
///     .notifier(
///         WebhookNotifier::new("https://hooks.slack.com/services/T000/B000/XXXX")
///             .timeout(Duration::from_secs(3))
///             .attempts(4),
///     )
///     .notifier_timeout(Duration::from_secs(20))
///     .install()?;
/// # drop(guard);
/// # Ok::<(), monitor_core::InstallError>(())
/// ```
pub struct WebhookNotifier {
    url: String,
    name: String,
    timeout: Duration,
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    agent: Option<ureq::Agent>,
    /// Notifications given up on.
    failures: u64,
}

impl std::fmt::Debug for WebhookNotifier {
    /// Without the URL: a webhook's URL is often its secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// How one POST went.
enum Outcome {
    Delivered,
    /// Worth another try (transport error, time-out, 5xx, 429).
    Retry(String),
    /// Not worth another try (another 4xx, say).
    GiveUp(String),
}

impl WebhookNotifier {
    /// A notifier POSTing to `url` (`http://` or `https://`), named
    /// `webhook` in health reports. `install()` refuses a URL that does not
    /// parse, has another scheme or no host
    /// ([`InstallError::InvalidConfig`](crate::InstallError::InvalidConfig),
    /// setting `notifier`); the error does not repeat the URL, which often
    /// holds a secret token.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookNotifier {
            url: url.into(),
            name: "webhook".to_owned(),
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            agent: None,
            failures: 0,
        }
    }

    /// How long one POST may take, connecting included (default 5 s;
    /// `install()` refuses zero).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.agent = None;
        self
    }

    /// How many tries in all before a notification is given up (default
    /// 3; at least 1).
    #[must_use]
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The wait before the first retry, doubled before each further one
    /// (default 500 ms), and the longest wait (default 30 s).
    #[must_use]
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// The name in health reports and the `notifier_failing` alert
    /// (default `webhook`): tell several webhooks apart.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The request body for `alert`.
    fn body(alert: &Alert) -> Vec<u8> {
        let mut body = Vec::with_capacity(1024);
        body.extend_from_slice(b"{\"text\":");
        crate::json::push_str(&mut body, &alert.to_string());
        body.extend_from_slice(b",\"alert\":");
        if crate::json::write_value(&mut body, alert).is_err() {
            body.extend_from_slice(b"null");
        }
        body.push(b'}');
        body
    }

    fn post(&mut self, body: &[u8]) -> Outcome {
        let timeout = self.timeout;
        let agent = self.agent.get_or_insert_with(|| {
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .user_agent(concat!("monitor/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        });
        match agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(body)
        {
            Ok(response) => {
                let status = response.status().as_u16();
                match status {
                    200..=299 => Outcome::Delivered,
                    429 | 500..=599 => Outcome::Retry(format!("HTTP {status}")),
                    _ => Outcome::GiveUp(format!("HTTP {status}")),
                }
            }
            // A URL that cannot be requested (a bad URI, an unknown scheme)
            // fails the same way every time: no retry.
            Err(error @ (ureq::Error::BadUri(_) | ureq::Error::Http(_))) => {
                Outcome::GiveUp(error.to_string())
            }
            Err(error) => Outcome::Retry(error.to_string()),
        }
    }
}

impl Notifier for WebhookNotifier {
    fn validate(&self) -> Result<(), String> {
        let example = "give one such as \"https://hooks.slack.com/services/…\"";
        let uri: ureq::http::Uri = self
            .url
            .parse()
            .map_err(|error| format!("the URL does not parse ({error}); {example}"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => {
                return Err(format!(
                    "the URL's scheme is {other:?}, not http or https; {example}"
                ))
            }
            None => return Err(format!("the URL has no http:// or https://; {example}")),
        }
        let host = uri.host().unwrap_or_default();
        if host.is_empty() {
            return Err(format!("the URL has no host; {example}"));
        }
        // `Uri` keeps a port it cannot read as a number (`:99999`): the
        // request would fail every time. (An empty port, `host:/`, is the
        // default one.)
        let authority = uri.authority().map_or("", |authority| authority.as_str());
        let host_and_port = authority
            .rsplit_once('@')
            .map_or(authority, |(_, rest)| rest);
        let port = host_and_port
            .strip_prefix(host)
            .and_then(|after_host| after_host.strip_prefix(':'))
            .unwrap_or_default();
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return Err(format!(
                "the URL's port is not a number from 0 to 65535; {example}"
            ));
        }
        if self.timeout.is_zero() {
            return Err("timeout must be longer than zero (default 5 s)".to_owned());
        }
        Ok(())
    }

    fn notify(&mut self, alert: &Alert) {
        let body = Self::body(alert);
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.post(&body) {
                Outcome::Delivered => return,
                Outcome::GiveUp(why) => {
                    last = why;
                    break;
                }
                Outcome::Retry(why) => last = why,
            }
            if attempt < self.attempts {
                // The back-off is this notifier thread's own wait: nobody
                // else waits for it.
                std::thread::sleep(wait);
                wait = (wait * 2).min(self.max_backoff);
            }
        }
        self.failures += 1;
        eprintln!(
            "monitor: webhook `{}` gave up on a notification ({last}); {} so far",
            self.name, self.failures
        );
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn failures(&self) -> u64 {
        self.failures
    }
}
