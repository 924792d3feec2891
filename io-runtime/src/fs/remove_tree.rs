//! [`remove_dir_all`]: removes a directory tree without following symbolic links.
//!
//! The walk works relative to open directory descriptors (opened with `O_NOFOLLOW`), as std's
//! does since CVE-2022-21658: a directory swapped for a symbolic link while the walk runs is
//! unlinked as a link, never entered, so nothing outside the tree is removed. It keeps one
//! open directory per level on an explicit stack (no recursion: a deep tree cannot overflow a
//! fiber's stack), reads each directory in batches, and unlinks each entry with its own
//! operation, so every entry is a cancellation point.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::dirent::DirReader;
use super::{remove_file, symlink_metadata, sys};
use crate::io::Io;
use crate::os::annotate;

/// Removes the directory `path` and everything in it. A symbolic link is removed, never
/// followed: `path` itself being a link removes only the link.
///
/// Entries that vanish meanwhile (another task removing them too) are not errors.
///
/// # Errors
/// The first error of a step, naming the path it concerns ("unlink /x/y: …", "rmdir /x: …"):
/// `NotFound` if `path` does not exist, `NotADirectory` if it is a file (as std's), and the
/// errors of reading, unlinking and removing directories. What was removed before the error
/// stays removed.
///
/// # Cancelation
/// A cancellation point at every entry and every batch of entries read; a cancel leaves the
/// tree partly removed.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-remove-all-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| -> std::io::Result<()> {
///     io::fs::create_dir_all(io, dir.join("a/b/c"))?;
///     io::fs::write(io, dir.join("a/b/file"), b"x")?;
///     io::fs::remove_dir_all(io, &dir)
/// }).unwrap();
/// assert!(!dir.exists());
/// ```
pub fn remove_dir_all(io: Io, path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    if symlink_metadata(io, path)?.is_symlink() {
        return remove_file(io, path);
    }
    let fail = |op| move |e| annotate(op, path.display(), e);
    let c_path = sys::c_path(path).map_err(fail("open"))?;
    let fd = sys::open_dir(io, libc::AT_FDCWD, &c_path, true).map_err(fail("open"))?;
    remove_contents(io, DirReader::new(fd), path)?;
    sys::unlink(io, libc::AT_FDCWD, &c_path, libc::AT_REMOVEDIR).map_err(fail("rmdir"))
}

/// A directory being emptied: its open descriptor, its name in its parent, its path.
struct Level {
    reader: DirReader,
    name: CString,
    path: PathBuf,
}

/// Empties the open directory `reader` (at `path`), depth first.
fn remove_contents(io: Io, reader: DirReader, path: &Path) -> io::Result<()> {
    let top = Level {
        reader,
        name: CString::default(),
        path: path.to_owned(),
    };
    let mut stack = vec![top];
    while let Some(level) = stack.last_mut() {
        let dir = level.reader.raw_fd();
        let entry = level
            .reader
            .next(io)
            .map_err(|e| annotate("read_dir", level.path.display(), e))?;
        let Some(entry) = entry else {
            // Empty now: remove it from its parent (the caller removes the top one).
            let done = stack.pop().expect("the loop holds a level");
            if let Some(parent) = stack.last() {
                let removed =
                    sys::unlink(io, parent.reader.raw_fd(), &done.name, libc::AT_REMOVEDIR);
                ignore_vanished(removed).map_err(|e| annotate("rmdir", done.path.display(), e))?;
            }
            continue;
        };
        let is_dir = entry.d_type == libc::DT_DIR;
        let unknown = entry.d_type == libc::DT_UNKNOWN;
        let name = CString::new(entry.name).expect("a directory entry holds no NUL");
        let child = level.path.join(OsStr::from_bytes(name.as_bytes()));
        if !is_dir {
            match sys::unlink(io, dir, &name, 0) {
                Err(e) if unknown && e.raw_os_error() == Some(libc::EISDIR) => {}
                removed => {
                    ignore_vanished(removed).map_err(|e| annotate("unlink", child.display(), e))?;
                    continue;
                }
            }
        }
        match sys::open_dir(io, dir, &name, true) {
            Ok(fd) => stack.push(Level {
                reader: DirReader::new(fd),
                name,
                path: child,
            }),
            // Not a directory (any more): a symbolic link or a file put in its place.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) => {
                let removed = sys::unlink(io, dir, &name, 0);
                ignore_vanished(removed).map_err(|e| annotate("unlink", child.display(), e))?;
            }
            Err(e) => {
                ignore_vanished(Err(e)).map_err(|e| annotate("open", child.display(), e))?;
            }
        }
    }
    Ok(())
}

/// `Ok` for an entry that is gone already.
fn ignore_vanished(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
