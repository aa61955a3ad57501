//! The status report and the health verdict as a person reads them: one
//! line per function whatever its name or error says, an icon that agrees
//! with `health()`, and counts with the right noun.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{exclusive, poll_once, temp_dir};
use monitor::{
    monitored, Alert, AlertRule, AlertState, Health, ManualClock, Monitor, MonitorGuard, Severity,
    Timestamp, Verdict,
};

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 10 * 3600)
}

/// Installs a monitor with a manual clock; returns what `on_alert` receives.
fn install(
    name: &str,
    adjust: impl FnOnce(monitor::MonitorBuilder) -> monitor::MonitorBuilder,
) -> (MonitorGuard, Arc<Mutex<Vec<Alert>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&received);
    let builder = Monitor::builder()
        .log_dir(temp_dir(name))
        .clock(ManualClock::new(start()))
        .alert_tracing_events(false)
        .on_alert(move |alert: &Alert| sink.lock().unwrap().push(alert.clone()));
    (adjust(builder).install().unwrap(), received)
}

/// The control characters in `text`, other than the newlines ending its lines.
fn controls(text: &str) -> Vec<char> {
    text.lines()
        .flat_map(str::chars)
        .filter(|c| c.is_control())
        .collect()
}

#[monitored(name = "evil\nname")]
fn evil() -> Result<(), String> {
    Err("\x1b[31mred alert\x1b[0m\nsecond line".into())
}

#[test]
fn control_characters_never_reach_the_terminal_raw() {
    let _lock = exclusive();
    let (guard, received) = install("report-controls", |b| b);
    for _ in 0..5 {
        evil().unwrap_err();
    }
    assert!(guard.flush());

    let text = monitor::status_report().to_string();
    assert!(controls(&text).is_empty(), "{text:?}");
    let function_lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("🔴 evil\\nname "))
        .collect();
    assert_eq!(function_lines.len(), 1, "{text}");
    assert!(
        function_lines[0].contains("(\\u{1b}[31mred alert\\u{1b}[0m\\nsecond line)"),
        "{}",
        function_lines[0]
    );
    assert!(
        !text.lines().any(|line| line.starts_with("name")),
        "no line is the tail of a split name: {text}"
    );

    let alerts = received.lock().unwrap().clone();
    assert!(alerts
        .iter()
        .any(|a| a.rule == AlertRule::ConsecutiveFailures));
    for alert in &alerts {
        assert!(controls(&alert.message).is_empty(), "{:?}", alert.message);
        let shown = alert.to_string();
        assert!(
            controls(&shown).is_empty() && !shown.contains('\n'),
            "{shown:?}"
        );
    }
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Red);
    let shown = health.to_string();
    assert!(
        shown.contains("evil\\nname: 5 failures in a row"),
        "{shown}"
    );
    assert!(
        controls(&shown).is_empty() && !shown.contains('\n'),
        "{shown:?}"
    );
    drop(guard);

    // Values a host builds itself are escaped when displayed too.
    let alert = Alert::new(
        AlertRule::SinkFailing,
        AlertState::Firing,
        Severity::Error,
        "disk\nfull \x1b]0;title\x07",
        Timestamp(start()),
    );
    assert_eq!(
        alert.to_string(),
        "[error] sink_failing firing: disk\\nfull \\u{1b}]0;title\\u{7}"
    );
    let health = Health {
        verdict: Verdict::Yellow,
        reasons: vec!["a\r\nb".into(), "c\x1b".into()],
    };
    assert_eq!(health.to_string(), "🟡 yellow — a\\r\\nb; c\\u{1b}");
}

#[monitored(name = "crunch")]
fn crunch(fail: bool) -> Result<u32, String> {
    if fail {
        Err("overflow".into())
    } else {
        Ok(1)
    }
}

#[monitored(name = "Cache::put")]
fn cache_put(fail: bool) -> Result<(), String> {
    if fail {
        Err("evicted".into())
    } else {
        Ok(())
    }
}

#[monitored(name = "always_down")]
fn always_down() -> Result<(), String> {
    Err("connection refused".into())
}

#[monitored(name = "mostly_down")]
fn mostly_down(fail: bool) -> Result<(), String> {
    if fail {
        Err("upstream timed out".into())
    } else {
        Ok(())
    }
}

#[monitored(name = "never_finishes")]
async fn never_finishes() {
    std::future::pending::<()>().await
}

/// `name`'s line in the report (icon, name, runs, …).
fn function_line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|line| line.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no line for {name}: {text}"))
}

/// The icon at the start of `name`'s line in the report.
fn icon_of(text: &str, name: &str) -> String {
    let line = function_line(text, name);
    line.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn a_functions_icon_is_its_share_of_health() {
    let _lock = exclusive();
    let (guard, _received) = install("report-icons", |b| b);
    // 5 of 6 runs succeeded, the last one too: nothing fires, health is green.
    crunch(true).unwrap_err();
    for _ in 0..5 {
        crunch(false).unwrap();
    }
    // 1 error in 2 runs: too few runs for a rate, no streak.
    cache_put(true).unwrap_err();
    cache_put(false).unwrap();
    // A streak of 5 failures: red.
    for _ in 0..5 {
        always_down().unwrap_err();
    }
    // 9 failures in 12 runs, never 5 in a row: a high error rate, yellow.
    for i in 0..12 {
        mostly_down(i % 4 == 3 || i % 4 == 0 || i % 4 == 1).ok();
    }
    // Only cancelled executions: no run, no success rate.
    {
        let mut future = std::pin::pin!(never_finishes());
        assert!(poll_once(future.as_mut()).is_pending());
    }
    assert!(guard.flush());

    let report = monitor::status_report();
    let text = report.to_string();
    let health = &report.health;
    assert_eq!(health.verdict, Verdict::Red, "{health}");
    let mentioned = |name: &str| {
        health
            .reasons
            .iter()
            .any(|r| r.starts_with(&format!("{name}:")) || r.starts_with(&format!("{name} ")))
    };
    for (name, verdict, icon) in [
        ("crunch", Verdict::Green, "🟢"),
        ("Cache::put", Verdict::Green, "🟢"),
        ("always_down", Verdict::Red, "🔴"),
        ("mostly_down", Verdict::Yellow, "🟡"),
        ("never_finishes", Verdict::Green, "⚪"),
    ] {
        let stats = report.stats.get(name).unwrap();
        assert_eq!(stats.health, verdict, "{name}: {text}\n{health}");
        assert_eq!(icon_of(&text, name), icon, "{name}: {text}");
        assert_eq!(
            mentioned(name),
            verdict != Verdict::Green,
            "health names exactly the functions that are not green: {name}: {health}"
        );
    }
    let cancelled = function_line(&text, "never_finishes");
    assert!(cancelled.contains(" 0 runs"), "{cancelled}");
    assert!(
        !cancelled.contains("100%"),
        "no success rate without a run: {cancelled}"
    );
    assert!(cancelled.contains("1 cancelled"), "{cancelled}");
    let crunch_line = function_line(&text, "crunch");
    assert!(
        crunch_line.contains(" 1 error") && !crunch_line.contains("1 errors"),
        "{crunch_line}"
    );
}

#[monitored(name = "one_shot")]
fn one_shot() -> Result<(), String> {
    Err("quota exceeded".into())
}

#[monitored(name = "slow_once", slow = "1ns")]
fn slow_once() -> u64 {
    (0..1_000u64).map(std::hint::black_box).sum()
}

#[test]
fn counts_of_one_read_in_the_singular() {
    let _lock = exclusive();
    let (guard, received) = install("report-plurals", |b| {
        b.alert_rules_for("one_shot", |rules| rules.consecutive_failures = 1)
    });
    one_shot().unwrap_err();
    slow_once();
    assert!(guard.flush());
    let alerts = received.lock().unwrap().clone();
    let streak = alerts
        .iter()
        .find(|a| a.rule == AlertRule::ConsecutiveFailures)
        .unwrap_or_else(|| panic!("{alerts:#?}"));
    assert!(
        streak
            .message
            .starts_with("one_shot: 1 failure in a row since "),
        "{streak}"
    );
    assert!(
        streak
            .message
            .contains("(1 error in the last 1 execution, 100%"),
        "{streak}"
    );
    let slow = alerts
        .iter()
        .find(|a| a.rule == AlertRule::SlowExecution)
        .unwrap_or_else(|| panic!("{alerts:#?}"));
    assert!(
        slow.message
            .starts_with("slow_once: 1 of 1 execution slower than 1 ns"),
        "{slow}"
    );
    let health = monitor::health().to_string();
    assert!(
        health.contains("slow_once: 1 slow execution in the last 15 min"),
        "{health}"
    );
    assert!(health.contains("one_shot: 1 failure in a row"), "{health}");
    let text = monitor::status_report().to_string();
    let line = function_line(&text, "one_shot");
    assert!(
        line.contains("1 run ") && line.contains(" 1 error"),
        "{line}"
    );
    for text in [text.as_str(), health.as_str()] {
        for wrong in [
            "1 errors",
            "1 executions",
            "1 slow executions",
            "1 failures",
            "1 runs",
        ] {
            assert!(!text.contains(wrong), "{wrong:?} in {text}");
        }
    }
}
