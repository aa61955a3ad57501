//! `monitor executions`: executions newest first, filtered, one page at a
//! time.
//!
//! The next page's cursor: in text, a last line saying how to ask for it;
//! with `--json`, a `{"next_cursor":"…"}` line on **stderr**, so that
//! stdout holds executions only (`| jq .id` sees no other object).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;

use monitor::query::{human_ms, to_json, ExecutionFilter, ExecutionSummary, LogDir};
use monitor::Timestamp;

use crate::args::{Common, ExecutionsArgs};
use crate::out::{Colour, Failure, Out};
use crate::table::{Align, Cell, Column, Table};

pub(crate) fn run(
    logs: &LogDir,
    common: &Common,
    args: &ExecutionsArgs,
    out: &mut Out,
) -> Result<u8, Failure> {
    let now = common.now();
    if let (Some(since), Some(until)) = (args.since, args.until) {
        let (since, until) = (since.resolve(now), until.resolve(now));
        if until <= since {
            return Err(Failure::Message {
                text: format!(
                    "--until ({}) is not after --since ({}): no execution can match",
                    Timestamp(until),
                    Timestamp(since)
                ),
                code: 2,
            });
        }
    }
    let page = logs.executions(&filter(args, now)).map_err(Failure::new)?;
    crate::progress::finish();
    crate::report_skipped(logs, page.skipped_lines);
    if common.json {
        for execution in &page.executions {
            out.line(&to_json(execution))?;
        }
        if let Some(next) = &page.next {
            let line = to_json(&BTreeMap::from([("next_cursor", next.to_string())]));
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        return Ok(0);
    }
    if page.executions.is_empty() {
        out.line("No executions match.")?;
        return Ok(0);
    }
    let mut table = Table::new(vec![
        Column::fixed("ID", Align::Left),
        Column::fixed("STARTED (UTC)", Align::Left),
        Column::shrinking("NAME"),
        Column::fixed("STATUS", Align::Left),
        Column::fixed("DURATION", Align::Right),
        Column::shrinking("ERROR"),
    ]);
    for execution in &page.executions {
        table.row(row(execution));
    }
    for line in table.render(out.coloured()) {
        out.line(&line)?;
    }
    if let Some(next) = &page.next {
        let more = format!("More: the same command with --cursor {next} gives the next page.");
        for line in crate::table::wrap(&more, "", "  ") {
            out.line(&line)?;
        }
    }
    Ok(0)
}

/// The query the arguments ask for, times relative to `now`.
fn filter(args: &ExecutionsArgs, now: SystemTime) -> ExecutionFilter {
    let mut filter = ExecutionFilter::new()
        .limit(args.limit as usize)
        .fields(args.fields.clone());
    if let Some(name) = &args.name {
        filter = filter.name(name.clone());
    }
    if let Some(status) = args.status {
        filter = filter.status(status);
    }
    if let Some(since) = args.since {
        filter = filter.since(since.resolve(now));
    }
    if let Some(until) = args.until {
        filter = filter.until(until.resolve(now));
    }
    if let Some(cursor) = &args.cursor {
        filter = filter.cursor(cursor.clone());
    }
    filter
}

fn row(execution: &ExecutionSummary) -> Vec<Cell> {
    let status = execution.status.as_str();
    let error = match (&execution.error_type, &execution.error_message) {
        (Some(kind), Some(message)) => format!("{kind}: {message}"),
        (Some(kind), None) => kind.clone(),
        (None, Some(message)) => message.clone(),
        (None, None) => String::new(),
    };
    vec![
        Cell::from(
            execution
                .id
                .map(|id| id.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::from(seconds(&execution.timestamp.to_string())),
        Cell::from(execution.name.as_str()),
        Cell::coloured(status, Colour::of_status(status)),
        Cell::from(human_ms(execution.duration_ms)),
        Cell::from(error),
    ]
}

/// `2026-12-06T19:19:08.123456Z` → `2026-12-06 19:19:08`.
pub(crate) fn seconds(rfc3339: &str) -> String {
    let mut text: String = rfc3339.chars().take(19).collect();
    text = text.replacen('T', " ", 1);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_short() {
        assert_eq!(
            seconds("2026-12-06T19:19:08.123456Z"),
            "2026-12-06 19:19:08"
        );
    }
}
