//! [`SendMsg`] and [`RecvMsg`]: a datagram to or from an explicit address (UDP's `send_to` and
//! `recv_from`, a Unix datagram socket's).
//!
//! Each op owns the `msghdr` and the `iovec` the kernel reads, and borrows the buffer and the
//! address storage; the ring reads them (and `RecvMsg`'s kernel writes the sender's address and
//! its length into them) any time until the completion, which the `Op` contract keeps valid. The
//! pointers inside the `msghdr` are set when the entry is made, so the op must not move between
//! [`Op::entry`] and the completion: `perform` holds it in place (by value or behind `&mut`).

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{syscall, Op};
use crate::net::addr::RawAddr;

/// A `msghdr` with every field empty.
fn empty_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is plain old data for which all-zero bytes (null pointers, zero lengths)
    // are a valid value.
    unsafe { std::mem::zeroed() }
}

/// Sends `buf` as one datagram to `to` (`MSG_NOSIGNAL`: a closed stream peer is `EPIPE`).
pub(crate) struct SendMsg<'a> {
    fd: RawFd,
    buf: &'a [u8],
    to: &'a RawAddr,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl<'a> SendMsg<'a> {
    pub(crate) fn new(fd: BorrowedFd<'a>, buf: &'a [u8], to: &'a RawAddr) -> Self {
        let fd = fd.as_raw_fd();
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let msg = empty_msghdr();
        Self {
            fd,
            buf,
            to,
            iov,
            msg,
        }
    }

    /// Points the header at the buffer and the address, where they are now.
    fn prepare(&mut self) -> *const libc::msghdr {
        self.iov.iov_base = self.buf.as_ptr().cast_mut().cast();
        self.iov.iov_len = self.buf.len();
        self.msg.msg_name = self.to.as_ptr().cast_mut().cast();
        self.msg.msg_namelen = self.to.len();
        self.msg.msg_iov = &mut self.iov;
        self.msg.msg_iovlen = 1;
        &self.msg
    }
}

// SAFETY: the entry points to `msg` and `iov`, which the op owns, and through them to `buf`
// and `to`, which it borrows; none of them moves while the op is borrowed by `perform`.
unsafe impl Op for SendMsg<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let msg = self.prepare();
        opcode::SendMsg::new(types::Fd(self.fd), msg)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (fd, msg) = (self.fd, self.prepare());
        // SAFETY: `msg` describes one readable buffer and a valid address, all alive for the
        // whole call; the socket stays open.
        syscall(|| unsafe { libc::sendmsg(fd, msg, libc::MSG_NOSIGNAL) })
    }
}

/// Receives one datagram into `buf` (`flags`: `MSG_PEEK` leaves it queued); the sender's
/// address is written to `from` (see [`RecvMsg::finish`]).
pub(crate) struct RecvMsg<'a> {
    fd: RawFd,
    buf: &'a mut [u8],
    from: &'a mut RawAddr,
    flags: libc::c_int,
    iov: libc::iovec,
    msg: libc::msghdr,
}

impl<'a> RecvMsg<'a> {
    pub(crate) fn new(
        fd: BorrowedFd<'a>,
        buf: &'a mut [u8],
        from: &'a mut RawAddr,
        flags: libc::c_int,
    ) -> Self {
        let fd = fd.as_raw_fd();
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let msg = empty_msghdr();
        Self {
            fd,
            buf,
            from,
            flags,
            iov,
            msg,
        }
    }

    /// Points the header at the buffer and the address storage, where they are now.
    fn prepare(&mut self) -> *mut libc::msghdr {
        self.iov.iov_base = self.buf.as_mut_ptr().cast();
        self.iov.iov_len = self.buf.len();
        let (name, capacity) = self.from.as_mut_storage();
        self.msg.msg_name = name.cast();
        self.msg.msg_namelen = capacity;
        self.msg.msg_iov = &mut self.iov;
        self.msg.msg_iovlen = 1;
        &mut self.msg
    }

    /// After a successful receive: records the length of the address the kernel wrote.
    pub(crate) fn finish(self) {
        self.from.set_len(self.msg.msg_namelen);
    }
}

// SAFETY: the entry points to `msg` and `iov`, which the op owns, and through them to `buf`
// and `from`'s storage, which it borrows mutably; none of them moves while the op is borrowed
// by `perform`.
unsafe impl Op for RecvMsg<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let msg = self.prepare();
        opcode::RecvMsg::new(types::Fd(self.fd), msg)
            .flags(self.flags as u32)
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (fd, flags, msg) = (self.fd, self.flags, self.prepare());
        // SAFETY: `msg` describes one writable buffer and writable address storage, all alive
        // for the whole call; the socket stays open.
        syscall(|| unsafe { libc::recvmsg(fd, msg, flags) })
    }
}
