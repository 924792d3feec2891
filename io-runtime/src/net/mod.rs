//! Sockets whose blocking operations are cancellation points: TCP ([`TcpListener`],
//! [`TcpStream`], and [`TcpSocket`] to set options first), UDP ([`UdpSocket`]) and Unix
//! domain sockets ([`UnixListener`], [`UnixStream`], [`UnixDatagram`]).
//!
//! Every socket is blocking and close-on-exec. On the threaded backend a blocked accept, connect,
//! read or write blocks the task's thread, and a cancel interrupts it (the call returns an error
//! for which [`is_canceled`](crate::is_canceled) is true). Other errors keep their
//! [`ErrorKind`](std::io::ErrorKind) (`ConnectionRefused`, `AddrInUse`, …) and name the
//! operation and address in their message.
//!
//! Addresses are anything [`ToSocketAddrs`]: a [`SocketAddr`](std::net::SocketAddr),
//! `"127.0.0.1:8080"`, `("localhost", 80)`, `("db.internal", 5432)`. Names are resolved by
//! [`lookup_host`] — a literal address as it is, then the hosts file, then `localhost`, then
//! the nameservers of resolv.conf over this runtime's own UDP sockets — so a lookup is a
//! cancellation point like any read; [`ResolverConfig`] (set with
//! [`Builder::resolver`](crate::Builder::resolver)) says which files it reads.
//!
//! Each blocking operation is a type in `backend::op` (its io_uring entry, its blocking system
//! call, and what a completion that won the race against its cancel leaves behind), and each
//! backend decides how to run it; the sockets call thin functions in `crate::os`, which also
//! holds the non-blocking calls (`socket`, `bind`, `listen`, …).

pub(crate) mod addr;
mod listener;
mod lookup;
mod socket;
mod stream;
mod sys;
mod to_socket_addrs;
mod udp;
mod unix;

pub use listener::TcpListener;
pub use lookup::{lookup_host, ResolverConfig};
pub use socket::TcpSocket;
pub use stream::TcpStream;
pub use to_socket_addrs::{SocketAddrs, ToSocketAddrs};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
