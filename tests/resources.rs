//! Process resources end to end: samples from an injected sampler, taken by
//! the collector once a second of the injected clock; `monitor::resources()`,
//! the status report, the `memory_high` and `memory_growth` rules in
//! `health()`, and the resource roll-ups in `stats.db`. No sleeps: the clock
//! moves, `flush()` makes the collector sample and evaluate.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{alert_recorder, exclusive, temp_dir};
use monitor::{
    AlertRule, AlertRules, AlertState, ManualClock, MemoryGrowth, Monitor, MonitorBuilder,
    ProcessReading, ResourceSampler, Severity, Verdict,
};

const MIB: u64 = 1 << 20;
const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);

/// What the fake sampler reads, and how many times it was read.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<(ProcessReading, u64)>>);

impl Fake {
    fn set_rss(&self, rss: u64) {
        self.0.lock().unwrap().0.rss_bytes = rss;
    }

    fn add_cpu(&self, cpu: Duration) {
        self.0.lock().unwrap().0.cpu_user += cpu;
    }

    fn reads(&self) -> u64 {
        self.0.lock().unwrap().1
    }
}

impl ResourceSampler for Fake {
    fn read(&mut self) -> std::io::Result<ProcessReading> {
        let mut state = self.0.lock().unwrap();
        state.1 += 1;
        Ok(state.0.clone())
    }
}

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 10 * 3600)
}

fn builder(name: &str) -> (MonitorBuilder, ManualClock, Fake, std::path::PathBuf) {
    let dir = temp_dir(name);
    let clock = ManualClock::new(start());
    let fake = Fake::default();
    let mut reading = ProcessReading::new(100 * MIB);
    reading.virtual_bytes = Some(400 * MIB);
    reading.threads = Some(9);
    reading.open_fds = Some(12);
    fake.0.lock().unwrap().0 = reading;
    let builder = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .resource_sampler(fake.clone());
    (builder, clock, fake, dir)
}

#[test]
fn the_collector_samples_once_a_second_of_the_monitor_clock() {
    let _lock = exclusive();
    assert_eq!(monitor::resources(), monitor::Resources::default());
    let (builder, clock, fake, _dir) = builder("resources-sampling");
    let guard = builder.install().unwrap();
    assert!(guard.flush());
    let first = monitor::resources();
    let latest = first.latest.clone().expect("sampled at the first tick");
    assert_eq!(latest.time.0, start());
    assert_eq!(latest.rss_bytes, 100 * MIB);
    assert_eq!(latest.virtual_bytes, Some(400 * MIB));
    assert_eq!((latest.threads, latest.open_fds), (Some(9), Some(12)));
    assert_eq!(latest.cpu_percent, None, "nothing to compare with yet");
    // The clock stood still: no new sample, however many flushes.
    let reads = fake.reads();
    for _ in 0..3 {
        assert!(guard.flush());
    }
    assert_eq!(fake.reads(), reads);
    assert_eq!(monitor::resources().history.len(), 1);

    // A second later, half a second of CPU more: 50 %.
    fake.add_cpu(Duration::from_millis(500));
    fake.set_rss(120 * MIB);
    clock.advance(SEC);
    assert!(guard.flush());
    let resources = monitor::resources();
    let latest = resources.latest.clone().unwrap();
    assert_eq!(latest.rss_bytes, 120 * MIB);
    assert_eq!(latest.cpu_percent, Some(50.0));
    assert_eq!(latest.cpu_user_secs, 0.5);
    assert_eq!(resources.history.len(), 2);
    assert_eq!(resources.history.last(), Some(&latest));

    let report = monitor::status_report();
    assert_eq!(report.resources.as_ref(), Some(&latest));
    let text = report.to_string();
    assert!(
        text.contains("Process: RSS 120 MiB, CPU 50.0%, 9 threads, 12 open files"),
        "{text}"
    );
    drop(guard);
    assert_eq!(monitor::resources(), monitor::Resources::default());
}

#[test]
fn the_history_stays_an_hour_long_however_long_the_process_runs() {
    let _lock = exclusive();
    let (builder, clock, fake, _dir) = builder("resources-history");
    let guard = builder.without_stats_db().install().unwrap();
    // Three hours, a sample every 5 s of the clock.
    for step in 0..(3 * 3600 / 5) {
        fake.set_rss(step * MIB);
        clock.advance(5 * SEC);
        assert!(guard.flush());
    }
    let resources = monitor::resources();
    let latest = resources.latest.unwrap();
    let oldest = &resources.history[0];
    assert!(latest.time.0.duration_since(oldest.time.0).unwrap() <= 3600 * SEC);
    assert!(
        resources.history.len() <= 420,
        "{}",
        resources.history.len()
    );
    // The last minute at every sample (every 5 s here), 10 s apart before.
    let gaps: Vec<u64> = resources
        .history
        .windows(2)
        .map(|pair| {
            pair[1]
                .time
                .0
                .duration_since(pair[0].time.0)
                .unwrap()
                .as_secs()
        })
        .collect();
    assert!(
        gaps[gaps.len() - 12..].iter().all(|&gap| gap == 5),
        "{gaps:?}"
    );
    assert!(
        gaps[..gaps.len() - 13].iter().all(|&gap| gap == 10),
        "{gaps:?}"
    );
}

#[test]
fn memory_high_fires_once_rss_stayed_above_the_threshold_for_its_pending_time() {
    let _lock = exclusive();
    let (builder, clock, fake, _dir) = builder("resources-memory-high");
    let (alerts, on_alert) = alert_recorder();
    let rules = AlertRules {
        memory_threshold: Some(500 * MIB),
        ..AlertRules::default()
    }
    .with_pending_for(AlertRule::MemoryHigh, 5 * MIN);
    let guard = builder
        .alert_rules(rules)
        .on_alert(on_alert)
        .install()
        .unwrap();
    let memory = |state| {
        alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.rule == AlertRule::MemoryHigh && a.state == state)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(guard.flush());
    fake.set_rss(600 * MIB);
    clock.advance(SEC);
    assert!(guard.flush());
    // Above, but not for 5 minutes yet; a dip below starts the wait again.
    clock.advance(4 * MIN);
    assert!(guard.flush());
    assert!(memory(AlertState::Firing).is_empty());
    assert_eq!(monitor::health().verdict, Verdict::Green);
    fake.set_rss(400 * MIB);
    clock.advance(SEC);
    assert!(guard.flush());
    fake.set_rss(640 * MIB);
    clock.advance(SEC);
    assert!(guard.flush());
    clock.advance(4 * MIN);
    assert!(guard.flush());
    assert!(
        memory(AlertState::Firing).is_empty(),
        "the dip reset the pending time"
    );
    clock.advance(MIN);
    assert!(guard.flush());
    let fired = memory(AlertState::Firing);
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let alert = &fired[0];
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.function, None);
    assert_eq!(alert.number("rss_bytes"), Some((640 * MIB) as f64));
    assert_eq!(alert.number("threshold_bytes"), Some((500 * MIB) as f64));
    assert!(
        alert
            .message
            .contains("resident memory 640 MiB is above 500 MiB"),
        "{alert}"
    );
    let health = monitor::health();
    assert_eq!(health.verdict, Verdict::Yellow);
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("resident memory 640 MiB above 500 MiB")),
        "{health:?}"
    );
    assert!(monitor::status_report()
        .alerts
        .iter()
        .any(|a| a.rule == AlertRule::MemoryHigh));

    fake.set_rss(300 * MIB);
    clock.advance(SEC);
    assert!(guard.flush());
    let resolved = memory(AlertState::Resolved);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].number("peak_bytes"), Some((640 * MIB) as f64));
    assert_eq!(monitor::health().verdict, Verdict::Green);
}

#[test]
fn memory_rules_are_off_by_default() {
    let _lock = exclusive();
    let (builder, clock, fake, _dir) = builder("resources-memory-off");
    let (alerts, on_alert) = alert_recorder();
    let guard = builder.on_alert(on_alert).install().unwrap();
    // 100 MiB to 100 GiB, steadily, over two hours.
    for minute in 0..120u64 {
        fake.set_rss((100 + minute * 1000) * MIB);
        clock.advance(MIN);
        assert!(guard.flush());
    }
    assert!(
        alerts.lock().unwrap().is_empty(),
        "{:#?}",
        alerts.lock().unwrap()
    );
    assert_eq!(monitor::health().verdict, Verdict::Green);
}

#[test]
fn memory_growth_fires_on_steady_growth_over_its_window_and_resolves_on_a_drop() {
    let _lock = exclusive();
    let (builder, clock, fake, _dir) = builder("resources-memory-growth");
    let (alerts, on_alert) = alert_recorder();
    let rules = AlertRules {
        memory_growth: Some(MemoryGrowth::default()), // +20 % in 30 min
        ..AlertRules::default()
    };
    let guard = builder
        .alert_rules(rules)
        .on_alert(on_alert)
        .install()
        .unwrap();
    let growth = |state| {
        alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.rule == AlertRule::MemoryGrowth && a.state == state)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(guard.flush()); // 100 MiB at minute 0
                            // +1 MiB a minute: 129 MiB after 29 minutes is not a whole window yet.
    for minute in 1..=29u64 {
        fake.set_rss((100 + minute) * MIB);
        clock.advance(MIN);
        assert!(guard.flush());
        assert!(growth(AlertState::Firing).is_empty(), "minute {minute}");
    }
    fake.set_rss(130 * MIB);
    clock.advance(MIN);
    assert!(guard.flush());
    let fired = growth(AlertState::Firing);
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0].severity, Severity::Warning);
    assert_eq!(fired[0].number("start_bytes"), Some((100 * MIB) as f64));
    assert_eq!(fired[0].number("rss_bytes"), Some((130 * MIB) as f64));
    assert_eq!(fired[0].number("window_secs"), Some(1800.0));
    assert!(
        fired[0]
            .message
            .contains("grew from 100 MiB to 130 MiB (+30%)"),
        "{}",
        fired[0]
    );
    assert_eq!(monitor::health().verdict, Verdict::Yellow);

    // A drop of 10 %: not a leak.
    fake.set_rss(117 * MIB);
    clock.advance(MIN);
    assert!(guard.flush());
    assert_eq!(growth(AlertState::Resolved).len(), 1);
    assert_eq!(monitor::health().verdict, Verdict::Green);
}

#[test]
fn bad_memory_rules_are_refused_by_install() {
    let _lock = exclusive();
    let (zero_builder, _clock, _fake, _dir) = builder("resources-bad-rules");
    let zero = AlertRules {
        memory_threshold: Some(0),
        ..AlertRules::default()
    };
    let error = zero_builder.alert_rules(zero).install().unwrap_err();
    assert!(error.to_string().contains("memory_threshold"), "{error}");
    for (growth, field) in [
        (
            MemoryGrowth {
                window: SEC,
                ..MemoryGrowth::default()
            },
            "memory_growth.window",
        ),
        (
            MemoryGrowth {
                growth: 0.0,
                ..MemoryGrowth::default()
            },
            "memory_growth.growth",
        ),
        (
            MemoryGrowth {
                drop_tolerance: 1.0,
                ..MemoryGrowth::default()
            },
            "memory_growth.drop_tolerance",
        ),
    ] {
        let (growth_builder, _clock, _fake, _dir) = builder("resources-bad-rules");
        let rules = AlertRules {
            memory_growth: Some(growth),
            ..AlertRules::default()
        };
        let error = growth_builder.alert_rules(rules).install().unwrap_err();
        assert!(error.to_string().contains(field), "{error}");
    }
}

#[test]
fn samples_are_rolled_up_per_minute_and_hour_in_stats_db() {
    let _lock = exclusive();
    let (builder, clock, fake, dir) = builder("resources-rollups");
    let guard = builder.install().unwrap();
    // Three minutes, a sample every 10 s (19 samples: t0 included), 10 ms
    // of CPU between two samples.
    assert!(guard.flush());
    for step in 1..=18u64 {
        fake.set_rss((100 + step) * MIB);
        fake.add_cpu(Duration::from_millis(10));
        clock.advance(10 * SEC);
        assert!(guard.flush());
    }
    drop(guard);
    let mut reader = monitor_sinks::stats_store::RollupReader::open(&dir.join("stats.db")).unwrap();
    let minutes = reader.read_resources(60, 0, i64::MAX).unwrap();
    assert_eq!(minutes.len(), 4, "{minutes:#?}"); // 10:00, 10:01, 10:02, 10:03:00
    let samples: Vec<u64> = minutes.iter().map(|row| row.samples).collect();
    assert_eq!(samples, [6, 6, 6, 1]);
    assert_eq!(minutes[0].rss_min, 100 * MIB);
    assert_eq!(minutes[0].rss_max, 105 * MIB);
    assert_eq!(
        minutes[0].rss_sum,
        (100 + 101 + 102 + 103 + 104 + 105) * MIB
    );
    assert_eq!(
        minutes[0].cpu_micros, 50_000,
        "five gaps of 10 ms end in the first minute"
    );
    assert_eq!(
        (minutes[0].threads_max, minutes[0].fds_max),
        (Some(9), Some(12))
    );
    let hours = reader.read_resources(3600, 0, i64::MAX).unwrap();
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].samples, 19);
    assert_eq!(
        hours[0].rss_sum,
        minutes.iter().map(|row| row.rss_sum).sum::<u64>()
    );
    assert_eq!(hours[0].cpu_micros, 180_000);
    assert_eq!((hours[0].rss_min, hours[0].rss_max), (100 * MIB, 118 * MIB));
}

#[test]
fn a_directory_s_status_report_shows_the_last_minute_s_process_figures() {
    let _lock = exclusive();
    let (builder, clock, fake, dir) = builder("resources-from-files");
    let guard = builder.install().unwrap();
    assert!(guard.flush());
    // A sample a second for 65 s, 10 ms of CPU between two (1 %), RSS
    // growing by 2 MiB a second.
    for step in 1..=65u64 {
        fake.set_rss((100 + 2 * step) * MIB);
        fake.add_cpu(Duration::from_millis(10));
        clock.advance(SEC);
        assert!(guard.flush());
    }
    drop(guard);

    let report = monitor::query::LogDir::open(&dir)
        .unwrap()
        .status_report()
        .unwrap();
    let process = report.resources.clone().expect("the newest minute row");
    // The second minute (t+60 s … t+65 s): six samples, 220 … 230 MiB.
    assert_eq!(process.time.0, start() + 2 * MIN, "the end of that minute");
    assert_eq!(process.rss_bytes, 225 * MIB, "the minute's mean");
    assert_eq!(process.cpu_percent, Some(1.0));
    assert_eq!(process.virtual_bytes, Some(400 * MIB));
    assert_eq!((process.threads, process.open_fds), (Some(9), Some(12)));
    let text = report.to_string();
    assert!(
        text.contains("Process: RSS 225 MiB, CPU 1.0%, 9 threads, 12 open files"),
        "{text}"
    );
    let json = monitor::query::to_json(&report);
    assert!(json.contains(r#""rss_bytes":235929600"#), "{json}");
}

#[test]
fn an_acknowledged_memory_high_episode_does_not_notify_again_after_a_restart() {
    let _lock = exclusive();
    let (builder, clock, fake, dir) = builder("resources-memory-ack-restart");
    let rules = AlertRules {
        memory_threshold: Some(500 * MIB),
        ..AlertRules::default()
    };
    let firing = |alerts: &Arc<Mutex<Vec<monitor::Alert>>>| {
        alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.rule == AlertRule::MemoryHigh && a.state == AlertState::Firing)
            .cloned()
            .collect::<Vec<_>>()
    };
    fake.set_rss(600 * MIB);
    let (alerts, on_alert) = alert_recorder();
    let guard = builder
        .alert_rules(rules.clone())
        .on_alert(on_alert)
        .install()
        .unwrap();
    clock.advance(SEC);
    assert!(guard.flush());
    let fired = firing(&alerts);
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let episode = fired[0].episode().unwrap();
    monitor::acknowledge(episode, "mem-op", Some("a known leak")).unwrap();
    drop(guard);

    // The memory is still high after the restart: the same episode, still
    // acknowledged, and nobody is notified of it again.
    let (alerts, on_alert) = alert_recorder();
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .resource_sampler(fake.clone())
        .alert_rules(rules)
        .on_alert(on_alert)
        .install()
        .unwrap();
    clock.advance(SEC);
    assert!(guard.flush());
    clock.advance(2 * 60 * MIN);
    assert!(guard.flush());
    assert!(firing(&alerts).is_empty(), "{:#?}", firing(&alerts));
    let now = monitor::alerts(&monitor::AlertQuery::new()).unwrap().firing;
    let alert = now
        .iter()
        .find(|a| a.rule == AlertRule::MemoryHigh)
        .unwrap();
    assert_eq!(alert.episode(), Some(episode));
    assert_eq!(alert.acknowledged().unwrap().by, "mem-op");
    assert!(
        monitor::health()
            .reasons
            .iter()
            .any(|r| r.contains("acknowledged by mem-op")),
        "{}",
        monitor::health()
    );
    drop(guard);
}
