//! `monitor status`: the status report, as `monitor::status_report()`
//! renders it, made from the files; lines longer than 100 columns are cut
//! with `…` (`--json` has everything).

use monitor::query::{to_json, LogDir};

use crate::args::Common;
use crate::out::{Failure, Out};
use crate::table::{cut, WIDTH};

pub(crate) fn run(logs: &LogDir, common: &Common, out: &mut Out) -> Result<u8, Failure> {
    let report = logs.status_report().map_err(Failure::new)?;
    crate::progress::finish();
    if common.json {
        out.line(&to_json(&report))?;
    } else {
        for line in report.to_string().lines() {
            out.line(&cut(line, WIDTH))?;
        }
    }
    Ok(0)
}
