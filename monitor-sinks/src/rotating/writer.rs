//! [`RotatingLog`]: buffering, rotation, fault handling.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::compress::{Context, Maintenance};
use super::config::{LogFileConfig, Rotation};
use super::fs::{FileId, LogFile, LogFs, RealFs};
use super::naming::Naming;
use crate::time::{parse_rfc3339, unix_parts};

/// Size of the write buffer: lines are written in chunks of about this size.
///
/// 256 KiB, not 64: a `write` of many pages lets the kernel put them in a
/// few large page-cache folios instead of one per page, and makes the
/// per-`write` work (the `stat` of `path_changed`, the file's time update)
/// four times rarer. On Linux 6.18/ext4 the collector's CPU per failing
/// execution went down by about a fifth (BENCHMARKS.md); larger buffers
/// measured the same. The buffer grows to this only while lines arrive
/// faster than the collector's periodic flush.
const WRITE_BUFFER: usize = 256 * 1024;
/// While failing, `write_line` retries after this many lines…
const RETRY_EVERY_LINES: u64 = 1024;
/// …or after this much (caller-supplied) time, whichever comes first.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How much of a stale current file is read to find its first timestamp.
const FIRST_LINE_MAX: u64 = 64 * 1024;

/// The health of one log file ([`RotatingLog::health`]): whether writing it
/// fails, and what was lost or deleted early.
///
/// ```
/// use monitor_sinks::rotating::LogHealth;
/// let h = LogHealth::default();
/// assert!(!h.failing && h.last_error.is_none() && h.dropped_lines == 0);
/// assert_eq!(h.deleted_for_size, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogHealth {
    /// The last attempt to open, write or rotate the current file failed;
    /// lines are being kept in memory.
    pub failing: bool,
    /// Text of the most recent write-path error (kept after recovery).
    pub last_error: Option<String>,
    /// Lines dropped, in total, because the in-memory buffer was full.
    pub dropped_lines: u64,
    /// Lines accepted but not yet written to a file.
    pub buffered_lines: usize,
    /// Number of failure episodes (transitions from working to failing).
    pub failures: u64,
    /// Failed compressions or retention deletions. These never lose lines
    /// and do not make the log `failing`.
    pub maintenance_errors: u64,
    /// Rotated files deleted, in total, because the log exceeded
    /// [`Retention::max_total_bytes`](super::Retention::max_total_bytes)
    /// while its age and count limits would still have kept them.
    pub deleted_for_size: u64,
}

/// A period of a timed rotation: `[start, start + len)` in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Period {
    start: i64,
    len: i64,
}

impl Period {
    fn of(secs: i64, len: i64) -> Self {
        Period {
            start: secs.div_euclid(len) * len,
            len,
        }
    }
    fn contains(&self, secs: i64) -> bool {
        secs >= self.start && secs - self.start < self.len
    }
}

/// A rotation due between buffered lines: the lines before `at` belong to
/// the file that is rotated to `stamp_secs`.
#[derive(Debug, Clone, Copy)]
struct Marker {
    at: usize,
    stamp_secs: i64,
    next_period: Option<Period>,
}

/// A rotating JSON Lines writer. See the [module docs](super) for names,
/// rotation, retention and fault handling.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use monitor_sinks::rotating::{LogFileConfig, RotatingLog};
///
/// let dir = std::env::temp_dir().join(format!("rotating-doc-{}", std::process::id()));
/// let midnight = SystemTime::UNIX_EPOCH + Duration::from_secs(20_791 * 86_400); // 2026-12-04
/// let mut log = RotatingLog::open(LogFileConfig::executions(&dir), midnight - Duration::from_secs(1))?;
/// log.write_line(b"{\"timestamp\":\"2026-12-03T23:59:59Z\"}\n", midnight - Duration::from_secs(1));
/// log.write_line(b"{\"timestamp\":\"2026-12-04T00:00:00Z\"}\n", midnight);
/// log.sync(midnight);
/// assert!(dir.join("2026-12-03.log").exists());
/// assert_eq!(log.current_path(), dir.join("current.log"));
/// assert!(!log.health().failing);
/// # drop(log);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RotatingLog {
    cfg: LogFileConfig,
    fs: Arc<dyn LogFs>,
    naming: Naming,
    current: PathBuf,
    flush_threshold: usize,

    file: Option<Box<dyn LogFile>>,
    file_id: Option<FileId>,
    /// Bytes in the physical current file (always at a line boundary).
    size: u64,
    /// Period of the physical current file (timed policies).
    file_period: Option<Period>,
    last_target: Option<(i64, u32)>,

    /// Complete lines; `buf[start..]` is not written yet.
    buf: Vec<u8>,
    start: usize,
    /// A line built in `buf` by a [`LineSlot`] that does not simply join the
    /// buffered lines (a flush or rotation comes first) is moved here and
    /// takes [`write_line`](RotatingLog::write_line)'s general path.
    spare: Vec<u8>,
    markers: VecDeque<Marker>,

    health: LogHealth,
    episode_dropped: u64,
    lines_since_attempt: u64,
    last_attempt: Option<SystemTime>,
    last_now: SystemTime,
    /// The latest `now` a line was checked for rotation at, and its Unix
    /// second (lines written together share it).
    last_second: Option<(SystemTime, i64)>,
    maint: Maintenance,
}

impl fmt::Debug for RotatingLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatingLog")
            .field("current", &self.current)
            .field("rotation", &self.cfg.rotation)
            .field("size", &self.size)
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

impl RotatingLog {
    /// Opens (or creates) the log in `config.dir` at time `now`.
    ///
    /// Creates the directory, removes stale `*.log.gz.tmp` files, applies
    /// retention, queues compression of rotated files left uncompressed (when
    /// `compress` is on), and rotates a non-empty current file left by an
    /// earlier run from an earlier period under that period's name.
    ///
    /// Returns `Err` (kind `InvalidInput`) only for an unusable configuration
    /// (see [`LogFileConfig::validate`]). File-system problems — a directory
    /// that cannot be created, a full disk — do not make `open` fail: the log
    /// starts in the failing state (see [`health`](Self::health)), keeps lines
    /// in memory and retries.
    pub fn open(config: LogFileConfig, now: SystemTime) -> io::Result<Self> {
        Self::open_on(config, now, Arc::new(RealFs))
    }

    /// [`open`](Self::open) with injected file operations (feature
    /// `test-util`: the tests' fault-injecting file system).
    #[cfg(feature = "test-util")]
    #[doc(hidden)]
    pub fn open_with_fs(
        config: LogFileConfig,
        now: SystemTime,
        fs: Arc<dyn LogFs>,
    ) -> io::Result<Self> {
        Self::open_on(config, now, fs)
    }

    fn open_on(config: LogFileConfig, now: SystemTime, fs: Arc<dyn LogFs>) -> io::Result<Self> {
        config.validate()?;
        let naming = Naming::new(&config.base_name);
        let current = config.dir.join(naming.current());
        let ctx = Context {
            fs: Arc::clone(&fs),
            dir: config.dir.clone(),
            naming: naming.clone(),
            retention: config.retention,
            current_reserve: config.rotation.size_limit().unwrap_or(0),
            file_mode: config.file_mode,
            errors: Default::default(),
            deleted_for_size: Default::default(),
        };
        let maint = Maintenance::new(ctx, config.compress);
        let now_secs = unix_parts(now).0;
        let file_period = config
            .rotation
            .period_secs()
            .map(|len| Period::of(now_secs, len));
        let mut log = RotatingLog {
            flush_threshold: config.max_buffered_bytes.clamp(1, WRITE_BUFFER),
            cfg: config,
            fs,
            naming,
            current,
            file: None,
            file_id: None,
            size: 0,
            file_period,
            last_target: None,
            buf: Vec::new(),
            start: 0,
            spare: Vec::new(),
            markers: VecDeque::new(),
            health: LogHealth::default(),
            episode_dropped: 0,
            lines_since_attempt: 0,
            last_attempt: None,
            last_now: now,
            last_second: None,
            maint,
        };
        log.startup(now);
        Ok(log)
    }

    fn startup(&mut self, now: SystemTime) {
        let dir = self.cfg.dir.clone();
        // A failure here shows up again, and is reported, when opening below.
        let _ = self.fs.create_dir_all(&dir, self.cfg.dir_mode());
        let mut leftovers = Vec::new();
        if let Ok(names) = self.fs.list_dir(&dir) {
            for name in names {
                let Some(parsed) = self.naming.parse(&name) else {
                    continue;
                };
                if parsed.tmp {
                    // An unfinished compression; its source `.log` is intact.
                    if let Err(e) = self.fs.remove_file(&dir.join(&name)) {
                        self.maintenance_error(&format!("removing {name}"), &e);
                    }
                } else if self.cfg.compress && !parsed.gz {
                    leftovers.push(((parsed.stamp_secs, parsed.counter), name));
                }
            }
        }
        self.maint.ctx.retention(now);
        leftovers.sort();
        for (_, name) in leftovers {
            let path = dir.join(name);
            if self.fs.metadata(&path).is_ok() {
                self.maint.enqueue(path, now);
            }
        }

        // A current file left by an earlier run.
        if let Ok(meta) = self.fs.metadata(&self.current) {
            self.size = meta.len;
            if let (true, Some(len)) = (meta.len > 0, self.cfg.rotation.period_secs()) {
                let t = first_line_timestamp(&*self.fs, &self.current).or(meta.modified);
                if let Some(t) = t {
                    let stale = Period::of(unix_parts(t).0, len);
                    let now_period = Period::of(unix_parts(now).0, len);
                    self.file_period = Some(stale);
                    if stale != now_period {
                        self.markers.push_back(Marker {
                            at: 0,
                            stamp_secs: stale.start,
                            next_period: Some(now_period),
                        });
                    }
                }
            }
        }
        self.attempt(now);
    }

    /// Appends one line (a complete JSON object ending in `\n`; a missing
    /// final `\n` is added, an empty slice is ignored). The line must not
    /// contain other newlines.
    ///
    /// Never fails and never panics: problems are reported through
    /// [`health`](Self::health) and one notice on standard error per failure
    /// episode. Lines are buffered (up to 256 KiB) and written in chunks;
    /// rotation happens between lines, before the first line of a new period
    /// or before a line that would take the file past the size limit.
    pub fn write_line(&mut self, line: &[u8], now: SystemTime) {
        let Some(&last) = line.last() else { return };
        let len = line.len() + usize::from(last != b'\n');
        if self.joins_buffered(self.buf.len(), len, now) {
            self.buf.extend_from_slice(line);
            if last != b'\n' {
                self.buf.push(b'\n');
            }
            self.joined(now);
        } else {
            self.write_line_general(line, now);
        }
    }

    /// A slot for one line built in place, at the end of the log's own
    /// buffer: what [`write_line`](Self::write_line) does with a line, without
    /// copying it there from elsewhere. Append the line to
    /// [`LineSlot::buf`], then [`LineSlot::commit`] it; a slot dropped
    /// without `commit` (say, by a panic while building) leaves nothing
    /// behind.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use monitor_sinks::rotating::{LogFileConfig, RotatingLog};
    ///
    /// let dir = std::env::temp_dir().join(format!("rotating-slot-doc-{}", std::process::id()));
    /// let now = SystemTime::now();
    /// let mut log = RotatingLog::open(LogFileConfig::executions(&dir), now)?;
    /// let mut slot = log.line_slot();
    /// slot.buf().extend_from_slice(b"{\"timestamp\":\"2026-12-04T00:00:00Z\",\"n\":");
    /// slot.buf().push(b'1');
    /// slot.buf().push(b'}');
    /// assert_eq!(slot.line(), b"{\"timestamp\":\"2026-12-04T00:00:00Z\",\"n\":1}");
    /// slot.commit(now); // the missing `\n` is added, as by `write_line`
    /// drop(log.line_slot()); // nothing written
    /// log.sync(now);
    /// assert_eq!(
    ///     std::fs::read(log.current_path())?,
    ///     b"{\"timestamp\":\"2026-12-04T00:00:00Z\",\"n\":1}\n"
    /// );
    /// # drop(log);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn line_slot(&mut self) -> LineSlot<'_> {
        let at = self.buf.len();
        LineSlot { log: self, at }
    }

    /// Whether a line of `len` bytes that starts at `at` (the end of the
    /// buffered lines) simply joins them: no flush before or after it, no
    /// rotation before it, not failing. Then
    /// [`write_line_general`](Self::write_line_general) would do nothing but
    /// append it and count it ([`joined`](Self::joined)).
    fn joins_buffered(&mut self, at: usize, len: usize, now: SystemTime) -> bool {
        if self.health.failing {
            return false;
        }
        let pending = at.saturating_sub(self.start);
        // Not `>`: a line that brings the pending bytes to the threshold is
        // written at once, after it joined.
        if pending + len >= self.flush_threshold {
            return false;
        }
        if self.cfg.rotation.period_secs().is_some() {
            let secs = self.second_of(now);
            if !self.tail_period().is_some_and(|p| p.contains(secs)) {
                return false;
            }
        }
        if let Some(limit) = self.cfg.rotation.size_limit() {
            let tail = match self.markers.back() {
                Some(m) => at.saturating_sub(m.at) as u64,
                None => self.size + pending as u64,
            };
            if tail > 0 && tail.saturating_add(len as u64) > limit {
                return false;
            }
        }
        true
    }

    /// The accounting of a line that [`joins_buffered`](Self::joins_buffered).
    fn joined(&mut self, now: SystemTime) {
        self.last_now = now;
        self.lines_since_attempt += 1;
        self.health.buffered_lines += 1;
    }

    /// A line built in `buf[at..]` by a [`LineSlot`].
    fn commit_line(&mut self, at: usize, now: SystemTime) {
        assert!(
            self.buf.len() >= at,
            "a LineSlot's line removed bytes from before it"
        );
        let Some(&last) = self.buf.get(at..).and_then(<[u8]>::last) else {
            return;
        };
        if last != b'\n' {
            self.buf.push(b'\n');
        }
        if self.joins_buffered(at, self.buf.len() - at, now) {
            self.joined(now);
            return;
        }
        // A flush, rotation or failure first: the general path, with the
        // line out of the buffer (about once per 256 KiB of lines).
        let mut line = std::mem::take(&mut self.spare);
        line.clear();
        line.extend_from_slice(&self.buf[at..]);
        self.buf.truncate(at);
        self.write_line_general(&line, now);
        self.spare = line;
    }

    /// Everything [`write_line`](Self::write_line) may do before, while and
    /// after appending a line.
    fn write_line_general(&mut self, line: &[u8], now: SystemTime) {
        let Some(&last) = line.last() else { return };
        self.last_now = now;
        let add_newline = last != b'\n';
        let len = line.len() + usize::from(add_newline);
        self.lines_since_attempt += 1;

        let rotate_now = self.check_rotation(now, len as u64);
        if self.health.failing {
            if self.retry_due(now) {
                self.attempt(now);
            }
        } else if rotate_now || self.pending() + len > self.flush_threshold {
            self.attempt(now);
        }

        if self.health.failing && self.pending() + len > self.cfg.max_buffered_bytes {
            self.drop_line();
            return;
        }
        let at = self.buf.len();
        self.buf.extend_from_slice(line);
        if add_newline {
            self.buf.push(b'\n');
        }
        self.health.buffered_lines += 1;

        if !self.health.failing
            && self.pending() >= self.flush_threshold
            && !self.attempt(now)
            && self.pending() > self.cfg.max_buffered_bytes
            && at >= self.start
        {
            // This line alone exceeds the in-memory bound: drop it.
            self.buf.truncate(at);
            self.health.buffered_lines -= 1;
            self.drop_line();
        }
    }

    /// Writes buffered lines to the file (retrying if the log is failing),
    /// and notices an externally renamed or removed current file.
    pub fn flush(&mut self, now: SystemTime) {
        self.last_now = now;
        self.attempt(now);
    }

    /// [`flush`](Self::flush), then `fsync` the current file, then wait for
    /// background compression (and the retention that follows it) to finish.
    /// Meant for shutdown and tests.
    pub fn sync(&mut self, now: SystemTime) {
        self.last_now = now;
        if self.attempt(now) {
            if let Some(file) = self.file.as_mut() {
                if let Err(e) = file.sync_all() {
                    self.fail(e);
                }
            }
        }
        self.maint.wait_idle();
    }

    /// Current health: failing or not, last error, dropped and buffered lines.
    pub fn health(&self) -> LogHealth {
        LogHealth {
            maintenance_errors: self.maint.ctx.errors.load(Ordering::Relaxed),
            deleted_for_size: self.maint.ctx.deleted_for_size.load(Ordering::Relaxed),
            ..self.health.clone()
        }
    }

    /// Path of the file being written: `<dir>/current{_base}.log`.
    pub fn current_path(&self) -> &Path {
        &self.current
    }

    /// The configuration this log was opened with.
    pub fn config(&self) -> &LogFileConfig {
        &self.cfg
    }

    // ----- rotation decisions (per line, cheap) -----

    fn pending(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Bytes of the file the next line would go to (written + buffered).
    fn tail_size(&self) -> u64 {
        match self.markers.back() {
            Some(m) => self.buf.len().saturating_sub(m.at) as u64,
            None => self.size + self.pending() as u64,
        }
    }

    fn tail_period(&self) -> Option<Period> {
        self.markers
            .back()
            .map_or(self.file_period, |m| m.next_period)
    }

    fn set_tail_period(&mut self, p: Option<Period>) {
        match self.markers.back_mut() {
            Some(m) => m.next_period = p,
            None => self.file_period = p,
        }
    }

    fn push_marker(&mut self, stamp_secs: i64, next_period: Option<Period>) {
        self.markers.push_back(Marker {
            at: self.buf.len(),
            stamp_secs,
            next_period,
        });
    }

    /// The Unix second of `now` (kept for the next line at the same `now`).
    fn second_of(&mut self, now: SystemTime) -> i64 {
        match self.last_second {
            Some((then, secs)) if then == now => secs,
            _ => {
                let secs = unix_parts(now).0;
                self.last_second = Some((now, secs));
                secs
            }
        }
    }

    /// Decides whether a rotation comes before a line of `len` bytes at `now`.
    fn check_rotation(&mut self, now: SystemTime, len: u64) -> bool {
        let mut rotate = false;
        if let Some(period_len) = self.cfg.rotation.period_secs() {
            let secs = self.second_of(now);
            match self.tail_period() {
                Some(p) if p.contains(secs) => {}
                old => {
                    let next = Some(Period::of(secs, period_len));
                    match old {
                        Some(old) if self.tail_size() > 0 => {
                            self.push_marker(old.start, next);
                            rotate = true;
                        }
                        _ => self.set_tail_period(next),
                    }
                }
            }
        }
        if let Some(limit) = self.cfg.rotation.size_limit() {
            let tail = self.tail_size();
            if tail > 0 && tail.saturating_add(len) > limit {
                let (stamp, next) = match self.cfg.rotation {
                    Rotation::Size(_) => (unix_parts(now).0, None),
                    _ => {
                        let p = self.tail_period();
                        (p.map_or(unix_parts(now).0, |p| p.start), p)
                    }
                };
                self.push_marker(stamp, next);
                rotate = true;
            }
        }
        rotate
    }

    // ----- writing, rotating, failing -----

    fn retry_due(&self, now: SystemTime) -> bool {
        self.lines_since_attempt >= RETRY_EVERY_LINES
            || self.last_attempt.is_none_or(|t| {
                now.duration_since(t)
                    .is_ok_and(|elapsed| elapsed >= RETRY_INTERVAL)
            })
    }

    /// Tries to write everything out; returns whether that succeeded.
    fn attempt(&mut self, now: SystemTime) -> bool {
        self.lines_since_attempt = 0;
        self.last_attempt = Some(now);
        let buffered = self.health.buffered_lines;
        let result = self.drain(now);
        self.compact();
        match result {
            Ok(()) => {
                if self.health.failing {
                    self.health.failing = false;
                    self.fs.notice(&format!(
                        "monitor-sinks: writing {} works again; {} buffered line(s) written in order, {} line(s) dropped during the failure",
                        self.current.display(),
                        buffered,
                        self.episode_dropped
                    ));
                }
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.health.last_error = Some(e.to_string());
        if !self.health.failing {
            self.health.failing = true;
            self.health.failures += 1;
            self.episode_dropped = 0;
            self.fs.notice(&format!(
                "monitor-sinks: cannot write {}: {e}; keeping up to {} bytes of lines in memory and retrying",
                self.current.display(),
                self.cfg.max_buffered_bytes
            ));
        }
    }

    fn drop_line(&mut self) {
        self.health.dropped_lines += 1;
        self.episode_dropped += 1;
    }

    fn maintenance_error(&self, what: &str, e: &io::Error) {
        self.maint.ctx.errors.fetch_add(1, Ordering::Relaxed);
        self.fs.notice(&format!(
            "monitor-sinks: {what} in {} failed: {e}",
            self.cfg.dir.display()
        ));
    }

    /// Writes the buffered lines, performing due rotations in order, and
    /// leaves a current file open.
    fn drain(&mut self, now: SystemTime) -> io::Result<()> {
        if self.file.is_some() && self.path_changed() {
            self.close_file();
        }
        loop {
            let end = self.markers.front().map_or(self.buf.len(), |m| m.at);
            if end > self.start {
                self.ensure_open()?;
                self.write_until(end)?;
            }
            let Some(marker) = self.markers.front().copied() else {
                break;
            };
            self.rotate(marker, now)?;
            self.markers.pop_front();
        }
        self.ensure_open()
    }

    /// Whether the current path no longer names the open file (renamed by
    /// logrotate, removed, or its directory removed). One `stat` per drain.
    fn path_changed(&self) -> bool {
        match self.fs.metadata(&self.current) {
            Err(_) => true,
            Ok(meta) => match (self.file_id, meta.id) {
                (Some(open), Some(on_disk)) => open != on_disk,
                _ => false,
            },
        }
    }

    fn close_file(&mut self) {
        self.file = None;
        self.file_id = None;
    }

    fn ensure_open(&mut self) -> io::Result<()> {
        if self.file.is_some() {
            return Ok(());
        }
        let mode = self.cfg.file_mode;
        let mut file = match self.fs.open_append(&self.current, mode) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.fs.create_dir_all(&self.cfg.dir, self.cfg.dir_mode())?;
                self.fs.open_append(&self.current, mode)?
            }
            other => other?,
        };
        let size = file.size()?;
        self.size = cut_torn_tail(&*self.fs, &self.current, &mut *file, size)?;
        self.file_id = file.identity();
        self.file = Some(file);
        Ok(())
    }

    /// Writes `buf[start..end]` (whole lines) to the open file.
    fn write_until(&mut self, end: usize) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("current file is not open"));
        };
        let data = &self.buf[self.start..end];
        let mut written = 0;
        let result = loop {
            if written == data.len() {
                break Ok(());
            }
            match file.write(&data[written..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let committed = match &result {
            Ok(()) => written,
            // Only whole lines count as written.
            Err(_) => data[..written]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1),
        };
        let lines = if result.is_ok() && end == self.buf.len() {
            self.health.buffered_lines
        } else {
            count_lines(&data[..committed])
        };
        self.health.buffered_lines = self.health.buffered_lines.saturating_sub(lines);
        self.start += committed;
        self.size += committed as u64;
        if let Err(e) = result {
            if written > committed {
                // Cut the torn line off; if that fails too, reopening will
                // end it with a newline before anything else is written.
                let _ = file.set_len(self.size);
            }
            self.close_file();
            return Err(e);
        }
        Ok(())
    }

    /// Moves the current file to its rotated name (if it has content).
    fn rotate(&mut self, marker: Marker, now: SystemTime) -> io::Result<()> {
        self.close_file();
        let len = match self.fs.metadata(&self.current) {
            Ok(meta) => meta.len,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        let len = if len > 0 {
            // A rotated file holds whole lines only, even when the current
            // file was left torn by a crash.
            let mut file = self.fs.open_append(&self.current, self.cfg.file_mode)?;
            cut_torn_tail(&*self.fs, &self.current, &mut *file, len)?
        } else {
            0
        };
        if len > 0 {
            let target = self.rename_current(marker.stamp_secs)?;
            self.maint.after_rotation(&target, now);
        }
        self.file_period = marker.next_period;
        self.size = 0;
        Ok(())
    }

    /// Renames the current file to the first free name for `stamp_secs`.
    fn rename_current(&mut self, stamp_secs: i64) -> io::Result<PathBuf> {
        let format = self.cfg.rotation.stamp_format();
        let mut counter = match self.last_target {
            Some((s, c)) if s == stamp_secs => c.saturating_add(1),
            _ => 0,
        };
        for _ in 0..100_000 {
            let target = self
                .cfg
                .dir
                .join(self.naming.rotated(format, stamp_secs, counter));
            let mut gz = target.clone().into_os_string();
            gz.push(".gz");
            let taken =
                self.fs.metadata(&target).is_ok() || self.fs.metadata(Path::new(&gz)).is_ok();
            if !taken {
                match self.fs.rename_noclobber(&self.current, &target) {
                    Ok(()) => {
                        self.last_target = Some((stamp_secs, counter));
                        return Ok(target);
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            counter = counter.saturating_add(1);
        }
        Err(io::Error::other("no free name for the rotated file"))
    }

    /// Releases written bytes from the buffer.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        let start = self.start;
        if start == self.buf.len() {
            self.buf.clear();
            if self.buf.capacity() > 4 * WRITE_BUFFER {
                self.buf.shrink_to(WRITE_BUFFER);
            }
        } else {
            self.buf.drain(..start);
        }
        for m in &mut self.markers {
            m.at = m.at.saturating_sub(start);
        }
        self.start = 0;
    }
}

/// One line being built at the end of a [`RotatingLog`]'s buffer
/// ([`RotatingLog::line_slot`]).
#[must_use = "a line slot writes nothing until it is committed"]
pub struct LineSlot<'a> {
    log: &'a mut RotatingLog,
    /// Where the line starts in the log's buffer.
    at: usize,
}

impl LineSlot<'_> {
    /// The buffer to append the line to. It may already hold earlier lines
    /// (the ones not written yet): append only, never change or remove what
    /// was there. The line follows [`RotatingLog::write_line`]'s rules: one
    /// JSON object, no newline but an optional final one.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.log.buf
    }

    /// The line appended so far.
    pub fn line(&self) -> &[u8] {
        self.log.buf.get(self.at..).unwrap_or_default()
    }

    /// Writes the line as [`RotatingLog::write_line`] would (an empty line
    /// is ignored, a missing final `\n` added). Panics if bytes from before
    /// the line were removed.
    pub fn commit(self, now: SystemTime) {
        let mut slot = std::mem::ManuallyDrop::new(self);
        let at = slot.at;
        slot.log.commit_line(at, now);
    }
}

impl Drop for LineSlot<'_> {
    /// An uncommitted line is taken back out of the buffer.
    fn drop(&mut self) {
        let at = self.at.min(self.log.buf.len());
        self.log.buf.truncate(at);
    }
}

impl Drop for RotatingLog {
    /// Writes what it can; background compression is waited for.
    fn drop(&mut self) {
        let now = self.last_now;
        if !self.attempt(now) && self.health.buffered_lines > 0 {
            self.fs.notice(&format!(
                "monitor-sinks: {} line(s) for {} could not be written and are lost",
                self.health.buffered_lines,
                self.current.display()
            ));
        }
    }
}

fn count_lines(data: &[u8]) -> usize {
    data.iter().filter(|&&b| b == b'\n').count()
}

/// Cuts a torn last line (a crash inside a write, or a failed write that
/// could not be cut off at once) off the open file `path` of `size` bytes,
/// so that the file ends at a line boundary: the torn part is a prefix of a
/// line whose rest was never written, and is not JSON. Returns the new size.
/// Should the file refuse to shrink, the torn line is ended with `\n`
/// instead, so that the next line at least stays intact.
fn cut_torn_tail(
    fs: &dyn LogFs,
    path: &Path,
    file: &mut dyn LogFile,
    size: u64,
) -> io::Result<u64> {
    let Some(whole) = whole_lines_len(fs, path, size) else {
        return Ok(size);
    };
    if whole == size {
        return Ok(size);
    }
    match file.set_len(whole) {
        Ok(()) => Ok(whole),
        Err(_) => {
            file.write_all(b"\n")?;
            Ok(size + 1)
        }
    }
}

/// Length of the first `size` bytes of `path` up to and including its last
/// `\n` (0 when there is none); `None` if it cannot be read.
fn whole_lines_len(fs: &dyn LogFs, path: &Path, size: u64) -> Option<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut f = fs.open_read(path).ok()?;
    let mut end = size;
    let mut chunk = vec![0u8; CHUNK.min(size) as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let part = &mut chunk[..(end - start) as usize];
        f.seek(SeekFrom::Start(start)).ok()?;
        f.read_exact(part).ok()?;
        if let Some(i) = part.iter().rposition(|&b| b == b'\n') {
            return Some(start + i as u64 + 1);
        }
        end = start;
    }
    Some(0)
}

/// The `"timestamp"` of the first line of `path`, if there is one.
fn first_line_timestamp(fs: &dyn LogFs, path: &Path) -> Option<SystemTime> {
    let mut head = Vec::new();
    fs.open_read(path)
        .ok()?
        .take(FIRST_LINE_MAX)
        .read_to_end(&mut head)
        .ok()?;
    let line = head.split(|&b| b == b'\n').next()?;
    // Every line this crate's users write starts with `{"timestamp":"…"`;
    // the first `"timestamp"` is that key even in a torn line (a quote inside
    // a string value is escaped, so no value can hold `"timestamp"`).
    let key = b"\"timestamp\"";
    let pos = line.windows(key.len()).position(|w| w == key)?;
    let rest = &line[pos + key.len()..];
    let rest = trim_start(rest).strip_prefix(b":")?;
    let rest = trim_start(rest).strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    parse_rfc3339(std::str::from_utf8(&rest[..end]).ok()?)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_can_move_to_the_collector_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<RotatingLog>();
    }

    #[test]
    fn period_math() {
        let p = Period::of(-1, 86_400);
        assert_eq!(p.start, -86_400);
        assert!(p.contains(-1) && !p.contains(0));
        let h = Period::of(7_199, 3_600);
        assert!(h.contains(3_600) && !h.contains(7_200));
    }
}
