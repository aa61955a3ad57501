//! The scans behind [`LogDir`]'s methods.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use memchr::memmem::Finder;

use super::files::{self, Backward, Log, LogFile, Next};
use super::line::{self, Line};
use super::{
    Cursor, ErrorGroup, ErrorGroups, ExecutionDetail, ExecutionFilter, ExecutionPage,
    ExecutionSummary, JsonValue, LogDir, NameFilter, Progress, QueryError,
};
use crate::event::Status;
use crate::execution_id::ExecutionId;
use crate::span_trace::{ExecutionTrace, TraceNode};
use crate::timestamp::Timestamp;

/// How far the monitor's clock may have stepped back between a file's
/// period and the timestamps in it, in seconds: files whose period ended
/// this long before a window starts are not read.
const SLACK_SECS: i64 = 3600;

/// Unix seconds of `time` (negative before 1970).
fn unix_secs(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64) - 1,
    }
}

/// FNV-1a, 64 bits: a line's fingerprint in a cursor.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Reports progress at most every 100 ms.
struct Tracker<'a> {
    callback: Option<&'a (dyn Fn(&Progress) + Send + Sync)>,
    started: Instant,
    last: Instant,
    progress: Progress,
}

impl<'a> Tracker<'a> {
    fn new(logs: &'a LogDir, files_total: usize) -> Self {
        let now = Instant::now();
        Tracker {
            callback: logs.progress.as_deref(),
            started: now,
            last: now,
            progress: Progress {
                files_total,
                ..Progress::default()
            },
        }
    }

    fn file(&mut self) {
        self.progress.files_read += 1;
    }

    /// The last report, when the scan is over.
    fn finish(&mut self) {
        if let Some(callback) = self.callback {
            self.progress.elapsed = self.started.elapsed();
            callback(&self.progress);
        }
    }

    fn bytes(&mut self, bytes: usize) {
        self.progress.bytes_read += bytes as u64;
        let Some(callback) = self.callback else {
            return;
        };
        let now = Instant::now();
        if now.duration_since(self.last).as_millis() >= 100 {
            self.last = now;
            self.progress.elapsed = now.duration_since(self.started);
            callback(&self.progress);
        }
    }
}

fn io_error(file: &LogFile) -> impl FnOnce(io::Error) -> QueryError + '_ {
    move |error| QueryError::Io {
        path: file.path.clone(),
        error,
    }
}

fn list(logs: &LogDir, log: Log) -> Result<Vec<LogFile>, QueryError> {
    files::list(&logs.root, log).map_err(|error| QueryError::Io {
        path: logs.root.join(match log {
            Log::Executions => "executions",
            Log::Errors => "errors",
        }),
        error,
    })
}

/// `time` as the logs write timestamps, for comparing raw bytes.
fn rfc3339(time: SystemTime) -> String {
    Timestamp(time).to_string()
}

/// The conditions of a filter, checked first on a line's raw bytes (cheap,
/// may let through what does not match) and then on the parsed line.
struct Matcher<'a> {
    filter: &'a ExecutionFilter,
    name: Option<Finder<'static>>,
    status: Option<Finder<'static>>,
    field_keys: Vec<Finder<'static>>,
    since: Option<String>,
    until: Option<String>,
}

/// `"key":"text` as the log writes it (the string escaped, no closing
/// quote).
fn member_prefix(key: &str, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    crate::json::push_str(&mut out, key);
    out.push(b':');
    crate::json::push_str(&mut out, text);
    out.pop();
    out
}

impl<'a> Matcher<'a> {
    fn new(filter: &'a ExecutionFilter) -> Self {
        Matcher {
            filter,
            name: filter.name.as_ref().map(|name| {
                let mut needle = match (name.as_exact(), name.as_prefix()) {
                    (Some(exact), _) => member_prefix("name", exact),
                    (None, Some(prefix)) => member_prefix("name", prefix),
                    (None, None) => member_prefix("name", ""),
                };
                if name.as_exact().is_some() {
                    needle.push(b'"');
                }
                Finder::new(&needle).into_owned()
            }),
            status: filter.status.map(|status| {
                let mut needle = member_prefix("status", status.as_str());
                needle.push(b'"');
                Finder::new(&needle).into_owned()
            }),
            field_keys: filter
                .fields
                .iter()
                .map(|(key, _)| {
                    let mut needle = Vec::new();
                    crate::json::push_str(&mut needle, key);
                    needle.push(b':');
                    Finder::new(&needle).into_owned()
                })
                .collect(),
            since: filter.since.map(rfc3339),
            until: filter.until.map(rfc3339),
        }
    }

    fn raw(&self, line: &[u8]) -> bool {
        if let Some(finder) = &self.name {
            if finder.find(line).is_none() {
                return false;
            }
        }
        if let Some(finder) = &self.status {
            if finder.find(line).is_none() {
                return false;
            }
        }
        if self.field_keys.iter().any(|key| key.find(line).is_none()) {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            if let Some(stamp) = line::raw_string(line, b"\"timestamp\":\"") {
                // Same fixed-width format: bytes compare as times do.
                if let Some(since) = &self.since {
                    if stamp.len() == since.len() && stamp < since.as_bytes() {
                        return false;
                    }
                }
                if let Some(until) = &self.until {
                    if stamp.len() == until.len() && stamp > until.as_bytes() {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn parsed(&self, summary: &ExecutionSummary) -> bool {
        let filter = self.filter;
        filter
            .name
            .as_ref()
            .is_none_or(|name| name.matches(&summary.name))
            && filter.status.is_none_or(|status| status == summary.status)
            && filter
                .since
                .is_none_or(|since| summary.timestamp.0 >= since)
            && filter
                .until
                .is_none_or(|until| summary.timestamp.0 <= until)
            && filter.fields.iter().all(|(key, text)| {
                summary
                    .fields
                    .iter()
                    .any(|(name, value)| name == key && value.to_string() == *text)
            })
    }

    /// The execution on this line if it matches; a torn or corrupt line
    /// is counted in `skipped`.
    fn keep(&self, bytes: &[u8], torn: bool, skipped: &mut u64) -> Option<ExecutionSummary> {
        if torn {
            *skipped += 1;
            return None;
        }
        self.check(bytes).unwrap_or_else(|()| {
            *skipped += 1;
            None
        })
    }

    /// `Err(())`: a corrupt line.
    fn check(&self, bytes: &[u8]) -> Result<Option<ExecutionSummary>, ()> {
        if bytes.first() != Some(&b'{') || bytes.last() != Some(&b'}') {
            return Err(());
        }
        if !self.raw(bytes) {
            return Ok(None);
        }
        match line::parse(bytes) {
            Line::Corrupt => Err(()),
            Line::Other => Ok(None),
            Line::Execution(summary, _) => Ok(self.parsed(&summary).then_some(*summary)),
        }
    }
}

pub(super) fn executions(
    logs: &LogDir,
    filter: &ExecutionFilter,
) -> Result<ExecutionPage, QueryError> {
    let files = list(logs, Log::Executions)?;
    let matcher = Matcher::new(filter);
    // One more than asked: whether there is a next page.
    let need = filter.limit + 1;
    let (first, limit) = match &filter.cursor {
        None => (0, None),
        Some(cursor) => locate(&files, cursor)?,
    };
    let since_secs = filter.since.map(unix_secs);
    let mut tracker = Tracker::new(logs, files.len().saturating_sub(first));
    let mut found: Vec<(Cursor, ExecutionSummary)> = Vec::new();
    let mut skipped = 0u64;
    for (index, file) in files.iter().enumerate().skip(first) {
        if since_secs.is_some_and(|since| file.period_end < since.saturating_sub(SLACK_SECS)) {
            break;
        }
        tracker.file();
        let Some(file) = file.now() else {
            continue;
        };
        let file = &file;
        let limit = if index == first { limit } else { None };
        let position = |offset: u64, bytes: &[u8]| Cursor {
            file: file.plain_name().to_owned(),
            offset,
            hash: fnv1a(bytes),
        };
        if file.gz {
            // Forwards: keep the last matches before the limit.
            let want = need - found.len();
            let mut kept: VecDeque<(Cursor, ExecutionSummary)> = VecDeque::new();
            let reader = match files::open_forward(file) {
                Ok(reader) => reader,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(io_error(file)(error)),
            };
            files::forward_chunks(reader, |chunk_offset, chunk, torn| {
                tracker.bytes(chunk.len());
                for (offset, bytes) in files::lines(chunk_offset, chunk) {
                    if limit.is_some_and(|limit| offset >= limit) {
                        return Ok(Next::Stop);
                    }
                    if let Some(summary) = matcher.keep(bytes, torn, &mut skipped) {
                        kept.push_back((position(offset, bytes), summary));
                        if kept.len() > want {
                            kept.pop_front();
                        }
                    }
                }
                Ok(Next::Continue)
            })
            .map_err(io_error(file))?;
            found.extend(kept.into_iter().rev());
        } else {
            let mut reader = match Backward::open(&file.path, limit) {
                Ok(reader) => reader,
                // Rotated or deleted since the listing: its lines are in the
                // file that follows (or gone with retention).
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(io_error(file)(error)),
            };
            let mut read = 0usize;
            while let Some((offset, bytes, torn)) = reader.next_line().map_err(io_error(file))? {
                read += bytes.len() + 1;
                if read >= 1 << 20 {
                    tracker.bytes(read);
                    read = 0;
                }
                if let Some(summary) = matcher.keep(bytes, torn, &mut skipped) {
                    found.push((position(offset, bytes), summary));
                    if found.len() >= need {
                        break;
                    }
                }
            }
            tracker.bytes(read);
        }
        if found.len() >= need {
            break;
        }
    }
    tracker.finish();
    let more = found.len() > filter.limit;
    found.truncate(filter.limit);
    let next = if more {
        found.last().map(|(cursor, _)| cursor.clone())
    } else {
        None
    };
    Ok(ExecutionPage {
        executions: found.into_iter().map(|(_, summary)| summary).collect(),
        next,
        skipped_lines: skipped,
    })
}

/// The line of `file` at `offset` (without `\n`), if the file has one there.
fn line_at(file: &LogFile, offset: u64) -> io::Result<Option<Vec<u8>>> {
    let mut reader = files::open_forward(file)?;
    if file.gz {
        let skipped = io::copy(&mut (&mut reader).take(offset), &mut io::sink())?;
        if skipped < offset {
            return Ok(None);
        }
    } else {
        let mut handle = std::fs::File::open(&file.path)?;
        // An offset past the end (a forged or stale cursor) has no line;
        // seeking there may fail (beyond i64) and would blame the file.
        if offset >= handle.metadata()?.len() {
            return Ok(None);
        }
        use std::io::Seek;
        handle.seek(io::SeekFrom::Start(offset))?;
        reader = Box::new(handle);
    }
    let mut line = Vec::new();
    let mut reader = io::BufReader::new(reader.take(16 << 20));
    io::BufRead::read_until(&mut reader, b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Ok(None);
    }
    Ok(Some(line))
}

/// The file index and offset a cursor continues from.
fn locate(files: &[LogFile], cursor: &Cursor) -> Result<(usize, Option<u64>), QueryError> {
    let holds = |file: &LogFile| -> Result<bool, QueryError> {
        Ok(line_at(file, cursor.offset)
            .map_err(io_error(file))?
            .is_some_and(|line| fnv1a(&line) == cursor.hash))
    };
    for (index, file) in files.iter().enumerate() {
        if file.plain_name() == cursor.file && holds(file)? {
            return Ok((index, Some(cursor.offset)));
        }
    }
    // The current file was rotated since: its lines are now in one of the
    // newest rotated files, at the same offsets.
    if cursor.file.starts_with("current") {
        for (index, file) in files.iter().enumerate().filter(|(_, f)| !f.current).take(4) {
            if holds(file)? {
                return Ok((index, Some(cursor.offset)));
            }
        }
    }
    Err(QueryError::StaleCursor {
        cursor: cursor.to_string(),
    })
}

/// The files to search for an execution that started at `start_secs`, in
/// order: the file whose lines were written then, the later ones, then
/// the earlier ones (the clock may have stepped).
fn id_order(files: &[LogFile], start: SystemTime) -> Vec<&LogFile> {
    let start_secs = unix_secs(start);
    let ascending: Vec<&LogFile> = files.iter().rev().collect();
    let first = ascending
        .iter()
        .position(|file| file.period_end >= start_secs.saturating_sub(SLACK_SECS))
        .unwrap_or(ascending.len());
    // Several files of one period (a daily log also rotated by size): start
    // at the last one whose first line started before the execution did.
    let mut begin = first;
    let earliest = start
        .checked_sub(std::time::Duration::from_secs(60))
        .unwrap_or(UNIX_EPOCH);
    for (index, file) in ascending.iter().enumerate().skip(first + 1) {
        let same_period = file.period_end == ascending[first].period_end
            && !file.current
            && file.period_start() > i64::MIN;
        if !same_period {
            break;
        }
        let head = files::first_line(file).unwrap_or_default();
        let started = line::raw_string(&head, b"\"timestamp\":\"")
            .and_then(|stamp| std::str::from_utf8(stamp).ok())
            .and_then(Timestamp::parse);
        match started {
            Some(time) if time.0 <= earliest => begin = index,
            _ => break,
        }
    }
    let mut order: Vec<&LogFile> = ascending[begin..].to_vec();
    order.extend(ascending[..begin].iter().rev());
    order
}

/// An execution's line: its summary and its other members.
type Found = (ExecutionSummary, Vec<(String, JsonValue)>);

/// The line of `log` that holds `"id":"<id>"`, with its members.
fn find_id(
    logs: &LogDir,
    log: Log,
    id: ExecutionId,
    tracker: &mut Tracker<'_>,
) -> Result<Option<Found>, QueryError> {
    let files = list(logs, log)?;
    tracker.progress.files_total += files.len();
    let needle = format!("\"id\":\"{id}\"");
    let finder = Finder::new(needle.as_bytes());
    for file in id_order(&files, id.timestamp().0) {
        tracker.file();
        let Some(file) = file.now() else {
            continue;
        };
        let file = &file;
        let reader = match files::open_forward(file) {
            Ok(reader) => reader,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(io_error(file)(error)),
        };
        let mut hit = None;
        files::forward_chunks(reader, |_, chunk, _| {
            tracker.bytes(chunk.len());
            for at in finder.find_iter(chunk) {
                let start = memchr::memrchr(b'\n', &chunk[..at]).map_or(0, |n| n + 1);
                let end = memchr::memchr(b'\n', &chunk[at..]).map_or(chunk.len(), |n| at + n);
                if let Line::Execution(summary, rest) = line::parse(&chunk[start..end]) {
                    if summary.id == Some(id) {
                        hit = Some((*summary, rest));
                        return Ok(Next::Stop);
                    }
                }
            }
            Ok(Next::Continue)
        })
        .map_err(io_error(file))?;
        if hit.is_some() {
            return Ok(hit);
        }
    }
    Ok(None)
}

pub(super) fn execution(
    logs: &LogDir,
    id: ExecutionId,
) -> Result<Option<ExecutionDetail>, QueryError> {
    let mut tracker = Tracker::new(logs, 0);
    let executed = find_id(logs, Log::Executions, id, &mut tracker)?;
    let failed = match &executed {
        Some((summary, _)) if !summary.status.is_failure() => None,
        _ => find_id(logs, Log::Errors, id, &mut tracker)?,
    };
    tracker.finish();
    let in_executions_log = executed.is_some();
    let in_errors_log = failed.is_some();
    let (summary, mut rest) = match (executed, failed) {
        (Some((summary, mut rest)), Some((_, error_rest))) => {
            for (key, value) in error_rest {
                if !rest.iter().any(|(name, _)| *name == key) {
                    rest.push((key, value));
                }
            }
            (summary, rest)
        }
        (Some(found), None) | (None, Some(found)) => found,
        (None, None) => return Ok(None),
    };
    let mut detail = ExecutionDetail {
        summary,
        busy_ms: None,
        error_message_truncated: false,
        error_chain: Vec::new(),
        stack_trace: None,
        context: None,
        execution_trace: None,
        other: Vec::new(),
        in_executions_log,
        in_errors_log,
    };
    for (key, value) in rest.drain(..) {
        match (key.as_str(), value) {
            ("busy_ms", value) if value.as_f64().is_some() => detail.busy_ms = value.as_f64(),
            ("error_message_truncated", JsonValue::Bool(cut)) => {
                detail.error_message_truncated = cut
            }
            ("error_chain", JsonValue::Array(items))
                if items.iter().all(|item| item.as_str().is_some()) =>
            {
                detail.error_chain = items.into_iter().map(|item| item.to_string()).collect();
            }
            ("stack_trace", JsonValue::String(text)) => detail.stack_trace = Some(text),
            ("stack_trace", JsonValue::Null) => detail.stack_trace = None,
            ("context", value @ JsonValue::Object(_)) => detail.context = Some(value),
            ("execution_trace", value) => match trace(&value) {
                Some(tree) => detail.execution_trace = Some(tree),
                None => detail.other.push((key, value)),
            },
            (_, value) => detail.other.push((key, value)),
        }
    }
    Ok(Some(detail))
}

/// An `execution_trace` object read back.
fn trace(value: &JsonValue) -> Option<ExecutionTrace> {
    fn node(value: &JsonValue, depth: usize) -> Option<TraceNode> {
        if depth > ExecutionTrace::MAX_DEPTH + 1 {
            return None;
        }
        Some(TraceNode {
            name: value.get("name")?.as_str()?.to_owned(),
            status: value.get("status")?.as_str()?.parse().ok()?,
            duration_ms: value.get("duration_ms")?.as_f64()?,
            start_offset_ms: value.get("start_offset_ms")?.as_f64()?,
            error: value
                .get("error")
                .and_then(JsonValue::as_str)
                .map(str::to_owned),
            children: children(value.get("children"), depth)?,
        })
    }
    fn children(value: Option<&JsonValue>, depth: usize) -> Option<Vec<TraceNode>> {
        match value {
            None => Some(Vec::new()),
            Some(JsonValue::Array(items)) => {
                items.iter().map(|item| node(item, depth + 1)).collect()
            }
            Some(_) => None,
        }
    }
    Some(ExecutionTrace {
        children: children(value.get("children"), 0)?,
        truncated: matches!(value.get("truncated"), Some(JsonValue::Bool(true))),
        omitted: match value.get("omitted") {
            Some(JsonValue::Unsigned(omitted)) => *omitted,
            _ => 0,
        },
    })
}

pub(super) fn error_groups(
    logs: &LogDir,
    since: SystemTime,
    name: Option<&NameFilter>,
) -> Result<ErrorGroups, QueryError> {
    let files = list(logs, Log::Errors)?;
    let since_secs = unix_secs(since);
    let mut filter = ExecutionFilter::new().since(since);
    if let Some(name) = name {
        filter = filter.name(name.clone());
    }
    let matcher = Matcher::new(&filter);
    let mut tracker = Tracker::new(logs, files.len());
    let mut groups: HashMap<(String, String), ErrorGroup> = HashMap::new();
    let mut skipped = 0u64;
    for file in &files {
        if file.period_end < since_secs.saturating_sub(SLACK_SECS) {
            break;
        }
        tracker.file();
        let Some(file) = file.now() else {
            continue;
        };
        let file = &file;
        let reader = match files::open_forward(file) {
            Ok(reader) => reader,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(io_error(file)(error)),
        };
        files::forward_chunks(reader, |chunk_offset, chunk, torn| {
            tracker.bytes(chunk.len());
            for (_, bytes) in files::lines(chunk_offset, chunk) {
                if let Some(summary) = matcher.keep(bytes, torn, &mut skipped) {
                    if summary.status.is_failure() {
                        add(&mut groups, summary);
                    }
                }
            }
            Ok(Next::Continue)
        })
        .map_err(io_error(file))?;
    }
    tracker.finish();
    let mut groups: Vec<ErrorGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        (b.count, b.last_seen)
            .cmp(&(a.count, a.last_seen))
            .then_with(|| (&a.name, &a.fingerprint).cmp(&(&b.name, &b.fingerprint)))
    });
    Ok(ErrorGroups {
        groups,
        skipped_lines: skipped,
    })
}

fn add(groups: &mut HashMap<(String, String), ErrorGroup>, summary: ExecutionSummary) {
    let error_type = summary.error_type.unwrap_or_else(|| match summary.status {
        Status::Panic => "panic".to_owned(),
        _ => String::new(),
    });
    let message = summary.error_message.unwrap_or_default();
    let fingerprint = crate::stats::fingerprint(&error_type, &message);
    let time = summary.timestamp;
    let group = groups
        .entry((summary.name.clone(), fingerprint.clone()))
        .or_insert_with(|| ErrorGroup {
            fingerprint,
            name: summary.name,
            error_type: error_type.clone(),
            message: message.clone(),
            count: 0,
            first_seen: time,
            last_seen: time,
            example_id: summary.id,
        });
    group.count += 1;
    group.first_seen = group.first_seen.min(time);
    if time >= group.last_seen {
        group.last_seen = time;
        group.message = message;
        group.error_type = error_type;
        group.example_id = summary.id;
    }
}
