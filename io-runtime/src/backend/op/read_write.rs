//! [`Read`] and [`Write`]: at the descriptor's position (a file, pipe or socket) or at an
//! offset, leaving the position alone.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{ring_len, syscall, Op};

/// Reads into `buf`: at the descriptor's position, or at `at`.
pub(crate) struct Read<'a> {
    fd: RawFd,
    buf: &'a mut [u8],
    at: Option<libc::off_t>,
}

impl<'a> Read<'a> {
    pub(crate) fn new(fd: BorrowedFd<'a>, buf: &'a mut [u8], at: Option<libc::off_t>) -> Self {
        let fd = fd.as_raw_fd();
        Self { fd, buf, at }
    }
}

/// The ring's offset for `at`: -1 (as u64) means the descriptor's own position.
fn ring_offset(at: Option<libc::off_t>) -> u64 {
    at.map_or(u64::MAX, |at| at as u64)
}

// SAFETY: the entry points to `buf`, which the op borrows mutably.
unsafe impl Op for Read<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let (ptr, len) = (self.buf.as_mut_ptr(), ring_len(self.buf.len()));
        opcode::Read::new(types::Fd(self.fd), ptr, len)
            .offset(ring_offset(self.at))
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (fd, ptr, len) = (self.fd, self.buf.as_mut_ptr(), self.buf.len());
        syscall(|| match self.at {
            // SAFETY: `ptr` is valid for writes of `len` bytes for the whole call (the op
            // borrows the buffer) and `fd` stays open: the caller lends it as a BorrowedFd.
            None => unsafe { libc::read(fd, ptr.cast(), len) },
            // SAFETY: as above.
            Some(at) => unsafe { libc::pread64(fd, ptr.cast(), len, at) },
        })
    }
}

/// Writes `buf`: at the descriptor's position, or at `at`.
pub(crate) struct Write<'a> {
    fd: RawFd,
    buf: &'a [u8],
    at: Option<libc::off_t>,
}

impl<'a> Write<'a> {
    pub(crate) fn new(fd: BorrowedFd<'a>, buf: &'a [u8], at: Option<libc::off_t>) -> Self {
        let fd = fd.as_raw_fd();
        Self { fd, buf, at }
    }
}

// SAFETY: the entry points to `buf`, which the op borrows.
unsafe impl Op for Write<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let (ptr, len) = (self.buf.as_ptr(), ring_len(self.buf.len()));
        opcode::Write::new(types::Fd(self.fd), ptr, len)
            .offset(ring_offset(self.at))
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (fd, ptr, len) = (self.fd, self.buf.as_ptr(), self.buf.len());
        syscall(|| match self.at {
            // SAFETY: `ptr` is valid for reads of `len` bytes for the whole call and `fd`
            // stays open.
            None => unsafe { libc::write(fd, ptr.cast(), len) },
            // SAFETY: as above.
            Some(at) => unsafe { libc::pwrite64(fd, ptr.cast(), len, at) },
        })
    }
}
