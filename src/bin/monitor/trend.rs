//! `monitor trend`: success rate and p95 per function and UTC day, the
//! oldest day first, answered from the roll-ups in `stats.db`.

use monitor::query::{to_json, LogDir};

use crate::args::{Common, TrendArgs};
use crate::out::{Failure, Out};
use crate::stats::percent;
use crate::table::{Align, Cell, Column, Table};
use monitor::query::human_ms;

pub(crate) fn run(
    logs: &LogDir,
    common: &Common,
    args: &TrendArgs,
    out: &mut Out,
) -> Result<u8, Failure> {
    let trends = logs
        .trend(args.days, common.now(), args.name.as_ref())
        .map_err(Failure::new)?;
    crate::progress::finish();
    if common.json {
        for trend in &trends {
            out.line(&to_json(trend))?;
        }
        return Ok(0);
    }
    if trends.is_empty() {
        out.line(&format!("No executions in the last {} days.", args.days))?;
        return Ok(0);
    }
    let mut table = Table::new(vec![
        Column::shrinking("NAME"),
        Column::fixed("DAY (UTC)", Align::Left),
        Column::fixed("TOTAL", Align::Right),
        Column::fixed("OK%", Align::Right),
        Column::fixed("P95", Align::Right),
    ]);
    for trend in &trends {
        for (index, point) in trend.points.iter().enumerate() {
            let name = if index == 0 { trend.name.as_str() } else { "" };
            table.row(vec![
                Cell::from(name),
                Cell::from(point.day.as_str()),
                Cell::from(point.total.to_string()),
                Cell::from(percent(point.success_rate)),
                Cell::from(point.p95_ms.map(human_ms).unwrap_or_else(|| "-".into())),
            ]);
        }
    }
    for line in table.render(out.coloured()) {
        out.line(&line)?;
    }
    Ok(0)
}
