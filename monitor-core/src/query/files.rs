//! The files of one log (current and rotated, plain and gzipped) and the
//! two ways of reading them: plain files backwards in blocks, any file
//! forwards in chunks of whole lines. Nothing here writes.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use monitor_sinks::rotating::RotatedName;

/// One of the two logs the query module reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Log {
    Executions,
    Errors,
}

impl Log {
    fn dir(self) -> &'static str {
        match self {
            Log::Executions => "executions",
            Log::Errors => "errors",
        }
    }

    fn current(self) -> &'static str {
        match self {
            Log::Executions => "current.log",
            Log::Errors => "current_errors.log",
        }
    }
}

/// A file of a log, as [`log_files`] lists it: the current file or a
/// rotated one, plain or gzipped.
///
/// ```no_run
/// use std::io::Read;
///
/// let current = std::path::Path::new(".monitor/executions/current.log");
/// for file in monitor_core::query::log_files(current)? {
///     // `None`: deleted by the retention since it was listed.
///     if let Some(mut reader) = file.open()? {
///         let mut text = String::new();
///         reader.read_to_string(&mut text)?;
///         println!("{}: {} lines (gzipped: {})", file.name(), text.lines().count(), file.is_gz());
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LogFile {
    /// The file name (`current.log`, `2026-12-04.1.log.gz`, …).
    pub(super) name: String,
    pub(super) path: PathBuf,
    /// `current{_base}.log`: the file being written (its last line may be
    /// unfinished).
    pub(super) current: bool,
    pub(super) gz: bool,
    /// The stamp's Unix seconds (`i64::MAX` for the current file).
    stamp_secs: i64,
    counter: u32,
    /// Unix seconds when the file's period ended (the rotation instant for
    /// size-rotated files; `i64::MAX` for the current file).
    pub(super) period_end: i64,
}

impl LogFile {
    /// The name without `.gz`: a file keeps it when it is compressed.
    pub(super) fn plain_name(&self) -> &str {
        self.name.strip_suffix(".gz").unwrap_or(&self.name)
    }

    /// The Unix seconds its period started (0 for the current file and a
    /// size-rotated file, whose start the name does not say).
    pub(super) fn period_start(&self) -> i64 {
        if self.current || self.period_end == self.stamp_secs {
            i64::MIN
        } else {
            self.stamp_secs
        }
    }
}

/// The files of `log` under `root`, newest first: the current file, then
/// the rotated ones by stamp and counter, descending. A missing log
/// directory has no files.
pub(super) fn list(root: &Path, log: Log) -> io::Result<Vec<LogFile>> {
    let mut files = log_files(&root.join(log.dir()).join(log.current()))?;
    files.reverse();
    Ok(files)
}

/// The files of the log whose current file is `current`
/// (`<log_dir>/executions/current.log`, `<log_dir>/errors/current_errors.log`):
/// oldest first, the rotated files of its directory in the order they were
/// rotated (by the stamp and counter of their names, see FORMAT.md), then
/// `current` itself if it exists. A rotated file present both plain and
/// gzipped (a compression interrupted after the rename) is listed once,
/// plain. A missing directory has no files. Nothing is opened: read each
/// with [`LogFile::open`].
///
/// ```
/// # let root = std::env::temp_dir().join(format!("monitor-doc-log-files-{}", std::process::id()));
/// # std::fs::create_dir_all(root.join("executions"))?;
/// let dir = root.join("executions");
/// std::fs::write(dir.join("2026-12-04.log"), "{\"a\":1}\n")?;
/// std::fs::write(dir.join("2026-12-05.log"), "{\"a\":2}\n")?;
/// std::fs::write(dir.join("current.log"), "{\"a\":3}\n")?;
/// std::fs::write(dir.join("notes.txt"), "not a log file")?;
///
/// let files = monitor_core::query::log_files(&dir.join("current.log"))?;
/// let names: Vec<&str> = files.iter().map(|file| file.name()).collect();
/// assert_eq!(names, ["2026-12-04.log", "2026-12-05.log", "current.log"]);
/// assert!(files[2].is_current());
/// let mut text = String::new();
/// std::io::Read::read_to_string(&mut files[0].open()?.expect("still there"), &mut text)?;
/// assert_eq!(text, "{\"a\":1}\n");
/// # std::fs::remove_dir_all(&root)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn log_files(current: &Path) -> io::Result<Vec<LogFile>> {
    let dir = current.parent().unwrap_or(Path::new("."));
    let current_name = current.file_name().and_then(|n| n.to_str()).unwrap_or("");
    // `current.log` → `""`, `current_errors.log` → `"errors"`.
    let base = current_name
        .strip_prefix("current_")
        .and_then(|n| n.strip_suffix(".log"))
        .unwrap_or("");
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name == current_name {
            files.push(LogFile {
                path: entry.path(),
                name,
                current: true,
                gz: false,
                stamp_secs: i64::MAX,
                counter: u32::MAX,
                period_end: i64::MAX,
            });
        } else if let Some(parsed) = RotatedName::parse(base, &name) {
            files.push(LogFile {
                path: entry.path(),
                name,
                current: false,
                gz: parsed.gz,
                stamp_secs: parsed.stamp_secs,
                counter: parsed.counter,
                period_end: parsed
                    .stamp_secs
                    .saturating_add(i64::from(parsed.period_secs)),
            });
        }
    }
    // `X.log` and `X.log.gz` both present (a compression interrupted after
    // the rename): the same lines twice; keep the plain one.
    files.sort_by_key(|file| (file.stamp_secs, file.counter, file.gz));
    files.dedup_by(|later, earlier| later.plain_name() == earlier.plain_name());
    Ok(files)
}

impl LogFile {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its file name (`current.log`, `2026-12-04.1.log.gz`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it is the current file, the one being written (its last
    /// line may be unfinished).
    pub fn is_current(&self) -> bool {
        self.current
    }

    /// Whether it is gzipped ([`open`](Self::open) decompresses it).
    pub fn is_gz(&self) -> bool {
        self.gz
    }

    /// Opens it for reading from its start, a gzipped file decompressed. A
    /// plain rotated file compressed since it was listed is read from its
    /// `.gz` (the same lines). `None` when it is gone (deleted by the
    /// retention). See [`log_files`] for an example.
    pub fn open(&self) -> io::Result<Option<Box<dyn Read + Send>>> {
        let mut tries = vec![self.clone()];
        if !self.gz && !self.current {
            let mut gz = self.path.clone().into_os_string();
            gz.push(".gz");
            tries.push(LogFile {
                name: format!("{}.gz", self.name),
                path: PathBuf::from(gz),
                gz: true,
                ..self.clone()
            });
        }
        for file in tries {
            match open_forward(&file) {
                Ok(reader) => return Ok(Some(reader)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        Ok(None)
    }
}

impl LogFile {
    /// The file as it is now: a plain rotated file that was compressed
    /// since the listing is read from its `.gz` (the same lines); `None`
    /// when it is gone (retention).
    pub(super) fn now(&self) -> Option<LogFile> {
        if self.path.exists() {
            return Some(self.clone());
        }
        if self.gz || self.current {
            return None;
        }
        let mut gz = self.path.clone().into_os_string();
        gz.push(".gz");
        let gz = PathBuf::from(gz);
        gz.exists().then(|| LogFile {
            name: format!("{}.gz", self.name),
            path: gz,
            gz: true,
            ..self.clone()
        })
    }
}

/// Bytes read at once.
const BLOCK: usize = 256 * 1024;

/// Reads a plain file's lines from its end to its start, in blocks.
pub(super) struct Backward {
    file: File,
    /// File bytes `[start, start + buf.len())`.
    buf: Vec<u8>,
    start: u64,
    /// End (exclusive, in `buf`) of the bytes not yet returned.
    end: usize,
    /// The bytes after the last `\n`, not yet reported.
    torn: bool,
}

impl Backward {
    /// Reads `path` backwards from `limit` (a byte offset; the file's
    /// length when `None`), which must be the start of a line.
    pub(super) fn open(path: &Path, limit: Option<u64>) -> io::Result<Backward> {
        let mut file = File::open(path)?;
        let length = file.seek(SeekFrom::End(0))?;
        let end = limit.map_or(length, |limit| limit.min(length));
        let mut reader = Backward {
            file,
            buf: Vec::new(),
            start: end,
            end: 0,
            torn: false,
        };
        reader.extend()?;
        // A last line without its `\n` is still being written (or was torn).
        reader.torn = reader.end > 0 && reader.buf[reader.end - 1] != b'\n';
        Ok(reader)
    }

    /// Reads the block before `start`; returns how many bytes were put in
    /// front of the unread ones (0 at the start of the file).
    fn extend(&mut self) -> io::Result<usize> {
        if self.start == 0 {
            return Ok(0);
        }
        let size = (BLOCK as u64).max(self.end as u64).min(self.start) as usize;
        let at = self.start - size as u64;
        let mut block = vec![0; size + self.end];
        self.file.seek(SeekFrom::Start(at))?;
        self.file.read_exact(&mut block[..size])?;
        block[size..].copy_from_slice(&self.buf[..self.end]);
        self.buf = block;
        self.start = at;
        self.end = self.buf.len();
        Ok(size)
    }

    /// The next line towards the start of the file, as (its offset, its
    /// bytes without `\n`, whether it is an unfinished last line); `None`
    /// at the start of the file.
    pub(super) fn next_line(&mut self) -> io::Result<Option<(u64, &[u8], bool)>> {
        if self.end == 0 && self.extend()? == 0 {
            return Ok(None);
        }
        let torn = std::mem::take(&mut self.torn);
        // The line ends before the `\n` at `end - 1` (at `end` if torn).
        let mut line_end = if torn { self.end } else { self.end - 1 };
        loop {
            if let Some(newline) = memchr::memrchr(b'\n', &self.buf[..line_end]) {
                self.end = newline + 1;
                let offset = self.start + newline as u64 + 1;
                return Ok(Some((offset, &self.buf[newline + 1..line_end], torn)));
            }
            let added = self.extend()?;
            if added == 0 {
                self.end = 0;
                return Ok(Some((self.start, &self.buf[..line_end], torn)));
            }
            line_end += added;
        }
    }
}

/// Opens a file for reading forwards, decompressing a `.gz` one.
pub(super) fn open_forward(file: &LogFile) -> io::Result<Box<dyn Read + Send>> {
    let handle = File::open(&file.path)?;
    Ok(if file.gz {
        Box::new(MultiGzDecoder::new(io::BufReader::with_capacity(
            BLOCK, handle,
        )))
    } else {
        Box::new(handle)
    })
}

/// What a chunk visitor tells the reader.
pub(super) enum Next {
    Continue,
    Stop,
}

/// Reads `reader` forwards and hands `visit` chunks of whole lines: (the
/// offset of the chunk's first byte, the bytes, each line ending in `\n`).
/// A last line without `\n` comes alone at the end with `torn = true`.
pub(super) fn forward_chunks(
    mut reader: impl Read,
    mut visit: impl FnMut(u64, &[u8], bool) -> io::Result<Next>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 4 * BLOCK];
    let mut filled = 0;
    let mut offset = 0u64;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let read = match reader.read(&mut buf[filled..]) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if read == 0 {
            if filled > 0 {
                visit(offset, &buf[..filled], true)?;
            }
            return Ok(());
        }
        filled += read;
        let Some(last) = memchr::memrchr(b'\n', &buf[..filled]) else {
            continue;
        };
        let whole = last + 1;
        if let Next::Stop = visit(offset, &buf[..whole], false)? {
            return Ok(());
        }
        buf.copy_within(whole..filled, 0);
        filled -= whole;
        offset += whole as u64;
    }
}

/// The lines of a chunk of whole lines, with their offsets.
pub(super) fn lines(offset: u64, chunk: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= chunk.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &chunk[at..]).map_or(chunk.len(), |n| at + n);
        let line = (offset + at as u64, &chunk[at..end]);
        at = end + 1;
        Some(line)
    })
}

/// The first line of a file (at most 64 KiB of it), for its timestamp.
pub(super) fn first_line(file: &LogFile) -> io::Result<Vec<u8>> {
    let mut reader = open_forward(file)?.take(64 * 1024);
    let mut head = Vec::new();
    reader.read_to_end(&mut head)?;
    let end = memchr::memchr(b'\n', &head).unwrap_or(head.len());
    head.truncate(end);
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Vec<u8>> {
        // Short lines, empty ones, and lines longer than a block and than
        // two, so that every boundary case of the block reader comes up.
        let mut lines = Vec::new();
        for i in 0..2_000usize {
            let length = match i % 500 {
                7 => BLOCK + 3,
                250 => 2 * BLOCK + 17,
                13 => 0,
                _ => 1 + i % 300,
            };
            lines.push((0..length).map(|j| b'a' + ((i + j) % 26) as u8).collect());
        }
        lines
    }

    fn write(name: &str, lines: &[Vec<u8>], torn: Option<&[u8]>) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("monitor-query-{name}-{}", std::process::id()));
        let mut text = Vec::new();
        for line in lines {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        if let Some(torn) = torn {
            text.extend_from_slice(torn);
        }
        fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn backward_gives_every_line_in_reverse_with_its_offset() {
        let lines = sample();
        let path = write("backward", &lines, Some(b"{\"half"));
        let mut reader = Backward::open(&path, None).unwrap();
        let (offset, torn_line, torn) = reader
            .next_line()
            .unwrap()
            .map(|(o, l, t)| (o, l.to_vec(), t))
            .unwrap();
        assert!(torn);
        assert_eq!(torn_line, b"{\"half");
        let mut expected_offset = offset;
        for line in lines.iter().rev() {
            let (offset, got, torn) = reader.next_line().unwrap().unwrap();
            assert!(!torn);
            assert_eq!(got, &line[..]);
            expected_offset -= line.len() as u64 + 1;
            assert_eq!(offset, expected_offset);
        }
        assert!(reader.next_line().unwrap().is_none());
        // From an offset: the lines before it only.
        let limit: u64 = lines[..1000].iter().map(|l| l.len() as u64 + 1).sum();
        let mut reader = Backward::open(&path, Some(limit)).unwrap();
        assert_eq!(reader.next_line().unwrap().unwrap().1, &lines[999][..]);
        fs::remove_file(path).unwrap();
    }

    #[test]
    fn forward_chunks_hold_whole_lines_at_their_offsets() {
        let lines = sample();
        let path = write("forward", &lines, Some(b"tail"));
        let mut seen = Vec::new();
        forward_chunks(File::open(&path).unwrap(), |offset, chunk, torn| {
            for (at, line) in self::lines(offset, chunk) {
                seen.push((at, line.to_vec(), torn));
            }
            Ok(Next::Continue)
        })
        .unwrap();
        let mut offset = 0;
        for (line, (at, got, torn)) in lines.iter().zip(&seen) {
            assert_eq!((*at, got, *torn), (offset, line, false));
            offset += line.len() as u64 + 1;
        }
        assert_eq!(seen.last().unwrap(), &(offset, b"tail".to_vec(), true));
        assert_eq!(seen.len(), lines.len() + 1);
        fs::remove_file(path).unwrap();
    }
}
