//! Blocking system calls on file descriptors, as cancellation points — the seam between files
//! and sockets and the backend that runs them.
//!
//! # The seam
//! Every system call that [`crate::fs`] and [`crate::net`] make lives here, as one small
//! function per operation. Those that may block take the task's `io: Io` and are
//! cancellation points:
//!
//! ```text
//! function      system call              uring opcode
//! open          openat(AT_FDCWD, …)      IORING_OP_OPENAT
//! read, write   read(2), write(2)        IORING_OP_READ / WRITE  (offset -1: file position)
//! pread, pwrite pread64, pwrite64        IORING_OP_READ / WRITE
//! fsync         fsync, fdatasync         IORING_OP_FSYNC (+ IORING_FSYNC_DATASYNC)
//! file_len      fstat                    (fstat on every backend: metadata, never blocks long)
//! accept        accept4(SOCK_CLOEXEC)    IORING_OP_ACCEPT
//! connect       connect, then poll       IORING_OP_CONNECT
//! recv, send    recv, send(MSG_NOSIGNAL) IORING_OP_RECV / SEND
//! shutdown      shutdown                 IORING_OP_SHUTDOWN
//! close         close                    (close on every backend: not a cancellation point)
//! ```
//!
//! On the threaded backend each runs the call on the task's own thread through [`syscall`], so
//! a cancel — or a passed deadline of an enclosing `Io::timeout`, through the thread's alarm —
//! interrupts it with the cancel signal (see `crate::cancel`) and the call returns an error for
//! which [`is_canceled`] is true. On a uring fiber each function instead submits
//! its SQE through [`on_ring`] — the fiber parks until the CQE, a cancel submits an
//! async-cancel for exactly that operation — without touching `fs` or `net`. Two rules bind
//! the ring path:
//! - a buffer borrowed by a call must stay untouched by the kernel once the function returned,
//!   so a canceled operation waits for its (canceled) completion before returning;
//! - a descriptor produced by an operation whose cancel lost the race (an accept or open that
//!   completed anyway) is either returned or closed here, never leaked.
//!
//! Calls that never block (`socket`, `bind`, `listen`, `setsockopt`, `getsockname`,
//! `getpeername`, `lseek`) are plain functions below that every backend shares.
//!
//! # Errors
//! [`syscall`] turns a cancel into `io::Error::new(ErrorKind::Other, Canceled)`: not
//! `ErrorKind::Interrupted`, because `std::io::copy`, `read_exact`, `write_all`, `read_to_end`
//! and `BufReader` retry `Interrupted` forever, and a canceled task must get out of them.
//! [`annotate`] adds the operation and its target to every other error ("open /x/y: No such
//! file or directory (os error 2)"), keeping its `ErrorKind`.

use std::ffi::CStr;
use std::fmt;
use std::io::{self, ErrorKind, SeekFrom};
use std::mem::{size_of, MaybeUninit};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use io_uring::{opcode, squeue, types};

use crate::backend::uring::{self, Leftover};
use crate::block;
use crate::error::{is_canceled, Canceled};
use crate::io::Io;
use crate::net::addr::RawAddr;
use crate::task::with_current;

/// Runs an operation on the ring when the current task is a uring fiber; `None` when it is
/// not (the caller then makes the blocking system call).
///
/// # Safety
/// Every buffer and address the entry points to must stay valid until this returns; it returns
/// only after the kernel completed (or canceled) the operation.
unsafe fn on_ring(
    entry: impl FnOnce() -> squeue::Entry,
    leftover: Leftover,
) -> Option<io::Result<usize>> {
    if !uring::on_fiber() {
        return None;
    }
    // SAFETY: forwarded to the caller.
    let outcome = unsafe { uring::submit(entry(), leftover) };
    Some(match outcome {
        Err(Canceled) => Err(canceled()),
        Ok(rc) if rc < 0 => Err(io::Error::from_raw_os_error(-rc)),
        Ok(rc) => Ok(rc as usize),
    })
}

/// Runs a raw system call returning `-1`/errno on failure as a cancellation point.
pub(crate) fn syscall(call: impl FnMut() -> isize) -> io::Result<usize> {
    let outcome = with_current(|ctx| {
        ctx.cancel
            .syscall(call, |rc| *rc < 0, &block::SyscallDeadline(ctx))
    });
    match outcome {
        Err(Canceled) => Err(canceled()),
        Ok(Err(error)) => Err(error),
        Ok(Ok(count)) => Ok(count as usize),
    }
}

/// The error a canceled file or socket operation returns (see the module documentation for
/// why its kind is not `Interrupted`).
pub(crate) fn canceled() -> io::Error {
    io::Error::other(Canceled)
}

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
pub(crate) fn annotate(op: &'static str, target: impl fmt::Display, error: io::Error) -> io::Error {
    if is_canceled(&error) {
        return canceled();
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

/// A buffer length as a ring entry takes it (longer buffers are served in part, as a short
/// read or write).
fn ring_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// A `c_int` result as the `isize` that [`syscall`] expects.
fn wide(rc: libc::c_int) -> isize {
    rc as isize
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
/// the ring, `uring::open_entry` sends such an open to an io-wq worker, because the ring's
/// inline attempt would not wait (see `backend/uring/open.rs`).
pub(crate) fn open(
    _io: Io,
    path: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let flags = flags | libc::O_CLOEXEC;
    let ring = || uring::open_entry(path, flags, mode);
    // SAFETY: `path` outlives the call, which waits for the completion.
    if let Some(fd) = unsafe { on_ring(ring, Leftover::Descriptor) } {
        return fd.map(owned);
    }
    let fd = syscall(|| {
        // SAFETY: `path` is a NUL-terminated string that outlives the call.
        wide(unsafe {
            libc::openat(
                libc::AT_FDCWD,
                path.as_ptr(),
                flags,
                libc::c_uint::from(mode),
            )
        })
    })?;
    Ok(owned(fd))
}

/// Reads at the descriptor's position (or from a pipe or socket).
pub(crate) fn read(_io: Io, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let raw = fd.as_raw_fd();
    let (ptr, len) = (buf.as_mut_ptr(), ring_len(buf.len()));
    // Offset -1: the descriptor's own position, as read(2) uses.
    let ring = || {
        opcode::Read::new(types::Fd(raw), ptr, len)
            .offset(u64::MAX)
            .build()
    };
    // SAFETY: `buf` is borrowed for the whole call, which waits for the completion.
    if let Some(n) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return n;
    }
    syscall(|| {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call and `raw`
        // stays open: the caller lends it as a BorrowedFd.
        unsafe { libc::read(raw, buf.as_mut_ptr().cast(), buf.len()) }
    })
}

/// Writes at the descriptor's position (or to a pipe or socket).
pub(crate) fn write(_io: Io, fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let raw = fd.as_raw_fd();
    let (ptr, len) = (buf.as_ptr(), ring_len(buf.len()));
    let ring = || {
        opcode::Write::new(types::Fd(raw), ptr, len)
            .offset(u64::MAX)
            .build()
    };
    // SAFETY: `buf` is borrowed for the whole call, which waits for the completion.
    if let Some(n) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return n;
    }
    syscall(|| {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call and `raw`
        // stays open.
        unsafe { libc::write(raw, buf.as_ptr().cast(), buf.len()) }
    })
}

/// Reads at `at`, leaving the descriptor's position alone.
pub(crate) fn pread(_io: Io, fd: BorrowedFd<'_>, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let (raw, at) = (fd.as_raw_fd(), offset(at)?);
    let (ptr, len) = (buf.as_mut_ptr(), ring_len(buf.len()));
    let ring = || {
        opcode::Read::new(types::Fd(raw), ptr, len)
            .offset(at as u64)
            .build()
    };
    // SAFETY: `buf` is borrowed for the whole call, which waits for the completion.
    if let Some(n) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return n;
    }
    syscall(|| {
        // SAFETY: as in `read`.
        unsafe { libc::pread64(raw, buf.as_mut_ptr().cast(), buf.len(), at) }
    })
}

/// Writes at `at`, leaving the descriptor's position alone.
pub(crate) fn pwrite(_io: Io, fd: BorrowedFd<'_>, buf: &[u8], at: u64) -> io::Result<usize> {
    let (raw, at) = (fd.as_raw_fd(), offset(at)?);
    let (ptr, len) = (buf.as_ptr(), ring_len(buf.len()));
    let ring = || {
        opcode::Write::new(types::Fd(raw), ptr, len)
            .offset(at as u64)
            .build()
    };
    // SAFETY: `buf` is borrowed for the whole call, which waits for the completion.
    if let Some(n) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return n;
    }
    syscall(|| {
        // SAFETY: as in `write`.
        unsafe { libc::pwrite64(raw, buf.as_ptr().cast(), buf.len(), at) }
    })
}

/// Flushes the file to its device: data and metadata, or (`data_only`) what reading needs.
pub(crate) fn fsync(_io: Io, fd: BorrowedFd<'_>, data_only: bool) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    let flags = if data_only {
        types::FsyncFlags::DATASYNC
    } else {
        types::FsyncFlags::empty()
    };
    let ring = || opcode::Fsync::new(types::Fd(raw)).flags(flags).build();
    // SAFETY: an fsync refers to no memory.
    if let Some(done) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return done.map(drop);
    }
    syscall(|| {
        // SAFETY: fsync and fdatasync only take a descriptor, which stays open.
        wide(unsafe {
            if data_only {
                libc::fdatasync(raw)
            } else {
                libc::fsync(raw)
            }
        })
    })
    .map(drop)
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
fn int_option(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
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
    let listener = fd.as_raw_fd();
    let mut raw = RawAddr::empty();
    let (ptr, len) = raw.as_out();
    let ring = || {
        opcode::Accept::new(types::Fd(listener), ptr, len)
            .flags(libc::SOCK_CLOEXEC)
            .build()
    };
    // SAFETY: `raw` lives in this frame until the call returns, after the completion.
    if let Some(accepted) = unsafe { on_ring(ring, Leftover::Descriptor) } {
        let stream = owned(accepted?);
        return Ok((stream, raw.to_socket_addr()?));
    }
    let accepted = syscall(|| {
        let (ptr, len) = raw.as_out();
        // SAFETY: `ptr`/`len` describe writable address storage (as in `socket_addr`); the
        // listener stays open.
        wide(unsafe { libc::accept4(listener, ptr, len, libc::SOCK_CLOEXEC) })
    })?;
    // Owned before anything else can fail, so an error below closes it.
    let stream = owned(accepted);
    Ok((stream, raw.to_socket_addr()?))
}

/// Connects a fresh blocking socket to `addr`.
///
/// A connect interrupted by a signal that is not a cancel leaves the kernel connecting in the
/// background; calling connect(2) again would answer `EALREADY`, or — after a failure — start a
/// second attempt. So the retry waits for the first attempt instead: poll(2) for writability,
/// then the socket's pending error (`SO_ERROR`) is the attempt's outcome. `EINPROGRESS` (a
/// socket with a send timeout) takes the same path. A cancel returns the canceled error; the
/// caller closes the socket, which aborts the attempt.
pub(crate) fn connect(_io: Io, fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let socket = fd.as_raw_fd();
    let raw = RawAddr::from(addr);
    let ring = || opcode::Connect::new(types::Fd(socket), raw.as_ptr(), raw.len()).build();
    // SAFETY: `raw` lives in this frame until the call returns, after the completion.
    if let Some(done) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return done.map(drop);
    }
    let mut calls = 0;
    let outcome = syscall(|| {
        calls += 1;
        if calls > 1 {
            return poll_writable(socket);
        }
        // SAFETY: `raw` holds a valid sockaddr of `raw.len()` bytes; the socket stays open.
        wide(unsafe { libc::connect(socket, raw.as_ptr(), raw.len()) })
    });
    match outcome {
        Ok(_) if calls == 1 => return Ok(()),
        // A retry polled until the interrupted attempt ended: SO_ERROR says how.
        Ok(_) => {}
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EALREADY)) => {
            syscall(|| poll_writable(socket))?;
        }
        Err(e) => return Err(e),
    }
    match int_option(socket, libc::SOL_SOCKET, libc::SO_ERROR)? {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Blocks until `socket` is writable or failed (a pending connect finished).
fn poll_writable(socket: RawFd) -> isize {
    let mut entry = libc::pollfd {
        fd: socket,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: `entry` is one valid, writable pollfd for the whole call.
    wide(unsafe { libc::poll(&mut entry, 1, -1) })
}

/// Receives into `buf` from a connected socket.
pub(crate) fn recv(_io: Io, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let raw = fd.as_raw_fd();
    let (ptr, len) = (buf.as_mut_ptr(), ring_len(buf.len()));
    let ring = || opcode::Recv::new(types::Fd(raw), ptr, len).build();
    // SAFETY: `buf` is borrowed for the whole call, which waits for the completion.
    if let Some(n) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return n;
    }
    syscall(|| {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call and the
        // socket stays open.
        unsafe { libc::recv(raw, buf.as_mut_ptr().cast(), buf.len(), 0) }
    })
}

/// Sends `buf` on a connected socket; a closed peer is `EPIPE`, never `SIGPIPE`.
pub(crate) fn send(_io: Io, fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let raw = fd.as_raw_fd();
    let (ptr, len) = (buf.as_ptr(), ring_len(buf.len()));
    let ring = || {
        opcode::Send::new(types::Fd(raw), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
    };
    // SAFETY: `buf` is borrowed for the whole call, which waits for the completion.
    if let Some(n) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return n;
    }
    syscall(|| {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call and the
        // socket stays open.
        unsafe { libc::send(raw, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) }
    })
}

/// Shuts down the reading, writing or both halves of a connected socket.
pub(crate) fn shutdown(_io: Io, fd: BorrowedFd<'_>, how: Shutdown) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    let how = match how {
        Shutdown::Read => libc::SHUT_RD,
        Shutdown::Write => libc::SHUT_WR,
        Shutdown::Both => libc::SHUT_RDWR,
    };
    let ring = || opcode::Shutdown::new(types::Fd(raw), how).build();
    // SAFETY: a shutdown refers to no memory.
    if let Some(done) = unsafe { on_ring(ring, Leftover::Nothing) } {
        return done.map(drop);
    }
    syscall(|| {
        // SAFETY: shutdown(2) takes a descriptor, which stays open, and an integer.
        wide(unsafe { libc::shutdown(raw, how) })
    })
    .map(drop)
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
    pub fn write_fd(self, fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
        write(self, fd, buf)
    }
}
