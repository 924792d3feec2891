//! [`Open`]: openat(2) relative to the working directory, `O_CLOEXEC` always added.
//!
//! It waits as open(2) does on every backend: a FIFO opened for reading waits for a writer, one
//! opened for writing waits for a reader (`crate::fs` promises this), as a cancellation point.
//! A thread makes the blocking call; on the ring, the entry needs help (below).
//!
//! # Why the ring's openat needs help
//! `IORING_OP_OPENAT` first tries the open inline, on the loop's thread, with `O_NONBLOCK`
//! forced (and only cached path components); only if that says `EAGAIN` does an io-wq worker
//! retry it as a plain blocking open. A non-blocking open of a FIFO does not wait for the
//! peer: read-only it succeeds at once (its reads then see end of file), write-only it fails
//! with `ENXIO`. A device whose open waits (a serial line waiting for carrier) skips that
//! wait the same way.
//!
//! # The choice
//! Before submitting, [`file_type`] asks the kernel what `path` names, without waiting: an
//! `O_PATH` open (which does not open the file itself, so no FIFO counts a reader or writer)
//! restricted to cached path components (`RESOLVE_CACHED`), then a `statx` of that descriptor
//! from cached attributes. A regular file or a directory never waits for a peer, so its open
//! goes inline as before. Anything else — a FIFO, a device, an unknown type (a path not in
//! the cache, an error, a kernel without `openat2`) — is submitted with `IOSQE_ASYNC`: an io-wq
//! worker makes the blocking open, off the loop. A cancel still ends it: the async-cancel that
//! the ring sends signals the worker, whose interruptible wait for the peer ends with
//! `-ERESTARTSYS` (see `backend/uring`, `finish`).
//!
//! Rejected alternatives:
//! - Open first, check the descriptor, re-open if it is a FIFO: the first, non-blocking open
//!   counts as a reader, and a writer that opens, writes and closes before the re-open starts
//!   waiting leaves that re-open waiting for the next writer, with the data in the pipe.
//!   (Closing the window means racing the re-open against a poll of the first descriptor: two
//!   operations per wait, to save the ~0.65 µs the check below costs.)
//! - `O_NONBLOCK`, then a ring poll for the writer: a poll reports data or a hang-up, not a
//!   writer that opened — a reader would wait for the first byte where open(2) returns, which
//!   deadlocks the classic two-FIFO handshake — and a write-only open cannot be made that way
//!   at all (`ENXIO`).
//! - `IOSQE_ASYNC` for every open: exact, but every open of a regular file would pay the hop
//!   to a worker thread (5–11 µs per open and close, against 0.65 µs inline, on the
//!   development machine).
//! - A thread of our own per waiting open: no io-wq worker held (see below), but it needs the
//!   threaded backend's signal protocol to be canceled and the deadlock monitor to count it.
//!
//! Costs and limits: the check adds about 0.65 µs to every open (an open and close through
//! `File` went from 0.93 µs to 1.58 µs on the development machine). The check and the open
//! are two path walks: a regular file swapped for a FIFO between them is opened inline, as
//! before this module. A waiting open holds one of the loop thread's *bounded* io-wq workers
//! (the kernel allows `min(ring entries, 4 × CPUs)` of them): while that many opens wait for
//! peers, other work the kernel hands to those workers (opens that create or truncate, reads
//! and writes of files that must wait for the disk) waits for a peer to arrive too. Opens
//! with `O_NONBLOCK` never wait for a peer, nor do opens with `O_DIRECTORY` (a FIFO fails them
//! with `ENOTDIR`), so they skip the check.

use std::ffi::CStr;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Leftover, Op};

/// Opens `path` (relative to `dir`: the working directory unless made with [`Open::at`]) with
/// `flags` and `mode`; the result is the new descriptor.
pub(crate) struct Open<'a> {
    dir: RawFd,
    path: &'a CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
}

impl<'a> Open<'a> {
    pub(crate) fn new(path: &'a CStr, flags: libc::c_int, mode: libc::mode_t) -> Self {
        Self::at(libc::AT_FDCWD, path, flags, mode)
    }

    /// Opens `path` relative to the directory `dir`, which the caller keeps open.
    pub(crate) fn at(dir: RawFd, path: &'a CStr, flags: libc::c_int, mode: libc::mode_t) -> Self {
        let flags = flags | libc::O_CLOEXEC;
        Self {
            dir,
            path,
            flags,
            mode,
        }
    }
}

// SAFETY: the entry points only to `path`, which the op borrows.
unsafe impl Op for Open<'_> {
    /// Inline when the file cannot wait for a peer, on an io-wq worker otherwise (module docs).
    fn entry(&mut self) -> squeue::Entry {
        let entry = opcode::OpenAt::new(types::Fd(self.dir), self.path.as_ptr())
            .flags(self.flags)
            .mode(self.mode)
            .build();
        if opens_inline(self.dir, self.path, self.flags) {
            entry
        } else {
            entry.flags(squeue::Flags::ASYNC)
        }
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        syscall(|| {
            // SAFETY: `path` is a NUL-terminated string that outlives the call; `dir` is
            // AT_FDCWD or a descriptor the caller keeps open.
            wide(unsafe {
                libc::openat(
                    self.dir,
                    self.path.as_ptr(),
                    self.flags,
                    libc::c_uint::from(self.mode),
                )
            })
        })
    }

    fn leftover(&self) -> Leftover {
        Leftover::Descriptor
    }
}

/// Whether the ring's inline, non-blocking attempt opens `path` as open(2) would. An open with
/// `O_DIRECTORY` never waits for a peer either: it fails with `ENOTDIR` on a FIFO.
fn opens_inline(dir: RawFd, path: &CStr, flags: libc::c_int) -> bool {
    flags & (libc::O_NONBLOCK | libc::O_DIRECTORY) != 0
        || matches!(file_type(dir, path), Some(libc::S_IFREG | libc::S_IFDIR))
}

/// The type bits (`S_IFMT`) of what `path` names, if the kernel can tell without waiting for
/// a disk or a server; `None` otherwise.
fn file_type(dir: RawFd, path: &CStr) -> Option<libc::mode_t> {
    let handle = cached_path_handle(dir, path)?;
    let mut info = MaybeUninit::<libc::statx>::uninit();
    // SAFETY: `handle` is an open descriptor, the empty path is NUL-terminated, and `info` is
    // writable storage for one `statx`, which the kernel fills on success.
    let rc = unsafe {
        libc::statx(
            handle.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
            libc::STATX_TYPE,
            info.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: statx succeeded, so it initialized `info`.
    let mode = unsafe { info.assume_init() }.stx_mode;
    Some(libc::mode_t::from(mode) & libc::S_IFMT)
}

/// An `O_PATH` descriptor of `path`, if every component is in the kernel's caches (so the
/// lookup never waits); `None` otherwise, or on any error.
fn cached_path_handle(dir: RawFd, path: &CStr) -> Option<OwnedFd> {
    // SAFETY: `open_how` is plain integers, for which all zeroes is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_CACHED;
    // SAFETY: `path` is NUL-terminated and `how` a valid `open_how` of the size passed; both
    // outlive the call, which only reads them; `dir` is AT_FDCWD or an open descriptor.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            path.as_ptr(),
            &how as *const libc::open_how,
            size_of::<libc::open_how>(),
        )
    };
    let fd = libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: openat2 just created `fd` for us; nobody else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}
