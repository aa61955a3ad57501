//! `monitor::query` on directories a real host wrote: the status report and
//! health read back from `stats.db` as the host left them, rotated and
//! gzipped files, and a directory that is read without a byte changing.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{exclusive, temp_dir};
use monitor::query::{ExecutionFilter, LogDir, NameFilter};
use monitor::{monitored, ExecutionId, ManualClock, Monitor, Status, Timestamp, Verdict};

#[monitored(name = "query_host::flaky")]
fn flaky(fail: bool) -> Result<(), String> {
    if fail {
        Err("upstream timeout after 30 s".to_owned())
    } else {
        Ok(())
    }
}

#[monitored(name = "query_host::steady")]
fn steady() {}

fn at(text: &str) -> SystemTime {
    Timestamp::parse(text).unwrap().system_time()
}

#[test]
fn status_and_health_are_what_the_stopped_host_saved() {
    let _lock = exclusive();
    let dir = temp_dir("query-host-status");
    let clock = ManualClock::new(at("2026-12-06T10:00:00Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .install()
        .unwrap();
    for _ in 0..3 {
        steady();
        flaky(false).unwrap();
    }
    for _ in 0..6 {
        clock.advance(Duration::from_secs(1));
        flaky(true).unwrap_err();
    }
    assert!(guard.flush());
    let live = monitor::status_report();
    drop(guard);
    assert_eq!(live.health.verdict, Verdict::Red, "{}", live.health);

    let logs = LogDir::open(&dir).unwrap();
    let health = logs.health().unwrap();
    assert_eq!(health.verdict, live.health.verdict);
    assert_eq!(health.reasons.len(), live.health.reasons.len(), "{health}");
    assert!(health.reasons[0].contains("query_host::flaky"), "{health}");

    let report = logs.status_report().unwrap();
    assert_eq!(report.health, health);
    assert_eq!(report.stats.len(), live.stats.len());
    for (read, recorded) in report.stats.iter().zip(live.stats.iter()) {
        assert_eq!(read.name, recorded.name);
        assert_eq!(read.health, recorded.health, "{}", read.name);
        assert_eq!(read.status, recorded.status, "{}", read.name);
        assert_eq!(
            (
                read.total_executions,
                read.error_count,
                read.consecutive_failures
            ),
            (
                recorded.total_executions,
                recorded.error_count,
                recorded.consecutive_failures
            )
        );
        assert_eq!(read.p50_ms, recorded.p50_ms);
        // stats.db keeps times to the microsecond.
        let micros = |t: Option<Timestamp>| t.map(|t| t.to_string());
        assert_eq!(
            micros(read.last_execution_time),
            micros(recorded.last_execution_time)
        );
        assert_eq!(
            read.last_error
                .as_ref()
                .map(|e| (&e.error_type, &e.message, e.time.to_string())),
            recorded
                .last_error
                .as_ref()
                .map(|e| (&e.error_type, &e.message, e.time.to_string()))
        );
    }
    let rules = |alerts: &[monitor::Alert]| -> Vec<(Option<String>, String)> {
        alerts
            .iter()
            .map(|a| (a.function.clone(), a.rule.as_str().to_owned()))
            .collect()
    };
    assert!(!live.alerts.is_empty());
    assert_eq!(rules(&report.alerts), rules(&live.alerts));
    // Rendered as the host rendered them (a new error pattern names it).
    let messages = |alerts: &[monitor::Alert]| -> Vec<(String, String)> {
        alerts
            .iter()
            .map(|a| (a.rule.as_str().to_owned(), a.message.clone()))
            .collect()
    };
    assert!(live
        .alerts
        .iter()
        .any(|a| a.rule == monitor::AlertRule::NewErrorPattern));
    assert_eq!(messages(&report.alerts), messages(&live.alerts));
    assert!(report.to_string().contains("query_host::flaky"));

    // The executions the host wrote, newest first.
    let page = logs.executions(&ExecutionFilter::new()).unwrap();
    let statuses: Vec<(&str, Status)> = page
        .executions
        .iter()
        .map(|e| (e.name.as_str(), e.status))
        .collect();
    let mut expected = vec![("query_host::flaky", Status::Error); 6];
    for _ in 0..3 {
        expected.push(("query_host::flaky", Status::Success));
        expected.push(("query_host::steady", Status::Success));
    }
    assert_eq!(statuses, expected);
    let groups = logs.error_groups(at("2026-12-06T00:00:00Z"), None).unwrap();
    assert_eq!(groups.groups.len(), 1);
    assert_eq!(groups.groups[0].count, 6);
    assert_eq!(
        groups.groups[0].fingerprint,
        "alloc::string::String: upstream timeout after <n> s"
    );
}

#[test]
fn rotated_and_gzipped_files_of_a_host_read_as_one_history() {
    let _lock = exclusive();
    let dir = temp_dir("query-host-rotation");
    let clock = ManualClock::new(at("2026-12-04T23:59:00Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .compress_rotated_logs(true)
        .install()
        .unwrap();
    // Three days, crossing midnight twice: two rotated (gzipped) files.
    let mut written = Vec::new();
    for day in 0..3 {
        for i in 0..4 {
            let fail = i == 3;
            let _ = flaky(fail);
            written.push(if fail { Status::Error } else { Status::Success });
            // A timestamp is the clock's reading at drain time minus the ticks
            // since: with a frozen clock, a call drained in a later pass reads
            // earlier. Drained, then a second later, each call is later.
            assert!(guard.flush());
            clock.advance(Duration::from_secs(1));
        }
        if day < 2 {
            clock.advance(Duration::from_secs(24 * 3600));
        }
    }
    assert!(guard.flush());
    drop(guard);
    let names: Vec<String> = std::fs::read_dir(dir.join("executions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".gz"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let logs = LogDir::open(&dir).unwrap();
    let filter = ExecutionFilter::new().limit(5);
    let mut seen = Vec::new();
    let mut page = logs.executions(&filter).unwrap();
    loop {
        seen.extend(page.executions.iter().map(|e| (e.status, e.timestamp)));
        match page.next.clone() {
            Some(cursor) => page = logs.executions(&filter.clone().cursor(cursor)).unwrap(),
            None => break,
        }
    }
    let statuses: Vec<Status> = seen.iter().map(|(status, _)| *status).collect();
    let mut expected = written.clone();
    expected.reverse();
    assert_eq!(statuses, expected);
    assert!(seen.windows(2).all(|pair| pair[0].1 >= pair[1].1));
    let errors = logs
        .executions(
            &ExecutionFilter::new()
                .status(Status::Error)
                .since(at("2026-12-06T00:00:00Z")),
        )
        .unwrap();
    assert_eq!(errors.executions.len(), 1);
}

/// Every file under `dir`: its size, modification time and contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::metadata(&path).unwrap();
        if meta.is_dir() {
            out.insert(path.clone(), (meta.modified().unwrap(), Vec::new()));
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else {
            out.insert(
                path.clone(),
                (meta.modified().unwrap(), std::fs::read(&path).unwrap()),
            );
        }
    }
    out
}

fn set_read_only(dir: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    for (path, _) in snapshot(dir) {
        let is_dir = path.is_dir();
        let mode = match (is_dir, read_only) {
            (true, true) => 0o555,
            (true, false) => 0o755,
            (false, true) => 0o444,
            (false, false) => 0o644,
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn a_read_only_copy_reads_the_same_and_nothing_changes() {
    let _lock = exclusive();
    let dir = temp_dir("query-host-readonly");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    for i in 0..20 {
        let _ = flaky(i % 4 == 0);
        steady();
    }
    assert!(guard.flush());
    drop(guard);
    let copy = temp_dir("query-host-readonly-copy");
    for sub in ["executions", "errors", "alerts"] {
        std::fs::create_dir_all(copy.join(sub)).unwrap();
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), copy.join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(dir.join("stats.db"), copy.join("stats.db")).unwrap();
    set_read_only(&copy, true);
    let before = snapshot(&copy);

    let run = |root: &Path| {
        let logs = LogDir::open(root).unwrap();
        let page = logs.executions(&ExecutionFilter::new().limit(100)).unwrap();
        let groups = logs.error_groups(SystemTime::UNIX_EPOCH, None).unwrap();
        let health = logs.health().unwrap();
        let report = logs.status_report().unwrap();
        let window = logs
            .stats_window(Duration::from_secs(3600), SystemTime::now(), None)
            .unwrap();
        let trend = logs.trend(2, SystemTime::now(), None).unwrap();
        let unknown = logs
            .execution(ExecutionId::first_at(SystemTime::now()))
            .unwrap();
        assert!(unknown.is_none());
        (
            page,
            groups,
            health,
            report.stats,
            monitor::query::to_json(&window.functions),
            monitor::query::to_json(&trend),
        )
    };
    let original = run(&dir);
    let copied = run(&copy);
    assert_eq!(original.0.executions.len(), 40);
    assert_eq!(original.1.groups[0].count, 5);
    assert_eq!(original, copied);
    let after = snapshot(&copy);
    let changed: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(
        changed.is_empty(),
        "the query wrote into the directory: {changed:?}"
    );
    set_read_only(&copy, false);
}

#[monitored(name = "query_host::ided")]
fn ided(fail: bool) -> Result<u32, String> {
    if fail {
        Err("card declined (attempt 3)".to_owned())
    } else {
        Ok(7)
    }
}

#[test]
fn ids_are_one_across_the_listing_both_logs_and_the_lookup() {
    let _lock = exclusive();
    let dir = temp_dir("query-host-ids");
    // Across midnight: the executions of the 5th are in a rotated file.
    let clock = ManualClock::new(at("2026-12-05T23:59:30Z"));
    let guard = Monitor::builder()
        .log_dir(&dir)
        .clock(clock.clone())
        .install()
        .unwrap();
    for i in 0..6 {
        let _ = ided(i % 3 == 0);
    }
    assert!(guard.flush());
    clock.advance(Duration::from_secs(60));
    for i in 0..4 {
        let _ = ided(i % 2 == 0);
    }
    assert!(guard.flush());
    drop(guard);
    assert!(dir.join("executions/2026-12-05.log").exists());

    let logs = LogDir::open(&dir).unwrap();
    let page = logs
        .executions(&ExecutionFilter::new().name(NameFilter::exact("query_host::ided")))
        .unwrap();
    assert_eq!(page.executions.len(), 10);
    let mut failed_ids = Vec::new();
    for summary in &page.executions {
        let id = summary.id.expect("every execution line has an id");
        let detail = logs.execution(id).unwrap().expect("found by its id");
        assert_eq!(&detail.summary, summary);
        assert!(detail.in_executions_log);
        assert_eq!(detail.in_errors_log, summary.status.is_failure());
        if summary.status.is_failure() {
            assert_eq!(
                detail.summary.error_message.as_deref(),
                Some("card declined (attempt 3)")
            );
            assert!(detail.context.is_some());
            failed_ids.push(id.to_string());
        }
    }
    // The errors log names the same ids.
    let mut logged: Vec<String> = common::errors(&dir)
        .iter()
        .map(|line| line["id"].as_str().unwrap().to_owned())
        .collect();
    logged.sort();
    failed_ids.sort();
    assert_eq!(logged, failed_ids);
    // An error group's example is the latest failure.
    let groups = logs.error_groups(at("2026-12-05T00:00:00Z"), None).unwrap();
    assert_eq!(groups.groups[0].count, 4);
    assert_eq!(
        groups.groups[0].example_id,
        page.executions
            .iter()
            .find(|e| e.status.is_failure())
            .unwrap()
            .id
    );
    // An id no execution has.
    let unknown = ExecutionId::first_at(at("2026-12-05T23:59:45Z"));
    assert_eq!(logs.execution(unknown).unwrap(), None);
}

#[monitored(name = "query_host::charged", fields(always, user_id = user, plan = %plan))]
fn charged(user: u64, plan: &str, fail: bool) -> Result<(), String> {
    if fail {
        Err(format!("card of user {user} declined"))
    } else {
        Ok(())
    }
}

#[test]
fn filters_on_the_fields_a_host_recorded() {
    let _lock = exclusive();
    let dir = temp_dir("query-host-fields");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    for i in 0..12u64 {
        let _ = charged(
            40 + i % 3,
            if i % 2 == 0 { "pro" } else { "free" },
            i % 4 == 0,
        );
    }
    assert!(guard.flush());
    drop(guard);
    let logs = LogDir::open(&dir).unwrap();
    let run = |filter: ExecutionFilter| {
        logs.executions(&filter.name(NameFilter::exact("query_host::charged")))
            .unwrap()
            .executions
    };
    let users: Vec<u64> = (0..12u64).rev().map(|i| 40 + i % 3).collect();
    let for_42 = run(ExecutionFilter::new().field("user_id", "42"));
    assert_eq!(for_42.len(), users.iter().filter(|&&u| u == 42).count());
    for execution in &for_42 {
        assert_eq!(execution.fields[0].0, "user_id");
        assert_eq!(execution.fields[0].1.to_string(), "42");
    }
    let pro_42 = run(ExecutionFilter::new()
        .field("user_id", "42")
        .field("plan", "pro"));
    let expected = (0..12u64)
        .filter(|i| 40 + i % 3 == 42 && i % 2 == 0)
        .count();
    assert_eq!(pro_42.len(), expected);
    let failed_pro = run(ExecutionFilter::new()
        .field("plan", "pro")
        .status(Status::Error));
    assert_eq!(failed_pro.len(), (0..12u64).filter(|i| i % 4 == 0).count());
    // The errors log carries the same fields: the lookup by id has them.
    let detail = logs.execution(failed_pro[0].id.unwrap()).unwrap().unwrap();
    assert_eq!(detail.summary.fields, failed_pro[0].fields);
    assert!(run(ExecutionFilter::new().field("user_id", "4")).is_empty());
}

/// A copy of a running host's directory: `stats.db` with its `-wal` but no
/// `-shm` (what backup tools often leave). Every read answers with the rows
/// of the WAL, and not a byte, a name or an mtime of the directory changes,
/// writable or not.
#[test]
fn a_copy_with_a_wal_and_no_shm_is_read_whole_and_left_untouched() {
    let _lock = exclusive();
    let dir = temp_dir("query-host-wal");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    for i in 0..20 {
        let _ = flaky(i % 4 == 0);
        steady();
    }
    assert!(guard.flush());
    // The host still runs: its latest rows are in the WAL.
    let copy = temp_dir("query-host-wal-copy");
    let main_only = temp_dir("query-host-wal-main-only");
    std::fs::copy(dir.join("stats.db-wal"), copy.join("stats.db-wal")).unwrap();
    std::fs::copy(dir.join("stats.db"), copy.join("stats.db")).unwrap();
    std::fs::copy(dir.join("stats.db"), main_only.join("stats.db")).unwrap();
    drop(guard);
    assert!(!copy.join("stats.db-shm").exists());

    // The main file alone does not hold them (or this test proves nothing).
    let alone = LogDir::open(&main_only).unwrap().status_report().unwrap();
    assert!(
        alone.stats.iter().all(|s| s.total_executions < 20),
        "the rows are not only in the WAL"
    );

    let run = |root: &Path| {
        let logs = LogDir::open(root).unwrap();
        let health = logs.health().unwrap();
        let report = logs.status_report().unwrap();
        let now = SystemTime::now();
        let window = logs
            .stats_window(Duration::from_secs(3600), now, None)
            .unwrap();
        let trend = logs.trend(2, now, None).unwrap();
        (health, report, window, trend)
    };
    for read_only in [false, true] {
        set_read_only(&copy, read_only);
        let before = snapshot(&copy);
        let (health, report, window, trend) = run(&copy);
        let after = snapshot(&copy);
        let listing = |dir: &Path| {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            names
        };
        assert_eq!(listing(&copy), ["stats.db", "stats.db-wal"]);
        assert!(before == after, "the read wrote into the directory");

        let totals: Vec<(&str, u64, u64)> = report
            .stats
            .iter()
            .map(|s| (s.name.as_str(), s.total_executions, s.error_count))
            .collect();
        assert_eq!(
            totals,
            [("query_host::flaky", 20, 5), ("query_host::steady", 20, 0)],
            "read_only: {read_only}"
        );
        assert_eq!(health, report.health);
        assert_eq!(window.totals.total, 40, "read_only: {read_only}");
        assert_eq!(window.totals.error, 5);
        let trended: u64 = trend
            .iter()
            .flat_map(|f| f.points.iter())
            .map(|p| p.total)
            .sum();
        assert_eq!(trended, 40, "read_only: {read_only}");
    }
    set_read_only(&copy, false);
    // The private copies the reads made are gone.
    let prefix = format!("monitor-read-{}-", std::process::id());
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "private copies left behind: {left:?}");
}

/// An execution's line with a member of the wrong type is damaged: skipped
/// and counted, like a line that is not JSON; a monitor record is neither.
#[test]
fn execution_lines_with_wrong_types_are_skipped_and_counted() {
    let _lock = exclusive();
    let dir = temp_dir("query-host-types");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    for _ in 0..3 {
        steady();
    }
    assert!(guard.flush());
    drop(guard);
    let log = dir.join("executions").join("current.log");
    let mut text = std::fs::read_to_string(&log).unwrap();
    let stamp = "\"timestamp\":\"2026-12-06T21:02:17.000000Z\"";
    for line in [
        format!("{{{stamp},\"name\":\"query_host::steady\",\"status\":\"success\",\"duration_ms\":\"x\",\"trigger_type\":\"call\",\"thread\":\"main\"}}"),
        format!("{{{stamp},\"name\":42,\"status\":\"success\",\"duration_ms\":1.5,\"trigger_type\":\"call\",\"thread\":\"main\"}}"),
        format!("{{{stamp},\"name\":\"query_host::steady\",\"status\":\"exploded\",\"duration_ms\":1.5,\"trigger_type\":\"call\",\"thread\":\"main\"}}"),
        r#"{"timestamp":"yesterday","name":"query_host::steady","status":"success","duration_ms":1.5}"#.to_owned(),
        // A monitor record: not an execution, not damaged.
        format!("{{{stamp},\"name\":\"monitor\",\"status\":\"gap\",\"dropped_events\":2,\"trigger_type\":\"monitor\",\"thread\":\"main\"}}"),
    ] {
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&log, text).unwrap();
    let logs = LogDir::open(&dir).unwrap();
    let page = logs.executions(&ExecutionFilter::new()).unwrap();
    assert_eq!(page.executions.len(), 3);
    assert_eq!(page.skipped_lines, 4);
}
