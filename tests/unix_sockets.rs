//! Unix domain sockets: streams and datagrams over pathname and abstract addresses and over
//! pairs, errors that keep their kinds and name the path, and a task blocked in accept, read,
//! recv or recv_from canceled promptly without leaking descriptors.
//!
//! Every test takes `SERIAL` (descriptor counts are process-wide) and runs under a watchdog.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use io::net::{UnixDatagram, UnixListener, UnixStream};
use io::Io;
use support::{assert_cancel_interrupts, each_backend, open_fds, watched};

const WATCHDOG: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

fn run(name: &'static str, f: impl Fn(Io)) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watched(name, WATCHDOG, || each_backend(f));
}

/// A fresh, empty directory of this test process, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("io-unix-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An abstract name no other test process uses.
fn abstract_name(tag: &str) -> SocketAddr {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("io-test-{}-{tag}-{n}", std::process::id());
    SocketAddr::from_abstract_name(name).unwrap()
}

/// Echoes one connection of `listener` back, then checks a client's round trip through it.
fn echo_round_trip(io: Io, listener: &UnixListener, client: impl FnOnce() -> UnixStream) {
    let client = client();
    let sent: Vec<u8> = (0..100_000).map(|i| (i % 253) as u8).collect();
    io.scope(|s| {
        let server = s
            .spawn_concurrent(|| -> std::io::Result<(u64, SocketAddr)> {
                let (stream, peer) = listener.accept(io)?;
                let copied = std::io::copy(&mut &stream, &mut &stream)?;
                stream.shutdown(io, Shutdown::Write)?;
                Ok((copied, peer))
            })
            .unwrap();
        let writer = s
            .spawn_concurrent(|| -> std::io::Result<()> {
                Write::write_all(&mut &client, &sent)?;
                client.shutdown(io, Shutdown::Write)
            })
            .unwrap();
        let mut received = Vec::new();
        (&client).read_to_end(&mut received).unwrap();
        writer.join(io).unwrap();
        let (copied, peer) = server.join(io).unwrap();
        assert_eq!(copied, sent.len() as u64);
        assert!(received == sent, "the echoed bytes differ");
        assert!(peer.is_unnamed(), "an unbound client has no name: {peer:?}");
    });
}

#[test]
fn a_stream_round_trips_through_a_pathname_listener() {
    run("pathname stream", |io| {
        let dir = TempDir::new();
        let path = dir.join("echo.sock");
        let listener = UnixListener::bind(io, &path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        echo_round_trip(io, &listener, || {
            let client = UnixStream::connect(io, &path).unwrap();
            assert_eq!(
                client.peer_addr().unwrap().as_pathname(),
                Some(path.as_path())
            );
            assert!(client.local_addr().unwrap().is_unnamed());
            client
        });
    });
}

#[test]
fn a_stream_round_trips_through_an_abstract_listener() {
    run("abstract stream", |io| {
        let name = abstract_name("stream");
        let listener = UnixListener::bind_addr(io, &name).unwrap();
        let local = listener.local_addr().unwrap();
        assert_eq!(local.as_abstract_name(), name.as_abstract_name());
        echo_round_trip(io, &listener, || {
            let client = UnixStream::connect_addr(io, &name).unwrap();
            let peer = client.peer_addr().unwrap();
            assert_eq!(peer.as_abstract_name(), name.as_abstract_name());
            client
        });
    });
}

#[test]
fn a_stream_pair_is_connected_both_ways_and_peeks() {
    run("stream pair", |io| {
        let (a, b) = UnixStream::pair(io).unwrap();
        a.write_all(io, b"to b").unwrap();
        b.write_all(io, b"to a").unwrap();
        let mut buf = [0; 4];
        assert_eq!(b.peek(io, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"to b");
        b.read(io, &mut buf).unwrap();
        assert_eq!(&buf, b"to b", "peeking consumed the data");
        (&a).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"to a");
        assert!(a.peer_addr().unwrap().is_unnamed());
        a.shutdown(io, Shutdown::Write).unwrap();
        assert_eq!(
            b.read(io, &mut buf).unwrap(),
            0,
            "end of file after shutdown"
        );
        drop(b);
        let error = a.write(io, b"gone").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BrokenPipe, "{error}");
        assert!(
            error.to_string().starts_with("write (unnamed): "),
            "{error}"
        );
    });
}

#[test]
fn datagrams_carry_their_senders_address() {
    run("datagrams", |io| {
        let dir = TempDir::new();
        let server_path = dir.join("server.sock");
        let client_path = dir.join("client.sock");
        let server = UnixDatagram::bind(io, &server_path).unwrap();
        let named = UnixDatagram::bind(io, &client_path).unwrap();
        let unbound = UnixDatagram::unbound(io).unwrap();
        assert!(unbound.local_addr().unwrap().is_unnamed());
        named.send_to(io, b"from named", &server_path).unwrap();
        unbound.send_to(io, b"from unbound", &server_path).unwrap();
        let mut buf = [0; 32];
        let (n, from) = server.recv_from(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"from named");
        assert_eq!(from.as_pathname(), Some(client_path.as_path()));
        let (n, from) = server.recv_from(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"from unbound");
        assert!(from.is_unnamed());
        // An answer to the named sender, through its address.
        server
            .send_to_addr(io, b"answer", &named.local_addr().unwrap())
            .unwrap();
        let n = named.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"answer");
        // Connected: send and recv, peek leaves the datagram.
        unbound.connect(io, &server_path).unwrap();
        assert_eq!(
            unbound.peer_addr().unwrap().as_pathname(),
            Some(server_path.as_path())
        );
        unbound.send(io, b"connected").unwrap();
        let n = server.peek(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"connected");
        let n = server.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"connected");
    });
}

#[test]
fn datagrams_reach_an_abstract_address_and_a_pair() {
    run("abstract datagrams", |io| {
        let name = abstract_name("dgram");
        let server = UnixDatagram::bind_addr(io, &name).unwrap();
        let client = UnixDatagram::bind_addr(io, &abstract_name("dgram-client")).unwrap();
        client.send_to_addr(io, b"abstract", &name).unwrap();
        let mut buf = [0; 16];
        let (n, from) = server.recv_from(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"abstract");
        assert_eq!(
            from.as_abstract_name(),
            client.local_addr().unwrap().as_abstract_name()
        );
        let (a, b) = UnixDatagram::pair(io).unwrap();
        a.send(io, b"one").unwrap();
        a.send(io, b"two").unwrap();
        let n = b.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"one", "datagram boundaries kept");
        let n = b.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"two");
    });
}

fn assert_error(error: std::io::Error, kind: ErrorKind, prefix: &str) {
    assert_eq!(error.kind(), kind, "{error}");
    assert!(
        error.to_string().starts_with(prefix),
        "{error} (expected {prefix}…)"
    );
}

#[test]
fn errors_keep_their_kinds_and_name_the_path() {
    run("errors", |io| {
        let dir = TempDir::new();
        let missing = dir.join("nobody.sock");
        let shown = missing.display();
        assert_error(
            UnixStream::connect(io, &missing).unwrap_err(),
            ErrorKind::NotFound,
            &format!("connect {shown}: "),
        );
        assert_error(
            UnixDatagram::unbound(io)
                .unwrap()
                .send_to(io, b"x", &missing)
                .unwrap_err(),
            ErrorKind::NotFound,
            &format!("send_to {shown}: "),
        );
        let no_dir = dir.join("no/such/dir.sock");
        assert_error(
            UnixListener::bind(io, &no_dir).unwrap_err(),
            ErrorKind::NotFound,
            &format!("bind {}: ", no_dir.display()),
        );
        // A socket file nobody listens on any more: refused.
        let stale = dir.join("stale.sock");
        drop(UnixListener::bind(io, &stale).unwrap());
        assert_error(
            UnixStream::connect(io, &stale).unwrap_err(),
            ErrorKind::ConnectionRefused,
            &format!("connect {}: ", stale.display()),
        );
        // The file is still there: binding it again is AddrInUse.
        assert_error(
            UnixListener::bind(io, &stale).unwrap_err(),
            ErrorKind::AddrInUse,
            &format!("bind {}: ", stale.display()),
        );
        let name = abstract_name("taken");
        let _taken = UnixListener::bind_addr(io, &name).unwrap();
        let shown = format!("@{}", name.as_abstract_name().unwrap().escape_ascii());
        assert_error(
            UnixDatagram::bind_addr(io, &name)
                .map(drop)
                .and(UnixListener::bind_addr(io, &name).map(drop))
                .unwrap_err(),
            ErrorKind::AddrInUse,
            &format!("bind {shown}: "),
        );
        assert_error(
            UnixStream::connect_addr(io, &abstract_name("nobody")).unwrap_err(),
            ErrorKind::ConnectionRefused,
            "connect @io-test-",
        );
        let long = Path::new("/").join("x".repeat(200));
        assert_error(
            UnixListener::bind(io, &long).unwrap_err(),
            ErrorKind::InvalidInput,
            "bind /xxxx",
        );
    });
}

#[test]
fn cancel_interrupts_a_blocked_accept_read_recv_and_recv_from() {
    run("cancel", |io| {
        let before = open_fds();
        let dir = TempDir::new();
        let listener = UnixListener::bind(io, dir.join("idle.sock")).unwrap();
        assert_cancel_interrupts(io, || listener.accept(io));
        let (a, b) = UnixStream::pair(io).unwrap();
        assert_cancel_interrupts(io, || a.read(io, &mut [0; 8]));
        assert_cancel_interrupts(io, || Read::read(&mut &a, &mut [0; 8]));
        let datagram = UnixDatagram::bind(io, dir.join("idle-dgram.sock")).unwrap();
        assert_cancel_interrupts(io, || datagram.recv(io, &mut [0; 8]));
        assert_cancel_interrupts(io, || datagram.recv_from(io, &mut [0; 8]));
        // Everything still works after the cancels.
        b.write_all(io, b"ok").unwrap();
        let mut buf = [0; 2];
        (&a).read_exact(&mut buf).unwrap();
        let client = UnixStream::connect(io, dir.join("idle.sock")).unwrap();
        let (server, _) = listener.accept(io).unwrap();
        drop((listener, a, b, datagram, client, server, dir));
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn std_sockets_convert_both_ways() {
    run("conversions", |io| {
        let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
        x.set_nonblocking(true).unwrap();
        let x = UnixStream::from_std(io, x).unwrap();
        let mut y = UnixStream::from_std(io, y).unwrap();
        // Made blocking: a read waits (and is canceled) instead of failing WouldBlock.
        assert_cancel_interrupts(io, || x.read(io, &mut [0; 8]));
        Write::write_all(&mut y, b"std").unwrap();
        let raw = x.as_raw_fd();
        let fd = OwnedFd::from(x);
        assert_eq!(fd.as_raw_fd(), raw);
        let mut back = std::os::unix::net::UnixStream::from(fd);
        let mut buf = [0; 3];
        back.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"std");

        let name = abstract_name("from-std");
        let std_listener = std::os::unix::net::UnixListener::bind_addr(&name).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let listener = UnixListener::from_std(io, std_listener).unwrap();
        assert_cancel_interrupts(io, || listener.accept(io));
        let (d1, d2) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let d1 = UnixDatagram::from_std(io, d1).unwrap();
        d2.send(b"dgram").unwrap();
        let n = d1.recv(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"dgr");
        drop(OwnedFd::from(listener));
    });
}
