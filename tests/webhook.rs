//! `WebhookNotifier` against an HTTP server written here: a notification is
//! delivered as JSON, retried after a 500, given up after N tries (at once
//! after a 4xx) with the failure in `health()`; a bad URL or timeout is an
//! install error. Back-off of a millisecond; `flush()` waits
//! for the notifier, no sleeps.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, UNIX_EPOCH};

use common::{exclusive, temp_dir};
use monitor::{monitored, ManualClock, Monitor, MonitorGuard, Verdict, WebhookNotifier};

#[monitored(name = "hooked_job")]
fn hooked_job() -> Result<(), String> {
    Err("payment gateway unreachable".into())
}

/// A server answering each request with the next status of `statuses`
/// (200 once they are used up); every request's path and body go to the
/// returned channel.
fn server(statuses: Vec<u16>) -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                continue;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                let lower = header.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            // Recorded before the answer: once the notifier has its answer
            // (and flush() returned), the request is in the channel.
            let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
            if tx.send((path, String::from_utf8(body).unwrap())).is_err() {
                return;
            }
            let status = statuses.next().unwrap_or(200);
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, rx)
}

fn install(name: &str, hook: WebhookNotifier) -> MonitorGuard {
    let dir = temp_dir(name);
    Monitor::builder()
        .log_dir(&dir)
        .clock(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(20_000 * 86_400),
        ))
        .alert_tracing_events(false)
        .notifier(hook)
        .install()
        .unwrap()
}

fn fire() {
    for _ in 0..5 {
        hooked_job().unwrap_err();
    }
}

fn quick(url: &str) -> WebhookNotifier {
    WebhookNotifier::new(url)
        .timeout(Duration::from_secs(5))
        .backoff(Duration::from_millis(1), Duration::from_millis(4))
}

#[test]
fn a_notification_is_posted_as_json_with_a_slack_text() {
    let _lock = exclusive();
    let (url, requests) = server(vec![]);
    let guard = install("webhook-delivered", quick(&url));
    fire();
    assert!(guard.flush());
    let posted: Vec<(String, String)> = requests.try_iter().collect();
    let firing: Vec<serde_json::Value> = posted
        .iter()
        .map(|(path, body)| {
            assert_eq!(path, "/hook");
            serde_json::from_str(body).unwrap()
        })
        .filter(|json: &serde_json::Value| json["alert"]["rule"] == "consecutive_failures")
        .collect();
    assert_eq!(firing.len(), 1, "{posted:?}");
    let json = &firing[0];
    assert!(json["text"]
        .as_str()
        .unwrap()
        .starts_with("[error] consecutive_failures firing: hooked_job: 5 failures in a row"));
    assert_eq!(json["alert"]["function"], "hooked_job");
    assert_eq!(json["alert"]["state"], "firing");
    assert_eq!(json["alert"]["numbers"]["consecutive_failures"], 5);
    assert!(json["alert"]["episode"].is_u64());
    assert!(guard.flush());
    assert!(
        monitor::health()
            .reasons
            .iter()
            .all(|r| !r.contains("notifier")),
        "{}",
        monitor::health()
    );
    drop(guard);
}

#[test]
fn a_500_is_retried_and_then_delivered() {
    let _lock = exclusive();
    // The first POST (the first notification, whichever it is) gets a 500.
    let (url, requests) = server(vec![500]);
    let guard = install("webhook-retried", quick(&url).attempts(2));
    fire();
    assert!(guard.flush());
    let posted: Vec<String> = requests.try_iter().map(|(_, body)| body).collect();
    assert!(posted.len() >= 2, "{posted:?}");
    assert_eq!(posted[0], posted[1], "the same notification again");
    assert!(guard.flush());
    let health = monitor::health();
    assert!(
        health.reasons.iter().all(|r| !r.contains("notifier")),
        "{health}"
    );
    drop(guard);
}

#[test]
fn a_failing_endpoint_is_given_up_after_n_tries_and_counted_in_health() {
    let _lock = exclusive();
    let (url, requests) = server(vec![500; 1000]);
    let guard = install(
        "webhook-given-up",
        quick(&url).attempts(3).name("pager-hook"),
    );
    fire();
    assert!(guard.flush());
    let posted: Vec<String> = requests.try_iter().map(|(_, body)| body).collect();
    // Each notification tried 3 times, no more.
    assert_eq!(posted.len() % 3, 0, "{posted:?}");
    assert!(!posted.is_empty());
    assert!(posted
        .chunks(3)
        .all(|tries| tries[0] == tries[1] && tries[1] == tries[2]));
    // The next evaluation sees the failures.
    assert!(guard.flush());
    let health = monitor::health();
    assert_ne!(health.verdict, Verdict::Green, "{health}");
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("notifier") && r.contains("pager-hook")),
        "{health}"
    );
    drop(guard);
}

#[test]
fn a_4xx_is_given_up_at_once_not_retried() {
    let _lock = exclusive();
    // A back-off of an hour: a retry would hold the notifier past every
    // flush, so the failure is counted only if no retry was made.
    let (url, requests) = server(vec![404; 1000]);
    let hook = WebhookNotifier::new(url)
        .attempts(3)
        .backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .name("gone-hook");
    let guard = install("webhook-404", hook);
    fire();
    assert!(guard.flush(), "the notifier is not waiting to retry");
    assert!(guard.flush());
    let posted: Vec<String> = requests.try_iter().map(|(_, body)| body).collect();
    assert!(!posted.is_empty());
    assert!(
        posted.windows(2).all(|pair| pair[0] != pair[1]),
        "a notification was posted twice: {posted:?}"
    );
    let health = monitor::health();
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("notifier") && r.contains("gone-hook")),
        "{health}"
    );
    drop(guard);
}

#[test]
fn a_url_that_cannot_be_requested_or_a_zero_timeout_is_an_install_error() {
    let _lock = exclusive();
    let secret = "T0000/B0000/s3cr3t";
    for (hook, complaint) in [
        (
            WebhookNotifier::new(format!("ftp://hooks.example/{secret}")),
            "scheme is \"ftp\"",
        ),
        (
            WebhookNotifier::new(format!("hooks example/{secret}")),
            "does not parse",
        ),
        (
            WebhookNotifier::new(format!("/services/{secret}")),
            "no http:// or https://",
        ),
        (
            WebhookNotifier::new(format!("http:///{secret}")),
            "does not parse",
        ),
        (
            WebhookNotifier::new(format!("http://127.0.0.1:99999/{secret}")),
            "port is not a number",
        ),
        (
            WebhookNotifier::new(format!("https://hooks.example/{secret}")).timeout(Duration::ZERO),
            "timeout must be longer than zero",
        ),
    ] {
        let refused = Monitor::builder()
            .log_dir(temp_dir("webhook-refused"))
            .notifier(hook.name("ops-hook"))
            .install();
        let Err(error) = refused else {
            panic!("installed with a webhook that {complaint}");
        };
        let monitor::InstallError::InvalidConfig { setting, reason } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(*setting, "notifier");
        assert!(
            reason.starts_with("ops-hook: ") && reason.contains(complaint),
            "{reason}"
        );
        assert!(!error.to_string().contains(secret), "{error}");
    }
    // Nothing was installed: a good webhook installs now.
    let (url, _requests) = server(vec![]);
    drop(install("webhook-accepted", quick(&url)));
}
