//! A deadline of `Io::timeout` ends a task blocked in a system call, on both backends: reads of
//! idle sockets, accepts nobody answers, writes to full pipes and sockets. The call's result
//! survives a deadline that does not fire, timeouts nest, protected code ignores deadlines,
//! and no alarm is left running after the call.
//!
//! Each test runs under a watchdog that aborts the process if it still runs after `WATCHDOG`:
//! a deadline that fails to interrupt a call would otherwise hang the suite.

mod support;

use std::io::Write as _;
use std::net::UdpSocket;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use io::net::{TcpListener, TcpStream};
use io::{is_canceled, Canceled, Clock, Io, Timeout};
use support::{each_backend, timed, watched, LONG, PROMPT};

/// How long a test may run before the process is aborted.
const WATCHDOG: Duration = Duration::from_secs(60);
/// Any free port on the loopback address.
const LOCALHOST: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

/// Runs `f` on every backend under the watchdog.
fn run(name: &'static str, f: impl Fn(Io)) {
    watched(name, WATCHDOG, || each_backend(f));
}

/// `ms` milliseconds.
fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A UDP socket on 127.0.0.1 that nobody sends to.
fn idle_udp() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// Sends `datagram` to `socket`'s address from a plain thread after `delay`.
fn send_later(socket: &UdpSocket, delay: Duration, datagram: &'static [u8]) {
    let to = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(datagram, to).unwrap();
    });
}

/// A pipe: (read end, write end), both close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Fills a blocking pipe's buffer, so that the next write blocks.
fn fill_pipe(writer: &OwnedFd) {
    use std::os::fd::AsRawFd;
    let fd = writer.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; only the O_NONBLOCK status flag changes.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        let chunk = [7u8; 4096];
        while libc::write(fd, chunk.as_ptr().cast(), chunk.len()) > 0 {}
        libc::fcntl(fd, libc::F_SETFL, flags);
    }
}

/// A connected pair of Unix stream sockets whose first end's send buffer is full.
fn full_socket() -> (UnixStream, UnixStream) {
    let (full, peer) = UnixStream::pair().unwrap();
    full.set_nonblocking(true).unwrap();
    let chunk = [7u8; 4096];
    while (&full).write(&chunk).is_ok() {}
    full.set_nonblocking(false).unwrap();
    (full, peer)
}

/// The voluntary context switches of the calling thread so far.
fn voluntary_switches() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
        .map(|count| count.trim().parse().unwrap())
        .unwrap()
}

/// Asserts that `result` is the error of a canceled operation.
fn assert_canceled<T: std::fmt::Debug>(result: std::io::Result<T>) {
    let error = result.expect_err("the call returned instead of being canceled");
    assert!(
        is_canceled(&error),
        "expected a canceled error, got {error:?}"
    );
}

#[test]
fn a_timeout_interrupts_a_read_of_an_idle_udp_socket() {
    run("udp", |io| {
        let socket = idle_udp();
        let mut buf = [0u8; 64];
        let (result, elapsed) =
            timed(|| io.timeout(millis(200), || io.read_fd(socket.as_fd(), &mut buf)));
        assert!(matches!(result, Err(Timeout)), "got {result:?}");
        assert!(elapsed < PROMPT, "took {elapsed:?}");
        // The deadline ended with its timeout: the socket still works.
        send_later(&socket, millis(20), b"after");
        let n = io.read_fd(socket.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"after");
    });
}

#[test]
fn a_server_read_with_a_timeout_closes_a_silent_client() {
    run("slowloris", |io| {
        let listener = TcpListener::bind(io, LOCALHOST).unwrap();
        let addr = listener.local_addr().unwrap();
        io.scope(|s| {
            let server = s
                .spawn_concurrent(|| {
                    let (stream, _) = listener.accept(io).unwrap();
                    let mut buf = [0u8; 64];
                    let read = io.timeout(millis(200), || stream.read(io, &mut buf));
                    // Idle too long: drop the connection.
                    drop(stream);
                    read.map(|r| r.map_err(|e| e.to_string()))
                })
                .unwrap();
            // The client connects and never sends; it learns of the close by an end of file.
            let client = TcpStream::connect(io, addr).unwrap();
            let (closed, elapsed) = timed(|| client.read(io, &mut [0u8; 16]));
            assert_eq!(closed.unwrap(), 0, "the server closed the idle connection");
            assert!(elapsed < PROMPT, "took {elapsed:?}");
            assert!(matches!(server.join(io), Err(Timeout)));
        });
    });
}

#[test]
fn a_timeout_interrupts_an_accept_nobody_answers() {
    run("accept", |io| {
        let listener = TcpListener::bind(io, LOCALHOST).unwrap();
        let (result, elapsed) = timed(|| io.timeout(millis(100), || listener.accept(io)));
        assert!(matches!(result, Err(Timeout)), "accepted {result:?}");
        assert!(elapsed < PROMPT, "took {elapsed:?}");
        // Still listening: a client that comes now is accepted.
        let addr = listener.local_addr().unwrap();
        io.scope(|s| {
            let client = s.spawn_concurrent(|| TcpStream::connect(io, addr)).unwrap();
            let accepted = io.timeout(LONG, || listener.accept(io));
            assert!(matches!(accepted, Ok(Ok(_))));
            client.join(io).unwrap();
        });
    });
}

#[test]
fn a_timeout_interrupts_a_write_to_a_full_pipe() {
    run("pipe write", |io| {
        let (_reader, writer) = pipe();
        fill_pipe(&writer);
        let (result, elapsed) =
            timed(|| io.timeout(millis(100), || io.write_fd(writer.as_fd(), &[1u8; 4096])));
        assert!(matches!(result, Err(Timeout)), "got {result:?}");
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

#[test]
fn a_timeout_interrupts_a_write_to_a_full_socket() {
    run("socket write", |io| {
        let (full, _peer) = full_socket();
        let (result, elapsed) =
            timed(|| io.timeout(millis(100), || io.write_fd(full.as_fd(), &[1u8; 65536])));
        assert!(matches!(result, Err(Timeout)), "got {result:?}");
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

#[test]
fn nested_timeouts_around_a_read_the_inner_fires_first() {
    run("nested", |io| {
        let socket = idle_udp();
        let mut buf = [0u8; 64];
        let outer = io.timeout(LONG, || {
            let inner = io.timeout(millis(100), || io.read_fd(socket.as_fd(), &mut buf));
            assert!(matches!(inner, Err(Timeout)), "inner: {inner:?}");
            // The outer call goes on: its deadline has not passed.
            send_later(&socket, millis(20), b"outer");
            io.read_fd(socket.as_fd(), &mut buf)
        });
        let n = outer.expect("the outer deadline did not fire").unwrap();
        assert_eq!(&buf[..n], b"outer");
        // The outer deadline first: the inner timeout passes its call's canceled error on.
        let (outer_first, elapsed) = timed(|| {
            io.timeout(millis(100), || {
                io.timeout(LONG, || io.read_fd(socket.as_fd(), &mut buf))
            })
        });
        assert!(matches!(outer_first, Err(Timeout)), "got {outer_first:?}");
        assert!(elapsed < PROMPT, "took {elapsed:?}");
        let inner = io.timeout(millis(100), || {
            let result = io.timeout(LONG, || io.read_fd(socket.as_fd(), &mut buf));
            assert!(
                matches!(result, Ok(Err(ref e)) if is_canceled(e)),
                "got {result:?}"
            );
        });
        assert_eq!(inner, Err(Timeout));
    });
}

#[test]
fn a_timeout_that_does_not_fire_leaves_the_result_intact() {
    run("in time", |io| {
        let socket = idle_udp();
        send_later(&socket, millis(50), b"in time");
        let mut buf = [0u8; 64];
        let n = io.timeout(LONG, || io.read_fd(socket.as_fd(), &mut buf));
        let n = n.expect("the deadline fired").expect("the read failed");
        assert_eq!(&buf[..n], b"in time");
        // And a write that does not block.
        let (reader, writer) = pipe();
        let written = io.timeout(LONG, || io.write_fd(writer.as_fd(), b"pipe"));
        assert_eq!(written.unwrap().unwrap(), 4);
        let n = io.read_fd(reader.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"pipe");
    });
}

#[test]
fn a_hundred_short_timed_reads_time_out_and_leave_no_alarm_running() {
    run("repeated", |io| {
        let socket = idle_udp();
        let mut buf = [0u8; 64];
        let (_, elapsed) = timed(|| {
            for round in 0..100 {
                let result = io.timeout(millis(5), || io.read_fd(socket.as_fd(), &mut buf));
                assert!(matches!(result, Err(Timeout)), "round {round}: {result:?}");
            }
        });
        assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
        // An untimed read that waits 200 ms for its data gets it, and is not woken over and
        // over meanwhile: an alarm left armed would interrupt it every 100 µs (each EINTR a
        // retry, and a context switch of this thread).
        send_later(&socket, millis(200), b"data");
        let before = voluntary_switches();
        let n = io.read_fd(socket.as_fd(), &mut buf).unwrap();
        let switches = voluntary_switches() - before;
        assert_eq!(&buf[..n], b"data");
        assert!(switches < 100, "the read was woken {switches} times");
    });
}

#[test]
fn deadlines_racing_entry_into_the_call_never_hang() {
    run("race", |io| {
        let (reader, _writer) = pipe();
        for round in 0..200u64 {
            // Deadlines from already passed to 400 µs: around the entry into read(2).
            let deadline = Duration::from_micros(round * 2);
            let (result, elapsed) =
                timed(|| io.timeout(deadline, || io.read_fd(reader.as_fd(), &mut [0u8; 8])));
            assert!(matches!(result, Err(Timeout)), "round {round}: {result:?}");
            assert!(elapsed < PROMPT, "round {round}: took {elapsed:?}");
        }
    });
}

#[test]
fn protected_code_ignores_the_deadline_in_a_system_call() {
    run("protected", |io| {
        let socket = idle_udp();
        send_later(&socket, millis(150), b"late");
        let mut buf = [0u8; 64];
        let result = io.timeout(millis(20), || {
            io.uncancelable(|| io.read_fd(socket.as_fd(), &mut buf))
        });
        // The protected read waited for its data; nothing inside met the deadline.
        let n = result.expect("a protected call met the deadline").unwrap();
        assert_eq!(&buf[..n], b"late");
    });
}

#[test]
fn a_canceled_task_and_a_timed_out_task_in_system_calls_both_end() {
    run("cancel and timeout", |io| {
        let (reader, _writer) = pipe();
        let socket = idle_udp();
        io.scope(|s| {
            let canceled = s
                .spawn_concurrent(|| io.timeout(LONG, || io.read_fd(reader.as_fd(), &mut [0u8; 8])))
                .unwrap();
            let timed_out = s
                .spawn_concurrent(|| {
                    io.timeout(millis(100), || io.read_fd(socket.as_fd(), &mut [0u8; 8]))
                })
                .unwrap();
            io.sleep(millis(20), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| canceled.cancel(io));
            // A cancel is not a timeout: the read's canceled error comes back in `Ok`.
            assert_canceled(result.expect("a cancel was reported as a timeout"));
            assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
            let (result, elapsed) = timed(|| timed_out.join(io));
            assert!(matches!(result, Err(Timeout)), "got {result:?}");
            assert!(elapsed < PROMPT, "timeout took {elapsed:?}");
        });
    });
}

#[test]
fn a_timeout_with_a_passed_deadline_does_not_enter_the_call() {
    run("passed", |io| {
        let socket = idle_udp();
        send_later(&socket, Duration::ZERO, b"ready");
        std::thread::sleep(millis(50));
        let mut buf = [0u8; 64];
        let result = io.timeout(millis(5), || {
            std::thread::sleep(millis(10));
            io.read_fd(socket.as_fd(), &mut buf)
        });
        assert!(matches!(result, Err(Timeout)), "got {result:?}");
        // The datagram is still there.
        let n = io.read_fd(socket.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"ready");
        assert_eq!(io.check_cancel(), Ok::<(), Canceled>(()));
    });
}

/// A result that wins the race against a deadline is the timeout's result, never dropped: every
/// byte a read under a tight deadline took from the socket is counted. The writer sends one
/// byte at a time with pauses around the reader's deadlines, so reads complete just as deadlines
/// pass; the sum of what the reads returned must be what was written.
#[test]
fn a_read_that_completes_as_its_deadline_passes_keeps_its_bytes() {
    run("read vs deadline", |io| {
        const BYTES: usize = 2_000;
        let listener = TcpListener::bind(io, LOCALHOST).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = io.scope(|s| {
            let writer = s
                .spawn_concurrent(|| {
                    let stream = TcpStream::connect(io, addr).unwrap();
                    stream.set_nodelay(true).unwrap();
                    for i in 0..BYTES {
                        stream.write_all(io, &[i as u8]).unwrap();
                        // 0–40 µs: around the reader's 20 µs deadlines.
                        let pause = Duration::from_micros((i % 5) as u64 * 10);
                        io.sleep(pause, Clock::Awake).unwrap();
                    }
                })
                .unwrap();
            let (stream, _) = listener.accept(io).unwrap();
            let mut received = 0;
            let mut buf = [0; 64];
            loop {
                match io.timeout(Duration::from_micros(20), || stream.read(io, &mut buf)) {
                    Ok(Ok(0)) => break,
                    Ok(Ok(n)) => received += n,
                    Ok(Err(e)) => panic!("read: {e}"),
                    Err(Timeout) => {}
                }
            }
            writer.join(io);
            received
        });
        assert_eq!(
            received, BYTES,
            "bytes read under expiring deadlines were dropped"
        );
    });
}

/// The same for a queue: an item handed to a getter as its deadline passes is returned by the
/// timeout, so every item a put delivered is counted by a getter.
#[test]
fn an_item_handed_over_as_the_deadline_passes_is_kept() {
    run("queue get vs deadline", |io| {
        const ITEMS: usize = 2_000;
        let queue = io::Queue::<usize>::new(0);
        let (delivered, got) = io.scope(|s| {
            let putter = s
                .spawn_concurrent(|| {
                    let mut delivered = 0;
                    for i in 0..ITEMS {
                        let pause = Duration::from_micros((i % 5) as u64 * 10);
                        match io.timeout(pause + Duration::from_micros(10), || queue.put_one(io, i))
                        {
                            Ok(Ok(())) => delivered += 1,
                            Ok(Err(io::PutError::Canceled(_))) | Err(Timeout) => {}
                            Ok(Err(e)) => panic!("put: {e:?}"),
                        }
                    }
                    queue.close();
                    delivered
                })
                .unwrap();
            let mut got = 0;
            loop {
                match io.timeout(Duration::from_micros(20), || queue.get_one(io)) {
                    Ok(Ok(_)) => got += 1,
                    Ok(Err(io::QueueError::Closed)) => break,
                    Ok(Err(e)) => panic!("get: {e:?}"),
                    Err(Timeout) => {}
                }
            }
            (putter.join(io), got)
        });
        assert!(delivered > 0, "no put was delivered");
        assert_eq!(
            got, delivered,
            "items handed over as deadlines passed were dropped"
        );
    });
}
