//! Descriptor exhaustion: `echo_server`, run as a child process with `RLIMIT_NOFILE` lowered to
//! 64, is flooded with 200 connections held open, so that its `accept` fails with `EMFILE`. On
//! each backend, it must stay up, log the shortage once (not once per refused accept), keep its
//! live connections echoing, accept again when clients leave, and still shut down cleanly on
//! Ctrl-C.
//!
//! The example is built once per test binary, as `tests/examples_real.rs` does: by running the
//! cargo that builds this test into the target directory and profile of this binary. Every wait
//! is bounded and the child is killed when it outlives its bound or a test panics.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The descriptor limit of the server process.
const SERVER_FDS: libc::rlim_t = 64;

/// The clients connected at once: far more than the server has descriptors for.
const FLOOD: usize = 200;

/// Clients that are served before the shortage and stay connected through it.
const KEPT: usize = 8;

/// Clients connected after most of the flood left.
const LATE: usize = 20;

/// How long building the example may take (from scratch on a slow machine).
const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// The bound of every wait for the server: a line, an echo, its exit.
const LIMIT: Duration = Duration::from_secs(20);

/// What a line of the server's stderr starts with when accept ran out of descriptors: the
/// listener's annotated error, with errno 24 (`EMFILE`).
fn is_emfile_line(line: &str) -> bool {
    line.starts_with("echo_server: accept ") && line.contains(&emfile_text())
}

/// How std words `EMFILE`: "Too many open files (os error 24)".
fn emfile_text() -> String {
    std::io::Error::from_raw_os_error(libc::EMFILE).to_string()
}

/// The server's line when accepting works again after a shortage.
fn is_recovery_line(line: &str) -> bool {
    line.starts_with("echo_server: accepting again")
}

// ---------------------------------------------------------------------------------------------
// Building the example

/// The path of `echo_server`, built (once per test binary) in this binary's target directory
/// and profile, as `tests/examples_real.rs` builds it.
fn echo_server() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_echo_server) {
        Ok(path) => path.clone(),
        Err(why) => panic!("cannot build the echo server: {why}"),
    }
}

fn build_echo_server() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let deps = exe.parent().ok_or("the test binary has no directory")?;
    let profile_dir = deps.parent().ok_or("no profile directory above deps/")?;
    let target_dir = profile_dir
        .parent()
        .ok_or("no target directory above the profile directory")?;
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or("the profile directory has no name")?;
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--package", env!("CARGO_PKG_NAME")])
        .args(["--example", "echo_server"])
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cargo.arg("--release");
        }
        custom => {
            cargo.args(["--profile", custom]);
        }
    }
    let mut build = Running::spawn(cargo);
    let status = build.wait(BUILD_LIMIT);
    if !status.success() {
        return Err(format!(
            "cargo build failed ({status}):\n{}",
            build.stderr_so_far()
        ));
    }
    let path = profile_dir.join("examples").join("echo_server");
    if !path.is_file() {
        return Err(format!("cargo built no {}", path.display()));
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// A bounded child whose output is read line by line

/// A child process that is killed when this is dropped (e.g. when a test panics).
struct Running {
    child: Child,
    what: String,
    stdout: Lines,
    stderr: Lines,
}

/// One output stream of the child: its lines as they come, and those already taken.
struct Lines {
    receiver: mpsc::Receiver<String>,
    seen: Vec<String>,
    _reader: JoinHandle<()>,
}

impl Lines {
    fn read(stream: impl Read + Send + 'static) -> Self {
        let (send, receiver) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            receiver,
            seen: Vec::new(),
            _reader: reader,
        }
    }

    /// Takes every line that has arrived, without waiting.
    fn drain(&mut self) {
        while let Ok(line) = self.receiver.try_recv() {
            self.seen.push(line);
        }
    }

    /// Waits, for at most `limit`, for a line for which `wanted` is true; returns it.
    fn wait_for(&mut self, limit: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        self.drain();
        if let Some(line) = self.seen.iter().find(|line| wanted(line)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(line) => {
                    let found = wanted(&line);
                    self.seen.push(line);
                    if found {
                        return self.seen.last().cloned();
                    }
                }
                Err(_) => return None,
            }
        }
    }
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        let what = format!("{command:?}");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = Lines::read(child.stdout.take().expect("piped stdout"));
        let stderr = Lines::read(child.stderr.take().expect("piped stderr"));
        Self {
            child,
            what,
            stdout,
            stderr,
        }
    }

    /// Whether the child still runs (reaping it if it exited).
    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the child to exit, for at most `limit`; kills it and panics after that.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("{} still ran after {limit:?}, killed", self.what);
                }
                Err(e) => panic!("{}: wait: {e}", self.what),
            }
        }
    }

    /// Everything the child wrote to stderr so far (waiting briefly for the reader).
    fn stderr_so_far(&mut self) -> String {
        let _ = self.stderr.wait_for(Duration::from_millis(100), |_| false);
        self.stderr.seen.join("\n")
    }

    /// Everything the child wrote to stdout so far (waiting briefly for the reader).
    fn stdout_so_far(&mut self) -> String {
        let _ = self.stdout.wait_for(Duration::from_millis(100), |_| false);
        self.stdout.seen.join("\n")
    }

    /// A description of the child for failure messages: its state and its output.
    fn report(&mut self) -> String {
        let state = match self.child.try_wait() {
            Ok(Some(status)) => format!("exited with {status}"),
            Ok(None) => "still running".to_owned(),
            Err(e) => format!("wait failed: {e}"),
        };
        let (stdout, stderr) = (self.stdout_so_far(), self.stderr_so_far());
        format!(
            "{} {state}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            self.what
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

/// Whether this machine can run `backend`; if not, the test is skipped with the reason on
/// stderr.
fn available(backend: &str) -> bool {
    let built = io::Backend::from_name(backend)
        .and_then(|backend| io::Runtime::builder().backend(backend).threads(1).build());
    match built {
        Ok(_) => true,
        Err(reason) => {
            eprintln!("skipped on {backend}: {reason}");
            false
        }
    }
}

/// This process's descriptor limit.
fn nofile_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a writable rlimit, which getrlimit fills.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    limit
}

/// Makes sure this process may hold the flood of client sockets: raises its soft descriptor
/// limit towards the hard one if needed, and fails if that is still too low.
fn ensure_client_descriptors() {
    let needed = (FLOOD + LATE + 100) as libc::rlim_t;
    let mut limit = nofile_limit();
    if limit.rlim_cur < needed && limit.rlim_max > limit.rlim_cur {
        limit.rlim_cur = limit.rlim_max.min(needed.max(1024));
        // SAFETY: `limit` is a readable rlimit, whose soft limit does not exceed its hard one.
        // A failure shows in the check below.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        limit = nofile_limit();
    }
    assert!(
        limit.rlim_cur >= needed,
        "this test holds {FLOOD} sockets and more, but `ulimit -n` is {}",
        limit.rlim_cur
    );
}

/// Connects to the server, within [`LIMIT`], with reads and writes bounded by it too.
fn connect(addr: SocketAddr, tag: &str) -> Result<TcpStream, String> {
    let stream =
        TcpStream::connect_timeout(&addr, LIMIT).map_err(|e| format!("{tag}: connect: {e}"))?;
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    Ok(stream)
}

/// A client that connected and got its first message echoed.
fn served_client(addr: SocketAddr, tag: &str) -> Result<TcpStream, String> {
    let mut stream = connect(addr, tag)?;
    round_trip(&mut stream, tag)?;
    Ok(stream)
}

/// Sends a message on `stream` and reads its echo; the error says what went wrong.
fn round_trip(stream: &mut TcpStream, tag: &str) -> Result<(), String> {
    let message = format!("ping {tag}\n");
    stream
        .write_all(message.as_bytes())
        .map_err(|e| format!("{tag}: write: {e}"))?;
    let mut echoed = vec![0; message.len()];
    stream
        .read_exact(&mut echoed)
        .map_err(|e| format!("{tag}: no echo: {e}"))?;
    if echoed != message.as_bytes() {
        return Err(format!(
            "{tag}: echoed {:?}, sent {message:?}",
            String::from_utf8_lossy(&echoed)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The test

fn echo_server_survives_descriptor_exhaustion(backend: &'static str) {
    if !available(backend) {
        return;
    }
    ensure_client_descriptors();
    let mut command = Command::new(echo_server());
    command
        .args(["--addr", "127.0.0.1:0"])
        .env("IO_BACKEND", backend)
        .env_remove("IO_THREADS");
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed: it builds an rlimit on the stack and calls setrlimit(2), which is one.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: SERVER_FDS,
                rlim_max: SERVER_FDS,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut server = Running::spawn(command);
    let Some(first) = server.stdout.wait_for(LIMIT, |_| true) else {
        panic!("no first line from the server: {}", server.report());
    };
    let addr: SocketAddr = first
        .strip_prefix("listening on ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("the server's first line: {first:?}"));

    // A few clients that are served before the flood and stay connected through it.
    let kept: Result<Vec<_>, _> = (0..KEPT)
        .map(|i| served_client(addr, &format!("kept {i}")))
        .collect();
    let mut kept = kept.unwrap_or_else(|why| panic!("{why}: {}", server.report()));

    // The flood: connections the server cannot all take; the rest wait in the listen backlog.
    let flood: Result<Vec<_>, _> = (KEPT..FLOOD)
        .map(|i| connect(addr, &format!("flood {i}")))
        .collect();
    let mut flood = flood.unwrap_or_else(|why| panic!("{why}: {}", server.report()));
    if server.stderr.wait_for(LIMIT, is_emfile_line).is_none() {
        panic!(
            "the server never reported {:?} with {FLOOD} clients and {SERVER_FDS} descriptors: {}",
            emfile_text(),
            server.report()
        );
    }
    // The shortage lasts a while (nothing is closed): the server backs off and retries.
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        server.is_running(),
        "the server died of the descriptor shortage: {}",
        server.report()
    );
    for (i, client) in kept.iter_mut().enumerate() {
        if let Err(why) = round_trip(client, &format!("kept {i} during the shortage")) {
            panic!("{why}: {}", server.report());
        }
    }
    server.stderr.drain();
    let shortage_lines = server
        .stderr
        .seen
        .iter()
        .filter(|line| is_emfile_line(line))
        .count();
    assert_eq!(
        shortage_lines,
        1,
        "one line for the whole shortage, not one per refused accept: {}",
        server.report()
    );

    // Most clients leave: the server takes the waiting connections (each closed by now) and
    // then new clients.
    flood.clear();
    for i in 0..LATE {
        match served_client(addr, &format!("late {i}")) {
            Ok(client) => kept.push(client),
            Err(why) => panic!("{why}: {}", server.report()),
        }
    }
    for (i, client) in kept.iter_mut().enumerate() {
        if let Err(why) = round_trip(client, &format!("kept {i} after the shortage")) {
            panic!("{why}: {}", server.report());
        }
    }
    if server.stderr.wait_for(LIMIT, is_recovery_line).is_none() {
        panic!(
            "the server never said it accepts again: {}",
            server.report()
        );
    }

    // Ctrl-C: a clean shutdown, every connection accounted for and no descriptor leaked (the
    // server checks both before its summary).
    drop(kept);
    assert!(server.is_running(), "{}", server.report());
    let pid = libc::pid_t::try_from(server.child.id()).expect("a pid fits pid_t");
    // SAFETY: kill(2) takes only integers. The pid is our child's, which has not been reaped
    // (it ran just above, and only this function waits for it), so no other process has it.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = server.wait(LIMIT);
    assert!(
        status.success(),
        "the server did not shut down cleanly ({status}): {}",
        server.report()
    );
    let Some(summary) = server
        .stdout
        .wait_for(LIMIT, |line| line.starts_with("served "))
    else {
        panic!("no summary: {}", server.report());
    };
    let expected = format!("served {} connections, ", FLOOD + LATE);
    assert!(
        summary.starts_with(&expected),
        "{summary:?}: every connection, also those that waited in the backlog, is accepted: {}",
        server.report()
    );
}

#[test]
fn echo_server_survives_descriptor_exhaustion_threaded() {
    echo_server_survives_descriptor_exhaustion("threaded");
}

#[test]
fn echo_server_survives_descriptor_exhaustion_uring() {
    echo_server_survives_descriptor_exhaustion("uring");
}
