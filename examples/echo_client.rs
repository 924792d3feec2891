//! Load for `echo_server`: N connections, each doing request/response round trips (write a
//! message, read back exactly the same bytes) until the time is up.
//!
//! ```text
//! cargo run --release --example echo_client -- [--addr 127.0.0.1:7878] [--connections 50]
//!     [--seconds 3] [--size 64]
//! ```
//!
//! Prints `N connections, R round trips in S s: X round trips/s`. Exits 1 if a connection
//! failed (refused, reset, or an echo that did not match what was sent).
//!
//! Each connection is a task of its own (`io_concurrent!`: they must all run at once, also on
//! the threaded backend). The first connection that fails ends the run early. When the time is
//! up, `main` takes the count, tells the tasks to stop after their current round trip, and
//! cancels each: one still blocked in a read or a write (both cancellation points) is
//! interrupted, so the program ends at once even if the server stalls. Only loopback addresses
//! are accepted: this is a load generator for a local server.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use io::net::TcpStream;
use io::{io_concurrent, is_canceled, scope, Io, Selectable};

const USAGE: &str = "usage: echo_client [--addr 127.0.0.1:7878] [--connections 50] \
                     [--seconds 3] [--size 64]";

const NO_CONCURRENCY: &str =
    "every connection needs a task of its own: use a runtime with threads (not IO_THREADS=0)";

/// Upper bounds that keep a typo from exhausting the machine.
const MAX_CONNECTIONS: usize = 10_000;
const MAX_SECONDS: f64 = 3600.0;
const MAX_SIZE: usize = 1 << 20;

struct Args {
    addr: SocketAddr,
    connections: usize,
    seconds: f64,
    size: usize,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 7878)),
            connections: 50,
            seconds: 3.0,
            size: 64,
        };
        let mut argv = std::env::args().skip(1);
        while let Some(flag) = argv.next() {
            if flag == "-h" || flag == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let text = argv
                .next()
                .ok_or(format!("{flag} needs a value\n{USAGE}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {text}: {e}\n{USAGE}");
            match flag.as_str() {
                "--addr" => args.addr = text.parse().map_err(|e| bad(&e))?,
                "--connections" => args.connections = text.parse().map_err(|e| bad(&e))?,
                "--seconds" => args.seconds = text.parse().map_err(|e| bad(&e))?,
                "--size" => args.size = text.parse().map_err(|e| bad(&e))?,
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if !args.addr.ip().is_loopback() {
            return Err(format!(
                "--addr {}: only loopback addresses are allowed",
                args.addr
            ));
        }
        if !(1..=MAX_CONNECTIONS).contains(&args.connections) {
            return Err(format!("--connections must be 1..={MAX_CONNECTIONS}"));
        }
        if !(args.seconds > 0.0 && args.seconds <= MAX_SECONDS) {
            return Err(format!("--seconds must be in (0, {MAX_SECONDS}]"));
        }
        if !(1..=MAX_SIZE).contains(&args.size) {
            return Err(format!("--size must be 1..={MAX_SIZE}"));
        }
        Ok(args)
    }
}

#[io::main]
fn main(io: Io) -> ExitCode {
    match run(io) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(io: Io) -> Result<(), Box<dyn Error>> {
    let args = Args::parse()?;
    let shared = Shared {
        round_trips: (0..args.connections).map(|_| AtomicU64::new(0)).collect(),
        stop: AtomicBool::new(false),
    };

    let (during, elapsed, failures) = scope!(io, {
        let mut tasks = Vec::with_capacity(args.connections);
        for connection in 0..args.connections {
            let task = io_concurrent!(drive(io, args.addr, connection, args.size, &shared));
            tasks.push(task.map_err(|_| NO_CONCURRENCY)?);
        }
        let start = Instant::now();
        let before = shared.counts();
        // A connection task only returns early with an error (refused, reset, a wrong echo),
        // which ends the run: wait for the time to be up or for the first task to finish.
        let waits: Vec<&dyn Selectable> = tasks.iter().map(|t| t as &dyn Selectable).collect();
        let duration = Duration::from_secs_f64(args.seconds);
        let _ = io.timeout(duration, || io.select(&waits));
        drop(waits);
        // The count at the deadline: round trips that finish while the tasks are being
        // stopped are not counted.
        let during: Vec<u64> = shared
            .counts()
            .iter()
            .zip(&before)
            .map(|(now, then)| now - then)
            .collect();
        let elapsed = start.elapsed();
        // Every task stops after its current round trip, all at once; then each is canceled,
        // which interrupts the ones still blocked (a slow server). Cancels are one at a time,
        // so without the flag they would take as long as N wake-ups in a row.
        shared.stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        for task in tasks.into_iter().rev() {
            match task.cancel(io) {
                Err(e) if !is_canceled(&e) => failures.push(e),
                _ => {}
            }
        }
        (during, elapsed, failures)
    });

    let counted: u64 = during.iter().sum();
    let seconds = elapsed.as_secs_f64();
    println!(
        "{} connections, {counted} round trips in {seconds:.2} s: {:.0} round trips/s",
        args.connections,
        counted as f64 / seconds.max(f64::MIN_POSITIVE)
    );
    if let Some(first) = failures.first() {
        return Err(format!("{} connections failed, the first: {first}", failures.len()).into());
    }
    // A server that serves fewer connections at once than it accepted still shows a fine total:
    // say so.
    let starved = during.iter().filter(|&&count| count == 0).count();
    if starved > 0 {
        eprintln!(
            "echo_client: {starved} of {} connections completed no round trip in the time",
            args.connections
        );
    }
    Ok(())
}

/// What the connection tasks share with `main`.
struct Shared {
    /// Round trips completed, per connection.
    round_trips: Vec<AtomicU64>,
    /// Set when the time is up: the tasks return after their current round trip.
    stop: AtomicBool,
}

impl Shared {
    /// The round trips of each connection so far.
    fn counts(&self) -> Vec<u64> {
        self.round_trips
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect()
    }
}

/// Connects and does round trips until told to stop or canceled; counts each. Every message
/// differs (it depends on the connection and the round), so an echo from the wrong connection or
/// a stale one is caught.
fn drive(
    io: Io,
    addr: SocketAddr,
    connection: usize,
    size: usize,
    shared: &Shared,
) -> std::io::Result<()> {
    let stream = TcpStream::connect(io, addr)?;
    stream.set_nodelay(true)?;
    let mut sent = vec![0u8; size];
    let mut echoed = vec![0u8; size];
    let mut round = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        for (i, byte) in sent.iter_mut().enumerate() {
            *byte = (connection.wrapping_mul(31) ^ round.wrapping_add(i)) as u8;
        }
        let echo = stream
            .write_all(io, &sent)
            .and_then(|()| read_exact(io, &stream, &mut echoed));
        match echo {
            // A server that shuts down as the run ends is no failure.
            Err(_) if shared.stop.load(Ordering::Relaxed) => break,
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        if echoed != sent {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "connection {connection}, round {round}: the echo differs from the message"
                ),
            ));
        }
        shared.round_trips[connection].fetch_add(1, Ordering::Relaxed);
        round = round.wrapping_add(1);
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the server closes first.
fn read_exact(io: Io, stream: &TcpStream, mut buf: &mut [u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        match stream.read(io, buf)? {
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection mid-echo",
                ))
            }
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}
