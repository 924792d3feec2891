//! [`Recv`] and [`Send`] on a connected socket.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{ring_len, syscall, Op};

/// Receives into `buf`, with recv(2)'s `flags` (`MSG_PEEK` leaves the data queued).
pub(crate) struct Recv<'a> {
    fd: RawFd,
    buf: &'a mut [u8],
    flags: libc::c_int,
}

impl<'a> Recv<'a> {
    pub(crate) fn new(fd: BorrowedFd<'a>, buf: &'a mut [u8]) -> Self {
        Self::with_flags(fd, buf, 0)
    }

    pub(crate) fn with_flags(fd: BorrowedFd<'a>, buf: &'a mut [u8], flags: libc::c_int) -> Self {
        let fd = fd.as_raw_fd();
        Self { fd, buf, flags }
    }
}

// SAFETY: the entry points to `buf`, which the op borrows mutably.
unsafe impl Op for Recv<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let (ptr, len) = (self.buf.as_mut_ptr(), ring_len(self.buf.len()));
        opcode::Recv::new(types::Fd(self.fd), ptr, len)
            .flags(self.flags)
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (fd, ptr, len) = (self.fd, self.buf.as_mut_ptr(), self.buf.len());
        let flags = self.flags;
        // SAFETY: `ptr` is valid for writes of `len` bytes for the whole call and the socket
        // stays open.
        syscall(|| unsafe { libc::recv(fd, ptr.cast(), len, flags) })
    }
}

/// Sends `buf`; a closed peer is `EPIPE`, never `SIGPIPE`.
pub(crate) struct Send<'a> {
    fd: RawFd,
    buf: &'a [u8],
}

impl<'a> Send<'a> {
    pub(crate) fn new(fd: BorrowedFd<'a>, buf: &'a [u8]) -> Self {
        let fd = fd.as_raw_fd();
        Self { fd, buf }
    }
}

// SAFETY: the entry points to `buf`, which the op borrows.
unsafe impl Op for Send<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let (ptr, len) = (self.buf.as_ptr(), ring_len(self.buf.len()));
        opcode::Send::new(types::Fd(self.fd), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (fd, ptr, len) = (self.fd, self.buf.as_ptr(), self.buf.len());
        // SAFETY: `ptr` is valid for reads of `len` bytes for the whole call and the socket
        // stays open.
        syscall(|| unsafe { libc::send(fd, ptr.cast(), len, libc::MSG_NOSIGNAL) })
    }
}
