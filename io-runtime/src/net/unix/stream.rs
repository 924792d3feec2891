//! [`UnixStream`]: a connected Unix stream socket.

use std::fmt;
use std::io::{self};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::SocketAddr as UnixAddr;
use std::path::Path;

use super::{path_addr, raw, target};
use crate::io::Io;
use crate::net::addr::ShowUnix;
use crate::net::sys;
use crate::os::{self, annotate};

/// A connected Unix stream socket: made by [`connect`](Self::connect),
/// [`UnixListener::accept`](super::UnixListener::accept) or [`pair`](Self::pair).
///
/// Like [`TcpStream`](crate::net::TcpStream): reads and writes take `&self` and the `io` to
/// block on; the stream keeps the [`Io`] it was made with for its [`Read`](std::io::Read) and [`Write`](std::io::Write) impls
/// (on `UnixStream` and `&UnixStream`). Dropping it closes the socket.
///
/// # Examples
/// ```
/// use std::io::{BufRead, BufReader};
/// use io::net::UnixStream;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let line = runtime.run(|io| -> std::io::Result<String> {
///     let (a, b) = UnixStream::pair(io)?;
///     a.write_all(io, b"over the pair\n")?;
///     let mut line = String::new();
///     BufReader::new(b).read_line(&mut line)?;
///     Ok(line)
/// });
/// assert_eq!(line.unwrap(), "over the pair\n");
/// ```
pub struct UnixStream {
    fd: OwnedFd,
    io: Io,
}

impl UnixStream {
    pub(crate) fn from_fd(io: Io, fd: OwnedFd) -> Self {
        Self { fd, io }
    }

    /// Connects to the listener at `path`.
    ///
    /// # Errors
    /// `NotFound` if nothing is at `path`, `ConnectionRefused` if a socket file is there but
    /// nobody listens on it; the message names the path ("connect /tmp/x.sock: …").
    ///
    /// # Cancelation
    /// A cancellation point (a connect waits while the listener's backlog is full).
    ///
    /// # Examples
    /// ```
    /// use io::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-unix-connect-{}.sock", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (peer, missing) = runtime.run(|io| -> std::io::Result<_> {
    ///     let listener = UnixListener::bind(io, &path)?;
    ///     let client = UnixStream::connect(io, &path)?;
    ///     let peer = client.peer_addr()?.as_pathname().map(|p| p.to_path_buf());
    ///     drop(listener);
    ///     let missing = UnixStream::connect(io, path.with_extension("none")).unwrap_err();
    ///     Ok((peer, missing.kind()))
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!((peer, missing), (Some(path.clone()), std::io::ErrorKind::NotFound));
    /// ```
    pub fn connect(io: Io, path: impl AsRef<Path>) -> io::Result<Self> {
        Self::connect_addr(io, &path_addr("connect", path.as_ref())?)
    }

    /// Connects to the listener at `addr`, a pathname or an abstract name.
    ///
    /// # Errors
    /// As [`connect`](Self::connect); an abstract name nobody listens on is
    /// `ConnectionRefused`.
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// use io::net::{UnixListener, UnixStream};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let refused = runtime.run(|io| -> std::io::Result<std::io::ErrorKind> {
    ///     let name = SocketAddr::from_abstract_name(format!("io-doc-connect-{}", std::process::id()))?;
    ///     let listener = UnixListener::bind_addr(io, &name)?;
    ///     let _client = UnixStream::connect_addr(io, &name)?;
    ///     drop(listener);
    ///     // Nobody listens under the name any more.
    ///     Ok(UnixStream::connect_addr(io, &name).unwrap_err().kind())
    /// });
    /// assert_eq!(refused.unwrap(), std::io::ErrorKind::ConnectionRefused);
    /// ```
    pub fn connect_addr(io: Io, addr: &UnixAddr) -> io::Result<Self> {
        let fail = |e| annotate("connect", ShowUnix(addr), e);
        let raw = raw("connect", addr)?;
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_STREAM).map_err(fail)?;
        // On an error `fd` is dropped, closing the socket.
        sys::connect(fd.as_fd(), &raw).map_err(fail)?;
        Ok(Self { fd, io })
    }

    /// Two streams connected to each other (socketpair(2)), both keeping `io`.
    ///
    /// # Errors
    /// The errors of socketpair(2), e.g. `EMFILE`.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<(Vec<u8>, bool)> {
    ///     let (a, b) = io::net::UnixStream::pair(io)?;
    ///     a.write_all(io, b"both ways")?;
    ///     let mut buf = [0; 16];
    ///     let n = b.read(io, &mut buf)?;
    ///     Ok((buf[..n].to_vec(), a.peer_addr()?.is_unnamed()))
    /// });
    /// assert_eq!(got.unwrap(), (b"both ways".to_vec(), true));
    /// ```
    pub fn pair(io: Io) -> io::Result<(Self, Self)> {
        let (a, b) =
            sys::socketpair(libc::SOCK_STREAM).map_err(|e| annotate("socketpair", "stream", e))?;
        Ok((Self::from_fd(io, a), Self::from_fd(io, b)))
    }

    /// Takes over a stream made by std (made blocking); it keeps `io` for its `Read`/`Write`
    /// impls, which is why there is no `From<OwnedFd>`.
    ///
    /// # Errors
    /// The errors of fcntl(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let (std_a, std_b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let a = io::net::UnixStream::from_std(io, std_a)?;
    ///     let b = io::net::UnixStream::from_std(io, std_b)?;
    ///     a.write_all(io, b"adopted")?;
    ///     let mut buf = [0; 7];
    ///     let n = b.read(io, &mut buf)?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// assert_eq!(got.unwrap(), b"adopted");
    /// ```
    pub fn from_std(io: Io, stream: std::os::unix::net::UnixStream) -> io::Result<Self> {
        let fd = OwnedFd::from(stream);
        sys::set_blocking(fd.as_fd())?;
        Ok(Self { fd, io })
    }

    /// Receives into `buf`; `Ok(0)` means the peer shut down its writing half.
    ///
    /// # Errors
    /// The errors of recv(2), e.g. `ConnectionReset`, naming the peer.
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for data.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let reads = runtime.run(|io| -> std::io::Result<(usize, usize)> {
    ///     let (a, b) = io::net::UnixStream::pair(io)?;
    ///     a.write_all(io, b"last words")?;
    ///     drop(a);
    ///     let mut buf = [0; 64];
    ///     Ok((b.read(io, &mut buf)?, b.read(io, &mut buf)?)) // then 0: end of stream
    /// });
    /// assert_eq!(reads.unwrap(), (10, 0));
    /// ```
    pub fn read(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
        let _ = io;
        sys::recv(self.fd.as_fd(), buf, 0).map_err(|e| annotate("read", self.target(), e))
    }

    /// Like [`read`](Self::read), but leaves the data queued (`MSG_PEEK`).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for data.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let found = runtime.run(|io| -> std::io::Result<(usize, usize)> {
    ///     let (a, b) = io::net::UnixStream::pair(io)?;
    ///     a.write_all(io, b"seen twice")?;
    ///     let mut buf = [0; 16];
    ///     Ok((b.peek(io, &mut buf)?, b.read(io, &mut buf)?))
    /// });
    /// assert_eq!(found.unwrap(), (10, 10));
    /// ```
    pub fn peek(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
        let _ = io;
        sys::recv(self.fd.as_fd(), buf, libc::MSG_PEEK)
            .map_err(|e| annotate("peek", self.target(), e))
    }

    /// Sends some of `buf`, returning how many bytes the kernel took.
    ///
    /// # Errors
    /// The errors of send(2), e.g. `BrokenPipe` once the peer closed (never a `SIGPIPE`).
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked on a full buffer.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (taken, closed) = runtime.run(|io| -> std::io::Result<_> {
    ///     let (a, b) = io::net::UnixStream::pair(io)?;
    ///     let taken = a.write(io, b"some")?;
    ///     drop(b);
    ///     Ok((taken, a.write(io, b"more").unwrap_err().kind()))
    /// })
    /// .unwrap();
    /// assert_eq!((taken, closed), (4, std::io::ErrorKind::BrokenPipe));
    /// ```
    pub fn write(&self, io: Io, buf: &[u8]) -> io::Result<usize> {
        let _ = io;
        sys::send(self.fd.as_fd(), buf).map_err(|e| annotate("write", self.target(), e))
    }

    /// Sends all of `buf`.
    ///
    /// # Errors
    /// As [`write`](Self::write); `WriteZero` if the kernel takes nothing. On an error an
    /// unknown prefix of `buf` was sent.
    ///
    /// # Cancelation
    /// A cancellation point between and during the sends; a cancel leaves a prefix sent.
    ///
    /// # Examples
    /// ```
    /// use std::io::Read;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let received = runtime.run(|io| -> std::io::Result<usize> {
    ///     let (a, b) = io::net::UnixStream::pair(io)?;
    ///     io.scope(|s| {
    ///         // More than the socket buffer holds: the writer blocks until the reader drains it.
    ///         let writer = s.spawn_concurrent(|| a.write_all(io, &vec![1; 1 << 20])).unwrap();
    ///         let mut received = Vec::new();
    ///         (&b).take(1 << 20).read_to_end(&mut received)?;
    ///         writer.join(io)?;
    ///         Ok(received.len())
    ///     })
    /// });
    /// assert_eq!(received.unwrap(), 1 << 20);
    /// ```
    pub fn write_all(&self, io: Io, buf: &[u8]) -> io::Result<()> {
        let zero = || io::Error::new(io::ErrorKind::WriteZero, "write: sent nothing");
        os::write_all(buf, |rest| self.write(io, rest), zero)
    }

    /// Shuts down the reading, writing, or both halves: after `Shutdown::Write` the peer reads
    /// end of file.
    ///
    /// # Errors
    /// The errors of shutdown(2), e.g. `NotConnected`.
    ///
    /// # Cancelation
    /// A cancellation point (returns the canceled error without shutting down in a canceled
    /// task).
    ///
    /// # Examples
    /// ```
    /// use std::net::Shutdown;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (eof, reply) = runtime.run(|io| -> std::io::Result<_> {
    ///     let (a, b) = io::net::UnixStream::pair(io)?;
    ///     a.shutdown(io, Shutdown::Write)?;
    ///     let eof = b.read(io, &mut [0; 8])?;
    ///     b.write_all(io, b"ok")?; // the other direction still works
    ///     let mut reply = [0; 2];
    ///     a.read(io, &mut reply)?;
    ///     Ok((eof, reply))
    /// })
    /// .unwrap();
    /// assert_eq!((eof, &reply), (0, b"ok"));
    /// ```
    pub fn shutdown(&self, io: Io, how: Shutdown) -> io::Result<()> {
        os::shutdown(io, self.fd.as_fd(), how).map_err(|e| annotate("shutdown", self.target(), e))
    }

    /// The address of the other end (unnamed for a [`pair`](Self::pair) or a peer that did not
    /// bind one).
    ///
    /// # Errors
    /// The errors of getpeername(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn peer_addr(&self) -> io::Result<UnixAddr> {
        sys::unix_addr(self.fd.as_fd(), true)
    }

    /// The address of this end (unnamed for a connecting socket).
    ///
    /// # Errors
    /// The errors of getsockname(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn local_addr(&self) -> io::Result<UnixAddr> {
        sys::unix_addr(self.fd.as_fd(), false)
    }

    fn target(&self) -> String {
        target(self.fd.as_fd())
    }
}

crate::descriptor::owned_descriptor!(UnixStream);
crate::descriptor::read_through_io!(UnixStream);
crate::descriptor::write_through_io!(UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}
