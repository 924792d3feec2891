//! The system calls of files and sockets, as [`crate::fs`] and [`crate::net`] call them.
//!
//! A call that may block is a cancellation point and runs as an operation of
//! `backend::op` (one type per operation: its ring entry, its blocking system call, and what a
//! lost cancel race leaves behind), which the carrier of the current thread runs: on a thread
//! as a system call that a cancel — or a passed deadline of an enclosing `Io::timeout`, through
//! the thread's alarm — interrupts with the cancel signal; on a fiber as a ring entry whose
//! cancel submits an async-cancel for exactly that operation (see `backend/carrier.rs`). The
//! functions below take the task's `io` as the capability to block, not as the dispatch: the
//! same `Io` is used from fibers and from offload threads, so the thread decides.
//!
//! Calls that never block (`socket`, `bind`, `listen`, `setsockopt`, `getsockname`,
//! `getpeername`, `lseek`, `fstat`, `close`) are plain functions that every backend shares.
//!
//! # Errors
//! A canceled operation returns `io::Error::other(Canceled)`: not `ErrorKind::Interrupted`,
//! because `std::io::copy`, `read_exact`, `write_all`, `read_to_end` and `BufReader` retry
//! `Interrupted` forever, and a canceled task must get out of them. [`annotate`] adds the
//! operation and its target to every other error ("open /x/y: No such file or directory (os
//! error 2)"), keeping its `ErrorKind` and wrapping the original error, which stays its
//! `source()`: [`crate::raw_os_error`] finds the errno there.

use std::ffi::CStr;
use std::fmt;
use std::io::{self, ErrorKind, SeekFrom};
use std::mem::{size_of, MaybeUninit};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use crate::backend::op::{self, syscall, wide};
use crate::backend::perform;
use crate::error::{canceled_io, is_canceled};
use crate::io::Io;
use crate::net::addr::RawAddr;

/// An error that names its operation and target.
#[derive(Debug)]
struct OpError {
    op: &'static str,
    target: String,
    source: io::Error,
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.op, self.target, self.source)
    }
}

impl std::error::Error for OpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Names the operation `op` and its `target` (a path, an address) in `error`, keeping its
/// kind. A canceled error stays a bare canceled error.
///
/// The result's own `raw_os_error()` is `None` (std keeps an errno only in an error without a
/// payload), but `error` is kept whole as the payload's `source()`, so
/// [`crate::raw_os_error`] still answers its errno.
pub(crate) fn annotate(op: &'static str, target: impl fmt::Display, error: io::Error) -> io::Error {
    if is_canceled(&error) {
        return canceled_io();
    }
    let kind = error.kind();
    let target = target.to_string();
    io::Error::new(
        kind,
        OpError {
            op,
            target,
            source: error,
        },
    )
}

/// Fails with `InvalidInput` unless the offset fits `off_t`.
fn offset(offset: u64) -> io::Result<libc::off_t> {
    libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "file offset beyond i64::MAX"))
}

/// Takes ownership of a descriptor a successful call returned.
fn owned(fd: usize) -> OwnedFd {
    // SAFETY: `fd` is the non-negative result of a call that creates a descriptor (openat,
    // accept4, socket); nobody else owns it yet.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

// ---- files -------------------------------------------------------------------------------

/// Opens `path` relative to the working directory; `O_CLOEXEC` is always added.
///
/// Waits as open(2) does on both backends: a FIFO opened only for reading (or writing)
/// without `O_NONBLOCK` waits until a writer (a reader) opens it, as a cancellation point. On
/// the ring, such an open goes to an io-wq worker, because the ring's
/// inline attempt would not wait (see `backend/op/open.rs`).
pub(crate) fn open(
    _io: Io,
    path: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    perform(op::Open::new(path, flags, mode)).map(owned)
}

/// Reads at the descriptor's position (or from a pipe or socket).
pub(crate) fn read(_io: Io, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    perform(op::Read::new(fd, buf, None))
}

/// Writes at the descriptor's position (or to a pipe or socket).
pub(crate) fn write(_io: Io, fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    perform(op::Write::new(fd, buf, None))
}

/// Reads at `at`, leaving the descriptor's position alone.
pub(crate) fn pread(_io: Io, fd: BorrowedFd<'_>, buf: &mut [u8], at: u64) -> io::Result<usize> {
    perform(op::Read::new(fd, buf, Some(offset(at)?)))
}

/// Writes at `at`, leaving the descriptor's position alone.
pub(crate) fn pwrite(_io: Io, fd: BorrowedFd<'_>, buf: &[u8], at: u64) -> io::Result<usize> {
    perform(op::Write::new(fd, buf, Some(offset(at)?)))
}

/// Flushes the file to its device: data and metadata, or (`data_only`) what reading needs.
pub(crate) fn fsync(_io: Io, fd: BorrowedFd<'_>, data_only: bool) -> io::Result<()> {
    perform(op::Fsync::new(fd, data_only)).map(drop)
}

/// The file's length in bytes.
pub(crate) fn file_len(_io: Io, fd: BorrowedFd<'_>) -> io::Result<u64> {
    let raw = fd.as_raw_fd();
    let mut stat = MaybeUninit::<libc::stat64>::uninit();
    syscall(|| {
        // SAFETY: `stat` is writable storage for one stat64, which fstat64 fills on success.
        wide(unsafe { libc::fstat64(raw, stat.as_mut_ptr()) })
    })?;
    // SAFETY: fstat64 succeeded, so it initialized `stat`.
    let stat = unsafe { stat.assume_init() };
    Ok(stat.st_size as u64)
}

/// Writes all of `buf` through `write` (a stream's or file's own `write`), retrying short
/// writes; a write that takes nothing fails with the error `zero` makes (kind `WriteZero`).
pub(crate) fn write_all(
    mut buf: &[u8],
    mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    zero: impl FnOnce() -> io::Error,
) -> io::Result<()> {
    while !buf.is_empty() {
        match write(buf)? {
            0 => return Err(zero()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// Moves the descriptor's position. Never blocks.
pub(crate) fn lseek(fd: BorrowedFd<'_>, pos: SeekFrom) -> io::Result<u64> {
    let (whence, distance) = match pos {
        SeekFrom::Start(at) => (libc::SEEK_SET, offset(at)?),
        SeekFrom::End(delta) => (libc::SEEK_END, delta),
        SeekFrom::Current(delta) => (libc::SEEK_CUR, delta),
    };
    // SAFETY: lseek64 only takes a descriptor, which stays open, and two integers.
    let at = unsafe { libc::lseek64(fd.as_raw_fd(), distance, whence) };
    if at < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(at as u64)
}

/// Closes `fd` and reports what close(2) said.
///
/// Not a cancellation point: the descriptor is released whatever happens (Linux frees it even
/// when close returns `EINTR`, so that is success and is never retried — a retry could close a
/// descriptor another thread just opened under the same number).
pub(crate) fn close(_io: Io, fd: OwnedFd) -> io::Result<()> {
    let raw = fd.into_raw_fd();
    // SAFETY: `raw` came out of an OwnedFd, so we own it and nobody uses it after this call.
    if unsafe { libc::close(raw) } == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EINTR) => Ok(()),
        _ => Err(error),
    }
}

// ---- sockets -----------------------------------------------------------------------------

/// A new blocking TCP socket for `addr`'s family, with `SOCK_CLOEXEC`. Never blocks.
pub(crate) fn tcp_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket(2) takes only integers.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd as usize))
}

/// Sets an integer socket option. Never blocks.
pub(crate) fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a readable c_int and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads an integer socket option. Never blocks.
pub(crate) fn int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are writable and `len` holds the size of `value`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// Binds `fd` to `addr` and listens with `backlog`. Never blocks.
pub(crate) fn bind_listen(fd: BorrowedFd<'_>, addr: &SocketAddr, backlog: u32) -> io::Result<()> {
    let raw = RawAddr::from(addr);
    // SAFETY: `raw` holds a valid sockaddr of `raw.len()` bytes.
    if unsafe { libc::bind(fd.as_raw_fd(), raw.as_ptr(), raw.len()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen(2) takes a descriptor, which stays open, and an integer.
    if unsafe { libc::listen(fd.as_raw_fd(), backlog) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The local (`peer == false`) or remote address of a socket. Never blocks.
pub(crate) fn socket_addr(fd: BorrowedFd<'_>, peer: bool) -> io::Result<SocketAddr> {
    let mut raw = RawAddr::empty();
    let (ptr, len) = raw.as_out();
    // SAFETY: `ptr` points to writable storage of `*len` bytes; the kernel writes at most that
    // many and stores the real length in `*len`.
    let rc = unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), ptr, len)
        } else {
            libc::getsockname(fd.as_raw_fd(), ptr, len)
        }
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    raw.to_socket_addr()
}

/// Waits for a connection on a listening socket; the new socket has `SOCK_CLOEXEC` and blocks.
pub(crate) fn accept(_io: Io, fd: BorrowedFd<'_>) -> io::Result<(OwnedFd, SocketAddr)> {
    let mut peer = RawAddr::empty();
    // Owned before anything else can fail, so an error below closes it.
    let stream = owned(perform(op::Accept::new(fd, &mut peer))?);
    Ok((stream, peer.to_socket_addr()?))
}

/// Connects a fresh blocking socket to `addr` (see `backend/op/connect.rs` for an interrupted
/// attempt). A cancel returns the canceled error; the caller closes the socket, which aborts
/// the attempt.
pub(crate) fn connect(_io: Io, fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let addr = RawAddr::from(addr);
    perform(op::Connect::new(fd, &addr)).map(drop)
}

/// Receives into `buf` from a connected socket.
pub(crate) fn recv(_io: Io, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    perform(op::Recv::new(fd, buf))
}

/// Sends `buf` on a connected socket; a closed peer is `EPIPE`, never `SIGPIPE`.
pub(crate) fn send(_io: Io, fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    perform(op::Send::new(fd, buf))
}

/// Shuts down the reading, writing or both halves of a connected socket.
pub(crate) fn shutdown(_io: Io, fd: BorrowedFd<'_>, how: Shutdown) -> io::Result<()> {
    perform(op::Shutdown::new(fd, how)).map(drop)
}

impl Io {
    /// Reads from `fd` into `buf`, blocking until data, end of file, an error, or a cancel.
    ///
    /// # Errors
    /// The system call's error; a cancel returns an error for which
    /// [`is_canceled`] is true.
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked in the kernel: a cancel, or the deadline of an
    /// enclosing [`Io::timeout`], ends the wait.
    ///
    /// # Examples
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::time::Duration;
    ///
    /// let (reader, writer) = std::io::pipe().unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (got, idle) = runtime.run(|io| -> std::io::Result<_> {
    ///     io.write_fd(writer.as_fd(), b"through a pipe")?;
    ///     let mut buf = [0; 32];
    ///     let n = io.read_fd(reader.as_fd(), &mut buf)?;
    ///     // The pipe is empty now: a bounded read ends at its deadline.
    ///     let idle = io.timeout(Duration::from_millis(10), || io.read_fd(reader.as_fd(), &mut buf));
    ///     let idle = idle.map(|read| read.is_ok());
    ///     Ok((buf[..n].to_vec(), idle))
    /// })
    /// .unwrap();
    /// assert_eq!(got, b"through a pipe");
    /// assert_eq!(idle, Err(io::Timeout));
    /// ```
    pub fn read_fd(self, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
        read(self, fd, buf)
    }

    /// Writes `buf` to `fd`, returning how many bytes the kernel took.
    ///
    /// # Errors
    /// The system call's error; a cancel returns an error for which
    /// [`is_canceled`] is true.
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked in the kernel: a cancel, or the deadline of an
    /// enclosing [`Io::timeout`], ends the wait.
    ///
    /// # Examples
    /// ```
    /// use std::os::fd::AsFd;
    ///
    /// let (reader, writer) = std::io::pipe().unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (written, closed) = runtime.run(|io| -> std::io::Result<_> {
    ///     let written = io.write_fd(writer.as_fd(), b"12345")?;
    ///     drop(reader);
    ///     // No reader any more: EPIPE, not a SIGPIPE that kills the process.
    ///     Ok((written, io.write_fd(writer.as_fd(), b"6").unwrap_err().kind()))
    /// })
    /// .unwrap();
    /// assert_eq!((written, closed), (5, std::io::ErrorKind::BrokenPipe));
    /// ```
    pub fn write_fd(self, fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
        write(self, fd, buf)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn annotate_names_the_operation_and_keeps_the_kind_and_the_errno() {
        let error = annotate("open", "/x/y", io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(
            error.to_string(),
            format!("open /x/y: {}", io::Error::from_raw_os_error(libc::ENOENT))
        );
        assert_eq!(crate::raw_os_error(&error), Some(libc::ENOENT));
        let source = error
            .source()
            .and_then(|source| source.downcast_ref::<io::Error>())
            .expect("the source is the original io::Error");
        assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn an_errno_without_a_stable_kind_stays_reachable() {
        let error = annotate(
            "accept",
            "127.0.0.1:7878",
            io::Error::from_raw_os_error(libc::EMFILE),
        );
        assert_eq!(crate::raw_os_error(&error), Some(libc::EMFILE));
        assert!(error.to_string().starts_with("accept 127.0.0.1:7878: "));
    }

    #[test]
    fn annotating_twice_keeps_the_errno_and_both_names() {
        let inner = annotate("read", "/a", io::Error::from_raw_os_error(libc::EIO));
        let outer = annotate("copy", "/b", inner);
        assert_eq!(crate::raw_os_error(&outer), Some(libc::EIO));
        assert!(
            outer.to_string().starts_with("copy /b: read /a: "),
            "{outer}"
        );
    }

    #[test]
    fn a_canceled_error_stays_bare_and_has_no_errno() {
        let error = annotate("read", "/a", canceled_io());
        assert!(is_canceled(&error));
        assert_eq!(crate::raw_os_error(&error), None);
    }

    #[test]
    fn a_message_error_keeps_its_message_and_has_no_errno() {
        let error = annotate("write", "/a", ErrorKind::WriteZero.into());
        assert_eq!(error.kind(), ErrorKind::WriteZero);
        assert_eq!(crate::raw_os_error(&error), None);
    }
}
