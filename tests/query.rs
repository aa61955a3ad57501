//! `monitor::query` on log directories written by hand in the exact line
//! format of FORMAT.md (current, rotated and gzipped files, corrupt and torn
//! lines), so that every answer can be compared with what was written.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::temp_dir;
use monitor::query::{Cursor, ExecutionFilter, ExecutionSummary, LogDir, NameFilter, QueryError};
use monitor::{ExecutionId, Status, Timestamp};

/// 2026-12-04T00:00:00Z in ms.
const DAY4_MS: u64 = 1_796_342_400_000;
const DAY_MS: u64 = 86_400_000;

#[derive(Clone, Debug)]
struct Written {
    id: ExecutionId,
    start_ms: u64,
    name: &'static str,
    status: &'static str,
    user: u64,
    message: Option<String>,
}

fn time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn stamp(ms: u64) -> String {
    Timestamp(time(ms)).to_string()
}

impl Written {
    fn line(&self) -> String {
        let mut line = format!(
            r#"{{"id":"{}","timestamp":"{}","name":"{}","status":"{}","duration_ms":1.25,"trigger_type":"call","thread":"worker-1""#,
            self.id,
            stamp(self.start_ms),
            self.name,
            self.status
        );
        if let Some(message) = &self.message {
            line.push_str(&format!(
                r#","error_type":"app::Error","error_message":"{message}""#
            ));
        }
        line.push_str(&format!(
            r#","fields":{{"user_id":{},"chat":"c{}"}}}}"#,
            self.user, self.user
        ));
        line.push('\n');
        line
    }

    fn error_line(&self) -> String {
        let base = self.line();
        let base = base.trim_end().strip_suffix('}').unwrap();
        format!(
            "{base},\"error_chain\":[\"inner cause\"],\"stack_trace\":null,\"context\":{{\"module\":\"app\",\"file\":\"src/app.rs\",\"line\":{}}}}}\n",
            self.user
        )
    }
}

/// 30 executions, 10 a day over 2026-12-04..06, in the order written.
fn history() -> Vec<Written> {
    let names = ["jobs::sync", "jobs::send", "web::get"];
    (0..30u64)
        .map(|i| {
            let start_ms = DAY4_MS + (i / 10) * DAY_MS + 3_600_000 + (i % 10) * 60_000;
            let failed = i % 3 == 2;
            Written {
                id: ExecutionId::from_parts(start_ms, 7, 1, i as u32),
                start_ms,
                name: names[(i % 3) as usize],
                status: if failed { "error" } else { "success" },
                user: i % 4,
                message: failed.then(|| format!("timeout after {} ms", 100 + i)),
            }
        })
        .collect()
}

fn gzip(path: &Path, text: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
}

/// Day 4 gzipped, day 5 plain, day 6 in `current.log` with a corrupt line
/// in the middle and a torn (unfinished) last line. The errors log holds
/// the failures (a size-rotated file and the current one).
fn write_dir(name: &str) -> (PathBuf, Vec<Written>) {
    let dir = temp_dir(name);
    let executions = dir.join("executions");
    let errors = dir.join("errors");
    std::fs::create_dir_all(&executions).unwrap();
    std::fs::create_dir_all(&errors).unwrap();
    let all = history();
    let day = |d: usize| -> String { all[d * 10..d * 10 + 10].iter().map(Written::line).collect() };
    gzip(&executions.join("2026-12-04.log.gz"), &day(0));
    std::fs::write(executions.join("2026-12-05.log"), day(1)).unwrap();
    let mut current = String::new();
    for (i, written) in all[20..].iter().enumerate() {
        current.push_str(&written.line());
        if i == 4 {
            current.push_str("this is not json\n");
            current.push_str(
                r#"{"timestamp":"2026-12-06T02:00:00.000000Z","name":"monitor","status":"gap","trigger_type":"monitor","thread":"t","dropped_events":3}"#,
            );
            current.push('\n');
        }
    }
    current.push_str(r#"{"id":"01KBSV2Y5T00000001000100000001","timestamp":"2026-12-06T"#);
    std::fs::write(executions.join("current.log"), current).unwrap();
    let failures: Vec<&Written> = all.iter().filter(|w| w.message.is_some()).collect();
    let (older, newer) = failures.split_at(5);
    std::fs::write(
        errors.join("20261205T120000Z_errors.log"),
        older.iter().map(|w| w.error_line()).collect::<String>(),
    )
    .unwrap();
    std::fs::write(
        errors.join("current_errors.log"),
        newer.iter().map(|w| w.error_line()).collect::<String>(),
    )
    .unwrap();
    (dir, all)
}

fn ids(executions: &[ExecutionSummary]) -> Vec<ExecutionId> {
    executions.iter().map(|e| e.id.unwrap()).collect()
}

fn newest_first(all: &[Written], keep: impl Fn(&Written) -> bool) -> Vec<ExecutionId> {
    all.iter().rev().filter(|w| keep(w)).map(|w| w.id).collect()
}

#[test]
fn lists_every_file_newest_first_and_counts_corrupt_and_torn_lines() {
    let (dir, all) = write_dir("query-all");
    let logs = LogDir::open(&dir).unwrap();
    let page = logs.executions(&ExecutionFilter::new().limit(100)).unwrap();
    assert_eq!(ids(&page.executions), newest_first(&all, |_| true));
    assert_eq!(page.next, None);
    // "this is not json" and the torn last line; the gap record is no execution.
    assert_eq!(page.skipped_lines, 2);
    let first = &page.executions[0];
    let last_written = &all[29];
    assert_eq!(first.name, last_written.name);
    assert_eq!(first.timestamp, Timestamp(time(last_written.start_ms)));
    assert_eq!(first.status.as_str(), last_written.status);
    assert_eq!(first.duration_ms, 1.25);
    assert_eq!(first.thread, "worker-1");
    assert_eq!(first.fields[0].0, "user_id");
    assert_eq!(first.fields[0].1.to_string(), last_written.user.to_string());
    // Its JSON is the line as written (same members, same order).
    assert_eq!(
        monitor::query::to_json(first),
        last_written.line().trim_end()
    );
}

#[test]
fn the_default_page_is_the_newest_50_and_paging_has_no_gap_and_no_duplicate() {
    let (dir, all) = write_dir("query-paging");
    let logs = LogDir::open(&dir).unwrap();
    let first = logs.executions(&ExecutionFilter::new()).unwrap();
    assert_eq!(first.executions.len(), 30);
    for limit in [1, 4, 7, 10, 29, 30] {
        let filter = ExecutionFilter::new().limit(limit);
        let mut seen = Vec::new();
        let mut page = logs.executions(&filter).unwrap();
        loop {
            assert!(page.executions.len() <= limit);
            seen.extend(ids(&page.executions));
            let Some(cursor) = page.next.clone() else {
                break;
            };
            // Through its text, as the command line carries it.
            let cursor: Cursor = cursor.to_string().parse().unwrap();
            page = logs.executions(&filter.clone().cursor(cursor)).unwrap();
        }
        assert_eq!(seen, newest_first(&all, |_| true), "limit {limit}");
    }
}

#[test]
fn filters_on_name_status_time_and_fields() {
    let (dir, all) = write_dir("query-filters");
    let logs = LogDir::open(&dir).unwrap();
    let run =
        |filter: ExecutionFilter| ids(&logs.executions(&filter.limit(100)).unwrap().executions);

    let exact = NameFilter::exact("jobs::sync");
    assert_eq!(
        run(ExecutionFilter::new().name(exact)),
        newest_first(&all, |w| w.name == "jobs::sync")
    );
    let prefix: NameFilter = "jobs::*".parse().unwrap();
    assert_eq!(
        run(ExecutionFilter::new().name(prefix.clone())),
        newest_first(&all, |w| w.name.starts_with("jobs::"))
    );
    // A prefix is not a substring: `jobs::s` does not match `web::get`, and
    // an exact name does not match a longer one.
    assert_eq!(
        run(ExecutionFilter::new().name(NameFilter::exact("jobs::"))),
        vec![]
    );
    assert_eq!(
        run(ExecutionFilter::new().status(Status::Error)),
        newest_first(&all, |w| w.status == "error")
    );
    assert_eq!(
        run(ExecutionFilter::new()
            .name(prefix)
            .status("success".parse().unwrap())),
        newest_first(&all, |w| w.name.starts_with("jobs::")
            && w.status == "success")
    );
    let since = DAY4_MS + DAY_MS + 3_600_000 + 5 * 60_000;
    let until = DAY4_MS + 2 * DAY_MS + 3_600_000 + 2 * 60_000;
    assert_eq!(
        run(ExecutionFilter::new().since(time(since)).until(time(until))),
        newest_first(&all, |w| w.start_ms >= since && w.start_ms <= until)
    );
    assert_eq!(
        run(ExecutionFilter::new().field("user_id", "2")),
        newest_first(&all, |w| w.user == 2)
    );
    assert_eq!(
        run(ExecutionFilter::new()
            .field("chat", "c3")
            .field("user_id", "3")),
        newest_first(&all, |w| w.user == 3)
    );
    assert_eq!(run(ExecutionFilter::new().field("chat", "3")), vec![]);
    assert_eq!(run(ExecutionFilter::new().field("nobody", "3")), vec![]);
}

#[test]
fn a_cursor_survives_the_rotation_of_the_current_file() {
    let (dir, all) = write_dir("query-cursor-rotation");
    let logs = LogDir::open(&dir).unwrap();
    let filter = ExecutionFilter::new().limit(3);
    let page = logs.executions(&filter).unwrap();
    assert_eq!(ids(&page.executions), newest_first(&all, |_| true)[..3]);
    let cursor = page.next.unwrap();
    // The host rotates `current.log` (and then compresses it) and writes on.
    let executions = dir.join("executions");
    let text = std::fs::read_to_string(executions.join("current.log")).unwrap();
    let whole = &text[..text.rfind('\n').unwrap() + 1];
    std::fs::remove_file(executions.join("current.log")).unwrap();
    gzip(&executions.join("2026-12-06.log.gz"), whole);
    let later = Written {
        id: ExecutionId::from_parts(DAY4_MS + 3 * DAY_MS, 7, 1, 99),
        start_ms: DAY4_MS + 3 * DAY_MS,
        name: "jobs::sync",
        status: "success",
        user: 1,
        message: None,
    };
    std::fs::write(executions.join("current.log"), later.line()).unwrap();
    let rest = logs
        .executions(&filter.clone().limit(100).cursor(cursor))
        .unwrap();
    assert_eq!(ids(&rest.executions), newest_first(&all, |_| true)[3..]);
    // A cursor whose file is gone (retention) is an error, not a silent restart.
    let stale: Cursor = "c1~2026-11-01.log~0~0000000000000000".parse().unwrap();
    let error = logs.executions(&filter.clone().cursor(stale)).unwrap_err();
    assert!(matches!(error, QueryError::StaleCursor { .. }), "{error}");
    // A forged offset past the end of a file (beyond what a seek takes)
    // names the cursor, not the file.
    for offset in [u64::MAX, 1 << 40] {
        let text = format!("c1~current.log~{offset}~0000000000000000");
        let forged: Cursor = text.parse().unwrap();
        let error = logs.executions(&filter.clone().cursor(forged)).unwrap_err();
        assert!(matches!(error, QueryError::StaleCursor { .. }), "{error}");
        assert!(error.to_string().contains(&text), "{error}");
    }
}

#[test]
fn one_execution_whole_by_id_from_both_logs() {
    let (dir, all) = write_dir("query-by-id");
    let logs = LogDir::open(&dir).unwrap();
    // In the gzipped file; a success: no errors-log part.
    let ok = &all[3];
    let detail = logs.execution(ok.id).unwrap().unwrap();
    assert_eq!(detail.summary.id, Some(ok.id));
    assert_eq!(detail.summary.name, ok.name);
    assert!(detail.in_executions_log && !detail.in_errors_log);
    assert!(detail.error_chain.is_empty());
    // A failure: the executions line plus the errors-log detail.
    for failed in [&all[2], &all[29]] {
        let detail = logs.execution(failed.id).unwrap().unwrap();
        assert!(detail.in_executions_log && detail.in_errors_log);
        assert_eq!(detail.summary.error_message, failed.message);
        assert_eq!(detail.error_chain, ["inner cause"]);
        assert_eq!(detail.stack_trace, None);
        let context = detail.context.unwrap();
        assert_eq!(context.get("file").unwrap().to_string(), "src/app.rs");
        assert_eq!(
            context.get("line").unwrap().to_string(),
            failed.user.to_string()
        );
    }
    // The same id as the listing gives.
    let listed = logs.executions(&ExecutionFilter::new().limit(1)).unwrap();
    let id = listed.executions[0].id.unwrap();
    assert_eq!(
        logs.execution(id).unwrap().unwrap().summary,
        listed.executions[0]
    );
    // Unknown: Ok(None).
    let unknown = ExecutionId::from_parts(DAY4_MS + DAY_MS, 7, 1, 12345);
    assert_eq!(logs.execution(unknown).unwrap(), None);
}

#[test]
fn an_execution_that_ended_after_midnight_is_found_in_the_next_file() {
    let dir = temp_dir("query-midnight");
    let executions = dir.join("executions");
    std::fs::create_dir_all(&executions).unwrap();
    // Started 23:59:59 on the 4th, written (ended) on the 5th; another one
    // whose id says the 6th sits in an older file (the clock stepped back).
    let long = Written {
        id: ExecutionId::from_parts(DAY4_MS + DAY_MS - 1000, 1, 1, 1),
        start_ms: DAY4_MS + DAY_MS - 1000,
        name: "jobs::long",
        status: "success",
        user: 0,
        message: None,
    };
    let stepped = Written {
        id: ExecutionId::from_parts(DAY4_MS + 2 * DAY_MS + 5000, 1, 1, 2),
        start_ms: DAY4_MS + 2 * DAY_MS + 5000,
        ..long.clone()
    };
    std::fs::write(executions.join("2026-12-04.log"), stepped.line()).unwrap();
    std::fs::write(executions.join("2026-12-05.log"), long.line()).unwrap();
    std::fs::write(executions.join("current.log"), "").unwrap();
    let logs = LogDir::open(&dir).unwrap();
    assert_eq!(
        logs.execution(long.id).unwrap().unwrap().summary.id,
        Some(long.id)
    );
    assert_eq!(
        logs.execution(stepped.id).unwrap().unwrap().summary.id,
        Some(stepped.id)
    );
}

#[test]
fn error_groups_use_the_collectors_fingerprint_and_the_window() {
    let (dir, all) = write_dir("query-error-groups");
    let logs = LogDir::open(&dir).unwrap();
    let answer = logs.error_groups(UNIX_EPOCH, None).unwrap();
    assert_eq!(answer.skipped_lines, 0);
    // Failures are i % 3 == 2: always `web::get`, messages differing only in numbers.
    assert_eq!(answer.groups.len(), 1);
    let group = &answer.groups[0];
    let failures: Vec<&Written> = all.iter().filter(|w| w.message.is_some()).collect();
    assert_eq!(group.name, "web::get");
    assert_eq!(group.fingerprint, "app::Error: timeout after <n> ms");
    assert_eq!(group.count, failures.len() as u64);
    assert_eq!(group.first_seen, Timestamp(time(failures[0].start_ms)));
    let latest = failures.last().unwrap();
    assert_eq!(group.last_seen, Timestamp(time(latest.start_ms)));
    assert_eq!(group.example_id, Some(latest.id));
    assert_eq!(Some(&group.message), latest.message.as_ref());

    let since = DAY4_MS + 2 * DAY_MS;
    let recent = logs.error_groups(time(since), None).unwrap();
    let expected = failures.iter().filter(|w| w.start_ms >= since).count() as u64;
    assert_eq!(recent.groups[0].count, expected);
    let other: NameFilter = "jobs::*".parse().unwrap();
    assert!(logs
        .error_groups(UNIX_EPOCH, Some(&other))
        .unwrap()
        .groups
        .is_empty());
}

#[test]
fn a_missing_or_foreign_directory_is_an_error_naming_it() {
    let dir = temp_dir("query-foreign");
    let missing = dir.join("nope");
    let error = LogDir::open(&missing).unwrap_err();
    assert!(matches!(error, QueryError::NotFound { .. }));
    assert!(error.to_string().contains(&missing.display().to_string()));
    std::fs::write(dir.join("notes.txt"), "hello").unwrap();
    let error = LogDir::open(&dir).unwrap_err();
    assert!(matches!(error, QueryError::NotAMonitorDirectory { .. }));
    assert!(error.to_string().contains(&dir.display().to_string()));
    let error = LogDir::open(dir.join("notes.txt")).unwrap_err();
    assert!(matches!(error, QueryError::NotAMonitorDirectory { .. }));
    // A monitor's directory without stats.db: the report says which file is missing.
    std::fs::create_dir(dir.join("executions")).unwrap();
    let logs = LogDir::open(&dir).unwrap();
    let error = logs.health().unwrap_err();
    assert!(error.to_string().contains("stats.db"), "{error}");
    assert!(logs
        .executions(&ExecutionFilter::new())
        .unwrap()
        .executions
        .is_empty());
}

#[test]
fn progress_is_reported_to_the_callback() {
    use std::sync::{Arc, Mutex};
    let (dir, _) = write_dir("query-progress");
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let logs = LogDir::open(&dir)
        .unwrap()
        .on_progress(move |progress| sink.lock().unwrap().push(progress.clone()));
    logs.executions(&ExecutionFilter::new().limit(100)).unwrap();
    let last = reports.lock().unwrap().last().cloned().unwrap();
    let sizes: u64 = ["current.log", "2026-12-05.log"]
        .iter()
        .map(|name| {
            std::fs::metadata(dir.join("executions").join(name))
                .unwrap()
                .len()
        })
        .sum();
    // Every file was read (the gzipped one decompressed, so more bytes).
    assert_eq!((last.files_read, last.files_total), (3, 3));
    assert!(last.bytes_read > sizes, "{last:?}");
    reports.lock().unwrap().clear();
    logs.error_groups(UNIX_EPOCH, None).unwrap();
    assert_eq!(reports.lock().unwrap().last().unwrap().files_read, 2);
}

#[test]
fn a_stats_db_of_an_older_schema_is_read_as_it_is_and_not_written() {
    use monitor_sinks::stats_store::{legacy_schema, StoredFunctionStats};
    let dir = temp_dir("query-legacy-db");
    let old = StoredFunctionStats {
        name: "nightly_backup".into(),
        trigger_type: "call".into(),
        status: "active".into(),
        total_executions: 40,
        success_count: 38,
        error_count: 2,
        avg_execution_time_ms: 2.5,
        last_execution_status: Some("success".into()),
        last_execution_time: Some("2026-12-01T03:00:00.000000Z".into()),
        ..StoredFunctionStats::default()
    };
    let db = dir.join("stats.db");
    legacy_schema::write_legacy_file(&db, 1, &[old]).unwrap();
    let before = std::fs::read(&db).unwrap();
    let names = || {
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let files = names();
    let logs = LogDir::open(&dir).unwrap();
    let report = logs.status_report().unwrap();
    let backup = report.stats.get("nightly_backup").unwrap();
    assert_eq!(
        (
            backup.total_executions,
            backup.success_count,
            backup.error_count
        ),
        (40, 38, 2)
    );
    assert_eq!(backup.mean_ms, Some(2.5));
    assert_eq!(logs.health().unwrap().verdict, monitor::Verdict::Green);
    // No roll-ups in a version-1 file: empty answers, not errors.
    let window = logs
        .stats_window(Duration::from_secs(3600), SystemTime::now(), None)
        .unwrap();
    assert!(window.functions.is_empty());
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert_eq!(names(), files);
}

#[test]
fn a_spans_trace_tree_and_unknown_members_come_back_whole() {
    let dir = temp_dir("query-trace");
    std::fs::create_dir_all(dir.join("executions")).unwrap();
    let id = ExecutionId::from_parts(DAY4_MS, 3, 2, 1);
    let line = format!(
        concat!(
            r#"{{"id":"{}","timestamp":"{}","name":"app::root","status":"success","duration_ms":5.0,"#,
            r#""trigger_type":"span","thread":"main","busy_ms":4.5,"execution_trace":{{"children":["#,
            r#"{{"name":"app::load","status":"error","duration_ms":2.5,"start_offset_ms":0.1,"error":"boom","#,
            r#""children":[{{"name":"app::db","status":"success","duration_ms":1.0,"start_offset_ms":0.2}}]}}],"#,
            r#""truncated":true,"omitted":3}},"future_field":[1,"two",null]}}"#,
            "\n"
        ),
        id,
        stamp(DAY4_MS)
    );
    std::fs::write(dir.join("executions/current.log"), &line).unwrap();
    let logs = LogDir::open(&dir).unwrap();
    let detail = logs.execution(id).unwrap().unwrap();
    assert_eq!(detail.busy_ms, Some(4.5));
    let trace = detail.execution_trace.as_ref().unwrap();
    assert!(trace.truncated);
    assert_eq!(trace.omitted, 3);
    let load = &trace.children[0];
    assert_eq!(
        (load.name.as_str(), load.status),
        ("app::load", Status::Error)
    );
    assert_eq!(load.error.as_deref(), Some("boom"));
    assert_eq!(load.children[0].name, "app::db");
    assert_eq!(load.children[0].start_offset_ms, 0.2);
    assert_eq!(detail.other.len(), 1);
    assert_eq!(detail.other[0].0, "future_field");
    let json = monitor::query::to_json(&detail);
    assert!(json.contains(r#""future_field":[1,"two",null]"#), "{json}");
    assert!(json.contains(r#""busy_ms":4.5"#), "{json}");
    assert!(json.contains(r#""error":"boom""#), "{json}");
    assert!(!json.contains("error_chain"), "{json}");
}

#[test]
fn a_log_s_files_are_listed_oldest_first_and_each_opens_plain_or_gzipped() {
    use std::io::Read;
    let (dir, all) = write_dir("query-log-files");
    let executions = dir.join("executions");
    // A compression interrupted after the rename: day 5 twice, read once.
    gzip(
        &executions.join("2026-12-05.log.gz"),
        &std::fs::read_to_string(executions.join("2026-12-05.log")).unwrap(),
    );
    std::fs::write(executions.join("README.txt"), "not a log").unwrap();
    let files = monitor::query::log_files(&executions.join("current.log")).unwrap();
    let names: Vec<(&str, bool, bool)> = files
        .iter()
        .map(|file| (file.name(), file.is_gz(), file.is_current()))
        .collect();
    assert_eq!(
        names,
        [
            ("2026-12-04.log.gz", true, false),
            ("2026-12-05.log", false, false),
            ("current.log", false, true),
        ]
    );
    let mut text = String::new();
    for file in &files[..2] {
        file.open()
            .unwrap()
            .expect("present")
            .read_to_string(&mut text)
            .unwrap();
    }
    let expected: String = all[..20].iter().map(Written::line).collect();
    assert_eq!(text, expected, "day 4 decompressed, then day 5");

    // Compressed after it was listed: read from its `.gz`; deleted: None.
    std::fs::remove_file(executions.join("2026-12-05.log")).unwrap();
    let mut again = String::new();
    files[1]
        .open()
        .unwrap()
        .expect("read from the .gz")
        .read_to_string(&mut again)
        .unwrap();
    assert_eq!(again, expected[text.len() - again.len()..]);
    std::fs::remove_file(executions.join("2026-12-05.log.gz")).unwrap();
    assert!(files[1].open().unwrap().is_none());

    // The errors log: its rotated files are `…_errors.log`.
    let errors = monitor::query::log_files(&dir.join("errors").join("current_errors.log")).unwrap();
    let names: Vec<&str> = errors.iter().map(|file| file.name()).collect();
    assert_eq!(names, ["20261205T120000Z_errors.log", "current_errors.log"]);
    // No directory: no files.
    assert!(
        monitor::query::log_files(&dir.join("nowhere").join("current.log"))
            .unwrap()
            .is_empty()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
