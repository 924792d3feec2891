//! Sockets whose blocking operations are cancellation points: TCP ([`TcpListener`],
//! [`TcpStream`], and [`TcpSocket`] to set options first), UDP ([`UdpSocket`]) and Unix
//! domain sockets ([`UnixListener`], [`UnixStream`], [`UnixDatagram`]).
//!
//! Every socket is blocking and close-on-exec. On the threaded backend a blocked accept, connect,
//! read or write blocks the task's thread, and a cancel interrupts it (the call returns an error
//! for which [`is_canceled`](crate::is_canceled) is true). Other errors keep their
//! [`ErrorKind`](std::io::ErrorKind) (`ConnectionRefused`, `AddrInUse`, …) and name the
//! operation and address in their message. Addresses are [`SocketAddr`](std::net::SocketAddr)s:
//! name resolution blocks without a cancellation point, so it is not done here.
//!
//! Each blocking operation is a type in `backend::op` (its io_uring entry, its blocking system
//! call, and what a completion that won the race against its cancel leaves behind), and each
//! backend decides how to run it; the sockets call thin functions in `crate::os`, which also
//! holds the non-blocking calls (`socket`, `bind`, `listen`, …).

pub(crate) mod addr;
mod listener;
mod socket;
mod stream;
mod sys;
mod udp;
mod unix;

pub use listener::TcpListener;
pub use socket::TcpSocket;
pub use stream::TcpStream;
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
