//! [`Metadata`] and [`FileType`]: what statx(2) says about a file, and [`metadata`] /
//! [`symlink_metadata`], which ask it.

use std::fmt;
use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::sys;
use crate::io::Io;
use crate::os::annotate;

/// The metadata of a file: its type, size, permissions, owner and times (a statx(2) result).
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-metadata-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let found = runtime.run(|io| -> std::io::Result<(u64, bool)> {
///     io::fs::create_dir(io, &dir)?;
///     io::fs::write(io, dir.join("file"), b"12345")?;
///     let len = io::fs::metadata(io, dir.join("file"))?.len();
///     Ok((len, io::fs::metadata(io, &dir)?.is_dir()))
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// assert_eq!(found.unwrap(), (5, true));
/// ```
#[derive(Clone)]
pub struct Metadata {
    stat: libc::statx,
}

impl Metadata {
    pub(super) fn new(stat: libc::statx) -> Self {
        Self { stat }
    }

    /// The file's type.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode())
    }

    /// Whether the file is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }

    /// Whether the file is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }

    /// Whether the file is a symbolic link (only from [`symlink_metadata`], which does not
    /// follow it).
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }

    /// The size in bytes (for a symbolic link, the length of its target).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.stat.stx_size
    }

    /// The permission bits (`mode() & 0o7777`), as std represents them.
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode() & 0o7777)
    }

    /// The time of the last change of the contents.
    ///
    /// # Errors
    /// `Unsupported` where the file system does not keep it.
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_MTIME, self.stat.stx_mtime, "modification")
    }

    /// The time of the last access.
    ///
    /// # Errors
    /// `Unsupported` where the file system does not keep it.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_ATIME, self.stat.stx_atime, "access")
    }

    /// The time the file was created (its birth time).
    ///
    /// # Errors
    /// `Unsupported` where the file system does not keep it (tmpfs before Linux 5.18, NFS…).
    pub fn created(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_BTIME, self.stat.stx_btime, "creation")
    }

    fn time(&self, bit: u32, at: libc::statx_timestamp, what: &str) -> io::Result<SystemTime> {
        if self.stat.stx_mask & bit == 0 {
            let message = format!("the file system keeps no {what} time");
            return Err(io::Error::new(io::ErrorKind::Unsupported, message));
        }
        Ok(system_time(at))
    }

    /// The type and permission bits (`st_mode`).
    pub fn mode(&self) -> u32 {
        u32::from(self.stat.stx_mode)
    }

    /// The owner's user id.
    pub fn uid(&self) -> u32 {
        self.stat.stx_uid
    }

    /// The owner's group id.
    pub fn gid(&self) -> u32 {
        self.stat.stx_gid
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.stat.stx_ino
    }

    /// The id of the device the file is on (`st_dev`).
    pub fn dev(&self) -> u64 {
        libc::makedev(self.stat.stx_dev_major, self.stat.stx_dev_minor)
    }

    /// The number of hard links.
    pub fn nlink(&self) -> u64 {
        u64::from(self.stat.stx_nlink)
    }

    /// The size in bytes, as [`len`](Self::len).
    pub fn size(&self) -> u64 {
        self.stat.stx_size
    }

    /// The number of 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.stat.stx_blocks
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("file_type", &self.file_type())
            .field("len", &self.len())
            .field("mode", &format_args!("{:#o}", self.mode()))
            .field("uid", &self.uid())
            .field("gid", &self.gid())
            .field("ino", &self.ino())
            .finish_non_exhaustive()
    }
}

/// A statx timestamp as a `SystemTime` (before the epoch for a negative second count).
fn system_time(at: libc::statx_timestamp) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(at.tv_nsec));
    if at.tv_sec >= 0 {
        UNIX_EPOCH + Duration::from_secs(at.tv_sec as u64) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(at.tv_sec.unsigned_abs()) + nanos
    }
}

/// The type of a file: a directory, a regular file, a symbolic link, or (through the `is_*`
/// methods of the Unix kinds) a FIFO, a socket, a block or character device.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let types = runtime.run(|io| -> std::io::Result<_> {
///     Ok([
///         io::fs::metadata(io, "/")?.file_type(),
///         io::fs::metadata(io, "/dev/null")?.file_type(),
///         io::fs::symlink_metadata(io, "/proc/self")?.file_type(),
///         io::fs::metadata(io, "/proc/self/status")?.file_type(),
///     ])
/// });
/// let [root, null, link, status] = types.unwrap();
/// assert!(root.is_dir() && null.is_char_device() && link.is_symlink() && status.is_file());
/// assert!(!null.is_file() && !null.is_block_device() && !root.is_fifo() && !root.is_socket());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileType {
    /// The `S_IFMT` bits of the mode.
    format: u32,
}

impl FileType {
    pub(super) fn from_mode(mode: u32) -> Self {
        Self {
            format: mode & libc::S_IFMT,
        }
    }

    /// The type a directory entry's `d_type` names; `None` for `DT_UNKNOWN` (the file system
    /// does not say: a stat must).
    pub(super) fn from_dirent(d_type: u8) -> Option<Self> {
        let format = match d_type {
            libc::DT_DIR => libc::S_IFDIR,
            libc::DT_REG => libc::S_IFREG,
            libc::DT_LNK => libc::S_IFLNK,
            libc::DT_FIFO => libc::S_IFIFO,
            libc::DT_SOCK => libc::S_IFSOCK,
            libc::DT_BLK => libc::S_IFBLK,
            libc::DT_CHR => libc::S_IFCHR,
            _ => return None,
        };
        Some(Self { format })
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.format == libc::S_IFDIR
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.format == libc::S_IFREG
    }

    /// Whether it is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.format == libc::S_IFLNK
    }

    /// Whether it is a FIFO (a named pipe).
    pub fn is_fifo(&self) -> bool {
        self.format == libc::S_IFIFO
    }

    /// Whether it is a Unix domain socket.
    pub fn is_socket(&self) -> bool {
        self.format == libc::S_IFSOCK
    }

    /// Whether it is a block device.
    pub fn is_block_device(&self) -> bool {
        self.format == libc::S_IFBLK
    }

    /// Whether it is a character device.
    pub fn is_char_device(&self) -> bool {
        self.format == libc::S_IFCHR
    }
}

impl fmt::Debug for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.format {
            libc::S_IFDIR => "directory",
            libc::S_IFREG => "file",
            libc::S_IFLNK => "symlink",
            libc::S_IFIFO => "fifo",
            libc::S_IFSOCK => "socket",
            libc::S_IFBLK => "block device",
            libc::S_IFCHR => "char device",
            _ => "unknown",
        };
        f.write_str(name)
    }
}

/// The metadata of the file `path` names, following symbolic links.
///
/// # Errors
/// `NotFound`, `PermissionDenied`, `NotADirectory` (a component is not a directory) and the
/// other errors of statx(2); the message names the path: "stat /x/y: No such file or
/// directory (os error 2)".
///
/// # Cancelation
/// A cancellation point: IORING_OP_STATX on the ring, statx(2) on a thread.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let error = runtime.run(|io| io::fs::metadata(io, "/no/such/file")).unwrap_err();
/// assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
/// assert!(error.to_string().starts_with("stat /no/such/file: No such file or directory"));
/// ```
pub fn metadata(io: Io, path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(io, path.as_ref(), "stat", 0)
}

/// The metadata of `path` itself: of a symbolic link, not of what it points to.
///
/// # Errors
/// As [`metadata`]; the message names the operation `lstat`.
///
/// # Cancelation
/// A cancellation point.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-symlink-metadata-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let found = runtime.run(|io| -> std::io::Result<(bool, bool)> {
///     io::fs::create_dir(io, &dir)?;
///     io::fs::symlink(io, &dir, dir.join("link"))?;
///     let link = dir.join("link");
///     let is_symlink = io::fs::symlink_metadata(io, &link)?.is_symlink();
///     Ok((is_symlink, io::fs::metadata(io, &link)?.is_dir()))
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// assert_eq!(found.unwrap(), (true, true));
/// ```
pub fn symlink_metadata(io: Io, path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(io, path.as_ref(), "lstat", libc::AT_SYMLINK_NOFOLLOW)
}

fn stat(io: Io, path: &Path, op: &'static str, flags: libc::c_int) -> io::Result<Metadata> {
    let fail = |e| annotate(op, path.display(), e);
    let c_path = sys::c_path(path).map_err(fail)?;
    let stat = sys::statx(io, libc::AT_FDCWD, c_path, flags).map_err(fail)?;
    Ok(Metadata::new(stat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_before_and_after_the_epoch() {
        let at = |tv_sec, tv_nsec| {
            // SAFETY: `statx_timestamp` is plain integers, for which all zeroes is valid.
            let mut at: libc::statx_timestamp = unsafe { std::mem::zeroed() };
            (at.tv_sec, at.tv_nsec) = (tv_sec, tv_nsec);
            at
        };
        assert_eq!(system_time(at(10, 5)), UNIX_EPOCH + Duration::new(10, 5));
        assert_eq!(
            system_time(at(-2, 500_000_000)),
            UNIX_EPOCH - Duration::from_millis(1_500)
        );
    }

    #[test]
    fn dirent_types_map_to_file_types() {
        assert!(FileType::from_dirent(libc::DT_DIR).unwrap().is_dir());
        assert!(FileType::from_dirent(libc::DT_LNK).unwrap().is_symlink());
        assert!(FileType::from_dirent(libc::DT_FIFO).unwrap().is_fifo());
        assert_eq!(FileType::from_dirent(libc::DT_UNKNOWN), None);
        assert_eq!(
            FileType::from_dirent(libc::DT_REG),
            Some(FileType::from_mode(libc::S_IFREG | 0o644))
        );
    }
}
