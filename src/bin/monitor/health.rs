//! `monitor health`: the verdict and its reasons, and an exit code that
//! cron and CI can use: 0 green, 1 yellow, 2 red, 3 no verdict (the
//! directory is missing, not a monitor's, or cannot be read: the
//! "unknown" of Nagios-style checks, never mistaken for yellow).

use monitor::query::{to_json, LogDir};
use monitor::{Health, Verdict};

use crate::args::Common;
use crate::out::{Colour, Failure, Out};
use crate::table::{one_line, wrap};

pub(crate) fn run(logs: &LogDir, common: &Common, out: &mut Out) -> Result<u8, Failure> {
    let health = logs.health().map_err(Failure::new)?;
    if common.json {
        out.line(&to_json(&health))?;
    } else {
        for line in lines(&health) {
            let colour = line
                .starts_with(health.verdict.emoji())
                .then(|| Colour::of_verdict(health.verdict.as_str()))
                .flatten();
            let painted = out.paint(&line, colour);
            out.line(&painted)?;
        }
    }
    Ok(exit_code(health.verdict))
}

/// 0 green, 1 yellow, 2 red (and anything that is not a verdict about a
/// running monitor: never green).
pub(crate) fn exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Green => 0,
        Verdict::Yellow => 1,
        _ => 2,
    }
}

/// `🟡 yellow`, then one line per reason (`  - …`), wrapped at 100 columns.
fn lines(health: &Health) -> Vec<String> {
    let mut lines = vec![format!("{} {}", health.verdict.emoji(), health.verdict)];
    for reason in &health.reasons {
        lines.extend(wrap(&one_line(reason), "  - ", "    "));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_follows_the_verdict() {
        assert_eq!(exit_code(Verdict::Green), 0);
        assert_eq!(exit_code(Verdict::Yellow), 1);
        assert_eq!(exit_code(Verdict::Red), 2);
        assert_eq!(exit_code(Verdict::NotInstalled), 2);
    }

    #[test]
    fn reasons_wrap_at_100_columns() {
        let health = Health {
            verdict: Verdict::Red,
            reasons: vec![
                format!("jobs::sync {}failures", "very ".repeat(30)),
                "short".to_owned(),
            ],
        };
        let lines = lines(&health);
        assert_eq!(lines[0], "🔴 red");
        assert!(lines[1].starts_with("  - jobs::sync very"));
        assert!(lines[2].starts_with("    very"));
        assert_eq!(lines.last().unwrap(), "  - short");
        assert!(lines.iter().all(|line| line.chars().count() <= 100));
        let words: Vec<&str> = lines[1..lines.len() - 1]
            .iter()
            .flat_map(|line| line.split_whitespace())
            .collect();
        assert_eq!(
            words.join(" "),
            format!("- {}", health.reasons[0].trim_end())
        );
    }
}
