//! TCP echo: round trips per second over 50 connections on 127.0.0.1, 64-byte messages.
//!
//! The same client drives every server: 50 std threads, each doing blocking `write_all` +
//! `read_exact` round trips on its own `std::net::TcpStream` until a deadline. Servers: io's
//! threaded backend (2 workers) and its uring backend (one loop thread, a fiber per
//! connection), each with a connection per `group.spawn_concurrent`, against a tokio server
//! (2 workers, a task per connection). Also the server's CPU time per round trip: the process's
//! CPU time (`getrusage(RUSAGE_SELF)`) over the case, less the client threads' own
//! (`RUSAGE_THREAD`, summed).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Table, Value};

const CONNECTIONS: usize = 50;
const MESSAGE: usize = 64;

/// What one case measured.
struct Outcome {
    /// Time per round trip (the inverse of the throughput over all connections).
    per_trip: Value,
    /// Server CPU time per round trip.
    cpu_per_trip: Value,
    trips_per_sec: f64,
}

fn main() {
    let length = if common::quick() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(2)
    };
    let mut table = Table::new(format!(
        "TCP echo, {CONNECTIONS} connections, {MESSAGE}-byte messages (time per round trip, all \
         connections together)"
    ));
    let tokio = run_case(length, serve_tokio);
    let mut notes = vec![format!(
        "tokio (2 workers): {:.0} round trips/s",
        tokio.trips_per_sec
    )];
    for (name, backend, threads) in [
        ("io-threaded", io::Backend::Threaded, 2),
        ("io-uring", io::Backend::Uring, 1),
        ("io-uring, 2 loops", io::Backend::Uring, 2),
    ] {
        let io = run_case(length, move |listener, ready| {
            serve_io(backend, threads, listener, ready)
        });
        notes.push(format!("{name}: {:.0} round trips/s", io.trips_per_sec));
        table.row(
            format!("echo round trip ({name})"),
            "tokio echo server",
            &io.per_trip,
            tokio.per_trip.clone(),
        );
        table.row(
            format!("server CPU per round trip ({name})"),
            "tokio echo server",
            &io.cpu_per_trip,
            tokio.cpu_per_trip.clone(),
        );
    }
    table.note(format!(
        "one run of {:.1} s per server; client: {CONNECTIONS} std threads, blocking \
         write_all + read_exact on std::net::TcpStream (TCP_NODELAY), 127.0.0.1",
        length.as_secs_f64()
    ));
    table.note(
        "io: io::net::TcpListener, accept in the root task, each connection \
         group.spawn_concurrent(io, ..) with stream.read / stream.write_all; io-threaded: \
         backend(Threaded).threads(2); io-uring: backend(Uring).threads(1), one loop thread; \
         io-uring, 2 loops: backend(Uring).threads(2), two loops (connections accepted on \
         the root's loop, their tasks taken by the idle loop)",
    );
    table.note(
        "server CPU: getrusage(RUSAGE_SELF) over the case less the client threads' \
         RUSAGE_THREAD, divided by the round trips (user + system)",
    );
    for note in notes {
        table.note(note);
    }
    table.print();
}

/// Starts `serve` on a thread with a listener's address, runs the client against it for
/// `length`, and waits for the server to finish (it ends when every connection closed).
fn run_case(
    length: Duration,
    serve: impl FnOnce(SocketAddr, std::sync::mpsc::Sender<SocketAddr>) + Send + 'static,
) -> Outcome {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let want: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = std::thread::spawn(move || serve(want, ready_tx));
    let addr = ready_rx.recv().expect("server address");
    let cpu_before = cpu_time(libc::RUSAGE_SELF);
    let (trips, elapsed, client_cpu) = client(addr, length);
    server.join().expect("server");
    let server_cpu = cpu_time(libc::RUSAGE_SELF)
        .saturating_sub(cpu_before)
        .saturating_sub(client_cpu);
    let per_trip = elapsed.as_secs_f64() * 1e9 / trips as f64;
    Outcome {
        per_trip: Value::Time(per_trip),
        cpu_per_trip: Value::Time(server_cpu.as_secs_f64() * 1e9 / trips as f64),
        trips_per_sec: trips as f64 / elapsed.as_secs_f64(),
    }
}

/// User + system CPU time of `who` (`RUSAGE_SELF` or `RUSAGE_THREAD`).
fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: usage is valid for writes.
    let rc = unsafe { libc::getrusage(who, &mut usage) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Round trips of all connections, the time they took, and the client threads' CPU time.
fn client(addr: SocketAddr, length: Duration) -> (u64, Duration, Duration) {
    let start_line = Arc::new(Barrier::new(CONNECTIONS + 1));
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let start_line = Arc::clone(&start_line);
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let message = [i as u8; MESSAGE];
                let mut reply = [0u8; MESSAGE];
                start_line.wait();
                let deadline = Instant::now() + length;
                let mut trips = 0u64;
                while Instant::now() < deadline {
                    stream.write_all(&message).expect("write");
                    stream.read_exact(&mut reply).expect("read");
                    trips += 1;
                }
                assert_eq!(reply, message, "echoed");
                (trips, cpu_time(libc::RUSAGE_THREAD))
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    let mut trips = 0;
    let mut cpu = Duration::ZERO;
    for thread in threads {
        let (t, c) = thread.join().expect("client thread");
        trips += t;
        cpu += c;
    }
    (trips, start.elapsed(), cpu)
}

fn serve_io(
    backend: io::Backend,
    threads: usize,
    want: SocketAddr,
    ready: std::sync::mpsc::Sender<SocketAddr>,
) {
    let rt = io::Runtime::builder()
        .backend(backend)
        .threads(threads)
        .build()
        .expect("io runtime");
    rt.run(|io| {
        let listener = io::net::TcpListener::bind(io, want).expect("bind");
        ready
            .send(listener.local_addr().expect("local_addr"))
            .expect("ready");
        io.scope(|s| {
            let group = s.group();
            for _ in 0..CONNECTIONS {
                let (stream, _) = listener.accept(io).expect("accept");
                stream.set_nodelay(true).expect("nodelay");
                group
                    .spawn_concurrent(io, move || {
                        let mut buf = [0u8; 4096];
                        loop {
                            match stream.read(io, &mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if stream.write_all(io, &buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    })
                    .expect("concurrency");
            }
            group.wait(io).expect("not canceled");
        });
    });
}

fn serve_tokio(want: SocketAddr, ready: std::sync::mpsc::Sender<SocketAddr>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(want).await.expect("bind");
        ready
            .send(listener.local_addr().expect("local_addr"))
            .expect("ready");
        let mut handles = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let (mut stream, _) = listener.accept().await.expect("accept");
            stream.set_nodelay(true).expect("nodelay");
            handles.push(tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }));
        }
        for handle in handles {
            handle.await.expect("connection");
        }
    });
}
