//! An HTTP/1.1 static-file server with keep-alive, per-connection idle timeouts and a graceful
//! shutdown on Ctrl-C, SIGTERM or `--seconds N`.
//!
//! ```text
//! cargo run --release --example http_server -- --root DIR [--addr 127.0.0.1:8080]
//!     [--idle-timeout SECONDS] [--drain-timeout SECONDS] [--seconds N]
//! ```
//!
//! The first line of output is `listening on ADDR`, the last `served N requests on M
//! connections`; the exit status is 0 after a clean shutdown.
//!
//! # Shape
//! - The connections are tasks of one group that outlives the accept loop: the outer `scope!`
//!   holds the group, an inner `scope!` runs the accept loop beside the shutdown watcher (a
//!   signal stream from `io::signal`, and the `--seconds` timer) and selects over the two.
//! - Graceful shutdown, when the watcher fires: the accept loop is canceled (no new
//!   connections); requests in flight finish their responses (a connection answers `Connection:
//!   close` and closes after its response) while the server waits up to `--drain-timeout` for
//!   none to be in flight; then the group is canceled, which ends the idle keep-alive
//!   connections at once (each is blocked in a read, a cancellation point). A request whose head
//!   arrives after that point gets a 503.
//! - Each read of a request head is bounded by `--idle-timeout` (`io.try_timeout`), as is each
//!   response, so a silent or stalled client holds its connection only that long.
//! - Files are opened and read through `io::fs`, so a slow disk blocks only its connection.

mod request;

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use io::fs::File;
use io::net::{TcpListener, TcpStream};
use io::signal::Signals;
use io::sync::{Condition, Mutex};
use io::{io_concurrent, io_group, io_select, is_canceled, scope, Canceled, Group, Io};

use request::{Method, Request, Status};

const USAGE: &str = "usage: http_server --root DIR [--addr 127.0.0.1:8080] \
                     [--idle-timeout SECONDS] [--drain-timeout SECONDS] [--seconds N]";

/// The size of the buffer a response body is sent from.
const CHUNK: usize = 64 * 1024;

struct Args {
    addr: SocketAddr,
    root: PathBuf,
    idle_timeout: Duration,
    drain_timeout: Duration,
    seconds: Option<u64>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut addr = SocketAddr::from(([127, 0, 0, 1], 8080));
        let mut root = None;
        let mut idle_timeout = Duration::from_secs(10);
        let mut drain_timeout = Duration::from_secs(10);
        let mut seconds = None;
        let mut argv = std::env::args().skip(1);
        while let Some(flag) = argv.next() {
            let mut value = || argv.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
            let number = |text: String| {
                text.parse::<u64>()
                    .map_err(|e| format!("{flag} {text}: {e}\n{USAGE}"))
            };
            match flag.as_str() {
                "--addr" => {
                    let text = value()?;
                    addr = text
                        .parse()
                        .map_err(|e| format!("--addr {text}: {e}\n{USAGE}"))?;
                }
                "--root" => root = Some(PathBuf::from(value()?)),
                "--idle-timeout" => idle_timeout = Duration::from_secs(number(value()?)?),
                "--drain-timeout" => drain_timeout = Duration::from_secs(number(value()?)?),
                "--seconds" => seconds = Some(number(value()?)?),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        let root = root.ok_or(format!("--root is required\n{USAGE}"))?;
        Ok(Self {
            addr,
            root,
            idle_timeout,
            drain_timeout,
            seconds,
        })
    }
}

/// What the server did.
#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// The requests in flight, for the graceful shutdown.
struct Drain {
    state: Mutex<InFlight>,
    /// Signaled when the last request in flight finishes.
    quiet: Condition,
}

struct InFlight {
    /// Requests whose response is being sent.
    requests: usize,
    /// Set when the shutdown begins: every response closes its connection.
    draining: bool,
    /// Set when the drain is over: no request starts any more.
    closed: bool,
}

impl Drain {
    fn new() -> Self {
        let state = InFlight {
            requests: 0,
            draining: false,
            closed: false,
        };
        Self {
            state: Mutex::new(state),
            quiet: Condition::new(),
        }
    }

    /// Counts a request in flight; `false` once the drain is over.
    fn begin(&self, io: Io) -> Result<bool, Canceled> {
        let mut state = self.state.lock(io)?;
        if state.closed {
            return Ok(false);
        }
        state.requests += 1;
        Ok(true)
    }

    /// Counts a request as finished; `true` if its connection must close (the server drains).
    fn end(&self, io: Io) -> bool {
        let mut state = self.state.lock_uncancelable(io);
        state.requests -= 1;
        if state.requests == 0 {
            self.quiet.broadcast();
        }
        state.draining
    }

    /// Whether responses must close their connections.
    fn draining(&self, io: Io) -> Result<bool, Canceled> {
        Ok(self.state.lock(io)?.draining)
    }

    /// Begins the shutdown, waits up to `limit` for the requests in flight, and ends the drain;
    /// returns how many were still in flight.
    fn drain(&self, io: Io, limit: Duration) -> Result<usize, Canceled> {
        let mut state = self.state.lock(io)?;
        state.draining = true;
        let waited = io.timeout(limit, || -> Result<(), Canceled> {
            while state.requests > 0 {
                self.quiet.wait(io, &mut state)?;
            }
            Ok(())
        });
        // A timeout (or a cancel) leaves the lock held: the wait returns with it retaken.
        if let Ok(Err(canceled)) = waited {
            return Err(canceled);
        }
        state.closed = true;
        Ok(state.requests)
    }
}

#[io::main]
fn main(io: Io) -> ExitCode {
    match run(io) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(io: Io) -> Result<(), Box<dyn Error>> {
    let args = Args::parse()?;
    let listener = TcpListener::bind(io, args.addr)?;
    let signals = io::signal::signals(io, &[libc::SIGINT, libc::SIGTERM])?;
    println!("listening on {}", listener.local_addr()?);
    let stats = Stats::default();
    let drain = Drain::new();
    let server = Server {
        root: &args.root,
        idle_timeout: args.idle_timeout,
        stats: &stats,
        drain: &drain,
    };

    let unfinished = scope!(io, {
        let connections = io_group!();
        let stop = scope!(io, {
            let acceptor = io_concurrent!(server.accept_loop(io, &listener, &connections))
                .map_err(|e| format!("the accept loop: {e}"))?;
            let watcher = io_concurrent!(wait_for_stop(io, &signals, args.seconds))
                .map_err(|e| format!("the shutdown watcher: {e}"))?;
            // `&future` arms leave both joinable: the loser is canceled below.
            let accept_loop_ended = io_select!(io, {
                () = &acceptor => true,
                () = &watcher => false,
            })?;
            if accept_loop_ended {
                match acceptor.join(io) {
                    Err(e) => return Err(format!("accept loop: {e}").into()),
                    Ok(never) => match never {},
                }
            }
            let stop = watcher.join(io)?;
            // No new connections from here on.
            match acceptor.cancel(io) {
                Err(e) if is_canceled(&e) => {}
                Err(e) => return Err(format!("accept loop: {e}").into()),
                Ok(never) => match never {},
            }
            stop
        });
        eprintln!("http_server: {stop}, draining");
        let unfinished = drain.drain(io, args.drain_timeout)?;
        // Ends the idle keep-alive connections (blocked in a read) and any unfinished response.
        connections.cancel(io);
        unfinished
    });

    eprintln!("http_server: shut down ({unfinished} responses cut short)");
    println!(
        "served {} requests on {} connections",
        stats.requests.load(Ordering::Relaxed),
        stats.connections.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Waits for SIGINT, SIGTERM or the end of `seconds`; says which.
fn wait_for_stop(io: Io, signals: &Signals, seconds: Option<u64>) -> std::io::Result<String> {
    let Some(seconds) = seconds else {
        let signal = signals.recv(io)?;
        return Ok(signal_name(signal));
    };
    let time_up = Duration::from_secs(seconds);
    match io.timeout(time_up, || signals.recv(io)) {
        Ok(signal) => Ok(signal_name(signal?)),
        Err(_timeout) => Ok("time is up".into()),
    }
}

fn signal_name(signal: libc::c_int) -> String {
    match signal {
        libc::SIGINT => "interrupted (SIGINT)".into(),
        libc::SIGTERM => "terminated (SIGTERM)".into(),
        other => format!("signal {other}"),
    }
}

/// What every connection task shares.
#[derive(Clone, Copy)]
struct Server<'a> {
    root: &'a Path,
    idle_timeout: Duration,
    stats: &'a Stats,
    drain: &'a Drain,
}

impl<'a> Server<'a> {
    /// Accepts connections into `connections` until canceled (or accept fails for good).
    fn accept_loop<'scope>(
        self,
        io: Io,
        listener: &TcpListener,
        connections: &Group<'scope, 'a>,
    ) -> std::io::Result<std::convert::Infallible> {
        loop {
            let stream = match listener.accept(io) {
                Ok((stream, _peer)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return Err(e),
            };
            self.stats.connections.fetch_add(1, Ordering::Relaxed);
            // A connection that finds no thread or fiber is closed (its closure dropped).
            if let Err(e) = connections.spawn_concurrent(io, move || self.serve(io, stream)) {
                eprintln!("http_server: connection refused: {e}");
            }
        }
    }

    /// Serves requests on `stream` until the client closes it, goes idle for too long, errs,
    /// or the server shuts down.
    fn serve(self, io: Io, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let mut pending = Vec::with_capacity(4096);
        loop {
            let head = io.try_timeout(self.idle_timeout, || read_head(io, &stream, &mut pending));
            let request = match head {
                Ok(Some(Ok(request))) => request,
                Ok(Some(Err(status))) => {
                    let _ = stream.write_all(io, request::text_response(status, false).as_bytes());
                    return;
                }
                // The client closed, stayed silent too long, or the task was canceled.
                Ok(None) | Err(_) => return,
            };
            match self.drain.begin(io) {
                Ok(true) => {}
                Ok(false) => {
                    let refusal = request::text_response(Status::Unavailable, false);
                    let _ = stream.write_all(io, refusal.as_bytes());
                    return;
                }
                Err(Canceled) => return,
            }
            let sent = io.try_timeout(self.idle_timeout, || self.respond(io, &stream, &request));
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let draining = self.drain.end(io);
            match sent {
                Ok(keep_alive) if keep_alive && !draining => {}
                Ok(_) => return,
                Err(e) => {
                    use std::io::ErrorKind::{BrokenPipe, ConnectionReset, TimedOut};
                    if !is_canceled(&e)
                        && !matches!(e.kind(), ConnectionReset | BrokenPipe | TimedOut)
                    {
                        eprintln!("http_server: {e}");
                    }
                    return;
                }
            }
        }
    }

    /// Sends the response to `request`; `Ok(true)` if the connection may stay open.
    fn respond(self, io: Io, stream: &TcpStream, request: &Request) -> std::io::Result<bool> {
        let keep_alive = request.keep_alive && !self.drain.draining(io)?;
        let Some(path) = request::file_for(self.root, &request.path) else {
            return self.refuse(io, stream, Status::NotFound, keep_alive);
        };
        let file = match File::open(io, &path) {
            Ok(file) => file,
            Err(e) if is_canceled(&e) => return Err(e),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self.refuse(io, stream, Status::NotFound, keep_alive)
            }
            Err(e) => {
                eprintln!("http_server: {e}");
                return self.refuse(io, stream, Status::InternalError, keep_alive);
            }
        };
        let metadata = file.metadata(io)?;
        if !metadata.is_file() {
            return self.refuse(io, stream, Status::NotFound, keep_alive);
        }
        let length = metadata.len();
        let head =
            request::response_head(Status::Ok, request::content_type(&path), length, keep_alive);
        stream.write_all(io, head.as_bytes())?;
        if request.method == Method::Head {
            return Ok(keep_alive);
        }
        let mut buf = vec![0; CHUNK.min(length as usize).max(1)];
        let mut left = length;
        while left > 0 {
            let n = file.read(io, &mut buf)?;
            if n == 0 {
                // The file shrank: the promised length cannot be kept, so the connection ends.
                return Ok(false);
            }
            let n = n.min(left as usize);
            stream.write_all(io, &buf[..n])?;
            left -= n as u64;
        }
        Ok(keep_alive)
    }

    /// Answers `status` with a short text body.
    fn refuse(
        self,
        io: Io,
        stream: &TcpStream,
        status: Status,
        keep_alive: bool,
    ) -> std::io::Result<bool> {
        let response = request::text_response(status, keep_alive);
        stream.write_all(io, response.as_bytes())?;
        Ok(keep_alive)
    }
}

/// Reads until `pending` starts with a whole request head and takes it out: `Ok(None)` if the
/// client closed the connection between requests, `Some(Err(status))` for a head that cannot be
/// served.
fn read_head(
    io: Io,
    stream: &TcpStream,
    pending: &mut Vec<u8>,
) -> std::io::Result<Option<Result<Request, Status>>> {
    let mut chunk = [0; 4096];
    loop {
        match request::parse(pending) {
            Ok(Some((request, length))) => {
                pending.drain(..length);
                return Ok(Some(Ok(request)));
            }
            Ok(None) => {}
            Err(status) => return Ok(Some(Err(status))),
        }
        let n = stream.read(io, &mut chunk)?;
        if n == 0 {
            return match pending.is_empty() {
                true => Ok(None),
                false => Ok(Some(Err(Status::BadRequest))),
            };
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}
