//! [`Connect`]: connects a fresh blocking socket.
//!
//! On a thread, a connect interrupted by a signal that is not a cancel leaves the kernel
//! connecting in the background; calling connect(2) again would answer `EALREADY`, or — after
//! a failure — start a second attempt. So the retry waits for the first attempt instead:
//! poll(2) for writability, then the socket's pending error (`SO_ERROR`) is the attempt's
//! outcome. `EINPROGRESS` (a socket with a send timeout) takes the same path. A cancel returns
//! the canceled error; the caller closes the socket, which aborts the attempt.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Op};
use crate::net::addr::RawAddr;
use crate::os::int_option;

/// Connects `socket` to `addr`.
pub(crate) struct Connect<'a> {
    socket: RawFd,
    addr: &'a RawAddr,
}

impl<'a> Connect<'a> {
    pub(crate) fn new(socket: BorrowedFd<'a>, addr: &'a RawAddr) -> Self {
        let socket = socket.as_raw_fd();
        Self { socket, addr }
    }
}

// SAFETY: the entry points to `addr`, which the op borrows.
unsafe impl Op for Connect<'_> {
    fn entry(&mut self) -> squeue::Entry {
        opcode::Connect::new(types::Fd(self.socket), self.addr.as_ptr(), self.addr.len()).build()
    }

    fn run_on_thread(&mut self) -> io::Result<usize> {
        let (socket, addr) = (self.socket, self.addr);
        let mut calls = 0;
        let outcome = syscall(|| {
            calls += 1;
            if calls > 1 {
                return poll_writable(socket);
            }
            // SAFETY: `addr` holds a valid sockaddr of `addr.len()` bytes; the socket stays
            // open.
            wide(unsafe { libc::connect(socket, addr.as_ptr(), addr.len()) })
        });
        match outcome {
            Ok(_) if calls == 1 => return Ok(0),
            // A retry polled until the interrupted attempt ended: SO_ERROR says how.
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EALREADY)) => {
                syscall(|| poll_writable(socket))?;
            }
            Err(e) => return Err(e),
        }
        match int_option(socket, libc::SOL_SOCKET, libc::SO_ERROR)? {
            0 => Ok(0),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
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
