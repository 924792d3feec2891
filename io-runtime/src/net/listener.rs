//! [`TcpListener`]: a socket that accepts TCP connections.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::to_socket_addrs::no_addresses;
use super::{TcpStream, ToSocketAddrs};
use crate::io::Io;
use crate::os;

/// The listen backlog of [`TcpListener::bind`]: the kernel caps it at `net.core.somaxconn`.
const DEFAULT_BACKLOG: u32 = 1024;

/// A TCP socket listening for connections.
///
/// # Examples
/// ```
/// use std::io::{Read, Write};
/// use io::net::{TcpListener, TcpStream};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let echoed = runtime.run(|io| -> std::io::Result<Vec<u8>> {
///     let listener = TcpListener::bind(io, ([127, 0, 0, 1], 0))?;
///     let addr = listener.local_addr()?;
///     io.scope(|s| {
///         let echo = s.spawn_concurrent(|| -> std::io::Result<u64> {
///             let (stream, _peer) = listener.accept(io)?;
///             std::io::copy(&mut &stream, &mut &stream)
///         }).unwrap();
///         let mut client = TcpStream::connect(io, addr)?;
///         client.write_all(io, b"ping")?;
///         client.shutdown(io, std::net::Shutdown::Write)?;
///         let mut echoed = Vec::new();
///         client.read_to_end(&mut echoed)?;
///         assert_eq!(echo.join(io)?, 4);
///         Ok(echoed)
///     })
/// });
/// assert_eq!(echoed.unwrap(), b"ping");
/// ```
pub struct TcpListener {
    fd: OwnedFd,
    local: SocketAddr,
}

impl TcpListener {
    /// Listens on `addr` (port 0: the kernel picks one, see [`local_addr`](Self::local_addr)),
    /// with `SO_REUSEADDR` and a backlog of 1024 (capped by `net.core.somaxconn`).
    ///
    /// `addr` is anything [`ToSocketAddrs`]: `([127, 0, 0, 1], 8080)`, `"127.0.0.1:8080"`,
    /// `("localhost", 8080)`, a [`SocketAddr`]. A name is looked up first
    /// ([`lookup_host`](super::lookup_host)); the first of its addresses that can be bound is.
    ///
    /// # Errors
    /// The lookup's errors for a name; then, for the last address tried, `AddrInUse` if
    /// another socket listens on it, `AddrNotAvailable` if no interface has that address,
    /// `PermissionDenied` for a privileged port; the message names the address ("bind
    /// 127.0.0.1:80: Permission denied"). `InvalidInput` if `addr` names no address.
    ///
    /// # Cancelation
    /// Binding never blocks; looking up a name is a cancellation point.
    ///
    /// # Examples
    /// ```
    /// use io::net::TcpListener;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let addr = runtime.run(|io| TcpListener::bind(io, "127.0.0.1:0")?.local_addr()).unwrap();
    /// assert!(addr.ip().is_loopback() && addr.port() != 0);
    /// ```
    pub fn bind(io: Io, addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with_backlog(io, addr, DEFAULT_BACKLOG)
    }

    /// Like [`bind`](Self::bind), with the listen `backlog` given: how many connections the
    /// kernel completes and queues before [`accept`](Self::accept) takes them.
    ///
    /// # Errors
    /// As [`bind`](Self::bind).
    ///
    /// # Cancelation
    /// As [`bind`](Self::bind).
    ///
    /// # Examples
    /// ```
    /// use io::net::{TcpListener, TcpStream};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let accepted = runtime.run(|io| -> std::io::Result<usize> {
    ///     let listener = TcpListener::bind_with_backlog(io, "127.0.0.1:0", 4)?;
    ///     // The kernel completes the handshakes before anyone accepts, up to the backlog.
    ///     let clients: Vec<TcpStream> =
    ///         (0..2).map(|_| TcpStream::connect(io, listener.local_addr()?)).collect::<Result<_, _>>()?;
    ///     let accepted: Vec<_> = (0..2).map(|_| listener.accept(io)).collect::<Result<_, _>>()?;
    ///     assert_eq!(accepted[0].1, clients[0].local_addr()?);
    ///     Ok(accepted.len())
    /// });
    /// assert_eq!(accepted.unwrap(), 2);
    /// ```
    pub fn bind_with_backlog(io: Io, addr: impl ToSocketAddrs, backlog: u32) -> io::Result<Self> {
        let mut last = None;
        for addr in addr.to_socket_addrs(io)? {
            match Self::bind_one(addr, backlog) {
                Ok(listener) => return Ok(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    fn bind_one(addr: SocketAddr, backlog: u32) -> io::Result<Self> {
        let fail = |e| os::annotate("bind", addr, e);
        let fd = os::tcp_socket(&addr).map_err(fail)?;
        os::set_int_option(fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1).map_err(fail)?;
        os::bind_listen(fd.as_fd(), &addr, backlog).map_err(fail)?;
        let local = os::socket_addr(fd.as_fd(), false).map_err(fail)?;
        Ok(Self { fd, local })
    }

    pub(crate) fn from_listening(fd: OwnedFd, local: SocketAddr) -> Self {
        Self { fd, local }
    }

    /// Takes over a listener made by std (made blocking: every socket of this crate blocks,
    /// see [`crate::net`]). There is no `From<OwnedFd>`: a descriptor is not known to be a
    /// listening TCP socket, and `from_std` keeps the constructors of every socket type alike
    /// (the stream types keep the [`Io`] for their `Read`/`Write` impls, so they need one).
    ///
    /// # Errors
    /// The errors of fcntl(2) and getsockname(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = std_listener.local_addr().unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let peer = runtime.run(|io| -> std::io::Result<bool> {
    ///     let listener = io::net::TcpListener::from_std(io, std_listener)?;
    ///     assert_eq!(listener.local_addr()?, addr);
    ///     let client = io::net::TcpStream::connect(io, addr)?;
    ///     Ok(listener.accept(io)?.1 == client.local_addr()?)
    /// });
    /// assert!(peer.unwrap());
    /// ```
    pub fn from_std(io: Io, listener: std::net::TcpListener) -> io::Result<Self> {
        let _ = io;
        let fd = OwnedFd::from(listener);
        super::sys::set_blocking(fd.as_fd())?;
        let local = os::socket_addr(fd.as_fd(), false)?;
        Ok(Self { fd, local })
    }

    /// Sets the time-to-live of the connections accepted from now on (`IP_TTL`).
    ///
    /// # Errors
    /// The errors of setsockopt(2), e.g. `InvalidInput` above 255.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        super::socket::set_ttl(self.fd.as_fd(), ttl)
    }

    /// The time-to-live of the listener (`IP_TTL`).
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn ttl(&self) -> io::Result<u32> {
        super::socket::ttl(self.fd.as_fd())
    }

    /// The address the listener is bound to (with the port the kernel picked for port 0).
    ///
    /// # Errors
    /// None today (the address is read at bind); `io::Result` keeps the signature of std.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Waits for a connection and returns it with the peer's address. The new stream blocks,
    /// is close-on-exec, and uses `io` for its `Read`/`Write` impls.
    ///
    /// # Errors
    /// The errors of accept4(2), e.g. `ConnectionAborted` when a pending connection was reset
    /// before it was taken, or `EMFILE` when out of descriptors; the message names the
    /// listener's address.
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked waiting for a connection. A connection that was
    /// accepted before the cancel arrived is returned, not lost.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::net::{TcpListener, TcpStream};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (greeting, idle) = runtime.run(|io| -> std::io::Result<_> {
    ///     let listener = TcpListener::bind(io, ("127.0.0.1", 0))?;
    ///     let client = TcpStream::connect(io, listener.local_addr()?)?;
    ///     let (server, peer) = listener.accept(io)?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     server.write_all(io, b"hello")?;
    ///     let mut buf = [0; 5];
    ///     let n = client.read(io, &mut buf)?;
    ///     // Nobody else connects: a bounded accept ends at its deadline.
    ///     let idle = io.timeout(Duration::from_millis(10), || listener.accept(io).map(|_| ()));
    ///     Ok((buf[..n].to_vec(), idle))
    /// })
    /// .unwrap();
    /// assert_eq!(greeting, b"hello");
    /// assert!(matches!(idle, Err(io::Timeout)));
    /// ```
    pub fn accept(&self, io: Io) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, peer) =
            os::accept(io, self.fd.as_fd()).map_err(|e| os::annotate("accept", self.local, e))?;
        Ok((TcpStream::from_accepted(io, fd, peer), peer))
    }

    /// Closes the listener and reports the outcome (dropping it closes it too, silently).
    ///
    /// # Errors
    /// The errors of close(2). The socket is closed either way.
    ///
    /// # Cancelation
    /// Not a cancellation point: the socket is always released.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let refused = runtime.run(|io| -> std::io::Result<std::io::ErrorKind> {
    ///     let listener = io::net::TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let addr = listener.local_addr()?;
    ///     listener.close(io)?;
    ///     Ok(io::net::TcpStream::connect(io, addr).unwrap_err().kind())
    /// });
    /// assert_eq!(refused.unwrap(), std::io::ErrorKind::ConnectionRefused);
    /// ```
    pub fn close(self, io: Io) -> io::Result<()> {
        let local = self.local;
        os::close(io, self.fd).map_err(|e| os::annotate("close", local, e))
    }
}

crate::descriptor::owned_descriptor!(TcpListener);

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.fd.as_raw_fd())
            .field("local", &self.local)
            .finish()
    }
}
