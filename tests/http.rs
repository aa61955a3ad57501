//! The HTTP server (feature `http`) end to end over real sockets: every
//! endpoint's status codes, the token, the bounds (a 10 MB body, a slow
//! client, 200 connections at once) and `/events` across a guard drop.
//! No sleeps: the client waits on its socket, the test on `flush()`.
#![cfg(feature = "http")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use common::{exclusive, temp_dir};
use monitor::{monitored, InstallError, Monitor, MonitorGuard};

/// How long a test client waits before calling the server stuck.
const CLIENT_PATIENCE: Duration = Duration::from_secs(60);

#[monitored(name = "http_ok")]
fn http_ok() -> Result<u32, String> {
    Ok(1)
}

#[monitored(name = "http_failing")]
fn http_failing() -> Result<(), String> {
    Err("upstream said <no> & \"never\"".into())
}

#[monitored(name = "weird \"quoted\" \\ name\nwith a newline")]
fn weird() {}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(CLIENT_PATIENCE)).unwrap();
    stream
}

/// Sends `raw` and reads the whole answer (the server closes after it).
fn send(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut stream = connect(addr);
    stream.write_all(raw).unwrap();
    read_reply(&mut stream)
}

fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut bytes = Vec::new();
    stream
        .read_to_end(&mut bytes)
        .expect("the server answers and closes");
    parse_reply(&bytes)
}

fn parse_reply(bytes: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    Reply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    send(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
    )
}

fn install(name: &str) -> MonitorGuard {
    install_in(&temp_dir(name))
}

fn install_in(dir: &std::path::Path) -> MonitorGuard {
    Monitor::builder()
        .log_dir(dir)
        .without_stats_db()
        .serve("127.0.0.1:0")
        .install()
        .unwrap()
}

/// The value of the exposition line that starts with `series ` exactly.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn every_endpoint_answers_with_its_status_codes() {
    let _lock = exclusive();
    let guard = install("http-endpoints");
    let addr = guard.http_addr().expect("serving");
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    for _ in 0..3 {
        http_ok().unwrap();
    }
    weird();
    assert!(guard.flush());

    let health = get(addr, "/health");
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["verdict"], "green");
    assert!(health.json()["reasons"].as_array().unwrap().is_empty());

    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = &metrics.body;
    let stats = monitor::stats();
    let ok = stats.get("http_ok").unwrap();
    assert_eq!(
        sample(
            body,
            r#"monitor_executions_total{function="http_ok",status="success"}"#
        ),
        Some(ok.success_count as f64)
    );
    assert_eq!(
        sample(
            body,
            r#"monitor_execution_duration_seconds_count{function="http_ok"}"#
        ),
        Some(ok.total_executions as f64)
    );
    assert_eq!(
        sample(
            body,
            r#"monitor_execution_duration_seconds_bucket{function="http_ok",le="+Inf"}"#
        ),
        Some(3.0)
    );
    let weird_label = r#"function="weird \"quoted\" \\ name\nwith a newline""#;
    assert_eq!(
        sample(
            body,
            &format!("monitor_executions_total{{{weird_label},status=\"success\"}}")
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(sample(body, "monitor_dropped_executions_total"), Some(0.0));
    assert_eq!(sample(body, "monitor_collector_restarts_total"), Some(0.0));
    assert!(sample(body, "monitor_queue_depth").is_some());
    #[cfg(target_os = "linux")]
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(sample(body, name).is_some(), "{name} missing");
    }
    // Every line is a comment or `series value`: nothing broke a line.
    for line in body.lines().filter(|line| !line.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "broken line: {line:?}");
        assert!(
            line.starts_with("monitor_") || line.starts_with("process_"),
            "{line:?}"
        );
    }

    let openmetrics = send(
        addr,
        b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n\r\n",
    );
    assert_eq!(openmetrics.status, 200);
    assert!(openmetrics
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(openmetrics.body.ends_with("# EOF\n"));
    assert!(openmetrics
        .body
        .contains("# TYPE monitor_executions counter\n"));

    let head = send(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let status = get(addr, "/api/status");
    assert_eq!(status.status, 200);
    assert_eq!(status.json()["health"]["verdict"], "green");
    let names: Vec<_> = status.json()["stats"]["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"http_ok".to_owned()), "{names:?}");

    let api_stats = get(addr, "/api/stats");
    assert_eq!(api_stats.status, 200);
    assert_eq!(
        api_stats.json()["functions"].as_array().unwrap().len(),
        stats.len()
    );
    let windowed = get(addr, "/api/stats?window=24h");
    assert_eq!(windowed.status, 400);
    assert!(windowed.json()["error"]
        .as_str()
        .unwrap()
        .contains("not available yet"));

    let alerts = get(addr, "/api/alerts");
    assert_eq!(alerts.status, 200);
    assert_eq!(alerts.json(), serde_json::json!([]));

    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.body.contains("http_ok"));
    assert!(page.body.contains("weird &quot;quoted&quot;"));

    assert_eq!(get(addr, "/nope").status, 404);
    assert_eq!(get(addr, "/api/executions").status, 404);
    let post = send(
        addr,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(send(addr, b"\x16\x03\x01 not http\r\n\r\n").status, 400);
    let huge_head = format!("GET / HTTP/1.1\r\nX-Filler: {}\r\n\r\n", "x".repeat(20_000));
    assert_eq!(send(addr, huge_head.as_bytes()).status, 431);
    assert_eq!(
        send(
            addr,
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        .status,
        411
    );

    // Five failures in a row: an error-severity alert fires, health turns red.
    for _ in 0..5 {
        let _ = http_failing();
    }
    assert!(guard.flush());
    let red = get(addr, "/health");
    assert_eq!(red.status, 503, "{}", red.body);
    assert_eq!(red.json()["verdict"], "red");
    let firing = get(addr, "/api/alerts").json();
    assert!(
        firing
            .as_array()
            .unwrap()
            .iter()
            .any(|alert| alert["rule"] == "consecutive_failures"
                && alert["function"] == "http_failing"),
        "{firing}"
    );
    let body = get(addr, "/metrics").body;
    assert_eq!(
        sample(
            &body,
            r#"monitor_alert_firing{rule="consecutive_failures",function="http_failing",severity="error"}"#
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            r#"monitor_executions_total{function="http_failing",status="error"}"#
        ),
        Some(5.0)
    );
    let page = get(addr, "/").body;
    assert!(
        page.contains("upstream said &lt;no&gt; &amp; &quot;never&quot;"),
        "{page}"
    );
    drop(guard);
    assert!(
        TcpStream::connect(addr).is_err(),
        "the server stopped with the guard"
    );
}

/// Fixed readings, as a process would give them.
struct FixedResources;

impl monitor::ResourceSampler for FixedResources {
    fn read(&mut self) -> std::io::Result<monitor::ProcessReading> {
        let mut reading = monitor::ProcessReading::new(123_456_789);
        reading.virtual_bytes = Some(987_654_321);
        reading.cpu_user = Duration::from_millis(1250);
        reading.cpu_system = Duration::from_millis(500);
        reading.threads = Some(17);
        reading.open_fds = Some(42);
        Ok(reading)
    }
}

#[test]
fn metrics_show_the_latest_resource_sample_under_the_prometheus_process_names() {
    let _lock = exclusive();
    let guard = Monitor::builder()
        .log_dir(temp_dir("http-resources"))
        .without_stats_db()
        .resource_sampler(FixedResources)
        .serve("127.0.0.1:0")
        .install()
        .unwrap();
    assert!(guard.flush(), "the first tick samples");
    let addr = guard.http_addr().unwrap();
    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    let body = &metrics.body;
    for (series, value) in [
        ("process_resident_memory_bytes", 123_456_789.0),
        ("process_virtual_memory_bytes", 987_654_321.0),
        ("process_cpu_seconds_total", 1.75),
        ("process_threads", 17.0),
        ("process_open_fds", 42.0),
    ] {
        assert_eq!(sample(body, series), Some(value), "{series} in {body}");
    }
    assert!(
        body.contains("# TYPE process_resident_memory_bytes gauge\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE process_cpu_seconds_total counter\n"),
        "{body}"
    );
    let status = get(addr, "/api/status").json();
    assert_eq!(status["resources"]["rss_bytes"], 123_456_789, "{status}");
}

#[test]
fn a_public_server_needs_the_token_and_other_addresses_need_serve_public() {
    let _lock = exclusive();
    let err = Monitor::builder()
        .log_dir(temp_dir("http-public-refused"))
        .without_stats_db()
        .serve("0.0.0.0:0")
        .install()
        .unwrap_err();
    assert!(
        matches!(
            err,
            InstallError::InvalidConfig {
                setting: "serve",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("serve_public"), "{err}");
    let err = Monitor::builder()
        .log_dir(temp_dir("http-short-token"))
        .without_stats_db()
        .serve_public("127.0.0.1:0", "short")
        .install()
        .unwrap_err();
    assert!(
        matches!(
            err,
            InstallError::InvalidConfig {
                setting: "serve_public",
                ..
            }
        ),
        "{err}"
    );

    let token = "s3cret-token-0123456789";
    let guard = Monitor::builder()
        .log_dir(temp_dir("http-public"))
        .without_stats_db()
        .serve_public("127.0.0.1:0", token)
        .install()
        .unwrap();
    let addr = guard.http_addr().unwrap();
    for path in ["/metrics", "/health", "/", "/nope", "/events"] {
        let refused = get(addr, path);
        assert_eq!(refused.status, 401, "{path}");
        assert!(refused
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer"));
    }
    let wrong = send(
        addr,
        b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret-token-0123456780\r\n\r\n",
    );
    assert_eq!(wrong.status, 401);
    let right = send(
        addr,
        format!("GET /metrics HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes(),
    );
    assert_eq!(right.status, 200);
    assert!(right.body.contains("monitor_queue_depth"));
}

#[test]
fn a_huge_body_and_a_slow_client_are_cut_off() {
    let _lock = exclusive();
    let guard = Monitor::builder()
        .log_dir(temp_dir("http-bounds"))
        .without_stats_db()
        .serve("127.0.0.1:0")
        .http_request_timeout(Duration::from_secs(2))
        .install()
        .unwrap();
    let addr = guard.http_addr().unwrap();

    // 10 MB announced and sent: refused from the head, never buffered.
    let mut stream = connect(addr);
    let length = 10 * 1024 * 1024;
    stream
        .write_all(format!("POST /metrics HTTP/1.1\r\nContent-Length: {length}\r\n\r\n").as_bytes())
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..length / chunk.len() {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    let mut head = String::new();
    BufReader::new(&mut stream).read_line(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head:?}");
    sender.join().unwrap();

    // A client that sends half a request and waits: 408, then closed.
    let mut slow = connect(addr);
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: loc")
        .unwrap();
    let reply = read_reply(&mut slow);
    assert_eq!(reply.status, 408);

    // The server still serves.
    assert_eq!(get(addr, "/health").status, 200);
}

#[test]
fn two_hundred_connections_at_once_are_all_served() {
    let _lock = exclusive();
    let guard = install("http-concurrent");
    http_ok().unwrap();
    assert!(guard.flush());
    let addr = guard.http_addr().unwrap();
    let mut streams: Vec<TcpStream> = (0..200).map(|_| connect(addr)).collect();
    for stream in &mut streams {
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
    }
    for stream in &mut streams {
        let reply = read_reply(stream);
        assert_eq!(reply.status, 200);
        assert_eq!(
            sample(
                &reply.body,
                r#"monitor_executions_total{function="http_ok",status="success"}"#
            ),
            Some(1.0)
        );
    }
}

/// Reads the stream until a frame containing `needle` arrives; returns it.
fn frame_with(reader: &mut BufReader<TcpStream>, needle: &str) -> String {
    let mut frame = String::new();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("the stream stays open");
        assert!(read > 0, "the stream ended before {needle:?}");
        if line == "\n" {
            if frame.contains(needle) {
                return frame;
            }
            frame.clear();
        } else {
            frame.push_str(&line);
        }
    }
}

#[test]
fn events_stream_executions_and_alerts_and_the_guard_drops_while_a_client_listens() {
    let _lock = exclusive();
    let dir = temp_dir("http-events");
    let guard = install_in(&dir);
    let addr = guard.http_addr().unwrap();
    let mut stream = connect(addr);
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        let read = reader.read_line(&mut head).unwrap();
        assert!(read > 0, "{head:?}");
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");

    http_ok().unwrap();
    assert!(guard.flush());
    let frame = frame_with(&mut reader, "http_ok");
    assert!(frame.starts_with("event: execution\n"), "{frame}");
    let data: serde_json::Value = serde_json::from_str(
        frame
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("data: ")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(data["status"], "success");
    assert_eq!(data["skipped"], 0);
    assert_eq!(data["sampled"], false);
    let executions = common::executions(&dir);
    let logged = common::lines_named(&executions, "http_ok");
    assert_eq!(logged.len(), 1);
    assert_eq!(
        data["id"], logged[0]["id"],
        "the feed names the logged execution"
    );
    assert!(data["id"]
        .as_str()
        .unwrap()
        .parse::<monitor::ExecutionId>()
        .is_ok());

    for _ in 0..5 {
        let _ = http_failing();
    }
    assert!(guard.flush());
    let alert = frame_with(&mut reader, "consecutive_failures");
    assert!(alert.starts_with("event: alert\n"), "{alert}");
    assert!(alert.contains("\"state\":\"firing\""), "{alert}");
    let errors = common::errors(&dir);
    let latest_failure = common::lines_named(&errors, "http_failing")
        .last()
        .map(|line| line["id"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(
        alert.contains(&format!("\"execution_id\":\"{latest_failure}\"")),
        "the alert names the latest failure {latest_failure}: {alert}"
    );
    let status = get(addr, "/api/status").json();
    let failing = status["stats"]["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|function| function["name"] == "http_failing")
        .unwrap()
        .clone();
    assert_eq!(
        failing["last_error"]["execution_id"],
        latest_failure.as_str()
    );
    assert_eq!(
        failing["top_error_patterns"][0]["example_id"],
        latest_failure.as_str()
    );

    // The client keeps the stream open and stops reading; dropping the guard
    // must not wait for it.
    let (done, dropped) = mpsc::channel();
    std::thread::spawn(move || {
        drop(guard);
        let _ = done.send(());
    });
    dropped
        .recv_timeout(CLIENT_PATIENCE)
        .expect("dropping the guard returned while a client held /events open");
    let mut rest = Vec::new();
    reader
        .read_to_end(&mut rest)
        .expect("the stream was closed");
}

#[monitored(name = "http_blocked")]
fn http_blocked(entered: mpsc::Sender<()>, release: mpsc::Receiver<()>) {
    entered.send(()).unwrap();
    release.recv().unwrap();
}

#[test]
fn api_running_and_the_running_gauge_list_what_runs_now() {
    let _lock = exclusive();
    let guard = install("http-running");
    let addr = guard.http_addr().unwrap();
    http_ok().unwrap();
    let (entered_tx, entered_rx) = mpsc::channel();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let entered = entered_tx.clone();
            let (release_one, wait) = mpsc::channel();
            let thread = std::thread::spawn(move || http_blocked(entered, wait));
            (release_one, thread)
        })
        .collect();
    entered_rx.recv().unwrap();
    entered_rx.recv().unwrap();
    assert!(guard.flush()); // the collector samples what runs
    let reply = get(addr, "/api/running");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply
        .header("Content-Type")
        .is_some_and(|kind| kind.starts_with("application/json")));
    let running = reply.json();
    let running = running.as_array().unwrap();
    assert_eq!(running.len(), 2, "{running:?}");
    for execution in running {
        assert_eq!(execution["name"], "http_blocked");
        assert_eq!(execution["stuck"], false);
        assert!(execution["id"].as_str().unwrap().len() == 26);
        assert!(execution["elapsed_ms"].is_number());
    }
    let metrics = get(addr, "/metrics").body;
    assert_eq!(
        sample(
            &metrics,
            "monitor_running_executions{function=\"http_blocked\"}"
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "monitor_running_executions{function=\"http_ok\"}"),
        Some(0.0)
    );
    for (release, thread) in threads {
        release.send(()).unwrap();
        thread.join().unwrap();
    }
    assert!(guard.flush());
    assert_eq!(get(addr, "/api/running").json(), serde_json::json!([]));
    let metrics = get(addr, "/metrics").body;
    assert_eq!(
        sample(
            &metrics,
            "monitor_running_executions{function=\"http_blocked\"}"
        ),
        Some(0.0),
        "finished: counted among the functions, none running"
    );
}
