//! [`OtlpConfig`]: where and how the exporter sends, checked at `install()`.

use std::time::Duration;

/// The longest request timeout accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Where and how to export executions as OTLP spans and statistics as OTLP
/// metrics (feature `otlp`): OTLP over HTTP with protobuf bodies, to an
/// OpenTelemetry Collector or any OTLP/HTTP receiver. Give it to
/// [`MonitorBuilder::otlp`](crate::MonitorBuilder::otlp).
///
/// ```no_run
/// use std::time::Duration;
/// use monitor_core::{Monitor, OtlpConfig};
///
/// let guard = Monitor::builder()
///     .otlp(
///         OtlpConfig::http("http://127.0.0.1:4318")
///             .service_name("billing")
///             .resource_attribute("deployment.environment", "prod")
///             .header("x-api-key", "secret")
///             .export_interval(Duration::from_secs(10))
///             .success_sample_ratio(0.1),
///     )
///     .install()?;
/// # Ok::<(), monitor_core::InstallError>(())
/// ```
///
/// Spans go to `<endpoint>/v1/traces`, metrics to `<endpoint>/v1/metrics`
/// (the OTLP/HTTP paths; port 4318 is the Collector's default).
#[derive(Clone, Debug)]
#[must_use = "an OtlpConfig does nothing until given to MonitorBuilder::otlp"]
pub struct OtlpConfig {
    pub(crate) endpoint: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) service_name: Option<String>,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) export_interval: Duration,
    pub(crate) schedule_delay: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_batch_size: usize,
    pub(crate) max_queue_size: usize,
    pub(crate) success_sample_ratio: f64,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
}

impl OtlpConfig {
    /// OTLP/HTTP (protobuf) to `endpoint`, its base URL such as
    /// `http://127.0.0.1:4318` or `https://otlp.example.com` (the
    /// `/v1/traces` and `/v1/metrics` paths are appended). Defaults: service
    /// name the program's file name, metrics every 60 s, spans sent at least
    /// every second, a 10 s request timeout, batches of 512 spans, 2,048
    /// spans waiting at most, every success exported (ratio 1.0), 3 retries
    /// starting 500 ms apart.
    ///
    /// ```
    /// let config = monitor_core::OtlpConfig::http("http://collector:4318");
    /// # let _ = config;
    /// ```
    pub fn http(endpoint: impl Into<String>) -> Self {
        OtlpConfig {
            endpoint: endpoint.into(),
            headers: Vec::new(),
            service_name: None,
            resource: Vec::new(),
            export_interval: Duration::from_secs(60),
            schedule_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            max_batch_size: 512,
            max_queue_size: 2048,
            success_sample_ratio: 1.0,
            retries: 3,
            retry_backoff: Duration::from_millis(500),
        }
    }

    /// A header sent with every request (a vendor's API key, say).
    ///
    /// ```
    /// let config = monitor_core::OtlpConfig::http("https://api.honeycomb.io")
    ///     .header("x-honeycomb-team", "KEY");
    /// # let _ = config;
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The resource's `service.name` (default: the program's file name).
    ///
    /// ```
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318").service_name("billing");
    /// # let _ = config;
    /// ```
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// A resource attribute (`deployment.environment`, `service.version`, …)
    /// on every span and metric.
    ///
    /// ```
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318")
    ///     .resource_attribute("service.version", "1.4.2");
    /// # let _ = config;
    /// ```
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.resource.push((key.into(), value.into()));
        self
    }

    /// How often the statistics are exported as metrics (default 60 s;
    /// also at every [`flush`](crate::flush) and at shutdown).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318")
    ///     .export_interval(Duration::from_secs(15));
    /// # let _ = config;
    /// ```
    pub fn export_interval(mut self, interval: Duration) -> Self {
        self.export_interval = interval;
        self
    }

    /// The longest a span waits for its batch to fill before it is sent
    /// anyway (default 1 s; a full batch goes at once, and so does
    /// everything waiting at a [`flush`](crate::flush)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318")
    ///     .schedule_delay(Duration::from_millis(200));
    /// # let _ = config;
    /// ```
    pub fn schedule_delay(mut self, delay: Duration) -> Self {
        self.schedule_delay = delay;
        self
    }

    /// How long one request may take, connection included (default 10 s,
    /// at most an hour).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318")
    ///     .timeout(Duration::from_secs(3));
    /// # let _ = config;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Most executions in one request (default 512; each is one span, plus
    /// one per node of a root span's `execution_trace`).
    ///
    /// ```
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318").max_batch_size(1024);
    /// # let _ = config;
    /// ```
    pub fn max_batch_size(mut self, spans: usize) -> Self {
        self.max_batch_size = spans;
        self
    }

    /// Most spans waiting for the exporter (default 2,048). When the
    /// receiver is slow or down and this is full, further spans are dropped
    /// and counted ([`OtlpStats::spans_dropped`](crate::OtlpStats)): the
    /// collector never waits, and memory stays bounded.
    ///
    /// ```
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318").max_queue_size(8192);
    /// # let _ = config;
    /// ```
    pub fn max_queue_size(mut self, spans: usize) -> Self {
        self.max_queue_size = spans;
        self
    }

    /// The share of successful executions exported as spans, 0.0 to 1.0
    /// (default 1.0). Errors, panics, slow executions and executions listed
    /// as stuck while they ran are always exported;
    /// the others left out are counted
    /// ([`OtlpStats::spans_sampled_out`](crate::OtlpStats)). Metrics count
    /// every execution whatever the ratio.
    ///
    /// ```
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318").success_sample_ratio(0.01);
    /// # let _ = config;
    /// ```
    pub fn success_sample_ratio(mut self, ratio: f64) -> Self {
        self.success_sample_ratio = ratio;
        self
    }

    /// Retries of a request that failed with a connection error or a
    /// 429/502/503/504 answer (default 3), waiting `backoff`, then twice as
    /// long each time (default 500 ms). A batch still failing after them is
    /// dropped and counted. At shutdown nothing is retried.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = monitor_core::OtlpConfig::http("http://127.0.0.1:4318")
    ///     .retries(5, Duration::from_millis(100));
    /// # let _ = config;
    /// ```
    pub fn retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.retry_backoff = backoff;
        self
    }

    /// The checks `install()` makes: `Err((setting, reason))`.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let endpoint = self.endpoint.trim();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            || endpoint.len() <= "https://".len()
        {
            return Err((
                "otlp",
                format!(
                    "the endpoint {:?} is not an http:// or https:// URL; give the receiver's base URL, such as \"http://127.0.0.1:4318\"",
                    self.endpoint
                ),
            ));
        }
        if endpoint.ends_with("/v1/traces") || endpoint.ends_with("/v1/metrics") {
            return Err((
                "otlp",
                format!(
                    "give the endpoint's base URL without /v1/traces or /v1/metrics (both are appended): {:?}",
                    self.endpoint
                ),
            ));
        }
        for (name, value) in &self.headers {
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !name_ok {
                return Err((
                    "otlp",
                    format!("header name {name:?} is not a valid HTTP header name"),
                ));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err((
                    "otlp",
                    format!("the value of header {name:?} holds a line break or NUL"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.success_sample_ratio) {
            return Err((
                "otlp",
                format!(
                    "success_sample_ratio must be between 0.0 and 1.0, not {}",
                    self.success_sample_ratio
                ),
            ));
        }
        for (value, what) in [
            (self.export_interval, "export_interval"),
            (self.schedule_delay, "schedule_delay"),
            (self.timeout, "timeout"),
        ] {
            if value.is_zero() {
                return Err(("otlp", format!("{what} must be longer than zero")));
            }
        }
        if self.timeout > MAX_TIMEOUT {
            return Err((
                "otlp",
                format!(
                    "timeout must be at most an hour (a request that long is a receiver that does not answer), not {:?}",
                    self.timeout
                ),
            ));
        }
        if self.max_batch_size == 0 || self.max_queue_size == 0 {
            return Err((
                "otlp",
                "max_batch_size and max_queue_size must be at least 1".to_owned(),
            ));
        }
        if self.max_queue_size > 1 << 20 {
            return Err((
                "otlp",
                "max_queue_size must be at most 1048576 spans".to_owned(),
            ));
        }
        Ok(())
    }

    /// The base URL without a trailing `/`.
    pub(crate) fn base(&self) -> &str {
        self.endpoint.trim().trim_end_matches('/')
    }
}
