//! Retention: age (30 and 90 days, exact boundary), keep-N, foreign files.

#[path = "rotating_support.rs"]
mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use monitor_sinks::rotating::{LogFileConfig, Retention, RotatingLog, Rotation};
use monitor_sinks::time::{civil_from_unix_days, days_from_civil};
use support::*;

const DAY: Duration = Duration::from_secs(86_400);

fn day_name(days: i64, suffix: &str) -> String {
    let (y, m, d) = civil_from_unix_days(days);
    format!("{y:04}-{m:02}-{d:02}{suffix}")
}

const FOREIGN: [&str; 9] = [
    "notes.txt",
    "current.log.bak",
    "2026-12-04-other.log",
    "2020-01-01_errors.log",
    "2020-01-01.log.bak",
    "2020-01-01.0.log",
    "2020-01-01.01.log",
    "2020-13-01.log",
    "2020-01-01.LOG",
];

fn plant_foreign(dir: &Path) {
    for name in FOREIGN {
        write(&dir.join(name), b"not ours\n");
    }
    fs::create_dir_all(dir.join("2020-01-02.log")).unwrap(); // a directory
}

fn assert_foreign_intact(dir: &Path) {
    for name in FOREIGN {
        assert_eq!(fs::read(dir.join(name)).unwrap(), b"not ours\n", "{name}");
    }
    assert!(dir.join("2020-01-02.log").is_dir());
}

fn ours(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| {
            !FOREIGN.contains(&n.as_str()) && !n.starts_with("current") && n != "2020-01-02.log"
        })
        .collect()
}

#[test]
fn thirty_days_exact_boundary_at_open() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    plant_foreign(&dir);
    let today = days_from_civil(2026, 12, 4);
    for d in today - 100..today {
        write(&dir.join(day_name(d, ".log")), b"x\n");
    }
    write(&dir.join(day_name(today - 31, ".1.log.gz")), b"x");
    write(&dir.join(day_name(today - 30, ".1.log")), b"x\n");

    // Exactly 30 days after the start of 2026-11-04: 11-04 is kept.
    let now = utc(2026, 12, 4, 0, 0, 0);
    drop(RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap());
    let mut expected: Vec<String> = (today - 30..today).map(|d| day_name(d, ".log")).collect();
    expected.push(day_name(today - 30, ".1.log"));
    expected.sort();
    assert_eq!(ours(&dir), expected);
    assert_eq!(expected.first().unwrap(), "2026-11-04.1.log");
    assert_foreign_intact(&dir);

    // One nanosecond later it is older than 30 days.
    drop(
        RotatingLog::open(
            LogFileConfig::executions(&dir),
            now + Duration::from_nanos(1),
        )
        .unwrap(),
    );
    let expected: Vec<String> = (today - 29..today).map(|d| day_name(d, ".log")).collect();
    assert_eq!(ours(&dir), expected);
    assert_foreign_intact(&dir);
}

#[test]
fn ninety_days_while_time_moves_past_a_hundred_days() {
    let (_tmp, dir) = tempdir();
    let first = days_from_civil(2026, 9, 1);
    let at = |d: i64| SystemTime::UNIX_EPOCH + Duration::from_secs((d * 86_400 + 12 * 3600) as u64);
    let mut log = RotatingLog::open(LogFileConfig::alerts(&dir), at(first)).unwrap();
    fs::create_dir_all(&dir).unwrap();
    plant_foreign(&dir);
    for d in first..first + 120 {
        log.write_line(&line(d as u64, at(d)), at(d));
        log.flush(at(d));
    }
    let now = at(first + 119);
    // Rotated files exist for days first..first+118; a file is kept while
    // now - (start of its day) <= 90 days.
    let expected: Vec<String> = (first..first + 119)
        .filter(|&d| {
            now.duration_since(at(d) - Duration::from_secs(12 * 3600))
                .unwrap()
                <= 90 * DAY
        })
        .map(|d| day_name(d, "_alerts.log"))
        .collect();
    assert_eq!(expected.len(), 89);
    assert_eq!(ours(&dir), expected);
    assert_foreign_intact(&dir);
    assert_eq!(log.health().maintenance_errors, 0);
}

#[test]
fn ninety_days_for_size_stamps() {
    let (_tmp, dir) = tempdir();
    let t0 = utc(2026, 9, 1, 6, 0, 0);
    let mut cfg = LogFileConfig::errors(&dir);
    cfg.rotation = Rotation::Size(60); // every line below rotates the previous one
    let mut log = RotatingLog::open(cfg, t0).unwrap();
    let mut stamps = Vec::new();
    for i in 0..105u32 {
        let now = t0 + DAY * i + Duration::from_secs(u64::from(i)); // a distinct second each day
        log.write_line(&line(u64::from(i), now), now);
        if i > 0 {
            stamps.push(now);
        }
    }
    let now = *stamps.last().unwrap();
    log.flush(now);
    let files = ours(&dir);
    let kept: Vec<&SystemTime> = stamps
        .iter()
        .filter(|s| now.duration_since(**s).unwrap() <= 90 * DAY)
        .collect();
    assert_eq!(files.len(), kept.len());
    assert_eq!(files.len(), 90); // rotations on days 14..=104 minus day 14 (90 days + 90 s old)
    assert!(files.iter().all(|n| n.ends_with("Z_errors.log")));
}

#[test]
fn keep_n_keeps_exactly_n_newest() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    plant_foreign(&dir);
    let rotated = [
        "2026-11-20.log",
        "2026-11-21.log.gz",
        "2026-11-22.log",
        "2026-11-22.1.log",
        "2026-11-22.2.log.gz",
        "2026-11-23.log",
        "2026-11-23.log.gz", // same file as above, mid-compression: counts once
        "2026-11-24.log",
        "2026-11-24.1.log",
        "2026-11-25.log",
    ];
    for name in rotated {
        write(&dir.join(name), b"x\n");
    }
    let mut cfg = LogFileConfig::executions(&dir);
    cfg.retention = Retention::keep_all().with_max_files(5);
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(cfg, now).unwrap();
    assert_eq!(
        ours(&dir),
        [
            "2026-11-22.2.log.gz",
            "2026-11-23.log",
            "2026-11-23.log.gz",
            "2026-11-24.1.log",
            "2026-11-24.log",
            "2026-11-25.log"
        ]
    );
    assert_foreign_intact(&dir);

    // Three more rotations: still exactly five, the newest.
    for i in 0..4u32 {
        let t = now + DAY * i;
        log.write_line(&line(u64::from(i), t), t);
        log.flush(t);
    }
    assert_eq!(
        ours(&dir),
        [
            "2026-11-24.1.log",
            "2026-11-25.log",
            "2026-12-04.log",
            "2026-12-05.log",
            "2026-12-06.log"
        ]
    );
    assert_foreign_intact(&dir);
}

#[test]
fn keep_zero_and_age_zero_delete_every_rotated_file_but_nothing_else() {
    for retention in [Retention::keep_all().with_max_files(0), Retention::days(0)] {
        let (_tmp, dir) = tempdir();
        fs::create_dir_all(&dir).unwrap();
        plant_foreign(&dir);
        for name in [
            "2026-11-20.log",
            "2026-11-21.3.log.gz",
            "2026-11-21T05.log",
            "20261121T050000Z.log",
        ] {
            write(&dir.join(name), b"x\n");
        }
        let mut cfg = LogFileConfig::executions(&dir);
        cfg.retention = retention;
        let now = utc(2026, 12, 4, 12, 0, 0);
        let mut log = RotatingLog::open(cfg, now).unwrap();
        log.write_line(&line(1, now), now);
        log.flush(now);
        assert_eq!(ours(&dir), Vec::<String>::new());
        assert_foreign_intact(&dir);
        assert_eq!(lines_of(&dir.join("current.log")).len(), 1);
    }
}

#[test]
fn a_file_stamped_in_the_future_is_kept() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    write(&dir.join("2027-01-01.log"), b"x\n");
    let now = utc(2026, 12, 4, 12, 0, 0);
    drop(RotatingLog::open(LogFileConfig::executions(&dir), now).unwrap());
    assert_eq!(ours(&dir), ["2027-01-01.log"]);
}

#[test]
fn the_size_cap_deletes_the_oldest_rotated_files_first_and_never_the_current_one() {
    let (_tmp, dir) = tempdir();
    fs::create_dir_all(&dir).unwrap();
    plant_foreign(&dir);
    let today = 20_791; // 2026-12-04
    let now = SystemTime::UNIX_EPOCH + DAY * today as u32 + Duration::from_secs(3600);
    // Five rotated days of 1,000 bytes each, one too old for the age limit,
    // and a current file of one line.
    for back in 1..=5 {
        write(&dir.join(day_name(today - back, ".log")), &[b'x'; 1000]);
    }
    write(&dir.join(day_name(today - 40, ".log")), &[b'x'; 1000]);
    let current = line(1, now);
    write(&dir.join("current.log"), &current);
    let retention = Retention::days(30).with_max_total_bytes(3_600);
    let config = LogFileConfig::new(&dir, "", Rotation::Daily, retention);
    let log = RotatingLog::open(config, now).unwrap();
    // One line + 3 × 1,000 fits; the two oldest of the five went, the 40-day-old
    // one went for its age (not counted as a size deletion).
    assert_eq!(
        ours(&dir),
        [
            day_name(today - 3, ".log"),
            day_name(today - 2, ".log"),
            day_name(today - 1, ".log"),
        ]
    );
    assert_eq!(log.health().deleted_for_size, 2);
    assert_eq!(fs::read(dir.join("current.log")).unwrap(), current);
    assert_foreign_intact(&dir);
    drop(log);

    // A current file larger than the cap: every rotated file goes, the
    // current one stays.
    let mut big = Vec::new();
    while big.len() < 5_000 {
        big.extend_from_slice(&line(2, now));
    }
    write(&dir.join("current.log"), &big);
    let config = LogFileConfig::new(&dir, "", Rotation::Daily, retention);
    let log = RotatingLog::open(config, now).unwrap();
    assert!(ours(&dir).is_empty(), "{:?}", ours(&dir));
    assert_eq!(fs::read(dir.join("current.log")).unwrap(), big);
    assert_eq!(log.health().deleted_for_size, 3);
    assert_foreign_intact(&dir);
}

#[test]
fn with_size_rotation_the_cap_bounds_the_whole_log_while_writing() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let one = line(0, now).len() as u64;
    let retention = Retention::days(30).with_max_total_bytes(20 * one);
    let config = LogFileConfig::new(&dir, "", Rotation::Size(5 * one), retention);
    let mut log = RotatingLog::open(config, now).unwrap();
    for seq in 0..200 {
        log.write_line(
            &line(seq, now + Duration::from_secs(seq)),
            now + Duration::from_secs(seq),
        );
        log.flush(now + Duration::from_secs(seq));
        let total: u64 = names(&dir)
            .iter()
            .map(|n| fs::metadata(dir.join(n)).unwrap().len())
            .sum();
        assert!(total <= 20 * one, "{total} bytes after line {seq}");
    }
    // The newest lines are all there, in order: only old files went.
    let mut seqs: Vec<u64> = Vec::new();
    for name in names(&dir) {
        if name != "current.log" {
            seqs.extend(lines_of(&dir.join(&name)).iter().map(|l| seq_of(l)));
        }
    }
    seqs.extend(lines_of(&dir.join("current.log")).iter().map(|l| seq_of(l)));
    assert_eq!(seqs, (200 - seqs.len() as u64..200).collect::<Vec<_>>());
    assert!(seqs.len() >= 12, "{}", seqs.len());
    assert!(log.health().deleted_for_size >= 30);
}
