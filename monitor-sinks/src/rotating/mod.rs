//! Rotating JSON Lines files with retention, that never lose or split a line.
//!
//! A [`RotatingLog`] is written by one thread (the collector). It receives
//! already-serialized lines, each a complete JSON object ending in `\n`, and
//! the current wall-clock time (`now`, UTC) on every call: it never reads the
//! system clock itself.
//!
//! # File names (a stable format)
//!
//! In the directory of a log whose base name is `base`:
//!
//! | file | name |
//! |---|---|
//! | being written | `current{_base}.log` — `current.log` when `base` is empty, else e.g. `current_errors.log` |
//! | rotated | `{stamp}{_base}.log`, e.g. `2026-12-03.log`, `20261204T101112Z_errors.log`, `2026-12-03_alerts.log` |
//! | rotated, name taken | `{stamp}{_base}.{N}.log` with N = 1, 2, 3, … (no leading zeros), e.g. `2026-12-04.1.log`, `2026-12-04_alerts.2.log` |
//! | compressed | the rotated name plus `.gz`, e.g. `2026-12-03.log.gz`, `2026-12-04.1.log.gz` |
//! | compression in progress | the rotated name plus `.gz.tmp` (removed at [`RotatingLog::open`]) |
//!
//! The stamp, always UTC, depends on the [`Rotation`]:
//!
//! | policy | stamp | meaning |
//! |---|---|---|
//! | [`Rotation::Daily`] | `YYYY-MM-DD` | the day that ended |
//! | [`Rotation::Hourly`] | `YYYY-MM-DDTHH` | the hour that ended |
//! | [`Rotation::Size`] | `YYYYMMDDTHHMMSSZ` | the instant of the rotation |
//! | [`Rotation::DailyOrSize`] | `YYYY-MM-DD` | the day of the file; several files of one day get counters in order |
//!
//! A rotation never replaces an existing file: when `{stamp}{_base}.log` (or
//! its `.gz`) exists, the first free counter is used. Counters only grow
//! within a run, so `(stamp, counter)` orders the files of a log.
//!
//! The presets: [`LogFileConfig::executions`] (`current.log`, daily and
//! before passing 128 MiB, 30 days, 1 GiB in total), [`LogFileConfig::errors`]
//! (`current_errors.log`, before passing 10 MiB,
//! `YYYYMMDDTHHMMSSZ_errors.log`, 90 days, 256 MiB) and
//! [`LogFileConfig::alerts`] (`current_alerts.log`, daily,
//! `YYYY-MM-DD_alerts.log`, 90 days, 64 MiB).
//!
//! # Rotation
//!
//! Rotation happens between lines, so a line never straddles two files.
//!
//! * **Size**: before writing a line, if the current file is not empty and
//!   its size plus the line's length would *exceed* the limit, the file is
//!   rotated first. A line that exactly reaches the limit stays; a line larger
//!   than the limit goes alone into a fresh file.
//! * **Daily / hourly**: before the first line whose `now` lies outside the
//!   period of the current file. An empty current file is not rotated (it is
//!   simply reused for the new period).
//! * **Start-up**: a non-empty current file left by an earlier run is rotated
//!   at [`RotatingLog::open`] under the name of *its* period when that differs
//!   from the period of `now`. Its period is taken from the `"timestamp"`
//!   field (RFC 3339) of its first line, else from its modification time. For
//!   [`Rotation::Size`] and [`Rotation::Never`] the file is simply appended to.
//!   A torn last line left by a crash (a process killed inside a write
//!   syscall keeps only part of it) is cut off the file — at open, and
//!   before any rotation — so every file holds whole lines only. The cut
//!   part was a line whose end was never written: it is lost either way.
//!
//! # Retention
//!
//! Run at open and after each rotation (after each compression when
//! compressing). It considers exactly the names `{stamp}{_base}[.N].log` and
//! `{stamp}{_base}[.N].log.gz` where the stamp is a valid date/time in any of
//! the three stamp formats above; the current file, `.gz.tmp` files and any
//! other name (`notes.txt`, `current.log.bak`, `2026-12-04-other.log`, files of
//! other bases) are never deleted.
//!
//! * **Age** (`max_age`): a file is deleted when `now − stamp` is *strictly
//!   greater* than `max_age`; a file whose stamp is exactly `max_age` old is
//!   kept. The stamp is the start of the file's day or hour, or the rotation
//!   instant. With 30 days, `2026-11-04.log` is kept at
//!   `2026-12-04T00:00:00Z` and deleted from `2026-12-04T00:00:00.000000001Z`.
//! * **Count** (`max_files = N`): the N newest rotated files (by stamp, then
//!   counter) are kept — exactly N remain when there were more. The current
//!   file does not count; `X.log` and `X.log.gz` count once.
//! * **Size** (`max_total_bytes`): then, while the current file plus the
//!   rotated files left take more than the cap, the oldest rotated file is
//!   deleted. With a size rotation the current file counts as its full
//!   rotation size, so the log never passes the cap between passes; the
//!   current file is never deleted. Deletions the cap forced before age and
//!   count would have are counted in [`LogHealth::deleted_for_size`].
//!
//! # Faults
//!
//! [`RotatingLog::write_line`], [`flush`](RotatingLog::flush) and
//! [`sync`](RotatingLog::sync) never return errors and never panic. When
//! opening, writing or rotating fails (disk full, permission denied, the
//! directory removed):
//!
//! * lines are kept in memory, in order, up to
//!   [`LogFileConfig::max_buffered_bytes`]; beyond that the **newest** lines
//!   are dropped and counted in [`LogHealth::dropped_lines`] (the lines kept
//!   are the ones closest to the start of the problem, and the file gets one
//!   gap);
//! * [`RotatingLog::health`] reports `failing = true` with the error text;
//! * one notice is printed on standard error per failure episode;
//! * the write is retried on every [`flush`](RotatingLog::flush) and, from
//!   `write_line`, every 1024 lines or once a second of `now`; the directory
//!   and file are re-created when missing;
//! * on success the buffered lines are written in order (with the rotations
//!   that fell due meanwhile), `failing` becomes `false` and a recovery
//!   notice is printed.
//!
//! Lines are only ever counted as written in whole: if a write stops inside a
//! line, the torn part is cut off the file (or, if that fails too, when the
//! file is next opened) and the whole line is written again. Only a file
//! that refuses to shrink gets its torn line ended with `\n` instead.
//!
//! At every flush (about each 256 KiB of lines, and each explicit `flush`)
//! the writer compares the device/inode of `current{_base}.log` with the
//! open file; if it was renamed (logrotate) or removed, a fresh current file
//! is opened.
//!
//! # Other behaviour
//!
//! * Created files have mode [`LogFileConfig::file_mode`] (default `0o640`)
//!   on unix; created directories the same with `x` added where `r` is set.
//! * With [`LogFileConfig::compress`], a rotated file `X.log` is gzipped on a
//!   background thread to `X.log.gz.tmp`, synced, renamed to `X.log.gz`, and
//!   only then is `X.log` removed. A crash leaves at worst a `.gz.tmp` (removed
//!   at the next open) next to the intact `X.log`, which is compressed again.
//! * One `RotatingLog` per directory and base name: two writers on the same
//!   files are not coordinated.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use monitor_sinks::rotating::{LogFileConfig, Retention, Rotation, RotatingLog};
//!
//! let dir = std::env::temp_dir().join(format!("rotating-mod-doc-{}", std::process::id()));
//! let mut config = LogFileConfig::new(&dir, "alerts", Rotation::Hourly, Retention::days(90));
//! config.file_mode = 0o600;
//! let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(20_791 * 86_400 + 10 * 3600);
//! let mut log = RotatingLog::open(config, t0)?;
//! log.write_line(b"{\"timestamp\":\"2026-12-04T10:00:00Z\",\"msg\":\"hi\"}\n", t0);
//! log.write_line(b"{\"msg\":\"later\"}", t0 + Duration::from_secs(3600));
//! log.flush(t0 + Duration::from_secs(3600));
//! assert!(dir.join("2026-12-04T10_alerts.log").exists());
//! assert!(dir.join("current_alerts.log").exists());
//! # drop(log);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]

mod compress;
mod config;
mod fs;
mod naming;
mod retention;
mod writer;

pub use config::{
    LogFileConfig, Rotation, ALERTS_MAX_TOTAL_BYTES, DEFAULT_FILE_MODE, DEFAULT_MAX_BUFFERED_BYTES,
    ERRORS_MAX_TOTAL_BYTES, EXECUTIONS_MAX_TOTAL_BYTES, EXECUTIONS_ROTATION_BYTES, TEN_MIB,
};
pub use retention::Retention;
pub use writer::{LineSlot, LogHealth, RotatingLog};

/// What the name of a rotated file of a log says (see the naming table
/// above), for a reader of the directory.
///
/// ```
/// use monitor_sinks::rotating::RotatedName;
/// let name = RotatedName::parse("", "2026-12-04.1.log.gz").unwrap();
/// assert_eq!((name.counter, name.gz, name.period_secs), (1, true, 86_400));
/// assert_eq!(name.stamp_secs % 86_400, 0);
/// let errors = RotatedName::parse("errors", "20261204T101112Z_errors.log").unwrap();
/// assert_eq!(errors.period_secs, 0);
/// assert!(RotatedName::parse("", "current.log").is_none());
/// assert!(RotatedName::parse("", "2026-12-04.log.gz.tmp").is_none());
/// assert!(RotatedName::parse("errors", "2026-12-04.log").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotatedName {
    /// Unix seconds of the stamp: the start of its day or hour, or the
    /// instant of the rotation (a size rotation).
    pub stamp_secs: i64,
    /// The collision counter (`.N` before `.log`); 0 without one.
    pub counter: u32,
    /// The file is gzip-compressed (`.gz`).
    pub gz: bool,
    /// The length of the stamp's period: 86 400 for a day, 3 600 for an
    /// hour, 0 for an instant (the file ended then).
    pub period_secs: u32,
}

impl RotatedName {
    /// Recognises exactly the rotated names of the log whose base name is
    /// `base` (`""` for the executions log, `"errors"`, `"alerts"`);
    /// `None` for the current file, an unfinished compression
    /// (`.gz.tmp`) or any other name.
    ///
    /// ```
    /// use monitor_sinks::rotating::RotatedName;
    /// assert!(RotatedName::parse("alerts", "2026-12-04_alerts.log").is_some());
    /// ```
    pub fn parse(base: &str, name: &str) -> Option<RotatedName> {
        let parsed = naming::Naming::new(base).parse(name)?;
        if parsed.tmp {
            return None;
        }
        Some(RotatedName {
            stamp_secs: parsed.stamp_secs,
            counter: parsed.counter,
            gz: parsed.gz,
            period_secs: match parsed.format {
                naming::StampFormat::Day => 86_400,
                naming::StampFormat::Hour => 3_600,
                naming::StampFormat::Instant => 0,
            },
        })
    }
}

#[doc(hidden)]
/// The file operations a log goes through, for the tests' fault-injecting
/// file system (feature `test-util`).
#[cfg(feature = "test-util")]
pub use fs::{FileId, FileMeta, LogFile, LogFs, ReadSeek, RealFs};
