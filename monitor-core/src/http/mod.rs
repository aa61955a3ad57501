//! The HTTP server (feature `http`): Prometheus `/metrics`, a JSON API, a
//! Server-Sent Events stream and a dashboard, served by the host itself.
//!
//! ```no_run
//! let guard = monitor_core::Monitor::builder()
//!     .serve("127.0.0.1:9464") // loopback; port 0 picks a free one
//!     .install()?;
//! println!("dashboard at http://{}/", guard.http_addr().unwrap());
//! # Ok::<(), monitor_core::InstallError>(())
//! ```
//!
//! One thread, `monitor-http`, runs a [mio] event loop over non-blocking
//! sockets (no async runtime in the host) and parses requests with
//! [httparse]. Every connection is bounded: [`MAX_HEADER_BYTES`] of headers,
//! [`MAX_BODY_BYTES`] of body, the request timeout to arrive, at most
//! [`MAX_CONNECTIONS`] at once (of which [`MAX_STREAMS`] `/events` streams).
//! Handlers read what the collector published at its latest tick or flush;
//! they never wait for the collector, and the collector never waits for them.
//!
//! | file | job |
//! |---|---|
//! | `builder.rs` | `serve`, `serve_public`, `http_request_timeout`, `http_addr`; checks the address and binds |
//! | `server.rs` | the event loop: accepting, deadlines, the `/events` fan-out, shutdown |
//! | `conn.rs` | one connection: reading, writing, streaming, lingering close |
//! | `request.rs` | parsing and bounding a request |
//! | `response.rs` | status lines and headers |
//! | `routes.rs` | which path answers what; the token check |
//! | `alert_api.rs` | the alert history, acknowledgements and rules changed over HTTP |
//! | `metrics.rs` | the Prometheus and OpenMetrics exposition |
//! | `process.rs` | the standard `process_*` metrics from `/proc/self` |
//! | `events.rs` | Server-Sent Events frames |
//! | `dashboard.rs`, `dashboard.html` | the dashboard page |

mod alert_api;
mod builder;
mod conn;
mod dashboard;
mod events;
mod metrics;
mod process;
mod request;
mod response;
mod routes;
mod server;

pub(crate) use builder::{HttpSettings, Prepared};
pub(crate) use routes::Sources;
pub(crate) use server::{on_server_thread, Server};

/// Largest request head (request line and headers) accepted; larger gets 431.
///
/// ```
/// assert_eq!(monitor_core::http::MAX_HEADER_BYTES, 16 * 1024);
/// ```
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest request body accepted (`POST /api/alerts/{episode}/ack`, `PUT
/// /api/alert-rules`); larger gets 413.
///
/// ```
/// assert_eq!(monitor_core::http::MAX_BODY_BYTES, 64 * 1024);
/// ```
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Connections served at once; more are answered 503 and closed.
///
/// ```
/// assert!(monitor_core::http::MAX_CONNECTIONS >= 200);
/// ```
pub const MAX_CONNECTIONS: usize = 512;
/// `/events` streams open at once; more are answered 503.
///
/// ```
/// assert!(monitor_core::http::MAX_STREAMS <= monitor_core::http::MAX_CONNECTIONS);
/// ```
pub const MAX_STREAMS: usize = 64;

#[doc(hidden)]
pub use metrics::MetricsBench as __MetricsBench;
