//! Reading a live JSON Lines file (`current.log`) as it grows, across
//! rotations, for `monitor tail`.
//!
//! The writer appends whole lines and rotates by renaming `current.log`
//! away and creating a new one (the monitor itself, or logrotate). The
//! follower keeps the file it opened: when the path names another file, it
//! reads what is left of the old one, waits until the writer has moved on
//! (the new file is not empty), reads the old one a last time, and goes on
//! with the new file from its start: no line is missed or printed twice.
//! A file that shrinks under it (a torn last line cut off, `copytruncate`)
//! is read again from the start of the line it was in, or from the start.
//!
//! Only complete lines (ended by `\n`) are handed out; a line still being
//! written waits for its end.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// How much is read back from the end to find the last lines.
const BACK_CHUNK: u64 = 64 * 1024;

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
            // may have been cut off and written again whole meanwhile.
            let mut again = vec![0; self.partial.len()];
            self.file.seek(SeekFrom::Start(line_start))?;
            self.file.read_exact(&mut again)?;
            if again != self.partial {
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
    pub(crate) fn start(
        path: PathBuf,
        last: usize,
        mut emit: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Follower> {
        let open = match Open::new(&path) {
            Ok(mut open) => {
                let (lines, end) = last_lines(&mut open.file, last)?;
                for line in &lines {
                    emit(line)?;
                }
                open.position = end;
                Some(open)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        Ok(Follower { path, open })
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
            if let Some(old) = &mut self.open {
                found |= old.read_new(&mut emit)?;
            }
            match Open::new(&self.path) {
                Ok(mut next) => {
                    found |= next.read_new(&mut emit)?;
                    self.open = Some(next);
                }
                // Renamed away again meanwhile: the next poll finds the new one.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        Ok(if found { Polled::Lines } else { Polled::Idle })
    }
}

/// The last `count` complete lines of `file` and the offset just after the
/// last `\n` (where following starts; a line still being written is left for it).
fn last_lines(file: &mut File, count: usize) -> io::Result<(Vec<Vec<u8>>, u64)> {
    let length = file.metadata()?.len();
    // Read backwards in chunks until `count + 1` newlines are in hand (the
    // one before the first line) or the start of the file.
    let mut start = length;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let newlines = tail.iter().filter(|&&b| b == b'\n').count();
        if start == 0 || newlines > count {
            break;
        }
        let from = start.saturating_sub(BACK_CHUNK);
        let mut chunk = vec![0; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
    }
    let complete = tail.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let end = start + complete as u64;
    let mut lines: Vec<Vec<u8>> = tail[..complete]
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    lines.pop(); // after the last `\n`
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // the end of a line that started before `start`
    }
    let skip = lines.len().saturating_sub(count);
    Ok((lines.split_off(skip), end))
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
}
