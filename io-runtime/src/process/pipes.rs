//! The parent's ends of a child's piped standard streams: [`ChildStdin`], [`ChildStdout`] and
//! [`ChildStderr`].

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::io::Io;
use crate::os;

/// The writing end of a child's piped standard input ([`Child::stdin`](super::Child::stdin)).
///
/// It keeps the [`Io`] of the spawn, so it implements [`Write`](std::io::Write); the inherent
/// [`write`](Self::write) takes the `io` to block on. Dropping it closes the pipe: the child
/// reads end of file.
pub struct ChildStdin {
    fd: OwnedFd,
    io: Io,
}

/// The reading end of a child's piped standard output ([`Child::stdout`](super::Child::stdout)).
///
/// It keeps the [`Io`] of the spawn, so it implements [`Read`](std::io::Read); the inherent
/// [`read`](Self::read) takes the `io` to block on.
pub struct ChildStdout {
    fd: OwnedFd,
    io: Io,
}

/// The reading end of a child's piped standard error ([`Child::stderr`](super::Child::stderr)).
///
/// It keeps the [`Io`] of the spawn, so it implements [`Read`](std::io::Read); the inherent
/// [`read`](Self::read) takes the `io` to block on.
pub struct ChildStderr {
    fd: OwnedFd,
    io: Io,
}

impl ChildStdin {
    pub(super) fn new(io: Io, fd: OwnedFd) -> Self {
        Self { fd, io }
    }

    /// Writes some of `buf` into the pipe.
    ///
    /// # Errors
    /// `BrokenPipe` once the child closed its end (never `SIGPIPE` as such: the process
    /// ignores it, as every Rust program does), naming the stream.
    ///
    /// # Cancelation
    /// A cancellation point (a write waiting for room in a full pipe is interrupted).
    pub fn write(&self, io: Io, buf: &[u8]) -> io::Result<usize> {
        os::write(io, self.fd.as_fd(), buf).map_err(|e| os::annotate("write", "child stdin", e))
    }

    /// Writes all of `buf` into the pipe.
    ///
    /// # Errors
    /// As [`write`](Self::write); `WriteZero` if a write took nothing.
    ///
    /// # Cancelation
    /// A cancellation point; some of `buf` may have been written when it returns canceled.
    pub fn write_all(&self, io: Io, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(io, buf)? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "write child stdin",
                    ))
                }
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }
}

crate::descriptor::write_through_io!(ChildStdin);

/// The inherent reads and the traits of a reading end.
macro_rules! reading_end {
    ($type:ident, $name:literal) => {
        impl $type {
            pub(super) fn new(io: Io, fd: OwnedFd) -> Self {
                Self { fd, io }
            }

            /// Reads some of what the child wrote; `Ok(0)` once the child (and every process
            /// that inherited the pipe) closed it.
            ///
            /// # Errors
            /// The errors of read(2), naming the stream.
            ///
            /// # Cancelation
            /// A cancellation point.
            pub fn read(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
                os::read(io, self.fd.as_fd(), buf).map_err(|e| os::annotate("read", $name, e))
            }

            /// Reads until end of file, appending to `buf`; returns how many bytes it read.
            ///
            /// # Errors
            /// As [`read`](Self::read); what was read before an error stays in `buf`.
            ///
            /// # Cancelation
            /// A cancellation point.
            pub fn read_to_end(&self, io: Io, buf: &mut Vec<u8>) -> io::Result<usize> {
                let start = buf.len();
                let mut chunk = vec![0; 64 * 1024];
                loop {
                    match self.read(io, &mut chunk)? {
                        0 => return Ok(buf.len() - start),
                        n => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            }
        }

        crate::descriptor::read_through_io!($type);
    };
}

reading_end!(ChildStdout, "child stdout");
reading_end!(ChildStderr, "child stderr");

/// Descriptor access and conversion, for every end.
macro_rules! descriptor {
    ($type:ident) => {
        crate::descriptor::owned_descriptor!($type);

        /// The pipe end as another child's stream (a pipeline).
        impl From<$type> for super::Stdio {
            fn from(end: $type) -> super::Stdio {
                super::Stdio::from(end.fd)
            }
        }

        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($type))
                    .field("fd", &self.fd.as_raw_fd())
                    .finish()
            }
        }
    };
}

descriptor!(ChildStdin);
descriptor!(ChildStdout);
descriptor!(ChildStderr);
