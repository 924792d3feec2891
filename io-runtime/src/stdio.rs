//! The process's standard streams: [`stdin`], [`stdout`] and [`stderr`], whose reads and writes
//! are cancellation points.
//!
//! Each handle keeps the [`Io`] it was made with (as [`File`](crate::fs::File) and the
//! sockets do) and implements std's [`Read`] / [`Write`] with it, so `BufRead::lines`,
//! `write!` and `std::io::copy` work. A read of standard input is the runtime's read operation
//! on descriptor 0: an `IORING_OP_READ` on io_uring (armed on the pipe or terminal and
//! canceled by an async-cancel), a read(2) that the cancel signal interrupts on the threaded
//! backend. So a task waiting for a line is canceled like any other.
//!
//! # Locks
//! As in std, each stream has one process-wide lock, and [`Stdin::lock`] / [`Stdout::lock`] /
//! [`Stderr::lock`] hold it for a sequence of operations (whole lines from many tasks). The
//! locks are the crate's [`Mutex`], not std's: the holder blocks in a
//! cancellation point (a stdin read can wait forever), and with a std mutex another task on the
//! same io_uring event loop would block that loop's thread waiting for it — the holder's read
//! would then never be reaped. Waiting for the crate's lock parks only the task and is itself a
//! cancellation point. Every method that takes the lock for the caller (`Read::read` on
//! `Stdin`, `Write::write_all` on `Stdout`, …) therefore may return the canceled error.
//!
//! # Buffering
//! Standard input is read through one process-wide 8 KiB buffer behind its lock (as std's), so
//! lines read by different tasks, or through handles made at different times, are never lost
//! in a dropped buffer. Standard output and error are *not* buffered: every write goes to the
//! descriptor at once. (std line-buffers stdout; a buffer here would have to be flushed when a
//! runtime ends or the process forks or exits, which a library cannot make sure of. Wrap a lock
//! in a `BufWriter` for many small writes.) Output from std's `println!` is interleaved with
//! this one at std's flushes, at every newline.
//!
//! # Descriptors
//! The handles never close descriptors 0, 1 and 2. As std does, a closed descriptor (`EBADF`)
//! reads as end of input and swallows writes.

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::OnceLock;

use crate::error::Canceled;
use crate::io::Io;
use crate::os;
use crate::sync::{Mutex, MutexGuard};

/// The size of standard input's buffer.
const BUFFER: usize = 8 << 10;

/// Standard input's buffer: `data[pos..filled]` was read and not yet consumed.
#[derive(Default)]
struct Buffer {
    data: Vec<u8>,
    pos: usize,
    filled: usize,
}

fn stdin_lock() -> &'static Mutex<Buffer> {
    static STDIN: OnceLock<Mutex<Buffer>> = OnceLock::new();
    STDIN.get_or_init(Mutex::default)
}

fn stdout_lock() -> &'static Mutex<()> {
    static STDOUT: OnceLock<Mutex<()>> = OnceLock::new();
    STDOUT.get_or_init(Mutex::default)
}

fn stderr_lock() -> &'static Mutex<()> {
    static STDERR: OnceLock<Mutex<()>> = OnceLock::new();
    STDERR.get_or_init(Mutex::default)
}

/// Descriptor `raw` (0, 1 or 2), borrowed for a call.
fn standard(raw: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the standard descriptors belong to the process for its whole life and this
    // module never closes them. If the program closed one, the calls below fail with EBADF
    // (handled as std does) or act on whatever took the number, as std's handles would.
    unsafe { BorrowedFd::borrow_raw(raw) }
}

/// Standard input, read with `io` (see the [module documentation](self)).
///
/// # Examples
/// ```no_run
/// use std::io::BufRead;
///
/// #[io::main]
/// fn main(io: io::Io) -> std::io::Result<()> {
///     // Echo each line, upper-cased, until end of input; a cancel ends the wait for a line.
///     for line in io::stdio::stdin(io).lock()?.lines() {
///         let line = line?;
///         writeln!(io::stdio::stdout(io), "{}", line.to_uppercase())?;
///     }
///     Ok(())
/// }
/// # use std::io::Write;
/// ```
pub fn stdin(io: Io) -> Stdin {
    Stdin { io }
}

/// Standard output, written with `io` (unbuffered; see the [module documentation](self)).
///
/// # Examples
/// ```
/// use std::io::Write;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// runtime.run(|io| -> std::io::Result<()> {
///     let mut out = io::stdio::stdout(io).lock()?;
///     writeln!(out, "one line")?;
///     writeln!(out, "and the next, with no other task's output between them")
/// }).unwrap();
/// ```
pub fn stdout(io: Io) -> Stdout {
    Stdout { io }
}

/// Standard error, written with `io` (unbuffered, as std's).
///
/// # Examples
/// ```
/// use std::io::Write;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// runtime.run(|io| writeln!(io::stdio::stderr(io), "a warning")).unwrap();
/// ```
pub fn stderr(io: Io) -> Stderr {
    Stderr { io }
}

/// A handle of standard input (see [`stdin`]); copies share the process-wide buffer and lock.
///
/// # Examples
/// ```
/// # use std::io::Write;
/// # use std::os::fd::AsRawFd;
/// # // Feed this example's own standard input from a pipe.
/// # let (reader, mut writer) = std::io::pipe().unwrap();
/// # writer.write_all(b"first\nsecond\nthird\n").unwrap();
/// # drop(writer);
/// # // SAFETY: dup2 onto descriptor 0 replaces standard input; nothing else reads it here.
/// # assert_eq!(unsafe { libc::dup2(reader.as_raw_fd(), 0) }, 0);
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let lines = runtime.run(|io| -> std::io::Result<Vec<String>> {
///     let stdin = io::stdio::stdin(io);
///     let mut first = String::new();
///     stdin.read_line(&mut first)?;
///     // Copies share the buffer: the next handle reads on after the first line.
///     let mut rest = String::new();
///     std::io::Read::read_to_string(&mut io::stdio::stdin(io), &mut rest)?;
///     Ok(vec![first, rest])
/// });
/// assert_eq!(lines.unwrap(), ["first\n", "second\nthird\n"]);
/// ```
#[derive(Clone, Copy)]
pub struct Stdin {
    io: Io,
}

impl Stdin {
    /// Takes the lock of standard input: the guard reads through the shared buffer and
    /// implements [`BufRead`] (`read_line`, `lines`), with no other task reading meanwhile.
    ///
    /// # Errors
    /// The canceled error if the task is canceled while it waits for the lock.
    ///
    /// # Cancelation
    /// A cancellation point, while waiting for the lock (and every read through the guard).
    ///
    /// # Examples
    /// ```
    /// # use std::io::Write;
    /// # use std::os::fd::AsRawFd;
    /// # // Feed this example's own standard input from a pipe.
    /// # let (reader, mut writer) = std::io::pipe().unwrap();
    /// # writer.write_all(b"a\nb\n").unwrap();
    /// # drop(writer);
    /// # // SAFETY: dup2 onto descriptor 0 replaces standard input; nothing else reads it here.
    /// # assert_eq!(unsafe { libc::dup2(reader.as_raw_fd(), 0) }, 0);
    /// use std::io::BufRead;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let lines = runtime.run(|io| -> std::io::Result<Vec<String>> {
    ///     io::stdio::stdin(io).lock()?.lines().collect()
    /// });
    /// assert_eq!(lines.unwrap(), ["a", "b"]);
    /// ```
    pub fn lock(&self) -> Result<StdinLock<'static>, Canceled> {
        let guard = stdin_lock().lock(self.io)?;
        Ok(StdinLock { guard, io: self.io })
    }

    /// Reads a line (up to and including `\n`) and appends it to `buf`; `Ok(0)` at end of
    /// input.
    ///
    /// # Errors
    /// `InvalidData` for a line that is not UTF-8; the errors of read(2), naming `stdin`;
    /// the canceled error.
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for input. Bytes of a partial line read before
    /// a cancel stay in the buffer for the next read.
    ///
    /// # Examples
    /// ```
    /// # use std::io::Write;
    /// # use std::os::fd::AsRawFd;
    /// # // Feed this example's own standard input from a pipe.
    /// # let (reader, mut writer) = std::io::pipe().unwrap();
    /// # writer.write_all(b"only line\n").unwrap();
    /// # drop(writer);
    /// # // SAFETY: dup2 onto descriptor 0 replaces standard input; nothing else reads it here.
    /// # assert_eq!(unsafe { libc::dup2(reader.as_raw_fd(), 0) }, 0);
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (line, at_end) = runtime.run(|io| -> std::io::Result<_> {
    ///     let stdin = io::stdio::stdin(io);
    ///     let mut line = String::new();
    ///     stdin.read_line(&mut line)?;
    ///     Ok((line, stdin.read_line(&mut String::new())?)) // 0: end of input
    /// })
    /// .unwrap();
    /// assert_eq!((line.as_str(), at_end), ("only line\n", 0));
    /// ```
    pub fn read_line(&self, buf: &mut String) -> io::Result<usize> {
        self.lock()?.read_line(buf)
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock()?.read(buf)
    }
}

impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock()?.read(buf)
    }
}

impl AsFd for Stdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        standard(libc::STDIN_FILENO)
    }
}

impl AsRawFd for Stdin {
    fn as_raw_fd(&self) -> RawFd {
        libc::STDIN_FILENO
    }
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdin").finish_non_exhaustive()
    }
}

/// Standard input, locked (see [`Stdin::lock`]): reads go through the shared buffer.
///
/// # Examples
/// ```
/// # use std::io::Write;
/// # use std::os::fd::AsRawFd;
/// # // Feed this example's own standard input from a pipe.
/// # let (reader, mut writer) = std::io::pipe().unwrap();
/// # writer.write_all(b"3 4\n").unwrap();
/// # drop(writer);
/// # // SAFETY: dup2 onto descriptor 0 replaces standard input; nothing else reads it here.
/// # assert_eq!(unsafe { libc::dup2(reader.as_raw_fd(), 0) }, 0);
/// use std::io::BufRead;
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let sum = runtime.run(|io| -> std::io::Result<u32> {
///     let mut lock = io::stdio::stdin(io).lock()?; // no other task reads meanwhile
///     let mut line = String::new();
///     lock.read_line(&mut line)?;
///     Ok(line.split_whitespace().map(|n| n.parse::<u32>().unwrap()).sum())
/// });
/// assert_eq!(sum.unwrap(), 7);
/// ```
pub struct StdinLock<'a> {
    guard: MutexGuard<'a, Buffer>,
    io: Io,
}

/// Reads standard input into `buf`: end of input for a closed descriptor, as std.
fn read_stdin(io: Io, buf: &mut [u8]) -> io::Result<usize> {
    match os::read(io, standard(libc::STDIN_FILENO), buf) {
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => Ok(0),
        result => result.map_err(|e| os::annotate("read", "stdin", e)),
    }
}

impl Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let buffer = &mut *self.guard;
        // Nothing buffered and a large read: skip the copy.
        if buffer.pos == buffer.filled && buf.len() >= BUFFER {
            return read_stdin(self.io, buf);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buffer = &mut *self.guard;
        if buffer.pos == buffer.filled {
            buffer.data.resize(BUFFER, 0);
            // A cancel or an error leaves the (empty) buffer as it was.
            let n = read_stdin(self.io, &mut buffer.data)?;
            buffer.pos = 0;
            buffer.filled = n;
        }
        Ok(&buffer.data[buffer.pos..buffer.filled])
    }

    fn consume(&mut self, amount: usize) {
        let buffer = &mut *self.guard;
        buffer.pos = (buffer.pos + amount).min(buffer.filled);
    }
}

impl fmt::Debug for StdinLock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdinLock").finish_non_exhaustive()
    }
}

/// Writes `buf` to `fd`: all of it swallowed for a closed descriptor, as std.
fn write_standard(io: Io, fd: RawFd, name: &'static str, buf: &[u8]) -> io::Result<usize> {
    match os::write(io, standard(fd), buf) {
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => Ok(buf.len()),
        result => result.map_err(|e| os::annotate("write", name, e)),
    }
}

macro_rules! output {
    ($handle:ident, $lock:ident, $locked:ident, $fd:expr, $name:literal, $what:literal) => {
        #[doc = concat!("A handle of ", $what, " (see [`", $name, "`]); unbuffered.")]
        ///
        /// # Examples
        /// ```
        /// # use std::io::Read;
        /// # use std::os::fd::AsRawFd;
        #[doc = concat!("# // Send this example's own ", $what, " into a pipe.")]
        /// # let (mut reader, writer) = std::io::pipe().unwrap();
        /// # // SAFETY: dup2 onto a standard descriptor replaces it; nothing else writes it here.
        #[doc = concat!("# assert_eq!(unsafe { libc::dup2(writer.as_raw_fd(), ", stringify!($fd), ") }, ", stringify!($fd), ");")]
        /// # drop(writer);
        /// use std::io::Write;
        ///
        /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
        /// runtime.run(|io| -> std::io::Result<()> {
        #[doc = concat!("    let mut handle = io::stdio::", $name, "(io);")]
        ///     handle.write_all(b"one ")?;
        ///     writeln!(handle, "line")
        /// })
        /// .unwrap();
        /// # // SAFETY: closing the standard descriptor ends the pipe for the reader.
        #[doc = concat!("# unsafe { libc::close(", stringify!($fd), ") };")]
        /// # let mut written = String::new();
        /// # reader.read_to_string(&mut written).unwrap();
        /// # assert_eq!(written, "one line\n");
        /// ```
        #[derive(Clone, Copy)]
        pub struct $handle {
            io: Io,
        }

        impl $handle {
            #[doc = concat!("Takes the lock of ", $what, ", so that the writes through the guard")]
            /// come out together, with no other task's output between them.
            ///
            /// # Errors
            /// The canceled error if the task is canceled while it waits for the lock.
            ///
            /// # Cancelation
            /// A cancellation point, while waiting for the lock (and every write through the
            /// guard).
            ///
            /// # Examples
            /// ```
            /// # use std::io::Read;
            /// # use std::os::fd::AsRawFd;
            #[doc = concat!("# // Send this example's own ", $what, " into a pipe.")]
            /// # let (mut reader, writer) = std::io::pipe().unwrap();
            /// # // SAFETY: dup2 onto a standard descriptor replaces it; nothing else writes it here.
            #[doc = concat!("# assert_eq!(unsafe { libc::dup2(writer.as_raw_fd(), ", stringify!($fd), ") }, ", stringify!($fd), ");")]
            /// # drop(writer);
            /// use std::io::Write;
            ///
            /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
            /// runtime.run(|io| {
            ///     io.scope(|s| {
            ///         let tasks: Vec<_> = ["a", "b"]
            ///             .into_iter()
            ///             .map(|name| {
            ///                 s.spawn_async(move || -> std::io::Result<()> {
            #[doc = concat!("                let mut out = io::stdio::", $name, "(io).lock()?;")]
            ///                     // The two writes come out together.
            ///                     write!(out, "{name}")?;
            ///                     writeln!(out, "{name}")
            ///                 })
            ///             })
            ///             .collect();
            ///         for task in tasks {
            ///             task.join(io).unwrap();
            ///         }
            ///     })
            /// });
            /// # // SAFETY: closing the standard descriptor ends the pipe for the reader.
            #[doc = concat!("# unsafe { libc::close(", stringify!($fd), ") };")]
            /// # let mut written = String::new();
            /// # reader.read_to_string(&mut written).unwrap();
            /// # assert!(written == "aa\nbb\n" || written == "bb\naa\n", "{written:?}");
            /// ```
            pub fn lock(&self) -> Result<$locked<'static>, Canceled> {
                Ok($locked {
                    _guard: $lock().lock(self.io)?,
                    io: self.io,
                })
            }
        }

        impl Write for $handle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.lock()?.write(buf)
            }

            /// Holds the lock for all of `buf`.
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                self.lock()?.write_all(buf)
            }

            /// Holds the lock for the whole formatted output.
            fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
                self.lock()?.write_fmt(args)
            }

            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        impl AsFd for $handle {
            fn as_fd(&self) -> BorrowedFd<'_> {
                standard($fd)
            }
        }

        impl AsRawFd for $handle {
            fn as_raw_fd(&self) -> RawFd {
                $fd
            }
        }

        impl fmt::Debug for $handle {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle)).finish_non_exhaustive()
            }
        }

        #[doc = concat!($what, ", locked: writes go straight to the descriptor.")]
        ///
        /// # Examples
        /// ```
        /// # use std::io::Read;
        /// # use std::os::fd::AsRawFd;
        #[doc = concat!("# // Send this example's own ", $what, " into a pipe.")]
        /// # let (mut reader, writer) = std::io::pipe().unwrap();
        /// # // SAFETY: dup2 onto a standard descriptor replaces it; nothing else writes it here.
        #[doc = concat!("# assert_eq!(unsafe { libc::dup2(writer.as_raw_fd(), ", stringify!($fd), ") }, ", stringify!($fd), ");")]
        /// # drop(writer);
        /// use std::io::Write;
        ///
        /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
        /// runtime.run(|io| -> std::io::Result<()> {
        #[doc = concat!("    let mut locked = io::stdio::", $name, "(io).lock()?;")]
        ///     for n in 1..=3 {
        ///         write!(locked, "{n}")?;
        ///     }
        ///     locked.write_all(b"\n")
        /// })
        /// .unwrap();
        /// # // SAFETY: closing the standard descriptor ends the pipe for the reader.
        #[doc = concat!("# unsafe { libc::close(", stringify!($fd), ") };")]
        /// # let mut written = String::new();
        /// # reader.read_to_string(&mut written).unwrap();
        /// # assert_eq!(written, "123\n");
        /// ```
        pub struct $locked<'a> {
            _guard: MutexGuard<'a, ()>,
            io: Io,
        }

        impl Write for $locked<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                write_standard(self.io, $fd, $name, buf)
            }

            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }

        impl fmt::Debug for $locked<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($locked)).finish_non_exhaustive()
            }
        }
    };
}

output!(
    Stdout,
    stdout_lock,
    StdoutLock,
    libc::STDOUT_FILENO,
    "stdout",
    "standard output"
);
output!(
    Stderr,
    stderr_lock,
    StderrLock,
    libc::STDERR_FILENO,
    "stderr",
    "standard error"
);
