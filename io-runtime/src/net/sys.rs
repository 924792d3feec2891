//! The socket calls of UDP, Unix sockets and socket options, as [`crate::net`] calls them (the
//! TCP ones are in `crate::os`). Blocking calls run an op of `backend::op` through `perform`, as
//! cancellation points; the others (`socket`, `bind`, `listen`, options, addresses) never block.

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::SocketAddr as UnixAddr;

use super::addr::RawAddr;
use crate::backend::op;
use crate::backend::perform;

/// Fails with the last OS error if `rc` is negative.
fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// A new blocking socket with `SOCK_CLOEXEC`.
pub(crate) fn socket(family: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes only integers.
    let fd = check(unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: socket(2) just returned `fd`; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The address family of an IP address.
pub(crate) fn family_of(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// A connected pair of blocking Unix sockets of type `ty`, with `SOCK_CLOEXEC`.
pub(crate) fn socketpair(ty: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is writable room for the two descriptors.
    check(unsafe {
        libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    })?;
    // SAFETY: socketpair(2) just returned both descriptors; nobody else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Binds `fd` to `addr`. Never blocks.
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: `addr` holds a valid sockaddr of `addr.len()` bytes.
    check(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr(), addr.len()) }).map(drop)
}

/// Listens on a bound socket. Never blocks.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: u32) -> io::Result<()> {
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen(2) takes a descriptor, which stays open, and an integer.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// The local (`peer == false`) or remote address of a socket, in the kernel's layout.
pub(crate) fn raw_addr(fd: BorrowedFd<'_>, peer: bool) -> io::Result<RawAddr> {
    let mut raw = RawAddr::empty();
    let (ptr, len) = raw.as_out();
    // SAFETY: `ptr` points to writable storage of `*len` bytes; the kernel writes at most that
    // many and stores the real length in `*len`.
    check(unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), ptr, len)
        } else {
            libc::getsockname(fd.as_raw_fd(), ptr, len)
        }
    })?;
    Ok(raw)
}

/// The local or remote address of a Unix socket.
pub(crate) fn unix_addr(fd: BorrowedFd<'_>, peer: bool) -> io::Result<UnixAddr> {
    raw_addr(fd, peer)?.to_unix()
}

/// Sets a socket option whose value is a `T`. Never blocks.
pub(crate) fn set_option<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: `value` is a readable T and the length passed is its size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Reads a socket option whose value is a `T` (plain old data: all-zero bytes are a `T`).
pub(crate) fn option<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    // SAFETY: the callers pass only C integer and struct types, for which all-zero bytes are a
    // valid value.
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` and `len` are writable and `len` holds the size of `value`.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// Sets an on/off (integer) socket option.
pub(crate) fn set_flag(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    on: bool,
) -> io::Result<()> {
    set_option(fd, level, name, libc::c_int::from(on))
}

/// Reads an on/off (integer) socket option.
pub(crate) fn flag(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
    option::<libc::c_int>(fd, level, name).map(|value| value != 0)
}

/// Connects `fd` to `addr` (a cancellation point while a stream connection is set up).
pub(crate) fn connect(fd: BorrowedFd<'_>, addr: &RawAddr) -> io::Result<()> {
    perform(op::Connect::new(fd, addr)).map(drop)
}

/// Waits for a connection on a listening socket; the new socket has `SOCK_CLOEXEC` and blocks.
pub(crate) fn accept(fd: BorrowedFd<'_>) -> io::Result<(OwnedFd, RawAddr)> {
    let mut peer = RawAddr::empty();
    let stream = perform(op::Accept::new(fd, &mut peer))?;
    // SAFETY: accept4 just returned this descriptor; nobody else owns it.
    let stream = unsafe { OwnedFd::from_raw_fd(stream as libc::c_int) };
    Ok((stream, peer))
}

/// Receives from a connected socket, with recv(2)'s `flags`.
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    perform(op::Recv::with_flags(fd, buf, flags))
}

/// Sends on a connected socket; a closed peer is `EPIPE`, never `SIGPIPE`.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    perform(op::Send::new(fd, buf))
}

/// Sends one datagram to `to`.
pub(crate) fn send_to(fd: BorrowedFd<'_>, buf: &[u8], to: &RawAddr) -> io::Result<usize> {
    perform(op::SendMsg::new(fd, buf, to))
}

/// Receives one datagram (`flags`: `MSG_PEEK` leaves it queued) and the address it came from.
pub(crate) fn recv_from(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, RawAddr)> {
    let mut from = RawAddr::empty();
    let mut op = op::RecvMsg::new(fd, buf, &mut from, flags);
    let received = perform(&mut op)?;
    op.finish();
    Ok((received, from))
}

/// Makes a socket from std blocking (a runtime socket must block: see `crate::net`).
pub(crate) fn set_blocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl(F_GETFL) takes a descriptor, which stays open.
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        return Ok(());
    }
    // SAFETY: fcntl(F_SETFL) takes a descriptor, which stays open, and integer flags.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) })
        .map(drop)
}
