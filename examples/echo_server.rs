//! A TCP echo server: an accept loop that spawns each connection into a `Group`, until Ctrl-C or
//! `--seconds N`.
//!
//! ```text
//! cargo run --release --example echo_server -- [--addr 127.0.0.1:7878] [--seconds N]
//! IO_BACKEND=uring cargo run --release --example echo_server -- --addr 127.0.0.1:0
//! ```
//!
//! The first line of output is `listening on ADDR` (with the port the kernel chose for port 0),
//! the last `served N connections, M bytes`; the exit status is 0 after a clean shutdown.
//!
//! # Shape
//! - The accept loop runs as a task. Each accepted connection becomes a task of its `Group`,
//!   reclaimed as soon as it finishes, so the server can run for days and serve any number of
//!   connections.
//! - Beside it, one task waits for Ctrl-C — a SIGINT handler writes a byte to a pipe, and the
//!   task is blocked reading that pipe through `io::fs::File` — and, with `--seconds`, one sleeps.
//! - `main` selects over the three. When the signal or the time comes, it cancels the accept
//!   task: its `accept` returns a canceled error, the loop returns it, and leaving the loop's
//!   `scope!` cancels every connection task (each is blocked in a read or a write, both
//!   cancellation points) and waits for them all. Every socket is closed when its task ends; the
//!   server checks that no connection task is left before it prints its summary.
//!
//! # Running out of descriptors
//! A server meets `EMFILE` (its `RLIMIT_NOFILE` is reached) as soon as more clients connect than
//! it has descriptors for. That is no reason to stop: the accept loop recognizes the shortage
//! (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`; the errors of `io` name the listener's address, and
//! `io::raw_os_error` still finds their errno), says so once on stderr, and pauses between
//! attempts — 1 ms, doubling up to 100 ms, a sleep the shutdown can cancel — while the
//! connections it serves carry on. When clients leave, accept works again: it takes the
//! connections that waited in the listen backlog, and one more line says the shortage is over.
//! A connection that finds no thread or fiber to run on is closed, and handled the same way.
//!
//! ```text
//! sh -c 'ulimit -n 64; exec cargo run --release --example echo_server -- --addr 127.0.0.1:0'
//! ```
//!
//! # Backends
//! Each connection is spawned with `Group::spawn_concurrent`: on uring it is a fiber (thousands
//! cost little), on the threaded backend a thread of its own (a connection blocked in `read`
//! must not wait for a free worker).

use std::error::Error;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use io::fs::File;
use io::net::{TcpListener, TcpStream};
use io::{
    io_concurrent, io_group, is_canceled, scope, Clock, ConcurrencyUnavailable, Io, Selectable,
};

const USAGE: &str = "usage: echo_server [--addr 127.0.0.1:7878] [--seconds N]";

/// The size of a connection's buffer: one read, one write.
const BUFFER: usize = 16 * 1024;

struct Args {
    addr: SocketAddr,
    seconds: Option<u64>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 7878)),
            seconds: None,
        };
        let mut argv = std::env::args().skip(1);
        while let Some(flag) = argv.next() {
            let mut value = || argv.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
            match flag.as_str() {
                "--addr" => {
                    let text = value()?;
                    args.addr = text
                        .parse()
                        .map_err(|e| format!("--addr {text}: {e}\n{USAGE}"))?;
                }
                "--seconds" => {
                    let text = value()?;
                    args.seconds = Some(
                        text.parse()
                            .map_err(|e| format!("--seconds {text}: {e}\n{USAGE}"))?,
                    );
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(args)
    }
}

/// What the server did, shared by the accept loop and the connection tasks.
#[derive(Default)]
struct Stats {
    /// Connections accepted.
    connections: AtomicU64,
    /// Bytes echoed back.
    bytes: AtomicU64,
    /// Connections accepted whose task has not finished yet.
    open: AtomicU64,
}

#[io::main]
fn main(io: Io) -> ExitCode {
    match run(io) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(io: Io) -> Result<(), Box<dyn Error>> {
    let args = Args::parse()?;
    let fds_before = open_fds()?;
    let listener = TcpListener::bind(io, args.addr)?;
    println!("listening on {}", listener.local_addr()?);
    let ctrl_c = CtrlC::install(io)?;
    let stats = Stats::default();

    let stop = scope!(io, {
        let server = io_concurrent!(accept_loop(io, &listener, &stats)).map_err(no_threads)?;
        let interrupted = io_concurrent!(ctrl_c.wait(io)).map_err(no_threads)?;
        let timer = match args.seconds {
            Some(seconds) => Some(
                io_concurrent!(io.sleep(Duration::from_secs(seconds), Clock::Awake))
                    .map_err(no_threads)?,
            ),
            None => None,
        };
        let mut waits: Vec<&dyn Selectable> = vec![&server, &interrupted];
        waits.extend(timer.as_ref().map(|t| t as &dyn Selectable));
        let stop = match io.select(&waits)? {
            0 => "the accept loop ended",
            1 => "interrupted",
            _ => "time is up",
        };
        drop(waits);
        // The real cancellation: `accept` returns a canceled error, and leaving the loop's scope
        // cancels and joins every connection task.
        if let Err(e) = server.cancel(io) {
            if !is_canceled(&e) {
                return Err(format!("accept loop: {e}").into());
            }
        }
        if let Some(timer) = timer {
            let _ = timer.cancel(io);
        }
        if let Err(e) = interrupted.cancel(io) {
            if !is_canceled(&e) {
                return Err(format!("Ctrl-C watcher: {e}").into());
            }
        }
        stop
    });

    eprintln!("echo_server: {stop}, shut down");
    let open = stats.open.load(Ordering::Acquire);
    if open != 0 {
        return Err(format!("{open} connection tasks still running after the shutdown").into());
    }
    drop((listener, ctrl_c));
    let fds_after = open_fds()?;
    if fds_after != fds_before {
        return Err(format!("{fds_before} descriptors open before, {fds_after} after").into());
    }
    println!(
        "served {} connections, {} bytes",
        stats.connections.load(Ordering::Relaxed),
        stats.bytes.load(Ordering::Relaxed)
    );
    Ok(())
}

/// The error for a runtime without concurrency.
fn no_threads(_: ConcurrencyUnavailable) -> String {
    "the accept loop and the shutdown watchers run at the same time: use a runtime with \
     threads (not IO_THREADS=0)"
        .into()
}

/// Accepts connections and spawns each into the group until canceled (or accept fails for
/// good). Returns only with an error: a canceled one at shutdown.
///
/// A shortage of descriptors, memory or tasks does not end the loop: see [`Shortage`].
fn accept_loop(io: Io, listener: &TcpListener, stats: &Stats) -> std::io::Result<()> {
    let mut shortage = Shortage::default();
    scope!(io, {
        let group = io_group!();
        loop {
            let stream = match listener.accept(io) {
                Ok((stream, _peer)) => stream,
                Err(e) if is_canceled(&e) => return Err(e),
                // The peer gave up before its connection was taken.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                Err(e) if is_shortage(&e) => {
                    // Let connections finish and free what they hold before trying again. A
                    // cancellation point: the shutdown ends the pause.
                    let pause = shortage.refused(&e, stats);
                    io.sleep(pause, Clock::Awake)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            stats.connections.fetch_add(1, Ordering::Relaxed);
            // Counted here, not when the task starts, so that `open` is what the server holds.
            let open = OpenGuard::new(stats);
            // On failure the closure — the stream and the guard — is dropped: the connection is
            // closed and no longer counted.
            match group.spawn_concurrent(io, move || echo(io, stream, open)) {
                Ok(()) => shortage.accepted(stats),
                Err(e) => {
                    let e = std::io::Error::other(format!("no task for a connection: {e}"));
                    let pause = shortage.refused(&e, stats);
                    io.sleep(pause, Clock::Awake)?;
                }
            }
        }
    })
}

/// Accept errors that mean "out of descriptors or memory for now", not a broken listener. The
/// listener's errors name its address, so their own `raw_os_error()` is `None`:
/// `io::raw_os_error` finds the errno in the error they wrap.
fn is_shortage(error: &std::io::Error) -> bool {
    matches!(
        io::raw_os_error(error),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The pause after the first refused accept of a shortage.
const FIRST_PAUSE: Duration = Duration::from_millis(1);

/// The longest pause between accepts during a shortage.
const LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// How the accept loop rides out a shortage (of descriptors, memory, or tasks to run
/// connections on): it backs off, and logs the shortage once — one line when it begins, one when
/// it is over — however many accepts it refuses meanwhile.
///
/// The shortage is over when an accept works again *and* the server holds at most 90% of the
/// connections it held when the shortage began: at its limit, with clients coming and going,
/// accept alternates between failing and working, and that is one shortage, not hundreds.
struct Shortage {
    /// The shortage under way, if any.
    current: Option<Episode>,
    /// How long to pause after the next refused accept.
    pause: Duration,
}

/// One shortage: from the first refused accept until the server has room again.
struct Episode {
    began: Instant,
    /// The connections the server held when the shortage began.
    open_at_start: u64,
    /// Accepts refused (or connections closed for want of a task) since.
    refused: u64,
}

impl Default for Shortage {
    fn default() -> Self {
        Self {
            current: None,
            pause: FIRST_PAUSE,
        }
    }
}

impl Shortage {
    /// Counts a refused accept (logging it if a shortage begins) and returns how long to pause
    /// before the next: 1 ms, doubling up to 100 ms.
    fn refused(&mut self, error: &std::io::Error, stats: &Stats) -> Duration {
        let episode = self.current.get_or_insert_with(|| {
            let open = stats.open.load(Ordering::Acquire);
            eprintln!(
                "echo_server: {error}; serving {open} connections, pausing accepts until some \
                 close"
            );
            Episode {
                began: Instant::now(),
                open_at_start: open,
                refused: 0,
            }
        });
        episode.refused += 1;
        let pause = self.pause;
        self.pause = (self.pause * 2).min(LONGEST_PAUSE);
        pause
    }

    /// Notes a connection accepted and spawned: the pauses start over, and the shortage, if
    /// any, is over once the server has room again.
    fn accepted(&mut self, stats: &Stats) {
        self.pause = FIRST_PAUSE;
        let Some(episode) = &self.current else {
            return;
        };
        // `open` counts the connection just accepted: hence the `+ 1`.
        let open = stats.open.load(Ordering::Acquire);
        if open > episode.open_at_start * 9 / 10 + 1 {
            return;
        }
        eprintln!(
            "echo_server: accepting again, serving {open} connections, after {} refused \
             accepts in {:.1?}",
            episode.refused,
            episode.began.elapsed()
        );
        self.current = None;
    }
}

/// The number of descriptors this process has open.
fn open_fds() -> std::io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")?.count())
}

/// Echoes what `stream` sends until it shuts down, fails, or the task is canceled; `open`
/// counts the connection until then.
fn echo(io: Io, stream: TcpStream, open: OpenGuard<'_>) {
    let stats = open.stats;
    // Small writes go out at once: this is request/response traffic.
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; BUFFER];
    let outcome = loop {
        let n = match stream.read(io, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        if let Err(e) = stream.write_all(io, &buf[..n]) {
            break Err(e);
        }
        stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
    };
    if let Err(e) = outcome {
        use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
        if !is_canceled(&e) && !matches!(e.kind(), ConnectionReset | BrokenPipe) {
            eprintln!("echo_server: {e}");
        }
    }
    // The socket is closed, then the connection no longer counted (on a panic, both are
    // dropped too).
    drop(stream);
    drop(open);
}

/// An accepted connection, counted in [`Stats::open`] until this is dropped: when its task
/// ends, whichever way, or with the task's closure if the task could not be spawned.
struct OpenGuard<'a> {
    stats: &'a Stats,
}

impl<'a> OpenGuard<'a> {
    fn new(stats: &'a Stats) -> Self {
        stats.open.fetch_add(1, Ordering::AcqRel);
        Self { stats }
    }
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The write end of the Ctrl-C pipe, for the signal handler (-1 until installed).
static CTRL_C_PIPE: AtomicI32 = AtomicI32::new(-1);

/// The SIGINT handler: writes one byte to the pipe. Only async-signal-safe calls; `errno` is
/// restored for the code it interrupted.
extern "C" fn on_sigint(_signal: libc::c_int) {
    let fd = CTRL_C_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: `__errno_location` returns this thread's errno; `write` is async-signal-safe
        // and reads one byte from a static.
        unsafe {
            let errno = *libc::__errno_location();
            libc::write(fd, b"!".as_ptr().cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// Ctrl-C as something a task can block on: a self-pipe written by a SIGINT handler.
struct CtrlC {
    /// The read end, opened through the runtime so that reading it is a cancellation point.
    reader: File,
    /// The write end, used by the handler; kept open as long as the handler may run.
    _writer: OwnedFd,
}

impl CtrlC {
    fn install(io: Io) -> std::io::Result<Self> {
        let mut fds = [-1; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read_end, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // The handler must never block, so the pipe is non-blocking. The task must block (in the
        // runtime, cancelably) instead, so it reads through a blocking descriptor of its own,
        // opened through /proc (`io::fs::File` has no constructor from a descriptor).
        let reader = File::open(io, format!("/proc/self/fd/{}", read_end.as_raw_fd()))?;
        drop(read_end);
        CTRL_C_PIPE.store(fds[1], Ordering::Relaxed);
        // SAFETY: a zeroed sigaction is valid; the handler is an `extern "C" fn(c_int)` that only
        // makes async-signal-safe calls. SA_RESTART: other threads' system calls are not
        // disturbed. Every SIGINT is handled (no SA_RESETHAND): one signal may arrive twice, e.g.
        // under timeout(1), which signals the child and then its whole process group.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Self {
            reader,
            _writer: writer,
        })
    }

    /// Blocks until Ctrl-C. A cancellation point: returns a canceled error when canceled.
    fn wait(&self, io: Io) -> std::io::Result<()> {
        let mut byte = [0];
        match self.reader.read(io, &mut byte)? {
            0 => Err(std::io::Error::other("the Ctrl-C pipe closed")),
            _ => Ok(()),
        }
    }
}
