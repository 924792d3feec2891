//! [`UnixDatagram`]: a Unix datagram socket.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::SocketAddr as UnixAddr;
use std::path::Path;

use super::{path_addr, raw, target};
use crate::io::Io;
use crate::net::addr::ShowUnix;
use crate::net::sys;
use crate::os::annotate;

/// A Unix datagram socket: bound to a path or an abstract name, or unbound (it can send but
/// nobody can answer it), or one of a connected [`pair`](Self::pair). Datagrams keep their
/// boundaries and are never lost or reordered on one host; a full receiver blocks the sender.
///
/// Every method takes `&self`; the blocking ones are cancellation points on every backend.
///
/// # Examples
/// ```
/// use std::os::linux::net::SocketAddrExt;
/// use std::os::unix::net::SocketAddr;
/// use io::net::UnixDatagram;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
///     let name = SocketAddr::from_abstract_name(format!("io-doc-{}", std::process::id()))?;
///     let server = UnixDatagram::bind_addr(io, &name)?;
///     let client = UnixDatagram::unbound(io)?;
///     client.send_to_addr(io, b"datagram", &name)?;
///     let mut buf = [0; 32];
///     let (n, from) = server.recv_from(io, &mut buf)?;
///     assert!(from.is_unnamed());
///     Ok(buf[..n].to_vec())
/// });
/// assert_eq!(got.unwrap(), b"datagram");
/// ```
pub struct UnixDatagram {
    fd: OwnedFd,
}

impl UnixDatagram {
    /// A socket bound to `path` (the socket file is created).
    ///
    /// # Errors
    /// `AddrInUse` if the path exists, `NotFound` if its directory does not; the message names
    /// the path.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// use io::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-unix-dgram-{}.sock", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<(Vec<u8>, std::io::ErrorKind)> {
    ///     let server = UnixDatagram::bind(io, &path)?;
    ///     UnixDatagram::unbound(io)?.send_to(io, b"by path", &path)?;
    ///     let mut buf = [0; 16];
    ///     let n = server.recv(io, &mut buf)?;
    ///     Ok((buf[..n].to_vec(), UnixDatagram::bind(io, &path).unwrap_err().kind()))
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(got.unwrap(), (b"by path".to_vec(), std::io::ErrorKind::AddrInUse));
    /// ```
    pub fn bind(io: Io, path: impl AsRef<Path>) -> io::Result<Self> {
        Self::bind_addr(io, &path_addr("bind", path.as_ref())?)
    }

    /// A socket bound to `addr`, a pathname or an abstract name.
    ///
    /// # Errors
    /// As [`bind`](Self::bind); `InvalidInput` for an unnamed address.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let in_use = runtime.run(|io| -> std::io::Result<std::io::ErrorKind> {
    ///     let name = SocketAddr::from_abstract_name(format!("io-doc-dgram-{}", std::process::id()))?;
    ///     let socket = io::net::UnixDatagram::bind_addr(io, &name)?;
    ///     assert_eq!(socket.local_addr()?.as_abstract_name(), name.as_abstract_name());
    ///     Ok(io::net::UnixDatagram::bind_addr(io, &name).unwrap_err().kind())
    /// });
    /// assert_eq!(in_use.unwrap(), std::io::ErrorKind::AddrInUse);
    /// ```
    pub fn bind_addr(io: Io, addr: &UnixAddr) -> io::Result<Self> {
        let socket = Self::unbound(io)?;
        let raw = raw("bind", addr)?;
        sys::bind(socket.fd.as_fd(), &raw).map_err(|e| annotate("bind", ShowUnix(addr), e))?;
        Ok(socket)
    }

    /// A socket bound to no address.
    ///
    /// # Errors
    /// The errors of socket(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let unnamed = runtime.run(|io| -> std::io::Result<bool> {
    ///     Ok(io::net::UnixDatagram::unbound(io)?.local_addr()?.is_unnamed())
    /// });
    /// assert!(unnamed.unwrap());
    /// ```
    pub fn unbound(io: Io) -> io::Result<Self> {
        let _ = io;
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_DGRAM)
            .map_err(|e| annotate("socket", "unix datagram", e))?;
        Ok(Self { fd })
    }

    /// Two sockets connected to each other (socketpair(2)).
    ///
    /// # Errors
    /// The errors of socketpair(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let sizes = runtime.run(|io| -> std::io::Result<(usize, usize)> {
    ///     let (a, b) = io::net::UnixDatagram::pair(io)?;
    ///     a.send(io, b"one")?;
    ///     a.send(io, b"three")?;
    ///     let mut buf = [0; 16];
    ///     // Datagrams keep their boundaries.
    ///     Ok((b.recv(io, &mut buf)?, b.recv(io, &mut buf)?))
    /// });
    /// assert_eq!(sizes.unwrap(), (3, 5));
    /// ```
    pub fn pair(io: Io) -> io::Result<(Self, Self)> {
        let _ = io;
        let (a, b) =
            sys::socketpair(libc::SOCK_DGRAM).map_err(|e| annotate("socketpair", "datagram", e))?;
        Ok((Self { fd: a }, Self { fd: b }))
    }

    /// Takes over a socket made by std (made blocking). There is no `From<OwnedFd>`, for the
    /// reasons given at [`TcpListener::from_std`](crate::net::TcpListener::from_std).
    ///
    /// # Errors
    /// The errors of fcntl(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let (std_a, std_b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let a = io::net::UnixDatagram::from_std(io, std_a)?;
    ///     let b = io::net::UnixDatagram::from_std(io, std_b)?;
    ///     a.send(io, b"adopted")?;
    ///     let mut buf = [0; 16];
    ///     let n = b.recv(io, &mut buf)?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// assert_eq!(got.unwrap(), b"adopted");
    /// ```
    pub fn from_std(io: Io, socket: std::os::unix::net::UnixDatagram) -> io::Result<Self> {
        let _ = io;
        let fd = OwnedFd::from(socket);
        sys::set_blocking(fd.as_fd())?;
        Ok(Self { fd })
    }

    /// Sets the only address [`send`](Self::send) sends to and [`recv`](Self::recv) receives
    /// from.
    ///
    /// # Errors
    /// `NotFound` if nothing is at `path`, `ConnectionRefused` if the socket there is gone;
    /// naming the path.
    ///
    /// # Cancelation
    /// A cancellation point (connecting a datagram socket does not wait in practice).
    ///
    /// # Examples
    /// ```
    /// use io::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-dgram-connect-{}.sock", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let server = UnixDatagram::bind(io, &path)?;
    ///     let client = UnixDatagram::unbound(io)?;
    ///     client.connect(io, &path)?;
    ///     assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     client.send(io, b"connected")?;
    ///     let mut buf = [0; 16];
    ///     let n = server.recv(io, &mut buf)?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(got.unwrap(), b"connected");
    /// ```
    pub fn connect(&self, io: Io, path: impl AsRef<Path>) -> io::Result<()> {
        self.connect_addr(io, &path_addr("connect", path.as_ref())?)
    }

    /// Like [`connect`](Self::connect), to a pathname or abstract address.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// use io::net::UnixDatagram;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<usize> {
    ///     let name = SocketAddr::from_abstract_name(format!("io-doc-dgram-c-{}", std::process::id()))?;
    ///     let server = UnixDatagram::bind_addr(io, &name)?;
    ///     let client = UnixDatagram::unbound(io)?;
    ///     client.connect_addr(io, &name)?;
    ///     client.send(io, b"hi")?;
    ///     server.recv(io, &mut [0; 8])
    /// });
    /// assert_eq!(got.unwrap(), 2);
    /// ```
    pub fn connect_addr(&self, io: Io, addr: &UnixAddr) -> io::Result<()> {
        let _ = io;
        let raw = raw("connect", addr)?;
        sys::connect(self.fd.as_fd(), &raw).map_err(|e| annotate("connect", ShowUnix(addr), e))
    }

    /// Sends `buf` as one datagram to the socket at `path`.
    ///
    /// # Errors
    /// `NotFound` / `ConnectionRefused` as [`connect`](Self::connect), `EMSGSIZE` for a
    /// datagram too long; naming the path ("send_to /tmp/x.sock: …").
    ///
    /// # Cancelation
    /// A cancellation point, also while the receiver's queue is full.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-dgram-send-to-{}.sock", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let missing = runtime.run(|io| -> std::io::Result<std::io::ErrorKind> {
    ///     let socket = io::net::UnixDatagram::unbound(io)?;
    ///     // Nothing is bound at the path yet.
    ///     Ok(socket.send_to(io, b"anyone?", &path).unwrap_err().kind())
    /// });
    /// assert_eq!(missing.unwrap(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn send_to(&self, io: Io, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        self.send_to_addr(io, buf, &path_addr("send_to", path.as_ref())?)
    }

    /// Like [`send_to`](Self::send_to), to a pathname or abstract address.
    ///
    /// # Errors
    /// As [`send_to`](Self::send_to).
    ///
    /// # Cancelation
    /// A cancellation point.
    ///
    /// # Examples
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let sent = runtime.run(|io| -> std::io::Result<(usize, usize)> {
    ///     let name = SocketAddr::from_abstract_name(format!("io-doc-dgram-to-{}", std::process::id()))?;
    ///     let server = io::net::UnixDatagram::bind_addr(io, &name)?;
    ///     let sent = io::net::UnixDatagram::unbound(io)?.send_to_addr(io, b"five!", &name)?;
    ///     Ok((sent, server.recv(io, &mut [0; 8])?))
    /// });
    /// assert_eq!(sent.unwrap(), (5, 5));
    /// ```
    pub fn send_to_addr(&self, io: Io, buf: &[u8], addr: &UnixAddr) -> io::Result<usize> {
        let _ = io;
        let raw = raw("send_to", addr)?;
        sys::send_to(self.fd.as_fd(), buf, &raw).map_err(|e| annotate("send_to", ShowUnix(addr), e))
    }

    /// Receives one datagram into `buf` and returns its length and sender (unnamed for an
    /// unbound sender). A datagram longer than `buf` is cut to fit.
    ///
    /// # Errors
    /// The errors of recvmsg(2), naming this socket's address.
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for a datagram.
    ///
    /// # Examples
    /// ```
    /// use io::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-dgram-recv-from-{}.sock", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let from = runtime.run(|io| -> std::io::Result<_> {
    ///     let server = UnixDatagram::bind(io, &path)?;
    ///     let (a, _b) = UnixDatagram::pair(io)?;
    ///     a.send_to(io, b"who am i", &path)?;
    ///     let mut buf = [0; 16];
    ///     let (n, from) = server.recv_from(io, &mut buf)?;
    ///     Ok((n, from.is_unnamed()))
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(from.unwrap(), (8, true));
    /// ```
    pub fn recv_from(&self, io: Io, buf: &mut [u8]) -> io::Result<(usize, UnixAddr)> {
        let _ = io;
        let fail = |e| annotate("recv_from", self.local_name(), e);
        let (n, from) = sys::recv_from(self.fd.as_fd(), buf, 0).map_err(fail)?;
        Ok((n, from.to_unix().map_err(fail)?))
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// # Errors
    /// `NotConnected` before [`connect`](Self::connect), `ConnectionRefused` once the peer is
    /// gone; the errors of send(2).
    ///
    /// # Cancelation
    /// A cancellation point, also while the receiver's queue is full.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (sent, gone) = runtime.run(|io| -> std::io::Result<_> {
    ///     let (a, b) = io::net::UnixDatagram::pair(io)?;
    ///     let sent = a.send(io, b"datagram")?;
    ///     drop(b);
    ///     Ok((sent, a.send(io, b"to nobody").unwrap_err().kind()))
    /// })
    /// .unwrap();
    /// assert_eq!(sent, 8);
    /// assert_eq!(gone, std::io::ErrorKind::ConnectionRefused);
    /// ```
    pub fn send(&self, io: Io, buf: &[u8]) -> io::Result<usize> {
        let _ = io;
        sys::send(self.fd.as_fd(), buf).map_err(|e| annotate("send", target(self.fd.as_fd()), e))
    }

    /// Receives one datagram (from the connected peer, if connected) into `buf`.
    ///
    /// # Errors
    /// The errors of recv(2).
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for a datagram.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let (a, b) = io::net::UnixDatagram::pair(io)?;
    ///     a.send(io, b"truncated datagram")?;
    ///     let mut buf = [0; 9];
    ///     let n = b.recv(io, &mut buf)?; // the rest of the datagram is dropped
    ///     Ok(buf[..n].to_vec())
    /// });
    /// assert_eq!(got.unwrap(), b"truncated");
    /// ```
    pub fn recv(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
        let _ = io;
        sys::recv(self.fd.as_fd(), buf, 0).map_err(|e| annotate("recv", self.local_name(), e))
    }

    /// Like [`recv`](Self::recv), but leaves the datagram queued.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for a datagram.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let found = runtime.run(|io| -> std::io::Result<(usize, usize)> {
    ///     let (a, b) = io::net::UnixDatagram::pair(io)?;
    ///     a.send(io, b"peeked")?;
    ///     let mut buf = [0; 16];
    ///     Ok((b.peek(io, &mut buf)?, b.recv(io, &mut buf)?))
    /// });
    /// assert_eq!(found.unwrap(), (6, 6));
    /// ```
    pub fn peek(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
        let _ = io;
        sys::recv(self.fd.as_fd(), buf, libc::MSG_PEEK)
            .map_err(|e| annotate("peek", self.local_name(), e))
    }

    /// The address this socket is bound to (unnamed if unbound).
    ///
    /// # Errors
    /// The errors of getsockname(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn local_addr(&self) -> io::Result<UnixAddr> {
        sys::unix_addr(self.fd.as_fd(), false)
    }

    /// The address of the connected peer.
    ///
    /// # Errors
    /// `NotConnected` if not connected.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn peer_addr(&self) -> io::Result<UnixAddr> {
        sys::unix_addr(self.fd.as_fd(), true)
    }

    fn local_name(&self) -> String {
        match self.local_addr() {
            Ok(addr) => ShowUnix(&addr).to_string(),
            Err(_) => "(unknown)".to_owned(),
        }
    }
}

crate::descriptor::owned_descriptor!(UnixDatagram);

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}
