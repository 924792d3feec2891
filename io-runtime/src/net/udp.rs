//! [`UdpSocket`]: datagrams over IPv4 or IPv6.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::addr::RawAddr;
use super::sys;
use super::to_socket_addrs::no_addresses;
use super::ToSocketAddrs;
use crate::io::Io;
use crate::os::annotate;

/// A UDP socket: [`send_to`](Self::send_to) and [`recv_from`](Self::recv_from) any address, or
/// [`connect`](Self::connect) it to one peer and [`send`](Self::send) /
/// [`recv`](Self::recv).
///
/// Every method takes `&self`, so one task can receive while others send. The blocking ones
/// (send and receive) are cancellation points on every backend: on io_uring they are
/// `SENDMSG`/`RECVMSG` entries (`RECV`/`SEND` once connected), on the threaded backend system
/// calls that a cancel interrupts. Errors name the operation and the address ("send_to
/// 127.0.0.1:9: …"). Dropping the socket closes it.
///
/// # Examples
/// ```
/// use io::net::UdpSocket;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let (reply, from) = runtime.run(|io| -> std::io::Result<(Vec<u8>, std::net::SocketAddr)> {
///     let server = UdpSocket::bind(io, ([127, 0, 0, 1], 0))?;
///     let client = UdpSocket::bind(io, ([127, 0, 0, 1], 0))?;
///     client.send_to(io, b"ping", server.local_addr()?)?;
///     let mut buf = [0; 16];
///     let (n, from) = server.recv_from(io, &mut buf)?;
///     assert_eq!(from, client.local_addr()?);
///     server.send_to(io, &buf[..n], from)?;
///     let (n, from) = client.recv_from(io, &mut buf)?;
///     Ok((buf[..n].to_vec(), from))
/// }).unwrap();
/// assert_eq!(reply, b"ping");
/// assert_eq!(from.ip(), std::net::Ipv4Addr::LOCALHOST);
/// ```
pub struct UdpSocket {
    fd: OwnedFd,
    local: SocketAddr,
}

impl UdpSocket {
    /// A socket bound to `addr` (port 0: the kernel picks one, see
    /// [`local_addr`](Self::local_addr)). `addr` is anything [`ToSocketAddrs`]
    /// (`"127.0.0.1:0"`, `("localhost", 5353)`, a [`SocketAddr`]); a name is looked up first,
    /// and the first of its addresses that can be bound is.
    ///
    /// # Errors
    /// The lookup's errors for a name; then, for the last address tried, `AddrInUse` if
    /// another socket has that address and port, `AddrNotAvailable` if no interface has it;
    /// the message names the address ("bind 127.0.0.1:53: …").
    ///
    /// # Cancelation
    /// Binding never blocks; looking up a name is a cancellation point.
    ///
    /// # Examples
    /// ```
    /// use io::net::UdpSocket;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let error = runtime.run(|io| -> std::io::Result<std::io::Error> {
    ///     let first = UdpSocket::bind(io, "127.0.0.1:0")?;
    ///     assert_ne!(first.local_addr()?.port(), 0);
    ///     Ok(UdpSocket::bind(io, first.local_addr()?).unwrap_err())
    /// })
    /// .unwrap();
    /// assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    /// assert!(error.to_string().starts_with("bind 127.0.0.1:"));
    /// ```
    pub fn bind(io: Io, addr: impl ToSocketAddrs) -> io::Result<Self> {
        let mut last = None;
        for addr in addr.to_socket_addrs(io)? {
            match Self::bind_one(addr) {
                Ok(socket) => return Ok(socket),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    fn bind_one(addr: SocketAddr) -> io::Result<Self> {
        let fail = |e| annotate("bind", addr, e);
        let fd = sys::socket(sys::family_of(&addr), libc::SOCK_DGRAM).map_err(fail)?;
        sys::bind(fd.as_fd(), &RawAddr::from(&addr)).map_err(fail)?;
        let local = sys::raw_addr(fd.as_fd(), false)
            .and_then(|raw| raw.to_socket_addr())
            .map_err(fail)?;
        Ok(Self { fd, local })
    }

    /// Takes over a socket made by std (made blocking: every socket of this crate blocks, see
    /// [`crate::net`]). There is no `From<OwnedFd>`: a descriptor is not known to be a UDP
    /// socket, and `from_std` keeps the constructors of every socket type alike (the stream
    /// types keep the [`Io`] for their `Read`/`Write` impls).
    ///
    /// # Errors
    /// The errors of fcntl(2) and getsockname(2).
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let socket = io::net::UdpSocket::from_std(io, std_socket)?;
    ///     socket.send_to(io, b"to myself", socket.local_addr()?)?;
    ///     let mut buf = [0; 16];
    ///     let (n, _) = socket.recv_from(io, &mut buf)?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// assert_eq!(got.unwrap(), b"to myself");
    /// ```
    pub fn from_std(io: Io, socket: std::net::UdpSocket) -> io::Result<Self> {
        let _ = io;
        let fd = OwnedFd::from(socket);
        sys::set_blocking(fd.as_fd())?;
        let local = sys::raw_addr(fd.as_fd(), false)?.to_socket_addr()?;
        Ok(Self { fd, local })
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    /// None today (the address is read when the socket is made); `io::Result` keeps std's
    /// signature.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// The address of the peer the socket is [`connect`](Self::connect)ed to.
    ///
    /// # Errors
    /// `NotConnected` if it is not connected.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        sys::raw_addr(self.fd.as_fd(), true)?.to_socket_addr()
    }

    /// Sets the only address [`send`](Self::send) sends to and [`recv`](Self::recv) receives
    /// from (datagrams from others are dropped). Errors that the peer reports later (an ICMP
    /// "port unreachable") come back from `recv`/`send` as `ConnectionRefused`.
    ///
    /// `addr` is anything [`ToSocketAddrs`]; of a name's addresses, the first that connects is
    /// taken.
    ///
    /// # Errors
    /// The lookup's errors for a name; the errors of connect(2) for the last address tried,
    /// e.g. `NetworkUnreachable`, naming the address.
    ///
    /// # Cancelation
    /// A cancellation point while a name is looked up (connecting a datagram socket does not
    /// wait).
    ///
    /// # Examples
    /// ```
    /// use io::net::UdpSocket;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let (a, b) = (UdpSocket::bind(io, "127.0.0.1:0")?, UdpSocket::bind(io, "127.0.0.1:0")?);
    ///     a.connect(io, b.local_addr()?)?;
    ///     b.connect(io, a.local_addr()?)?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     a.send(io, b"connected")?;
    ///     let mut buf = [0; 16];
    ///     let n = b.recv(io, &mut buf)?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// assert_eq!(got.unwrap(), b"connected");
    /// ```
    pub fn connect(&self, io: Io, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last = None;
        for addr in addr.to_socket_addrs(io)? {
            match sys::connect(self.fd.as_fd(), &RawAddr::from(&addr)) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(annotate("connect", addr, e)),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    /// Sends `buf` as one datagram to `addr`.
    ///
    /// `addr` is anything [`ToSocketAddrs`]; a name's first address is used.
    ///
    /// # Errors
    /// The lookup's errors for a name; the errors of sendmsg(2), e.g. `PermissionDenied` for a
    /// broadcast address without [`set_broadcast`](Self::set_broadcast), naming the address
    /// ("send_to 127.0.0.1:9: …").
    ///
    /// # Cancelation
    /// A cancellation point, also while a name is looked up or the send buffer is full.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let sent = runtime.run(|io| -> std::io::Result<(usize, usize)> {
    ///     let receiver = io::net::UdpSocket::bind(io, "127.0.0.1:0")?;
    ///     let sender = io::net::UdpSocket::bind(io, "127.0.0.1:0")?;
    ///     let sent = sender.send_to(io, b"twelve bytes", receiver.local_addr()?)?;
    ///     Ok((sent, receiver.recv_from(io, &mut [0; 64])?.0))
    /// });
    /// assert_eq!(sent.unwrap(), (12, 12));
    /// ```
    pub fn send_to(&self, io: Io, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let addr = addr.to_socket_addrs(io)?.next().ok_or_else(no_addresses)?;
        sys::send_to(self.fd.as_fd(), buf, &RawAddr::from(&addr))
            .map_err(|e| annotate("send_to", addr, e))
    }

    /// Receives one datagram into `buf` and returns its length and sender. A datagram longer
    /// than `buf` is cut to fit (the rest is lost).
    ///
    /// # Errors
    /// The errors of recvmsg(2), naming this socket's address.
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for a datagram.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (first, idle) = runtime.run(|io| -> std::io::Result<_> {
    ///     let socket = io::net::UdpSocket::bind(io, "127.0.0.1:0")?;
    ///     socket.send_to(io, b"a datagram longer than the buffer", socket.local_addr()?)?;
    ///     let mut buf = [0; 11];
    ///     let (n, from) = socket.recv_from(io, &mut buf)?; // the rest of the datagram is dropped
    ///     assert_eq!(from, socket.local_addr()?);
    ///     let idle = io.timeout(Duration::from_millis(10), || socket.recv_from(io, &mut buf));
    ///     let idle = idle.map(|received| received.is_ok());
    ///     Ok((buf[..n].to_vec(), idle))
    /// })
    /// .unwrap();
    /// assert_eq!(first, b"a datagram ");
    /// assert_eq!(idle, Err(io::Timeout)); // nothing else came
    /// ```
    pub fn recv_from(&self, io: Io, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.receive_from(io, buf, 0, "recv_from")
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued: the next receive
    /// returns it again.
    ///
    /// # Errors
    /// As [`recv_from`](Self::recv_from).
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for a datagram.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (peeked, received) = runtime.run(|io| -> std::io::Result<_> {
    ///     let socket = io::net::UdpSocket::bind(io, "127.0.0.1:0")?;
    ///     socket.send_to(io, b"look twice", socket.local_addr()?)?;
    ///     let mut buf = [0; 16];
    ///     let (peeked, _) = socket.peek_from(io, &mut buf)?;
    ///     let (received, _) = socket.recv_from(io, &mut buf)?; // the same datagram
    ///     Ok((peeked, received))
    /// })
    /// .unwrap();
    /// assert_eq!((peeked, received), (10, 10));
    /// ```
    pub fn peek_from(&self, io: Io, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.receive_from(io, buf, libc::MSG_PEEK, "peek_from")
    }

    fn receive_from(
        &self,
        io: Io,
        buf: &mut [u8],
        flags: libc::c_int,
        op: &'static str,
    ) -> io::Result<(usize, SocketAddr)> {
        let _ = io;
        let fail = |e| annotate(op, self.local, e);
        let (n, from) = sys::recv_from(self.fd.as_fd(), buf, flags).map_err(fail)?;
        Ok((n, from.to_socket_addr().map_err(fail)?))
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// # Errors
    /// `EDESTADDRREQ` ("Destination address required", of kind `Uncategorized`) before
    /// [`connect`](Self::connect); `ConnectionRefused` when an earlier
    /// datagram was refused; the errors of send(2); the message names the peer.
    ///
    /// # Cancelation
    /// A cancellation point, also while blocked on a full send buffer.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let error = runtime.run(|io| -> std::io::Result<std::io::Error> {
    ///     let socket = io::net::UdpSocket::bind(io, "127.0.0.1:0")?;
    ///     // Not connected: send has no peer to send to.
    ///     Ok(socket.send(io, b"lost").unwrap_err())
    /// });
    /// let error = error.unwrap();
    /// assert_eq!(io::raw_os_error(&error), Some(libc::EDESTADDRREQ));
    /// assert!(error.to_string().contains("Destination address required"), "{error}");
    /// ```
    pub fn send(&self, io: Io, buf: &[u8]) -> io::Result<usize> {
        let _ = io;
        sys::send(self.fd.as_fd(), buf).map_err(|e| annotate("send", self.target(), e))
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// # Errors
    /// `ConnectionRefused` when a datagram sent earlier was refused (nothing listens on the
    /// peer's port); the errors of recv(2); the message names this socket's address.
    ///
    /// # Cancelation
    /// A cancellation point, also while waiting for a datagram.
    ///
    /// # Examples
    /// ```
    /// use io::net::UdpSocket;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let got = runtime.run(|io| -> std::io::Result<Vec<u8>> {
    ///     let (a, b) = (UdpSocket::bind(io, "127.0.0.1:0")?, UdpSocket::bind(io, "127.0.0.1:0")?);
    ///     b.connect(io, a.local_addr()?)?;
    ///     a.send_to(io, b"from a", b.local_addr()?)?;
    ///     let mut buf = [0; 16];
    ///     let n = b.recv(io, &mut buf)?;
    ///     Ok(buf[..n].to_vec())
    /// });
    /// assert_eq!(got.unwrap(), b"from a");
    /// ```
    pub fn recv(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
        let _ = io;
        sys::recv(self.fd.as_fd(), buf, 0).map_err(|e| annotate("recv", self.local, e))
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
    ///     let socket = io::net::UdpSocket::bind(io, "127.0.0.1:0")?;
    ///     socket.connect(io, socket.local_addr()?)?;
    ///     socket.send(io, b"peeked")?;
    ///     let mut buf = [0; 16];
    ///     Ok((socket.peek(io, &mut buf)?, socket.recv(io, &mut buf)?))
    /// });
    /// assert_eq!(found.unwrap(), (6, 6));
    /// ```
    pub fn peek(&self, io: Io, buf: &mut [u8]) -> io::Result<usize> {
        let _ = io;
        sys::recv(self.fd.as_fd(), buf, libc::MSG_PEEK).map_err(|e| annotate("peek", self.local, e))
    }

    /// The peer if connected, else this socket's address: what a `send` error names.
    fn target(&self) -> SocketAddr {
        self.peer_addr().unwrap_or(self.local)
    }

    /// Allows (or forbids) sending to broadcast addresses (`SO_BROADCAST`).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    ///
    /// # Cancelation
    /// Not a cancellation point (neither is any option).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        sys::set_flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_BROADCAST, on)
    }

    /// Whether sending to broadcast addresses is allowed.
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn broadcast(&self) -> io::Result<bool> {
        sys::flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_BROADCAST)
    }

    /// Sets the time-to-live of outgoing unicast datagrams (`IP_TTL`; IPv4).
    ///
    /// # Errors
    /// The errors of setsockopt(2), e.g. `InvalidInput` above 255.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        super::socket::set_ttl(self.fd.as_fd(), ttl)
    }

    /// The time-to-live of outgoing unicast datagrams.
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn ttl(&self) -> io::Result<u32> {
        super::socket::ttl(self.fd.as_fd())
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address `interface`
    /// (`Ipv4Addr::UNSPECIFIED`: the kernel chooses).
    ///
    /// # Errors
    /// The errors of setsockopt(2), e.g. `InvalidInput` for an address that is not multicast.
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        let mreq = ip_mreq(multiaddr, interface);
        sys::set_option(
            self.fd.as_fd(),
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP,
            mreq,
        )
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    ///
    /// # Errors
    /// The errors of setsockopt(2), e.g. `AddrNotAvailable` for a group not joined.
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        let mreq = ip_mreq(multiaddr, interface);
        sys::set_option(
            self.fd.as_fd(),
            libc::IPPROTO_IP,
            libc::IP_DROP_MEMBERSHIP,
            mreq,
        )
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with index `interface` (0:
    /// the kernel chooses).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        let mreq = ipv6_mreq(multiaddr, interface);
        sys::set_option(
            self.fd.as_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_ADD_MEMBERSHIP,
            mreq,
        )
    }

    /// Leaves an IPv6 multicast group joined with
    /// [`join_multicast_v6`](Self::join_multicast_v6).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        let mreq = ipv6_mreq(multiaddr, interface);
        sys::set_option(
            self.fd.as_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_DROP_MEMBERSHIP,
            mreq,
        )
    }

    /// Whether this host's own IPv4 multicast datagrams loop back to it (`IP_MULTICAST_LOOP`).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        sys::set_flag(
            self.fd.as_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_LOOP,
            on,
        )
    }

    /// See [`set_multicast_loop_v4`](Self::set_multicast_loop_v4).
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        sys::flag(self.fd.as_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP)
    }

    /// The time-to-live of outgoing IPv4 multicast datagrams (`IP_MULTICAST_TTL`, default 1).
    ///
    /// # Errors
    /// The errors of setsockopt(2), e.g. `InvalidInput` above 255.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        let ttl = libc::c_int::try_from(ttl).map_err(|_| io::ErrorKind::InvalidInput)?;
        sys::set_option(
            self.fd.as_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_TTL,
            ttl,
        )
    }

    /// See [`set_multicast_ttl_v4`](Self::set_multicast_ttl_v4).
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        // The kernel answers a byte or an int, whichever length is asked for.
        sys::option::<libc::c_int>(self.fd.as_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_TTL)
            .map(|ttl| ttl as u32)
    }

    /// Whether this host's own IPv6 multicast datagrams loop back to it
    /// (`IPV6_MULTICAST_LOOP`; an IPv6 socket).
    ///
    /// # Errors
    /// The errors of setsockopt(2).
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        sys::set_flag(
            self.fd.as_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_LOOP,
            on,
        )
    }

    /// See [`set_multicast_loop_v6`](Self::set_multicast_loop_v6).
    ///
    /// # Errors
    /// The errors of getsockopt(2).
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        sys::flag(
            self.fd.as_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_LOOP,
        )
    }
}

fn ip_mreq(multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> libc::ip_mreq {
    libc::ip_mreq {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from_ne_bytes(multiaddr.octets()),
        },
        imr_interface: libc::in_addr {
            s_addr: u32::from_ne_bytes(interface.octets()),
        },
    }
}

fn ipv6_mreq(multiaddr: &Ipv6Addr, interface: u32) -> libc::ipv6_mreq {
    libc::ipv6_mreq {
        ipv6mr_multiaddr: libc::in6_addr {
            s6_addr: multiaddr.octets(),
        },
        ipv6mr_interface: interface,
    }
}

crate::descriptor::owned_descriptor!(UdpSocket);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.fd.as_raw_fd())
            .field("local", &self.local)
            .finish()
    }
}
