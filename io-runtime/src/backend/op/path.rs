//! The operations on names in a directory: [`MkDirAt`], [`UnlinkAt`], [`RenameAt`],
//! [`LinkAt`] and [`SymlinkAt`]. Each takes its paths relative to a directory descriptor
//! (`AT_FDCWD`: the working directory) and borrows them, so they stay in place while the entry
//! is in flight.

use std::ffi::CStr;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types};

use super::{syscall, wide, Op};

/// Makes the directory `path` with `mode` (before the umask).
pub(crate) struct MkDirAt<'a> {
    dir: RawFd,
    path: &'a CStr,
    mode: libc::mode_t,
}

impl<'a> MkDirAt<'a> {
    pub(crate) fn new(dir: RawFd, path: &'a CStr, mode: libc::mode_t) -> Self {
        Self { dir, path, mode }
    }
}

// SAFETY: the entry points only to `path`, which the op borrows.
unsafe impl Op for MkDirAt<'_> {
    fn entry(&mut self) -> squeue::Entry {
        opcode::MkDirAt::new(types::Fd(self.dir), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        // SAFETY: `path` is NUL-terminated and outlives the call; `dir` stays open.
        syscall(|| wide(unsafe { libc::mkdirat(self.dir, self.path.as_ptr(), self.mode) }))
    }
}

/// Removes the name `path`: a file, or with `AT_REMOVEDIR` an empty directory.
pub(crate) struct UnlinkAt<'a> {
    dir: RawFd,
    path: &'a CStr,
    flags: libc::c_int,
}

impl<'a> UnlinkAt<'a> {
    pub(crate) fn new(dir: RawFd, path: &'a CStr, flags: libc::c_int) -> Self {
        Self { dir, path, flags }
    }
}

// SAFETY: the entry points only to `path`, which the op borrows.
unsafe impl Op for UnlinkAt<'_> {
    fn entry(&mut self) -> squeue::Entry {
        opcode::UnlinkAt::new(types::Fd(self.dir), self.path.as_ptr())
            .flags(self.flags)
            .build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        // SAFETY: `path` is NUL-terminated and outlives the call; `dir` stays open.
        syscall(|| wide(unsafe { libc::unlinkat(self.dir, self.path.as_ptr(), self.flags) }))
    }
}

/// Renames `from` to `to`, replacing `to` as rename(2) does.
pub(crate) struct RenameAt<'a> {
    from: &'a CStr,
    to: &'a CStr,
}

impl<'a> RenameAt<'a> {
    pub(crate) fn new(from: &'a CStr, to: &'a CStr) -> Self {
        Self { from, to }
    }
}

// SAFETY: the entry points only to `from` and `to`, which the op borrows.
unsafe impl Op for RenameAt<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::RenameAt::new(cwd, self.from.as_ptr(), cwd, self.to.as_ptr()).build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (from, to) = (self.from.as_ptr(), self.to.as_ptr());
        // SAFETY: both paths are NUL-terminated and outlive the call.
        syscall(|| wide(unsafe { libc::renameat(libc::AT_FDCWD, from, libc::AT_FDCWD, to) }))
    }
}

/// Makes `link` a new name of the file `original` (not following a symlink `original`).
pub(crate) struct LinkAt<'a> {
    original: &'a CStr,
    link: &'a CStr,
}

impl<'a> LinkAt<'a> {
    pub(crate) fn new(original: &'a CStr, link: &'a CStr) -> Self {
        Self { original, link }
    }
}

// SAFETY: the entry points only to `original` and `link`, which the op borrows.
unsafe impl Op for LinkAt<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::LinkAt::new(cwd, self.original.as_ptr(), cwd, self.link.as_ptr()).build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (original, link) = (self.original.as_ptr(), self.link.as_ptr());
        let cwd = libc::AT_FDCWD;
        // SAFETY: both paths are NUL-terminated and outlive the call.
        syscall(|| wide(unsafe { libc::linkat(cwd, original, cwd, link, 0) }))
    }
}

/// Makes `link` a symbolic link whose contents are `target`.
pub(crate) struct SymlinkAt<'a> {
    target: &'a CStr,
    link: &'a CStr,
}

impl<'a> SymlinkAt<'a> {
    pub(crate) fn new(target: &'a CStr, link: &'a CStr) -> Self {
        Self { target, link }
    }
}

// SAFETY: the entry points only to `target` and `link`, which the op borrows.
unsafe impl Op for SymlinkAt<'_> {
    fn entry(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::SymlinkAt::new(cwd, self.target.as_ptr(), self.link.as_ptr()).build()
    }

    fn run_on_thread(&mut self) -> std::io::Result<usize> {
        let (target, link) = (self.target.as_ptr(), self.link.as_ptr());
        // SAFETY: both paths are NUL-terminated and outlive the call.
        syscall(|| wide(unsafe { libc::symlinkat(target, libc::AT_FDCWD, link) }))
    }
}
