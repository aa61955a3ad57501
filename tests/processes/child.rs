//! Starting copies of this binary as host applications, and the roles they
//! play.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use monitor::{monitored, InstallError, Monitor, MonitorGuard};

const ROLE_VAR: &str = "MONITOR_TEST_CHILD";
const DIR_VAR: &str = "MONITOR_TEST_DIR";
const DB_VAR: &str = "MONITOR_TEST_DB";

/// The role this process was started to play, if it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// A running child and its standard output, read line by line.
pub struct Host {
    pub child: Child,
    out: BufReader<ChildStdout>,
}

impl Host {
    /// Starts this binary as `role`, on log directory `dir` (and, if given,
    /// statistics database `db`).
    pub fn start(role: &str, dir: &Path, db: Option<&Path>) -> Host {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .env(ROLE_VAR, role)
            .env(DIR_VAR, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(db) = db {
            command.env(DB_VAR, db);
        }
        let mut child = command.spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Host { child, out }
    }

    /// The rest of the next output line that starts with `key`; panics if
    /// the child ends first.
    pub fn expect(&mut self, key: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.out.read_line(&mut line).unwrap();
            assert!(n > 0, "the child ended before printing {key}");
            if let Some(rest) = line.trim_end().strip_prefix(key) {
                return rest.trim().to_owned();
            }
        }
    }

    /// Everything the child prints until it exits.
    pub fn rest(&mut self) -> String {
        let mut text = String::new();
        self.out.read_to_string(&mut text).unwrap();
        text
    }

    /// Closes the child's standard input (the signal to stop, for roles that
    /// wait for it) and waits for it to exit successfully.
    pub fn finish(mut self) -> String {
        drop(self.child.stdin.take());
        let rest = self.rest();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "child failed: {status}; output: {rest}");
        rest
    }

    /// SIGKILL (`TerminateProcess` elsewhere), then reaps it.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn dir() -> PathBuf {
    PathBuf::from(std::env::var_os(DIR_VAR).expect("MONITOR_TEST_DIR"))
}

fn builder() -> monitor::MonitorBuilder {
    let builder = Monitor::builder().log_dir(dir());
    match std::env::var_os(DB_VAR) {
        Some(db) => builder.stats_db(PathBuf::from(db)),
        None => builder,
    }
}

/// Waits until the parent closes our standard input.
fn wait_for_parent() {
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

#[monitored(name = "child_job")]
pub fn child_job(i: u64) -> Result<u64, String> {
    if i.is_multiple_of(10) {
        Err(format!("job {i} failed"))
    } else {
        Ok(i)
    }
}

/// Prints how an install attempt went: `INSTALLED`, `LOCKED <pid> <message>`
/// or `ERROR <message>`; returns the guard on success.
fn report_install(result: Result<MonitorGuard, InstallError>) -> Option<MonitorGuard> {
    match result {
        Ok(guard) => {
            println!("INSTALLED {}", std::process::id());
            Some(guard)
        }
        Err(error @ InstallError::Locked { holder_pid, .. }) => {
            let pid = holder_pid.map_or("?".to_owned(), |p| p.to_string());
            println!("LOCKED {pid} {error}");
            None
        }
        Err(error) => {
            println!("ERROR {error}");
            None
        }
    }
}

/// Plays `role`; the process exits when this returns.
pub fn play(role: &str) {
    match role {
        // Installs, records a few executions, and holds the directory until
        // the parent closes standard input.
        "hold" => {
            let Some(guard) = report_install(builder().install()) else {
                return;
            };
            for i in 1..=5 {
                let _ = child_job(i);
            }
            guard.flush();
            println!("READY");
            wait_for_parent();
            drop(guard);
        }
        // Tries to install once and says how it went.
        "try" => {
            let guard = report_install(builder().install());
            if let Some(guard) = guard {
                let _ = child_job(1);
                guard.flush();
            }
        }
        // Heavy writing with small rotation sizes, until killed: a thread
        // records batches of 1,000 executions as fast as it can while the
        // main thread flushes in a loop (one batch per flush, to keep the
        // files small). Prints `LOADED <total>` (the count it continues from)
        // and, after each flush, `FLUSHED <total>` with a total taken before
        // that flush (so the flush saved at least that many).
        "writer" => {
            let guard = report_install(heavy_builder().install()).expect("install");
            println!("LOADED {}", total("child_job"));
            let (go, batches) = std::sync::mpsc::sync_channel::<()>(1);
            std::thread::spawn(move || {
                let mut i = 0;
                while batches.recv().is_ok() {
                    for _ in 0..1000 {
                        let _ = child_job(i);
                        i += 1;
                    }
                }
            });
            loop {
                // The next batch is written while this flush runs (and
                // while the parent kills us).
                go.send(()).unwrap();
                let before = total("child_job");
                if guard.flush() {
                    println!("FLUSHED {before}");
                }
            }
        }
        // Starts on what the writers left: `LOADED <total>`, then 100 more
        // executions, then `AFTER <total>`.
        "restart" => {
            let guard = report_install(heavy_builder().install()).expect("install");
            println!("LOADED {}", total("child_job"));
            for i in 1..=100 {
                let _ = child_job(i);
            }
            assert!(guard.flush());
            println!("AFTER {}", total("child_job"));
        }
        // Records 500 executions with termination handling on and no save
        // due for an hour, prints `RECORDED`, then waits to be signalled.
        #[cfg(all(unix, feature = "termination"))]
        "terminate" => {
            let guard = report_install(
                builder()
                    .flush_on_termination(true)
                    .stats_save_interval(std::time::Duration::from_secs(3600))
                    .install(),
            )
            .expect("install");
            for i in 1..=500 {
                let _ = child_job(i);
            }
            println!("RECORDED");
            wait_for_parent();
            drop(guard);
            println!("NOT SIGNALLED");
        }
        // Installs, starts a call that blocks until the process ends, makes
        // sure status.json lists it, and waits for the parent (to be killed,
        // or to stop cleanly when standard input closes).
        "busy" => {
            let guard = builder().install().expect("install");
            let (entered_tx, entered_rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("busy-worker".to_owned())
                .spawn(move || blocked_until_exit(entered_tx))
                .unwrap();
            entered_rx.recv().unwrap();
            assert!(guard.flush()); // status.json lists the blocked call
            println!("READY");
            wait_for_parent();
            drop(guard);
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Small rotation sizes, so that kills land during rotations too.
fn heavy_builder() -> monitor::MonitorBuilder {
    builder()
        .executions_rotation(monitor::Rotation::Size(64 * 1024))
        .errors_rotation(monitor::Rotation::Size(16 * 1024))
        .stats_save_interval(std::time::Duration::from_millis(20))
}

/// `total_executions` of `name`, 0 when never seen.
fn total(name: &str) -> u64 {
    monitor::stats()
        .get(name)
        .map_or(0, |stats| stats.total_executions)
}

/// Says it runs, then blocks for the rest of the process.
#[monitored(name = "busy_job")]
fn blocked_until_exit(entered: std::sync::mpsc::Sender<()>) {
    entered.send(()).unwrap();
    loop {
        std::thread::park();
    }
}
