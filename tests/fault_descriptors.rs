//! Descriptor exhaustion: `echo_server`, run as a child process with `RLIMIT_NOFILE` lowered to
//! 64, is flooded with 200 connections held open, so that its `accept` fails with `EMFILE`. On
//! each backend, it must stay up, log the shortage once (not once per refused accept), keep its
//! live connections echoing, accept again when clients leave, and still shut down cleanly on
//! Ctrl-C.
//!
//! The example is built once per test binary, as `tests/examples_real.rs` builds it (with
//! `support::examples`): by running the cargo that builds this test into the target directory and
//! profile of this binary. Every wait is bounded and the child is killed when it outlives its
//! bound or a test panics.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::examples::{self, available, Profile, Running};

/// The descriptor limit of the server process.
const SERVER_FDS: libc::rlim_t = 64;

/// The clients connected at once: far more than the server has descriptors for.
const FLOOD: usize = 200;

/// Clients that are served before the shortage and stay connected through it.
const KEPT: usize = 8;

/// Clients connected after most of the flood left.
const LATE: usize = 20;

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
// The example and its clients

/// The path of `echo_server`, built (once per test binary) in this binary's target directory
/// and profile, as `tests/examples_real.rs` builds it.
fn echo_server() -> PathBuf {
    examples::path("echo_server", &["echo_server"], Profile::Test)
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
    let addr = server.listening_addr(LIMIT);
    let addr: SocketAddr = addr
        .parse()
        .unwrap_or_else(|_| panic!("the server's address: {addr:?}"));

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
    let pid = libc::pid_t::try_from(server.id()).expect("a pid fits pid_t");
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
