//! HTTP/1.1 static files: requests per second over 200 keep-alive connections on 127.0.0.1.
//!
//! The servers are the programs of `examples/`, each a child process built in release:
//! `http_server` (io, on the threaded backend with 2 workers and on the uring backend, one loop
//! thread) and `http_server_tokio` (the same server on tokio with 2 workers, with `tokio::fs`
//! and with std's blocking file calls in the task; all share the request parser and open and
//! read the file for every request). The same client
//! drives each: 200 std threads, each sending `GET /FILE` and reading the whole response on its
//! own keep-alive connection until a deadline. Also the server's CPU time per request, read
//! from `/proc/PID/stat` (user + system) over the case.

mod common;
#[path = "../tests/support/examples.rs"]
#[allow(dead_code)]
mod examples;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Table, Value};
use examples::{Profile, Running};

const CONNECTIONS: usize = 200;
const SERVERS: &[&str] = &["http_server", "http_server_tokio"];

/// What one case measured.
struct Outcome {
    per_request: Value,
    cpu_per_request: Value,
    requests_per_sec: f64,
}

fn main() {
    let length = if common::quick() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(3)
    };
    let site = Site::new();
    let mut table = Table::new(format!(
        "HTTP/1.1 static files, {CONNECTIONS} keep-alive connections (time per request, all \
         connections together)"
    ));
    let mut notes = Vec::new();
    for (file, size) in [("small.txt", 1024), ("large.bin", 256 * 1024)] {
        let tokio = run_case("http_server_tokio", &[], &[], &site.0, file, size, length);
        notes.push(format!(
            "{file}: tokio (2 workers, tokio::fs) {:.0} requests/s",
            tokio.requests_per_sec
        ));
        let std_fs = ["--std-fs"];
        let tokio_std = run_case(
            "http_server_tokio",
            &[],
            &std_fs,
            &site.0,
            file,
            size,
            length,
        );
        notes.push(format!(
            "{file}: tokio (2 workers, std::fs in the task) {:.0} requests/s",
            tokio_std.requests_per_sec
        ));
        for (name, backend, threads) in
            [("io-threaded", "threaded", "2"), ("io-uring", "uring", "")]
        {
            let env = [("IO_BACKEND", backend), ("IO_THREADS", threads)];
            let io = run_case("http_server", &env, &[], &site.0, file, size, length);
            notes.push(format!(
                "{file}: {name} {:.0} requests/s",
                io.requests_per_sec
            ));
            for (peer, outcome) in [("tokio, tokio::fs", &tokio), ("tokio, std::fs", &tokio_std)] {
                table.row(
                    format!("GET {size} B file ({name})"),
                    peer,
                    &io.per_request,
                    outcome.per_request.clone(),
                );
                table.row(
                    format!("server CPU per {size} B request ({name})"),
                    peer,
                    &io.cpu_per_request,
                    outcome.cpu_per_request.clone(),
                );
            }
        }
    }
    table.note(format!(
        "one run of {:.1} s per server and file; client: {CONNECTIONS} std threads, each a \
         keep-alive connection sending GET and reading the whole response",
        length.as_secs_f64()
    ));
    table.note(
        "servers: examples/http_server (io; IO_BACKEND=threaded IO_THREADS=2, or uring with one \
         loop thread) and examples/http_server_tokio (tokio, 2 workers; tokio::fs, or with \
         --std-fs std's blocking file calls in the task), all opening, stat-ing and reading the \
         file for every request",
    );
    table.note("server CPU: utime + stime of the server process (/proc/PID/stat) over the case");
    for note in notes {
        table.note(note);
    }
    table.print();
}

/// The files served, in a temporary directory removed on drop.
struct Site(PathBuf);

impl Site {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("io-bench-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("site directory");
        std::fs::write(dir.join("small.txt"), vec![b'x'; 1024]).expect("small file");
        std::fs::write(dir.join("large.bin"), vec![7u8; 256 * 1024]).expect("large file");
        Self(dir)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `server` serving `root`, drives it with the client for `length`, and kills it.
fn run_case(
    server: &str,
    env: &[(&str, &str)],
    args: &[&str],
    root: &Path,
    file: &str,
    size: usize,
    length: Duration,
) -> Outcome {
    let program = examples::path(server, SERVERS, Profile::Release);
    let mut command = Command::new(program);
    command
        .args(["--addr", "127.0.0.1:0", "--root"])
        .arg(root)
        .args(args);
    for &(name, value) in env {
        match value {
            "" => command.env_remove(name),
            value => command.env(name, value),
        };
    }
    let mut child = Running::spawn(command);
    let first = child
        .stdout
        .wait_for(Duration::from_secs(30), |_| true)
        .unwrap_or_else(|| panic!("{server} did not start: {}", child.report()));
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{server}'s first line: {first:?}"))
        .to_owned();
    let (requests, elapsed, cpu) = client(&addr, file, size, length, child.id());
    drop(child);
    Outcome {
        per_request: Value::Time(elapsed.as_secs_f64() * 1e9 / requests as f64),
        cpu_per_request: Value::Time(cpu.as_secs_f64() * 1e9 / requests as f64),
        requests_per_sec: requests as f64 / elapsed.as_secs_f64(),
    }
}

/// The user + system CPU time of process `pid` so far.
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The fields after the command name (in parentheses, which may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat format")
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / per_second)
}

/// Requests answered over all connections, the time they took, and the server's CPU time.
fn client(
    addr: &str,
    file: &str,
    size: usize,
    length: Duration,
    server: u32,
) -> (u64, Duration, Duration) {
    let start_line = Arc::new(Barrier::new(CONNECTIONS + 1));
    let request = format!("GET /{file} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let start_line = Arc::clone(&start_line);
            let request = request.clone();
            let addr = addr.to_owned();
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let stream = TcpStream::connect(&addr).expect("connect");
                    stream.set_nodelay(true).expect("nodelay");
                    let mut conn = BufReader::new(stream);
                    let mut body = vec![0; size];
                    start_line.wait();
                    let deadline = Instant::now() + length;
                    let mut requests = 0u64;
                    while Instant::now() < deadline {
                        conn.get_mut().write_all(request.as_bytes()).expect("write");
                        let length = read_head(&mut conn);
                        assert_eq!(length, size, "Content-Length");
                        conn.read_exact(&mut body).expect("body");
                        requests += 1;
                    }
                    requests
                })
                .expect("client thread")
        })
        .collect();
    start_line.wait();
    let cpu_before = process_cpu(server);
    let start = Instant::now();
    let requests = threads.into_iter().map(|t| t.join().expect("client")).sum();
    let elapsed = start.elapsed();
    let cpu = process_cpu(server).saturating_sub(cpu_before);
    (requests, elapsed, cpu)
}

/// Reads a response head and returns its Content-Length; panics on a status other than 200.
fn read_head(conn: &mut BufReader<TcpStream>) -> usize {
    let mut line = String::new();
    conn.read_line(&mut line).expect("status line");
    assert!(line.starts_with("HTTP/1.1 200 "), "status line {line:?}");
    let mut length = None;
    loop {
        line.clear();
        conn.read_line(&mut line).expect("header");
        let header = line.trim_end();
        if header.is_empty() {
            return length.expect("a Content-Length header");
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse().expect("a number"));
            }
        }
    }
}
