//! [`WaitId`]: waits for a child process to end, through its pidfd; [`PollIn`]: waits until a
//! descriptor is readable (the ring's fallback for kernels without `IORING_OP_WAITID`).

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Op};

/// `waitid(P_PIDFD, pidfd, info, WEXITED)`: reaps the child and fills `info`.
pub(crate) struct WaitId<'a> {
    pidfd: RawFd,
    info: &'a mut libc::siginfo_t,
}

impl<'a> WaitId<'a> {
    pub(crate) fn new(pidfd: BorrowedFd<'a>, info: &'a mut libc::siginfo_t) -> Self {
        let pidfd = pidfd.as_raw_fd();
        Self { pidfd, info }
    }
}

// SAFETY: the entry points to `info`, which the op borrows mutably.
unsafe impl Op for WaitId<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let info: *mut libc::siginfo_t = self.info;
        opcode::WaitId::new(libc::P_PIDFD, self.pidfd as libc::id_t, libc::WEXITED)
            .infop(info.cast_const())
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (pidfd, info): (RawFd, *mut libc::siginfo_t) = (self.pidfd, self.info);
        syscall(|| {
            // SAFETY: `info` is valid for writes of one siginfo_t for the whole call (the op
            // borrows it) and the pidfd stays open: the caller lends it as a BorrowedFd.
            let rc =
                unsafe { libc::waitid(libc::P_PIDFD, pidfd as libc::id_t, info, libc::WEXITED) };
            wide(rc)
        })
    }
}

/// Waits until `fd` is readable (or hung up, or failed); the result is the poll events.
pub(crate) struct PollIn {
    fd: RawFd,
}

impl PollIn {
    pub(crate) fn new(fd: BorrowedFd<'_>) -> Self {
        Self { fd: fd.as_raw_fd() }
    }
}

// SAFETY: the entry points to no memory.
unsafe impl Op for PollIn {
    fn entry(&mut self) -> squeue::Entry {
        opcode::PollAdd::new(types::Fd(self.fd), libc::POLLIN as u32).build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let mut entry = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `entry` is one valid, writable pollfd for the whole call.
        syscall(|| wide(unsafe { libc::poll(&mut entry, 1, -1) }))?;
        Ok(entry.revents as usize)
    }
}
