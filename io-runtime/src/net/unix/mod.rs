//! Unix domain sockets: [`UnixListener`], [`UnixStream`] and [`UnixDatagram`].
//!
//! Addresses are std's [`SocketAddr`](std::os::unix::net::SocketAddr): a pathname (the
//! `path` methods), or an abstract name (Linux: no file, gone with the last socket), made with
//! [`SocketAddrExt::from_abstract_name`](std::os::linux::net::SocketAddrExt::from_abstract_name)
//! and passed to the `_addr` methods. Sockets are blocking and close-on-exec; the blocking
//! operations (accept, connect, reads, writes, sends, receives) are cancellation points on every
//! backend, through the same operations as TCP's (and `SENDMSG`/`RECVMSG` for datagrams to and
//! from an address). Errors name the operation and the address ("connect /tmp/x.sock: …",
//! abstract names shown as `@name`).

mod datagram;
mod listener;
mod stream;

use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::net::SocketAddr as UnixAddr;
use std::path::Path;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use stream::UnixStream;

use super::addr::{RawAddr, ShowUnix};
use super::sys;
use crate::os::annotate;

/// The address of `path`, or `InvalidInput` naming `op` and the path (a path too long for a
/// socket address, or with a NUL byte).
fn path_addr(op: &'static str, path: &Path) -> io::Result<UnixAddr> {
    UnixAddr::from_pathname(path).map_err(|e| annotate(op, path.display(), e))
}

/// `addr` in the kernel's layout, or an error naming `op` and the address.
fn raw(op: &'static str, addr: &UnixAddr) -> io::Result<RawAddr> {
    RawAddr::from_unix(addr).map_err(|e| annotate(op, ShowUnix(addr), e))
}

/// What an error on a connected socket names: the peer's address, else this end's.
fn target(fd: BorrowedFd<'_>) -> String {
    let addr = sys::unix_addr(fd, true).or_else(|_| sys::unix_addr(fd, false));
    match addr {
        Ok(addr) => ShowUnix(&addr).to_string(),
        Err(_) => "(unknown)".to_owned(),
    }
}
