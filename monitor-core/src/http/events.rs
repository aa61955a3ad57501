//! Server-Sent Events frames for `/events`.
//!
//! * `event: execution` — one finished execution:
//!   `{"id", "function", "status", "timestamp", "duration_ms", "error_type",
//!   "message", "skipped", "sampled"}` (`id`: the execution's id, as in the
//!   logs). At most 200 a second are streamed;
//!   `skipped` counts the executions finished since the previous event that
//!   were not (rate limit, or a full feed), and `sampled` is true when it is
//!   not zero.
//! * `event: alert` — one alert notification, as the alerts log writes it.
//! * `: keep-alive` comments every 15 s.

use crate::collector::{ExecutionNote, FeedEvent};
use crate::timestamp::Timestamp;

/// The content type of a stream.
pub(crate) const CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";

/// The response head and the first frame of a stream.
pub(crate) fn stream_head() -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    super::response::head(
        &mut out,
        200,
        CONTENT_TYPE,
        &[("X-Accel-Buffering", "no".to_owned())],
    );
    out.extend_from_slice(b"\r\nretry: 3000\n\n");
    out
}

/// A comment that keeps idle connections open through proxies.
pub(crate) const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// The frame of one feed event.
pub(crate) fn frame(event: &FeedEvent) -> Vec<u8> {
    let (name, data) = match event {
        FeedEvent::Execution(note) => ("execution", execution_json(note)),
        FeedEvent::Alert(alert) => (
            "alert",
            crate::json::to_string(alert).unwrap_or_else(|_| "{}".to_owned()),
        ),
    };
    // JSON has no raw newlines, so one `data:` line carries it.
    format!("event: {name}\ndata: {data}\n\n").into_bytes()
}

/// The `data` of an `execution` frame.
#[derive(serde::Serialize)]
struct ExecutionData<'a> {
    id: crate::ExecutionId,
    function: &'a str,
    status: &'static str,
    timestamp: Timestamp,
    duration_ms: f64,
    error_type: Option<&'a str>,
    message: Option<&'a str>,
    skipped: u64,
    sampled: bool,
}

fn execution_json(note: &ExecutionNote) -> String {
    let (error_type, message) = match &note.error {
        Some((error_type, message)) => (Some(error_type.as_str()), Some(message.as_str())),
        None => (None, None),
    };
    let data = ExecutionData {
        id: note.id,
        function: &note.function,
        status: note.status.as_str(),
        timestamp: Timestamp(note.timestamp),
        duration_ms: note.duration.as_secs_f64() * 1e3,
        error_type,
        message,
        skipped: note.skipped,
        sampled: note.skipped > 0,
    };
    crate::json::to_string(&data).unwrap_or_else(|_| "{}".to_owned())
}
