//! [`Accept`]: waits for a connection on a listening socket.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Leftover, Op};
use crate::net::addr::RawAddr;

/// Accepts a connection (the new socket has `SOCK_CLOEXEC` and blocks); the peer's address is
/// written to `peer`, the result is the new descriptor.
pub(crate) struct Accept<'a> {
    listener: RawFd,
    peer: &'a mut RawAddr,
}

impl<'a> Accept<'a> {
    pub(crate) fn new(listener: BorrowedFd<'a>, peer: &'a mut RawAddr) -> Self {
        let listener = listener.as_raw_fd();
        Self { listener, peer }
    }
}

// SAFETY: the entry points to `peer`'s storage and length, which the op borrows mutably.
unsafe impl Op for Accept<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let (ptr, len) = self.peer.as_out();
        opcode::Accept::new(types::Fd(self.listener), ptr, len)
            .flags(libc::SOCK_CLOEXEC)
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        syscall(|| {
            let (ptr, len) = self.peer.as_out();
            // SAFETY: `ptr`/`len` describe writable address storage that the op borrows; the
            // listener stays open.
            wide(unsafe { libc::accept4(self.listener, ptr, len, libc::SOCK_CLOEXEC) })
        })
    }

    fn leftover(&self) -> Leftover {
        Leftover::Descriptor
    }
}
