//! `monitor alerts`: the alert history (every notification, newest first)
//! or, with `--firing`, the episodes firing now; `monitor ack`: acknowledge
//! a firing episode in `stats.db`, which a running host takes up at its
//! next tick.

use monitor::query::{to_json, LogDir};
use monitor::{Alert, AlertQuery};

use crate::args::{AckArgs, AlertsArgs, Common};
use crate::executions::seconds;
use crate::out::{Colour, Failure, Out};
use crate::table::{one_line, wrap};

pub(crate) fn run(
    logs: &LogDir,
    common: &Common,
    args: &AlertsArgs,
    out: &mut Out,
) -> Result<u8, Failure> {
    let alerts = if args.firing {
        let mut firing = logs.firing_alerts().map_err(Failure::new)?;
        firing.retain(|alert| {
            args.rule.is_none_or(|rule| alert.rule == rule)
                && args
                    .function
                    .as_ref()
                    .is_none_or(|f| alert.function.as_ref() == Some(f))
        });
        firing
    } else {
        let mut query = AlertQuery::new()
            .since(args.since.resolve(common.now()))
            .limit(args.limit as usize);
        if let Some(rule) = args.rule {
            query = query.rule(rule);
        }
        if let Some(function) = &args.function {
            query = query.function(function.clone());
        }
        logs.alert_history(&query).map_err(Failure::new)?
    };
    if common.json {
        for alert in &alerts {
            out.line(&to_json(alert))?;
        }
        return Ok(0);
    }
    if alerts.is_empty() {
        out.line(if args.firing {
            "No alert is firing."
        } else {
            "No alert notifications in that time."
        })?;
        return Ok(0);
    }
    for alert in &alerts {
        for line in lines(alert) {
            let colour = line.starts_with('#').then(|| colour(alert)).flatten();
            let painted = out.paint(&line, colour);
            out.line(&painted)?;
        }
    }
    Ok(0)
}

fn colour(alert: &Alert) -> Option<Colour> {
    match (alert.is_firing(), alert.severity) {
        (false, _) => Colour::of_verdict("green"),
        (true, monitor::Severity::Warning) => Colour::of_verdict("yellow"),
        (true, monitor::Severity::Error | monitor::Severity::Critical) => Colour::of_verdict("red"),
        _ => None,
    }
}

/// `#12 2026-12-06 08:00:01 firing error consecutive_failures scale_ec2`,
/// then the message wrapped at 100 columns, then who acknowledged it.
fn lines(alert: &Alert) -> Vec<String> {
    let episode = alert
        .episode()
        .map_or_else(|| "#-".to_owned(), |id| format!("#{id}"));
    let state = if alert.reminder {
        "reminder".to_owned()
    } else {
        alert.state.to_string()
    };
    let mut lines = vec![format!(
        "{episode} {} {state} {} {} {}",
        seconds(&alert.time.to_string()),
        alert.severity,
        alert.rule,
        alert.function.as_deref().unwrap_or("(monitor)")
    )];
    lines.extend(wrap(&one_line(&alert.message), "    ", "    "));
    if let Some(ack) = alert.acknowledged() {
        let note = ack
            .note
            .as_deref()
            .map(|note| format!(": {}", one_line(note)))
            .unwrap_or_default();
        lines.extend(wrap(
            &format!(
                "acknowledged by {} at {}{note}",
                one_line(&ack.by),
                seconds(&ack.at.to_string())
            ),
            "    ",
            "    ",
        ));
    }
    lines
}

pub(crate) fn ack(
    logs: &LogDir,
    common: &Common,
    args: &AckArgs,
    out: &mut Out,
) -> Result<u8, Failure> {
    if args.by.trim().is_empty() {
        return Err(Failure::new("--by must name who acknowledges"));
    }
    logs.acknowledge(
        args.episode,
        args.by.trim(),
        args.note.as_deref(),
        common.now(),
    )
    .map_err(Failure::new)?;
    if common.json {
        let mut json = String::from("{\"acknowledged\":");
        json.push_str(&args.episode.to_string());
        json.push_str(",\"by\":");
        json.push_str(&to_json(&args.by.trim()));
        json.push('}');
        out.line(&json)?;
    } else {
        out.line(&format!(
            "Acknowledged episode #{} as {}; a running host stops its reminders within a second.",
            args.episode,
            one_line(args.by.trim())
        ))?;
    }
    Ok(0)
}
