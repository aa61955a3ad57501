//! Statistics over a time window and daily trends, answered from the
//! per-minute roll-ups ([`WindowStats`], [`FunctionTrend`]): in process by
//! [`stats_window`](crate::stats_window) and [`trend`](crate::trend), from
//! another process by [`rollup_reader`](crate::rollup_reader).
//!
//! The roll-ups hold, per function and per minute in which executions
//! finished (by the monitor's clock), the counts by status, the sum, min
//! and max of the durations and a latency histogram; the store keeps the
//! same per hour and per day. A window is answered from the day rows it
//! covers whole, the hour rows of the whole hours left and the minute rows
//! at its two ends, so a week over a hundred functions reads a few thousand
//! rows, never the logs.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use monitor_sinks::stats_store::{
    FoldedBefore, NameMatch, RollupRow, DAY_SECS as DAY_ROW_SECS, HOUR_SECS, MINUTE_SECS,
};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::name_filter::NameFilter;
use crate::stats::Histogram;
use crate::timestamp::Timestamp;

/// Seconds of a day.
const DAY_SECS: i64 = 86_400;
/// The most days a trend covers (ten years); a larger `days` is cut to it.
pub(crate) const MAX_TREND_DAYS: u32 = 3660;

/// Counts, success rate and latency of a set of executions (one function's,
/// or every function's) over a window.
///
/// `total == success + error + panic`; cancelled executions (async calls
/// dropped before they completed) are counted apart and have no duration.
/// The rates and durations are `None` when there is no completed execution.
/// Percentiles come from merged histograms: within 1.6 % of the exact
/// value, and never below the minimum or above the maximum.
///
/// ```
/// let stats = monitor_core::stats_window(std::time::Duration::from_secs(3600));
/// let totals = &stats.totals;
/// assert_eq!(totals.total, totals.success + totals.error + totals.panic);
/// if totals.total == 0 {
///     assert_eq!(totals.success_rate, None);
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct WindowSummary {
    /// Completed executions: successes, errors and panics.
    pub total: u64,
    /// Executions that returned anything but `Err`.
    pub success: u64,
    /// Executions that returned `Err` (or spans with an ERROR event).
    pub error: u64,
    /// Executions that panicked.
    pub panic: u64,
    /// Async executions dropped before they completed (not in `total`).
    pub cancelled: u64,
    /// `success / total`, from 0 to 1; `None` when `total` is 0.
    pub success_rate: Option<f64>,
    /// Mean duration in milliseconds.
    pub mean_ms: Option<f64>,
    /// Median duration in milliseconds.
    pub p50_ms: Option<f64>,
    /// 95th percentile duration in milliseconds.
    pub p95_ms: Option<f64>,
    /// 99th percentile duration in milliseconds.
    pub p99_ms: Option<f64>,
    /// Longest duration in milliseconds (exact).
    pub max_ms: Option<f64>,
}

/// One function's [`WindowSummary`].
///
/// Serialised flat: `{"name": "…", "total": …, "success": …, …}`.
///
/// ```
/// let stats = monitor_core::stats_window(std::time::Duration::from_secs(60));
/// for function in &stats.functions {
///     println!("{}: {} executions", function.name, function.summary.total);
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FunctionWindow {
    /// The function's name.
    pub name: String,
    /// Its executions in the window.
    pub summary: WindowSummary,
}

/// Statistics over a time window: per function (sorted by name, only
/// functions with executions in the window) and across functions.
///
/// The window ends at `to` (the monitor's clock when asked) and starts at
/// `from`: `to - window`, rounded down to its minute (the roll-ups count per
/// minute, so the window covers whole minutes, the current one included).
/// Where `stats.db` no longer holds the minute rows of that start (kept 7
/// days by default, see
/// [`rollup_retention`](crate::MonitorBuilder::rollup_retention)), `from`
/// is rounded down to its hour instead, and past the hour rows (90 days)
/// to its UTC day: the window then also holds the executions of the start
/// of that hour or day.
///
/// Serialised as `{"window_secs": N, "from": "…", "to": "…", "functions":
/// [{"name": …, "total": …, …}], "totals": {…}}`, `null` where there is no
/// value.
///
/// ```
/// use std::time::Duration;
///
/// let stats = monitor_core::stats_window(Duration::from_secs(24 * 3600));
/// assert_eq!(stats.window, Duration::from_secs(24 * 3600));
/// assert!(stats.from <= stats.to);
/// for function in &stats.functions {
///     if let Some(rate) = function.summary.success_rate {
///         println!("{} {:.1} %", function.name, rate * 100.0);
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WindowStats {
    /// The window asked for.
    pub window: Duration,
    /// Start of the first minute (or hour, or day: see above) in the window.
    pub from: Timestamp,
    /// End of the window: when it was asked, by the monitor's clock.
    pub to: Timestamp,
    /// Per function, sorted by name.
    pub functions: Vec<FunctionWindow>,
    /// Across every function in `functions` (percentiles of all their
    /// executions together).
    pub totals: WindowSummary,
}

/// One day of a [`FunctionTrend`].
///
/// ```
/// for function in monitor_core::trend(7) {
///     for point in &function.points {
///         println!("{} {} {}: {:?}", function.name, point.day, point.total, point.success_rate);
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct TrendPoint {
    /// The UTC day, `2026-12-06`.
    pub day: String,
    /// Completed executions that day.
    pub total: u64,
    /// Successes over completed executions; `None` without executions.
    pub success_rate: Option<f64>,
    /// 95th percentile duration in milliseconds; `None` without executions.
    pub p95_ms: Option<f64>,
}

/// A function's daily success rate and p95 over the last days: one
/// [`TrendPoint`] per UTC day, oldest first, today last (so far).
///
/// ```
/// let trends = monitor_core::trend(7);
/// assert!(trends.iter().all(|t| t.points.len() == 7));
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct FunctionTrend {
    /// The function's name.
    pub name: String,
    /// One point per day, oldest first.
    pub points: Vec<TrendPoint>,
}

fn summary_fields<S: SerializeStruct>(
    state: &mut S,
    summary: &WindowSummary,
) -> Result<(), S::Error> {
    state.serialize_field("total", &summary.total)?;
    state.serialize_field("success", &summary.success)?;
    state.serialize_field("error", &summary.error)?;
    state.serialize_field("panic", &summary.panic)?;
    state.serialize_field("cancelled", &summary.cancelled)?;
    state.serialize_field("success_rate", &summary.success_rate)?;
    state.serialize_field("mean_ms", &summary.mean_ms)?;
    state.serialize_field("p50_ms", &summary.p50_ms)?;
    state.serialize_field("p95_ms", &summary.p95_ms)?;
    state.serialize_field("p99_ms", &summary.p99_ms)?;
    state.serialize_field("max_ms", &summary.max_ms)
}

impl Serialize for FunctionWindow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("FunctionWindow", 12)?;
        state.serialize_field("name", &self.name)?;
        summary_fields(&mut state, &self.summary)?;
        state.end()
    }
}

impl Serialize for WindowStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("WindowStats", 5)?;
        state.serialize_field("window_secs", &self.window.as_secs())?;
        state.serialize_field("from", &self.from)?;
        state.serialize_field("to", &self.to)?;
        state.serialize_field("functions", &self.functions)?;
        state.serialize_field("totals", &self.totals)?;
        state.end()
    }
}

/// Nanoseconds since the Unix epoch (negative before it).
fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// The time `secs` seconds after (or before) the Unix epoch.
fn time_of(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// Floor of `nanos / (secs * 1e9)`, times `secs`: the start of the bucket
/// of `secs` seconds holding that instant, in seconds.
fn floor_to(nanos: i128, secs: i64) -> i64 {
    let step = i128::from(secs) * 1_000_000_000;
    let start = nanos.div_euclid(step) * i128::from(secs);
    start.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2)) as i64
}

/// The time range a read covers: bucket starts in `from..end` (seconds),
/// minute-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) from: i64,
    pub(crate) end: i64,
}

impl Span {
    /// The minutes of `window` up to `now` (the current minute included).
    pub(crate) fn window(window: Duration, now: SystemTime) -> Span {
        let now = unix_nanos(now);
        let start = now - window.as_nanos().min(i128::MAX as u128 / 4) as i128;
        Span {
            from: floor_to(start, i64::from(MINUTE_SECS)),
            end: floor_to(now, i64::from(MINUTE_SECS)) + i64::from(MINUTE_SECS),
        }
    }

    /// The last `days` UTC days up to `now` (today so far included).
    pub(crate) fn days(days: u32, now: SystemTime) -> Span {
        let now = unix_nanos(now);
        let today = floor_to(now, DAY_SECS);
        Span {
            from: today - i64::from(days.saturating_sub(1)) * DAY_SECS,
            end: floor_to(now, i64::from(MINUTE_SECS)) + i64::from(MINUTE_SECS),
        }
    }

    /// The `(bucket_secs, from, to)` ranges to read: day rows for the days
    /// inside, hour rows for the hours inside the rest, minute rows at the
    /// ends. Each execution is in exactly one of them, and a week reads a
    /// few dozen rows per function.
    pub(crate) fn ranges(self) -> Vec<(u32, i64, i64)> {
        let first_day = ceil_to(self.from, DAY_SECS);
        let last_day = self.end.div_euclid(DAY_SECS) * DAY_SECS;
        let mut ranges = Vec::with_capacity(7);
        if first_day < last_day {
            hours_and_minutes(self.from, first_day, &mut ranges);
            ranges.push((DAY_ROW_SECS, first_day, last_day));
            hours_and_minutes(last_day, self.end, &mut ranges);
        } else {
            hours_and_minutes(self.from, self.end, &mut ranges);
        }
        ranges.retain(|&(_, from, to)| from < to);
        ranges
    }

    /// This span as the store can answer it: a start before
    /// `folded.minutes_from` (minute rows deleted by the retention) moves
    /// back to its whole hour, one before `folded.hours_from` to its whole
    /// UTC day, so the rows read hold every execution of the span asked for
    /// (and those of the start of that hour or day).
    pub(crate) fn within(self, folded: FoldedBefore) -> Span {
        let from = if self.from < folded.hours_from {
            self.from.div_euclid(DAY_SECS) * DAY_SECS
        } else if self.from < folded.minutes_from {
            let hour = i64::from(HOUR_SECS);
            self.from.div_euclid(hour) * hour
        } else {
            self.from
        };
        Span { from, ..self }
    }

    /// Whether an unsaved minute row falls inside.
    pub(crate) fn holds(self, row: &RollupRow) -> bool {
        row.bucket_start >= self.from && row.bucket_start < self.end
    }
}

/// `value` rounded up to a multiple of `step`.
fn ceil_to(value: i64, step: i64) -> i64 {
    (value + step - 1).div_euclid(step) * step
}

/// Hour rows for the whole hours of `from..end`, minute rows around them.
fn hours_and_minutes(from: i64, end: i64, ranges: &mut Vec<(u32, i64, i64)>) {
    let hour = i64::from(HOUR_SECS);
    let first_hour = ceil_to(from, hour);
    let last_hour = end.div_euclid(hour) * hour;
    if first_hour < last_hour {
        ranges.push((MINUTE_SECS, from, first_hour));
        ranges.push((HOUR_SECS, first_hour, last_hour));
        ranges.push((MINUTE_SECS, last_hour, end));
    } else {
        ranges.push((MINUTE_SECS, from, end));
    }
}

/// A [`NameFilter`] as the store's [`NameMatch`].
pub(crate) fn name_match(filter: Option<&NameFilter>) -> NameMatch<'_> {
    match filter {
        None => NameMatch::All,
        Some(filter) => match (filter.as_exact(), filter.as_prefix()) {
            (Some(exact), _) => NameMatch::Exact(exact),
            (None, Some(prefix)) => NameMatch::Prefix(prefix),
            (None, None) => NameMatch::All,
        },
    }
}

/// Executions added up from roll-up rows.
#[derive(Clone, Debug, Default)]
struct Sum {
    success: u64,
    error: u64,
    panic: u64,
    cancelled: u64,
    sum_ms: f64,
    min_ms: Option<f64>,
    max_ms: Option<f64>,
    histogram: Histogram,
}

impl Sum {
    fn add_row(&mut self, row: &RollupRow) {
        self.success = self.success.saturating_add(row.success);
        self.error = self.error.saturating_add(row.error);
        self.panic = self.panic.saturating_add(row.panic);
        self.cancelled = self.cancelled.saturating_add(row.cancelled);
        self.sum_ms += row.sum_ms;
        self.min_ms = min_of(self.min_ms, row.min_ms);
        self.max_ms = max_of(self.max_ms, row.max_ms);
        self.histogram.add_sparse(&row.histogram);
    }

    fn add(&mut self, other: &Sum) {
        self.success = self.success.saturating_add(other.success);
        self.error = self.error.saturating_add(other.error);
        self.panic = self.panic.saturating_add(other.panic);
        self.cancelled = self.cancelled.saturating_add(other.cancelled);
        self.sum_ms += other.sum_ms;
        self.min_ms = min_of(self.min_ms, other.min_ms);
        self.max_ms = max_of(self.max_ms, other.max_ms);
        self.histogram.merge(&other.histogram);
    }

    fn total(&self) -> u64 {
        self.success
            .saturating_add(self.error)
            .saturating_add(self.panic)
    }

    /// A histogram quantile in milliseconds, clamped to the exact min and
    /// max (as [`FunctionStats`](crate::FunctionStats) does).
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let value = self.histogram.quantile(q)?;
        let nanos = |ms: f64| (ms * 1e6).round().max(0.0) as u64;
        let value = match (self.min_ms, self.max_ms) {
            (Some(min), Some(max)) if nanos(min) <= nanos(max) => {
                value.clamp(nanos(min), nanos(max))
            }
            _ => value,
        };
        Some(value as f64 / 1e6)
    }

    fn summary(&self) -> WindowSummary {
        let total = self.total();
        let completed = total > 0;
        WindowSummary {
            total,
            success: self.success,
            error: self.error,
            panic: self.panic,
            cancelled: self.cancelled,
            success_rate: completed.then(|| self.success as f64 / total as f64),
            mean_ms: completed.then(|| self.sum_ms / total as f64),
            p50_ms: if completed {
                self.quantile_ms(0.50)
            } else {
                None
            },
            p95_ms: if completed {
                self.quantile_ms(0.95)
            } else {
                None
            },
            p99_ms: if completed {
                self.quantile_ms(0.99)
            } else {
                None
            },
            max_ms: if completed { self.max_ms } else { None },
        }
    }
}

fn min_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The window's statistics from its rows (read from the store and not yet
/// saved; all inside `span` and passing the name filter).
pub(crate) fn window_from_rows<'a>(
    window: Duration,
    span: Span,
    now: SystemTime,
    rows: impl IntoIterator<Item = &'a RollupRow>,
) -> WindowStats {
    let mut by_name: BTreeMap<&str, Sum> = BTreeMap::new();
    for row in rows {
        by_name.entry(&row.name).or_default().add_row(row);
    }
    let mut totals = Sum::default();
    let functions = by_name
        .into_iter()
        .filter(|(_, sum)| sum.total() > 0 || sum.cancelled > 0)
        .map(|(name, sum)| {
            totals.add(&sum);
            FunctionWindow {
                name: name.to_owned(),
                summary: sum.summary(),
            }
        })
        .collect();
    WindowStats {
        window,
        from: Timestamp(time_of(span.from)),
        to: Timestamp(now),
        functions,
        totals: totals.summary(),
    }
}

/// `2026-12-06` for the day starting at `day_start` (Unix seconds).
fn day_text(day_start: i64) -> String {
    let (year, month, day) = monitor_sinks::time::civil_from_unix_days(day_start / DAY_SECS);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The daily trend from the rows of `span` (see [`Span::days`]).
pub(crate) fn trend_from_rows<'a>(
    span: Span,
    rows: impl IntoIterator<Item = &'a RollupRow>,
) -> Vec<FunctionTrend> {
    let days = usize::try_from((span.end - span.from + DAY_SECS - 1) / DAY_SECS).unwrap_or(0);
    let mut by_name: BTreeMap<&str, Vec<Sum>> = BTreeMap::new();
    for row in rows {
        let day = (row.bucket_start - span.from).div_euclid(DAY_SECS);
        let Some(day) = usize::try_from(day).ok().filter(|&day| day < days) else {
            continue;
        };
        let sums = by_name
            .entry(&row.name)
            .or_insert_with(|| vec![Sum::default(); days]);
        sums[day].add_row(row);
    }
    by_name
        .into_iter()
        .filter(|(_, sums)| sums.iter().any(|sum| sum.total() > 0 || sum.cancelled > 0))
        .map(|(name, sums)| FunctionTrend {
            name: name.to_owned(),
            points: sums
                .iter()
                .enumerate()
                .map(|(day, sum)| {
                    let summary = sum.summary();
                    TrendPoint {
                        day: day_text(span.from + day as i64 * DAY_SECS),
                        total: summary.total,
                        success_rate: summary.success_rate,
                        p95_ms: summary.p95_ms,
                    }
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> SystemTime {
        time_of(secs)
    }

    #[test]
    fn a_short_window_reads_minute_rows_only() {
        // 12:00:30 back 10 minutes: 11:50 to the end of 12:00.
        let noon = 1_800_000_000 / 86_400 * 86_400 + 12 * 3600;
        let span = Span::window(Duration::from_secs(600), at(noon + 30));
        assert_eq!(span.from, noon - 600);
        assert_eq!(span.end, noon + 60);
        assert_eq!(span.ranges(), vec![(60, noon - 600, noon + 60)]);
    }

    #[test]
    fn a_long_window_reads_whole_hours_and_minutes_at_both_ends() {
        let noon = 1_800_000_000 / 86_400 * 86_400 + 12 * 3600;
        let now = noon + 25 * 60 + 7; // 12:25:07
        let span = Span::window(Duration::from_secs(3 * 3600), at(now));
        assert_eq!(span.from, noon - 3 * 3600 + 25 * 60); // 09:25
        assert_eq!(
            span.ranges(),
            vec![
                (60, span.from, noon - 2 * 3600),
                (3600, noon - 2 * 3600, noon),
                (60, noon, noon + 26 * 60),
            ]
        );
    }

    #[test]
    fn a_week_reads_whole_days_then_hours_then_minutes() {
        let midnight = 1_800_000_000 / 86_400 * 86_400;
        let now = midnight + 13 * 3600 + 20 * 60 + 5; // 13:20:05
        let span = Span::window(Duration::from_secs(7 * 86_400), at(now));
        let week_ago = now / 60 * 60 - 7 * 86_400; // 13:20, seven days ago
        assert_eq!(span.from, week_ago);
        assert_eq!(
            span.ranges(),
            vec![
                (60, week_ago, week_ago + 40 * 60),
                (3600, week_ago + 40 * 60, midnight - 6 * 86_400),
                (86_400, midnight - 6 * 86_400, midnight),
                (3600, midnight, midnight + 13 * 3600),
                (60, midnight + 13 * 3600, midnight + 13 * 3600 + 21 * 60),
            ]
        );
        // A trend: whole days, today in hours and minutes.
        let days = Span::days(7, at(now));
        assert_eq!(
            days.ranges(),
            vec![
                (86_400, midnight - 6 * 86_400, midnight),
                (3600, midnight, midnight + 13 * 3600),
                (60, midnight + 13 * 3600, midnight + 13 * 3600 + 21 * 60),
            ]
        );
    }

    #[test]
    fn a_start_older_than_the_minute_rows_reads_its_whole_hour_or_day() {
        let midnight = 1_800_000_000 / 86_400 * 86_400;
        let now = at(midnight + 13 * 3600 + 20 * 60 + 5); // 13:20:05
        let span = Span::window(Duration::from_secs(8 * 86_400), now);
        let eight_days_ago = midnight - 8 * 86_400 + 13 * 3600 + 20 * 60;
        assert_eq!(span.from, eight_days_ago);
        assert_eq!(span.within(FoldedBefore::NONE), span);
        let minutes_gone = FoldedBefore {
            minutes_from: midnight - 7 * 86_400,
            hours_from: i64::MIN,
        };
        let moved = span.within(minutes_gone);
        assert_eq!(moved.from, eight_days_ago - 20 * 60, "13:00 eight days ago");
        assert_eq!(moved.end, span.end);
        assert!(moved
            .ranges()
            .iter()
            .all(|&(secs, from, _)| secs != 60 || from >= minutes_gone.minutes_from));
        let hours_gone = FoldedBefore {
            minutes_from: midnight - 7 * 86_400,
            hours_from: midnight - 7 * 86_400,
        };
        assert_eq!(span.within(hours_gone).from, midnight - 8 * 86_400);
        // A span inside what the minute rows hold does not move.
        let day = Span::window(Duration::from_secs(86_400), now);
        assert_eq!(day.within(hours_gone), day);
    }

    #[test]
    fn sub_second_parts_round_the_start_down() {
        let base = 1_800_000_000 / 60 * 60;
        let now = at(base + 60) + Duration::from_millis(250);
        // 60.5 s back from base+60.25 is base-0.25: the minute before base.
        let span = Span::window(Duration::from_millis(60_500), now);
        assert_eq!(span.from, base - 60);
    }

    #[test]
    fn days_start_at_utc_midnight() {
        let midnight = 1_800_000_000 / 86_400 * 86_400;
        let span = Span::days(7, at(midnight + 3600 + 1));
        assert_eq!(span.from, midnight - 6 * 86_400);
        assert_eq!(day_text(midnight), "2027-01-15");
        assert_eq!(Span::days(1, at(midnight)).from, midnight);
    }
}
