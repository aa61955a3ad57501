//! `monitor stats`: counts, success rate and latency per function over a
//! window ending now, and the totals, answered from the roll-ups in
//! `stats.db`.

use std::time::Duration;

use monitor::query::{to_json, LogDir, WindowSummary};

use crate::args::{Common, StatsArgs};
use crate::executions::seconds;
use crate::out::{Failure, Out};
use crate::table::{Align, Cell, Column, Table};
use monitor::query::human_ms;

pub(crate) fn run(
    logs: &LogDir,
    common: &Common,
    args: &StatsArgs,
    out: &mut Out,
) -> Result<u8, Failure> {
    let stats = logs
        .stats_window(args.window, common.now(), args.name.as_ref())
        .map_err(Failure::new)?;
    crate::progress::finish();
    if common.json {
        out.line(&to_json(&stats))?;
        return Ok(0);
    }
    out.line(&format!(
        "Last {}: {} to {} UTC",
        format_window(stats.window),
        seconds(&stats.from.to_string()),
        seconds(&stats.to.to_string()),
    ))?;
    if stats.functions.is_empty() {
        out.line("No executions in that window.")?;
        return Ok(0);
    }
    let with_cancelled = stats.totals.cancelled > 0;
    let mut columns = vec![
        Column::shrinking("NAME"),
        Column::fixed("TOTAL", Align::Right),
        Column::fixed("OK%", Align::Right),
        Column::fixed("ERROR", Align::Right),
        Column::fixed("PANIC", Align::Right),
    ];
    if with_cancelled {
        columns.push(Column::fixed("CANCEL", Align::Right));
    }
    for header in ["MEAN", "P50", "P95", "P99", "MAX"] {
        columns.push(Column::fixed(header, Align::Right));
    }
    let mut table = Table::new(columns);
    for function in &stats.functions {
        table.row(row(&function.name, &function.summary, with_cancelled));
    }
    if stats.functions.len() > 1 {
        table.row(row("(all functions)", &stats.totals, with_cancelled));
    }
    for line in table.render(out.coloured()) {
        out.line(&line)?;
    }
    Ok(0)
}

fn row(name: &str, summary: &WindowSummary, with_cancelled: bool) -> Vec<Cell> {
    let ms = |value: Option<f64>| Cell::from(value.map(human_ms).unwrap_or_else(|| "-".into()));
    let mut cells = vec![
        Cell::from(name),
        Cell::from(summary.total.to_string()),
        Cell::from(percent(summary.success_rate)),
        Cell::from(summary.error.to_string()),
        Cell::from(summary.panic.to_string()),
    ];
    if with_cancelled {
        cells.push(Cell::from(summary.cancelled.to_string()));
    }
    cells.extend([
        ms(summary.mean_ms),
        ms(summary.p50_ms),
        ms(summary.p95_ms),
        ms(summary.p99_ms),
        ms(summary.max_ms),
    ]);
    cells
}

/// `100%`, `99.5%`, `-` without executions.
pub(crate) fn percent(rate: Option<f64>) -> String {
    match rate {
        None => "-".to_owned(),
        Some(rate) => {
            let percent = rate * 100.0;
            if percent >= 99.95 || percent == 0.0 {
                format!("{percent:.0}%")
            } else {
                format!("{percent:.1}%")
            }
        }
    }
}

/// `24h`, `48h`, `7d`, `1h30m`, `1m30s`: whole hours up to two days in
/// hours (as people write `--window 24h`), else days, hours, minutes and
/// seconds.
pub(crate) fn format_window(window: Duration) -> String {
    let mut seconds = window.as_secs();
    if seconds == 0 {
        return format!("{}ms", window.as_millis());
    }
    if seconds.is_multiple_of(3_600) && seconds <= 48 * 3_600 {
        return format!("{}h", seconds / 3_600);
    }
    let mut text = String::new();
    for (unit, length) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if seconds >= length {
            text.push_str(&format!("{}{unit}", seconds / length));
            seconds %= length;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_rates_read_as_written() {
        assert_eq!(format_window(Duration::from_secs(86_400)), "24h");
        assert_eq!(format_window(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(format_window(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_window(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_window(Duration::from_secs(86_400 + 3_600)), "25h");
        assert_eq!(format_window(Duration::from_secs(3 * 86_400 + 60)), "3d1m");
        assert_eq!(percent(Some(1.0)), "100%");
        assert_eq!(percent(Some(0.995)), "99.5%");
        assert_eq!(percent(Some(0.0)), "0%");
        assert_eq!(percent(None), "-");
    }
}
