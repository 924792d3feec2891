//! Conversion between [`SocketAddr`] and the kernel's `sockaddr` structures.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

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
    fn an_empty_address_is_not_a_socket_address() {
        let mut raw = RawAddr::empty();
        let _ = raw.as_out();
        assert!(raw.to_socket_addr().is_err());
    }
}
