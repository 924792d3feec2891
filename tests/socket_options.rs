//! Socket options a server needs: `TcpSocket` set up before it listens or connects, options of
//! streams and listeners read back what was set and act (`SO_REUSEPORT` shares a port, a zero
//! linger resets the connection), and std's sockets convert both ways.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use io::net::{TcpListener, TcpSocket, TcpStream};
use io::Io;
use support::{assert_cancel_interrupts, each_backend, watched};

const LOCALHOST: ([u8; 4], u16) = ([127, 0, 0, 1], 0);
const WATCHDOG: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

fn run(name: &'static str, f: impl Fn(Io)) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watched(name, WATCHDOG, || each_backend(f));
}

#[test]
fn a_tcp_socket_reads_back_its_options_then_listens_and_connects() {
    run("tcp socket", |io| {
        let socket = TcpSocket::new_v4().unwrap();
        assert!(!socket.reuseaddr().unwrap());
        socket.set_reuseaddr(true).unwrap();
        assert!(socket.reuseaddr().unwrap());
        socket.set_reuseport(true).unwrap();
        assert!(socket.reuseport().unwrap());
        socket.set_keepalive(true).unwrap();
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.linger().unwrap(), None);
        socket.set_linger(Some(Duration::from_secs(3))).unwrap();
        assert_eq!(socket.linger().unwrap(), Some(Duration::from_secs(3)));
        socket.bind(LOCALHOST).unwrap();
        let bound = socket.local_addr().unwrap();
        let listener = socket.listen(16).unwrap();
        assert_eq!(listener.local_addr().unwrap(), bound);

        let client = TcpSocket::new_v4().unwrap();
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        let mut stream = client.connect(io, bound).unwrap();
        assert!(stream.nodelay().unwrap(), "the option survives the connect");
        assert_eq!(stream.peer_addr().unwrap(), bound);
        let (server, peer) = listener.accept(io).unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
        assert!(
            server.keepalive().unwrap(),
            "accepted sockets inherit SO_KEEPALIVE"
        );
        Write::write_all(&mut stream, b"through").unwrap();
        let mut buf = [0; 7];
        (&server).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"through");
    });
}

#[test]
fn reuseport_lets_two_listeners_share_a_port_and_without_it_the_port_is_in_use() {
    run("reuseport", |io| {
        let shared = |addr: SocketAddr| {
            let socket = TcpSocket::new_v4()?;
            socket.set_reuseport(true)?;
            socket.bind(addr)?;
            socket.listen(16)
        };
        let first = shared(LOCALHOST.into()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = shared(addr).expect("SO_REUSEPORT shares the port");
        assert_eq!(second.local_addr().unwrap(), addr);
        let error = TcpListener::bind(io, addr).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AddrInUse);
        let plain = TcpSocket::new_v4().unwrap();
        let error = plain.bind(addr).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AddrInUse);
        assert!(
            error.to_string().starts_with(&format!("bind {addr}: ")),
            "{error}"
        );
    });
}

#[test]
fn stream_and_listener_options_read_back() {
    run("stream options", |io| {
        let listener = TcpListener::bind(io, LOCALHOST).unwrap();
        listener.set_ttl(42).unwrap();
        assert_eq!(listener.ttl().unwrap(), 42);
        let stream = TcpStream::connect(io, listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept(io).unwrap();
        assert_eq!(
            accepted.ttl().unwrap(),
            42,
            "accepted sockets inherit IP_TTL"
        );
        assert!(!stream.nodelay().unwrap());
        stream.set_nodelay(true).unwrap();
        assert!(stream.nodelay().unwrap());
        stream.set_ttl(9).unwrap();
        assert_eq!(stream.ttl().unwrap(), 9);
        assert_eq!(
            stream.set_ttl(256).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert!(!stream.keepalive().unwrap());
        stream.set_keepalive(true).unwrap();
        assert!(stream.keepalive().unwrap());
        stream.set_linger(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(stream.linger().unwrap(), Some(Duration::from_secs(1)));
        stream.set_linger(None).unwrap();
        assert_eq!(stream.linger().unwrap(), None);
    });
}

#[test]
fn a_zero_linger_makes_close_reset_the_connection() {
    run("linger zero", |io| {
        let listener = TcpListener::bind(io, LOCALHOST).unwrap();
        let stream = TcpStream::connect(io, listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept(io).unwrap();
        stream.set_linger(Some(Duration::ZERO)).unwrap();
        drop(stream);
        let error = accepted.read(io, &mut [0; 8]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    });
}

#[test]
fn std_tcp_sockets_convert_both_ways() {
    run("conversions", |io| {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::from_std(io, std_listener).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);
        // Made blocking: accept waits (and is canceled) instead of failing WouldBlock.
        assert_cancel_interrupts(io, || listener.accept(io));
        let std_stream = std::net::TcpStream::connect(addr).unwrap();
        std_stream.set_nonblocking(true).unwrap();
        let mut stream = TcpStream::from_std(io, std_stream).unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        let (accepted, _) = listener.accept(io).unwrap();
        // The accepted stream back to std, through a raw descriptor.
        let raw = accepted.into_raw_fd();
        // SAFETY: `raw` came from into_raw_fd, which gave up its ownership.
        let mut std_accepted = unsafe { std::net::TcpStream::from_raw_fd(raw) };
        Write::write_all(&mut stream, b"to std").unwrap();
        let mut buf = [0; 6];
        std_accepted.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"to std");
        let fd = OwnedFd::from(listener);
        assert!(fd.as_raw_fd() >= 0);
        let back = std::net::TcpListener::from(fd);
        assert_eq!(back.local_addr().unwrap(), addr);
    });
}
