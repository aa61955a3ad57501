//! Reading a large log directory back with `monitor::query` (issue 13).
//!
//! The bench writes its own directory once, in the exact line format of
//! FORMAT.md, and keeps it under `target/query-bench-v1/` for later runs:
//! 5,000,000 executions over three UTC days (2026-12-04 to 2026-12-06),
//! daily files also rotated before passing 128 MiB (`2026-12-04.log`,
//! `2026-12-04.1.log`, …, today's last part in `current.log`), a quarter of
//! the rotated files gzipped (the oldest), and the errors log of the
//! failures (3 %) rotated at 10 MiB with a quarter of its files gzipped.
//! 20 functions share the load; one, `jobs::nightly_report`, gets 0.1 % of
//! the executions, 10 % of them errors.
//!
//! Then it times, each 5 times (the best and the median are printed):
//!
//! * `executions --limit 50`, newest first (target < 1 s);
//! * `--name jobs::nightly_report --status error --limit 50`: 50 matches,
//!   all in the newest day (target < 2 s);
//! * `execution(id)` of an execution in a gzipped file and of one in a
//!   plain one (target < 1 s);
//! * `error_groups` over the last 24 hours (target < 2 s);
//! * for the record, the worst cases: a name that matches nothing and an
//!   unknown id, which read every file (no target).
//!
//! Run: `cargo bench --bench query` (writing the directory the first time
//! takes about a minute and 1.1 GB of disk). Not a test: its numbers belong
//! in BENCHMARKS.md.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use monitor::query::{ExecutionFilter, LogDir, NameFilter};
use monitor::{ExecutionId, Status, Timestamp};

const EXECUTIONS: u64 = 5_000_000;
/// 2026-12-04T00:00:00Z.
const START_MS: u64 = 1_796_342_400_000;
const DAY_MS: u64 = 86_400_000;
/// Three days, ending an hour before the third one ends.
const SPAN_MS: u64 = 3 * DAY_MS - 3_600_000;
const ROTATE_BYTES: u64 = 128 << 20;
const ERRORS_ROTATE_BYTES: u64 = 10 << 20;
const RARE: &str = "jobs::nightly_report";

const NAMES: [&str; 19] = [
    "api::users::get",
    "api::users::update",
    "api::orders::create",
    "api::orders::list",
    "api::search",
    "billing::charge",
    "billing::refund",
    "billing::invoice",
    "jobs::sync_inventory",
    "jobs::send_emails",
    "jobs::cleanup",
    "worker::resize_image",
    "worker::transcode",
    "worker::index_document",
    "cache::refresh",
    "auth::login",
    "auth::token_refresh",
    "db::migrate_batch",
    "notify::push",
];

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn stamp(ms: u64) -> String {
    Timestamp(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn day_name(day: u64) -> String {
    ["2026-12-04", "2026-12-05", "2026-12-06"][day as usize].to_owned()
}

struct Output {
    dir: PathBuf,
    file: BufWriter<File>,
    written: u64,
    names: Vec<String>,
}

impl Output {
    fn new(dir: PathBuf, first: String) -> Output {
        let file = BufWriter::with_capacity(1 << 20, File::create(dir.join(&first)).unwrap());
        Output {
            dir,
            file,
            written: 0,
            names: vec![first],
        }
    }

    fn rotate(&mut self, next: String) {
        self.file.flush().unwrap();
        self.file = BufWriter::with_capacity(1 << 20, File::create(self.dir.join(&next)).unwrap());
        self.written = 0;
        self.names.push(next);
    }

    fn write(&mut self, line: &[u8]) {
        self.file.write_all(line).unwrap();
        self.written += line.len() as u64;
    }
}

/// What the bench looks up afterwards.
struct Picks {
    in_gz: ExecutionId,
    in_plain: ExecutionId,
}

fn generate(dir: &Path) -> Picks {
    let executions = dir.join("executions");
    let errors = dir.join("errors");
    fs::create_dir_all(&executions).unwrap();
    fs::create_dir_all(&errors).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut day = 0;
    let mut counter = 0;
    let mut out = Output::new(executions.clone(), format!("{}.log", day_name(0)));
    let mut errors_out = Output::new(errors.clone(), "current_errors.log".to_owned());
    let mut errors_rotated: Vec<String> = Vec::new();
    let mut line = Vec::with_capacity(1024);
    let mut ids = Vec::new();
    for i in 0..EXECUTIONS {
        let end_ms = START_MS + i * SPAN_MS / EXECUTIONS;
        let this_day = (end_ms - START_MS) / DAY_MS;
        if this_day != day {
            day = this_day;
            counter = 0;
            out.rotate(format!("{}.log", day_name(day)));
        } else if out.written > ROTATE_BYTES - 1024 {
            counter += 1;
            out.rotate(format!("{}.{counter}.log", day_name(day)));
        }
        let roll = rng.next();
        let rare = roll.is_multiple_of(1000);
        let name = if rare {
            RARE
        } else {
            NAMES[(roll >> 10) as usize % NAMES.len()]
        };
        let fail_roll = (roll >> 20) % 1000;
        let status = match (rare, fail_roll) {
            (true, 0..100) => "error",
            (false, 0..20) => "error",
            (false, 20..30) => "panic",
            _ => "success",
        };
        let duration_us = 50 + (roll >> 32) % 200_000;
        let start_ms = end_ms.saturating_sub(duration_us / 1000);
        let id = ExecutionId::from_parts(start_ms, 0x5eed, (roll % 8) as u16, i as u32);
        line.clear();
        write!(
            line,
            r#"{{"id":"{id}","timestamp":"{}","name":"{name}","status":"{status}","duration_ms":{}.{:03},"trigger_type":"call","thread":"worker-{}""#,
            stamp(start_ms),
            duration_us / 1000,
            duration_us % 1000,
            roll % 8
        )
        .unwrap();
        let failed = status != "success";
        let error = if failed {
            let (error_type, message) = if status == "panic" {
                (
                    "panic".to_owned(),
                    format!(
                        "index out of bounds: the len is {} but the index is {}",
                        roll % 50,
                        50 + roll % 7
                    ),
                )
            } else {
                (
                    "app::Error".to_owned(),
                    format!(
                        "upstream timeout after {} ms (request {:x})",
                        1000 + roll % 4000,
                        roll
                    ),
                )
            };
            write!(
                line,
                r#","error_type":"{error_type}","error_message":"{message}""#
            )
            .unwrap();
            true
        } else {
            false
        };
        write!(line, r#","fields":{{"user_id":{}}}}}"#, roll % 100_000).unwrap();
        line.push(b'\n');
        out.write(&line);
        if error {
            // The errors log: the same line plus the detail.
            let base = &line[..line.len() - 2];
            let mut error_line = base.to_vec();
            write!(
                error_line,
                r#","error_chain":["connection reset by peer"],"stack_trace":null,"context":{{"module":"app","file":"src/app.rs","line":{}}}}}"#,
                100 + roll % 300
            )
            .unwrap();
            error_line.push(b'\n');
            if errors_out.written + error_line.len() as u64 > ERRORS_ROTATE_BYTES {
                let rotated = format!("{}_errors.log", compact_stamp(end_ms));
                errors_out.file.flush().unwrap();
                fs::rename(errors.join("current_errors.log"), errors.join(&rotated)).unwrap();
                errors_rotated.push(rotated);
                errors_out = Output::new(errors.clone(), "current_errors.log".to_owned());
            }
            errors_out.write(&error_line);
        }
        if i % 400_000 == 200_000 {
            ids.push(id);
        }
    }
    out.file.flush().unwrap();
    errors_out.file.flush().unwrap();
    // Today's last part is the current file.
    let last = out.names.pop().unwrap();
    fs::rename(executions.join(&last), executions.join("current.log")).unwrap();
    let gzip_quarter = |dir: &Path, names: &[String]| {
        for name in &names[..names.len().div_ceil(4)] {
            let plain = dir.join(name);
            let gz = dir.join(format!("{name}.gz"));
            let mut encoder = flate2::write::GzEncoder::new(
                BufWriter::new(File::create(&gz).unwrap()),
                flate2::Compression::fast(),
            );
            std::io::copy(&mut File::open(&plain).unwrap(), &mut encoder).unwrap();
            encoder.finish().unwrap().flush().unwrap();
            fs::remove_file(plain).unwrap();
        }
    };
    gzip_quarter(&executions, &out.names);
    gzip_quarter(&errors, &errors_rotated);
    // The second pick is in the first day (gzipped), the last one today (plain).
    let picks = Picks {
        in_gz: ids[1],
        in_plain: *ids.last().unwrap(),
    };
    fs::write(
        dir.join("bench-picks.txt"),
        format!("{}\n{}\n", picks.in_gz, picks.in_plain),
    )
    .unwrap();
    fs::write(dir.join("bench-complete"), "").unwrap();
    picks
}

/// `YYYYMMDDTHHMMSSZ`.
fn compact_stamp(ms: u64) -> String {
    let text = stamp(ms);
    let b = text.as_bytes();
    let pick = |range: std::ops::Range<usize>| std::str::from_utf8(&b[range]).unwrap().to_owned();
    format!(
        "{}{}{}T{}{}{}Z",
        pick(0..4),
        pick(5..7),
        pick(8..10),
        pick(11..13),
        pick(14..16),
        pick(17..19)
    )
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn time<T>(
    label: &str,
    target: impl Into<Option<Duration>>,
    mut run: impl FnMut() -> T,
    check: impl Fn(&T),
) {
    let target = target.into();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let answer = run();
        times.push(started.elapsed());
        check(&answer);
    }
    times.sort();
    let verdict = match target {
        Some(target) if times[2] < target => format!("target < {} ms: ok", target.as_millis()),
        Some(target) => format!("target < {} ms: OVER", target.as_millis()),
        None => "no target".to_owned(),
    };
    println!(
        "{label:<66} best {:>8.1} ms  median {:>8.1} ms  ({verdict})",
        times[0].as_secs_f64() * 1e3,
        times[2].as_secs_f64() * 1e3,
    );
}

fn main() {
    let dir = target_dir().join("query-bench-v1");
    let picks = if dir.join("bench-complete").exists() {
        let text = fs::read_to_string(dir.join("bench-picks.txt")).unwrap();
        let mut lines = text.lines();
        Picks {
            in_gz: lines.next().unwrap().parse().unwrap(),
            in_plain: lines.next().unwrap().parse().unwrap(),
        }
    } else {
        let _ = fs::remove_dir_all(&dir);
        println!(
            "writing {} executions into {} (once)…",
            EXECUTIONS,
            dir.display()
        );
        let started = Instant::now();
        let picks = generate(&dir);
        println!("written in {:.1} s", started.elapsed().as_secs_f64());
        picks
    };
    let mut files: Vec<(String, u64)> = Vec::new();
    for sub in ["executions", "errors"] {
        for entry in fs::read_dir(dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            files.push((
                format!("{sub}/{}", entry.file_name().to_string_lossy()),
                entry.metadata().unwrap().len(),
            ));
        }
    }
    files.sort();
    for (name, size) in &files {
        println!("  {name:<40} {:>8.1} MB", *size as f64 / 1e6);
    }

    let logs = LogDir::open(&dir).unwrap();
    time(
        "executions --limit 50 (newest first)",
        Duration::from_secs(1),
        || logs.executions(&ExecutionFilter::new()).unwrap(),
        |page| assert_eq!(page.executions.len(), 50),
    );
    let rare: NameFilter = RARE.parse().unwrap();
    let newest_day = UNIX_EPOCH + Duration::from_millis(START_MS + 2 * DAY_MS);
    time(
        "executions --name jobs::nightly_report --status error --limit 50",
        Duration::from_secs(2),
        || {
            logs.executions(
                &ExecutionFilter::new()
                    .name(rare.clone())
                    .status(Status::Error),
            )
            .unwrap()
        },
        |page| {
            assert_eq!(page.executions.len(), 50);
            assert!(page.executions.iter().all(|e| e.name == RARE
                && e.status == Status::Error
                && e.timestamp.0 >= newest_day));
        },
    );
    for (label, id) in [
        (
            "execution(id), in a gzipped file of the first day",
            picks.in_gz,
        ),
        ("execution(id), in today's plain files", picks.in_plain),
    ] {
        time(
            label,
            Duration::from_secs(1),
            || logs.execution(id).unwrap(),
            |found| assert_eq!(found.as_ref().and_then(|d| d.summary.id), Some(id)),
        );
    }
    // The worst cases, for the record: nothing matches, so every file is
    // read (the gzipped ones decompressed).
    time(
        "executions --name no::such_function (reads every file)",
        None,
        || {
            logs.executions(&ExecutionFilter::new().name(NameFilter::exact("no::such_function")))
                .unwrap()
        },
        |page| assert!(page.executions.is_empty()),
    );
    time(
        "execution(id) of an unknown id (reads every file)",
        None,
        || {
            logs.execution(ExecutionId::from_parts(START_MS + DAY_MS, 1, 1, 1))
                .unwrap()
        },
        |found| assert!(found.is_none()),
    );
    let end = UNIX_EPOCH + Duration::from_millis(START_MS + SPAN_MS);
    let day_ago: SystemTime = end - Duration::from_secs(24 * 3600);
    time(
        "error_groups over the last 24 h",
        Duration::from_secs(2),
        || logs.error_groups(day_ago, None).unwrap(),
        |answer| {
            let total: u64 = answer.groups.iter().map(|g| g.count).sum();
            // About 3 % of the 24 h share of 5 M (the day has 1/2.96 of them).
            assert!(total > 40_000, "{total}");
            assert_eq!(answer.skipped_lines, 0);
        },
    );
}
