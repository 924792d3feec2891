//! The system calls of `crate::fs` beyond those of `crate::os`, as thin functions.
//!
//! An operation with a ring opcode runs as its op of `backend::op` through the current thread's
//! carrier (a ring entry on a fiber, a system call made as a cancellation point on a thread);
//! where the kernel's io_uring lacks the opcode ([`op::ring_supports`]), its system call runs on
//! the offload pool. An operation without an opcode (getdents64, readlink, realpath, fchmod,
//! copy_file_range) runs its system call through [`Io::offload`]: inline on a thread that owns
//! its task (threaded), on a pool thread while a fiber parks (uring). Either way it is made by
//! `op::syscall`, so the cancel signal interrupts it and a cancel that came before the call
//! returns `Canceled` without making it.
//!
//! Errors here are bare; the callers in `crate::fs` name the operation and the path.

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::backend::carrier;
use crate::backend::op::{self, syscall, wide, Op};
use crate::io::Io;

/// `path` as the NUL-terminated string system calls take; `InvalidInput` if it holds a NUL.
pub(super) fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the path contains a NUL byte"))
}

/// Runs `op`, whose ring opcode is `code`: as a system call on a thread that owns its task;
/// on a fiber, on the ring where the kernel has the opcode, otherwise its system call on the
/// offload pool (see the module documentation).
fn run<O: Op + Send>(io: Io, code: u8, op: &mut O) -> io::Result<usize> {
    if carrier::owns_thread() || op::ring_supports(code) {
        carrier::with_current(|carrier| carrier.perform(op))
    } else {
        io.offload(|| op.run_on_thread())
    }
}

/// The statx of `path` relative to `dir` (an empty path and `AT_EMPTY_PATH`: of `dir` itself).
pub(super) fn statx(
    io: Io,
    dir: RawFd,
    path: CString,
    flags: libc::c_int,
) -> io::Result<libc::statx> {
    let mut op = op::Statx::new(dir, path, flags);
    run(io, io_uring::opcode::Statx::CODE, &mut op)?;
    Ok(*op.result())
}

/// What a [`Metadata`](super::Metadata) needs, as `op::Statx` asks for it.
const STAT_MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

/// The statx of the open descriptor `fd`, made right here on every backend: a stat of an open
/// file walks no path and reads no disk on a local file system, so it takes well under a
/// microsecond, while `IORING_OP_STATX` always goes to an io-wq worker (the kernel forces it
/// async) and costs a hop of 5–10 µs — a third of a small static-file request of
/// `examples/http_server` on the uring backend. Still a cancellation point on a thread.
pub(super) fn fstatx(fd: RawFd) -> io::Result<libc::statx> {
    let mut stat = std::mem::MaybeUninit::<libc::statx>::uninit();
    let flags = libc::AT_EMPTY_PATH | libc::AT_STATX_SYNC_AS_STAT;
    syscall(|| {
        // SAFETY: the path is an empty NUL-terminated string, `stat` is writable storage for one
        // statx, which the call fills on success; `fd` stays open for the call.
        wide(unsafe { libc::statx(fd, c"".as_ptr(), flags, STAT_MASK, stat.as_mut_ptr()) })
    })?;
    // SAFETY: statx succeeded, so it initialized `stat`.
    Ok(unsafe { stat.assume_init() })
}

/// Makes the directory `path`.
pub(super) fn mkdir(io: Io, path: &CStr, mode: libc::mode_t) -> io::Result<()> {
    let mut op = op::MkDirAt::new(libc::AT_FDCWD, path, mode);
    run(io, io_uring::opcode::MkDirAt::CODE, &mut op).map(drop)
}

/// Removes `path` relative to `dir`: a file, or with `AT_REMOVEDIR` an empty directory.
pub(super) fn unlink(io: Io, dir: RawFd, path: &CStr, flags: libc::c_int) -> io::Result<()> {
    let mut op = op::UnlinkAt::new(dir, path, flags);
    run(io, io_uring::opcode::UnlinkAt::CODE, &mut op).map(drop)
}

/// Renames `from` to `to`.
pub(super) fn rename(io: Io, from: &CStr, to: &CStr) -> io::Result<()> {
    let mut op = op::RenameAt::new(from, to);
    run(io, io_uring::opcode::RenameAt::CODE, &mut op).map(drop)
}

/// Makes `link` a hard link to `original`.
pub(super) fn link(io: Io, original: &CStr, link: &CStr) -> io::Result<()> {
    let mut op = op::LinkAt::new(original, link);
    run(io, io_uring::opcode::LinkAt::CODE, &mut op).map(drop)
}

/// Makes `link` a symbolic link to `target`.
pub(super) fn symlink(io: Io, target: &CStr, link: &CStr) -> io::Result<()> {
    let mut op = op::SymlinkAt::new(target, link);
    run(io, io_uring::opcode::SymlinkAt::CODE, &mut op).map(drop)
}

/// Sets the length of the open file `fd`.
pub(super) fn ftruncate(io: Io, fd: BorrowedFd<'_>, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length beyond i64::MAX"))?;
    let mut op = op::Ftruncate::new(fd, len);
    run(io, io_uring::opcode::Ftruncate::CODE, &mut op).map(drop)
}

/// Opens the directory `path` relative to `dir` for reading its entries; with `nofollow`, a
/// symbolic link fails (`ELOOP`) instead of being followed. An `O_DIRECTORY` open never waits
/// for a peer, so the ring makes it inline.
pub(super) fn open_dir(_io: Io, dir: RawFd, path: &CStr, nofollow: bool) -> io::Result<OwnedFd> {
    let mut flags = libc::O_RDONLY | libc::O_DIRECTORY;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    let fd = crate::backend::perform(op::Open::at(dir, path, flags, 0))?;
    // SAFETY: a successful openat returned a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Reads a batch of directory entries of `fd` into `buf` (getdents64); `Ok(0)` at the end.
pub(super) fn getdents(io: Io, fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let fd = fd.as_raw_fd();
    io.offload(|| {
        syscall(|| {
            let (ptr, len) = (buf.as_mut_ptr(), buf.len());
            // SAFETY: `ptr` is valid for writes of `len` bytes (the caller's buffer, borrowed
            // until `offload` returns) and `fd` stays open for the call.
            unsafe { libc::syscall(libc::SYS_getdents64, fd, ptr, len) as isize }
        })
    })
}

/// Sets the permission bits of the open file `fd`.
pub(super) fn fchmod(io: Io, fd: BorrowedFd<'_>, mode: libc::mode_t) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fchmod takes a descriptor, which stays open, and an integer.
    io.offload(|| syscall(|| wide(unsafe { libc::fchmod(fd, mode) })))
        .map(drop)
}

/// Copies up to `len` bytes from `from`'s position to `to`'s inside the kernel; `Ok(0)` at
/// the end of `from`.
pub(super) fn copy_file_range(
    io: Io,
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
) -> io::Result<usize> {
    let (from, to) = (from.as_raw_fd(), to.as_raw_fd());
    io.offload(|| {
        syscall(|| {
            let null = std::ptr::null_mut::<libc::loff_t>();
            // SAFETY: both descriptors stay open for the call; null offsets mean the
            // descriptors' own positions.
            unsafe { libc::copy_file_range(from, null, to, null, len, 0) as isize }
        })
    })
}

/// The target of the symbolic link `path`.
pub(super) fn readlink(io: Io, path: &CStr) -> io::Result<PathBuf> {
    let mut buf = vec![0u8; 256];
    loop {
        let cap = buf.len();
        let len = io.offload(|| {
            syscall(|| {
                let ptr = buf.as_mut_ptr().cast::<libc::c_char>();
                // SAFETY: `ptr` is valid for writes of `cap` bytes (`buf`, borrowed until
                // `offload` returns) and `path` is NUL-terminated.
                unsafe { libc::readlink(path.as_ptr(), ptr, cap) }
            })
        })?;
        // A target that filled the buffer may have been cut: try again with a larger one.
        if len < cap {
            buf.truncate(len);
            return Ok(PathBuf::from(OsString::from_vec(buf)));
        }
        buf.resize(cap * 2, 0);
    }
}

/// The absolute path of `path` with every symbolic link, `.` and `..` resolved (realpath(3),
/// whose lookups the cancel signal interrupts).
pub(super) fn realpath(io: Io, path: &CStr) -> io::Result<PathBuf> {
    let mut resolved = Vec::new();
    io.offload(|| {
        syscall(|| {
            // SAFETY: `path` is NUL-terminated; with a null buffer realpath returns a malloc'ed
            // string (or null with errno set), which is copied and freed here.
            unsafe {
                let found = libc::realpath(path.as_ptr(), std::ptr::null_mut());
                if found.is_null() {
                    return -1;
                }
                resolved = CStr::from_ptr(found).to_bytes().to_vec();
                libc::free(found.cast());
                0
            }
        })
    })?;
    Ok(PathBuf::from(OsString::from_vec(resolved)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An opcode no kernel has: what `run` does where the ring lacks an op's opcode.
    const MISSING: u8 = u8::MAX;

    #[test]
    fn an_op_whose_opcode_the_ring_lacks_runs_on_the_offload_pool() {
        assert!(!op::ring_supports(MISSING));
        let dir = std::env::temp_dir().join(format!("io-fs-sys-{}", std::process::id()));
        let runtime = match crate::Runtime::builder()
            .backend(crate::Backend::Uring)
            .threads(1)
            .build()
        {
            Ok(runtime) => runtime,
            Err(reason) => return eprintln!("skipped on uring: {reason}"),
        };
        let c_dir = c_path(&dir).unwrap();
        let stat = runtime.run(|io| {
            run(
                io,
                MISSING,
                &mut op::MkDirAt::new(libc::AT_FDCWD, &c_dir, 0o700),
            )?;
            let mut statx = op::Statx::new(libc::AT_FDCWD, c_dir.clone(), 0);
            run(io, MISSING, &mut statx)?;
            let again = run(
                io,
                MISSING,
                &mut op::MkDirAt::new(libc::AT_FDCWD, &c_dir, 0o700),
            );
            assert_eq!(again.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
            io::Result::Ok(*statx.result())
        });
        std::fs::remove_dir(&dir).unwrap();
        let stat = stat.unwrap();
        assert_eq!(u32::from(stat.stx_mode) & libc::S_IFMT, libc::S_IFDIR);
        assert_eq!(u32::from(stat.stx_mode) & 0o777, 0o700 & !umask());
    }

    /// The process's umask (from /proc, since umask(2) can only read it by changing it).
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .unwrap();
        u32::from_str_radix(line.trim(), 8).unwrap()
    }
}
