//! Work done after a rotation: gzip of the rotated file (on a background
//! thread, so the writer never stalls on it) and retention.

use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::fs::LogFs;
use super::naming::Naming;
use super::retention::{self, Retention};

/// Compresses `path` (`X.log`) to `X.log.gz`: writes `X.log.gz.tmp`, syncs it,
/// renames it to `X.log.gz`, then removes `X.log`. On error the temporary
/// file is removed and `X.log` is kept. Returns the `.gz` path.
pub(crate) fn gzip_file(fs: &dyn LogFs, path: &Path, mode: u32) -> io::Result<PathBuf> {
    let gz = suffixed(path, ".gz");
    let tmp = suffixed(path, ".gz.tmp");
    let result = (|| {
        let mut input = fs.open_read(path)?;
        let out = fs.create_truncate(&tmp, mode)?;
        let mut enc = GzEncoder::new(out, Compression::default());
        io::copy(&mut input, &mut enc)?;
        let mut out = enc.finish()?;
        out.flush()?;
        out.sync_all()?;
        drop(out);
        fs.rename(&tmp, &gz)?;
        fs.remove_file(path)
    })();
    match result {
        Ok(()) => Ok(gz),
        Err(e) => {
            // Gone already if the rename happened; otherwise unfinished.
            let _ = fs.remove_file(&tmp);
            Err(e)
        }
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Everything maintenance needs, shared with the worker thread.
pub(crate) struct Context {
    pub fs: Arc<dyn LogFs>,
    pub dir: PathBuf,
    pub naming: Naming,
    pub retention: Retention,
    /// Bytes the current file may reach before it is rotated (0: no size
    /// rotation), counted against the size cap.
    pub current_reserve: u64,
    pub file_mode: u32,
    /// Failed compressions, retention deletions and listings.
    pub errors: AtomicU64,
    /// Rotated files deleted for the size cap before age and count would
    /// have deleted them.
    pub deleted_for_size: AtomicU64,
}

impl Context {
    /// Runs retention now, counting and reporting errors.
    pub(crate) fn retention(&self, now: SystemTime) {
        let out = retention::apply(
            &*self.fs,
            &self.dir,
            &self.naming,
            &self.retention,
            self.current_reserve,
            now,
        );
        self.deleted_for_size
            .fetch_add(out.removed_for_size, Ordering::Relaxed);
        if let Some(first) = out.errors.first() {
            self.errors
                .fetch_add(out.errors.len() as u64, Ordering::Relaxed);
            self.fs.notice(&format!(
                "monitor-sinks: retention in {} failed for {} file(s): {first}",
                self.dir.display(),
                out.errors.len()
            ));
        }
    }

    fn compress(&self, path: &Path) {
        if let Err(e) = gzip_file(&*self.fs, path, self.file_mode) {
            if e.kind() == io::ErrorKind::NotFound {
                return; // already compressed or removed meanwhile
            }
            self.errors.fetch_add(1, Ordering::Relaxed);
            self.fs.notice(&format!(
                "monitor-sinks: compressing {} failed: {e}; the file is kept uncompressed",
                path.display()
            ));
        }
    }

    fn run(&self, job: &Job) {
        self.compress(&job.path);
        self.retention(job.now);
    }
}

/// Compress `path`, then apply retention at `now`.
struct Job {
    path: PathBuf,
    now: SystemTime,
}

#[derive(Default)]
struct Progress {
    done: Mutex<u64>,
    cv: Condvar,
}

/// Counts a finished job even if the job panicked.
struct DoneGuard<'a>(&'a Progress);

impl Drop for DoneGuard<'_> {
    fn drop(&mut self) {
        let mut done = self.0.done.lock().unwrap_or_else(|p| p.into_inner());
        *done += 1;
        self.0.cv.notify_all();
    }
}

/// Runs compression jobs (each followed by retention) on one background
/// thread, in order; when compression is off, retention runs inline.
pub(crate) struct Maintenance {
    pub ctx: Arc<Context>,
    compress: bool,
    tx: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    progress: Arc<Progress>,
    sent: u64,
}

impl Maintenance {
    pub(crate) fn new(ctx: Context, compress: bool) -> Self {
        Maintenance {
            ctx: Arc::new(ctx),
            compress,
            tx: None,
            worker: None,
            progress: Arc::new(Progress::default()),
            sent: 0,
        }
    }

    /// Called after `rotated` was produced at `now`.
    pub(crate) fn after_rotation(&mut self, rotated: &Path, now: SystemTime) {
        if self.compress {
            self.enqueue(rotated.to_path_buf(), now);
        } else {
            self.ctx.retention(now);
        }
    }

    /// Queues a compression (then retention) of `path`.
    pub(crate) fn enqueue(&mut self, path: PathBuf, now: SystemTime) {
        let job = Job { path, now };
        let job = match self.sender() {
            Some(tx) => match tx.send(job) {
                Ok(()) => {
                    self.sent += 1;
                    return;
                }
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        // No worker thread could be had: do the work here.
        self.tx = None;
        let _ = catch_unwind(AssertUnwindSafe(|| self.ctx.run(&job)));
    }

    fn sender(&mut self) -> Option<&mpsc::Sender<Job>> {
        if self.tx.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let ctx = Arc::clone(&self.ctx);
            let progress = Arc::clone(&self.progress);
            let spawned = std::thread::Builder::new()
                .name("monitor-log-gzip".into())
                .spawn(move || {
                    for job in rx {
                        let _guard = DoneGuard(&progress);
                        let _ = catch_unwind(AssertUnwindSafe(|| ctx.run(&job)));
                    }
                });
            match spawned {
                Ok(handle) => {
                    // Jobs of an earlier, vanished worker will never finish.
                    self.sent = *self.progress.done.lock().unwrap_or_else(|p| p.into_inner());
                    self.worker = Some(handle);
                    self.tx = Some(tx);
                }
                Err(_) => return None,
            }
        }
        self.tx.as_ref()
    }

    /// Blocks until every queued job has finished.
    pub(crate) fn wait_idle(&self) {
        let mut done = self.progress.done.lock().unwrap_or_else(|p| p.into_inner());
        while *done < self.sent {
            if self.worker.as_ref().is_none_or(|w| w.is_finished()) {
                break; // the worker is gone; nothing more will finish
            }
            done = self
                .progress
                .cv
                .wait_timeout(done, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
