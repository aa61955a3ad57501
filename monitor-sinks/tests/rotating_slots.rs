//! Lines built in place (`RotatingLog::line_slot`) end up exactly as the
//! same lines given to `write_line`: the same files, bytes, rotations,
//! flushes, failures and health, whichever path each line takes.

#[path = "rotating_support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use monitor_sinks::rotating::{LogFileConfig, LogFs, RotatingLog, Rotation};
use support::*;

fn open_faulty(cfg: LogFileConfig, now: SystemTime) -> (RotatingLog, FaultFs) {
    let fs = FaultFs::default();
    let log = RotatingLog::open_with_fs(cfg, now, Arc::new(fs.clone()) as Arc<dyn LogFs>).unwrap();
    (log, fs)
}

/// Every file of `dir` with its bytes, by name.
fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    names(dir)
        .into_iter()
        .map(|name| {
            let data = contents(&dir.join(&name));
            (name, data)
        })
        .collect()
}

/// A line of `pad` extra bytes, with or without its final `\n`.
fn padded(seq: u64, t: SystemTime, pad: usize, newline: bool) -> Vec<u8> {
    let mut line = line(seq, t);
    line.pop();
    line.pop();
    line.extend_from_slice(b",\"pad\":\"");
    line.extend(std::iter::repeat_n(b'x', pad));
    line.extend_from_slice(b"\"}");
    if newline {
        line.push(b'\n');
    }
    line
}

/// The same lines, through `write_line` in one directory and through slots
/// in another (built in pieces, with an abandoned slot before each), under
/// rotations by time and size, a small flush threshold and a failing
/// stretch: the directories end up the same, and so does the health after
/// every line.
fn same_as_write_line(rotation: Rotation, max_buffered_bytes: usize) {
    let (_tmp_a, dir_a) = tempdir();
    let (_tmp_b, dir_b) = tempdir();
    let start = utc(2026, 12, 4, 23, 58, 0);
    let open = |dir: &std::path::Path| {
        let mut cfg = config(dir, "", rotation);
        cfg.max_buffered_bytes = max_buffered_bytes;
        open_faulty(cfg, start)
    };
    let (mut a, fs_a) = open(&dir_a);
    let (mut b, fs_b) = open(&dir_b);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut pick = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut now = start;
    for seq in 0..6_000u64 {
        // Across midnight and several hours, a few lines at each instant.
        if pick(4) == 0 {
            now += Duration::from_millis(pick(4_000));
        }
        // A failing stretch (lines kept in memory, then dropped), and back.
        if seq == 2_000 || seq == 2_600 {
            let failing = seq == 2_000;
            fs_a.faults.set(&fs_a.faults.fail_writes, failing);
            fs_b.faults.set(&fs_b.faults.fail_writes, failing);
        }
        let line = padded(seq, now, pick(700) as usize, pick(5) != 0);
        a.write_line(&line, now);
        {
            let mut abandoned = b.line_slot();
            abandoned.buf().extend_from_slice(b"{\"abandoned\":");
        }
        let mut slot = b.line_slot();
        let cut = pick(line.len() as u64) as usize;
        slot.buf().extend_from_slice(&line[..cut]);
        assert_eq!(slot.line(), &line[..cut]);
        slot.buf().extend_from_slice(&line[cut..]);
        slot.commit(now);
        if pick(500) == 0 {
            a.flush(now);
            b.flush(now);
        }
        assert_eq!(a.health(), b.health(), "line {seq}");
    }
    // An empty line is ignored by both.
    a.write_line(b"", now);
    b.line_slot().commit(now);
    a.sync(now);
    b.sync(now);
    assert_eq!(a.health(), b.health());
    assert!(
        a.health().dropped_lines > 0,
        "the failing stretch dropped lines"
    );
    let (fa, fb) = (files(&dir_a), files(&dir_b));
    assert!(fa.len() > 1, "rotations happened: {:?}", names(&dir_a));
    assert_eq!(
        fa.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        fb.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, da), (_, db)) in fa.iter().zip(&fb) {
        assert!(da == db, "{name} differs");
    }
}

#[test]
fn slots_write_what_write_line_writes_with_daily_and_size_rotation() {
    same_as_write_line(Rotation::DailyOrSize(40_000), 16 * 1024);
}

#[test]
fn slots_write_what_write_line_writes_with_hourly_rotation_and_a_full_write_buffer() {
    same_as_write_line(Rotation::Hourly, 128 * 1024);
}

#[test]
fn slots_write_what_write_line_writes_with_size_rotation_and_tiny_buffer() {
    same_as_write_line(Rotation::Size(9_000), 700);
}

#[test]
fn a_slot_dropped_by_a_panic_leaves_the_buffered_lines_as_they_were() {
    let (_tmp, dir) = tempdir();
    let now = utc(2026, 12, 4, 12, 0, 0);
    let mut log = RotatingLog::open(config(&dir, "", Rotation::Daily), now).unwrap();
    log.write_line(&line(0, now), now);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut slot = log.line_slot();
        slot.buf().extend_from_slice(b"{\"timestamp\":\"torn");
        panic!("while building the line");
    }));
    assert!(result.is_err());
    log.write_line(&line(1, now), now);
    log.sync(now);
    let seqs: Vec<u64> = lines_of(&dir.join("current.log"))
        .iter()
        .map(|l| seq_of(l))
        .collect();
    assert_eq!(seqs, [0, 1]);
}
