//! TCP sockets: data passes through intact, std's adapters work, errors keep their kinds, and
//! a task blocked in accept, read or connect is canceled promptly without leaking descriptors.
//!
//! Every test takes `SERIAL` (descriptor counts are process-wide) and runs under a watchdog
//! that aborts the process if it is still running after `WATCHDOG`.

mod support;

use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use io::net::{TcpListener, TcpStream};
use io::{is_canceled, Clock, Io};
use support::{assert_cancel_interrupts, each_backend, open_fds, timed, watched, LONG, PROMPT};

const LOCALHOST: ([u8; 4], u16) = ([127, 0, 0, 1], 0);
const WATCHDOG: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` on every backend, alone in the process and under the watchdog.
fn run(name: &'static str, f: impl Fn(Io)) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watched(name, WATCHDOG, || each_backend(f));
}

fn sleep(io: Io, ms: u64) {
    io.sleep(Duration::from_millis(ms), Clock::Awake).unwrap();
}

/// A listener, a client connected to it, and the server's end of that connection.
fn connected_pair(io: Io) -> (TcpListener, TcpStream, TcpStream) {
    let listener = TcpListener::bind(io, LOCALHOST).unwrap();
    let client = TcpStream::connect(io, listener.local_addr().unwrap()).unwrap();
    let (server, peer) = listener.accept(io).unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (listener, client, server)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn ten_mebibytes_round_trip_through_a_connected_pair_of_tasks() {
    run("round trip", |io| {
        let sent = pattern(10 << 20);
        let listener = TcpListener::bind(io, LOCALHOST).unwrap();
        let client = TcpStream::connect(io, listener.local_addr().unwrap()).unwrap();
        let received = io.scope(|s| {
            let echo = s
                .spawn_concurrent(|| -> std::io::Result<u64> {
                    let (stream, _) = listener.accept(io)?;
                    let copied = std::io::copy(&mut &stream, &mut &stream)?;
                    stream.shutdown(io, Shutdown::Write)?;
                    Ok(copied)
                })
                .unwrap();
            let writer = s
                .spawn_concurrent(|| -> std::io::Result<()> {
                    for chunk in sent.chunks(64 << 10) {
                        client.write_all(io, chunk)?;
                    }
                    client.shutdown(io, Shutdown::Write)
                })
                .unwrap();
            let mut received = Vec::with_capacity(sent.len());
            (&client).read_to_end(&mut received).unwrap();
            writer.join(io).unwrap();
            assert_eq!(echo.join(io).unwrap(), sent.len() as u64);
            received
        });
        assert!(
            received == sent,
            "the echoed bytes differ from the sent ones"
        );
    });
}

#[test]
fn cancel_interrupts_a_blocked_accept() {
    run("accept", |io| {
        let before = open_fds();
        let listener = TcpListener::bind(io, LOCALHOST).unwrap();
        assert_cancel_interrupts(io, || listener.accept(io));
        // The listener still works after the canceled accept.
        let client = TcpStream::connect(io, listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept(io).unwrap();
        drop((client, server, listener));
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn cancel_interrupts_a_read_on_an_idle_connection() {
    run("read", |io| {
        let before = open_fds();
        let (listener, client, server) = connected_pair(io);
        assert_cancel_interrupts(io, || server.read(io, &mut [0; 64]));
        // Nothing was consumed: the connection still carries data.
        client.write_all(io, b"after").unwrap();
        let mut buf = [0; 5];
        Read::read_exact(&mut &server, &mut buf).unwrap();
        assert_eq!(&buf, b"after");
        drop((listener, client, server));
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

/// What a connect to a listener that never accepts did.
enum Attempt {
    /// It finished within `BLOCKED_AFTER`.
    Connected(TcpStream),
    /// It was still blocked after `BLOCKED_AFTER`; then it was canceled or joined, which
    /// returned this, after this long.
    Blocked(std::io::Result<TcpStream>, Duration),
}

const BLOCKED_AFTER: Duration = Duration::from_millis(300);
const MAX_CLIENTS: usize = 32;

/// Connects to `addr` in a concurrent task. If it has not finished after `BLOCKED_AFTER`,
/// `blocked` runs with the task's thread id and says whether to cancel the task (else join it).
fn attempt_connect(io: Io, addr: SocketAddr, blocked: impl FnOnce(i32) -> bool) -> Attempt {
    let done = AtomicBool::new(false);
    let tid = AtomicI32::new(0);
    io.scope(|s| {
        let connect = s
            .spawn_concurrent(|| {
                // SAFETY: gettid has no preconditions.
                tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
                let result = TcpStream::connect(io, addr);
                done.store(true, Ordering::SeqCst);
                result
            })
            .unwrap();
        let mut waited = Duration::ZERO;
        while !done.load(Ordering::SeqCst) && waited < BLOCKED_AFTER {
            sleep(io, 10);
            waited += Duration::from_millis(10);
        }
        if done.load(Ordering::SeqCst) {
            return Attempt::Connected(connect.join(io).expect("connect failed"));
        }
        let cancel = blocked(tid.load(Ordering::SeqCst));
        let (result, elapsed) = timed(|| {
            if cancel {
                connect.cancel(io)
            } else {
                connect.join(io)
            }
        });
        Attempt::Blocked(result, elapsed)
    })
}

#[test]
fn cancel_interrupts_a_connect_to_a_full_backlog() {
    run("connect", |io| {
        let listener = TcpListener::bind_with_backlog(io, LOCALHOST, 1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        while queued.len() < MAX_CLIENTS {
            let before = open_fds();
            match attempt_connect(io, addr, |_| true) {
                Attempt::Connected(stream) => queued.push(stream),
                // The cancel lost the race with the connect's completion: go on filling.
                Attempt::Blocked(Ok(stream), _) => queued.push(stream),
                Attempt::Blocked(Err(error), elapsed) => {
                    assert!(is_canceled(&error), "expected canceled, got {error:?}");
                    assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
                    assert_eq!(open_fds(), before, "the canceled connect leaked its socket");
                    eprintln!(
                        "connect blocked after {} completed connections",
                        queued.len()
                    );
                    return;
                }
            }
        }
        eprintln!(
            "the kernel completed {MAX_CLIENTS} connects to a backlog-1 listener: none blocked"
        );
    });
}

#[test]
fn a_stray_signal_does_not_break_a_pending_connect() {
    run("stray signal", |io| {
        let listener = TcpListener::bind_with_backlog(io, LOCALHOST, 1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued: Vec<TcpStream> = Vec::new();
        while queued.len() < MAX_CLIENTS {
            let pending = queued.len();
            let outcome = attempt_connect(io, addr, |tid| {
                // Signal the blocked connect (and then its poll) without canceling it: each
                // EINTR must be retried by waiting for the pending attempt, not by a second
                // connect(2), which would answer EALREADY.
                for _ in 0..5 {
                    // SAFETY: tgkill only sends the runtime's cancel signal, whose handler does
                    // nothing, to a thread of this process.
                    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGURG) };
                    std::thread::sleep(Duration::from_millis(10));
                }
                // Make room: once the queued connections are taken, the kernel's SYN
                // retransmission gets through and the interrupted connect completes.
                for _ in 0..pending {
                    drop(listener.accept(io).unwrap());
                }
                false
            });
            match outcome {
                Attempt::Connected(stream) => queued.push(stream),
                Attempt::Blocked(result, elapsed) => {
                    let stream = result.expect("the interrupted connect failed");
                    assert_eq!(stream.peer_addr().unwrap(), addr);
                    assert!(elapsed < LONG, "the connect took {elapsed:?}");
                    return;
                }
            }
        }
        eprintln!("no connect blocked: the stray-signal path was not exercised");
    });
}

#[test]
fn connecting_to_a_closed_port_is_connection_refused() {
    run("refused", |io| {
        let addr = TcpListener::bind(io, LOCALHOST)
            .unwrap()
            .local_addr()
            .unwrap();
        let error = TcpStream::connect(io, addr).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error:?}");
        assert!(!is_canceled(&error));
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("connect {addr}: ")),
            "{message}"
        );
    });
}

#[test]
fn binding_a_used_address_is_addr_in_use() {
    run("in use", |io| {
        let first = TcpListener::bind(io, LOCALHOST).unwrap();
        let addr = first.local_addr().unwrap();
        let error = TcpListener::bind(io, addr).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AddrInUse, "{error:?}");
        assert!(!is_canceled(&error));
        assert!(
            error.to_string().starts_with(&format!("bind {addr}: ")),
            "{error}"
        );
    });
}

#[test]
fn buf_reader_and_buf_writer_carry_lines_over_a_connection() {
    run("buffered", |io| {
        let (_listener, client, server) = connected_pair(io);
        io.scope(|s| {
            let counter = s
                .spawn_concurrent(|| -> std::io::Result<()> {
                    let (mut lines, mut sum) = (0u64, 0u64);
                    for line in BufReader::new(&server).lines() {
                        sum += line?.parse::<u64>().unwrap();
                        lines += 1;
                    }
                    let mut reply = BufWriter::new(&server);
                    writeln!(reply, "{lines} {sum}")?;
                    reply.flush()
                })
                .unwrap();
            let mut writer = BufWriter::new(&client);
            for n in 0..10_000u64 {
                writeln!(writer, "{n}").unwrap();
            }
            writer.flush().unwrap();
            drop(writer);
            client.shutdown(io, Shutdown::Write).unwrap();
            let mut reply = String::new();
            BufReader::new(&client).read_line(&mut reply).unwrap();
            counter.join(io).unwrap();
            assert_eq!(reply, "10000 49995000\n");
        });
    });
}

#[test]
fn io_copy_in_a_canceled_task_returns_instead_of_retrying() {
    run("copy", |io| {
        let (_listener, _client, server) = connected_pair(io);
        io.scope(|s| {
            let copy = s
                .spawn_concurrent(|| std::io::copy(&mut &server, &mut std::io::sink()))
                .unwrap();
            sleep(io, 50);
            let (result, elapsed) = timed(|| copy.cancel(io));
            let error = result.expect_err("copy finished on an idle connection");
            assert!(is_canceled(&error), "expected canceled, got {error:?}");
            assert_ne!(
                error.kind(),
                ErrorKind::Interrupted,
                "std's loops retry Interrupted"
            );
            assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        });
    });
}

#[test]
fn shutting_down_the_write_half_is_end_of_file_for_the_peer() {
    run("shutdown", |io| {
        let (_listener, client, server) = connected_pair(io);
        client.write_all(io, b"last words").unwrap();
        client.shutdown(io, Shutdown::Write).unwrap();
        let mut heard = String::new();
        (&server).read_to_string(&mut heard).unwrap();
        assert_eq!(heard, "last words");
        // The other direction still works.
        server.write_all(io, b"reply").unwrap();
        let mut reply = [0; 5];
        Read::read_exact(&mut &client, &mut reply).unwrap();
        assert_eq!(&reply, b"reply");
        drop(server);
        assert_eq!(client.read(io, &mut reply).unwrap(), 0);
    });
}

#[test]
fn writing_to_a_closed_peer_is_an_error_not_a_signal() {
    run("closed peer", |io| {
        let (_listener, client, server) = connected_pair(io);
        drop(server);
        let chunk = [0u8; 64 << 10];
        let error = (0..1000)
            .find_map(|_| client.write(io, &chunk).err())
            .expect("writes to a closed peer kept succeeding");
        assert!(
            matches!(
                error.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{error:?}"
        );
        assert!(!is_canceled(&error));
        assert!(client.close(io).is_ok());
    });
}

#[test]
fn both_ends_agree_on_their_addresses() {
    run("addresses", |io| {
        let (listener, client, server) = connected_pair(io);
        let addr = listener.local_addr().unwrap();
        assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST);
        assert_ne!(addr.port(), 0);
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert_eq!(server.local_addr().unwrap(), addr);
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    });
}
