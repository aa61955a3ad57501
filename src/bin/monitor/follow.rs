//! Reading a live JSON Lines file (`current.log`) as it grows, across
//! rotations, for `monitor tail`.
//!
//! The writer appends whole lines and rotates by renaming `current.log`
//! away and creating a new one (the monitor itself, or logrotate). The
//! follower keeps the file it opened: when the path names another file, it
//! reads what is left of the old one, waits until the writer has moved on
//! (the new file is not empty), reads the old one a last time, and goes on
//! with the new file from its start: no line is missed or printed twice.
//! When the log rotated more than once since the last read, the files
//! rotated after the one being read (found by its inode, or by its first
//! line once gzipped) are read whole first, oldest first as
//! `monitor::query::log_files` lists them, a `.gz` one decompressed; one
//! deleted by retention meanwhile is passed over with a notice.
//! A file that shrinks under it (a torn last line cut off, `copytruncate`)
//! is read again from the start of the line it was in, or from the start.
//!
//! Only complete lines (ended by `\n`) are handed out; a line still being
//! written waits for its end.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use monitor::query::{log_files, LogFile};

/// How much is read back from the end to find the last lines.
const BACK_CHUNK: u64 = 64 * 1024;

/// How many bytes at each end of a held (unfinished) line are checked
/// before reading on.
const CHECKED_EDGE: usize = 4096;

#[cfg(test)]
thread_local! {
    /// Bytes of held lines read again by `read_new` on this thread (tests).
    static REREAD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Identity of a file: device and inode on Unix (the path's metadata elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId(u64, u64);

fn file_id(metadata: &std::fs::Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileId(metadata.dev(), metadata.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        FileId(0, 0)
    }
}

/// An open log file and how far it has been read.
struct Open {
    file: File,
    id: FileId,
    /// Bytes of `file` handed out or held in `partial`.
    position: u64,
    /// The start of a line read without its `\n` yet.
    partial: Vec<u8>,
}

impl Open {
    fn new(path: &Path) -> io::Result<Open> {
        let file = File::open(path)?;
        let id = file_id(&file.metadata()?);
        Ok(Open {
            file,
            id,
            position: 0,
            partial: Vec::new(),
        })
    }

    /// Reads what was appended since the last call; hands out each complete
    /// line. True when it handed out any.
    fn read_new(&mut self, mut emit: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<bool> {
        let length = self.file.metadata()?.len();
        let line_start = self.position - self.partial.len() as u64;
        if length < self.position {
            // The file shrank: read again from the start of the line being
            // read if it is still there, else from the start of the file.
            self.position = if length >= line_start { line_start } else { 0 };
            self.partial.clear();
        } else if !self.partial.is_empty() {
            // The start of a line held back must still be there: a torn line
            // may have been cut off and written again whole meanwhile. Its
            // first and last bytes are compared (a held line may be
            // megabytes long: it is not read again on every poll).
            let held = self.partial.len();
            let edge = held.min(CHECKED_EDGE);
            let mut same = true;
            for (at, expected) in [
                (line_start, &self.partial[..edge]),
                (self.position - edge as u64, &self.partial[held - edge..]),
            ] {
                let mut again = vec![0; edge];
                self.file.seek(SeekFrom::Start(at))?;
                self.file.read_exact(&mut again)?;
                #[cfg(test)]
                REREAD.with(|reread| reread.set(reread.get() + edge as u64));
                same &= again == expected;
            }
            if !same {
                self.position = line_start;
                self.partial.clear();
            }
        }
        if length == self.position {
            return Ok(false);
        }
        self.file.seek(SeekFrom::Start(self.position))?;
        let mut bytes = Vec::new();
        (&mut self.file)
            .take(length - self.position)
            .read_to_end(&mut bytes)?;
        self.position += bytes.len() as u64;
        let mut rest = &bytes[..];
        let mut handed_out = false;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                emit(&rest[..end])?;
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.partial);
                emit(&line)?;
            }
            rest = &rest[end + 1..];
            handed_out = true;
        }
        self.partial.extend_from_slice(rest);
        Ok(handed_out)
    }
}

/// A followed log file.
pub(crate) struct Follower {
    path: PathBuf,
    open: Option<Open>,
    /// Things the reader should know (files passed over), for stderr.
    notices: Vec<String>,
}

/// The first line of `reader` (up to 4 KiB of it): what identifies a file
/// once it is compressed under another inode.
fn first_line(reader: impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    reader.take(4096).read_to_end(&mut head)?;
    if let Some(end) = head.iter().position(|&b| b == b'\n') {
        head.truncate(end);
    }
    Ok(head)
}

/// Hands out every complete line of `reader`. True when it handed out any.
fn read_all(
    mut reader: impl Read,
    emit: &mut impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    let mut any = false;
    loop {
        let read = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let mut rest = &buf[..read];
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if line.is_empty() {
                emit(&rest[..end])?;
            } else {
                line.extend_from_slice(&rest[..end]);
                emit(&line)?;
                line.clear();
            }
            any = true;
            rest = &rest[end + 1..];
        }
        line.extend_from_slice(rest);
    }
    Ok(any)
}

impl Open {
    /// Whether the rotated `file` is this open file (renamed, or compressed
    /// since: then its first line is this file's).
    fn is(&self, file: &LogFile) -> io::Result<bool> {
        if !file.is_gz() {
            return match std::fs::metadata(file.path()) {
                Ok(metadata) => Ok(file_id(&metadata) == self.id),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(error) => Err(error),
            };
        }
        let mine = {
            let mut handle = &self.file;
            handle.seek(SeekFrom::Start(0))?;
            first_line(handle)?
        };
        if mine.is_empty() {
            return Ok(false);
        }
        match file.open()? {
            Some(reader) => Ok(first_line(reader)? == mine),
            None => Ok(false),
        }
    }
}

/// What a [`Follower::poll`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    /// New lines were handed out.
    Lines,
    /// Nothing new.
    Idle,
}

impl Follower {
    /// Starts at the end of `path`, handing out its last `last` complete
    /// lines first (a missing file is waited for).
    #[cfg(test)]
    pub(crate) fn start(
        path: PathBuf,
        last: usize,
        emit: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Follower> {
        Follower::start_counting(path, last, |_| true, emit)
    }

    /// Starts at the end of `path`, handing out its last complete lines
    /// first, back to the `last`-th one that `counts` (the lines that do
    /// not count, junk, are handed out too but do not use up `last`). A
    /// missing file is waited for.
    pub(crate) fn start_counting(
        path: PathBuf,
        last: usize,
        counts: impl Fn(&[u8]) -> bool,
        mut emit: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Follower> {
        let open = match Open::new(&path) {
            Ok(mut open) => {
                let (lines, end) = last_lines(&mut open.file, last, counts)?;
                for line in &lines {
                    emit(line)?;
                }
                open.position = end;
                Some(open)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        Ok(Follower {
            path,
            open,
            notices: Vec::new(),
        })
    }

    /// Hands out the lines written since the last call, following a rotation.
    pub(crate) fn poll(
        &mut self,
        mut emit: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Polled> {
        let mut found = false;
        if let Some(open) = &mut self.open {
            found |= open.read_new(&mut emit)?;
        }
        let current = match std::fs::metadata(&self.path) {
            Ok(metadata) => Some((file_id(&metadata), metadata.len())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        // Rotated (the path names another file), or created at last. The
        // writer may still finish lines in the old file until it has moved
        // on: switch once the new file has data.
        let switch = match (&self.open, current) {
            (Some(open), Some((id, length))) => id != open.id && length > 0,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if switch {
            let next = match Open::new(&self.path) {
                Ok(next) => next,
                // Renamed away again meanwhile: the next poll finds the new one.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Ok(Polled::from(found))
                }
                Err(error) => return Err(error),
            };
            if let Some(old) = &mut self.open {
                found |= old.read_new(&mut emit)?;
                found |= self.read_rotated_since(&next, &mut emit)?;
            }
            let mut next = next;
            found |= next.read_new(&mut emit)?;
            self.open = Some(next);
        }
        Ok(Polled::from(found))
    }

    /// The notices gathered since the last call (files passed over), one
    /// sentence each, for stderr.
    pub(crate) fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// After a rotation: hands out every line of the files rotated after
    /// the one that was being read (read to its end already) and before
    /// `next`, the new current file, in the order they were rotated. The
    /// log may rotate several times between two polls.
    fn read_rotated_since(
        &mut self,
        next: &Open,
        emit: &mut impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<bool> {
        let Some(old) = &self.open else {
            return Ok(false);
        };
        let mut files = log_files(&self.path)?;
        files.retain(|file| !file.is_current());
        let mut mine = None;
        for (index, file) in files.iter().enumerate().rev() {
            if old.is(file)? {
                mine = Some(index);
                break;
            }
        }
        let after = match mine {
            Some(index) => index + 1,
            None => {
                // Deleted by retention before it could be found (the oldest
                // go first): the files rotated after it may be gone too.
                // Those left were last written after it.
                self.notices.push(format!(
                    "{}: the log rotated faster than it was read; files deleted by retention \
                     meanwhile are passed over",
                    self.path.parent().unwrap_or(Path::new(".")).display()
                ));
                let written = old.file.metadata()?.modified()?;
                files
                    .iter()
                    .position(|file| {
                        std::fs::metadata(file.path())
                            .and_then(|m| m.modified())
                            .is_ok_and(|modified| modified > written)
                    })
                    .unwrap_or(files.len())
            }
        };
        let mut found = false;
        for file in &files[after..] {
            if next.is(file)? {
                // `next` was rotated away too meanwhile: what follows it is
                // read at the next poll.
                break;
            }
            match file.open()? {
                Some(reader) => found |= read_all(reader, emit)?,
                None => self.notices.push(format!(
                    "{}: deleted by retention before it was read; passed over",
                    file.path().display()
                )),
            }
        }
        Ok(found)
    }
}

impl From<bool> for Polled {
    fn from(found: bool) -> Polled {
        if found {
            Polled::Lines
        } else {
            Polled::Idle
        }
    }
}

/// The last complete lines of `file`, back to the `count`-th one that
/// `counts` (oldest first), and the offset just after the last `\n` (where
/// following starts; a line still being written is left for it).
///
/// Reads blocks backwards once and walks their lines from the end, so the
/// work is linear in the bytes read, however large `count` is. A line
/// longer than a block makes the next read as large as it (doubling).
fn last_lines(
    file: &mut File,
    count: usize,
    counts: impl Fn(&[u8]) -> bool,
) -> io::Result<(Vec<Vec<u8>>, u64)> {
    let length = file.metadata()?.len();
    let mut start = length;
    // The bytes from `start` up to the next `\n` (or the end): the end of a
    // line whose start is not read yet.
    let mut carry: Vec<u8> = Vec::new();
    // Where following starts, once the last `\n` is found.
    let mut end: Option<u64> = None;
    // Newest first; `counted` of them count.
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut counted = 0usize;
    let take = |line: &[u8], lines: &mut Vec<Vec<u8>>, counted: &mut usize| {
        if counts(line) {
            *counted += 1;
        }
        lines.push(line.to_vec());
    };
    'blocks: while start > 0 && (end.is_none() || counted < count) {
        let size = (BACK_CHUNK as usize).max(carry.len()) as u64;
        let from = start.saturating_sub(size);
        let mut block = vec![0; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&carry);
        scanned(block.len());
        start = from;
        let mut rest = &block[..];
        while let Some(newline) = rest.iter().rposition(|&b| b == b'\n') {
            let line = &rest[newline + 1..];
            if end.is_none() {
                // After the last `\n`: still being written.
                end = Some(from + newline as u64 + 1);
            } else {
                take(line, &mut lines, &mut counted);
                if counted >= count {
                    carry.clear();
                    break 'blocks;
                }
            }
            rest = &rest[..newline];
            if end.is_some() && count == 0 {
                carry.clear();
                break 'blocks;
            }
        }
        carry = rest.to_vec();
    }
    if start == 0 && end.is_some() && counted < count {
        // The file's first line.
        take(&carry, &mut lines, &mut counted);
    }
    lines.reverse();
    Ok((lines, end.unwrap_or(0)))
}

#[cfg(test)]
thread_local! {
    /// Bytes searched for newlines by `last_lines` on this thread (tests).
    static SCANNED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts bytes searched by `last_lines` (tests).
fn scanned(_bytes: usize) {
    #[cfg(test)]
    SCANNED.with(|scanned| scanned.set(scanned.get() + _bytes as u64));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join("monitor-cli-unit")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    fn collect(lines: &mut Vec<String>) -> impl FnMut(&[u8]) -> io::Result<()> + '_ {
        |line| {
            lines.push(String::from_utf8(line.to_vec()).unwrap());
            Ok(())
        }
    }

    #[test]
    fn the_last_lines_come_first_and_a_line_being_written_waits_for_its_end() {
        let dir = dir("last");
        let path = dir.join("current.log");
        append(&path, "1\n2\n3\npart");
        let mut seen = Vec::new();
        let mut follower = Follower::start(path.clone(), 2, collect(&mut seen)).unwrap();
        assert_eq!(seen, ["2", "3"]);
        assert_eq!(follower.poll(collect(&mut seen)).unwrap(), Polled::Idle);
        append(&path, "ial\n4\n");
        assert_eq!(follower.poll(collect(&mut seen)).unwrap(), Polled::Lines);
        assert_eq!(seen, ["2", "3", "partial", "4"]);
    }

    #[test]
    fn the_last_lines_are_found_across_read_chunks() {
        let dir = dir("chunks");
        let path = dir.join("current.log");
        let line = "y".repeat(1000);
        let text: String = (0..200).map(|i| format!("{i}{line}\n")).collect();
        append(&path, &text);
        let mut seen = Vec::new();
        Follower::start(path.clone(), 100, collect(&mut seen)).unwrap();
        let expected: Vec<String> = (100..200).map(|i| format!("{i}{line}")).collect();
        assert_eq!(seen, expected);
        let mut all = Vec::new();
        Follower::start(path, 1000, collect(&mut all)).unwrap();
        assert_eq!(all.len(), 200);
    }

    #[test]
    fn a_rotation_loses_and_repeats_nothing() {
        let dir = dir("rotate");
        let path = dir.join("current.log");
        append(&path, "old 1\n");
        let mut seen = Vec::new();
        let mut follower = Follower::start(path.clone(), 0, collect(&mut seen)).unwrap();
        append(&path, "old 2\n");
        std::fs::rename(&path, dir.join("2026-12-06.log")).unwrap();
        // logrotate's way: the writer still finishes a line in the old file
        // before it notices the new one.
        append(&dir.join("2026-12-06.log"), "old 3\n");
        std::fs::File::create(&path).unwrap();
        follower.poll(collect(&mut seen)).unwrap();
        append(&dir.join("2026-12-06.log"), "old 4\n");
        append(&path, "new 1\n");
        follower.poll(collect(&mut seen)).unwrap();
        append(&path, "new 2\n");
        follower.poll(collect(&mut seen)).unwrap();
        assert_eq!(seen, ["old 2", "old 3", "old 4", "new 1", "new 2"]);
    }

    #[test]
    fn a_file_that_appears_later_is_read_from_its_start() {
        let dir = dir("later");
        let path = dir.join("current.log");
        let mut seen = Vec::new();
        let mut follower = Follower::start(path.clone(), 10, collect(&mut seen)).unwrap();
        assert_eq!(follower.poll(collect(&mut seen)).unwrap(), Polled::Idle);
        append(&path, "first\n");
        follower.poll(collect(&mut seen)).unwrap();
        assert_eq!(seen, ["first"]);
    }

    #[test]
    fn a_torn_line_cut_off_and_written_again_is_read_once_whole() {
        let dir = dir("torn");
        let path = dir.join("current.log");
        append(&path, "a\n");
        let mut seen = Vec::new();
        let mut follower = Follower::start(path.clone(), 0, collect(&mut seen)).unwrap();
        append(&path, "{\"half");
        follower.poll(collect(&mut seen)).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(2).unwrap();
        append(&path, "{\"whole\":1}\n");
        follower.poll(collect(&mut seen)).unwrap();
        assert_eq!(seen, ["{\"whole\":1}"]);
    }

    fn gzip(path: &Path) {
        let plain = std::fs::read(path).unwrap();
        let mut gz = path.as_os_str().to_owned();
        gz.push(".gz");
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(PathBuf::from(gz)).unwrap(),
            flate2::Compression::default(),
        );
        encoder.write_all(&plain).unwrap();
        encoder.finish().unwrap();
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn several_rotations_between_two_polls_lose_and_repeat_nothing() {
        let dir = dir("rotations");
        let path = dir.join("current.log");
        // Rotated before tail started: never printed.
        append(&dir.join("2026-12-05.log"), "older\n");
        append(&path, "a 1\n");
        let mut seen = Vec::new();
        let mut follower = Follower::start(path.clone(), 0, collect(&mut seen)).unwrap();
        append(&path, "a 2\n");
        std::fs::rename(&path, dir.join("2026-12-06.log")).unwrap();
        append(&path, "b 1\nb 2\n");
        std::fs::rename(&path, dir.join("2026-12-06.1.log")).unwrap();
        append(&path, "c 1\n");
        std::fs::rename(&path, dir.join("2026-12-06.2.log")).unwrap();
        gzip(&dir.join("2026-12-06.2.log"));
        append(&path, "d 1\n");
        // The file being read is compressed too: found by its first line.
        gzip(&dir.join("2026-12-06.log"));
        assert_eq!(follower.poll(collect(&mut seen)).unwrap(), Polled::Lines);
        append(&path, "d 2\n");
        follower.poll(collect(&mut seen)).unwrap();
        assert_eq!(seen, ["a 2", "b 1", "b 2", "c 1", "d 1", "d 2"]);
        assert!(follower.take_notices().is_empty());
    }

    #[test]
    fn a_rotated_file_deleted_before_it_was_read_is_passed_over_with_a_notice() {
        let dir = dir("retention");
        let path = dir.join("errors").join("current_errors.log");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        append(&path, "a 1\n");
        let mut seen = Vec::new();
        let mut follower = Follower::start(path.clone(), 1, collect(&mut seen)).unwrap();
        let rotated = |name: &str| path.parent().unwrap().join(name);
        std::fs::rename(&path, rotated("20261206T100000Z_errors.log")).unwrap();
        append(&path, "b 1\n");
        std::fs::rename(&path, rotated("20261206T100001Z_errors.log")).unwrap();
        append(&path, "c 1\n");
        std::fs::rename(&path, rotated("20261206T100002Z_errors.log")).unwrap();
        append(&path, "d 1\n");
        // The file systems's clock is coarse: say when each was last written.
        let written =
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        for (name, at) in [
            ("20261206T100000Z_errors.log", written),
            (
                "20261206T100002Z_errors.log",
                written + std::time::Duration::from_secs(2),
            ),
        ] {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(rotated(name))
                .unwrap();
            file.set_modified(at).unwrap();
        }
        // Retention deletes the oldest: the file being read and the next.
        std::fs::remove_file(rotated("20261206T100000Z_errors.log")).unwrap();
        std::fs::remove_file(rotated("20261206T100001Z_errors.log")).unwrap();
        follower.poll(collect(&mut seen)).unwrap();
        assert_eq!(seen, ["a 1", "c 1", "d 1"]);
        let notices = follower.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].contains("passed over"), "{notices:?}");
    }

    #[test]
    fn the_last_lines_of_a_file_shorter_than_asked_are_found_in_one_pass() {
        let dir = dir("linear");
        let path = dir.join("current.log");
        let text: String = (0..20_000).map(|i| format!("line {i:>40}\n")).collect();
        append(&path, &text);
        SCANNED.with(|scanned| scanned.set(0));
        let mut seen = Vec::new();
        Follower::start(path, 1_000_000, collect(&mut seen)).unwrap();
        assert_eq!(seen.len(), 20_000);
        assert_eq!(seen[19_999], format!("line {:>40}", 19_999));
        let scanned = SCANNED.with(std::cell::Cell::get);
        // Each block once, plus the part of a line that straddles two.
        assert!(
            scanned <= 2 * text.len() as u64,
            "{scanned} bytes scanned for {}",
            text.len()
        );
    }

    #[test]
    fn a_long_unfinished_line_is_not_read_again_on_every_poll() {
        let dir = dir("held");
        let path = dir.join("current.log");
        append(&path, "a\n");
        let mut seen = Vec::new();
        let mut follower = Follower::start(path.clone(), 0, collect(&mut seen)).unwrap();
        append(&path, &format!("{{\"x\":\"{}", "y".repeat(1 << 20)));
        follower.poll(collect(&mut seen)).unwrap();
        REREAD.with(|reread| reread.set(0));
        for _ in 0..10 {
            assert_eq!(follower.poll(collect(&mut seen)).unwrap(), Polled::Idle);
        }
        append(&path, "z\"}\n");
        assert_eq!(follower.poll(collect(&mut seen)).unwrap(), Polled::Lines);
        let reread = REREAD.with(std::cell::Cell::get);
        // 11 polls with the line held: its two ends each time, not all of it.
        assert!(
            reread <= 11 * 2 * CHECKED_EDGE as u64,
            "{reread} bytes read again"
        );
        assert_eq!(seen.len(), 1);
        assert!(seen[0].ends_with("yz\"}"));
    }

    #[test]
    fn lines_that_do_not_count_do_not_use_up_the_last_n() {
        let dir = dir("counting");
        let path = dir.join("current.log");
        let junk = "junk ".repeat(30_000);
        append(&path, &format!("1\n{junk}\n2\n{junk}\n{junk}\n3\nparti"));
        let mut seen = Vec::new();
        let counts = |line: &[u8]| !line.starts_with(b"junk");
        let mut follower =
            Follower::start_counting(path.clone(), 2, counts, collect(&mut seen)).unwrap();
        let short: Vec<&str> = seen.iter().map(|line| &line[..line.len().min(4)]).collect();
        assert_eq!(short, ["2", "junk", "junk", "3"]);
        append(&path, "al\n");
        follower.poll(collect(&mut seen)).unwrap();
        assert_eq!(seen.last().unwrap(), "partial");
        let mut all = Vec::new();
        Follower::start_counting(path.clone(), 9, counts, collect(&mut all)).unwrap();
        assert_eq!(all.len(), 7);
        assert_eq!(all[0], "1");
        let mut none = Vec::new();
        Follower::start_counting(path, 0, counts, collect(&mut none)).unwrap();
        assert!(none.is_empty());
    }
}
