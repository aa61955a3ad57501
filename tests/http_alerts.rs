//! The alert endpoints of the HTTP server over real sockets: the history
//! (`GET /api/alerts?history=…`), acknowledging an episode (`POST
//! /api/alerts/{episode}/ack`), the rules (`GET`/`PUT /api/alert-rules`),
//! each behind the token, and malformed input answered with a 4xx.
#![cfg(feature = "http")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, UNIX_EPOCH};

use common::{exclusive, temp_dir};
use monitor::{monitored, ManualClock, Monitor, Verdict};

const TOKEN: &str = "alert-token-0123456789";

#[monitored(name = "http_alert_job")]
fn http_alert_job() -> Result<(), String> {
    Err("bucket not found".into())
}

struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request (with the token unless `token` is false); the whole answer.
fn request(addr: SocketAddr, method: &str, path: &str, body: &str, token: bool) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let auth = if token {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Reply {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        body: body.to_owned(),
    }
}

#[test]
fn alert_history_acknowledgement_and_rules_over_http() {
    let _lock = exclusive();
    let dir = temp_dir("http-alerts");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(20_000 * 86_400),
        ))
        .alert_tracing_events(false)
        .serve_public("127.0.0.1:0", TOKEN)
        .install()
        .unwrap();
    let addr = guard.http_addr().unwrap();
    for _ in 0..5 {
        http_alert_job().unwrap_err();
    }
    assert!(guard.flush());

    // Protected like every other endpoint.
    for (method, path) in [
        ("GET", "/api/alerts?history=7d"),
        ("POST", "/api/alerts/1/ack"),
        ("GET", "/api/alert-rules"),
        ("PUT", "/api/alert-rules"),
    ] {
        let reply = request(addr, method, path, "{}", false);
        assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
    }

    // The history.
    let reply = request(
        addr,
        "GET",
        "/api/alerts?history=7d&rule=consecutive_failures&function=http_alert_job",
        "",
        true,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json = reply.json();
    let history = json["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{json}");
    assert_eq!(history[0]["state"], "firing");
    let episode = history[0]["episode"].as_u64().unwrap();
    assert!(json["firing"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["episode"] == episode));
    // Durations as on the command line (`monitor::parse_duration`).
    let reply = request(
        addr,
        "GET",
        "/api/alerts?history=6d23h30m&rule=consecutive_failures&function=http_alert_job",
        "",
        true,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["history"], json["history"]);
    // Without `history`: the firing alerts, as before.
    let firing = request(addr, "GET", "/api/alerts", "", true);
    assert!(firing.json().is_array());
    for bad in [
        "/api/alerts?history=7x",
        "/api/alerts?history=30m1h",
        "/api/alerts?history&rule=no_such_rule",
        "/api/alerts?history&severity=fatal",
        "/api/alerts?history&limit=lots",
        "/api/alerts?history&colour=red",
    ] {
        let reply = request(addr, "GET", bad, "", true);
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }

    // Acknowledging: malformed input first.
    let ack = format!("/api/alerts/{episode}/ack");
    for (path, body, status) in [
        (ack.as_str(), "not json", 400),
        (ack.as_str(), "[1]", 400),
        (ack.as_str(), r#"{"note": "no name"}"#, 400),
        (ack.as_str(), r#"{"by": 7}"#, 400),
        ("/api/alerts/abc/ack", r#"{"by": "ann"}"#, 400),
        ("/api/alerts/99999/ack", r#"{"by": "ann"}"#, 404),
    ] {
        let reply = request(addr, "POST", path, body, true);
        assert_eq!(reply.status, status, "POST {path} {body}: {}", reply.body);
    }
    assert_eq!(request(addr, "GET", &ack, "", true).status, 405);
    let reply = request(
        addr,
        "POST",
        &ack,
        r#"{"by": "ann", "note": "paged the owner"}"#,
        true,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["acknowledged"], episode);
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red);
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("acknowledged by ann")),
        "{health}"
    );
    let json = request(addr, "GET", "/api/alerts", "", true).json();
    let acked = json
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["episode"] == episode)
        .unwrap()
        .clone();
    assert_eq!(acked["acknowledged"]["note"], "paged the owner");

    // The rules.
    let rules = request(addr, "GET", "/api/alert-rules", "", true);
    assert_eq!(rules.status, 200);
    assert_eq!(rules.json()["global"]["consecutive_failures"], 5);
    assert_eq!(rules.json()["global"]["window_secs"], 900.0);
    for body in [
        "nope",
        r#"{"global": {"windw_secs": 5}}"#,
        r#"{"global": {"window_secs": -5}}"#,
        r#"{"global": {"window_secs": 0}}"#,
        r#"{"global": {"error_rate_threshold": 2}}"#,
        r#"{"global": {"stuck_after_secs": 0}}"#,
        r#"{"per_function": {"x": {"consecutive_failures": 0}}}"#,
        r#"{"global": {"disabled": ["no_such_rule"]}}"#,
        r#"{"other": {}}"#,
    ] {
        let reply = request(addr, "PUT", "/api/alert-rules", body, true);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
    }
    assert_eq!(
        monitor::alert_rules().global.window,
        Duration::from_secs(900)
    );
    let reply = request(
        addr,
        "PUT",
        "/api/alert-rules",
        r#"{"global": {"consecutive_failures": 3, "slow_threshold_ms": 250, "stuck_after_secs": 600},
            "per_function": {"http_alert_job": {"disabled": ["new_error_pattern"]}}}"#,
        true,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rules = monitor::alert_rules();
    assert_eq!(rules.global.consecutive_failures, 3);
    assert_eq!(
        rules.global.slow_threshold,
        Some(Duration::from_millis(250))
    );
    assert!(!rules
        .for_function("http_alert_job")
        .is_enabled(monitor::AlertRule::NewErrorPattern));
    assert_eq!(rules.global.stuck_after, Duration::from_secs(600));
    assert_eq!(reply.json()["global"]["consecutive_failures"], 3);
    assert_eq!(reply.json()["global"]["stuck_after_secs"], 600.0);
    assert_eq!(
        request(addr, "DELETE", "/api/alert-rules", "", true).status,
        405
    );
    drop(guard);
}

#[test]
fn the_memory_rules_are_read_and_changed_over_http() {
    let _lock = exclusive();
    let dir = temp_dir("http-alerts-memory");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(20_000 * 86_400),
        ))
        .alert_tracing_events(false)
        .serve_public("127.0.0.1:0", TOKEN)
        .install()
        .unwrap();
    let addr = guard.http_addr().unwrap();

    // Off by default, and shown as off.
    let rules = request(addr, "GET", "/api/alert-rules", "", true);
    assert_eq!(rules.status, 200, "{}", rules.body);
    for field in ["memory_threshold_bytes", "memory_growth"] {
        assert_eq!(
            rules.json()["global"].get(field),
            Some(&serde_json::Value::Null),
            "{field}: {}",
            rules.body
        );
    }

    // The 500 MB warning of the system `monitor` replaces, and a growth rule.
    let reply = request(
        addr,
        "PUT",
        "/api/alert-rules",
        r#"{"global": {"memory_threshold_bytes": 524288000,
            "memory_growth": {"window_secs": 1800, "growth": 0.2, "drop_tolerance": 0.05}}}"#,
        true,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let global = monitor::alert_rules().global;
    assert_eq!(global.memory_threshold, Some(500 << 20));
    let growth = global.memory_growth.unwrap();
    assert_eq!(growth.window, Duration::from_secs(1800));
    assert_eq!(growth.growth, 0.2);
    assert_eq!(growth.drop_tolerance, 0.05);
    assert_eq!(
        reply.json()["global"]["memory_threshold_bytes"],
        524_288_000
    );
    assert_eq!(
        reply.json()["global"]["memory_growth"]["window_secs"],
        1800.0
    );

    // Invalid values are refused and change nothing.
    for body in [
        r#"{"global": {"memory_threshold_bytes": 0}}"#,
        r#"{"global": {"memory_threshold_bytes": -1}}"#,
        r#"{"global": {"memory_threshold_bytes": "lots"}}"#,
        r#"{"global": {"memory_growth": {"window_secs": 10, "growth": 0.2}}}"#,
        r#"{"global": {"memory_growth": {"window_secs": 1800, "growth": -1}}}"#,
        r#"{"global": {"memory_growth": {"window_secs": 1800, "growht": 0.2}}}"#,
        r#"{"global": {"memory_growth": 5}}"#,
    ] {
        let reply = request(addr, "PUT", "/api/alert-rules", body, true);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
    }
    assert_eq!(
        monitor::alert_rules().global.memory_threshold,
        Some(500 << 20)
    );

    // `null` turns them off again.
    let reply = request(
        addr,
        "PUT",
        "/api/alert-rules",
        r#"{"global": {"memory_threshold_bytes": null, "memory_growth": null}}"#,
        true,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let global = monitor::alert_rules().global;
    assert_eq!(global.memory_threshold, None);
    assert_eq!(global.memory_growth, None);
    drop(guard);
}
