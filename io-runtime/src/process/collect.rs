//! Reading a child's stdout and stderr to their ends at the same time, for
//! [`Command::output`](super::Command::output).
//!
//! A child that fills one pipe blocks until the parent drains it: reading stdout to its end
//! before touching stderr deadlocks with a child that writes more than a pipe holds (64 KiB) to
//! stderr first. So both are read at once: stderr by a concurrent task while the caller reads
//! stdout. Where no task can run concurrently (a single-threaded runtime, `concurrent_limit`
//! reached), the caller reads both itself: the two pipe ends, made non-blocking, go into an
//! epoll set; the caller waits for the set to turn readable — a poll op, so a cancellation point
//! on both backends — and then drains whichever end is ready without blocking.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::pipes::{ChildStderr, ChildStdout};
use crate::backend::{op, perform};
use crate::io::Io;
use crate::os::{self, annotate};

/// How much one read takes.
const CHUNK: usize = 64 * 1024;

/// Reads the piped streams (those that are `Some`) to their ends; returns (stdout, stderr).
pub(super) fn read_streams(
    io: Io,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let read = |end: Option<BorrowedFd<'_>>, what| {
        end.map_or(Ok(Vec::new()), |end| read_all(io, end, what))
    };
    match (stdout, stderr) {
        (Some(stdout), Some(stderr)) => read_both(io, stdout.as_fd(), stderr.as_fd()),
        (stdout, stderr) => {
            let out = read(stdout.as_ref().map(AsFd::as_fd), "child stdout")?;
            let err = read(stderr.as_ref().map(AsFd::as_fd), "child stderr")?;
            Ok((out, err))
        }
    }
}

/// Reads `end` to its end.
fn read_all(io: Io, end: BorrowedFd<'_>, what: &'static str) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut chunk = vec![0; CHUNK];
    loop {
        match os::read(io, end, &mut chunk).map_err(|e| annotate("read", what, e))? {
            0 => return Ok(all),
            n => all.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads both ends at once: stderr in a concurrent task, or both in this one.
fn read_both(
    io: Io,
    stdout: BorrowedFd<'_>,
    stderr: BorrowedFd<'_>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    io.scope(|s| {
        let Ok(errors) = s.spawn_concurrent(|| read_all(io, stderr, "child stderr")) else {
            return read_both_here(io, [stdout, stderr]);
        };
        match read_all(io, stdout, "child stdout") {
            Ok(out) => Ok((out, errors.join(io)?)),
            Err(error) => {
                let _ = errors.cancel(io);
                Err(error)
            }
        }
    })
}

/// Reads both ends in the calling task (see the module documentation).
fn read_both_here(io: Io, ends: [BorrowedFd<'_>; 2]) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let fail = |e| annotate("output", "child stdout and stderr", e);
    let set = epoll_set(ends).map_err(fail)?;
    let mut read = [Vec::new(), Vec::new()];
    let mut open = [true, true];
    let mut chunk = vec![0; CHUNK];
    // `io` is the capability to block; the poll below runs on this thread's carrier.
    let _ = io;
    while open.iter().any(|&open| open) {
        perform(op::PollIn::new(set.as_fd())).map_err(fail)?;
        for which in 0..2 {
            if open[which] {
                open[which] = drain(ends[which], &mut read[which], &mut chunk).map_err(fail)?;
                if !open[which] {
                    // At its end an end stays readable: out of the set, or the poll spins.
                    forget(&set, ends[which]).map_err(fail)?;
                }
            }
        }
    }
    let [out, err] = read;
    Ok((out, err))
}

/// An epoll set of `ends` (level-triggered, readable), each made non-blocking.
fn epoll_set(ends: [BorrowedFd<'_>; 2]) -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 takes only flags and returns a new descriptor or -1.
    let rc = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `rc` is a new descriptor that nobody else owns.
    let set = unsafe { OwnedFd::from_raw_fd(rc) };
    for end in ends {
        let fd = end.as_raw_fd();
        // SAFETY: fcntl on a descriptor the caller lends us, with integer arguments. The ends
        // are output's own pipes, read only here from now on.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        // SAFETY: as above.
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: `event` is a valid epoll_event for the call; both descriptors are open.
        if unsafe { libc::epoll_ctl(set.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(set)
}

/// Removes `end` from the epoll `set`.
fn forget(set: &OwnedFd, end: BorrowedFd<'_>) -> io::Result<()> {
    let (set, end) = (set.as_raw_fd(), end.as_raw_fd());
    // SAFETY: both descriptors are open; EPOLL_CTL_DEL ignores the (null) event.
    if unsafe { libc::epoll_ctl(set, libc::EPOLL_CTL_DEL, end, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads what `end` holds without blocking, appending to `into`; `false` once it reached its
/// end.
fn drain(end: BorrowedFd<'_>, into: &mut Vec<u8>, chunk: &mut [u8]) -> io::Result<bool> {
    let fd: RawFd = end.as_raw_fd();
    loop {
        // SAFETY: `chunk` is valid for writes of its length; the descriptor stays open.
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        match n {
            0 => return Ok(false),
            n if n > 0 => into.extend_from_slice(&chunk[..n as usize]),
            _ => {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::WouldBlock => return Ok(true),
                    io::ErrorKind::Interrupted => {}
                    _ => return Err(error),
                }
            }
        }
    }
}
