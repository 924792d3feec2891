//! [`ToSocketAddrs`]: anything address-like, resolved with an [`Io`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::io::Io;
use crate::os::annotate;

/// Something that names one or more socket addresses: a [`SocketAddr`] (V4, V6), an
/// `(IpAddr, u16)` (also with [`Ipv4Addr`], [`Ipv6Addr`], `[u8; 4]` or `[u16; 8]`), a
/// `"host:port"` string (`&str`, `String`), a `(host, port)` pair, a `&[SocketAddr]`, or a
/// reference to any of them.
///
/// [`TcpListener::bind`](super::TcpListener::bind), [`TcpStream::connect`](super::TcpStream::connect)
/// and [`lookup_host`](super::lookup_host) take one. Literal addresses resolve without any
/// lookup; names go through [`lookup_host`](super::lookup_host)'s resolver (hosts file, then
/// DNS), which is a cancellation point.
///
/// The trait is sealed, as tokio's is: it is implemented for the types above only, so methods
/// can be added to it later without breaking anyone.
///
/// # Examples
/// ```
/// use std::net::{Ipv6Addr, SocketAddr};
/// use io::net::ToSocketAddrs;
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| -> std::io::Result<()> {
///     let one: SocketAddr = "127.0.0.1:80".parse().unwrap();
///     assert_eq!(one.to_socket_addrs(io)?.collect::<Vec<_>>(), [one]);
///     assert_eq!("127.0.0.1:80".to_socket_addrs(io)?.next(), Some(one));
///     assert_eq!(([127, 0, 0, 1], 80).to_socket_addrs(io)?.next(), Some(one));
///     assert_eq!(("127.0.0.1", 80).to_socket_addrs(io)?.next(), Some(one));
///     let v6 = (Ipv6Addr::LOCALHOST, 443).to_socket_addrs(io)?.next().unwrap();
///     assert_eq!(v6.to_string(), "[::1]:443");
///     // A name is looked up: localhost is 127.0.0.1 and ::1 (unless the hosts file says
///     // otherwise).
///     assert!(("localhost", 80).to_socket_addrs(io)?.all(|a| a.ip().is_loopback()));
///     let wrong = "no port here".to_socket_addrs(io).unwrap_err();
///     assert_eq!(wrong.kind(), std::io::ErrorKind::InvalidInput);
///     Ok(())
/// }).unwrap();
/// ```
pub trait ToSocketAddrs: sealed::Sealed {
    /// Resolves to the socket addresses it names, in order.
    ///
    /// # Errors
    /// Those of [`lookup_host`](super::lookup_host) for a name; `InvalidInput` for a string
    /// that is neither an address nor `host:port`.
    ///
    /// # Cancelation
    /// A cancellation point when a name is looked up; never for a literal address.
    fn to_socket_addrs(&self, io: Io) -> io::Result<SocketAddrs>;
}

mod sealed {
    /// Implemented only in this crate.
    pub trait Sealed {}
}

/// The addresses a [`ToSocketAddrs`] resolved to, in order.
///
/// # Examples
/// ```
/// use std::net::SocketAddr;
/// use io::net::ToSocketAddrs;
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let addrs: [SocketAddr; 2] = ["127.0.0.1:1".parse().unwrap(), "127.0.0.1:2".parse().unwrap()];
/// let resolved = runtime.run(|io| addrs[..].to_socket_addrs(io)).unwrap();
/// assert_eq!(resolved.len(), 2);
/// assert_eq!(resolved.collect::<Vec<_>>(), addrs);
/// ```
#[derive(Debug, Clone)]
pub struct SocketAddrs {
    inner: std::vec::IntoIter<SocketAddr>,
}

impl SocketAddrs {
    fn from_vec(addrs: Vec<SocketAddr>) -> Self {
        Self {
            inner: addrs.into_iter(),
        }
    }

    fn one(addr: SocketAddr) -> Self {
        Self::from_vec(vec![addr])
    }
}

impl Iterator for SocketAddrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for SocketAddrs {}

impl DoubleEndedIterator for SocketAddrs {
    fn next_back(&mut self) -> Option<SocketAddr> {
        self.inner.next_back()
    }
}

/// Literal address types: no lookup.
macro_rules! literal {
    ($($ty:ty),* $(,)?) => {$(
        impl sealed::Sealed for $ty {}
        impl ToSocketAddrs for $ty {
            fn to_socket_addrs(&self, _io: Io) -> io::Result<SocketAddrs> {
                Ok(SocketAddrs::one(SocketAddr::from(*self)))
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
);

impl sealed::Sealed for ([u8; 4], u16) {}
impl ToSocketAddrs for ([u8; 4], u16) {
    fn to_socket_addrs(&self, _io: Io) -> io::Result<SocketAddrs> {
        Ok(SocketAddrs::one((Ipv4Addr::from(self.0), self.1).into()))
    }
}

impl sealed::Sealed for ([u16; 8], u16) {}
impl ToSocketAddrs for ([u16; 8], u16) {
    fn to_socket_addrs(&self, _io: Io) -> io::Result<SocketAddrs> {
        Ok(SocketAddrs::one((Ipv6Addr::from(self.0), self.1).into()))
    }
}

impl sealed::Sealed for str {}
impl ToSocketAddrs for str {
    fn to_socket_addrs(&self, io: Io) -> io::Result<SocketAddrs> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(SocketAddrs::one(addr));
        }
        let invalid = |why: &str| {
            let error = io::Error::new(io::ErrorKind::InvalidInput, why.to_owned());
            annotate("lookup", self, error)
        };
        let (host, port) = self
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected host:port"))?;
        let port = port.parse::<u16>().map_err(|_| invalid("invalid port"))?;
        super::lookup::resolve(io, host, port).map(SocketAddrs::from_vec)
    }
}

impl sealed::Sealed for String {}
impl ToSocketAddrs for String {
    fn to_socket_addrs(&self, io: Io) -> io::Result<SocketAddrs> {
        self.as_str().to_socket_addrs(io)
    }
}

impl sealed::Sealed for (&str, u16) {}
impl ToSocketAddrs for (&str, u16) {
    fn to_socket_addrs(&self, io: Io) -> io::Result<SocketAddrs> {
        super::lookup::resolve(io, self.0, self.1).map(SocketAddrs::from_vec)
    }
}

impl sealed::Sealed for (String, u16) {}
impl ToSocketAddrs for (String, u16) {
    fn to_socket_addrs(&self, io: Io) -> io::Result<SocketAddrs> {
        (self.0.as_str(), self.1).to_socket_addrs(io)
    }
}

impl sealed::Sealed for [SocketAddr] {}
impl ToSocketAddrs for [SocketAddr] {
    fn to_socket_addrs(&self, _io: Io) -> io::Result<SocketAddrs> {
        Ok(SocketAddrs::from_vec(self.to_vec()))
    }
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_socket_addrs(&self, io: Io) -> io::Result<SocketAddrs> {
        (**self).to_socket_addrs(io)
    }
}

/// The error of an address-like value that resolved to no address at all (an empty slice).
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}
