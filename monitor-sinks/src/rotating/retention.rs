//! Retention: deleting rotated files that are too old, too many, or too big
//! together.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::fs::LogFs;
use super::naming::Naming;
use crate::time::unix_parts;

/// How long, how many, and how many bytes of rotated files are kept.
///
/// Only names of the exact rotated pattern of the log are considered (see the
/// [module docs](super)); the current file and foreign files are never
/// touched. `X.log` and `X.log.gz` with the same stamp and counter count as a
/// single rotated file (a compression in progress) and are deleted together.
///
/// ```
/// use std::time::Duration;
/// use monitor_sinks::rotating::Retention;
/// let r = Retention::days(30).with_max_files(100).with_max_total_bytes(1 << 30);
/// assert_eq!(r.max_age, Some(Duration::from_secs(30 * 86_400)));
/// assert_eq!(r.max_files, Some(100));
/// assert_eq!(r.max_total_bytes, Some(1 << 30));
/// assert_eq!(
///     Retention::keep_all(),
///     Retention { max_age: None, max_files: None, max_total_bytes: None }
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Delete a rotated file once `now - stamp` is **strictly greater** than
    /// this; a file exactly `max_age` old is kept. The stamp is the start of
    /// the file's day or hour, or the rotation instant for size stamps.
    pub max_age: Option<Duration>,
    /// Keep at most this many rotated files (the newest by stamp, then
    /// counter); exactly this many remain when there were more.
    pub max_files: Option<usize>,
    /// Keep the log's files — the current file and the rotated ones — within
    /// this many bytes: after age and count, the oldest rotated files are
    /// deleted until the total fits. With a size rotation the current file
    /// counts as its full rotation size (the room it may grow into before
    /// the next retention pass), so the total never passes the cap. The
    /// current file is never deleted: without a size rotation it alone may
    /// exceed the cap.
    pub max_total_bytes: Option<u64>,
}

impl Retention {
    /// Keep everything.
    pub fn keep_all() -> Self {
        Retention::default()
    }

    /// Keep files for `days` days (`max_age = days * 86 400 s`).
    pub fn days(days: u64) -> Self {
        Retention {
            max_age: Some(Duration::from_secs(days.saturating_mul(86_400))),
            max_files: None,
            max_total_bytes: None,
        }
    }

    /// The same retention, keeping at most `n` rotated files.
    pub fn with_max_files(mut self, n: usize) -> Self {
        self.max_files = Some(n);
        self
    }

    /// The same retention, keeping the log within `bytes` in total (the
    /// current file included; see [`max_total_bytes`](Self::max_total_bytes)).
    pub fn with_max_total_bytes(mut self, bytes: u64) -> Self {
        self.max_total_bytes = Some(bytes);
        self
    }
}

/// Result of one retention pass.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Names removed.
    pub removed: Vec<String>,
    /// Errors met (listing or removing); the pass goes on after each.
    pub errors: Vec<io::Error>,
    /// Rotated files removed for the size cap that age and count would have
    /// kept.
    pub removed_for_size: u64,
}

/// Applies `retention` to the rotated files of `naming` in `dir` at `now`.
/// For the size cap, the current file counts as at least `current_reserve`
/// bytes (the size it may grow to before the next rotation).
pub(crate) fn apply(
    fs: &dyn LogFs,
    dir: &Path,
    naming: &Naming,
    retention: &Retention,
    current_reserve: u64,
    now: SystemTime,
) -> Outcome {
    let mut out = Outcome::default();
    if retention.max_age.is_none()
        && retention.max_files.is_none()
        && retention.max_total_bytes.is_none()
    {
        return out;
    }
    let names = match fs.list_dir(dir) {
        Ok(n) => n,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                out.errors.push(e);
            }
            return out;
        }
    };
    // (stamp, counter) -> names; .gz.tmp files are not complete files.
    let mut groups: BTreeMap<(i64, u32), Vec<String>> = BTreeMap::new();
    for name in names {
        if let Some(p) = naming.parse(&name).filter(|p| !p.tmp) {
            groups
                .entry((p.stamp_secs, p.counter))
                .or_default()
                .push(name);
        }
    }
    let (now_secs, now_nanos) = unix_parts(now);
    let mut kept = Vec::new();
    for (index, ((stamp, _), names)) in groups.into_iter().rev().enumerate() {
        let too_many = retention.max_files.is_some_and(|n| index >= n);
        let too_old = retention
            .max_age
            .is_some_and(|max| age(now_secs, now_nanos, stamp).is_some_and(|a| a > max));
        if too_many || too_old {
            remove(fs, dir, names, &mut out);
        } else {
            kept.push(names);
        }
    }
    if let Some(cap) = retention.max_total_bytes {
        let size = |name: &String| fs.metadata(&dir.join(name)).map_or(0, |m| m.len);
        let current = fs
            .metadata(&dir.join(naming.current()))
            .map_or(0, |m| m.len)
            .max(current_reserve);
        let sizes: Vec<u64> = kept
            .iter()
            .map(|names| names.iter().map(size).sum())
            .collect();
        let mut total = current + sizes.iter().sum::<u64>();
        // `kept` is newest first: delete from the end.
        while total > cap {
            let (Some(names), Some(bytes)) = (kept.pop(), sizes.get(kept.len())) else {
                break;
            };
            total -= bytes;
            let before = out.removed.len();
            remove(fs, dir, names, &mut out);
            if out.removed.len() > before {
                out.removed_for_size += 1;
            }
        }
    }
    out
}

fn remove(fs: &dyn LogFs, dir: &Path, names: Vec<String>, out: &mut Outcome) {
    for name in names {
        match fs.remove_file(&dir.join(&name)) {
            Ok(()) => out.removed.push(name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => out.errors.push(e),
        }
    }
}

/// `now - stamp`, or `None` when the stamp lies in the future.
fn age(now_secs: i64, now_nanos: u32, stamp: i64) -> Option<Duration> {
    let secs = now_secs.checked_sub(stamp)?;
    u64::try_from(secs)
        .ok()
        .map(|s| Duration::new(s, now_nanos))
}
