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
///
/// # Examples
/// ```
/// use io::process::{Command, Stdio};
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let output = runtime.run(|io| -> std::io::Result<Vec<u8>> {
///     let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn(io)?;
///     let stdin = child.stdin.take().unwrap();
///     stdin.write_all(io, b"twelve bytes")?;
///     drop(stdin); // end of file for the child
///     let mut counted = Vec::new();
///     child.stdout.take().unwrap().read_to_end(io, &mut counted)?;
///     child.wait(io)?;
///     Ok(counted)
/// });
/// assert_eq!(String::from_utf8(output.unwrap()).unwrap().trim(), "12");
/// ```
pub struct ChildStdin {
    fd: OwnedFd,
    io: Io,
}

/// The reading end of a child's piped standard output ([`Child::stdout`](super::Child::stdout)).
///
/// It keeps the [`Io`] of the spawn, so it implements [`Read`](std::io::Read); the inherent
/// [`read`](Self::read) takes the `io` to block on.
///
/// # Examples
/// ```
/// use std::io::{BufRead, BufReader};
/// use io::process::{Command, Stdio};
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let lines = runtime.run(|io| -> std::io::Result<Vec<String>> {
///     let mut child = Command::new("printf").arg("a\\nb\\n").stdout(Stdio::piped()).spawn(io)?;
///     // It implements Read with the Io of the spawn.
///     let lines = BufReader::new(child.stdout.take().unwrap()).lines().collect();
///     child.wait(io)?;
///     lines
/// });
/// assert_eq!(lines.unwrap(), ["a", "b"]);
/// ```
pub struct ChildStdout {
    fd: OwnedFd,
    io: Io,
}

/// The reading end of a child's piped standard error ([`Child::stderr`](super::Child::stderr)).
///
/// It keeps the [`Io`] of the spawn, so it implements [`Read`](std::io::Read); the inherent
/// [`read`](Self::read) takes the `io` to block on.
///
/// # Examples
/// ```
/// use io::process::{Command, Stdio};
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let said = runtime.run(|io| -> std::io::Result<Vec<u8>> {
///     let mut command = Command::new("sh");
///     let mut child = command.args(["-c", "echo oops >&2"]).stderr(Stdio::piped()).spawn(io)?;
///     let mut said = Vec::new();
///     child.stderr.take().unwrap().read_to_end(io, &mut said)?;
///     child.wait(io)?;
///     Ok(said)
/// });
/// assert_eq!(said.unwrap(), b"oops\n");
/// ```
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
    ///
    /// # Examples
    /// ```
    /// use io::process::{Command, Stdio};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (taken, closed) = runtime.run(|io| -> std::io::Result<_> {
    ///     let mut command = Command::new("cat");
    ///     let mut child = command.stdin(Stdio::piped()).stdout(Stdio::null()).spawn(io)?;
    ///     let stdin = child.stdin.take().unwrap();
    ///     let taken = stdin.write(io, b"read by cat")?;
    ///     child.kill(io)?;
    ///     // The child is gone: nobody reads the pipe any more.
    ///     Ok((taken, stdin.write(io, b"nobody reads").unwrap_err().kind()))
    /// })
    /// .unwrap();
    /// assert_eq!((taken, closed), (11, std::io::ErrorKind::BrokenPipe));
    /// ```
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
    ///
    /// # Examples
    /// ```
    /// use io::process::{Command, Stdio};
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let counted = runtime.run(|io| -> std::io::Result<String> {
    ///     let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn(io)?;
    ///     let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    ///     io.scope(|s| {
    ///         // More than a pipe holds: the write waits while the child reads.
    ///         let writer = s.spawn_concurrent(move || stdin.write_all(io, &vec![b'x'; 1 << 20]));
    ///         let writer = writer.unwrap();
    ///         writer.join(io)?;
    ///         let mut out = Vec::new();
    ///         stdout.read_to_end(io, &mut out)?;
    ///         Ok(String::from_utf8_lossy(&out).trim().to_string())
    ///     })
    /// });
    /// assert_eq!(counted.unwrap(), (1 << 20).to_string());
    /// ```
    pub fn write_all(&self, io: Io, buf: &[u8]) -> io::Result<()> {
        let zero = || io::Error::new(io::ErrorKind::WriteZero, "write child stdin");
        os::write_all(buf, |rest| self.write(io, rest), zero)
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
            ///
            /// # Examples
            /// ```
            /// use io::process::{Command, Stdio};
            ///
            /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
            /// let script = "printf out; printf err >&2";
            /// let got = runtime.run(|io| -> std::io::Result<(Vec<u8>, Vec<u8>)> {
            ///     let mut child = Command::new("sh").args(["-c", script])
            ///         .stdout(Stdio::piped()).stderr(Stdio::piped()).spawn(io)?;
            ///     child.wait(io)?; // a few bytes fit in the pipes
            ///     let (mut out, mut err) = ([0; 8], [0; 8]);
            ///     let n = child.stdout.as_ref().unwrap().read(io, &mut out)?;
            ///     let m = child.stderr.as_ref().unwrap().read(io, &mut err)?;
            ///     Ok((out[..n].to_vec(), err[..m].to_vec()))
            /// });
            /// assert_eq!(got.unwrap(), (b"out".to_vec(), b"err".to_vec()));
            /// ```
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
            ///
            /// # Examples
            /// ```
            /// use io::process::{Command, Stdio};
            ///
            /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
            /// let script = "echo out; echo err >&2";
            /// let got = runtime.run(|io| -> std::io::Result<(usize, Vec<u8>, usize, Vec<u8>)> {
            ///     let mut child = Command::new("sh").args(["-c", script])
            ///         .stdout(Stdio::piped()).stderr(Stdio::piped()).spawn(io)?;
            ///     let (mut out, mut err) = (Vec::new(), Vec::new());
            ///     let n = child.stdout.take().unwrap().read_to_end(io, &mut out)?;
            ///     let m = child.stderr.take().unwrap().read_to_end(io, &mut err)?;
            ///     child.wait(io)?;
            ///     Ok((n, out, m, err))
            /// });
            /// assert_eq!(got.unwrap(), (4, b"out\n".to_vec(), 4, b"err\n".to_vec()));
            /// ```
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
