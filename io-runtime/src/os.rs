//! Blocking system calls on file descriptors, as cancellation points.
//!
//! On the threaded backend a canceled task blocked here is interrupted by the cancel signal
//! (see `crate::cancel`). Files and sockets are built on these calls.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::Canceled;
use crate::io::Io;
use crate::task::with_current;

/// Runs a raw system call returning `-1`/errno on failure as a cancellation point.
pub(crate) fn syscall(call: impl FnMut() -> isize) -> io::Result<usize> {
    let outcome = with_current(|ctx| ctx.cancel.syscall(call, |rc| *rc < 0));
    match outcome {
        Err(Canceled) => Err(Canceled.into()),
        Ok(Err(error)) => Err(error),
        Ok(Ok(count)) => Ok(count as usize),
    }
}

impl Io {
    /// Reads from `fd` into `buf`, blocking until data, end of file, an error, or a cancel.
    ///
    /// # Errors
    /// The system call's error; a cancel returns an error for which
    /// [`is_canceled`](crate::is_canceled) is true.
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked in the kernel.
    pub fn read_fd(self, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
        let raw = fd.as_raw_fd();
        syscall(|| {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call and
            // `raw` is a descriptor the caller keeps open (it lends it as BorrowedFd).
            unsafe { libc::read(raw, buf.as_mut_ptr().cast(), buf.len()) }
        })
    }

    /// Writes `buf` to `fd`, returning how many bytes the kernel took.
    ///
    /// # Errors
    /// The system call's error; a cancel returns an error for which
    /// [`is_canceled`](crate::is_canceled) is true.
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked in the kernel.
    pub fn write_fd(self, fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
        let raw = fd.as_raw_fd();
        syscall(|| {
            // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call and
            // `raw` is a descriptor the caller keeps open.
            unsafe { libc::write(raw, buf.as_ptr().cast(), buf.len()) }
        })
    }
}
