//! Conversion between [`SocketAddr`] and the kernel's `sockaddr` structures.

use std::fmt;
use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr as UnixAddr;
use std::sync::OnceLock;

/// A socket address in the kernel's layout: storage big enough for any family, and the length
/// of the part in use.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    /// Room for an address the kernel will write (accept, getsockname).
    pub(crate) fn empty() -> Self {
        Self {
            storage: zeroed_storage(),
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// `addr` in the kernel's layout.
    pub(crate) fn from(addr: &SocketAddr) -> Self {
        let mut storage = zeroed_storage();
        let len = match addr {
            SocketAddr::V4(v4) => write_into(&mut storage, inet(v4)),
            SocketAddr::V6(v6) => write_into(&mut storage, inet6(v6)),
        };
        Self { storage, len }
    }

    /// The address for calls that read one (bind, connect).
    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    /// The length of the address in use.
    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// The storage and its length for calls that write an address (accept, getpeername).
    pub(crate) fn as_out(&mut self) -> (*mut libc::sockaddr, *mut libc::socklen_t) {
        self.len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        (
            (&mut self.storage as *mut libc::sockaddr_storage).cast(),
            &mut self.len,
        )
    }

    /// The storage and its capacity, for a call that reports the written length elsewhere
    /// (recvmsg's header; see [`set_len`](Self::set_len)).
    pub(crate) fn as_mut_storage(&mut self) -> (*mut libc::sockaddr, libc::socklen_t) {
        let capacity = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        (
            (&mut self.storage as *mut libc::sockaddr_storage).cast(),
            capacity,
        )
    }

    /// Records the length of the address the kernel wrote (`recvmsg` reports it in its header).
    pub(crate) fn set_len(&mut self, len: libc::socklen_t) {
        self.len = len.min(size_of::<libc::sockaddr_storage>() as libc::socklen_t);
    }

    /// The family of the address in the storage (`AF_UNSPEC` if none was written).
    pub(crate) fn family(&self) -> libc::c_int {
        libc::c_int::from(self.storage.ss_family)
    }

    /// `addr`, a Unix socket address (pathname or abstract), in the kernel's layout.
    ///
    /// # Errors
    /// `InvalidInput` for an unnamed address, which nothing can bind or connect to.
    pub(crate) fn from_unix(addr: &UnixAddr) -> io::Result<Self> {
        // SAFETY: sockaddr_un is plain old data for which all-zero bytes are a valid value.
        let mut un: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        un.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let (name, skip): (&[u8], usize) = if let Some(path) = addr.as_pathname() {
            (path.as_os_str().as_bytes(), 0)
        } else if let Some(name) = addr.as_abstract_name() {
            // An abstract name is a NUL byte, then the name (no terminator).
            (name, 1)
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an unnamed Unix socket address cannot be bound or connected to",
            ));
        };
        // std made `addr`, so the name fits (a pathname with room for its terminator).
        for (slot, &byte) in un.sun_path[skip..].iter_mut().zip(name) {
            *slot = byte as libc::c_char;
        }
        let path_offset = std::mem::offset_of!(libc::sockaddr_un, sun_path);
        // A pathname counts its terminating NUL, as std and the kernel do.
        let len = path_offset + skip + name.len() + usize::from(skip == 0);
        let mut storage = zeroed_storage();
        write_into(&mut storage, un);
        let len = len.min(size_of::<libc::sockaddr_un>()) as libc::socklen_t;
        Ok(Self { storage, len })
    }

    /// The address the kernel wrote, if it is a Unix socket address (an unnamed one too).
    pub(crate) fn to_unix(&self) -> io::Result<UnixAddr> {
        let family = self.family();
        let len = self.len as usize;
        let path_offset = std::mem::offset_of!(libc::sockaddr_un, sun_path);
        // recvmsg reports no address at all (length 0) for a sender that has none.
        if len == 0 {
            return unnamed_unix();
        }
        if family != libc::AF_UNIX || len < path_offset {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected socket address family {family}"),
            ));
        }
        // SAFETY: the kernel wrote a sockaddr_un (family checked) at the start of the storage,
        // which is larger than and aligned for it.
        let un = unsafe { &*(self.as_ptr().cast::<libc::sockaddr_un>()) };
        let name_len = (len - path_offset).min(un.sun_path.len());
        let bytes: Vec<u8> = un.sun_path[..name_len].iter().map(|&c| c as u8).collect();
        match bytes.split_first() {
            None => unnamed_unix(),
            Some((0, abstract_name)) => UnixAddr::from_abstract_name(abstract_name),
            Some(_) => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                UnixAddr::from_pathname(std::ffi::OsStr::from_bytes(&bytes[..end]))
            }
        }
    }

    /// The address the kernel wrote, if it is IPv4 or IPv6.
    pub(crate) fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        let family = libc::c_int::from(self.storage.ss_family);
        let len = self.len as usize;
        if family == libc::AF_INET && len >= size_of::<libc::sockaddr_in>() {
            // SAFETY: the kernel wrote a sockaddr_in (family and length checked) at the start
            // of the storage, which is aligned for any sockaddr type.
            let sin = unsafe { *(self.as_ptr().cast::<libc::sockaddr_in>()) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            return Ok(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into());
        }
        if family == libc::AF_INET6 && len >= size_of::<libc::sockaddr_in6>() {
            // SAFETY: as above, for a sockaddr_in6.
            let sin6 = unsafe { *(self.as_ptr().cast::<libc::sockaddr_in6>()) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            return Ok(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected socket address family {family}"),
        ))
    }
}

/// The unnamed Unix socket address (std has no constructor for it: it is read once from an
/// unbound socket, whose address it is).
fn unnamed_unix() -> io::Result<UnixAddr> {
    static UNNAMED: OnceLock<UnixAddr> = OnceLock::new();
    if let Some(addr) = UNNAMED.get() {
        return Ok(addr.clone());
    }
    let addr = std::os::unix::net::UnixDatagram::unbound()?.local_addr()?;
    Ok(UNNAMED.get_or_init(|| addr).clone())
}

/// A Unix socket address as error messages show it: the path, `@name` for an abstract name
/// (bytes that are not printable escaped), `(unnamed)`.
pub(crate) struct ShowUnix<'a>(pub(crate) &'a UnixAddr);

impl fmt::Display for ShowUnix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = self.0.as_pathname() {
            write!(f, "{}", path.display())
        } else if let Some(name) = self.0.as_abstract_name() {
            write!(f, "@{}", name.escape_ascii())
        } else {
            f.write_str("(unnamed)")
        }
    }
}

fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain old data for which all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

/// Writes `addr` at the start of `storage`; returns its length.
fn write_into<T: Copy>(storage: &mut libc::sockaddr_storage, addr: T) -> libc::socklen_t {
    const { assert!(size_of::<T>() <= size_of::<libc::sockaddr_storage>()) };
    // SAFETY: sockaddr_storage is larger than and aligned for every sockaddr type (checked
    // size above; its alignment is the strictest of them by definition).
    unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast::<T>(), addr) };
    size_of::<T>() as libc::socklen_t
}

fn inet(addr: &SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

fn inet6(addr: &SocketAddrV6) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: addr.port().to_be(),
        sin6_flowinfo: addr.flowinfo(),
        sin6_addr: libc::in6_addr {
            s6_addr: addr.ip().octets(),
        },
        sin6_scope_id: addr.scope_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_survive_the_round_trip_through_the_kernel_layout() {
        let cases: [SocketAddr; 3] = [
            "127.0.0.1:8080".parse().unwrap(),
            "[::1]:443".parse().unwrap(),
            SocketAddrV6::new(Ipv6Addr::LOCALHOST, 7, 0x1234, 3).into(),
        ];
        for addr in cases {
            assert_eq!(RawAddr::from(&addr).to_socket_addr().unwrap(), addr);
        }
    }

    #[test]
    fn unix_addresses_survive_the_round_trip_through_the_kernel_layout() {
        let cases = [
            UnixAddr::from_pathname("/tmp/some.sock").unwrap(),
            UnixAddr::from_abstract_name(b"io\0test").unwrap(),
            UnixAddr::from_abstract_name(b"").unwrap(),
        ];
        for addr in cases {
            let back = RawAddr::from_unix(&addr).unwrap().to_unix().unwrap();
            assert_eq!(back.as_pathname(), addr.as_pathname());
            assert_eq!(back.as_abstract_name(), addr.as_abstract_name());
        }
        let unnamed = unnamed_unix().unwrap();
        assert!(unnamed.is_unnamed());
        assert!(RawAddr::from_unix(&unnamed).is_err());
        assert_eq!(ShowUnix(&cases_name()).to_string(), "@io\\x00test");
    }

    fn cases_name() -> UnixAddr {
        UnixAddr::from_abstract_name(b"io\0test").unwrap()
    }

    #[test]
    fn an_empty_address_is_not_a_socket_address() {
        let mut raw = RawAddr::empty();
        let _ = raw.as_out();
        assert!(raw.to_socket_addr().is_err());
    }
}
