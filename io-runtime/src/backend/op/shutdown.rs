//! [`Shutdown`]: shuts down one or both halves of a connected socket.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Op};

/// Shuts down the reading, writing or both halves of a socket.
pub(crate) struct Shutdown {
    fd: RawFd,
    how: libc::c_int,
}

impl Shutdown {
    pub(crate) fn new(fd: BorrowedFd<'_>, how: std::net::Shutdown) -> Self {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        let fd = fd.as_raw_fd();
        Self { fd, how }
    }
}

// SAFETY: a shutdown entry refers to no memory.
unsafe impl Op for Shutdown {
    fn entry(&mut self) -> squeue::Entry {
        opcode::Shutdown::new(types::Fd(self.fd), self.how).build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        // SAFETY: shutdown(2) takes a descriptor, which stays open, and an integer.
        syscall(|| wide(unsafe { libc::shutdown(self.fd, self.how) }))
    }
}
