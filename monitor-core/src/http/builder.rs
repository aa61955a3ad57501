//! The builder's `serve` settings, checking them, and binding the listener.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::builder::MonitorBuilder;
use crate::collector::{Feed, FeedNotifier};
use crate::install_error::InstallError;
use crate::installed::MonitorGuard;

/// Longest a client may take to send its request (default).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What `serve`/`serve_public` asked for.
#[derive(Clone, Debug)]
pub(crate) struct HttpConfig {
    addr: String,
    token: Option<String>,
    public: bool,
}

/// The server's settings on the builder.
#[derive(Clone, Debug)]
pub(crate) struct HttpSettings {
    pub(crate) config: Option<HttpConfig>,
    pub(crate) request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            config: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// A bound listener and the feed, ready for the server thread.
pub(crate) struct Prepared {
    pub(crate) listener: TcpListener,
    pub(crate) token: Option<String>,
    pub(crate) request_timeout: Duration,
    pub(crate) feed: Arc<Feed>,
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> InstallError {
    InstallError::InvalidConfig {
        setting,
        reason: reason.into(),
    }
}

impl HttpSettings {
    /// Checks the address and the token, binds, and makes the `/events`
    /// feed. `None` without `serve`.
    pub(crate) fn prepare(&self) -> Result<Option<Prepared>, InstallError> {
        let Some(config) = &self.config else {
            return Ok(None);
        };
        let setting = if config.public {
            "serve_public"
        } else {
            "serve"
        };
        if self.request_timeout.is_zero() {
            return Err(invalid("http_request_timeout", "must be longer than zero"));
        }
        if let Some(token) = &config.token {
            if token.len() < 16 || token.chars().any(|c| !c.is_ascii_graphic()) {
                return Err(invalid(
                    setting,
                    "the token must be at least 16 printable ASCII characters without spaces",
                ));
            }
        }
        let addrs: Vec<SocketAddr> = config
            .addr
            .to_socket_addrs()
            .map_err(|error| {
                invalid(
                    setting,
                    format!(
                        "cannot resolve {:?} ({error}); give an address such as \"127.0.0.1:9464\"",
                        config.addr
                    ),
                )
            })?
            .collect();
        let Some(&addr) = addrs.first() else {
            return Err(invalid(
                setting,
                format!("{:?} resolves to no address", config.addr),
            ));
        };
        if !config.public && !addr.ip().is_loopback() {
            return Err(invalid(
                setting,
                format!(
                    "{addr} is not a loopback address; use serve_public(addr, token) to serve other hosts (every request then needs the token)"
                ),
            ));
        }
        let listener = TcpListener::bind(addr).map_err(|source| InstallError::Serve {
            addr: config.addr.clone(),
            source,
        })?;
        Ok(Some(Prepared {
            listener,
            token: config.token.clone(),
            request_timeout: self.request_timeout,
            feed: Feed::new(),
        }))
    }
}

impl Prepared {
    /// The notifier that puts every alert notification on the feed.
    pub(crate) fn notifier(&self) -> FeedNotifier {
        FeedNotifier(Arc::clone(&self.feed))
    }
}

impl MonitorBuilder {
    /// Serves `/metrics` (Prometheus), `/health`, `/api/status`,
    /// `/api/stats`, `/api/alerts`, `/api/running`, `/events` and a dashboard at `/` on a
    /// loopback address, from one thread named `monitor-http` (feature
    /// `http`). Port 0 picks a free port: [`MonitorGuard::http_addr`] tells
    /// which. A non-loopback address is an error from
    /// [`install`](Self::install): use [`serve_public`](Self::serve_public).
    ///
    /// ```no_run
    /// let guard = monitor_core::Monitor::builder().serve("127.0.0.1:0").install()?;
    /// let addr = guard.http_addr().expect("serving");
    /// println!("curl http://{addr}/metrics");
    /// # Ok::<(), monitor_core::InstallError>(())
    /// ```
    pub fn serve(mut self, addr: impl Into<String>) -> Self {
        self.http.config = Some(HttpConfig {
            addr: addr.into(),
            token: None,
            public: false,
        });
        self
    }

    /// Serves like [`serve`](Self::serve), on any address (`0.0.0.0:9464`),
    /// and only to requests that carry `Authorization: Bearer <token>`;
    /// every other request gets 401. The token must be at least 16
    /// printable ASCII characters. Use TLS in front of it (a reverse proxy)
    /// when the network is not trusted: the token travels in clear.
    ///
    /// ```no_run
    /// let token = std::env::var("MONITOR_TOKEN").expect("a secret token");
    /// let guard = monitor_core::Monitor::builder()
    ///     .serve_public("0.0.0.0:9464", token)
    ///     .install()?;
    /// # drop(guard);
    /// # Ok::<(), monitor_core::InstallError>(())
    /// ```
    pub fn serve_public(mut self, addr: impl Into<String>, token: impl Into<String>) -> Self {
        self.http.config = Some(HttpConfig {
            addr: addr.into(),
            token: Some(token.into()),
            public: true,
        });
        self
    }

    /// Longest a client may take to send its request, and to take its
    /// answer, before the server cuts it off (default 10 s). `/events`
    /// streams have no such limit; a reader that falls 1 MiB behind is
    /// dropped instead.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder()
    ///     .serve("127.0.0.1:0")
    ///     .http_request_timeout(std::time::Duration::from_secs(2));
    /// # drop(builder);
    /// ```
    pub fn http_request_timeout(mut self, timeout: Duration) -> Self {
        self.http.request_timeout = timeout;
        self
    }
}

impl MonitorGuard {
    /// The address the HTTP server listens on (`None` without
    /// [`serve`](MonitorBuilder::serve)): with port 0, the port it picked.
    ///
    /// ```no_run
    /// let guard = monitor_core::Monitor::builder().serve("127.0.0.1:0").install()?;
    /// assert_ne!(guard.http_addr().unwrap().port(), 0);
    /// # Ok::<(), monitor_core::InstallError>(())
    /// ```
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|server| server.addr())
    }
}
