//! Compression of rotated files.

#[path = "rotating_support.rs"]
mod support;

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use monitor_sinks::rotating::{LogFileConfig, LogFs, Retention, RotatingLog, Rotation};
use support::*;

#[test]
fn a_rotated_file_becomes_valid_gzip_with_all_its_lines() {
    let (_tmp, dir) = tempdir();
    let mut cfg = LogFileConfig::executions(&dir);
    cfg.compress = true;
    let t0 = utc(2026, 12, 3, 20, 0, 0);
    let mut log = RotatingLog::open(cfg, t0).unwrap();
    for seq in 0..10_000u64 {
        let now = t0 + Duration::from_millis(seq);
        log.write_line(&line(seq, now), now);
    }
    let t1 = utc(2026, 12, 4, 0, 0, 0);
    log.write_line(&line(10_000, t1), t1);
    log.sync(t1);
    assert_eq!(names(&dir), ["2026-12-03.log.gz", "current.log"]);
    let gz = dir.join("2026-12-03.log.gz");
    let raw = fs::read(&gz).unwrap();
    assert_eq!(&raw[..2], [0x1f, 0x8b], "gzip magic");
    let lines = lines_of(&gz);
    assert_eq!(lines.len(), 10_000);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(seq_of(l), i as u64);
    }
    assert_eq!(log.health().maintenance_errors, 0);
}

#[test]
fn stale_tmp_is_removed_and_leftovers_are_compressed_at_open() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    // A crash during compression: the .gz.tmp is half written, the source intact.
    write(
        &dir.join("2026-12-01.log"),
        &line(1, utc(2026, 12, 1, 1, 0, 0)),
    );
    write(&dir.join("2026-12-01.log.gz.tmp"), b"\x1f\x8b half");
    // A crash between rename and removal: both exist.
    write(
        &dir.join("2026-12-02.log"),
        &line(2, utc(2026, 12, 2, 1, 0, 0)),
    );
    write(&dir.join("2026-12-02.log.gz"), b"whatever");
    // Foreign temporary files stay.
    write(&dir.join("other.gz.tmp"), b"foreign");
    write(&dir.join("2026-12-01_errors.log.gz.tmp"), b"foreign");
    let mut cfg = LogFileConfig::executions(&dir);
    cfg.compress = true;
    let now = utc(2026, 12, 4, 1, 0, 0);
    let mut log = RotatingLog::open(cfg, now).unwrap();
    log.sync(now);
    assert_eq!(
        names(&dir),
        [
            "2026-12-01.log.gz",
            "2026-12-01_errors.log.gz.tmp",
            "2026-12-02.log.gz",
            "current.log",
            "other.gz.tmp"
        ]
    );
    assert_eq!(seq_of(&lines_of(&dir.join("2026-12-01.log.gz"))[0]), 1);
    assert_eq!(seq_of(&lines_of(&dir.join("2026-12-02.log.gz"))[0]), 2);
}

#[test]
fn stale_tmp_is_removed_even_without_compression() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    write(&dir.join("2026-12-01_alerts.3.log.gz.tmp"), b"half");
    write(&dir.join("2026-12-01_alerts.3.log"), b"{}\n");
    let now = utc(2026, 12, 4, 1, 0, 0);
    drop(RotatingLog::open(LogFileConfig::alerts(&dir), now).unwrap());
    assert_eq!(
        names(&dir),
        ["2026-12-01_alerts.3.log", "current_alerts.log"]
    );
}

#[test]
fn an_existing_gz_name_is_not_reused() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    write(&dir.join("2026-12-03.log.gz"), b"precious");
    let mut cfg = LogFileConfig::executions(&dir);
    cfg.compress = true;
    let t0 = utc(2026, 12, 3, 20, 0, 0);
    let mut log = RotatingLog::open(cfg, t0).unwrap();
    log.write_line(&line(1, t0), t0);
    let t1 = utc(2026, 12, 4, 0, 0, 0);
    log.write_line(&line(2, t1), t1);
    log.sync(t1);
    assert_eq!(
        names(&dir),
        ["2026-12-03.1.log.gz", "2026-12-03.log.gz", "current.log"]
    );
    assert_eq!(
        fs::read(dir.join("2026-12-03.log.gz")).unwrap(),
        b"precious"
    );
    assert_eq!(seq_of(&lines_of(&dir.join("2026-12-03.1.log.gz"))[0]), 1);
}

#[test]
fn compression_with_size_rotation_and_retention() {
    let (_tmp, dir) = tempdir();
    let mut cfg = LogFileConfig::new(
        &dir,
        "errors",
        Rotation::Size(1000),
        Retention::keep_all().with_max_files(3),
    );
    cfg.compress = true;
    let t0 = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(cfg, t0).unwrap();
    let mut total = 0;
    for seq in 0..500u64 {
        let now = t0 + Duration::from_millis(seq * 100);
        log.write_line(&line(seq, now), now);
        total += 1;
    }
    let end = t0 + Duration::from_secs(60);
    log.sync(end);
    let files = names(&dir);
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(
        files[..3].iter().all(|n| n.ends_with("_errors.log.gz")),
        "{files:?}"
    );
    // The newest lines are all there, in order, across the kept files.
    let mut seqs: Vec<u64> = Vec::new();
    for n in &files[..3] {
        seqs.extend(lines_of(&dir.join(n)).iter().map(|l| seq_of(l)));
    }
    seqs.extend(
        lines_of(&dir.join("current_errors.log"))
            .iter()
            .map(|l| seq_of(l)),
    );
    assert_eq!(*seqs.last().unwrap(), total - 1);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    drop(log);
}

#[test]
fn a_failed_compression_keeps_the_rotated_file_and_is_only_a_maintenance_error() {
    let (_tmp, dir) = tempdir();
    let fs = FaultFs::default();
    fs.faults.set(&fs.faults.fail_creates, true);
    let mut cfg = LogFileConfig::executions(&dir);
    cfg.compress = true;
    let t0 = utc(2026, 12, 3, 20, 0, 0);
    let mut log =
        RotatingLog::open_with_fs(cfg, t0, Arc::new(fs.clone()) as Arc<dyn LogFs>).unwrap();
    log.write_line(&line(1, t0), t0);
    let t1 = utc(2026, 12, 4, 0, 0, 0);
    log.write_line(&line(2, t1), t1);
    log.sync(t1);
    assert_eq!(names(&dir), ["2026-12-03.log", "current.log"]);
    assert_eq!(seq_of(&lines_of(&dir.join("2026-12-03.log"))[0]), 1);
    let h = log.health();
    assert!(!h.failing);
    assert_eq!(h.maintenance_errors, 1);
    let notices = fs.faults.notices();
    assert_eq!(notices.len(), 1);
    assert!(notices[0].contains("compressing"), "{notices:?}");
}
