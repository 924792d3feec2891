//! [`Fsync`]: flushes a file to its device.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Op};

/// Flushes data and metadata, or (`data_only`) what reading the data back needs.
pub(crate) struct Fsync {
    fd: RawFd,
    data_only: bool,
}

impl Fsync {
    pub(crate) fn new(fd: BorrowedFd<'_>, data_only: bool) -> Self {
        let fd = fd.as_raw_fd();
        Self { fd, data_only }
    }
}

// SAFETY: an fsync entry refers to no memory.
unsafe impl Op for Fsync {
    fn entry(&mut self) -> squeue::Entry {
        let flags = if self.data_only {
            types::FsyncFlags::DATASYNC
        } else {
            types::FsyncFlags::empty()
        };
        opcode::Fsync::new(types::Fd(self.fd)).flags(flags).build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        syscall(|| {
            // SAFETY: fsync and fdatasync only take a descriptor, which stays open.
            wide(unsafe {
                if self.data_only {
                    libc::fdatasync(self.fd)
                } else {
                    libc::fsync(self.fd)
                }
            })
        })
    }
}
