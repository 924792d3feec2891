//! [`TcpSocket`]: a TCP socket set up before it listens or connects, and the socket options
//! that the socket types share.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use super::addr::RawAddr;
use super::{sys, TcpListener, TcpStream};
use crate::io::Io;
use crate::os::annotate;

/// A TCP socket not yet listening or connected, to set options on first (as tokio's
/// `TcpSocket`): [`listen`](Self::listen) makes a [`TcpListener`], [`connect`](Self::connect) a
/// [`TcpStream`].
///
/// # Examples
/// ```
/// use io::net::{TcpSocket, TcpStream};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// runtime.run(|io| -> std::io::Result<()> {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.set_reuseport(true)?;
///     socket.bind(([127, 0, 0, 1], 0))?;
///     let listener = socket.listen(128)?;
///     let client = TcpSocket::new_v4()?;
///     client.set_nodelay(true)?;
///     let stream = client.connect(io, listener.local_addr()?)?;
///     assert!(stream.nodelay()?);
///     let (_server, peer) = listener.accept(io)?;
///     assert_eq!(peer, stream.local_addr()?);
///     Ok(())
/// }).unwrap();
/// ```
pub struct TcpSocket {
    fd: OwnedFd,
}

impl TcpSocket {
    /// A new IPv4 TCP socket (blocking, close-on-exec).
    ///
    /// # Errors
    /// The errors of socket(2), e.g. `EMFILE`.
    ///
    /// # Examples
    /// ```
    /// let socket = io::net::TcpSocket::new_v4().unwrap();
    /// socket.bind(([127, 0, 0, 1], 0)).unwrap();
    /// let addr = socket.local_addr().unwrap();
    /// assert!(addr.is_ipv4() && addr.port() != 0);
    /// ```
    pub fn new_v4() -> io::Result<Self> {
        Self::new(libc::AF_INET)
    }

    /// A new IPv6 TCP socket (blocking, close-on-exec).
    ///
    /// # Errors
    /// The errors of socket(2), e.g. `EAFNOSUPPORT` on a kernel without IPv6.
    ///
    /// # Examples
    /// ```
    /// use std::net::Ipv6Addr;
    ///
    /// let socket = io::net::TcpSocket::new_v6().unwrap();
    /// socket.bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
    /// assert_eq!(socket.local_addr().unwrap().ip(), Ipv6Addr::LOCALHOST);
    /// ```
    pub fn new_v6() -> io::Result<Self> {
        Self::new(libc::AF_INET6)
    }

    fn new(family: libc::c_int) -> io::Result<Self> {
        let fd =
            sys::socket(family, libc::SOCK_STREAM).map_err(|e| annotate("socket", "tcp", e))?;
        Ok(Self { fd })
    }

    /// Allows binding an address that a socket in `TIME_WAIT` still holds (`SO_REUSEADDR`).
    ///
    /// # Errors
    /// The errors of setsockopt(2) (so do the other setters).
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        sys::set_flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, on)
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// # Errors
    /// The errors of getsockopt(2) (so do the other getters).
    pub fn reuseaddr(&self) -> io::Result<bool> {
        sys::flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR)
    }

    /// Lets several sockets of this user bind the same address and port; the kernel spreads
    /// incoming connections over their listeners (`SO_REUSEPORT`).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        sys::set_flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, on)
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn reuseport(&self) -> io::Result<bool> {
        sys::flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT)
    }

    /// Turns Nagle's algorithm off (`true`) or on for the connection this socket makes.
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        set_nodelay(self.fd.as_fd(), on)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn nodelay(&self) -> io::Result<bool> {
        nodelay(self.fd.as_fd())
    }

    /// Sends keepalive probes on an idle connection (`SO_KEEPALIVE`).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        set_keepalive(self.fd.as_fd(), on)
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn keepalive(&self) -> io::Result<bool> {
        keepalive(self.fd.as_fd())
    }

    /// How long closing waits for unsent data (`SO_LINGER`; `None`: close returns at once and
    /// the kernel sends in the background; `Some(ZERO)`: close resets the connection).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        set_linger(self.fd.as_fd(), linger)
    }

    /// See [`set_linger`](Self::set_linger).
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        linger(self.fd.as_fd())
    }

    /// Binds the socket to `addr` (port 0: the kernel picks one).
    ///
    /// # Errors
    /// `AddrInUse`, `AddrNotAvailable`, `PermissionDenied`, naming the address.
    ///
    /// # Examples
    /// ```
    /// use io::net::TcpSocket;
    ///
    /// let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let taken = holder.local_addr().unwrap();
    /// let socket = TcpSocket::new_v4().unwrap();
    /// let error = socket.bind(taken).unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    /// assert!(error.to_string().starts_with(&format!("bind {taken}: ")));
    /// ```
    pub fn bind(&self, addr: impl Into<SocketAddr>) -> io::Result<()> {
        let addr = addr.into();
        sys::bind(self.fd.as_fd(), &RawAddr::from(&addr)).map_err(|e| annotate("bind", addr, e))
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    /// The errors of getsockname(2).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sys::raw_addr(self.fd.as_fd(), false)?.to_socket_addr()
    }

    /// Listens with `backlog` (capped by `net.core.somaxconn`); an unbound socket gets a port
    /// the kernel picks.
    ///
    /// # Errors
    /// The errors of listen(2), e.g. `AddrInUse`, naming the address.
    ///
    /// # Cancelation
    /// Not a cancellation point: listening never blocks.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let accepted = runtime.run(|io| -> std::io::Result<bool> {
    ///     // Unbound: any port, any address.
    ///     let listener = io::net::TcpSocket::new_v4()?.listen(16)?;
    ///     let port = listener.local_addr()?.port();
    ///     let client = io::net::TcpStream::connect(io, ("127.0.0.1", port))?;
    ///     Ok(listener.accept(io)?.1 == client.local_addr()?)
    /// });
    /// assert!(accepted.unwrap());
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let local = self.local_addr()?;
        sys::listen(self.fd.as_fd(), backlog).map_err(|e| annotate("listen", local, e))?;
        let local = self.local_addr()?;
        Ok(TcpListener::from_listening(self.fd, local))
    }

    /// Connects to `addr` and returns the stream, which keeps `io` for its `Read`/`Write`
    /// impls.
    ///
    /// # Errors
    /// `ConnectionRefused` and the other errors of connect(2), naming the address.
    ///
    /// # Cancelation
    /// A cancellation point, also while the connection is being set up: the socket is closed
    /// (which aborts the attempt) and the canceled error returned.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (peer, refused) = runtime.run(|io| -> std::io::Result<_> {
    ///     let listener = io::net::TcpListener::bind(io, "127.0.0.1:0")?;
    ///     let socket = io::net::TcpSocket::new_v4()?;
    ///     socket.set_keepalive(true)?;
    ///     let stream = socket.connect(io, listener.local_addr()?)?;
    ///     assert!(stream.keepalive()?);
    ///     // The listener is dropped at once: nobody listens there.
    ///     let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    ///     let refused = io::net::TcpSocket::new_v4()?.connect(io, closed).unwrap_err();
    ///     Ok((stream.peer_addr()? == listener.local_addr()?, refused.kind()))
    /// })
    /// .unwrap();
    /// assert!(peer);
    /// assert_eq!(refused, std::io::ErrorKind::ConnectionRefused);
    /// ```
    pub fn connect(self, io: Io, addr: impl Into<SocketAddr>) -> io::Result<TcpStream> {
        let peer = addr.into();
        sys::connect(self.fd.as_fd(), &RawAddr::from(&peer))
            .map_err(|e| annotate("connect", peer, e))?;
        Ok(TcpStream::from_accepted(io, self.fd, peer))
    }
}

crate::descriptor::owned_descriptor!(TcpSocket);

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

// ---- options the socket types share -------------------------------------------------------

pub(crate) fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    sys::set_flag(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on)
}

pub(crate) fn nodelay(fd: BorrowedFd<'_>) -> io::Result<bool> {
    sys::flag(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY)
}

pub(crate) fn set_keepalive(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    sys::set_flag(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, on)
}

pub(crate) fn keepalive(fd: BorrowedFd<'_>) -> io::Result<bool> {
    sys::flag(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)
}

/// `IP_TTL`, as std sets it (also on an IPv6 socket, for its IPv4-mapped traffic).
pub(crate) fn set_ttl(fd: BorrowedFd<'_>, ttl: u32) -> io::Result<()> {
    let ttl = libc::c_int::try_from(ttl).map_err(|_| io::ErrorKind::InvalidInput)?;
    sys::set_option(fd, libc::IPPROTO_IP, libc::IP_TTL, ttl)
}

pub(crate) fn ttl(fd: BorrowedFd<'_>) -> io::Result<u32> {
    sys::option::<libc::c_int>(fd, libc::IPPROTO_IP, libc::IP_TTL).map(|ttl| ttl as u32)
}

pub(crate) fn set_linger(fd: BorrowedFd<'_>, linger: Option<Duration>) -> io::Result<()> {
    let value = libc::linger {
        l_onoff: libc::c_int::from(linger.is_some()),
        l_linger: linger.map_or(0, |d| {
            libc::c_int::try_from(d.as_secs()).unwrap_or(libc::c_int::MAX)
        }),
    };
    sys::set_option(fd, libc::SOL_SOCKET, libc::SO_LINGER, value)
}

pub(crate) fn linger(fd: BorrowedFd<'_>) -> io::Result<Option<Duration>> {
    let value: libc::linger = sys::option(fd, libc::SOL_SOCKET, libc::SO_LINGER)?;
    Ok((value.l_onoff != 0).then(|| Duration::from_secs(value.l_linger.max(0) as u64)))
}
