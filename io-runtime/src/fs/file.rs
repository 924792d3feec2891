//! [`File`]: an open file whose blocking operations are cancellation points.

use std::fmt;
use std::fs::Permissions;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::sys;
use super::{Metadata, OpenOptions};
use crate::io::Io;
use crate::os;

/// An open file.
///
/// Dropping a `File` closes it without blocking (errors are ignored, as std does); call
/// [`close`](Self::close) to see them.
///
/// # Examples
/// ```
/// use std::io::{BufRead, BufReader};
/// use io::fs::File;
///
/// let path = std::env::temp_dir().join(format!("io-doc-file-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let lines = runtime.run(|io| -> std::io::Result<Vec<String>> {
///     let file = File::create(io, &path)?;
///     file.write_all(io, b"first\nsecond\n")?;
///     file.close(io)?;
///     BufReader::new(File::open(io, &path)?).lines().collect()
/// });
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(lines.unwrap(), ["first", "second"]);
/// ```
pub struct File {
    fd: OwnedFd,
    io: Io,
    path: Box<Path>,
}

impl File {
    pub(super) fn new(fd: OwnedFd, io: Io, path: Box<Path>) -> Self {
        Self { fd, io, path }
    }

    /// Opens `path` for reading. Like open(2), opening a FIFO waits until a writer opens it.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied`, `InvalidInput` (a path with a NUL byte) and the other
    /// errors of openat(2); the message names the path.
    ///
    /// # Cancelation
    /// A cancellation point, also while the open waits (a FIFO without a writer).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let error = runtime.run(|io| io::fs::File::open(io, "/no/such/file")).unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    /// assert!(error.to_string().starts_with("open /no/such/file: No such file or directory"));
    /// ```
    pub fn open(io: Io, path: impl AsRef<Path>) -> io::Result<Self> {
        OpenOptions::new().read(true).open(io, path)
    }

    /// Opens `path` for writing, creating it if needed and truncating it if it exists.
    ///
    /// # Errors
    /// As [`open`](Self::open), e.g. `NotFound` when the directory does not exist.
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-file-create-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let len = runtime.run(|io| -> std::io::Result<u64> {
    ///     io::fs::write(io, &path, b"old contents")?;
    ///     let file = io::fs::File::create(io, &path)?; // truncates
    ///     assert_eq!(file.path(), path);
    ///     file.write_all(io, b"new")?;
    ///     file.len(io)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(len.unwrap(), 3);
    /// ```
    pub fn create(io: Io, path: impl AsRef<Path>) -> io::Result<Self> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(io, path)
    }

    /// An [`OpenOptions`] with every option off: the way to open with other options.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-file-options-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let text = runtime.run(|io| -> std::io::Result<String> {
    ///     let file = io::fs::File::options().read(true).write(true).create(true).open(io, &path)?;
    ///     file.write_all(io, b"read back")?;
    ///     let mut buf = [0; 9];
    ///     file.read_exact_at(io, &mut buf, 0)?;
    ///     Ok(String::from_utf8_lossy(&buf).into_owned())
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(text.unwrap(), "read back");
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// The path the file was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, op: &'static str) -> impl FnOnce(io::Error) -> io::Error + '_ {
        move |error| os::annotate(op, self.path.display(), error)
    }

    /// Reads at the file's position into `buf` and advances it; `Ok(0)` at end of file.
    ///
    /// # Errors
    /// The errors of read(2), e.g. `IsADirectory`; the message names the path.
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-file-read-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let reads = runtime.run(|io| -> std::io::Result<Vec<usize>> {
    ///     io::fs::write(io, &path, b"0123456789")?;
    ///     let file = io::fs::File::open(io, &path)?;
    ///     let mut buf = [0; 4];
    ///     let mut reads = Vec::new();
    ///     loop {
    ///         match file.read(io, &mut buf)? {
    ///             0 => return Ok(reads),
    ///             n => reads.push(n),
    ///         }
    ///     }
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(reads.unwrap(), [4, 4, 2]);
    /// ```
    pub fn read(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
        os::read(io, self.fd.as_fd(), buf).map_err(self.fail("read"))
    }

    /// Writes some of `buf` at the file's position (at its end in append mode) and advances it.
    ///
    /// # Errors
    /// The errors of write(2), e.g. `StorageFull`; the message names the path.
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-file-write-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let text = runtime.run(|io| -> std::io::Result<String> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     let mut rest: &[u8] = b"written in pieces";
    ///     while !rest.is_empty() {
    ///         let n = file.write(io, rest)?;
    ///         rest = &rest[n..];
    ///     }
    ///     file.close(io)?;
    ///     io::fs::read_to_string(io, &path)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(text.unwrap(), "written in pieces");
    /// ```
    pub fn write(&self, io: Io, buf: &[u8]) -> io::Result<usize> {
        os::write(io, self.fd.as_fd(), buf).map_err(self.fail("write"))
    }

    /// Writes all of `buf` at the file's position.
    ///
    /// # Errors
    /// As [`write`](Self::write); `WriteZero` if the kernel takes nothing. On an error an
    /// unknown prefix of `buf` was written.
    ///
    /// # Cancelation
    /// A cancellation point between and during the writes; a cancel leaves a prefix written.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-file-write-all-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let len = runtime.run(|io| -> std::io::Result<u64> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     file.write_all(io, &[7; 100_000])?;
    ///     file.len(io)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(len.unwrap(), 100_000);
    /// ```
    pub fn write_all(&self, io: Io, buf: &[u8]) -> io::Result<()> {
        let zero = || self.fail("write")(io::ErrorKind::WriteZero.into());
        os::write_all(buf, |rest| self.write(io, rest), zero)
    }

    /// Reads into `buf` from `offset`, leaving the file's position alone; `Ok(0)` at end of
    /// file. Tasks may read different parts of one file at the same time.
    ///
    /// # Errors
    /// The errors of pread(2); `InvalidInput` for an offset beyond `i64::MAX`.
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-file-read-at-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let found = runtime.run(|io| -> std::io::Result<(usize, [u8; 4], usize)> {
    ///     io::fs::write(io, &path, b"0123456789")?;
    ///     let file = io::fs::File::open(io, &path)?;
    ///     let mut buf = [0; 4];
    ///     let n = file.read_at(io, &mut buf, 3)?;
    ///     // The position did not move: a read starts at 0.
    ///     Ok((n, buf, file.read(io, &mut [0; 16])?))
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(found.unwrap(), (4, *b"3456", 10));
    /// ```
    pub fn read_at(&self, io: Io, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        os::pread(io, self.fd.as_fd(), buf, offset).map_err(self.fail("read"))
    }

    /// Fills `buf` from `offset`, leaving the file's position alone.
    ///
    /// # Errors
    /// As [`read_at`](Self::read_at); `UnexpectedEof` if the file ends first.
    ///
    /// # Cancelation
    /// A cancellation point between and during the reads.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-file-read-exact-at-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (tail, past_end) = runtime.run(|io| -> std::io::Result<_> {
    ///     io::fs::write(io, &path, b"header:body")?;
    ///     let file = io::fs::File::open(io, &path)?;
    ///     let mut tail = [0; 4];
    ///     file.read_exact_at(io, &mut tail, 7)?;
    ///     Ok((tail, file.read_exact_at(io, &mut [0; 8], 7).unwrap_err().kind()))
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!((&tail, past_end), (b"body", std::io::ErrorKind::UnexpectedEof));
    /// ```
    pub fn read_exact_at(&self, io: Io, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(io, buf, offset)? {
                0 => return Err(self.fail("read")(io::ErrorKind::UnexpectedEof.into())),
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }

    /// Writes some of `buf` at `offset`, leaving the file's position alone. Tasks may write
    /// different parts of one file at the same time.
    ///
    /// On Linux a file opened in append mode appends whatever the offset.
    ///
    /// # Errors
    /// The errors of pwrite(2); `InvalidInput` for an offset beyond `i64::MAX`.
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-at-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let text = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let file = io::fs::File::options().read(true).write(true).create(true).open(io, &path)?;
    ///     io.scope(|s| {
    ///         let world = s.spawn_async(|| file.write_all_at(io, b"world", 6));
    ///         file.write_all_at(io, b"hello ", 0)?;
    ///         world.join(io)
    ///     })?;
    ///     let mut text = vec![0; 11];
    ///     file.read_exact_at(io, &mut text, 0)?;
    ///     Ok(text)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(text.unwrap(), b"hello world");
    /// ```
    pub fn write_at(&self, io: Io, buf: &[u8], offset: u64) -> io::Result<usize> {
        os::pwrite(io, self.fd.as_fd(), buf, offset).map_err(self.fail("write"))
    }

    /// Writes all of `buf` at `offset`, leaving the file's position alone.
    ///
    /// # Errors
    /// As [`write_at`](Self::write_at); `WriteZero` if the kernel takes nothing.
    ///
    /// # Cancelation
    /// A cancellation point between and during the writes; a cancel leaves a prefix written.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-file-write-all-at-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let text = runtime.run(|io| -> std::io::Result<String> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     file.write_all(io, b"hello world")?;
    ///     file.write_all_at(io, b"W", 6)?;
    ///     io::fs::read_to_string(io, &path)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(text.unwrap(), "hello World");
    /// ```
    pub fn write_all_at(&self, io: Io, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write_at(io, buf, offset)? {
                0 => return Err(self.fail("write")(io::ErrorKind::WriteZero.into())),
                n => {
                    buf = &buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }

    /// Flushes the file's data and metadata to its device (fsync(2)).
    ///
    /// # Errors
    /// The errors of fsync(2), e.g. an I/O error of the device.
    ///
    /// # Cancelation
    /// A cancellation point before the call; once in the kernel, the flush runs to its end.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-file-sync-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let text = runtime.run(|io| -> std::io::Result<String> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     file.write_all(io, b"durable")?;
    ///     file.sync_data(io)?; // the data
    ///     file.sync_all(io)?; // and the metadata
    ///     io::fs::read_to_string(io, &path)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(text.unwrap(), "durable");
    /// ```
    pub fn sync_all(&self, io: Io) -> io::Result<()> {
        os::fsync(io, self.fd.as_fd(), false).map_err(self.fail("sync"))
    }

    /// Flushes the file's data, and the metadata needed to read it back (fdatasync(2)).
    ///
    /// # Errors
    /// The errors of fdatasync(2).
    ///
    /// # Cancelation
    /// As [`sync_all`](Self::sync_all).
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-file-sync-data-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let len = runtime.run(|io| -> std::io::Result<u64> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     file.write_all(io, b"log line\n")?;
    ///     file.sync_data(io)?;
    ///     file.len(io)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(len.unwrap(), 9);
    /// ```
    pub fn sync_data(&self, io: Io) -> io::Result<()> {
        os::fsync(io, self.fd.as_fd(), true).map_err(self.fail("sync"))
    }

    /// The file's length in bytes (from its metadata, fstat(2)).
    ///
    /// # Errors
    /// The errors of fstat(2).
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-file-len-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let lens = runtime.run(|io| -> std::io::Result<(u64, u64)> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     let empty = file.len(io)?;
    ///     file.write_all(io, b"twelve bytes")?;
    ///     Ok((empty, file.len(io)?))
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(lens.unwrap(), (0, 12));
    /// ```
    pub fn len(&self, io: Io) -> io::Result<u64> {
        os::file_len(io, self.fd.as_fd()).map_err(self.fail("stat"))
    }

    /// Closes the file and reports the outcome, which dropping it ignores: on some file
    /// systems (NFS) a failed write only shows here.
    ///
    /// # Errors
    /// The errors of close(2), e.g. `EIO`. The descriptor is released either way.
    ///
    /// # Cancelation
    /// Not a cancellation point: the descriptor is always released, even in a canceled task.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-file-close-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let text = runtime.run(|io| -> std::io::Result<String> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     file.write_all(io, b"closed cleanly")?;
    ///     file.close(io)?; // a failed write that only shows at close would be an error here
    ///     io::fs::read_to_string(io, &path)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(text.unwrap(), "closed cleanly");
    /// ```
    pub fn close(self, io: Io) -> io::Result<()> {
        let Self { fd, path, .. } = self;
        os::close(io, fd).map_err(|e| os::annotate("close", path.display(), e))
    }

    /// The file's metadata (statx(2) of the descriptor).
    ///
    /// # Errors
    /// The errors of statx(2); the message names the path ("stat /x: …").
    ///
    /// # Cancelation
    /// A cancellation point on a thread. The stat of an open descriptor never waits for a
    /// disk on a local file system, so every backend makes it in place, also a fiber on its
    /// loop's thread (the ring's STATX would cost a hop to a kernel worker each time).
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-file-metadata-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let metadata = runtime.run(|io| -> std::io::Result<io::fs::Metadata> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     file.write_all(io, b"abc")?;
    ///     file.metadata(io)
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// assert!(metadata.is_file());
    /// assert_eq!((metadata.len(), metadata.nlink()), (3, 1));
    /// ```
    pub fn metadata(&self, io: Io) -> io::Result<Metadata> {
        let _ = io;
        sys::fstatx(self.fd.as_raw_fd())
            .map(Metadata::new)
            .map_err(self.fail("stat"))
    }

    /// Cuts the file to `len` bytes, or extends it with zeroes; the position stays where it
    /// is.
    ///
    /// # Errors
    /// `InvalidInput` if the file is not open for writing or `len` is beyond `i64::MAX`; the
    /// errors of ftruncate(2). The message names the path ("truncate /x: …").
    ///
    /// # Cancelation
    /// A cancellation point (IORING_OP_FTRUNCATE where the kernel has it, Linux 6.9; otherwise
    /// ftruncate(2) on the offload pool).
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("io-doc-set-len-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let len = runtime.run(|io| -> std::io::Result<u64> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     file.write_all(io, b"0123456789")?;
    ///     file.set_len(io, 4)?;
    ///     Ok(file.metadata(io)?.len())
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(len.unwrap(), 4);
    /// ```
    pub fn set_len(&self, io: Io, len: u64) -> io::Result<()> {
        sys::ftruncate(io, self.fd.as_fd(), len).map_err(self.fail("truncate"))
    }

    /// Sets the file's permission bits (fchmod(2)).
    ///
    /// # Errors
    /// `PermissionDenied` if the caller does not own the file, and the other errors of
    /// fchmod(2); the message names the path ("chmod /x: …").
    ///
    /// # Cancelation
    /// A cancellation point (on the offload pool on the uring backend: no ring opcode).
    ///
    /// # Examples
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// let path = std::env::temp_dir().join(format!("io-doc-file-chmod-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let mode = runtime.run(|io| -> std::io::Result<u32> {
    ///     let file = io::fs::File::create(io, &path)?;
    ///     file.set_permissions(io, std::fs::Permissions::from_mode(0o640))?;
    ///     Ok(file.metadata(io)?.permissions().mode() & 0o777)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(mode.unwrap(), 0o640);
    /// ```
    pub fn set_permissions(&self, io: Io, permissions: Permissions) -> io::Result<()> {
        let mode = permissions.mode() as libc::mode_t;
        sys::fchmod(io, self.fd.as_fd(), mode).map_err(self.fail("chmod"))
    }

    /// A `File` of the open descriptor `fd`, whose operations block on `io`'s runtime.
    ///
    /// There is no `From<OwnedFd> for File` (nor `FromRawFd`): a `File` keeps the [`Io`] its
    /// `Read` and `Write` implementations block on, and a conversion has no `io` to take. The
    /// path that errors name is the one `/proc/self/fd` shows now, or "fd N".
    ///
    /// # Examples
    /// ```
    /// use std::os::fd::OwnedFd;
    ///
    /// let path = std::env::temp_dir().join(format!("io-doc-from-fd-{}", std::process::id()));
    /// std::fs::write(&path, b"from std").unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let text = runtime.run(|io| -> std::io::Result<String> {
    ///     let fd = OwnedFd::from(std::fs::File::open(&path)?);
    ///     let file = io::fs::File::from_fd(io, fd);
    ///     assert_eq!(file.path(), path.as_path());
    ///     std::io::read_to_string(file)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(text.unwrap(), "from std");
    /// ```
    pub fn from_fd(io: Io, fd: OwnedFd) -> Self {
        let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let path =
            std::fs::read_link(link).unwrap_or_else(|_| format!("fd {}", fd.as_raw_fd()).into());
        Self::new(fd, io, path.into())
    }

    /// A `File` of an open `std::fs::File` (see [`from_fd`](Self::from_fd)).
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-file-from-std-file-{}", std::process::id()));
    /// std::fs::write(&path, b"opened by std").unwrap();
    /// let std_file = std::fs::File::open(&path).unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let text = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let file = io::fs::File::from_std(io, std_file);
    ///     let mut buf = vec![0; 32];
    ///     let n = file.read(io, &mut buf)?;
    ///     buf.truncate(n);
    ///     Ok(buf)
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(text.unwrap(), b"opened by std");
    /// ```
    pub fn from_std(io: Io, file: std::fs::File) -> Self {
        Self::from_fd(io, file.into())
    }

    fn seek_to(&self, pos: SeekFrom) -> io::Result<u64> {
        os::lseek(self.fd.as_fd(), pos).map_err(self.fail("seek"))
    }
}

/// Seeking never blocks, so it is not a cancellation point.
impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.seek_to(pos)
    }
}

/// Seeking never blocks, so it is not a cancellation point.
impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.seek_to(pos)
    }
}

crate::descriptor::owned_descriptor!(File);
crate::descriptor::read_through_io!(File);
crate::descriptor::write_through_io!(File);

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.as_raw_fd())
            .field("path", &self.path)
            .finish()
    }
}
