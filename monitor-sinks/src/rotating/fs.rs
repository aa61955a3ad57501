//! The file operations [`RotatingLog`](super::RotatingLog) needs, behind a
//! trait so tests can inject faults. [`RealFs`] is the only implementation
//! used in production.

use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::time::SystemTime;

/// Identity of a file on disk (device and inode on unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

/// What [`LogFs::metadata`] reports about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Length in bytes.
    pub len: u64,
    /// Last modification time, when the platform reports one.
    pub modified: Option<SystemTime>,
    /// Device and inode, on unix.
    pub id: Option<FileId>,
}

/// Something readable and seekable, for reading existing files.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// An open file the writer appends to.
pub trait LogFile: Write + Send {
    /// Current length of the open file in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Device and inode of the open file (unix), to notice external renames.
    fn identity(&self) -> Option<FileId>;
    /// Truncates (or extends) the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Flushes data and metadata to the device (`fsync`).
    fn sync_all(&mut self) -> io::Result<()>;
}

/// File-system operations used by the rotating writer.
///
/// Hidden from the docs: it exists so tests can inject faults. Every method
/// must behave like the `std::fs` function of the same purpose.
pub trait LogFs: Send + Sync + 'static {
    /// Creates `dir` and its parents; new directories get `mode` on unix.
    fn create_dir_all(&self, dir: &Path, mode: u32) -> io::Result<()>;
    /// Opens `path` for appending, creating it with `mode` when missing.
    fn open_append(&self, path: &Path, mode: u32) -> io::Result<Box<dyn LogFile>>;
    /// Creates or truncates `path` for writing, with `mode` when created.
    fn create_truncate(&self, path: &Path, mode: u32) -> io::Result<Box<dyn LogFile>>;
    /// Opens `path` for reading.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadSeek>>;
    /// Metadata of `path`, following symbolic links.
    fn metadata(&self, path: &Path) -> io::Result<FileMeta>;
    /// Names (UTF-8 only) of the entries in `dir` that are not directories.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Renames `from` to `to`, failing with [`io::ErrorKind::AlreadyExists`]
    /// instead of replacing an existing `to`.
    fn rename_noclobber(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Reports a notice for the operator (standard error for [`RealFs`]).
    fn notice(&self, message: &str) {
        eprintln!("{message}");
    }
}

/// The real file system (`std::fs`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

struct RealFile(fs::File);

impl fmt::Debug for RealFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RealFile").finish()
    }
}

impl Write for RealFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogFile for RealFile {
    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn identity(&self) -> Option<FileId> {
        self.0.metadata().ok().and_then(|m| id_of(&m))
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_all(&mut self) -> io::Result<()> {
        self.0.sync_all()
    }
}

#[cfg(unix)]
fn id_of(m: &fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

#[cfg(not(unix))]
fn id_of(_: &fs::Metadata) -> Option<FileId> {
    None
}

#[cfg(unix)]
fn with_mode(o: &mut fs::OpenOptions, mode: u32) {
    use std::os::unix::fs::OpenOptionsExt;
    o.mode(mode);
}

#[cfg(not(unix))]
fn with_mode(_: &mut fs::OpenOptions, _: u32) {}

impl LogFs for RealFs {
    fn create_dir_all(&self, dir: &Path, mode: u32) -> io::Result<()> {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        b.create(dir)
    }

    fn open_append(&self, path: &Path, mode: u32) -> io::Result<Box<dyn LogFile>> {
        let mut o = fs::OpenOptions::new();
        o.append(true).create(true);
        with_mode(&mut o, mode);
        Ok(Box::new(RealFile(o.open(path)?)))
    }

    fn create_truncate(&self, path: &Path, mode: u32) -> io::Result<Box<dyn LogFile>> {
        let mut o = fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        with_mode(&mut o, mode);
        Ok(Box::new(RealFile(o.open(path)?)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadSeek>> {
        Ok(Box::new(fs::File::open(path)?))
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        let m = fs::metadata(path)?;
        Ok(FileMeta {
            len: m.len(),
            modified: m.modified().ok(),
            id: id_of(&m),
        })
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn rename_noclobber(&self, from: &Path, to: &Path) -> io::Result<()> {
        // A hard link fails atomically when `to` exists; then drop the old name.
        match fs::hard_link(from, to) {
            Ok(()) => match fs::remove_file(from) {
                Ok(()) => Ok(()),
                Err(e) => {
                    // Never leave the same lines under two names.
                    let _ = fs::remove_file(to);
                    Err(e)
                }
            },
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
            Err(_) => {
                // File systems without hard links: check, then rename.
                if fs::symlink_metadata(to).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "rotation target exists",
                    ));
                }
                fs::rename(from, to)
            }
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
}
