//! [`Ftruncate`]: sets the length of an open file.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Op};

/// Cuts or extends (with zeroes) the file to `len` bytes.
pub(crate) struct Ftruncate {
    fd: RawFd,
    len: libc::off_t,
}

impl Ftruncate {
    pub(crate) fn new(fd: BorrowedFd<'_>, len: libc::off_t) -> Self {
        let fd = fd.as_raw_fd();
        Self { fd, len }
    }
}

// SAFETY: an ftruncate entry refers to no memory.
unsafe impl Op for Ftruncate {
    fn entry(&mut self) -> squeue::Entry {
        opcode::Ftruncate::new(types::Fd(self.fd), self.len as u64).build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        // SAFETY: ftruncate64 takes a descriptor, which stays open, and an integer.
        syscall(|| wide(unsafe { libc::ftruncate64(self.fd, self.len) }))
    }
}
