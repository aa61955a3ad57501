//! Faults: failing writes and opens (injected and real), buffering,
//! recovery, removed directories, external renames.

#[path = "rotating_support.rs"]
mod support;

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use monitor_sinks::rotating::{LogFileConfig, LogFs, RotatingLog, Rotation};
use support::*;

fn open_faulty(cfg: LogFileConfig, now: std::time::SystemTime) -> (RotatingLog, FaultFs) {
    let fs = FaultFs::default();
    let log = RotatingLog::open_with_fs(cfg, now, Arc::new(fs.clone()) as Arc<dyn LogFs>).unwrap();
    (log, fs)
}

fn seqs(path: &Path) -> Vec<u64> {
    lines_of(path).iter().map(|l| seq_of(l)).collect()
}

#[test]
fn failing_writes_are_buffered_reported_once_and_written_in_order_on_recovery() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let (mut log, fs) = open_faulty(config(&dir, "", Rotation::Daily), now);
    for seq in 0..10 {
        log.write_line(&line(seq, now), now);
    }
    log.flush(now);
    fs.faults.set(&fs.faults.fail_writes, true);
    for seq in 10..5000 {
        log.write_line(&line(seq, now), now);
    }
    log.flush(now);
    log.flush(now);
    let h = log.health();
    assert!(h.failing);
    assert!(
        h.last_error.as_deref().unwrap().contains("no space left"),
        "{h:?}"
    );
    assert_eq!(h.failures, 1);
    assert_eq!(h.dropped_lines, 0);
    assert_eq!(h.buffered_lines, 4990);
    assert_eq!(fs.faults.notices().len(), 1, "one notice per episode");
    assert_eq!(seqs(&dir.join("current.log")), (0..10).collect::<Vec<_>>());

    fs.faults.set(&fs.faults.fail_writes, false);
    log.write_line(&line(5000, now), now); // not yet: retries are spaced
    log.flush(now);
    let h = log.health();
    assert!(!h.failing);
    assert_eq!(h.buffered_lines, 0);
    assert_eq!(h.failures, 1);
    let notices = fs.faults.notices();
    assert_eq!(notices.len(), 2);
    assert!(notices[0].contains("cannot write"), "{notices:?}");
    assert!(notices[1].contains("works again"), "{notices:?}");
    assert_eq!(
        seqs(&dir.join("current.log")),
        (0..=5000).collect::<Vec<_>>()
    );

    // A second episode: one more notice pair, failures == 2.
    fs.faults.set(&fs.faults.fail_writes, true);
    log.write_line(&line(5001, now), now);
    log.flush(now);
    fs.faults.set(&fs.faults.fail_writes, false);
    log.flush(now);
    assert_eq!(fs.faults.notices().len(), 4);
    assert_eq!(log.health().failures, 2);
    assert_eq!(
        seqs(&dir.join("current.log")),
        (0..=5001).collect::<Vec<_>>()
    );
}

#[test]
fn a_full_buffer_drops_the_newest_lines_and_counts_them() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let probe = line(10, now).len();
    let mut cfg = config(&dir, "", Rotation::Never);
    cfg.max_buffered_bytes = 10 * probe;
    let (mut log, fs) = open_faulty(cfg, now);
    fs.faults.set(&fs.faults.fail_writes, true);
    for seq in 10..35 {
        log.write_line(&line(seq, now), now);
        log.flush(now); // retry on every line
    }
    let h = log.health();
    assert!(h.failing);
    assert_eq!(h.buffered_lines, 10);
    assert_eq!(h.dropped_lines, 15);
    fs.faults.set(&fs.faults.fail_writes, false);
    log.flush(now);
    assert_eq!(seqs(&dir.join("current.log")), (10..20).collect::<Vec<_>>());
    let notices = fs.faults.notices();
    assert_eq!(notices.len(), 2);
    assert!(notices[1].contains("15 line(s) dropped"), "{notices:?}");
    assert_eq!(log.health().dropped_lines, 15);
}

#[test]
fn retries_from_write_line_are_spaced_out() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let (mut log, fs) = open_faulty(config(&dir, "", Rotation::Never), now);
    fs.faults.set(&fs.faults.fail_opens, true);
    fs::remove_file(dir.join("current.log")).unwrap(); // forces a reopen
    log.flush(now);
    assert!(log.health().failing);
    let opens = fs.faults.opens.load(Ordering::SeqCst);
    for seq in 0..3000 {
        log.write_line(&line(seq, now), now);
    }
    // One retry per 1024 lines while time stands still…
    assert_eq!(fs.faults.opens.load(Ordering::SeqCst) - opens, 2);
    // …and one once a second of `now` has passed.
    let later = now + Duration::from_secs(1);
    log.write_line(&line(3000, later), later);
    assert_eq!(fs.faults.opens.load(Ordering::SeqCst) - opens, 3);
    fs.faults.set(&fs.faults.fail_opens, false);
    log.flush(later);
    assert_eq!(
        seqs(&dir.join("current.log")),
        (0..=3000).collect::<Vec<_>>()
    );
}

#[test]
fn a_write_stopping_mid_line_never_leaves_a_torn_line() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let (mut log, fs) = open_faulty(config(&dir, "", Rotation::Never), now);
    let one = line(0, now).len() as u64;
    // Room for one and a half lines, then the disk is full.
    fs.faults
        .partial_budget
        .store(one + one / 2, Ordering::SeqCst);
    for seq in 0..5 {
        log.write_line(&line(seq, now), now);
    }
    log.flush(now);
    assert!(log.health().failing);
    assert_eq!(log.health().buffered_lines, 4);
    // The half line was cut off: only whole lines are in the file.
    assert_eq!(seqs(&dir.join("current.log")), [0]);
    fs.faults.set(&fs.faults.fail_writes, false);
    log.flush(now);
    assert_eq!(seqs(&dir.join("current.log")), [0, 1, 2, 3, 4]);
}

#[test]
fn an_unopenable_file_at_start_is_not_an_error() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let fs = FaultFs::default();
    fs.faults.set(&fs.faults.fail_opens, true);
    let mut log = RotatingLog::open_with_fs(
        config(&dir, "", Rotation::Daily),
        now,
        Arc::new(fs.clone()) as Arc<dyn LogFs>,
    )
    .unwrap();
    assert!(log.health().failing);
    assert!(log
        .health()
        .last_error
        .unwrap()
        .contains("permission denied"));
    log.write_line(&line(1, now), now);
    fs.faults.set(&fs.faults.fail_opens, false);
    log.flush(now);
    assert!(!log.health().failing);
    assert_eq!(seqs(&dir.join("current.log")), [1]);
}

#[test]
fn rotations_due_during_a_failure_keep_lines_in_their_own_files() {
    let (_tmp, dir) = tempdir();
    let day1 = utc(2026, 12, 3, 23, 0, 0);
    let (mut log, fs) = open_faulty(LogFileConfig::executions(&dir), day1);
    log.write_line(&line(1, day1), day1);
    log.flush(day1);
    fs.faults.set(&fs.faults.fail_writes, true);
    fs.faults.set(&fs.faults.fail_renames, true);
    log.write_line(&line(2, day1), day1);
    log.flush(day1);
    let day2 = utc(2026, 12, 4, 0, 30, 0);
    log.write_line(&line(3, day2), day2);
    log.flush(day2);
    let day3 = utc(2026, 12, 5, 0, 30, 0);
    log.write_line(&line(4, day3), day3);
    log.flush(day3);
    assert!(log.health().failing);
    assert_eq!(names(&dir), ["current.log"]);
    fs.faults.set(&fs.faults.fail_writes, false);
    fs.faults.set(&fs.faults.fail_renames, false);
    log.flush(day3);
    assert!(!log.health().failing);
    assert_eq!(
        names(&dir),
        ["2026-12-03.log", "2026-12-04.log", "current.log"]
    );
    assert_eq!(seqs(&dir.join("2026-12-03.log")), [1, 2]);
    assert_eq!(seqs(&dir.join("2026-12-04.log")), [3]);
    assert_eq!(seqs(&dir.join("current.log")), [4]);
}

#[test]
fn dev_full_reports_failing_without_panicking() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: /dev/full does not exist");
        return;
    }
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/dev/full", dir.join("current.log")).unwrap();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    for seq in 0..100 {
        log.write_line(&line(seq, now), now);
    }
    log.flush(now);
    log.sync(now);
    let h = log.health();
    assert!(h.failing, "{h:?}");
    assert_eq!(h.buffered_lines, 100);
    let err = h.last_error.unwrap();
    assert!(
        err.contains("No space left on device") || err.contains("os error 28"),
        "{err}"
    );
    // Moving the symlink away lets the log recover on its own.
    fs::remove_file(dir.join("current.log")).unwrap();
    log.flush(now);
    assert!(!log.health().failing);
    assert_eq!(seqs(&dir.join("current.log")), (0..100).collect::<Vec<_>>());
}

#[test]
fn a_read_only_directory_gives_permission_denied() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    let now = utc(2026, 12, 4, 12, 0, 0);
    // The directory refuses new files with the operating system's EACCES,
    // whoever runs the test (root ignores real directory permissions).
    let fs = FaultFs::default();
    fs.faults.set(&fs.faults.read_only_dirs, true);
    let mut log = RotatingLog::open_with_fs(
        LogFileConfig::executions(&dir),
        now,
        Arc::new(fs.clone()) as Arc<dyn LogFs>,
    )
    .unwrap();
    log.write_line(&line(1, now), now);
    log.flush(now);
    let h = log.health();
    assert!(h.failing);
    assert_eq!(h.buffered_lines, 1);
    assert!(
        h.last_error
            .as_deref()
            .unwrap()
            .contains("Permission denied (os error 13)"),
        "{h:?}"
    );
    assert!(!dir.join("current.log").exists());
    assert_eq!(fs.faults.notices().len(), 1, "{:?}", fs.faults.notices());
    fs.faults.set(&fs.faults.read_only_dirs, false);
    log.flush(now);
    assert!(!log.health().failing);
    assert_eq!(seqs(&dir.join("current.log")), [1]);
}

/// The same with real directory permissions, which only bind a user without
/// privileges: run with `cargo test -- --ignored` as such a user.
#[cfg(unix)]
#[test]
#[ignore = "needs non-root: root ignores directory permissions"]
fn a_read_only_directory_gives_permission_denied_for_real() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    assert!(
        fs::write(dir.join("probe"), b"").is_err(),
        "this user ignores directory permissions: run this test as a user without privileges"
    );
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    log.write_line(&line(1, now), now);
    log.flush(now);
    let h = log.health();
    assert!(h.failing);
    assert!(h
        .last_error
        .unwrap()
        .to_lowercase()
        .contains("permission denied"));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    log.flush(now);
    assert!(!log.health().failing);
    assert_eq!(seqs(&dir.join("current.log")), [1]);
}

#[test]
fn a_removed_directory_is_recreated_and_later_lines_land() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    log.write_line(&line(1, now), now);
    log.flush(now);
    fs::remove_dir_all(&dir).unwrap();
    log.write_line(&line(2, now), now);
    log.write_line(&line(3, now), now);
    log.flush(now);
    assert!(!log.health().failing);
    assert_eq!(seqs(&dir.join("current.log")), [2, 3]);
}

#[test]
fn an_externally_renamed_current_file_is_replaced_by_a_fresh_one() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    log.write_line(&line(1, now), now);
    log.flush(now);
    fs::rename(dir.join("current.log"), dir.join("current.log.1")).unwrap(); // logrotate
    log.write_line(&line(2, now), now);
    log.flush(now);
    assert_eq!(names(&dir), ["current.log", "current.log.1"]);
    assert_eq!(seqs(&dir.join("current.log.1")), [1]);
    assert_eq!(seqs(&dir.join("current.log")), [2]);
    assert!(!log.health().failing);
}

#[cfg(unix)]
#[test]
fn files_get_the_configured_mode() {
    use std::os::unix::fs::PermissionsExt;
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    log.write_line(&line(1, now), now);
    log.flush(now);
    let mode = fs::metadata(dir.join("current.log"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode & !0o640, 0, "{mode:o}"); // 0o640 less the umask
    assert_ne!(mode & 0o600, 0);
    let (_tmp2, dir2) = tempdir();
    let mut cfg = LogFileConfig::alerts(&dir2);
    cfg.file_mode = 0o600;
    drop(RotatingLog::open(cfg, now).unwrap());
    let mode = fs::metadata(dir2.join("current_alerts.log"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn dropping_the_log_writes_buffered_lines() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    for seq in 0..3 {
        log.write_line(&line(seq, now), now);
    }
    assert_eq!(
        fs::metadata(dir.join("current.log")).unwrap().len(),
        0,
        "buffered, not yet written"
    );
    drop(log);
    assert_eq!(seqs(&dir.join("current.log")), [0, 1, 2]);
}
