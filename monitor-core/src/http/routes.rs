//! Which path answers what, and the token check.

use std::sync::Arc;

use parking_lot::Mutex;

use super::request::{Method, Request};
use super::response::{Response, TEXT};
use super::{alert_api, dashboard, metrics};
use crate::alerts::{AlertsShared, Verdict};
use crate::clock::Clock;
use crate::collector::{RunningNow, SelfStats};
use crate::report::StatusReport;
use crate::stats::Published;
use crate::timestamp::Timestamp;

/// What the handlers read: only what the collector publishes.
pub(crate) struct Sources {
    pub(crate) published: Arc<Mutex<Arc<Published>>>,
    pub(crate) alerts: Arc<AlertsShared>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) self_stats: Arc<SelfStats>,
    /// The collector's resource samples.
    pub(crate) resources: Arc<Mutex<crate::resources::ResourceHistory>>,
    /// The collector's latest sample of the running executions.
    pub(crate) running: Arc<Mutex<Arc<RunningNow>>>,
}

impl Sources {
    /// The latest published statistics (the lock is held to copy a pointer).
    pub(crate) fn published(&self) -> Arc<Published> {
        Arc::clone(&self.published.lock())
    }

    /// The running executions of the collector's latest sample.
    pub(crate) fn running(&self) -> Arc<RunningNow> {
        Arc::clone(&self.running.lock())
    }

    /// The status report from published data only.
    pub(crate) fn report(&self) -> StatusReport {
        StatusReport {
            generated_at: Timestamp(self.clock.now()),
            stats: self.published().stats.clone(),
            health: self.alerts.health(),
            alerts: self.alerts.firing(),
            resources: self.resources.lock().latest().cloned(),
            running: crate::report::listed_running(&self.running().executions),
        }
    }
}

/// The answer to a request.
pub(crate) enum Reply {
    /// A whole response.
    Whole(Response),
    /// Start a `/events` stream.
    Events,
}

/// The paths served with `GET` (and `HEAD`); besides them
/// `POST /api/alerts/{episode}/ack` and `GET`/`PUT /api/alert-rules`.
const PATHS: [&str; 8] = [
    "/",
    "/metrics",
    "/health",
    "/api/status",
    "/api/stats",
    "/api/alerts",
    "/api/running",
    "/events",
];

/// `{episode}` of `/api/alerts/{episode}/ack`.
fn ack_path(path: &str) -> Option<&str> {
    path.strip_prefix("/api/alerts/")?.strip_suffix("/ack")
}

/// Answers `request`. `token`: the bearer token every request must carry.
pub(crate) fn route(request: &Request, sources: &Sources, token: Option<&str>) -> Reply {
    if let Some(token) = token {
        if !authorized(request.authorization.as_deref(), token) {
            return Reply::Whole(
                Response::error(
                    401,
                    "this server needs an `Authorization: Bearer <token>` header",
                )
                .header("WWW-Authenticate", "Bearer realm=\"monitor\""),
            );
        }
    }
    if let Some(episode) = ack_path(&request.path) {
        return Reply::Whole(alert_api::acknowledge(request, episode));
    }
    if request.path == "/api/alert-rules" {
        return Reply::Whole(alert_api::rules(request));
    }
    if !PATHS.contains(&request.path.as_str()) {
        return Reply::Whole(Response::error(
            404,
            "no such path; try /, /metrics, /health, /api/status, /api/stats, /api/alerts, /api/alert-rules, /api/running or /events",
        ));
    }
    if !matches!(request.method, Method::Get | Method::Head) {
        return Reply::Whole(
            Response::error(405, "only GET and HEAD are served here").header("Allow", "GET, HEAD"),
        );
    }
    let response = match request.path.as_str() {
        "/events" => return Reply::Events,
        "/" => dashboard::page(sources),
        "/metrics" => {
            let format = metrics::Format::from_accept(request.accept.as_deref());
            let body = metrics::render(
                &sources.published(),
                &sources.alerts.firing(),
                sources,
                format,
            );
            Response::new(200, format.content_type(), body)
        }
        "/health" => {
            let health = sources.alerts.health();
            let status = if health.verdict == Verdict::Red {
                503
            } else {
                200
            };
            Response::json(status, &health)
        }
        "/api/status" => Response::json(200, &sources.report()),
        "/api/stats" => {
            if request.has_param("window") {
                Response::error(
                    400,
                    "windowed statistics are not available yet; /api/stats without `window` gives all-time statistics",
                )
            } else {
                Response::json(200, &sources.published().stats)
            }
        }
        "/api/alerts" => alert_api::alerts(request, sources.alerts.firing(), sources.clock.now()),
        "/api/running" => Response::json(200, &sources.running().executions),
        _ => Response::new(404, TEXT, "not found"),
    };
    Reply::Whole(response)
}

/// `Bearer <token>`, compared in constant time.
fn authorized(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|value| value.strip_prefix("Bearer ")) else {
        return false;
    };
    let (given, token) = (given.trim().as_bytes(), token.as_bytes());
    given.len() == token.len()
        && given
            .iter()
            .zip(token)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::authorized;

    #[test]
    fn tokens_must_match_exactly() {
        let token = "0123456789abcdef";
        assert!(authorized(Some("Bearer 0123456789abcdef"), token));
        assert!(!authorized(Some("Bearer 0123456789abcdeX"), token));
        assert!(!authorized(Some("Bearer 0123456789abcde"), token));
        assert!(!authorized(Some("Basic 0123456789abcdef"), token));
        assert!(!authorized(None, token));
    }
}
