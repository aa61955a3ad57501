//! `monitor errors`: failures grouped by function and fingerprint, the
//! largest group first, each with an example id for `monitor show`.

use monitor::query::{to_json, LogDir};

use crate::args::{Common, ErrorsArgs};
use crate::executions::seconds;
use crate::out::{Failure, Out};
use crate::table::{Align, Cell, Column, Table};

pub(crate) fn run(
    logs: &LogDir,
    common: &Common,
    args: &ErrorsArgs,
    out: &mut Out,
) -> Result<u8, Failure> {
    let since = args.since.resolve(common.now());
    let answer = logs
        .error_groups(since, args.name.as_ref())
        .map_err(Failure::new)?;
    crate::progress::finish();
    crate::report_skipped(logs, answer.skipped_lines);
    if common.json {
        for group in &answer.groups {
            out.line(&to_json(group))?;
        }
        return Ok(0);
    }
    if answer.groups.is_empty() {
        out.line("No errors in that time.")?;
        return Ok(0);
    }
    let mut table = Table::new(vec![
        Column::fixed("COUNT", Align::Right),
        Column::shrinking("NAME"),
        Column::shrinking("ERROR (latest message)"),
        Column::fixed("LAST SEEN (UTC)", Align::Left),
        Column::fixed("EXAMPLE ID", Align::Left),
    ]);
    for group in &answer.groups {
        table.row(vec![
            Cell::from(group.count.to_string()),
            Cell::from(group.name.as_str()),
            Cell::from(format!("{}: {}", group.error_type, group.message)),
            Cell::from(seconds(&group.last_seen.to_string())),
            Cell::from(
                group
                    .example_id
                    .map(|id| id.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
        ]);
    }
    for line in table.render(out.coloured()) {
        out.line(&line)?;
    }
    Ok(0)
}
