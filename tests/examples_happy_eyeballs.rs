//! `examples/happy_eyeballs` end to end, on each backend: a name (from a temporary hosts file)
//! whose first address blackholes — a listener with a full backlog, where the kernel drops the
//! SYN and the connect waits — whose second refuses, and whose third accepts. The race starts
//! the second attempt at once after the first's delay, the third at once after the second's
//! failure, connects by the third, and cancels the first.

mod support;

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use io::net::TcpListener;
use support::examples::{self, run_bounded, Profile};

const CHILD_LIMIT: Duration = Duration::from_secs(60);

fn command(backend: &str) -> Command {
    let mut command = Command::new(examples::path(
        "happy_eyeballs",
        &["happy_eyeballs"],
        Profile::Test,
    ));
    command.env("IO_BACKEND", backend).env_remove("IO_THREADS");
    command
}

/// A hosts file in a temporary directory, removed on drop.
struct Hosts {
    dir: PathBuf,
}

impl Hosts {
    fn new(tag: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("io-eyeballs-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hosts"), text).unwrap();
        Self { dir }
    }

    fn args(&self, command: &mut Command, host: &str, port: u16) {
        command
            .arg(host)
            .arg(port.to_string())
            .arg("--hosts")
            .arg(self.dir.join("hosts"))
            .arg("--resolv-conf")
            .arg(self.dir.join("no-resolv.conf"))
            .args(["--delay-ms", "250", "--seconds", "20"]);
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A listener on 127.0.0.1 that accepts, and one on 127.0.0.2 with the same port whose
/// backlog (0: one queued connection) is full, so a further connect waits for good; and the
/// connection that fills it.
fn listeners() -> (StdListener, TcpListener, StdStream) {
    let runtime = io::Runtime::builder().threads(1).build().unwrap();
    for _ in 0..20 {
        let open = StdListener::bind("127.0.0.1:0").unwrap();
        let port = open.local_addr().unwrap().port();
        let full = runtime.run(|io| TcpListener::bind_with_backlog(io, ("127.0.0.2", port), 0));
        let Ok(full) = full else {
            continue;
        };
        let filler = StdStream::connect(full.local_addr().unwrap()).unwrap();
        return (open, full, filler);
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

fn race_reaches_the_third_address(backend: &str) {
    let (open, _full, _filler) = listeners();
    let port = open.local_addr().unwrap().port();
    let hosts = Hosts::new(
        backend,
        "127.0.0.2 race.internal\n127.0.0.3 race.internal\n127.0.0.1 race.internal\n",
    );
    let mut race = command(backend);
    hosts.args(&mut race, "race.internal", port);
    let finished = run_bounded(race, CHILD_LIMIT);
    assert!(finished.status.success(), "{finished}");
    let out = &finished.stdout;
    for line in [
        format!("race.internal resolves to 127.0.0.2:{port}, 127.0.0.3:{port}, 127.0.0.1:{port}"),
        format!("attempt 2: failed: connect 127.0.0.3:{port}: Connection refused"),
        format!("attempt 1: canceled (127.0.0.2:{port})"),
        format!("connected to 127.0.0.1:{port} by attempt 3 of 3"),
    ] {
        assert!(out.contains(&line), "missing {line:?} in {finished}");
    }
    // The winner's connection reached the open listener.
    open.set_nonblocking(true).unwrap();
    let accepted: SocketAddr = open.accept().expect("no connection arrived").1;
    assert!(accepted.ip().is_loopback());
}

#[test]
fn the_race_connects_by_the_address_that_accepts_threaded() {
    race_reaches_the_third_address("threaded");
}

#[test]
fn the_race_connects_by_the_address_that_accepts_uring() {
    if io::Runtime::builder()
        .backend(io::Backend::Uring)
        .build()
        .is_err()
    {
        eprintln!("skipped: io_uring unavailable");
        return;
    }
    race_reaches_the_third_address("uring");
}

#[test]
fn every_address_refusing_is_the_last_error() {
    let closed = StdListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let hosts = Hosts::new(
        "refused",
        "127.0.0.3 none.internal\n127.0.0.1 none.internal\n",
    );
    for backend in ["threaded", "uring"] {
        let mut race = command(backend);
        hosts.args(&mut race, "none.internal", port);
        let finished = run_bounded(race, CHILD_LIMIT);
        if backend == "uring" && finished.stderr.contains("io_uring") {
            continue; // a kernel that refuses io_uring: said in stderr
        }
        assert_eq!(finished.status.code(), Some(1), "{finished}");
        let expected = format!("happy_eyeballs: connect 127.0.0.1:{port}: Connection refused");
        assert!(finished.stderr.contains(&expected), "{finished}");
        assert!(
            finished.stdout.contains(&format!(
                "attempt 1: failed: connect 127.0.0.3:{port}: Connection refused"
            )),
            "{finished}"
        );
    }
}
