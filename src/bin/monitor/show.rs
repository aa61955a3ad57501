//! `monitor show ID`: one execution whole — every log field, the errors
//! log's detail (chain, stack trace, context) and the trace tree. An
//! unknown id is exit code 1.

use monitor::query::{to_json, ExecutionDetail, JsonValue, LogDir};
use monitor::TraceNode;

use crate::args::{Common, ShowArgs};
use crate::out::{Colour, Failure, Out};
use crate::table::{cut, hard_wrap, one_line, wrap, WIDTH};
use monitor::query::human_ms;

/// Width of the label column.
const LABEL: usize = 11;

pub(crate) fn run(
    logs: &LogDir,
    common: &Common,
    args: &ShowArgs,
    out: &mut Out,
) -> Result<u8, Failure> {
    let found = logs.execution(args.id).map_err(Failure::new)?;
    crate::progress::finish();
    let Some(execution) = found else {
        return Err(Failure::new(format_args!(
            "no execution {} in {} (its files may have been deleted by retention)",
            args.id,
            logs.path().display()
        )));
    };
    if common.json {
        out.line(&to_json(&execution))?;
        return Ok(0);
    }
    for (line, colour) in lines(&execution) {
        let painted = out.paint(&line, colour);
        out.line(&painted)?;
    }
    Ok(0)
}

/// The text form, each line with the colour of its status (if any).
fn lines(execution: &ExecutionDetail) -> Vec<(String, Option<Colour>)> {
    let summary = &execution.summary;
    let mut lines = Vec::new();
    let mut field = |label: &str, value: &str, colour: Option<Colour>| {
        let first = format!("{label:<LABEL$} ");
        let rest = " ".repeat(LABEL + 1);
        for line in wrap(&one_line(value), &first, &rest) {
            lines.push((line, colour));
        }
    };
    if let Some(id) = summary.id {
        field("id", &id.to_string(), None);
    }
    field("started", &summary.timestamp.to_string(), None);
    field("name", &summary.name, None);
    let status = summary.status.as_str();
    field("status", status, Colour::of_status(status));
    field("duration", &human_ms(summary.duration_ms), None);
    if let Some(busy) = execution.busy_ms {
        field("busy", &human_ms(busy), None);
    }
    field("thread", &summary.thread, None);
    field("trigger", &summary.trigger_type, None);
    if let Some(kind) = &summary.error_type {
        field("error type", kind, None);
    }
    if let Some(message) = &summary.error_message {
        let cut = if execution.error_message_truncated {
            " (cut at the capture limit)"
        } else {
            ""
        };
        field("message", &format!("{message}{cut}"), None);
    }
    for (index, cause) in execution.error_chain.iter().enumerate() {
        let label = if index == 0 { "caused by" } else { "" };
        field(label, &format!("{}. {cause}", index + 1), None);
    }
    if !summary.fields.is_empty() {
        let fields: Vec<String> = summary
            .fields
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        field("fields", &fields.join(" "), None);
    }
    if let Some(context) = &execution.context {
        field("context", &context_text(context), None);
    }
    for (key, value) in &execution.other {
        field(key, &value.to_string(), None);
    }
    if let Some(trace) = &execution.stack_trace {
        lines.push(("stack trace".to_owned(), None));
        for line in trace.lines() {
            for wrapped in hard_wrap(&one_line(line), "  ", "      ") {
                lines.push((wrapped, None));
            }
        }
    }
    if let Some(trace) = &execution.execution_trace {
        lines.push(("trace".to_owned(), None));
        for node in &trace.children {
            tree(node, 1, &mut lines);
        }
        if trace.truncated {
            lines.push((
                format!("  … {} more spans left out", trace.omitted),
                Some(Colour::Dim),
            ));
        }
    }
    lines
}

/// `module app::jobs, src/jobs.rs:42, panic at src/jobs.rs:44:9`, or the
/// object as JSON when it has another shape.
fn context_text(context: &JsonValue) -> String {
    let text = |key| context.get(key).map(JsonValue::to_string);
    let mut parts = Vec::new();
    if let Some(module) = text("module") {
        parts.push(format!("module {module}"));
    }
    match (text("file"), text("line")) {
        (Some(file), Some(line)) => parts.push(format!("{file}:{line}")),
        (Some(file), None) => parts.push(file),
        _ => {}
    }
    if let Some(location) = text("panic_location") {
        parts.push(format!("panic at {location}"));
    }
    if parts.is_empty() {
        context.to_string()
    } else {
        parts.join(", ")
    }
}

/// One span and its children, indented by depth.
fn tree(node: &TraceNode, depth: usize, lines: &mut Vec<(String, Option<Colour>)>) {
    let status = node.status.as_str();
    let mut line = format!(
        "{:indent$}{}  {status}  {}  at +{}",
        "",
        node.name,
        human_ms(node.duration_ms),
        human_ms(node.start_offset_ms),
        indent = depth * 2
    );
    if let Some(error) = &node.error {
        line.push_str(&format!("  {error}"));
    }
    lines.push((cut(&one_line(&line), WIDTH), Colour::of_status(status)));
    for child in &node.children {
        tree(child, depth + 1, lines);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_reads_as_a_location() {
        let context = JsonValue::Object(vec![
            ("module".into(), JsonValue::String("app::jobs".into())),
            ("file".into(), JsonValue::String("src/jobs.rs".into())),
            ("line".into(), JsonValue::Unsigned(42)),
            (
                "panic_location".into(),
                JsonValue::String("src/jobs.rs:44:9".into()),
            ),
        ]);
        assert_eq!(
            context_text(&context),
            "module app::jobs, src/jobs.rs:42, panic at src/jobs.rs:44:9"
        );
        let odd = JsonValue::Object(vec![("x".into(), JsonValue::Bool(true))]);
        assert_eq!(context_text(&odd), r#"{"x":true}"#);
    }
}
