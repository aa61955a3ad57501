//! `monitor`: look at what a monitor recorded, from outside the host.
//!
//! Every command reads a log directory (`--dir`, default `.monitor`)
//! through [`monitor::query`] and never writes into it, except `ack`,
//! which marks an alert episode acknowledged in `stats.db`; `--json` prints
//! JSON (one object per line for a list). Exit codes: 0 done, 1 a failure
//! (a missing or foreign directory, an unknown id, unreadable files),
//! 2 a usage error; `health` exits 0 green, 1 yellow, 2 red.
//!
//! One file per job: `args` (the command line), `when` (times and
//! durations), `out` (stdout, colour, failures), `table` (aligned columns),
//! `progress` (stderr during long scans), one file per command, and
//! `follow` (reading a growing file across rotations, for `tail`).

mod alerts;
mod args;
mod errors;
mod executions;
mod follow;
mod health;
mod out;
mod progress;
mod running;
mod show;
mod stats;
mod status;
mod table;
mod tail;
mod trend;
mod when;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use monitor::query::LogDir;

use args::{Cli, Command, Common};
use out::{Failure, Out};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Usage errors (exit 2) go to stderr; --help and --version to
            // stdout (exit 0). A closed pipe there is no failure either.
            let _ = error.print();
            return ExitCode::from(error.exit_code().clamp(0, 255) as u8);
        }
    };
    let mut out = Out::stdout();
    let result = run(&cli, &mut out).and_then(|code| out.flush().map(|()| code));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::ClosedOutput) => ExitCode::SUCCESS,
        Err(Failure::Message { text, code }) => {
            progress::finish();
            let _ = writeln!(std::io::stderr(), "monitor: {text}");
            ExitCode::from(code)
        }
    }
}

/// Runs the command; `Ok` carries the exit code.
fn run(cli: &Cli, out: &mut Out) -> Result<u8, Failure> {
    let common = &cli.common;
    match &cli.command {
        Command::Status => status::run(&open(common)?, common, out),
        Command::Health => open(common)
            .and_then(|logs| health::run(&logs, common, out))
            .map_err(Failure::unknown_health),
        Command::Executions(args) => executions::run(&open(common)?, common, args, out),
        Command::Show(args) => show::run(&open(common)?, common, args, out),
        Command::Errors(args) => errors::run(&open(common)?, common, args, out),
        Command::Stats(args) => stats::run(&open(common)?, common, args, out),
        Command::Trend(args) => trend::run(&open(common)?, common, args, out),
        Command::Tail(args) => tail::run(&open(common)?, common, args, out),
        Command::Alerts(args) => alerts::run(&open(common)?, common, args, out),
        Command::Ack(args) => alerts::ack(&open(common)?, common, args, out),
        Command::Running => running::run(&open(common)?, common, out),
    }
}

/// The log directory, with progress on stderr for long scans. A missing
/// directory, or one that is not a monitor's, is a failure naming the path.
fn open(common: &Common) -> Result<LogDir, Failure> {
    let logs = LogDir::open(&common.dir).map_err(Failure::new)?;
    Ok(progress::attach(logs))
}

/// Reports lines that were skipped (not JSON, or cut), once, on stderr.
pub(crate) fn report_skipped(logs: &LogDir, skipped: u64) {
    if skipped > 0 {
        let lines = if skipped == 1 { "line" } else { "lines" };
        let _ = writeln!(
            std::io::stderr(),
            "monitor: skipped {skipped} {lines} in {} that {} not JSON (corrupt, or cut by a crash)",
            logs.path().display(),
            if skipped == 1 { "is" } else { "are" },
        );
    }
}
