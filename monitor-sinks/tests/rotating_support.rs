//! Helpers shared by the `rotating_*` tests (included with `#[path]`).
#![allow(dead_code)]

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use monitor_sinks::rotating::{
    FileId, FileMeta, LogFile, LogFileConfig, LogFs, ReadSeek, RealFs, Retention, Rotation,
};
use monitor_sinks::time::{days_from_civil, format_rfc3339_micros};

/// A UTC instant.
pub fn utc(y: i64, m: u32, d: u32, h: u64, mi: u64, s: u64) -> SystemTime {
    let days = days_from_civil(y, m, d);
    let secs = days * 86_400 + (h * 3600 + mi * 60 + s) as i64;
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
}

/// One JSON line with a timestamp and a sequence number.
pub fn line(seq: u64, t: SystemTime) -> Vec<u8> {
    let mut ts = String::new();
    format_rfc3339_micros(t, &mut ts);
    format!("{{\"timestamp\":\"{ts}\",\"seq\":{seq}}}\n").into_bytes()
}

/// A config with no retention and defaults otherwise.
pub fn config(dir: &Path, base: &str, rotation: Rotation) -> LogFileConfig {
    LogFileConfig::new(dir, base, rotation, Retention::keep_all())
}

/// Sorted names of the entries in `dir`.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Contents of a file, gunzipped when its name ends in `.gz`.
pub fn contents(path: &Path) -> Vec<u8> {
    let raw = fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

/// Lines of a file (each without its `\n`); asserts the file ends with `\n`.
pub fn lines_of(path: &Path) -> Vec<String> {
    let data = contents(path);
    if data.is_empty() {
        return Vec::new();
    }
    assert_eq!(
        data.last(),
        Some(&b'\n'),
        "{} ends mid-line",
        path.display()
    );
    String::from_utf8(data)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The `seq` of a line written by [`line`].
pub fn seq_of(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["seq"].as_u64().unwrap()
}

pub fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap();
}

/// What the fault-injecting file system does.
#[derive(Default)]
pub struct Faults {
    /// `write` fails.
    pub fail_writes: AtomicBool,
    /// Opening (for append or create) fails.
    pub fail_opens: AtomicBool,
    /// Renames fail.
    pub fail_renames: AtomicBool,
    /// Creating files for compression (`create_truncate`) fails.
    pub fail_creates: AtomicBool,
    /// Directories refuse new entries, as a read-only directory does for a
    /// user without privileges: creating a file or a directory, renaming and
    /// removing fail with the operating system's own `EACCES` error, while
    /// files that already exist can still be written.
    pub read_only_dirs: AtomicBool,
    /// When non-zero: bytes that may still be written before writes fail
    /// (then `fail_writes` is set). Models a disk filling up mid-line.
    pub partial_budget: AtomicU64,
    /// Number of `open_append` calls.
    pub opens: AtomicU64,
    /// Notices the writer printed.
    pub notices: Mutex<Vec<String>>,
}

impl Faults {
    pub fn notices(&self) -> Vec<String> {
        self.notices.lock().unwrap().clone()
    }
    pub fn set(&self, flag: &AtomicBool, on: bool) {
        flag.store(on, Ordering::SeqCst);
    }
}

fn full() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        "injected: no space left on device",
    )
}

fn denied() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "injected: permission denied",
    )
}

/// The error a read-only directory gives: `EACCES`, "Permission denied (os error 13)".
fn eacces() -> io::Error {
    io::Error::from_raw_os_error(13)
}

/// The real file system with faults injected on command.
#[derive(Clone, Default)]
pub struct FaultFs {
    pub faults: Arc<Faults>,
}

struct FaultFile {
    inner: Box<dyn LogFile>,
    faults: Arc<Faults>,
}

impl Write for FaultFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = &self.faults;
        if f.fail_writes.load(Ordering::SeqCst) {
            return Err(full());
        }
        let budget = f.partial_budget.load(Ordering::SeqCst);
        if budget > 0 {
            let n = (budget as usize).min(buf.len());
            let n = self.inner.write(&buf[..n])?;
            f.partial_budget.fetch_sub(n as u64, Ordering::SeqCst);
            if n as u64 == budget {
                f.fail_writes.store(true, Ordering::SeqCst);
            }
            return Ok(n);
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl LogFile for FaultFile {
    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }
    fn identity(&self) -> Option<FileId> {
        self.inner.identity()
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_all(&mut self) -> io::Result<()> {
        self.inner.sync_all()
    }
}

impl FaultFs {
    fn read_only_dirs(&self) -> bool {
        self.faults.read_only_dirs.load(Ordering::SeqCst)
    }
}

impl LogFs for FaultFs {
    fn create_dir_all(&self, dir: &Path, mode: u32) -> io::Result<()> {
        if self.faults.fail_opens.load(Ordering::SeqCst) {
            return Err(denied());
        }
        if self.read_only_dirs() && !dir.is_dir() {
            return Err(eacces());
        }
        RealFs.create_dir_all(dir, mode)
    }
    fn open_append(&self, path: &Path, mode: u32) -> io::Result<Box<dyn LogFile>> {
        self.faults.opens.fetch_add(1, Ordering::SeqCst);
        if self.faults.fail_opens.load(Ordering::SeqCst) {
            return Err(denied());
        }
        if self.read_only_dirs() && !path.exists() {
            return Err(eacces());
        }
        Ok(Box::new(FaultFile {
            inner: RealFs.open_append(path, mode)?,
            faults: Arc::clone(&self.faults),
        }))
    }
    fn create_truncate(&self, path: &Path, mode: u32) -> io::Result<Box<dyn LogFile>> {
        if self.faults.fail_opens.load(Ordering::SeqCst)
            || self.faults.fail_creates.load(Ordering::SeqCst)
        {
            return Err(denied());
        }
        if self.read_only_dirs() && !path.exists() {
            return Err(eacces());
        }
        RealFs.create_truncate(path, mode)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadSeek>> {
        RealFs.open_read(path)
    }
    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        RealFs.metadata(path)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        RealFs.list_dir(dir)
    }
    fn rename_noclobber(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.faults.fail_renames.load(Ordering::SeqCst) {
            return Err(denied());
        }
        if self.read_only_dirs() {
            return Err(eacces());
        }
        RealFs.rename_noclobber(from, to)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.faults.fail_renames.load(Ordering::SeqCst) {
            return Err(denied());
        }
        if self.read_only_dirs() {
            return Err(eacces());
        }
        RealFs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        if self.read_only_dirs() {
            return Err(eacces());
        }
        RealFs.remove_file(path)
    }
    fn notice(&self, message: &str) {
        self.faults.notices.lock().unwrap().push(message.to_owned());
    }
}

/// A fresh temporary directory and the log directory inside it.
pub fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    (tmp, dir)
}
