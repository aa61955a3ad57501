//! The alert history (issue 16): a `stats.db` holding 1,000,000 alert
//! notifications (about 330,000 episodes of 11 rules over 200 functions,
//! spread over a year), written with the store's own save in batches as a
//! host would have, then the questions `monitor alerts`, `GET
//! /api/alerts?history` and `monitor::alerts` ask, each on a fresh
//! read-only connection:
//!
//! * the latest 100 notifications; of one rule; of one function; of
//!   severity error or worse; of one day; of one episode;
//! * the episodes firing now (`monitor alerts --firing`);
//! * `monitor::alerts` in a host installed on that directory.
//!
//! Not a criterion benchmark: each case runs [`REPEAT`] times and every
//! time is printed, with the median; the target is "under 50 ms" (the
//! indexes of `alert_history` on time, rule, function, severity, episode).
//!
//! Run: `cargo bench --bench alert_history`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use monitor::query::LogDir;
use monitor::{AlertQuery, AlertRule, ManualClock, Monitor, Severity};
use monitor_sinks::stats_store::{AlertHistoryRow, EpisodeRow, EpisodeWrite, StatsStore};

const NOTIFICATIONS: usize = 1_000_000;
const FUNCTIONS: usize = 200;
const REPEAT: usize = 7;
/// 2026-12-06T12:00:00Z: the end of the generated history.
const END: u64 = 1_796_558_400;
const YEAR: u64 = 365 * 86_400;

fn text_time(secs: u64) -> String {
    let mut out = String::new();
    monitor_sinks::time::format_rfc3339_micros(UNIX_EPOCH + Duration::from_secs(secs), &mut out);
    out
}

/// Notification `i`: episodes of three notifications (firing, reminder,
/// resolved), the last few episodes left open.
fn generate(db: &Path) {
    let started = Instant::now();
    let mut store = StatsStore::open(db).expect("open the store");
    let rules = AlertRule::ALL;
    let step = YEAR / NOTIFICATIONS as u64 * 1_000_000; // µs between notifications
    let mut history = Vec::with_capacity(30_000);
    let mut episodes = Vec::with_capacity(10_000);
    for i in 0..NOTIFICATIONS {
        let episode = (i / 3 + 1) as i64;
        let phase = i % 3;
        let time_us = (END - YEAR) * 1_000_000 + i as u64 * step;
        let time = text_time(time_us / 1_000_000);
        let rule = rules[(episode as usize) % rules.len()];
        let function = rule
            .is_function_rule()
            .then(|| format!("bench::function_{:03}", episode as usize % FUNCTIONS));
        let severity = rule.default_severity().as_str().to_owned();
        let open = i >= NOTIFICATIONS - 30;
        if phase == 0 {
            episodes.push(EpisodeWrite::Open(EpisodeRow {
                episode,
                rule: rule.as_str().to_owned(),
                function: function.clone(),
                severity: severity.clone(),
                since: time.clone(),
                fired_at: time.clone(),
                ..EpisodeRow::default()
            }));
        }
        if phase == 2 && !open {
            episodes.push(EpisodeWrite::Resolve {
                episode,
                at: time.clone(),
            });
        }
        let state = if phase == 2 && !open {
            "resolved"
        } else {
            "firing"
        };
        history.push(AlertHistoryRow {
            id: 0,
            episode,
            time: time.clone(),
            rule: rule.as_str().to_owned(),
            function: function.clone(),
            state: state.to_owned(),
            reminder: phase == 1,
            severity,
            message: format!(
                "{}: 5 failures in a row since {time}, last error Timeout: upstream did not answer",
                function.as_deref().unwrap_or("monitor")
            ),
            since: time.clone(),
            alert: format!(
                r#"{{"timestamp":"{time}","rule":"{}","state":"{state}","episode":{episode},"numbers":{{"failures":5,"executions":12}}}}"#,
                rule.as_str()
            ),
        });
        if history.len() == 30_000 || i + 1 == NOTIFICATIONS {
            store
                .save_with_alerts(&[], &[], None, &history, &episodes)
                .expect("save a batch");
            history.clear();
            episodes.clear();
        }
    }
    eprintln!(
        "generated {NOTIFICATIONS} notifications in {:.1} s ({:.0} MB)",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(db).map_or(0, |m| m.len()) as f64 / 1e6
    );
}

fn time<T>(name: &str, mut case: impl FnMut() -> T, check: impl Fn(&T)) {
    let mut times = Vec::with_capacity(REPEAT);
    for _ in 0..REPEAT {
        let started = Instant::now();
        let answer = case();
        times.push(started.elapsed());
        check(&answer);
    }
    let shown: Vec<String> = times
        .iter()
        .map(|t| format!("{:.1}", t.as_secs_f64() * 1e3))
        .collect();
    times.sort();
    println!(
        "{name:<36} median {:>7.1} ms   runs (ms): {}",
        times[REPEAT / 2].as_secs_f64() * 1e3,
        shown.join(" ")
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!(
        "monitor-bench-alert-history-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    let db: PathBuf = dir.join("stats.db");
    generate(&db);
    let logs = LogDir::open(&dir).expect("a monitor directory");
    let end = UNIX_EPOCH + Duration::from_secs(END);
    let hundred = |n: &Vec<monitor::Alert>| assert_eq!(n.len(), 100);

    time(
        "latest 100",
        || logs.alert_history(&AlertQuery::new()).unwrap(),
        hundred,
    );
    time(
        "rule consecutive_failures, 100",
        || {
            logs.alert_history(&AlertQuery::new().rule(AlertRule::ConsecutiveFailures))
                .unwrap()
        },
        hundred,
    );
    time(
        "function bench::function_042, 100",
        || {
            logs.alert_history(&AlertQuery::new().function("bench::function_042"))
                .unwrap()
        },
        hundred,
    );
    time(
        "severity >= error, 100",
        || {
            logs.alert_history(&AlertQuery::new().min_severity(Severity::Error))
                .unwrap()
        },
        hundred,
    );
    let day_start = end - Duration::from_secs(200 * 86_400);
    time(
        "one day 200 days ago, all (~2,700)",
        || {
            logs.alert_history(
                &AlertQuery::new()
                    .since(day_start)
                    .until(day_start + Duration::from_secs(86_400))
                    .limit(0),
            )
            .unwrap()
        },
        |n| assert!(n.len() > 2000, "{}", n.len()),
    );
    time(
        "rule + function + 30 days, 100",
        || {
            logs.alert_history(
                &AlertQuery::new()
                    .rule(AlertRule::HighErrorRate)
                    .function("bench::function_000")
                    .since(end - Duration::from_secs(30 * 86_400)),
            )
            .unwrap()
        },
        |n| assert!(!n.is_empty()),
    );
    time(
        "one episode",
        || {
            logs.alert_history(&AlertQuery::new().episode(123_456))
                .unwrap()
        },
        |n| assert_eq!(n.len(), 3),
    );
    time(
        "firing episodes (--firing)",
        || logs.firing_alerts().unwrap(),
        // The last 30 notifications leave their 11 episodes open.
        |n| assert_eq!(n.len(), 11),
    );

    let now: SystemTime = end;
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(ManualClock::new(now))
        .install()
        .expect("install on the generated directory");
    time(
        "monitor::alerts (host), rule, 100",
        || monitor::alerts(&AlertQuery::new().rule(AlertRule::SlowExecution)).unwrap(),
        |a| assert_eq!(a.history.len(), 100),
    );
    drop(guard);
    if std::env::var_os("KEEP_ALERT_BENCH_DIR").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("kept {}", dir.display());
    }
}
