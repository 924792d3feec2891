//! [`Statx`]: the metadata of a path, or of an open descriptor, by statx(2).

use std::ffi::CString;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Op};

/// What statx asks for: the basic fields and the birth time.
const MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

/// Stats `path` relative to `dir` (`AT_FDCWD`, or a descriptor with an empty path and
/// `AT_EMPTY_PATH`), with `flags` (`AT_SYMLINK_NOFOLLOW` for the link itself). The op owns the
/// path and the buffer the kernel fills, so both stay in place while the entry is in flight.
pub(crate) struct Statx {
    dir: RawFd,
    path: CString,
    flags: libc::c_int,
    buf: libc::statx,
}

impl Statx {
    pub(crate) fn new(dir: RawFd, path: CString, flags: libc::c_int) -> Self {
        // SAFETY: `statx` is plain integers, for which all zeroes is a valid value.
        let buf = unsafe { std::mem::zeroed() };
        Self {
            dir,
            path,
            flags,
            buf,
        }
    }

    /// What the kernel wrote (all zeroes before the op ran).
    pub(crate) fn result(&self) -> &libc::statx {
        &self.buf
    }
}

// SAFETY: the entry points to `path` and `buf`, which the op owns.
unsafe impl Op for Statx {
    fn entry(&mut self) -> squeue::Entry {
        let buf: *mut libc::statx = &mut self.buf;
        opcode::Statx::new(types::Fd(self.dir), self.path.as_ptr(), buf.cast())
            .flags(self.flags)
            .mask(MASK)
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (dir, path, flags) = (self.dir, self.path.as_ptr(), self.flags);
        let buf: *mut libc::statx = &mut self.buf;
        // SAFETY: `path` is NUL-terminated and `buf` writable storage for one statx, both owned
        // by the op for the whole call; `dir` is AT_FDCWD or a descriptor the caller keeps open.
        syscall(|| wide(unsafe { libc::statx(dir, path, flags, MASK, buf) }))
    }
}
