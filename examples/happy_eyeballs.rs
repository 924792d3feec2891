//! Happy eyeballs (RFC 8305): connect to a name by racing its addresses.
//!
//! ```text
//! cargo run --example happy_eyeballs -- HOST PORT [--hosts FILE] [--resolv-conf FILE]
//!     [--delay-ms 250] [--seconds 10]
//! ```
//!
//! Resolves HOST with `io::net::lookup_host` (the hosts file and resolv.conf given, else the
//! system's), orders the addresses with the families interleaved (IPv6, IPv4, IPv6, … starting
//! with the family of the first answer: RFC 8305 §4), and starts a connection attempt to the
//! first. Each further attempt starts when the previous one failed, or when `--delay-ms` passed
//! without any attempt connecting (the "connection attempt delay", §5). The first attempt to
//! connect wins; the others are canceled at once — an attempt blocked in the kernel's connect
//! is a cancellation point, on both backends. Everything is bounded by `--seconds`.
//!
//! Prints one line per event (`attempt N: connecting to ADDR`, `attempt N: failed: …`,
//! `attempt N: canceled`) and at the end `connected to ADDR by attempt N of M`. Exits 1 if no
//! attempt connected within the time (with the last attempt's error) or the name did not
//! resolve.
//!
//! Each attempt is an `io_concurrent!` task in a `scope!`; `main` waits for the first of them
//! with `io.select`, bounded by the attempt delay with `io.timeout`. Leaving the scope cancels
//! and joins whatever still runs.

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use io::net::{lookup_host, ResolverConfig, TcpStream};
use io::{io_concurrent, scope, Backend, Future, Io, Runtime, Selectable};

const USAGE: &str = "usage: happy_eyeballs HOST PORT [--hosts FILE] [--resolv-conf FILE] \
                     [--delay-ms 250] [--seconds 10]";

struct Args {
    host: String,
    port: u16,
    hosts: PathBuf,
    resolv_conf: PathBuf,
    delay: Duration,
    limit: Duration,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let system = ResolverConfig::system();
        let mut positional = Vec::new();
        let mut args = Self {
            host: String::new(),
            port: 0,
            hosts: system.hosts_file().to_owned(),
            resolv_conf: system.resolv_conf_file().to_owned(),
            delay: Duration::from_millis(250),
            limit: Duration::from_secs(10),
        };
        let mut argv = std::env::args().skip(1);
        while let Some(arg) = argv.next() {
            if arg == "-h" || arg == "--help" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            if !arg.starts_with("--") {
                positional.push(arg);
                continue;
            }
            let text = argv.next().ok_or(format!("{arg} needs a value\n{USAGE}"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{arg} {text}: {e}\n{USAGE}");
            match arg.as_str() {
                "--hosts" => args.hosts = text.into(),
                "--resolv-conf" => args.resolv_conf = text.into(),
                "--delay-ms" => {
                    args.delay = Duration::from_millis(text.parse().map_err(|e| bad(&e))?)
                }
                "--seconds" => {
                    let seconds: f64 = text.parse().map_err(|e| bad(&e))?;
                    if !(seconds > 0.0 && seconds <= 3600.0) {
                        return Err(bad(&"must be in (0, 3600]"));
                    }
                    args.limit = Duration::from_secs_f64(seconds);
                }
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        let [host, port] = <[String; 2]>::try_from(positional)
            .map_err(|_| format!("expected HOST and PORT\n{USAGE}"))?;
        args.port = port.parse().map_err(|e| format!("port {port}: {e}"))?;
        args.host = host;
        Ok(args)
    }
}

fn main() -> ExitCode {
    match start() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("happy_eyeballs: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds a runtime whose resolver reads the files given (`IO_BACKEND` chooses the backend, as
/// under `#[io::main]`) and races the connection on it.
fn start() -> Result<(), Box<dyn Error>> {
    let args = Args::parse()?;
    let backend = match std::env::var("IO_BACKEND") {
        Ok(name) => Backend::from_name(&name)?,
        Err(_) => Backend::Auto,
    };
    let runtime = Runtime::builder()
        .backend(backend)
        .resolver(ResolverConfig::from_files(&args.hosts, &args.resolv_conf))
        .build()?;
    runtime.run(|io| {
        let addrs = interleave(lookup_host(io, (args.host.as_str(), args.port))?.collect());
        let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        println!("{} resolves to {}", args.host, list.join(", "));
        let started = Instant::now();
        let (stream, attempt) = io.try_timeout(args.limit, || race(io, &addrs, args.delay))?;
        println!(
            "connected to {} by attempt {attempt} of {} in {} ms",
            stream.peer_addr()?,
            addrs.len(),
            started.elapsed().as_millis()
        );
        Ok(())
    })
}

/// The addresses with the families alternating, starting with the family of the first (RFC
/// 8305 §4, with a "first address family count" of 1); within a family the order stays.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (mut first, mut second): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(first.len() + second.len());
    first.reverse();
    second.reverse();
    loop {
        match (first.pop(), second.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

type Attempt<'scope> = (
    usize,
    SocketAddr,
    Future<'scope, std::io::Result<TcpStream>>,
);

/// Races connection attempts to `addrs` (see the module documentation); returns the winner
/// and its attempt number (1-based), or the last attempt's error.
fn race(io: Io, addrs: &[SocketAddr], delay: Duration) -> std::io::Result<(TcpStream, usize)> {
    scope!(io, {
        let mut pending = addrs.iter().copied().enumerate().peekable();
        let mut running: Vec<Attempt<'_>> = Vec::new();
        let mut last_error = None;
        // Each turn starts the next attempt: at first, after the delay, after a failure.
        loop {
            if let Some((index, addr)) = pending.next() {
                println!("attempt {}: connecting to {addr}", index + 1);
                let attempt = io_concurrent!(TcpStream::connect(io, addr))?;
                running.push((index + 1, addr, attempt));
            }
            if running.is_empty() {
                return Err(last_error.unwrap_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no address to connect to")
                }));
            }
            let waits: Vec<&dyn Selectable> = running
                .iter()
                .map(|(_, _, f)| f as &dyn Selectable)
                .collect();
            let finished = if pending.peek().is_some() {
                // A timeout (no attempt finished within the delay) starts the next attempt.
                io.timeout(delay, || io.select(&waits)).ok().transpose()?
            } else {
                Some(io.select(&waits)?)
            };
            drop(waits);
            let Some(index) = finished else {
                continue;
            };
            let (number, addr, attempt) = running.remove(index);
            match attempt.join(io) {
                Ok(stream) => {
                    for (number, addr, loser) in running.drain(..).rev() {
                        // A loser that connected meanwhile is closed as it is dropped.
                        let outcome = match loser.cancel(io) {
                            Ok(_) => "connected too late, closed".to_string(),
                            Err(e) if io::is_canceled(&e) => "canceled".to_string(),
                            Err(e) => format!("failed: {e}"),
                        };
                        println!("attempt {number}: {outcome} ({addr})");
                    }
                    println!("attempt {number}: connected to {addr}");
                    return Ok((stream, number));
                }
                Err(e) => {
                    println!("attempt {number}: failed: {e}");
                    last_error = Some(e);
                }
            }
        }
    })
}
