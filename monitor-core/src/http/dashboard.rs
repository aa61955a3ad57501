//! The dashboard page: `dashboard.html`, embedded in the binary, filled in
//! on the server (so it reads as plain tables without JavaScript); its
//! script then follows `/events` and refreshes from `/api/status`.

use std::time::SystemTime;

use super::response::{Response, HTML};
use super::routes::Sources;
use crate::report::{human_ago, human_ms};
use crate::stats::FunctionStats;

const TEMPLATE: &str = include_str!("dashboard.html");
/// Failures listed on the page.
const LATEST_FAILURES: usize = 20;

/// The page, filled in with what the collector published last.
pub(crate) fn page(sources: &Sources) -> Response {
    let report = sources.report();
    let now = report.generated_at.0;
    let mut reasons = String::new();
    for reason in &report.health.reasons {
        reasons.push_str("<li>");
        escape(&mut reasons, reason);
        reasons.push_str("</li>");
    }
    let mut alerts = String::new();
    for alert in &report.alerts {
        alerts.push_str("<tr>");
        for (text, class) in [
            (alert.rule.as_str().to_owned(), ""),
            (
                alert
                    .function
                    .clone()
                    .unwrap_or_else(|| "(monitor)".to_owned()),
                "name",
            ),
            (alert.severity.as_str().to_owned(), ""),
            (human_ago(alert.since.0, now), ""),
            (alert.message.clone(), "msg"),
        ] {
            cell(&mut alerts, &text, class);
        }
        alerts.push_str("</tr>");
    }
    if alerts.is_empty() {
        alerts.push_str("<tr><td class=\"empty\" colspan=\"5\">No alert is firing.</td></tr>");
    }
    let mut functions = String::new();
    for function in report.stats.iter() {
        function_row(&mut functions, function, now);
    }
    if functions.is_empty() {
        functions
            .push_str("<tr><td class=\"empty\" colspan=\"7\">No function has run yet.</td></tr>");
    }
    let mut latest: Vec<&FunctionStats> = report
        .stats
        .iter()
        .filter(|f| f.last_error.is_some())
        .collect();
    latest.sort_by(|a, b| {
        let time = |f: &FunctionStats| f.last_error.as_ref().map(|error| error.time);
        time(b).cmp(&time(a))
    });
    let mut failures = String::new();
    for function in latest.into_iter().take(LATEST_FAILURES) {
        if let Some(error) = &function.last_error {
            failures.push_str("<tr>");
            cell(&mut failures, &human_ago(error.time.0, now), "");
            cell(&mut failures, &function.name, "name");
            cell(&mut failures, &error.error_type, "");
            cell(&mut failures, &error.message, "msg");
            failures.push_str("</tr>");
        }
    }
    if failures.is_empty() {
        failures.push_str("<tr><td class=\"empty\" colspan=\"4\">No failure yet.</td></tr>");
    }
    let verdict = report.health.verdict.as_str();
    let generated = crate::timestamp::Timestamp(now).to_string();
    let body = fill(
        TEMPLATE,
        &[
            ("VERDICT", verdict),
            ("REASONS", &reasons),
            ("GENERATED", &generated),
            ("ALERTS", &alerts),
            ("FAILURES", &failures),
            ("FUNCTIONS", &functions),
        ],
    );
    Response::new(200, HTML, body).header(
        "Content-Security-Policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
    )
}

/// Replaces each `{{KEY}}` of `template` in one pass (so text filled in is
/// never read as a placeholder).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}").and_then(|end| {
            let key = &after[..end];
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, value)| (end, *value))
        }) {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn function_row(out: &mut String, function: &FunctionStats, now: SystemTime) {
    let color = match crate::report::icon(function) {
        "🔴" => "red",
        "🟡" => "yellow",
        "🟢" => "green",
        _ => "",
    };
    out.push_str("<tr><td class=\"name\"><span class=\"dot ");
    out.push_str(color);
    out.push_str("\"></span>");
    escape(out, &function.name);
    out.push_str("</td>");
    cell(out, &function.total_executions.to_string(), "num");
    cell(
        out,
        &format!("{:.1}%", function.success_rate * 100.0),
        "num",
    );
    for quantile in [function.p50_ms, function.p95_ms, function.p99_ms] {
        cell(
            out,
            &quantile.map_or_else(|| "–".to_owned(), human_ms),
            "num",
        );
    }
    let last_error = function
        .last_error
        .as_ref()
        .map_or_else(String::new, |error| {
            format!(
                "{}: {} ({})",
                error.error_type,
                error.message,
                human_ago(error.time.0, now)
            )
        });
    cell(out, &last_error, "msg");
    out.push_str("</tr>");
}

fn cell(out: &mut String, text: &str, class: &str) {
    if class.is_empty() {
        out.push_str("<td>");
    } else {
        out.push_str("<td class=\"");
        out.push_str(class);
        out.push_str("\">");
    }
    escape(out, text);
    out.push_str("</td>");
}

/// Appends `text` with HTML's special characters escaped.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_filled_once() {
        let out = super::fill("a {{X}} b {{Y}} {{Z}}", &[("X", "{{Y}}"), ("Y", "y")]);
        assert_eq!(out, "a {{Y}} b y {{Z}}");
    }

    #[test]
    fn html_is_escaped() {
        let mut out = String::new();
        super::escape(&mut out, "<script>\"a\" & 'b'</script>");
        assert_eq!(
            out,
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
