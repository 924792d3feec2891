//! Files whose blocking operations are cancellation points: [`File`] and [`OpenOptions`].
//!
//! A `File` keeps the [`Io`] it was opened with, so it implements [`Read`], [`Write`] and
//! [`Seek`] (on `File` and `&File`) and works with `BufReader`, `BufWriter` and
//! `std::io::copy`. Its inherent methods take the `io` to block on, as everything in this crate
//! does: where a name exists in both, `file.read(io, buf)` is the inherent method and
//! `Read::read(&mut file, buf)` the trait's.
//!
//! Errors keep their [`ErrorKind`](io::ErrorKind) (`NotFound`, `AlreadyExists`,
//! `PermissionDenied`, …) and name the operation and path: "open /x/y: No such file or
//! directory (os error 2)". A canceled operation returns an error for which
//! [`is_canceled`](crate::is_canceled) is true.
//!
//! Opens wait as open(2) does, on both backends: a FIFO opened for reading waits until a
//! writer opens it, one opened for writing until a reader does (the uring backend sends such
//! an open to a kernel worker thread, since the ring's own attempt would not wait).
//!
//! Reads and writes of regular files sleep in the kernel uninterruptibly while the disk works,
//! so a cancel takes effect when that call returns; an open that waits (a FIFO without a peer)
//! is interrupted at once. Each blocking operation is a type in `backend::op` (its io_uring
//! entry, its blocking system call, and what a completion that won the race against its cancel
//! leaves behind), and each backend decides how to run it; the methods here call thin functions
//! in `crate::os`.

use std::ffi::CString;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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
    pub fn create(io: Io, path: impl AsRef<Path>) -> io::Result<Self> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(io, path)
    }

    /// An [`OpenOptions`] with every option off: the way to open with other options.
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
    pub fn write_all(&self, io: Io, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(io, buf)? {
                0 => return Err(self.fail("write")(io::ErrorKind::WriteZero.into())),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Reads into `buf` from `offset`, leaving the file's position alone; `Ok(0)` at end of
    /// file. Tasks may read different parts of one file at the same time.
    ///
    /// # Errors
    /// The errors of pread(2); `InvalidInput` for an offset beyond `i64::MAX`.
    ///
    /// # Cancelation
    /// A cancellation point.
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
    pub fn close(self, io: Io) -> io::Result<()> {
        let Self { fd, path, .. } = self;
        os::close(io, fd).map_err(|e| os::annotate("close", path.display(), e))
    }

    fn seek_to(&self, pos: SeekFrom) -> io::Result<u64> {
        os::lseek(self.fd.as_fd(), pos).map_err(self.fail("seek"))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        File::read(self, self.io, buf)
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        File::read(self, self.io, buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        File::write(self, self.io, buf)
    }

    /// Nothing to do: a `File` has no buffer of its own (see [`File::sync_all`]).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        File::write(self, self.io, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<File> for OwnedFd {
    fn from(file: File) -> OwnedFd {
        file.fd
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.as_raw_fd())
            .field("path", &self.path)
            .finish()
    }
}

/// How to open a file: access (read, write, append) and creation (create, truncate,
/// create_new), as in `std::fs::OpenOptions`.
///
/// # Examples
/// ```
/// use io::fs::OpenOptions;
///
/// let path = std::env::temp_dir().join(format!("io-doc-options-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let len = runtime.run(|io| -> std::io::Result<u64> {
///     let log = OpenOptions::new().append(true).create(true).open(io, &path)?;
///     log.write_all(io, b"one\n")?;
///     log.write_all(io, b"two\n")?;
///     let again = OpenOptions::new().write(true).create_new(true).open(io, &path);
///     assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
///     log.len(io)
/// });
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(len.unwrap(), 8);
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    create: bool,
    truncate: bool,
    create_new: bool,
    mode: libc::mode_t,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Every option off; a new file gets mode `0o666` (minus the umask).
    pub fn new() -> Self {
        Self {
            read: false,
            write: false,
            append: false,
            create: false,
            truncate: false,
            create_new: false,
            mode: 0o666,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Open for writing, every write going to the end of the file (`O_APPEND`).
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    /// Create the file if it does not exist (needs write or append).
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// Cut an existing file to length 0 (needs write; not with append).
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (`O_CREAT | O_EXCL`; `create`
    /// and `truncate` are then ignored).
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    /// The permission bits of a newly created file, before the umask (default `0o666`).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode as libc::mode_t;
        self
    }

    /// Opens `path` with these options. Like open(2), opening a FIFO for reading only waits
    /// until a writer opens it, and for writing only until a reader does (read and write
    /// together never wait).
    ///
    /// # Errors
    /// `InvalidInput` for a combination that cannot work (no access mode; create or truncate
    /// without write access; truncate with append) or a path with a NUL byte; otherwise the
    /// errors of openat(2): `NotFound`, `AlreadyExists` (with `create_new`), `PermissionDenied`…
    /// The message names the path.
    ///
    /// # Cancelation
    /// A cancellation point, also while the open waits (a FIFO without a peer).
    pub fn open(&self, io: Io, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let fail = |e| os::annotate("open", path.display(), e);
        let flags = self.flags().map_err(fail)?;
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| fail(invalid("the path contains a NUL byte")))?;
        let fd = os::open(io, &c_path, flags, self.mode).map_err(fail)?;
        Ok(File {
            fd,
            io,
            path: path.into(),
        })
    }

    fn flags(&self) -> io::Result<libc::c_int> {
        Ok(self.access_flags()? | self.creation_flags()?)
    }

    fn access_flags(&self) -> io::Result<libc::c_int> {
        match (self.read, self.write, self.append) {
            (false, false, false) => Err(invalid("no access mode: set read, write or append")),
            (true, false, false) => Ok(libc::O_RDONLY),
            (false, true, false) => Ok(libc::O_WRONLY),
            (true, true, false) => Ok(libc::O_RDWR),
            (false, _, true) => Ok(libc::O_WRONLY | libc::O_APPEND),
            (true, _, true) => Ok(libc::O_RDWR | libc::O_APPEND),
        }
    }

    fn creation_flags(&self) -> io::Result<libc::c_int> {
        let creates = self.create || self.truncate || self.create_new;
        if !self.write && !self.append && creates {
            return Err(invalid(
                "creating or truncating a file needs write or append access",
            ));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid("a file cannot be both truncated and appended to"));
        }
        Ok(match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        })
    }
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_to_the_flags_std_uses() {
        let flags = |o: &OpenOptions| o.flags().ok();
        assert_eq!(flags(OpenOptions::new().read(true)), Some(libc::O_RDONLY));
        let create = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .clone();
        assert_eq!(
            flags(&create),
            Some(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC)
        );
        let append = OpenOptions::new().append(true).create(true).clone();
        assert_eq!(
            flags(&append),
            Some(libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT)
        );
        let new = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .clone();
        assert_eq!(
            flags(&new),
            Some(libc::O_RDWR | libc::O_CREAT | libc::O_EXCL)
        );
    }

    #[test]
    fn impossible_options_are_invalid_input() {
        for options in [
            OpenOptions::new(),
            OpenOptions::new().read(true).create(true).clone(),
            OpenOptions::new().append(true).truncate(true).clone(),
        ] {
            let error = options.flags().unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{options:?}");
        }
    }
}
