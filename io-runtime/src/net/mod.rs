//! TCP sockets whose blocking operations are cancellation points: [`TcpListener`] and
//! [`TcpStream`].
//!
//! Every socket is blocking and close-on-exec. On the threaded backend a blocked accept, connect,
//! read or write blocks the task's thread, and a cancel interrupts it (the call returns an error
//! for which [`is_canceled`](crate::is_canceled) is true). Other errors keep their
//! [`ErrorKind`](std::io::ErrorKind) (`ConnectionRefused`, `AddrInUse`, …) and name the
//! operation and address in their message. Addresses are [`SocketAddr`](std::net::SocketAddr)s:
//! name resolution blocks without a cancellation point, so it is not done here.
//!
//! The system calls themselves live in `crate::os`, which runs each one on the ring when the
//! task is a uring fiber and as a blocking, interruptible call otherwise.

pub(crate) mod addr;
mod listener;
mod stream;

pub use listener::TcpListener;
pub use stream::TcpStream;
