//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

/// Only one monitor can be installed per process: tests in one binary take turns.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fresh, empty directory under the system's temp space. The directories
/// earlier runs of the same test left behind (their process is gone) are
/// removed first, so repeated runs do not fill the disk.
pub fn temp_dir(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join("monitor-tests");
    remove_stale(&root, name);
    let dir = root.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes `root/name-PID` for every PID that no longer runs (Linux: no
/// `/proc/PID`; elsewhere nothing is removed).
fn remove_stale(root: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let prefix = format!("{name}-");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|file_name| file_name.strip_prefix(&prefix))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Every line of a JSON Lines file, parsed; panics on a line that is not one
/// complete JSON object.
pub fn read_json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(value.is_object(), "not an object: {line}");
            value
        })
        .collect()
}

pub fn executions(dir: &Path) -> Vec<serde_json::Value> {
    read_json_lines(&dir.join("executions/current.log"))
}

pub fn errors(dir: &Path) -> Vec<serde_json::Value> {
    read_json_lines(&dir.join("errors/current_errors.log"))
}

/// Lines about `name` only.
pub fn lines_named<'a>(lines: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|line| line["name"] == name).collect()
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// Polls a future exactly once.
pub fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    future.poll(&mut Context::from_waker(&waker))
}

/// Alerts handed to `on_alert`, and the callback that collects them.
pub fn alert_recorder() -> (
    Arc<Mutex<Vec<monitor::Alert>>>,
    impl FnMut(&monitor::Alert) + Send + 'static,
) {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&alerts);
    let callback = move |alert: &monitor::Alert| seen.lock().unwrap().push(alert.clone());
    (alerts, callback)
}

/// `total_executions` of `name` in a fresh snapshot; panics if it was never seen.
pub fn total_executions(name: &str) -> u64 {
    monitor::stats()
        .get(name)
        .unwrap_or_else(|| panic!("{name} was never recorded"))
        .total_executions
}

/// A sink that holds the collector inside its first `record` call until
/// [`Held::release`]: whatever the host records meanwhile stays queued (or
/// overflows), deterministically, without sleeping.
pub struct HoldingSink {
    entered: Option<std::sync::mpsc::Sender<()>>,
    gate: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

/// The test's end of a [`HoldingSink`].
pub struct Held {
    entered: std::sync::mpsc::Receiver<()>,
    gate: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

pub fn holding_sink() -> (HoldingSink, Held) {
    let (sender, entered) = std::sync::mpsc::channel();
    let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    (
        HoldingSink {
            entered: Some(sender),
            gate: Arc::clone(&gate),
        },
        Held { entered, gate },
    )
}

impl monitor::Sink for HoldingSink {
    fn record(&mut self, _: &monitor::ExecutionRecord<'_>) {
        if let Some(entered) = self.entered.take() {
            let _ = entered.send(());
            let (open, opened) = &*self.gate;
            let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
            while !*open {
                open = opened.wait(open).unwrap_or_else(|p| p.into_inner());
            }
        }
    }
}

impl Held {
    /// Returns once the collector is held inside the sink.
    pub fn wait_until_held(&self) {
        self.entered.recv().expect("the collector reached the sink");
    }

    /// Lets the collector go on.
    pub fn release(&self) {
        *self.gate.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.gate.1.notify_all();
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}
