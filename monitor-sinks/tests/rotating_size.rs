//! Size rotation: exact boundaries, a million lines, name collisions.

#[path = "rotating_support.rs"]
mod support;

use std::fs;
use std::time::Duration;

use monitor_sinks::rotating::{LogFileConfig, RotatingLog, Rotation};
use support::*;

/// A line of exactly `len` bytes (including the `\n`).
fn sized(seq: u64, len: usize) -> Vec<u8> {
    let head = format!("{{\"seq\":{seq},\"pad\":\"");
    let pad = len - head.len() - 3;
    let mut v = head.into_bytes();
    v.extend(std::iter::repeat_n(b'x', pad));
    v.extend_from_slice(b"\"}\n");
    assert_eq!(v.len(), len);
    v
}

fn file_sizes(dir: &std::path::Path) -> Vec<(String, u64)> {
    names(dir)
        .into_iter()
        .map(|n| {
            let len = fs::metadata(dir.join(&n)).unwrap().len();
            (n, len)
        })
        .collect()
}

#[test]
fn a_line_exactly_filling_the_limit_stays() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(config(&dir, "errors", Rotation::Size(100)), now).unwrap();
    log.write_line(&sized(1, 60), now);
    log.write_line(&sized(2, 40), now); // 60 + 40 == 100: stays
    log.flush(now);
    assert_eq!(file_sizes(&dir), [("current_errors.log".to_string(), 100)]);
    log.write_line(&sized(3, 20), now + Duration::from_secs(1)); // rotates first
    log.flush(now);
    assert_eq!(
        file_sizes(&dir),
        [
            ("20261204T120001Z_errors.log".to_string(), 100),
            ("current_errors.log".to_string(), 20)
        ]
    );
}

#[test]
fn one_byte_over_the_limit_rotates_before_the_line() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(config(&dir, "errors", Rotation::Size(100)), now).unwrap();
    log.write_line(&sized(1, 60), now);
    log.write_line(&sized(2, 41), now); // 101 > 100
    log.flush(now);
    assert_eq!(
        file_sizes(&dir),
        [
            ("20261204T120000Z_errors.log".to_string(), 60),
            ("current_errors.log".to_string(), 41)
        ]
    );
}

#[test]
fn a_line_larger_than_the_limit_goes_alone_into_a_fresh_file() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(config(&dir, "", Rotation::Size(50)), now).unwrap();
    log.write_line(&sized(1, 20), now);
    log.write_line(&sized(2, 200), now);
    log.write_line(&sized(3, 20), now);
    log.flush(now);
    assert_eq!(
        file_sizes(&dir),
        [
            ("20261204T120000Z.1.log".to_string(), 200),
            ("20261204T120000Z.log".to_string(), 20),
            ("current.log".to_string(), 20)
        ]
    );
    // A first line larger than the limit in an empty file stays there.
    let (_tmp2, dir2) = tempdir();
    let mut log = RotatingLog::open(config(&dir2, "", Rotation::Size(50)), now).unwrap();
    log.write_line(&sized(1, 200), now);
    log.flush(now);
    assert_eq!(file_sizes(&dir2), [("current.log".to_string(), 200)]);
}

#[test]
fn a_million_lines_across_fifty_rotations_are_all_there_and_whole() {
    const LINES: u64 = 1_000_000;
    const LEN: usize = 48;
    const PER_FILE: u64 = 19_608; // 51 * 19_608 > 1_000_000 > 50 * 19_608
    let (_tmp, dir) = tempdir();
    let t0 = utc(2026, 12, 4, 0, 0, 0);
    let limit = PER_FILE * LEN as u64;
    let mut log = RotatingLog::open(config(&dir, "", Rotation::Size(limit)), t0).unwrap();
    for seq in 0..LINES {
        log.write_line(&sized(seq, LEN), t0 + Duration::from_millis(seq));
    }
    log.sync(t0 + Duration::from_millis(LINES));
    assert!(!log.health().failing);
    drop(log);

    let mut files = names(&dir);
    assert_eq!(files.pop().as_deref(), Some("current.log"));
    assert_eq!(files.len(), 50, "50 rotations");
    files.push("current.log".into());
    let mut expected = 0u64;
    for name in &files {
        let path = dir.join(name);
        let data = fs::read(&path).unwrap();
        assert!(data.len() as u64 <= limit, "{name} is over the limit");
        assert_eq!(data.len() % LEN, 0);
        for chunk in data.chunks(LEN) {
            assert_eq!(chunk, sized(expected, LEN), "line {expected} in {name}");
            expected += 1;
        }
    }
    assert_eq!(expected, LINES);
    let last = fs::metadata(dir.join("current.log")).unwrap().len();
    assert_eq!(last, (LINES - 50 * PER_FILE) * LEN as u64);
}

#[test]
fn a_name_collision_gets_a_counter_and_never_overwrites() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    write(&dir.join("20261204T120000Z_errors.log"), b"precious\n");
    write(
        &dir.join("20261204T120000Z_errors.1.log.gz"),
        b"also precious",
    );
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(config(&dir, "errors", Rotation::Size(10)), now).unwrap();
    let short = |seq: u64| format!("{{\"n\":{seq:03}}}\n").into_bytes(); // 10 bytes
    for seq in 0..4 {
        log.write_line(&short(seq), now);
    }
    log.flush(now);
    assert_eq!(
        names(&dir),
        [
            "20261204T120000Z_errors.1.log.gz",
            "20261204T120000Z_errors.2.log",
            "20261204T120000Z_errors.3.log",
            "20261204T120000Z_errors.4.log",
            "20261204T120000Z_errors.log",
            "current_errors.log"
        ]
    );
    assert_eq!(
        fs::read(dir.join("20261204T120000Z_errors.log")).unwrap(),
        b"precious\n"
    );
    assert_eq!(
        fs::read(dir.join("20261204T120000Z_errors.1.log.gz")).unwrap(),
        b"also precious"
    );
    assert_eq!(
        fs::read(dir.join("20261204T120000Z_errors.2.log")).unwrap(),
        short(0)
    );
    assert_eq!(fs::read(dir.join("current_errors.log")).unwrap(), short(3));
}

#[test]
fn errors_preset_rotates_before_passing_ten_mib() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let cfg = LogFileConfig::errors(&dir);
    assert_eq!(cfg.rotation, Rotation::Size(10 * 1024 * 1024));
    let mut log = RotatingLog::open(cfg, now).unwrap();
    // 1000-byte lines: 10_485 fit (10_485_000 bytes), the next one rotates.
    for seq in 0..10_486 {
        log.write_line(&sized(seq, 1000), now);
    }
    log.flush(now);
    assert_eq!(
        file_sizes(&dir),
        [
            ("20261204T120000Z_errors.log".to_string(), 10_485_000),
            ("current_errors.log".to_string(), 1000)
        ]
    );
}

#[test]
fn lines_without_newline_get_one_and_empty_lines_are_ignored() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(config(&dir, "", Rotation::Size(1000)), now).unwrap();
    log.write_line(b"{\"a\":1}", now);
    log.write_line(b"", now);
    log.write_line(b"{\"a\":2}\n", now);
    log.flush(now);
    assert_eq!(
        fs::read(dir.join("current.log")).unwrap(),
        b"{\"a\":1}\n{\"a\":2}\n"
    );
    assert_eq!(log.health().buffered_lines, 0);
}

#[test]
fn never_rotates_with_never() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(config(&dir, "x", Rotation::Never), now).unwrap();
    for day in 0..3 {
        let t = now + Duration::from_secs(day * 86_400);
        log.write_line(&sized(day, 30), t);
        log.flush(t);
    }
    assert_eq!(file_sizes(&dir), [("current_x.log".to_string(), 90)]);
}

#[test]
fn invalid_configuration_is_an_error() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    for (base, rotation) in [
        ("a.b", Rotation::Daily),
        ("../x", Rotation::Daily),
        ("ok", Rotation::Size(0)),
        ("ok", Rotation::DailyOrSize(0)),
    ] {
        let err = RotatingLog::open(config(&dir, base, rotation), now).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
    let mut c = config(&dir, "", Rotation::Daily);
    c.dir = Default::default();
    assert!(RotatingLog::open(c, now).is_err());
    assert!(!dir.exists());
}
