//! The process system calls that never block: pidfd_open, pidfd_send_signal, a waitid that
//! does not wait, and the decoding of a `siginfo_t` into an [`ExitStatus`].

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// A pidfd of the process `pid` (close-on-exec, as every pidfd is).
pub(super) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `rc` is a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) })
}

/// Sends `signal` to the process of `pidfd`.
pub(super) fn send_signal(pidfd: BorrowedFd<'_>, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a null siginfo and no flags sends `signal` as kill(2)
    // would; the pidfd stays open for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A zeroed `siginfo_t`, for `waitid` to fill (a zero `si_pid` afterwards: nothing to reap).
pub(super) fn empty_info() -> libc::siginfo_t {
    // SAFETY: siginfo_t is plain data for which all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Reaps the process of `pidfd` if it has ended, without waiting; with `block`, waits
/// (not a cancellation point: only for a child that was just killed). `EINTR` is retried.
pub(super) fn reap(pidfd: BorrowedFd<'_>, block: bool) -> io::Result<Option<ExitStatus>> {
    let mut info = empty_info();
    let options = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: `info` is valid for writes of one siginfo_t; the pidfd stays open.
        let rc = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                options,
            )
        };
        if rc == 0 {
            return Ok(decode(&info));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// The exit status in `info` as `waitid(WEXITED)` filled it, or `None` if it reaped nothing.
pub(super) fn decode(info: &libc::siginfo_t) -> Option<ExitStatus> {
    // SAFETY: waitid filled the child fields of `info` (or left them zeroed): reading
    // si_pid and si_status reads those plain integers.
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    if pid == 0 {
        return None;
    }
    // The raw wait status the `ExitStatus` of std decodes: the exit code in the second byte,
    // or the signal in the low seven bits (plus 0x80 for a core dump).
    let raw = match info.si_code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        _ => status & 0x7f,
    };
    Some(ExitStatus::from_raw(raw))
}
