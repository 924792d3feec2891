//! The blocking operations, each written once: one type per operation with its io_uring entry,
//! the blocking system call that runs it on a thread, and what a completion that won the race
//! against its cancel leaves behind. A backend decides how to run an [`Op`]
//! ([`Carrier::perform`](super::carrier::Carrier::perform)): a thread makes the system call as a
//! cancellation point ([`syscall`]); a fiber submits the entry and waits for its completion
//! (see `backend/uring/README.md`).
//!
//! ```text
//! type      system call                ring opcode
//! Open      openat(AT_FDCWD, …)        IORING_OP_OPENAT (IOSQE_ASYNC unless it cannot wait)
//! Read      read(2) / pread64          IORING_OP_READ  (offset -1: the file position)
//! Write     write(2) / pwrite64        IORING_OP_WRITE (offset -1: the file position)
//! Fsync     fsync / fdatasync          IORING_OP_FSYNC (+ IORING_FSYNC_DATASYNC)
//! Accept    accept4(SOCK_CLOEXEC)      IORING_OP_ACCEPT
//! Connect   connect, then poll         IORING_OP_CONNECT
//! Recv      recv (flags: MSG_PEEK)     IORING_OP_RECV
//! Send      send(MSG_NOSIGNAL)         IORING_OP_SEND
//! SendMsg   sendmsg(MSG_NOSIGNAL)      IORING_OP_SENDMSG (a datagram to an address)
//! RecvMsg   recvmsg (flags: MSG_PEEK)  IORING_OP_RECVMSG (a datagram and its sender)
//! Shutdown  shutdown                   IORING_OP_SHUTDOWN
//! WaitId    waitid(P_PIDFD, WEXITED)   IORING_OP_WAITID (kernel 6.7+)
//! PollIn    poll(POLLIN)               IORING_OP_POLL_ADD (WaitId's fallback on older kernels)
//! Statx     statx                      IORING_OP_STATX
//! MkDirAt   mkdirat                    IORING_OP_MKDIRAT
//! UnlinkAt  unlinkat                   IORING_OP_UNLINKAT
//! RenameAt  renameat                   IORING_OP_RENAMEAT
//! LinkAt    linkat                     IORING_OP_LINKAT
//! SymlinkAt symlinkat                  IORING_OP_SYMLINKAT
//! Ftruncate ftruncate64                IORING_OP_FTRUNCATE
//! ```
//!
//! The last seven came after the opcodes the backend needs; [`ring_supports`] says whether the
//! kernel has one (`crate::fs` offloads the system call where it does not).
//!
//! Sleeping is not an op: a thread sleeps on its parker, a fiber on a ring timeout
//! ([`Carrier::sleep_until`](super::carrier::Carrier::sleep_until)).

mod accept;
mod connect;
mod fsync;
mod ftruncate;
mod msg;
mod open;
mod path;
mod probe;
mod read_write;
mod shutdown;
mod socket_io;
mod statx;
mod wait;

use io_uring::squeue;

pub(crate) use super::own_thread::syscall;
pub(crate) use accept::Accept;
pub(crate) use connect::Connect;
pub(crate) use fsync::Fsync;
pub(crate) use ftruncate::Ftruncate;
pub(crate) use msg::{RecvMsg, SendMsg};
pub(crate) use open::Open;
pub(crate) use path::{LinkAt, MkDirAt, RenameAt, SymlinkAt, UnlinkAt};
pub(crate) use probe::ring_supports;
pub(crate) use read_write::{Read, Write};
pub(crate) use shutdown::Shutdown;
pub(crate) use socket_io::{Recv, Send};
pub(crate) use statx::Statx;
pub(crate) use wait::{PollIn, WaitId};

/// One blocking operation (see the module documentation).
///
/// # Safety
/// Every buffer and address the [`entry`](Op::entry) hands to the kernel lives in the op or is
/// borrowed by it, so it stays valid while the op is borrowed. A backend returns from
/// `perform` only after the kernel is done with the entry, also after a cancel.
pub(crate) unsafe trait Op {
    /// The ring entry (its `user_data` is set by the ring).
    fn entry(&mut self) -> squeue::Entry;

    /// Runs the operation on the current thread, as a cancellation point.
    fn run_on_thread(&mut self) -> std::io::Result<usize>;

    /// What a result that arrives after its caller was canceled owns.
    fn leftover(&self) -> Leftover {
        Leftover::Nothing
    }
}

// SAFETY: the borrowed op stays borrowed, so in place, for the whole `perform` it is passed
// to: its own contract carries over. (Lets a caller read the op after it ran: `RecvMsg`.)
unsafe impl<T: Op + ?Sized> Op for &mut T {
    fn entry(&mut self) -> squeue::Entry {
        (**self).entry()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        (**self).run_on_thread()
    }

    fn leftover(&self) -> Leftover {
        (**self).leftover()
    }
}

/// What a result that won the race against its cancel owns, and the backend must release.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Leftover {
    /// Nothing (a byte count, a status).
    Nothing,
    /// A descriptor (accept, openat): close it.
    Descriptor,
}

/// A buffer length as a ring entry takes it (longer buffers are served in part, as a short
/// read or write).
fn ring_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// A `c_int` result as the `isize` that [`syscall`] expects.
pub(crate) fn wide(rc: libc::c_int) -> isize {
    rc as isize
}
