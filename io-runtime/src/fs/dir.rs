//! Directories: [`read_dir`] with its [`ReadDir`] and [`DirEntry`], [`create_dir`],
//! [`create_dir_all`] and [`remove_dir`].

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::dirent::DirReader;
use super::{symlink_metadata, sys, FileType, Metadata};
use crate::io::Io;
use crate::os::annotate;

/// The entries of the directory `path`, in the order the file system keeps them (without `.`
/// and `..`).
///
/// # Errors
/// `NotFound`, `NotADirectory`, `PermissionDenied` and the other errors of opening a
/// directory; the message names the path ("read_dir /x: …"). Reading the entries may fail
/// later, in [`ReadDir`]'s `next`.
///
/// # Cancelation
/// A cancellation point, as is each batch of entries that [`ReadDir`] reads.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-read-dir-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let names = runtime.run(|io| -> std::io::Result<Vec<String>> {
///     io::fs::create_dir_all(io, dir.join("sub"))?;
///     io::fs::write(io, dir.join("file"), b"")?;
///     let mut names = Vec::new();
///     for entry in io::fs::read_dir(io, &dir)? {
///         let entry = entry?;
///         let kind = if entry.file_type()?.is_dir() { "dir" } else { "file" };
///         names.push(format!("{} {kind}", entry.file_name().to_string_lossy()));
///     }
///     names.sort();
///     Ok(names)
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// assert_eq!(names.unwrap(), ["file file", "sub dir"]);
/// ```
pub fn read_dir(io: Io, path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref();
    let fail = |e| annotate("read_dir", path.display(), e);
    let c_path = sys::c_path(path).map_err(fail)?;
    let fd = sys::open_dir(io, libc::AT_FDCWD, &c_path, false).map_err(fail)?;
    Ok(ReadDir {
        io,
        root: path.to_owned(),
        reader: DirReader::new(fd),
        failed: false,
    })
}

/// The entries of a directory, as [`read_dir`] returns them: an iterator of
/// `io::Result<DirEntry>` that keeps the [`Io`] it was made with.
///
/// Each call of `next` that needs a new batch reads many entries in one getdents64(2) — on the
/// uring backend on the offload pool, since no ring opcode reads a directory — and is a
/// cancellation point. After an error (a cancel included) the iterator ends.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-read-dir-struct-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let count = runtime.run(|io| -> std::io::Result<usize> {
///     io::fs::create_dir(io, &dir)?;
///     for name in ["a", "b", "c"] {
///         io::fs::write(io, dir.join(name), b"")?;
///     }
///     let entries: Vec<io::fs::DirEntry> = io::fs::read_dir(io, &dir)?.collect::<Result<_, _>>()?;
///     Ok(entries.len())
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// assert_eq!(count.unwrap(), 3);
/// ```
pub struct ReadDir {
    io: Io,
    root: PathBuf,
    reader: DirReader,
    failed: bool,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.failed {
            return None;
        }
        match self.reader.next(self.io) {
            Ok(Some(entry)) => Some(Ok(DirEntry {
                io: self.io,
                path: self.root.join(OsStr::from_bytes(entry.name)),
                ino: entry.ino,
                file_type: FileType::from_dirent(entry.d_type),
            })),
            Ok(None) => None,
            Err(error) => {
                self.failed = true;
                Some(Err(annotate("read_dir", self.root.display(), error)))
            }
        }
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir").field("path", &self.root).finish()
    }
}

/// An entry of a directory: its name, its path (the directory's path joined with the name),
/// and its type as the directory records it.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-dir-entry-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let found = runtime.run(|io| -> std::io::Result<_> {
///     io::fs::create_dir(io, &dir)?;
///     io::fs::write(io, dir.join("file"), b"four")?;
///     let entry = io::fs::read_dir(io, &dir)?.next().unwrap()?;
///     let metadata = entry.metadata(io)?;
///     assert_eq!(entry.ino(), metadata.ino());
///     Ok((entry.path(), entry.file_name(), entry.file_type()?.is_file(), metadata.len()))
/// });
/// let (path, name, is_file, len) = found.unwrap();
/// assert_eq!((path, name.to_str().unwrap(), is_file, len), (dir.join("file"), "file", true, 4));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct DirEntry {
    io: Io,
    path: PathBuf,
    ino: u64,
    /// From `d_type`; `None` where the file system did not say.
    file_type: Option<FileType>,
}

impl DirEntry {
    /// The entry's path: the path given to [`read_dir`] joined with [`file_name`](Self::file_name).
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The entry's name in its directory.
    pub fn file_name(&self) -> OsString {
        self.path.file_name().unwrap_or_default().to_owned()
    }

    /// The entry's inode number, as the directory records it.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The entry's type, not following a symbolic link. Most file systems record it in the
    /// directory, which costs nothing; where one does not, this stats the entry.
    ///
    /// # Errors
    /// Only when it must stat: the errors of [`symlink_metadata`] (e.g. `NotFound` for an
    /// entry removed since).
    ///
    /// # Cancelation
    /// A cancellation point when it stats.
    pub fn file_type(&self) -> io::Result<FileType> {
        match self.file_type {
            Some(file_type) => Ok(file_type),
            None => Ok(self.metadata(self.io)?.file_type()),
        }
    }

    /// The entry's metadata, not following a symbolic link (as std's `DirEntry::metadata`).
    ///
    /// # Errors
    /// The errors of [`symlink_metadata`].
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// let dir = std::env::temp_dir()
    ///     .join(format!("io-doc-entry-metadata-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let lens = runtime.run(|io| -> std::io::Result<Vec<u64>> {
    ///     io::fs::create_dir(io, &dir)?;
    ///     io::fs::write(io, dir.join("seven"), b"7 bytes")?;
    ///     let mut lens = Vec::new();
    ///     for entry in io::fs::read_dir(io, &dir)? {
    ///         lens.push(entry?.metadata(io)?.len());
    ///     }
    ///     Ok(lens)
    /// });
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// assert_eq!(lens.unwrap(), [7]);
    /// ```
    pub fn metadata(&self, io: Io) -> io::Result<Metadata> {
        symlink_metadata(io, &self.path)
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirEntry")
            .field("path", &self.path)
            .field("file_type", &self.file_type)
            .finish()
    }
}

/// Makes the directory `path` (mode `0o777` minus the umask).
///
/// # Errors
/// `AlreadyExists` if `path` exists, `NotFound` if its parent does not, `PermissionDenied`…;
/// the message names the path ("mkdir /x: …").
///
/// # Cancelation
/// A cancellation point (IORING_OP_MKDIRAT on the ring).
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-create-dir-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let again = runtime.run(|io| -> std::io::Result<std::io::Error> {
///     io::fs::create_dir(io, &dir)?;
///     assert!(io::fs::metadata(io, &dir)?.is_dir());
///     Ok(io::fs::create_dir(io, &dir).unwrap_err())
/// });
/// std::fs::remove_dir(&dir).unwrap();
/// assert_eq!(again.unwrap().kind(), std::io::ErrorKind::AlreadyExists);
/// ```
pub fn create_dir(io: Io, path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let fail = |e| annotate("mkdir", path.display(), e);
    let c_path = sys::c_path(path).map_err(fail)?;
    sys::mkdir(io, &c_path, 0o777).map_err(fail)
}

/// Makes the directory `path` and every missing parent; a directory that exists already (or
/// that another task makes meanwhile) is fine.
///
/// # Errors
/// As [`create_dir`], but never `AlreadyExists` for a directory; `AlreadyExists` if `path`
/// or a parent is something else than a directory.
///
/// # Cancelation
/// A cancellation point at each directory it makes.
///
/// # Examples
/// ```
/// let root = std::env::temp_dir().join(format!("io-doc-create-dir-all-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let is_dir = runtime.run(|io| -> std::io::Result<bool> {
///     io::fs::create_dir_all(io, root.join("a/b/c"))?;
///     io::fs::create_dir_all(io, root.join("a/b"))?; // exists already: fine
///     Ok(io::fs::metadata(io, root.join("a/b/c"))?.is_dir())
/// });
/// std::fs::remove_dir_all(&root).unwrap();
/// assert!(is_dir.unwrap());
/// ```
pub fn create_dir_all(io: Io, path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    match create_dir(io, path) {
        Ok(()) => return Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) if !crate::is_canceled(&error) && is_dir(io, path) => return Ok(()),
        Err(error) => return Err(error),
    }
    match path.parent() {
        Some(parent) => create_dir_all(io, parent)?,
        None => {
            return Err(annotate(
                "mkdir",
                path.display(),
                io::ErrorKind::NotFound.into(),
            ))
        }
    }
    match create_dir(io, path) {
        Err(error) if !crate::is_canceled(&error) && is_dir(io, path) => Ok(()),
        done => done,
    }
}

fn is_dir(io: Io, path: &Path) -> bool {
    super::metadata(io, path).is_ok_and(|m| m.is_dir())
}

/// Removes the empty directory `path`.
///
/// # Errors
/// `DirectoryNotEmpty`, `NotFound`, `NotADirectory`…; the message names the path
/// ("rmdir /x: …").
///
/// # Cancelation
/// A cancellation point (IORING_OP_UNLINKAT with `AT_REMOVEDIR` on the ring).
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-remove-dir-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let kinds = runtime.run(|io| -> std::io::Result<_> {
///     io::fs::create_dir(io, &dir)?;
///     io::fs::write(io, dir.join("file"), b"")?;
///     let not_empty = io::fs::remove_dir(io, &dir).unwrap_err().kind();
///     io::fs::remove_file(io, dir.join("file"))?;
///     io::fs::remove_dir(io, &dir)?;
///     Ok((not_empty, io::fs::metadata(io, &dir).unwrap_err().kind()))
/// });
/// use std::io::ErrorKind;
/// assert_eq!(kinds.unwrap(), (ErrorKind::DirectoryNotEmpty, ErrorKind::NotFound));
/// ```
pub fn remove_dir(io: Io, path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let fail = |e| annotate("rmdir", path.display(), e);
    let c_path = sys::c_path(path).map_err(fail)?;
    sys::unlink(io, libc::AT_FDCWD, &c_path, libc::AT_REMOVEDIR).map_err(fail)
}
