//! The command line: `monitor [--dir DIR] [--json] COMMAND …` (clap derive).
//!
//! Values that need more than clap's own checks (`--since`, `--window`,
//! `--status`, `--field`, ids) are parsed here with `value_parser`s whose
//! errors list the accepted forms; clap prints them with the usage line and
//! exits with code 2.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use monitor::query::Cursor;
use monitor::{ExecutionId, NameFilter, Status};

use crate::when::{self, Since};

/// Look at what a monitor recorded: executions, errors, statistics, health.
///
/// Reads the log directory of a running or stopped host (or a copy of one)
/// and never writes into it.
#[derive(Debug, Parser)]
#[command(name = "monitor", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// The monitor's log directory.
    #[arg(long, global = true, value_name = "DIR", default_value = ".monitor")]
    pub(crate) dir: PathBuf,
    /// Print JSON: one object per line for a list (JSON Lines), one object for a single answer.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Take this RFC 3339 time as now for `--since 24h`, `--window` and `--days` (to look at a
    /// copy of an older directory as it was then). Default: the system clock.
    #[arg(long, global = true, value_name = "TIME", value_parser = when::parse_now)]
    pub(crate) now: Option<SystemTime>,
}

impl Common {
    /// The present: `--now`, else the system clock.
    pub(crate) fn now(&self) -> SystemTime {
        self.now.unwrap_or_else(SystemTime::now)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The status report: every function, its runs, success rate, latency, errors; the alerts firing.
    Status,
    /// The health verdict and its reasons. Exit code 0 green, 1 yellow, 2 red, 3 no verdict (unreadable directory).
    Health,
    /// Executions, newest first.
    Executions(ExecutionsArgs),
    /// One execution whole: every log field, the error's chain, stack trace and context, the trace.
    Show(ShowArgs),
    /// Error groups (one per normalised message), largest first, each with an example id.
    Errors(ErrorsArgs),
    /// Statistics over a time window, per function and in total.
    Stats(StatsArgs),
    /// Success rate and p95 per function and day (UTC).
    Trend(TrendArgs),
    /// The latest executions, and with -f every new one as it is written.
    Tail(TailArgs),
    /// Alert notifications, newest first (or, with --firing, the episodes firing now).
    Alerts(AlertsArgs),
    /// Acknowledge a firing alert episode: its reminders stop (the one command that writes).
    Ack(AckArgs),
    /// The executions running now, oldest first, stuck ones marked (from the host's status.json).
    Running,
}

#[derive(Debug, Args)]
pub(crate) struct AlertsArgs {
    /// Only the episodes firing now, each with its latest notification and acknowledgement.
    #[arg(long)]
    pub(crate) firing: bool,
    /// Notifications since: a duration ago (`24h`, `7d`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", default_value = "7d", value_parser = when::parse_since)]
    pub(crate) since: Since,
    /// Only this rule (`consecutive_failures`, `high_error_rate`, …).
    #[arg(long, value_name = "RULE", value_parser = parse_rule)]
    pub(crate) rule: Option<monitor::AlertRule>,
    /// Only this function (its exact name).
    #[arg(long, value_name = "NAME")]
    pub(crate) function: Option<String>,
    /// At most this many notifications.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) limit: u32,
}

#[derive(Debug, Args)]
pub(crate) struct AckArgs {
    /// The episode's number (as `monitor alerts` prints it: `#12` or `12`).
    #[arg(value_name = "EPISODE", value_parser = parse_episode)]
    pub(crate) episode: u64,
    /// Who acknowledges it.
    #[arg(long, value_name = "NAME")]
    pub(crate) by: String,
    /// A note for the others (what is being done about it).
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExecutionsArgs {
    /// Function name: exact, or a prefix ending in `*` (`app::jobs::*`).
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub(crate) name: Option<NameFilter>,
    /// success, error, panic or cancelled.
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    pub(crate) status: Option<Status>,
    /// Only executions started at or after this: a duration ago (`24h`, `90m`, `7d`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = when::parse_since)]
    pub(crate) since: Option<Since>,
    /// Only executions started before this: a duration ago or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = when::parse_since)]
    pub(crate) until: Option<Since>,
    /// Only executions with this context field value (repeat for several): `user_id=42`.
    #[arg(long = "field", value_name = "KEY=VALUE", value_parser = parse_field)]
    pub(crate) fields: Vec<(String, String)>,
    /// At most this many executions (one page).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) limit: u32,
    /// Continue after the previous page: the cursor it printed.
    #[arg(long, value_name = "CURSOR", value_parser = parse_cursor)]
    pub(crate) cursor: Option<Cursor>,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The execution's id (26 characters, as `executions` prints it).
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub(crate) id: ExecutionId,
}

#[derive(Debug, Args)]
pub(crate) struct ErrorsArgs {
    /// Errors since: a duration ago (`24h`, `7d`) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", default_value = "24h", value_parser = when::parse_since)]
    pub(crate) since: Since,
    /// Function name: exact, or a prefix ending in `*`.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub(crate) name: Option<NameFilter>,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// The window, ending now: `15m`, `24h`, `7d`, `1h30m`.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = when::parse_window)]
    pub(crate) window: Duration,
    /// Function name: exact, or a prefix ending in `*`.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub(crate) name: Option<NameFilter>,
}

#[derive(Debug, Args)]
pub(crate) struct TrendArgs {
    /// How many days, today (UTC) included.
    #[arg(long, value_name = "N", default_value = "7", value_parser = when::parse_days)]
    pub(crate) days: u32,
    /// Function name: exact, or a prefix ending in `*`.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub(crate) name: Option<NameFilter>,
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// Keep following: print each new execution as it is written, across rotations, until
    /// interrupted (Ctrl-C) or the reader of stdout goes away.
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// The errors log (failed and panicked executions, with their chain) instead of the executions log.
    #[arg(long)]
    pub(crate) errors: bool,
    /// How many of the latest lines to print first.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
    pub(crate) lines: usize,
}

/// A status, in any case (`error`, `ERROR`).
fn parse_status(text: &str) -> Result<Status, String> {
    text.to_ascii_lowercase()
        .parse::<Status>()
        .map_err(|error| error.to_string())
}

fn parse_rule(text: &str) -> Result<monitor::AlertRule, String> {
    monitor::AlertRule::from_name(text.trim()).ok_or_else(|| {
        let names: Vec<&str> = monitor::AlertRule::ALL.iter().map(|r| r.as_str()).collect();
        format!("`{text}` is no rule; write one of {}", names.join(", "))
    })
}

fn parse_episode(text: &str) -> Result<u64, String> {
    text.trim()
        .trim_start_matches('#')
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            format!(
                "`{text}` is no episode number; write the number `monitor alerts` prints, e.g. 12"
            )
        })
}

fn parse_name(text: &str) -> Result<NameFilter, String> {
    text.parse::<NameFilter>()
        .map_err(|error| error.to_string())
}

fn parse_cursor(text: &str) -> Result<Cursor, String> {
    text.parse::<Cursor>().map_err(|error| error.to_string())
}

fn parse_field(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "`{text}` is not KEY=VALUE; write e.g. `user_id=42` or `chat=abc` \
             (a string as it is, a number as JSON writes it, true or false)"
        )),
    }
}

fn parse_id(text: &str) -> Result<ExecutionId, String> {
    text.parse::<ExecutionId>()
        .map_err(|error| format!("{error}; an id is the 26 characters `monitor executions` prints"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_field_filter_is_split_at_its_first_equals_sign() {
        assert_eq!(
            parse_field("note=a=b"),
            Ok(("note".to_owned(), "a=b".to_owned()))
        );
        assert!(parse_field("=1").unwrap_err().contains("KEY=VALUE"));
        assert!(parse_field("user").unwrap_err().contains("user_id=42"));
    }

    #[test]
    fn a_bad_status_name_or_cursor_shows_what_is_accepted() {
        assert_eq!(parse_status("panic"), Ok(Status::Panic));
        assert_eq!(parse_status("ERROR"), Ok(Status::Error));
        assert!(parse_status("failed")
            .unwrap_err()
            .contains("success, error, panic or cancelled"));
        assert!(parse_name("a*b").unwrap_err().contains("`prefix::*`"));
        assert!(parse_cursor("x").unwrap_err().contains("next cursor"));
    }
}
