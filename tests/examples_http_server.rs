//! `examples/http_server` as a child process, on each backend: it serves files with keep-alive
//! and the right statuses, closes idle connections after its idle timeout, and on SIGTERM
//! finishes the response in flight before it exits cleanly with its summary.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::examples::{self, available, Profile, Running};

/// How long a child may run before it is killed.
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// The size of the file whose response is in flight when SIGTERM arrives: far more than the
/// socket buffers hold, so the server is still sending it.
const BIG: usize = 32 << 20;

/// A directory of files to serve, removed on drop.
struct Site(PathBuf);

impl Site {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("io-http-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("hello.txt"), "hello, world\n").unwrap();
        std::fs::write(dir.join("sub/index.html"), "<p>sub</p>\n").unwrap();
        let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("big.bin"), big).unwrap();
        Self(dir)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The server on `backend`, serving `root`, with `args`; returns it with its address.
fn start(backend: &str, root: &Path, args: &[&str]) -> (Running, String) {
    let program = examples::path("http_server", &["http_server"], Profile::Test);
    let mut command = Command::new(program);
    command
        .env("IO_BACKEND", backend)
        .env_remove("IO_THREADS")
        .args(["--addr", "127.0.0.1:0", "--root"])
        .arg(root)
        .args(args);
    let mut server = Running::spawn(command);
    let addr = server.listening_addr(Duration::from_secs(20));
    (server, addr)
}

/// A client connection with bounded reads.
fn connect(addr: &str) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    BufReader::new(stream)
}

/// One response: its status, headers (lower-case names) and body (none for HEAD).
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response from `conn`; `head_only` for the answer to a HEAD request.
fn read_response(conn: &mut BufReader<TcpStream>, head_only: bool) -> Response {
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if !head_only {
        let length: usize = response.header("content-length").unwrap().parse().unwrap();
        response.body = vec![0; length];
        conn.read_exact(&mut response.body).unwrap();
    }
    response
}

fn request(conn: &mut BufReader<TcpStream>, text: &str) {
    conn.get_mut().write_all(text.as_bytes()).unwrap();
}

/// Whether the server closed `conn` (a read returns end of file).
fn closed(conn: &mut BufReader<TcpStream>) -> bool {
    let mut byte = [0];
    matches!(conn.read(&mut byte), Ok(0))
}

fn serves_files_with_keep_alive(backend: &str) {
    if !available(backend) {
        return;
    }
    let site = Site::new(&format!("serve-{backend}"));
    let (server, addr) = start(backend, &site.0, &["--seconds", "30"]);

    let mut conn = connect(&addr);
    // Two requests in one write (pipelined), then more on the same connection.
    request(
        &mut conn,
        "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let get = read_response(&mut conn, false);
    assert_eq!(get.status, 200);
    assert_eq!(get.body, b"hello, world\n");
    assert_eq!(
        get.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(get.header("connection"), Some("keep-alive"));
    let head = read_response(&mut conn, true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));

    request(&mut conn, "GET /sub/ HTTP/1.1\r\n\r\n");
    assert_eq!(read_response(&mut conn, false).body, b"<p>sub</p>\n");
    request(&mut conn, "GET /missing.txt HTTP/1.1\r\n\r\n");
    assert_eq!(read_response(&mut conn, false).status, 404);
    request(&mut conn, "GET /sub HTTP/1.1\r\n\r\n");
    assert_eq!(read_response(&mut conn, false).status, 404, "a directory");
    request(&mut conn, "GET /../../etc/passwd HTTP/1.1\r\n\r\n");
    assert_eq!(
        read_response(&mut conn, false).status,
        404,
        "outside the root"
    );
    request(
        &mut conn,
        "GET /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    let last = read_response(&mut conn, false);
    assert_eq!(last.header("connection"), Some("close"));
    assert!(
        closed(&mut conn),
        "the server keeps a `Connection: close` open"
    );

    let mut refused = connect(&addr);
    request(&mut refused, "POST /hello.txt HTTP/1.1\r\n\r\n");
    assert_eq!(read_response(&mut refused, false).status, 405);
    assert!(closed(&mut refused));

    // SIGINT works as SIGTERM does.
    // SAFETY: kill only sends a signal to the child, which is alive until it is waited for.
    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGINT) }, 0);
    let server = server.finish(CHILD_LIMIT);
    assert!(server.status.success(), "{server:?}");
    assert!(server.stderr.contains("interrupted (SIGINT)"), "{server:?}");
    assert_eq!(
        server.stdout.lines().last(),
        Some("served 7 requests on 2 connections"),
        "{server:?}"
    );
}

#[test]
fn serves_files_with_keep_alive_threaded() {
    serves_files_with_keep_alive("threaded");
}

#[test]
fn serves_files_with_keep_alive_uring() {
    serves_files_with_keep_alive("uring");
}

fn closes_idle_connections(backend: &str) {
    if !available(backend) {
        return;
    }
    let site = Site::new(&format!("idle-{backend}"));
    let (server, addr) = start(
        backend,
        &site.0,
        &["--idle-timeout", "1", "--seconds", "30"],
    );
    let mut silent = connect(&addr);
    let started = Instant::now();
    assert!(closed(&mut silent), "the idle connection was not closed");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "closed after {waited:?}, with an idle timeout of 1 s"
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
    let server = server.finish(CHILD_LIMIT);
    assert!(server.status.success(), "{server:?}");
}

#[test]
fn closes_idle_connections_threaded() {
    closes_idle_connections("threaded");
}

#[test]
fn closes_idle_connections_uring() {
    closes_idle_connections("uring");
}

fn sigterm_drains_the_response_in_flight(backend: &str) {
    if !available(backend) {
        return;
    }
    let site = Site::new(&format!("drain-{backend}"));
    let (mut server, addr) = start(backend, &site.0, &["--drain-timeout", "30"]);

    // An idle keep-alive connection, after one request.
    let mut idle = connect(&addr);
    request(&mut idle, "GET /hello.txt HTTP/1.1\r\n\r\n");
    assert_eq!(read_response(&mut idle, false).status, 200);

    // A big response, of which the client has read only the head when SIGTERM arrives.
    let mut busy = connect(&addr);
    request(&mut busy, "GET /big.bin HTTP/1.1\r\n\r\n");
    let mut line = String::new();
    busy.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line:?}");
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
    let draining = server
        .stderr
        .wait_for(Duration::from_secs(20), |l| l.contains("draining"));
    assert!(draining.is_some(), "no drain: {}", server.report());
    assert!(server.is_running(), "the server quit during the drain");

    // The rest of the response arrives whole, then the connection closes.
    loop {
        let mut header = String::new();
        busy.read_line(&mut header).unwrap();
        if header.trim_end().is_empty() {
            break;
        }
    }
    let mut body = vec![0; BIG];
    busy.read_exact(&mut body).unwrap();
    assert!(
        body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
        "the body arrived damaged"
    );
    assert!(closed(&mut busy), "the draining server kept the connection");
    assert!(
        closed(&mut idle),
        "the idle connection outlived the shutdown"
    );

    let server = server.finish(CHILD_LIMIT);
    assert!(server.status.success(), "{server:?}");
    assert!(server.stderr.contains("terminated (SIGTERM)"), "{server:?}");
    assert!(
        server.stderr.contains("(0 responses cut short)"),
        "{server:?}"
    );
    assert_eq!(
        server.stdout.lines().last(),
        Some("served 2 requests on 2 connections"),
        "{server:?}"
    );
}

#[test]
fn sigterm_drains_the_response_in_flight_threaded() {
    sigterm_drains_the_response_in_flight("threaded");
}

#[test]
fn sigterm_drains_the_response_in_flight_uring() {
    sigterm_drains_the_response_in_flight("uring");
}
