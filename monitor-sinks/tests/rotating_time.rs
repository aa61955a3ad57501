//! Timed rotation (daily, hourly, daily-or-size) and start-up rotation.

#[path = "rotating_support.rs"]
mod support;

use std::fs;
use std::time::Duration;

use monitor_sinks::rotating::{LogFileConfig, RotatingLog, Rotation};
use support::*;

#[test]
fn daily_rotation_across_midnight_names_the_day_that_ended() {
    let (_tmp, dir) = tempdir();
    let t0 = utc(2026, 12, 3, 23, 59, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), t0).unwrap();
    assert_eq!(log.current_path(), dir.join("current.log"));
    log.write_line(&line(1, t0), t0);
    let last = utc(2026, 12, 3, 23, 59, 59) + Duration::from_nanos(999_999_999);
    log.write_line(&line(2, last), last);
    let midnight = utc(2026, 12, 4, 0, 0, 0);
    log.write_line(&line(3, midnight), midnight);
    log.flush(midnight);
    assert_eq!(names(&dir), ["2026-12-03.log", "current.log"]);
    let day1 = lines_of(&dir.join("2026-12-03.log"));
    assert_eq!(day1.iter().map(|l| seq_of(l)).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(lines_of(&dir.join("current.log")).len(), 1);

    // Skip a whole day: the file of 12-04 is named for 12-04, none for 12-05.
    let later = utc(2026, 12, 6, 12, 0, 0);
    log.write_line(&line(4, later), later);
    log.flush(later);
    assert_eq!(
        names(&dir),
        ["2026-12-03.log", "2026-12-04.log", "current.log"]
    );
    assert_eq!(lines_of(&dir.join("2026-12-04.log")).len(), 1);
    assert_eq!(seq_of(&lines_of(&dir.join("current.log"))[0]), 4);
    assert!(!log.health().failing);
}

#[test]
fn hourly_rotation_and_midnight() {
    let (_tmp, dir) = tempdir();
    let cfg = config(&dir, "alerts", Rotation::Hourly);
    let t = |h, m, s| utc(2026, 12, 4, h, m, s);
    let mut log = RotatingLog::open(cfg, t(10, 59, 59)).unwrap();
    assert_eq!(log.current_path(), dir.join("current_alerts.log"));
    let mut seq = 0;
    for now in [
        t(10, 59, 59),
        t(11, 0, 0),
        t(11, 30, 0),
        t(11, 59, 59),
        t(12, 0, 0),
        t(23, 10, 0),
    ] {
        seq += 1;
        log.write_line(&line(seq, now), now);
    }
    let next_day = utc(2026, 12, 5, 0, 0, 1);
    log.write_line(&line(7, next_day), next_day);
    log.sync(next_day);
    assert_eq!(
        names(&dir),
        [
            "2026-12-04T10_alerts.log",
            "2026-12-04T11_alerts.log",
            "2026-12-04T12_alerts.log",
            "2026-12-04T23_alerts.log",
            "current_alerts.log"
        ]
    );
    assert_eq!(lines_of(&dir.join("2026-12-04T11_alerts.log")).len(), 3);
    assert_eq!(lines_of(&dir.join("current_alerts.log")).len(), 1);
}

#[test]
fn alerts_preset_daily_names() {
    let (_tmp, dir) = tempdir();
    let t0 = utc(2026, 12, 3, 8, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::alerts(&dir), t0).unwrap();
    log.write_line(&line(1, t0), t0);
    let t1 = utc(2026, 12, 4, 8, 0, 0);
    log.write_line(&line(2, t1), t1);
    log.flush(t1);
    assert_eq!(names(&dir), ["2026-12-03_alerts.log", "current_alerts.log"]);
}

#[test]
fn an_empty_current_file_is_reused_not_rotated() {
    let (_tmp, dir) = tempdir();
    let t0 = utc(2026, 12, 3, 8, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), t0).unwrap();
    log.flush(t0);
    let t1 = utc(2026, 12, 5, 8, 0, 0);
    log.write_line(&line(1, t1), t1);
    log.flush(t1);
    assert_eq!(names(&dir), ["current.log"]);
    // The file now belongs to 12-05.
    let t2 = utc(2026, 12, 6, 0, 0, 0);
    log.write_line(&line(2, t2), t2);
    log.flush(t2);
    assert_eq!(names(&dir), ["2026-12-05.log", "current.log"]);
}

#[test]
fn daily_or_size_counts_within_a_day() {
    let (_tmp, dir) = tempdir();
    let t0 = utc(2026, 12, 4, 1, 0, 0);
    let probe = line(0, t0).len() as u64;
    // Room for exactly two lines per file.
    let cfg = config(&dir, "", Rotation::DailyOrSize(2 * probe));
    let mut log = RotatingLog::open(cfg, t0).unwrap();
    for seq in 0..5 {
        let now = t0 + Duration::from_secs(seq);
        log.write_line(&line(seq, now), now);
    }
    let t1 = utc(2026, 12, 5, 0, 0, 0);
    log.write_line(&line(5, t1), t1);
    log.flush(t1);
    assert_eq!(
        names(&dir),
        [
            "2026-12-04.1.log",
            "2026-12-04.2.log",
            "2026-12-04.log",
            "current.log"
        ]
    );
    let seqs = |name: &str| -> Vec<u64> {
        lines_of(&dir.join(name))
            .iter()
            .map(|l| seq_of(l))
            .collect()
    };
    assert_eq!(seqs("2026-12-04.log"), [0, 1]);
    assert_eq!(seqs("2026-12-04.1.log"), [2, 3]);
    assert_eq!(seqs("2026-12-04.2.log"), [4]);
    assert_eq!(seqs("current.log"), [5]);
}

#[test]
fn startup_rotates_yesterdays_current_by_its_first_timestamp() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    // First line from 12-03 late evening, second one after midnight: the
    // file is named by its first line.
    let mut old = line(
        1,
        utc(2026, 12, 3, 23, 59, 59) + Duration::from_micros(123_456),
    );
    old.extend(line(2, utc(2026, 12, 4, 0, 0, 1)));
    write(&dir.join("current.log"), &old);
    let now = utc(2026, 12, 4, 8, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    assert_eq!(names(&dir), ["2026-12-03.log", "current.log"]);
    assert_eq!(fs::read(dir.join("2026-12-03.log")).unwrap(), old);
    log.write_line(&line(3, now), now);
    log.flush(now);
    assert_eq!(lines_of(&dir.join("current.log")).len(), 1);
}

#[test]
fn startup_uses_mtime_when_the_first_line_has_no_timestamp() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("current_alerts.log");
    write(&path, b"{\"seq\":1}\n{\"seq\":2}\n");
    let f = fs::File::options().append(true).open(&path).unwrap();
    f.set_modified(utc(2026, 11, 20, 10, 0, 0)).unwrap();
    drop(f);
    let now = utc(2026, 12, 4, 8, 0, 0);
    let _log = RotatingLog::open(LogFileConfig::alerts(&dir), now).unwrap();
    assert_eq!(names(&dir), ["2026-11-20_alerts.log", "current_alerts.log"]);
    assert_eq!(lines_of(&dir.join("2026-11-20_alerts.log")).len(), 2);
}

#[test]
fn startup_in_the_same_period_appends() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    let now = utc(2026, 12, 4, 8, 0, 0);
    write(
        &dir.join("current.log"),
        &line(1, utc(2026, 12, 4, 0, 0, 0)),
    );
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    log.write_line(&line(2, now), now);
    drop(log); // dropping flushes
    assert_eq!(names(&dir), ["current.log"]);
    let seqs: Vec<u64> = lines_of(&dir.join("current.log"))
        .iter()
        .map(|l| seq_of(l))
        .collect();
    assert_eq!(seqs, [1, 2]);
}

#[test]
fn startup_collision_gets_a_counter_and_a_torn_line_is_cut_off() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    write(&dir.join("2026-12-03.log"), b"precious\n");
    // A crash (kill -9 inside a write) left a torn last line.
    let whole = line(1, utc(2026, 12, 3, 12, 0, 0));
    let mut old = whole.clone();
    old.extend_from_slice(b"{\"timestamp\":\"2026-12-03T12:00:01Z\",\"se");
    write(&dir.join("current.log"), &old);
    let now = utc(2026, 12, 4, 8, 0, 0);
    drop(RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap());
    assert_eq!(
        names(&dir),
        ["2026-12-03.1.log", "2026-12-03.log", "current.log"]
    );
    assert_eq!(fs::read(dir.join("2026-12-03.log")).unwrap(), b"precious\n");
    // The rotated file holds the whole lines only.
    assert_eq!(fs::read(dir.join("2026-12-03.1.log")).unwrap(), whole);

    // Same day: the torn line is cut off before our lines; a file that is
    // one torn line becomes empty.
    let torn = b"{\"timestamp\":\"2026-12-04T07:00:00Z\",\"se";
    write(&dir.join("current.log"), torn);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    log.write_line(&line(2, now), now);
    log.flush(now);
    let lines = lines_of(&dir.join("current.log"));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(seq_of(&lines[0]), 2);
    drop(log);

    // A torn line after 100 KiB of whole lines (the search for the last
    // newline reads backwards in chunks).
    let mut big = Vec::new();
    let mut count = 0;
    while big.len() < 100 * 1024 {
        count += 1;
        big.extend_from_slice(&line(count, now));
    }
    let intact = big.len();
    big.extend_from_slice(&vec![b'x'; 70 * 1024]);
    write(&dir.join("current.log"), &big);
    let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap();
    log.write_line(&line(count + 1, now), now);
    log.flush(now);
    let text = fs::read(dir.join("current.log")).unwrap();
    assert_eq!(&text[..intact], &big[..intact]);
    let lines = lines_of(&dir.join("current.log"));
    assert_eq!(lines.len() as u64, count + 1);
    assert_eq!(seq_of(lines.last().unwrap()), count + 1);
}

#[test]
fn size_policy_appends_to_an_old_current_file() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    write(
        &dir.join("current_errors.log"),
        &line(1, utc(2026, 1, 1, 0, 0, 0)),
    );
    let now = utc(2026, 12, 4, 8, 0, 0);
    let mut log = RotatingLog::open(LogFileConfig::errors(&dir), now).unwrap();
    log.write_line(&line(2, now), now);
    log.flush(now);
    assert_eq!(names(&dir), ["current_errors.log"]);
    assert_eq!(lines_of(&dir.join("current_errors.log")).len(), 2);
}
