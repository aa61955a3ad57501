//! `monitor running`: the executions the host is running now, from its
//! `status.json` (rewritten every second), oldest first; stuck ones marked.
//! A host that is not running is a failure that says since when.

use monitor::query::{to_json, Liveness, LogDir};

use crate::args::Common;
use crate::out::{Failure, Out};
use crate::table::{cut, WIDTH};

pub(crate) fn run(logs: &LogDir, common: &Common, out: &mut Out) -> Result<u8, Failure> {
    let Some(host) = logs.host_status().map_err(Failure::new)? else {
        return Err(Failure::new(format!(
            "no status.json in {}: its host has not run with a monitor that writes it",
            logs.path().display()
        )));
    };
    let liveness = host.liveness(common.now());
    if liveness != Liveness::Running {
        return Err(Failure::new(format!(
            "host {} (pid {}) is not running: {liveness}",
            host.hostname, host.pid
        )));
    }
    if common.json {
        for execution in &host.running {
            out.line(&to_json(execution))?;
        }
        return Ok(0);
    }
    let unlisted = if host.running_unlisted > 0 {
        format!(" (and {} nested too deep to list)", host.running_unlisted)
    } else {
        String::new()
    };
    out.line(&cut(
        &format!(
            "Host {} (pid {}), updated {}: {} running{unlisted}",
            host.hostname,
            host.pid,
            host.updated_at,
            host.running.len()
        ),
        WIDTH,
    ))?;
    for execution in &host.running {
        let elapsed = execution.elapsed.as_secs_f64();
        let mark = if execution.stuck { "stuck" } else { "     " };
        out.line(&cut(
            &format!(
                "{mark} {:>10.1} s  {}  {}  thread {}  since {}",
                elapsed, execution.id, execution.name, execution.thread, execution.started
            ),
            WIDTH,
        ))?;
    }
    Ok(0)
}
