//! Operations on names: [`remove_file`], [`rename`], [`hard_link`], [`symlink`],
//! [`read_link`] and [`canonicalize`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::sys;
use crate::io::Io;
use crate::os::annotate;

/// Removes the file (or symbolic link, FIFO, socket…) `path`; not a directory.
///
/// # Errors
/// `NotFound`, `IsADirectory`, `PermissionDenied`…; the message names the path
/// ("unlink /x: …").
///
/// # Cancelation
/// A cancellation point (IORING_OP_UNLINKAT on the ring).
///
/// # Examples
/// ```
/// let path = std::env::temp_dir().join(format!("io-doc-remove-file-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let error = runtime.run(|io| -> std::io::Result<std::io::Error> {
///     io::fs::write(io, &path, b"short-lived")?;
///     io::fs::remove_file(io, &path)?;
///     Ok(io::fs::remove_file(io, &path).unwrap_err())
/// });
/// let error = error.unwrap();
/// assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
/// assert!(error.to_string().starts_with(&format!("unlink {}: ", path.display())));
/// ```
pub fn remove_file(io: Io, path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let fail = |e| annotate("unlink", path.display(), e);
    let c_path = sys::c_path(path).map_err(fail)?;
    sys::unlink(io, libc::AT_FDCWD, &c_path, 0).map_err(fail)
}

/// "from -> to", as the errors of two-path operations name their paths.
struct Pair<'a>(&'a Path, &'a Path);

impl fmt::Display for Pair<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.0.display(), self.1.display())
    }
}

/// Renames `from` to `to`, replacing `to` if it exists (a file by a file, or an empty
/// directory by a directory), as rename(2).
///
/// # Errors
/// `NotFound`, `DirectoryNotEmpty` (replacing a non-empty directory), `CrossesDevices`…; the
/// message names both paths ("rename /a -> /b: …").
///
/// # Cancelation
/// A cancellation point (IORING_OP_RENAMEAT on the ring).
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-rename-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let text = runtime.run(|io| -> std::io::Result<String> {
///     io::fs::create_dir(io, &dir)?;
///     io::fs::write(io, dir.join("old"), b"moved")?;
///     io::fs::rename(io, dir.join("old"), dir.join("new"))?;
///     let error = io::fs::rename(io, dir.join("old"), dir.join("new")).unwrap_err();
///     assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
///     assert!(error.to_string().starts_with(&format!("rename {}/old -> {}/new: ", dir.display(), dir.display())));
///     io::fs::read_to_string(io, dir.join("new"))
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// assert_eq!(text.unwrap(), "moved");
/// ```
pub fn rename(io: Io, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    let fail = |e| annotate("rename", Pair(from, to), e);
    let (c_from, c_to) = (
        sys::c_path(from).map_err(fail)?,
        sys::c_path(to).map_err(fail)?,
    );
    sys::rename(io, &c_from, &c_to).map_err(fail)
}

/// Makes `link` a new name (a hard link) of the file `original`; a symbolic link `original`
/// is linked itself, not followed.
///
/// # Errors
/// `AlreadyExists` if `link` exists, `NotFound`, `PermissionDenied` (a directory cannot be
/// hard-linked: `EPERM`), `CrossesDevices`…; the message names both paths ("link /a -> /b: …").
///
/// # Cancelation
/// A cancellation point (IORING_OP_LINKAT on the ring).
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-hard-link-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let found = runtime.run(|io| -> std::io::Result<(u64, String)> {
///     io::fs::create_dir(io, &dir)?;
///     io::fs::write(io, dir.join("original"), b"shared")?;
///     io::fs::hard_link(io, dir.join("original"), dir.join("link"))?;
///     io::fs::remove_file(io, dir.join("original"))?;
///     // The link still names the file, now its only name.
///     let link = dir.join("link");
///     Ok((io::fs::metadata(io, &link)?.nlink(), io::fs::read_to_string(io, &link)?))
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// assert_eq!(found.unwrap(), (1, "shared".to_string()));
/// ```
pub fn hard_link(io: Io, original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    let fail = |e| annotate("link", Pair(original, link), e);
    let c_original = sys::c_path(original).map_err(fail)?;
    let c_link = sys::c_path(link).map_err(fail)?;
    sys::link(io, &c_original, &c_link).map_err(fail)
}

/// Makes `link` a symbolic link whose target is `original` (stored as given: a relative
/// target is relative to `link`'s directory; it need not exist).
///
/// # Errors
/// `AlreadyExists` if `link` exists, `NotFound` if its directory does not…; the message
/// names both paths ("symlink /a -> /b: …").
///
/// # Cancelation
/// A cancellation point (IORING_OP_SYMLINKAT on the ring).
///
/// # Examples
/// ```
/// use std::path::PathBuf;
///
/// let dir = std::env::temp_dir().join(format!("io-doc-symlink-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let found = runtime.run(|io| -> std::io::Result<(PathBuf, bool, String)> {
///     io::fs::create_dir(io, &dir)?;
///     io::fs::write(io, dir.join("target"), b"through the link")?;
///     io::fs::symlink(io, "target", dir.join("link"))?; // relative to the link's directory
///     let is_symlink = io::fs::symlink_metadata(io, dir.join("link"))?.is_symlink();
///     let text = io::fs::read_to_string(io, dir.join("link"))?;
///     Ok((io::fs::read_link(io, dir.join("link"))?, is_symlink, text))
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// assert_eq!(found.unwrap(), (PathBuf::from("target"), true, "through the link".to_string()));
/// ```
pub fn symlink(io: Io, original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    let fail = |e| annotate("symlink", Pair(original, link), e);
    let c_original = sys::c_path(original).map_err(fail)?;
    let c_link = sys::c_path(link).map_err(fail)?;
    sys::symlink(io, &c_original, &c_link).map_err(fail)
}

/// The target of the symbolic link `path`, as stored.
///
/// # Errors
/// `NotFound`, `InvalidInput` if `path` is not a symbolic link…; the message names the path
/// ("readlink /x: …").
///
/// # Cancelation
/// A cancellation point (readlink(2) on the offload pool on the uring backend).
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let (this_process, not_a_link) = runtime.run(|io| {
///     (io::fs::read_link(io, "/proc/self"), io::fs::read_link(io, "/proc/self/status"))
/// });
/// // /proc/self is a link to the reading process's directory, named by its id.
/// assert_eq!(this_process.unwrap(), std::path::Path::new(&std::process::id().to_string()));
/// assert_eq!(not_a_link.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub fn read_link(io: Io, path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref();
    let fail = |e| annotate("readlink", path.display(), e);
    let c_path = sys::c_path(path).map_err(fail)?;
    sys::readlink(io, &c_path).map_err(fail)
}

/// The absolute form of `path` with every symbolic link, `.` and `..` resolved
/// (realpath(3)); the file must exist.
///
/// # Errors
/// `NotFound`, `NotADirectory`, `FilesystemLoop`…; the message names the path
/// ("canonicalize /x: …").
///
/// # Cancelation
/// A cancellation point (realpath(3) on the offload pool on the uring backend; the cancel
/// signal interrupts its lookups).
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-canonicalize-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("sub")).unwrap();
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let (resolved, missing) = runtime.run(|io| {
///     let resolved = io::fs::canonicalize(io, dir.join("sub/../sub/."));
///     (resolved, io::fs::canonicalize(io, dir.join("nothing")))
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// let resolved = resolved.unwrap();
/// assert!(resolved.is_absolute() && resolved.ends_with("sub"));
/// assert!(!resolved.to_string_lossy().contains(".."));
/// assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
/// ```
pub fn canonicalize(io: Io, path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref();
    let fail = |e| annotate("canonicalize", path.display(), e);
    let c_path = sys::c_path(path).map_err(fail)?;
    sys::realpath(io, &c_path).map_err(fail)
}
