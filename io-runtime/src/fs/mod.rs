//! Files and directories whose blocking operations are cancellation points: [`File`] and
//! [`OpenOptions`], directory listing ([`read_dir`]), metadata ([`metadata`]), creating,
//! removing, renaming and linking names, and whole-file helpers ([`read`], [`write`](fn@write),
//! [`copy`]). The names are std's, with the `io` to block on as the first argument.
//!
//! A `File` keeps the [`Io`](crate::Io) it was opened with, so it implements [`Read`](std::io::Read),
//! [`Write`](std::io::Write) and [`Seek`](std::io::Seek) (on `File` and `&File`) and works
//! with `BufReader`, `BufWriter` and `std::io::copy`. Its inherent methods take the `io` to
//! block on, as everything in this crate does: where a name exists in both,
//! `file.read(io, buf)` is the inherent method and `Read::read(&mut file, buf)` the trait's.
//! [`ReadDir`] keeps its `Io` too, to be an `Iterator`.
//!
//! Errors keep their [`ErrorKind`](std::io::ErrorKind) (`NotFound`, `AlreadyExists`,
//! `PermissionDenied`, `DirectoryNotEmpty`, …) and name the operation and path(s): "open /x/y:
//! No such file or directory (os error 2)", "rename /a -> /b: …". A canceled operation returns
//! an error for which [`is_canceled`](crate::is_canceled) is true.
//!
//! Opens wait as open(2) does, on both backends: a FIFO opened for reading waits until a
//! writer opens it, one opened for writing until a reader does (the uring backend sends such
//! an open to a kernel worker thread, since the ring's own attempt would not wait).
//!
//! Reads and writes of regular files sleep in the kernel uninterruptibly while the disk works,
//! so a cancel takes effect when that call returns; an open that waits (a FIFO without a peer)
//! is interrupted at once.
//!
//! # How each operation runs
//! Each operation with an io_uring opcode is a type in `backend::op` (its ring entry, its
//! blocking system call, and what a completion that won the race against its cancel leaves
//! behind): on the uring backend it is a ring entry, canceled by an async-cancel; on the
//! threaded backend a system call that the cancel signal interrupts. Operations without an
//! opcode run their system call on the runtime's offload pool on the uring backend (see
//! [`Io::offload`](crate::Io::offload): the fiber parks, a cancel reaches the call as a signal)
//! and inline on the threaded backend; either way they are cancellation points.
//!
//! | operation | uring backend | threaded backend |
//! |---|---|---|
//! | `File::open`, `OpenOptions::open` | `IORING_OP_OPENAT` | openat(2) |
//! | `File` read, write, `read_at`, `write_at` | `IORING_OP_READ` / `WRITE` | read / write / pread / pwrite |
//! | `File::sync_all`, `sync_data` | `IORING_OP_FSYNC` | fsync / fdatasync |
//! | [`metadata`], [`symlink_metadata`], [`DirEntry::metadata`] | `IORING_OP_STATX` | statx(2) |
//! | [`File::metadata`] (an open descriptor: no path walk, no disk wait) | statx(2) in place (the ring's STATX always hops to a kernel worker) | statx(2) |
//! | [`create_dir`], [`create_dir_all`] (per directory) | `IORING_OP_MKDIRAT` | mkdirat(2) |
//! | [`remove_file`], [`remove_dir`] | `IORING_OP_UNLINKAT` | unlinkat(2) |
//! | [`rename`] | `IORING_OP_RENAMEAT` | renameat(2) |
//! | [`hard_link`] | `IORING_OP_LINKAT` | linkat(2) |
//! | [`symlink`] | `IORING_OP_SYMLINKAT` | symlinkat(2) |
//! | [`File::set_len`] | `IORING_OP_FTRUNCATE` (Linux ≥ 6.9, else offload pool) | ftruncate(2) |
//! | [`read_dir`] (each batch of 32 KiB of entries) | getdents64 on the offload pool | getdents64(2) |
//! | [`remove_dir_all`] | `OPENAT`, `UNLINKAT` per entry; getdents64 batches on the offload pool | the same system calls |
//! | [`read_link`] | readlink(2) on the offload pool | readlink(2) |
//! | [`canonicalize`] | realpath(3) on the offload pool | realpath(3) |
//! | [`File::set_permissions`] | fchmod(2) on the offload pool | fchmod(2) |
//! | [`copy`] | `OPENAT`, statx(2) of the source; copy_file_range(2) chunks of 8 MiB on the offload pool (`READ`/`WRITE` loop where the kernel cannot) | the same system calls |
//! | [`read`], [`read_to_string`], [`write`](fn@write) | `OPENAT`, `READ` / `WRITE` | openat, read / write |
//!
//! The opcodes after the backend's own (MKDIRAT and LINKAT came in Linux 5.15, FTRUNCATE in
//! 6.9) are probed once per process: where the kernel lacks one, its system call runs on the
//! offload pool instead.

mod contents;
mod dir;
mod dirent;
mod file;
mod metadata;
mod open_options;
mod path_ops;
mod remove_tree;
mod sys;

pub use contents::{copy, read, read_to_string, write};
pub use dir::{create_dir, create_dir_all, read_dir, remove_dir, DirEntry, ReadDir};
pub use file::File;
pub use metadata::{metadata, symlink_metadata, FileType, Metadata};
pub use open_options::OpenOptions;
pub use path_ops::{canonicalize, hard_link, read_link, remove_file, rename, symlink};
pub use remove_tree::remove_dir_all;

// Like std's, these move between tasks and threads: checked at compile time.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<File>();
    send_sync::<OpenOptions>();
    send_sync::<ReadDir>();
    send_sync::<DirEntry>();
    send_sync::<Metadata>();
    send_sync::<FileType>();
};
