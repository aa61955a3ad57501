//! The alert endpoints that do more than read what the collector published:
//! `GET /api/alerts?history=…` (reads `stats.db`), `POST
//! /api/alerts/{episode}/ack` and `GET`/`PUT /api/alert-rules` (ask the
//! collector, waiting at most a second). Rare, operator-driven requests:
//! they are answered on the server thread like the others.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::request::{Method, Request};
use super::response::Response;
use crate::alerts::{AlertRule, AlertRules, AlertRulesInUse, AlertsError, MemoryGrowth, Severity};
use crate::json::Value;

/// `?a=1&b=x` as pairs, percent-decoded (`+` is a space).
fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What `history`, `since` and `until` accept, for a 400's message.
const NOT_A_TIME: &str =
    "not a time: write a duration ago such as 7d, 24h, 90m or 1h30m, or an RFC 3339 time";

/// A duration before `now` (`7d`, `24h`, `1h30m`: [`crate::parse_duration`],
/// as on the command line), or an RFC 3339 time.
fn parse_when(text: &str, now: SystemTime) -> Option<SystemTime> {
    if let Some(time) = monitor_sinks::time::parse_rfc3339(text) {
        return Some(time);
    }
    now.checked_sub(crate::parse_duration(text)?)
}

/// `GET /api/alerts`: the firing alerts; with `history` (optionally a
/// duration, `history=7d`) the history too, filtered by `rule`,
/// `function`, `severity` (the least urgent wanted), `since`, `until`,
/// `episode` and `limit`.
pub(super) fn alerts(request: &Request, firing: Vec<crate::Alert>, now: SystemTime) -> Response {
    let params = params(&request.query);
    if !params.iter().any(|(key, _)| key == "history") {
        return Response::json(200, &firing);
    }
    let mut query = crate::AlertQuery::new();
    for (key, value) in &params {
        let bad = |what: &str| Response::error(400, &format!("`{key}={value}`: {what}"));
        match key.as_str() {
            "history" | "since" if value.is_empty() || value == "true" || value == "1" => {}
            "history" | "since" => match parse_when(value, now) {
                Some(since) => query.since = Some(since),
                None => return bad(NOT_A_TIME),
            },
            "until" => match parse_when(value, now) {
                Some(until) => query.until = Some(until),
                None => return bad(NOT_A_TIME),
            },
            "rule" => match AlertRule::from_name(value) {
                Some(rule) => query.rule = Some(rule),
                None => return bad("no such rule"),
            },
            "function" => query.function = Some(value.clone()),
            "severity" => match Severity::from_name(value) {
                Some(severity) => query.min_severity = Some(severity),
                None => return bad("write info, warning, error or critical"),
            },
            "episode" => match value.parse() {
                Ok(id) => query.episode = Some(id),
                Err(_) => return bad("not an episode number"),
            },
            "limit" => match value.parse() {
                Ok(limit) if limit <= 100_000 => query.limit = limit,
                _ => return bad("write a number of notifications up to 100000"),
            },
            _ => return bad("unknown parameter; try history, rule, function, severity, since, until, episode, limit"),
        }
    }
    match crate::alerts(&query) {
        Ok(alerts) => Response::json(
            200,
            &History {
                firing: alerts.firing,
                history: alerts.history,
            },
        ),
        Err(error) => failure(&error),
    }
}

#[derive(Serialize)]
struct History {
    firing: Vec<crate::Alert>,
    history: Vec<crate::Alert>,
}

/// The status and message of a refused alert request.
fn failure(error: &AlertsError) -> Response {
    let status = match error {
        AlertsError::UnknownEpisode(_) => 404,
        AlertsError::EpisodeResolved(_) => 409,
        AlertsError::InvalidRules { .. } | AlertsError::NoAcknowledger => 400,
        AlertsError::NoAnswer | AlertsError::NotInstalled => 503,
        AlertsError::Store(_) => 500,
    };
    Response::error(status, &error.to_string())
}

fn object(body: &[u8]) -> Result<Vec<(String, Value)>, Response> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Response::error(400, "the body is not UTF-8 JSON"))?;
    match crate::json::parse(text) {
        Ok(Value::Object(members)) => Ok(members),
        Ok(_) => Err(Response::error(400, "the body must be a JSON object")),
        Err(error) => Err(Response::error(
            400,
            &format!("the body is not JSON: {error}"),
        )),
    }
}

/// `POST /api/alerts/{episode}/ack` with `{"by": "…", "note": "…"}`.
pub(super) fn acknowledge(request: &Request, episode: &str) -> Response {
    if request.method != Method::Post {
        return Response::error(405, "acknowledge with POST").header("Allow", "POST");
    }
    let Ok(episode) = episode.parse::<u64>() else {
        return Response::error(400, "the episode must be a number: /api/alerts/12/ack");
    };
    let members = match object(&request.body) {
        Ok(members) => members,
        Err(response) => return response,
    };
    let (mut by, mut note) = (None, None);
    for (key, value) in members {
        match (key.as_str(), value) {
            ("by", Value::String(text)) if !text.trim().is_empty() => by = Some(text),
            ("note", Value::String(text)) => note = Some(text),
            ("note", Value::Null) => {}
            (key, _) => {
                return Response::error(
                    400,
                    &format!("`{key}`: write {{\"by\": \"name\", \"note\": \"text\"}}"),
                )
            }
        }
    }
    let Some(by) = by else {
        return Response::error(400, "`by` is required: who acknowledges");
    };
    match crate::acknowledge(episode, by.trim(), note.as_deref()) {
        Ok(()) => Response::json(
            200,
            &Acked {
                acknowledged: episode,
                by: by.trim(),
            },
        ),
        Err(error) => failure(&error),
    }
}

#[derive(Serialize)]
struct Acked<'a> {
    acknowledged: u64,
    by: &'a str,
}

/// `GET /api/alert-rules`, and `PUT` with the fields to change.
pub(super) fn rules(request: &Request) -> Response {
    match request.method {
        Method::Get | Method::Head => Response::json(200, &RulesJson::of(&crate::alert_rules())),
        Method::Put => put_rules(&request.body),
        _ => Response::error(405, "GET or PUT").header("Allow", "GET, HEAD, PUT"),
    }
}

fn put_rules(body: &[u8]) -> Response {
    let members = match object(body) {
        Ok(members) => members,
        Err(response) => return response,
    };
    let current = crate::alert_rules();
    let mut global = None;
    let mut functions = Vec::new();
    for (key, value) in members {
        match (key.as_str(), value) {
            ("global", Value::Object(fields)) => match apply(current.global.clone(), fields) {
                Ok(rules) => global = Some(rules),
                Err(why) => return Response::error(400, &format!("global: {why}")),
            },
            ("per_function", Value::Object(entries)) => {
                for (name, value) in entries {
                    let Value::Object(fields) = value else {
                        return Response::error(
                            400,
                            &format!("per_function.{name}: write an object"),
                        );
                    };
                    match apply(current.for_function(&name).clone(), fields) {
                        Ok(rules) => functions.push((name, rules)),
                        Err(why) => {
                            return Response::error(400, &format!("per_function.{name}: {why}"))
                        }
                    }
                }
            }
            (key, _) => {
                return Response::error(
                    400,
                    &format!(
                    "`{key}`: write {{\"global\": {{…}}, \"per_function\": {{\"name\": {{…}}}}}}"
                ),
                )
            }
        }
    }
    // Every set is checked before any is applied.
    if let Some(rules) = &global {
        if let Err(error) = rules.validate() {
            return failure(&error);
        }
    }
    for (name, rules) in &functions {
        if let Err(AlertsError::InvalidRules { reason }) = rules.validate() {
            return Response::error(400, &format!("invalid alert rules for `{name}`: {reason}"));
        }
    }
    if let Some(rules) = global {
        if let Err(error) = crate::set_alert_rules(rules) {
            return failure(&error);
        }
    }
    for (name, rules) in functions {
        if let Err(error) = crate::set_alert_rules_for(name, rules) {
            return failure(&error);
        }
    }
    Response::json(200, &RulesJson::of(&crate::alert_rules()))
}

/// The rules as JSON: durations in seconds (`slow_threshold_ms` in ms).
#[derive(Serialize)]
struct RulesJson {
    global: RuleSetJson,
    per_function: BTreeMap<String, RuleSetJson>,
}

#[derive(Serialize)]
struct RuleSetJson {
    window_secs: f64,
    error_rate_threshold: f64,
    error_rate_min_executions: u64,
    consecutive_failures: u64,
    slow_threshold_ms: Option<f64>,
    schedule_grace_secs: f64,
    repeat_interval_secs: f64,
    stuck_after_secs: f64,
    queue_fill_threshold: f64,
    health_success_rate: f64,
    memory_threshold_bytes: Option<u64>,
    memory_growth: Option<MemoryGrowthJson>,
    pending_for_secs: BTreeMap<&'static str, f64>,
    severities: BTreeMap<&'static str, &'static str>,
    disabled: Vec<&'static str>,
}

#[derive(Serialize)]
struct MemoryGrowthJson {
    window_secs: f64,
    growth: f64,
    drop_tolerance: f64,
}

impl RulesJson {
    fn of(rules: &AlertRulesInUse) -> Self {
        RulesJson {
            global: RuleSetJson::of(&rules.global),
            per_function: rules
                .per_function
                .iter()
                .map(|(name, rules)| (name.clone(), RuleSetJson::of(rules)))
                .collect(),
        }
    }
}

impl RuleSetJson {
    fn of(rules: &AlertRules) -> Self {
        RuleSetJson {
            window_secs: rules.window.as_secs_f64(),
            error_rate_threshold: rules.error_rate_threshold,
            error_rate_min_executions: rules.error_rate_min_executions,
            consecutive_failures: rules.consecutive_failures,
            slow_threshold_ms: rules.slow_threshold.map(|d| d.as_secs_f64() * 1000.0),
            schedule_grace_secs: rules.schedule_grace.as_secs_f64(),
            repeat_interval_secs: rules.repeat_interval.as_secs_f64(),
            stuck_after_secs: rules.stuck_after.as_secs_f64(),
            queue_fill_threshold: rules.queue_fill_threshold,
            health_success_rate: rules.health_success_rate,
            memory_threshold_bytes: rules.memory_threshold,
            memory_growth: rules.memory_growth.map(|growth| MemoryGrowthJson {
                window_secs: growth.window.as_secs_f64(),
                growth: growth.growth,
                drop_tolerance: growth.drop_tolerance,
            }),
            pending_for_secs: rules
                .pending_for
                .iter()
                .map(|(rule, d)| (rule.as_str(), d.as_secs_f64()))
                .collect(),
            severities: rules
                .severities
                .iter()
                .map(|(rule, s)| (rule.as_str(), s.as_str()))
                .collect(),
            disabled: rules.disabled.iter().map(|rule| rule.as_str()).collect(),
        }
    }
}

fn number(value: &Value) -> Option<f64> {
    match *value {
        Value::Unsigned(n) => Some(n as f64),
        Value::Signed(n) => Some(n as f64),
        Value::Float(n) => Some(n),
        _ => None,
    }
}

fn count(value: &Value) -> Option<u64> {
    match *value {
        Value::Unsigned(n) => Some(n),
        _ => None,
    }
}

/// A duration of `value` units of `scale` seconds: positive, finite.
fn duration(value: &Value, scale: f64) -> Option<Duration> {
    number(value)
        .map(|n| n * scale)
        .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 1e12)
        .map(Duration::from_secs_f64)
}

fn rule_name(name: &str) -> Result<AlertRule, String> {
    AlertRule::from_name(name).ok_or_else(|| format!("`{name}` is no rule"))
}

/// `rules` with the fields of `fields` changed; an unknown field or a value
/// of the wrong type is an error naming it (values are checked later).
fn apply(mut rules: AlertRules, fields: Vec<(String, Value)>) -> Result<AlertRules, String> {
    for (key, value) in fields {
        let wrong = || format!("`{key}` has a value of the wrong type or sign");
        match key.as_str() {
            "window_secs" => rules.window = duration(&value, 1.0).ok_or_else(wrong)?,
            "error_rate_threshold" => {
                rules.error_rate_threshold = number(&value).ok_or_else(wrong)?
            }
            "error_rate_min_executions" => {
                rules.error_rate_min_executions = count(&value).ok_or_else(wrong)?
            }
            "consecutive_failures" => {
                rules.consecutive_failures = count(&value).ok_or_else(wrong)?
            }
            "slow_threshold_ms" => {
                rules.slow_threshold = match value {
                    Value::Null => None,
                    ref value => Some(duration(value, 0.001).ok_or_else(wrong)?),
                }
            }
            "schedule_grace_secs" => {
                rules.schedule_grace = duration(&value, 1.0).ok_or_else(wrong)?
            }
            "repeat_interval_secs" => {
                rules.repeat_interval = duration(&value, 1.0).ok_or_else(wrong)?
            }
            "stuck_after_secs" => rules.stuck_after = duration(&value, 1.0).ok_or_else(wrong)?,
            "queue_fill_threshold" => {
                rules.queue_fill_threshold = number(&value).ok_or_else(wrong)?
            }
            "health_success_rate" => {
                rules.health_success_rate = number(&value).ok_or_else(wrong)?
            }
            "memory_threshold_bytes" => {
                rules.memory_threshold = match value {
                    Value::Null => None,
                    ref value => Some(count(value).ok_or_else(wrong)?),
                }
            }
            "memory_growth" => {
                rules.memory_growth = match value {
                    Value::Null => None,
                    Value::Object(fields) => Some(memory_growth(fields)?),
                    _ => return Err(wrong()),
                }
            }
            "pending_for_secs" => {
                let Value::Object(entries) = value else {
                    return Err(wrong());
                };
                rules.pending_for.clear();
                for (name, value) in entries {
                    let secs = duration(&value, 1.0).ok_or_else(wrong)?;
                    rules.pending_for.insert(rule_name(&name)?, secs);
                }
            }
            "severities" => {
                let Value::Object(entries) = value else {
                    return Err(wrong());
                };
                rules.severities.clear();
                for (name, value) in entries {
                    let Value::String(severity) = value else {
                        return Err(wrong());
                    };
                    let severity = Severity::from_name(&severity)
                        .ok_or_else(|| format!("`{severity}` is no severity"))?;
                    rules.severities.insert(rule_name(&name)?, severity);
                }
            }
            "disabled" => {
                let Value::Array(names) = value else {
                    return Err(wrong());
                };
                rules.disabled.clear();
                for name in names {
                    let Value::String(name) = name else {
                        return Err(wrong());
                    };
                    rules.disabled.insert(rule_name(&name)?);
                }
            }
            _ => return Err(format!("`{key}` is no rule setting")),
        }
    }
    Ok(rules)
}

/// A `memory_growth` object: the fields it names, the defaults for the others.
fn memory_growth(fields: Vec<(String, Value)>) -> Result<MemoryGrowth, String> {
    let mut growth = MemoryGrowth::default();
    for (key, value) in fields {
        let wrong = || format!("`memory_growth.{key}` has a value of the wrong type or sign");
        match key.as_str() {
            "window_secs" => growth.window = duration(&value, 1.0).ok_or_else(wrong)?,
            "growth" => growth.growth = number(&value).ok_or_else(wrong)?,
            "drop_tolerance" => growth.drop_tolerance = number(&value).ok_or_else(wrong)?,
            _ => {
                return Err(format!(
                    "`memory_growth.{key}` is no setting; write window_secs, growth, drop_tolerance"
                ))
            }
        }
    }
    Ok(growth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_percent_decoded() {
        assert_eq!(
            params("function=jobs%3A%3Async&rule=slow_execution&x"),
            vec![
                ("function".to_owned(), "jobs::sync".to_owned()),
                ("rule".to_owned(), "slow_execution".to_owned()),
                ("x".to_owned(), String::new())
            ]
        );
        assert_eq!(decode("a+b%2"), "a b%2");
    }

    #[test]
    fn rules_take_known_fields_of_the_right_type() {
        let fields = match crate::json::parse(
            r#"{"consecutive_failures": 2, "window_secs": 60, "slow_threshold_ms": 250, "disabled": ["queue_full"]}"#,
        )
        .unwrap()
        {
            Value::Object(fields) => fields,
            _ => unreachable!(),
        };
        let rules = apply(AlertRules::default(), fields).unwrap();
        assert_eq!(rules.consecutive_failures, 2);
        assert_eq!(rules.window, Duration::from_secs(60));
        assert_eq!(rules.slow_threshold, Some(Duration::from_millis(250)));
        assert!(!rules.is_enabled(AlertRule::QueueFull));
        let bad = vec![("window_secs".to_owned(), Value::Signed(-5))];
        assert!(apply(AlertRules::default(), bad)
            .unwrap_err()
            .contains("window_secs"));
        let unknown = vec![("windw".to_owned(), Value::Unsigned(5))];
        assert!(apply(AlertRules::default(), unknown)
            .unwrap_err()
            .contains("windw"));
    }
}
