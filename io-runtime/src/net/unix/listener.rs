//! [`UnixListener`]: a Unix stream socket that accepts connections.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::SocketAddr as UnixAddr;
use std::path::Path;

use super::{path_addr, raw, UnixStream};
use crate::io::Io;
use crate::net::addr::ShowUnix;
use crate::net::sys;
use crate::os::annotate;

/// The listen backlog (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: u32 = 1024;

/// A Unix stream socket listening for connections, at a path or an abstract name.
///
/// Binding a path creates the socket file; dropping the listener does not remove it (as
/// std's), so remove it yourself before binding the path again (else `AddrInUse`).
///
/// # Examples
/// ```
/// use std::io::Read;
/// use io::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("io-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("echo.sock");
/// let _ = std::fs::remove_file(&path);
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let got = runtime.run(|io| -> std::io::Result<String> {
///     let listener = UnixListener::bind(io, &path)?;
///     io.scope(|s| {
///         let server = s.spawn_concurrent(|| -> std::io::Result<()> {
///             let (stream, _peer) = listener.accept(io)?;
///             stream.write_all(io, b"hello")
///         }).unwrap();
///         let mut got = String::new();
///         UnixStream::connect(io, &path)?.read_to_string(&mut got)?;
///         server.join(io)?;
///         Ok(got)
///     })
/// });
/// assert_eq!(got.unwrap(), "hello");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    fd: OwnedFd,
    local: UnixAddr,
}

impl UnixListener {
    /// Listens at `path` (the socket file is created; a backlog of 1024).
    ///
    /// # Errors
    /// `AddrInUse` if the path exists (also a stale socket file), `NotFound` if its directory
    /// does not, `InvalidInput` for a path longer than a socket address holds (108 bytes); the
    /// message names the path ("bind /tmp/x.sock: …").
    ///
    /// # Cancelation
    /// Not a cancellation point: binding never blocks.
    ///
    /// # Examples
    /// ```
    /// use io::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-unix-bind-{}.sock", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (peer_unnamed, again) = runtime.run(|io| -> std::io::Result<_> {
    ///     let listener = UnixListener::bind(io, &path)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     let _client = UnixStream::connect(io, &path)?;
    ///     let (_server, peer) = listener.accept(io)?;
    ///     // The socket file stays: binding it again fails.
    ///     Ok((peer.is_unnamed(), UnixListener::bind(io, &path).unwrap_err().kind()))
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!((peer_unnamed, again), (true, std::io::ErrorKind::AddrInUse));
    /// ```
    pub fn bind(io: Io, path: impl AsRef<Path>) -> io::Result<Self> {
        Self::bind_addr(io, &path_addr("bind", path.as_ref())?)
    }

    /// Listens at `addr`: a pathname or an abstract name
    /// ([`SocketAddrExt::from_abstract_name`](std::os::linux::net::SocketAddrExt::from_abstract_name)).
    ///
    /// # Errors
    /// As [`bind`](Self::bind); `AddrInUse` for an abstract name in use; `InvalidInput` for an
    /// unnamed address.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// use io::net::{UnixListener, UnixStream};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     // An abstract name: no file to clean up, gone with the socket.
    ///     let name = SocketAddr::from_abstract_name(format!("io-doc-listener-{}", std::process::id()))?;
    ///     let listener = UnixListener::bind_addr(io, &name)?;
    ///     let client = UnixStream::connect_addr(io, &name)?;
    ///     let (server, _) = listener.accept(io)?;
    ///     client.write_all(io, b"abstract")?;
    ///     let mut buf = [0; 8];
    ///     let n = server.read(io, &mut buf)?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// assert_eq!(got.unwrap(), b"abstract");
    /// ```
    pub fn bind_addr(io: Io, addr: &UnixAddr) -> io::Result<Self> {
        let _ = io;
        let fail = |e| annotate("bind", ShowUnix(addr), e);
        let raw = raw("bind", addr)?;
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_STREAM).map_err(fail)?;
        sys::bind(fd.as_fd(), &raw).map_err(fail)?;
        sys::listen(fd.as_fd(), BACKLOG).map_err(fail)?;
        let local = sys::unix_addr(fd.as_fd(), false).map_err(fail)?;
        Ok(Self { fd, local })
    }

    /// Takes over a listener made by std (made blocking). There is no `From<OwnedFd>`, for
    /// the reasons given at [`TcpListener::from_std`](crate::net::TcpListener::from_std).
    ///
    /// # Errors
    /// The errors of fcntl(2) and getsockname(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-unix-from-std-{}.sock", std::process::id()));
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let accepted = runtime.run(|io| -> std::io::Result<bool> {
    ///     let listener = io::net::UnixListener::from_std(io, std_listener)?;
    ///     let _client = io::net::UnixStream::connect(io, &path)?;
    ///     Ok(listener.accept(io)?.1.is_unnamed())
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// assert!(accepted.unwrap());
    /// ```
    pub fn from_std(io: Io, listener: std::os::unix::net::UnixListener) -> io::Result<Self> {
        let _ = io;
        let fd = OwnedFd::from(listener);
        sys::set_blocking(fd.as_fd())?;
        let local = sys::unix_addr(fd.as_fd(), false)?;
        Ok(Self { fd, local })
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    /// None today (read at bind); `io::Result` keeps std's signature.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn local_addr(&self) -> io::Result<UnixAddr> {
        Ok(self.local.clone())
    }

    /// Waits for a connection; returns the stream (blocking, close-on-exec, keeping `io` for
    /// its `Read`/`Write` impls) and the peer's address (unnamed unless the peer bound one).
    ///
    /// # Errors
    /// The errors of accept4(2), e.g. `EMFILE`, naming the listener's address.
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting; a connection accepted before the cancel
    /// arrived is returned, not lost.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir()
    ///     .join(format!("io-doc-unix-accept-{}.sock", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (reply, idle) = runtime.run(|io| -> std::io::Result<_> {
    ///     let listener = UnixListener::bind(io, &path)?;
    ///     let client = UnixStream::connect(io, &path)?;
    ///     let (server, _) = listener.accept(io)?;
    ///     server.write_all(io, b"welcome")?;
    ///     let mut buf = [0; 7];
    ///     let n = client.read(io, &mut buf)?;
    ///     // Nobody else connects: a bounded accept ends at its deadline.
    ///     let idle = io.timeout(Duration::from_millis(10), || listener.accept(io).is_ok());
    ///     Ok((buf[..n].to_vec(), idle))
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(reply, b"welcome");
    /// assert_eq!(idle, Err(io::Timeout));
    /// ```
    pub fn accept(&self, io: Io) -> io::Result<(UnixStream, UnixAddr)> {
        let fail = |e| annotate("accept", ShowUnix(&self.local), e);
        let (fd, peer) = sys::accept(self.fd.as_fd()).map_err(fail)?;
        let peer = peer.to_unix().map_err(fail)?;
        Ok((UnixStream::from_fd(io, fd), peer))
    }
}

crate::descriptor::owned_descriptor!(UnixListener);

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.fd.as_raw_fd())
            .field("local", &self.local)
            .finish()
    }
}
