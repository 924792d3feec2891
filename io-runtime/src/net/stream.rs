//! [`TcpStream`]: a connected TCP socket.

use std::fmt;
use std::io::{self};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use super::to_socket_addrs::no_addresses;
use super::ToSocketAddrs;
use crate::error::is_canceled;
use crate::io::Io;
use crate::os;

/// A connected TCP socket: made by [`TcpStream::connect`] or
/// [`TcpListener::accept`](super::TcpListener::accept).
///
/// Reads and writes take `&self`, so one task can read while another writes. The inherent
/// methods take the `io` to block on, as everything in this crate does; the stream also keeps
/// the [`Io`] it was made with for its [`Read`](std::io::Read) and [`Write`](std::io::Write) impls (on `TcpStream` and on
/// `&TcpStream`), so `BufReader`, `BufWriter` and `std::io::copy` work on it. Where a method
/// name exists in both, `stream.write_all(io, buf)` is the inherent one and
/// `Write::write_all(&mut stream, buf)` the trait's. Dropping the stream closes the socket
/// without blocking.
///
/// # Examples
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use io::net::{TcpListener, TcpStream};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let line = runtime.run(|io| -> std::io::Result<String> {
///     let listener = TcpListener::bind(io, ([127, 0, 0, 1], 0))?;
///     let addr = listener.local_addr()?;
///     io.scope(|s| {
///         let server = s.spawn_concurrent(|| -> std::io::Result<()> {
///             let (stream, _peer) = listener.accept(io)?;
///             stream.write_all(io, b"hello\n")
///         }).unwrap();
///         let mut line = String::new();
///         BufReader::new(TcpStream::connect(io, addr)?).read_line(&mut line)?;
///         server.join(io)?;
///         Ok(line)
///     })
/// });
/// assert_eq!(line.unwrap(), "hello\n");
/// ```
pub struct TcpStream {
    fd: OwnedFd,
    io: Io,
    peer: SocketAddr,
}

impl TcpStream {
    pub(crate) fn from_accepted(io: Io, fd: OwnedFd, peer: SocketAddr) -> Self {
        Self { fd, io, peer }
    }

    /// Opens a TCP connection to `addr`: anything [`ToSocketAddrs`] — a [`SocketAddr`],
    /// `"127.0.0.1:8080"`, `("localhost", 8080)`, `("db.internal", 5432)`. A name is looked up
    /// first ([`lookup_host`](super::lookup_host)) and its addresses are tried in turn, one at
    /// a time, until one accepts (racing them is up to the caller: see the `happy_eyeballs`
    /// example).
    ///
    /// The socket is blocking and close-on-exec.
    ///
    /// # Errors
    /// The lookup's errors for a name; then the error of the last address tried:
    /// `ConnectionRefused` if nothing listens there, and the other errors of socket(2) and
    /// connect(2); the message names that address ("connect 127.0.0.1:1: Connection
    /// refused"). `InvalidInput` if `addr` names no address.
    ///
    /// # Cancelation
    /// A cancellation point, in the lookup and while a connection is being established: the
    /// socket is closed (which aborts the attempt), no further address is tried, and the
    /// canceled error is returned.
    ///
    /// # Examples
    /// ```
    /// use io::net::{TcpListener, TcpStream};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| -> std::io::Result<()> {
    ///     let listener = TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let port = listener.local_addr()?.port();
    ///     // localhost is ::1 and 127.0.0.1: whichever refuses, the other accepts.
    ///     let stream = TcpStream::connect(io, ("localhost", port))?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok(())
    /// }).unwrap();
    /// ```
    pub fn connect(io: Io, addr: impl ToSocketAddrs) -> io::Result<Self> {
        let mut last = None;
        for peer in addr.to_socket_addrs(io)? {
            match Self::connect_one(io, peer) {
                Ok(stream) => return Ok(stream),
                Err(e) if is_canceled(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    fn connect_one(io: Io, peer: SocketAddr) -> io::Result<Self> {
        let fail = |e| os::annotate("connect", peer, e);
        let fd = os::tcp_socket(&peer).map_err(fail)?;
        // On any error, `fd` is dropped here, closing the socket.
        os::connect(io, fd.as_fd(), &peer).map_err(fail)?;
        Ok(Self { fd, io, peer })
    }

    /// Receives into `buf`; `Ok(0)` means the peer shut down its writing half.
    ///
    /// # Errors
    /// The errors of recv(2), e.g. `ConnectionReset`, naming the peer's address.
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked waiting for data.
    ///
    /// # Examples
    /// ```
    /// use io::net::{TcpListener, TcpStream};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let reads = runtime.run(|io| -> std::io::Result<(Vec<u8>, usize)> {
    ///     let listener = TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let client = TcpStream::connect(io, listener.local_addr()?)?;
    ///     let (server, _) = listener.accept(io)?;
    ///     client.write_all(io, b"data")?;
    ///     client.close(io)?;
    ///     let mut buf = [0; 16];
    ///     let n = server.read(io, &mut buf)?;
    ///     Ok((buf[..n].to_vec(), server.read(io, &mut buf)?)) // then 0: end of stream
    /// });
    /// assert_eq!(reads.unwrap(), (b"data".to_vec(), 0));
    /// ```
    pub fn read(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
        os::recv(io, self.fd.as_fd(), buf).map_err(|e| os::annotate("read", self.peer, e))
    }

    /// Sends some of `buf`, returning how many bytes the kernel took.
    ///
    /// # Errors
    /// The errors of send(2), e.g. `BrokenPipe` once the peer closed (never a `SIGPIPE`).
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked on a full send buffer.
    ///
    /// # Examples
    /// ```
    /// use io::net::{TcpListener, TcpStream};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (taken, error) = runtime.run(|io| -> std::io::Result<_> {
    ///     let listener = TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let client = TcpStream::connect(io, listener.local_addr()?)?;
    ///     let taken = client.write(io, b"some bytes")?;
    ///     // Once the peer is gone, writes fail (no SIGPIPE kills the process).
    ///     let (server, _) = listener.accept(io)?;
    ///     drop(server);
    ///     let error = loop {
    ///         if let Err(error) = client.write(io, &[0; 4096]) {
    ///             break error;
    ///         }
    ///     };
    ///     Ok((taken, error.kind()))
    /// })
    /// .unwrap();
    /// assert_eq!(taken, 10);
    /// use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
    /// assert!(matches!(error, BrokenPipe | ConnectionReset));
    /// ```
    pub fn write(&self, io: Io, buf: &[u8]) -> io::Result<usize> {
        os::send(io, self.fd.as_fd(), buf).map_err(|e| os::annotate("write", self.peer, e))
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
    /// use io::net::{TcpListener, TcpStream};
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let received = runtime.run(|io| -> std::io::Result<usize> {
    ///     let listener = TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let client = TcpStream::connect(io, listener.local_addr()?)?;
    ///     let (server, _) = listener.accept(io)?;
    ///     io.scope(|s| {
    ///         // More than the socket buffers hold: the writer blocks until the reader drains
    ///         // them.
    ///         let writer = s.spawn_concurrent(|| client.write_all(io, &vec![1; 4 << 20]));
    ///         let writer = writer.unwrap();
    ///         let mut received = Vec::new();
    ///         let mut reader = &server;
    ///         reader.take(4 << 20).read_to_end(&mut received)?;
    ///         writer.join(io)?;
    ///         Ok(received.len())
    ///     })
    /// });
    /// assert_eq!(received.unwrap(), 4 << 20);
    /// ```
    pub fn write_all(&self, io: Io, buf: &[u8]) -> io::Result<()> {
        let zero = || io::Error::new(io::ErrorKind::WriteZero, "write: sent nothing");
        os::write_all(buf, |rest| self.write(io, rest), zero)
    }

    /// Shuts down the reading, writing, or both halves of the connection: after
    /// `Shutdown::Write` the peer reads end of file.
    ///
    /// # Errors
    /// The errors of shutdown(2), e.g. `NotConnected`.
    ///
    /// # Cancelation
    /// A cancellation point (it returns the canceled error without shutting down if the task
    /// was already canceled).
    ///
    /// # Examples
    /// ```
    /// use std::net::Shutdown;
    /// use io::net::{TcpListener, TcpStream};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (eof, reply) = runtime.run(|io| -> std::io::Result<_> {
    ///     let listener = TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let client = TcpStream::connect(io, listener.local_addr()?)?;
    ///     let (server, _) = listener.accept(io)?;
    ///     client.shutdown(io, Shutdown::Write)?;
    ///     let eof = server.read(io, &mut [0; 8])?;
    ///     // The other half still works.
    ///     server.write_all(io, b"ok")?;
    ///     let mut buf = [0; 2];
    ///     client.read(io, &mut buf)?;
    ///     Ok((eof, buf))
    /// })
    /// .unwrap();
    /// assert_eq!((eof, &reply), (0, b"ok"));
    /// ```
    pub fn shutdown(&self, io: Io, how: Shutdown) -> io::Result<()> {
        os::shutdown(io, self.fd.as_fd(), how).map_err(|e| os::annotate("shutdown", self.peer, e))
    }

    /// The address of the other end.
    ///
    /// # Errors
    /// The errors of getpeername(2), e.g. `NotConnected` after a reset.
    ///
    /// # Cancelation
    /// Not a cancellation point: it never blocks.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        os::socket_addr(self.fd.as_fd(), true)
    }

    /// The address of this end.
    ///
    /// # Errors
    /// The errors of getsockname(2).
    ///
    /// # Cancelation
    /// Not a cancellation point: it never blocks.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        os::socket_addr(self.fd.as_fd(), false)
    }

    /// Turns Nagle's algorithm off (`true`: small writes go out at once) or on.
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    ///
    /// # Cancelation
    /// Not a cancellation point: it never blocks.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        super::socket::set_nodelay(self.fd.as_fd(), nodelay)
    }

    /// Whether Nagle's algorithm is off (`TCP_NODELAY`).
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    ///
    /// # Cancelation
    /// Not a cancellation point (neither is any option).
    pub fn nodelay(&self) -> io::Result<bool> {
        super::socket::nodelay(self.fd.as_fd())
    }

    /// Sets the time-to-live of outgoing packets (`IP_TTL`).
    ///
    /// # Errors
    /// The errors of setsockopt(2), e.g. `InvalidInput` above 255.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        super::socket::set_ttl(self.fd.as_fd(), ttl)
    }

    /// The time-to-live of outgoing packets.
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn ttl(&self) -> io::Result<u32> {
        super::socket::ttl(self.fd.as_fd())
    }

    /// How long closing waits for unsent data (`SO_LINGER`; `None`: close returns at once and
    /// the kernel sends in the background; `Some(ZERO)`: close resets the connection).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        super::socket::set_linger(self.fd.as_fd(), linger)
    }

    /// See [`set_linger`](Self::set_linger).
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        super::socket::linger(self.fd.as_fd())
    }

    /// Sends keepalive probes while the connection is idle (`SO_KEEPALIVE`).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        super::socket::set_keepalive(self.fd.as_fd(), on)
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn keepalive(&self) -> io::Result<bool> {
        super::socket::keepalive(self.fd.as_fd())
    }

    /// Takes over a connected stream made by std (made blocking: every socket of this crate
    /// blocks, see [`crate::net`]); it keeps `io` for its `Read`/`Write` impls. That is why
    /// there is no `From<OwnedFd>`: a stream cannot be made without an [`Io`].
    ///
    /// # Errors
    /// The errors of fcntl(2) and getpeername(2) (`NotConnected` for a stream not connected).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let echoed = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let listener = io::net::TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let client = io::net::TcpStream::from_std(io, std_stream)?;
    ///     let (server, _) = listener.accept(io)?;
    ///     client.write_all(io, b"adopted")?;
    ///     let mut buf = [0; 7];
    ///     let n = server.read(io, &mut buf)?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// assert_eq!(echoed.unwrap(), b"adopted");
    /// ```
    pub fn from_std(io: Io, stream: std::net::TcpStream) -> io::Result<Self> {
        let fd = OwnedFd::from(stream);
        super::sys::set_blocking(fd.as_fd())?;
        let peer = os::socket_addr(fd.as_fd(), true)?;
        Ok(Self { fd, io, peer })
    }

    /// Closes the socket and reports the outcome (dropping the stream closes it too, silently).
    ///
    /// # Errors
    /// The errors of close(2). The socket is closed either way.
    ///
    /// # Cancelation
    /// Not a cancellation point: the socket is always released, even in a canceled task.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let eof = runtime.run(|io| -> std::io::Result<usize> {
    ///     let listener = io::net::TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let client = io::net::TcpStream::connect(io, listener.local_addr()?)?;
    ///     let (server, _) = listener.accept(io)?;
    ///     client.close(io)?;
    ///     server.read(io, &mut [0; 8]) // the peer sees the end of the stream
    /// });
    /// assert_eq!(eof.unwrap(), 0);
    /// ```
    pub fn close(self, io: Io) -> io::Result<()> {
        let peer = self.peer;
        os::close(io, self.fd).map_err(|e| os::annotate("close", peer, e))
    }
}

crate::descriptor::owned_descriptor!(TcpStream);
crate::descriptor::read_through_io!(TcpStream);
crate::descriptor::write_through_io!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.fd.as_raw_fd())
            .field("peer", &self.peer)
            .finish()
    }
}
