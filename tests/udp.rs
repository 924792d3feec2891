//! UDP sockets: datagrams arrive whole with their sender, peeking leaves them queued, errors
//! keep their kinds and name the address, options read back, and a task blocked in a receive
//! is canceled promptly without leaking descriptors.
//!
//! Every test takes `SERIAL` (descriptor counts are process-wide) and runs under a watchdog.

mod support;

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use io::net::UdpSocket;
use io::Io;
use support::{assert_cancel_interrupts, each_backend, open_fds, watched, PROMPT};

const LOCALHOST: ([u8; 4], u16) = ([127, 0, 0, 1], 0);
const WATCHDOG: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

fn run(name: &'static str, f: impl Fn(Io)) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watched(name, WATCHDOG, || each_backend(f));
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A port on 127.0.0.1 that nothing is bound to (it was a moment ago).
fn closed_port(io: Io) -> SocketAddr {
    let socket = UdpSocket::bind(io, LOCALHOST).unwrap();
    socket.local_addr().unwrap()
}

#[test]
fn datagrams_round_trip_with_their_sender() {
    run("round trip", |io| {
        let server = UdpSocket::bind(io, LOCALHOST).unwrap();
        let client = UdpSocket::bind(io, LOCALHOST).unwrap();
        let server_addr = server.local_addr().unwrap();
        assert_eq!(server_addr.ip(), Ipv4Addr::LOCALHOST);
        assert_ne!(server_addr.port(), 0);
        for len in [1, 1024, 60_000] {
            let sent = pattern(len);
            assert_eq!(client.send_to(io, &sent, server_addr).unwrap(), len);
            let mut buf = vec![0; 65_536];
            let (n, from) = server.recv_from(io, &mut buf).unwrap();
            assert_eq!(from, client.local_addr().unwrap());
            assert!(buf[..n] == sent[..], "datagram of {len} bytes changed");
            assert_eq!(server.send_to(io, &buf[..n], from).unwrap(), n);
            let (n, from) = client.recv_from(io, &mut buf).unwrap();
            assert_eq!((n, from), (len, server_addr));
        }
    });
}

#[test]
fn a_datagram_longer_than_the_buffer_is_cut_and_the_rest_dropped() {
    run("truncation", |io| {
        let server = UdpSocket::bind(io, LOCALHOST).unwrap();
        let client = UdpSocket::bind(io, LOCALHOST).unwrap();
        let to = server.local_addr().unwrap();
        client.send_to(io, b"0123456789", to).unwrap();
        client.send_to(io, b"next", to).unwrap();
        let mut small = [0; 4];
        assert_eq!(server.recv(io, &mut small).unwrap(), 4);
        assert_eq!(&small, b"0123");
        let mut buf = [0; 16];
        let n = server.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"next");
    });
}

#[test]
fn connected_sockets_send_and_recv_and_know_their_peer() {
    run("connected", |io| {
        let a = UdpSocket::bind(io, LOCALHOST).unwrap();
        let b = UdpSocket::bind(io, LOCALHOST).unwrap();
        assert_eq!(
            a.peer_addr().unwrap_err().kind(),
            ErrorKind::NotConnected,
            "an unconnected socket has no peer"
        );
        a.connect(io, b.local_addr().unwrap()).unwrap();
        b.connect(io, a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        a.send(io, b"hello").unwrap();
        let mut buf = [0; 16];
        let n = b.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        b.send(io, b"back").unwrap();
        let n = a.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"back");
        // A stranger's datagram does not reach a connected socket.
        let stranger = UdpSocket::bind(io, LOCALHOST).unwrap();
        stranger
            .send_to(io, b"stranger", a.local_addr().unwrap())
            .unwrap();
        b.send(io, b"peer").unwrap();
        let n = a.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"peer");
    });
}

#[test]
fn peeking_leaves_the_datagram_queued() {
    run("peek", |io| {
        let server = UdpSocket::bind(io, LOCALHOST).unwrap();
        let client = UdpSocket::bind(io, LOCALHOST).unwrap();
        client
            .send_to(io, b"first", server.local_addr().unwrap())
            .unwrap();
        client
            .send_to(io, b"second", server.local_addr().unwrap())
            .unwrap();
        let mut buf = [0; 16];
        let (n, from) = server.peek_from(io, &mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"first"[..], client.local_addr().unwrap())
        );
        let n = server.peek(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"first");
        let (n, _) = server.recv_from(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"first", "peeking consumed the datagram");
        let n = server.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"second");
    });
}

#[test]
fn a_datagram_to_a_closed_port_makes_the_next_recv_fail_with_connection_refused() {
    run("refused", |io| {
        let closed = closed_port(io);
        let socket = UdpSocket::bind(io, LOCALHOST).unwrap();
        socket.connect(io, closed).unwrap();
        socket.send(io, b"anyone?").unwrap();
        // The ICMP "port unreachable" of loopback arrives at once; bound the wait anyway.
        let error = io
            .timeout(PROMPT, || socket.recv(io, &mut [0; 16]))
            .expect("no answer to a datagram sent to a closed port")
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
        let local = socket.local_addr().unwrap();
        assert!(
            error.to_string().starts_with(&format!("recv {local}: ")),
            "{error}"
        );
    });
}

#[test]
fn binding_an_address_in_use_fails_naming_it() {
    run("in use", |io| {
        let first = UdpSocket::bind(io, LOCALHOST).unwrap();
        let addr = first.local_addr().unwrap();
        let error = UdpSocket::bind(io, addr).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AddrInUse);
        assert!(
            error.to_string().starts_with(&format!("bind {addr}: ")),
            "{error}"
        );
    });
}

#[test]
fn a_send_to_port_zero_fails_naming_the_address() {
    run("port zero", |io| {
        let socket = UdpSocket::bind(io, LOCALHOST).unwrap();
        let error = socket.send_to(io, b"x", ([127, 0, 0, 1], 0)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
        assert!(
            error.to_string().starts_with("send_to 127.0.0.1:0: "),
            "{error}"
        );
        assert_eq!(io::raw_os_error(&error), Some(libc::EINVAL));
    });
}

#[test]
fn options_read_back_what_was_set() {
    run("options", |io| {
        let socket = UdpSocket::bind(io, LOCALHOST).unwrap();
        assert!(!socket.broadcast().unwrap());
        socket.set_broadcast(true).unwrap();
        assert!(socket.broadcast().unwrap());
        socket.set_ttl(17).unwrap();
        assert_eq!(socket.ttl().unwrap(), 17);
        assert_eq!(
            socket.set_ttl(300).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        socket.set_multicast_loop_v4(false).unwrap();
        assert!(!socket.multicast_loop_v4().unwrap());
        socket.set_multicast_ttl_v4(5).unwrap();
        assert_eq!(socket.multicast_ttl_v4().unwrap(), 5);
        // Leaving a group never joined: EADDRNOTAVAIL, whatever interfaces the host has.
        let group = Ipv4Addr::new(239, 255, 0, 1);
        let error = socket
            .leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AddrNotAvailable, "{error}");
        let error = socket
            .join_multicast_v4(&Ipv4Addr::LOCALHOST, &Ipv4Addr::LOCALHOST)
            .unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::InvalidInput,
            "not a group: {error}"
        );
        let v6 = UdpSocket::bind(io, (std::net::Ipv6Addr::LOCALHOST, 0));
        if let Ok(v6) = v6 {
            v6.set_multicast_loop_v6(false).unwrap();
            assert!(!v6.multicast_loop_v6().unwrap());
            v6.set_multicast_loop_v6(true).unwrap();
            assert!(v6.multicast_loop_v6().unwrap());
        }
    });
}

#[test]
fn multicast_to_a_joined_group_loops_back_where_the_host_routes_it() {
    run("multicast", |io| {
        let group = Ipv4Addr::new(239, 255, 77, 1);
        let receiver = UdpSocket::bind(io, (Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        // Hosts without a multicast-capable interface refuse the join: nothing to test there.
        if let Err(e) = receiver.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED) {
            eprintln!("skipped: this host cannot join a multicast group: {e}");
            return;
        }
        let port = receiver.local_addr().unwrap().port();
        let sender = UdpSocket::bind(io, (Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        sender.set_multicast_loop_v4(true).unwrap();
        if let Err(e) = sender.send_to(io, b"to the group", (group, port)) {
            eprintln!("skipped: no route for multicast: {e}");
            return;
        }
        let mut buf = [0; 32];
        let got = io.timeout(PROMPT, || receiver.recv_from(io, &mut buf));
        let (n, _) = got
            .expect("the looped-back datagram did not arrive")
            .unwrap();
        assert_eq!(&buf[..n], b"to the group");
        receiver
            .leave_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
            .unwrap();
    });
}

#[test]
fn cancel_interrupts_a_blocked_recv_and_recv_from() {
    run("cancel recv", |io| {
        let before = open_fds();
        let socket = UdpSocket::bind(io, LOCALHOST).unwrap();
        assert_cancel_interrupts(io, || socket.recv(io, &mut [0; 64]));
        assert_cancel_interrupts(io, || socket.recv_from(io, &mut [0; 64]));
        assert_cancel_interrupts(io, || socket.peek_from(io, &mut [0; 64]));
        // The socket still works, and nothing was consumed.
        let client = UdpSocket::bind(io, LOCALHOST).unwrap();
        client
            .send_to(io, b"after", socket.local_addr().unwrap())
            .unwrap();
        let mut buf = [0; 8];
        let (n, from) = socket.recv_from(io, &mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"after"[..], client.local_addr().unwrap())
        );
        drop((socket, client));
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn std_sockets_convert_both_ways() {
    run("conversions", |io| {
        let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        std_socket.set_nonblocking(true).unwrap();
        let addr = std_socket.local_addr().unwrap();
        let socket = UdpSocket::from_std(io, std_socket).unwrap();
        assert_eq!(socket.local_addr().unwrap(), addr);
        // Made blocking: a receive waits (and is canceled) instead of failing WouldBlock.
        assert_cancel_interrupts(io, || socket.recv(io, &mut [0; 8]));
        let raw = socket.as_raw_fd();
        let fd = OwnedFd::from(socket);
        assert_eq!(fd.as_raw_fd(), raw);
        let back = std::net::UdpSocket::from(fd);
        assert_eq!(back.local_addr().unwrap(), addr);
    });
}

#[test]
fn addresses_may_be_strings_and_names() {
    run("address-like", |io| {
        let server = UdpSocket::bind(io, "127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        // `localhost` resolves without any file or nameserver; its IPv4 address comes first.
        let client = UdpSocket::bind(io, ("127.0.0.1", 0)).unwrap();
        client.send_to(io, b"by name", ("localhost", port)).unwrap();
        let mut buf = [0; 16];
        let (n, from) = server.recv_from(io, &mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"by name"[..], client.local_addr().unwrap())
        );
        client.connect(io, format!("127.0.0.1:{port}")).unwrap();
        assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
        let wrong = UdpSocket::bind(io, "no port here").unwrap_err();
        assert_eq!(wrong.kind(), ErrorKind::InvalidInput);
        let none: &[SocketAddr] = &[];
        assert_eq!(
            UdpSocket::bind(io, none).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}
