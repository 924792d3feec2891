//! `io::stdio`: standard input read through the shared, locked buffer by many tasks (each line
//! to exactly one), whole lines written through stdout's lock, and a task waiting for input
//! canceled promptly with nothing consumed and no descriptor leaked — with a pipe and with a
//! terminal as standard input. The program under test is `examples/stdin_echo.rs`, run as a
//! child on each backend; a terminal read is also canceled in this process.

mod support;

use std::ffi::CStr;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use support::examples::{self, available, Profile};
use support::{assert_cancel_interrupts, each_backend, watched, PROMPT};

const EXAMPLE: &str = "stdin_echo";
/// How long a child may take to answer (it is killed after that).
const ANSWER: Duration = Duration::from_secs(20);

/// A child running the example, killed when dropped; its output lines arrive on `lines`.
struct Echo {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Echo {
    /// Runs the example on `backend` with `args`, its standard input `stdin` (`None`: a pipe
    /// this side writes).
    fn spawn(backend: &str, args: &[&str], stdin: Option<OwnedFd>) -> Self {
        let path = examples::path(EXAMPLE, &[EXAMPLE], Profile::Test);
        let mut command = Command::new(path);
        command
            .args(args)
            .env("IO_BACKEND", backend)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match stdin {
            Some(fd) => command.stdin(Stdio::from(fd)),
            None => command.stdin(Stdio::piped()),
        };
        let mut child = command.spawn().expect("cannot start the example");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// The next line of output, or a panic after `ANSWER`.
    fn line(&self) -> String {
        self.lines
            .recv_timeout(ANSWER)
            .expect("the example did not answer in time")
    }

    /// Waits (bounded) for the child to exit successfully.
    fn succeeds(mut self) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + ANSWER;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the example failed: {status}");
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the example did not exit"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `f` once per backend the machine has, by name.
fn each_backend_name(f: impl Fn(&str)) {
    for backend in ["threaded", "uring"] {
        if available(backend) {
            f(backend);
        }
    }
}

#[test]
fn many_tasks_echo_every_line_of_piped_stdin_exactly_once() {
    each_backend_name(|backend| {
        let mut echo = Echo::spawn(backend, &["4"], None);
        let sent: Vec<String> = (0..500)
            .map(|i| format!("line {i} {}", "x".repeat(i % 40)))
            .collect();
        let mut stdin = echo.stdin.take().unwrap();
        let input: String = sent.iter().map(|line| format!("{line}\n")).collect();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let mut echoed = Vec::new();
        loop {
            let line = echo.line();
            if line.starts_with("eof") {
                assert_eq!(line, format!("eof after {} lines", sent.len()), "{backend}");
                break;
            }
            let (task, text) = line.split_once(' ').expect("a line without its task");
            assert!(task.parse::<usize>().unwrap() < 4, "{backend}: {line}");
            echoed.push(text.to_owned());
        }
        writer.join().unwrap().unwrap();
        echoed.sort();
        let mut expected = sent.clone();
        expected.sort();
        assert!(
            echoed == expected,
            "{backend}: lines lost, repeated or torn"
        );
        echo.succeeds();
    });
}

/// Checks the example's `--cancel` report, then sends it a line through `send`.
fn check_cancel(backend: &str, echo: &Echo, send: impl FnOnce()) {
    let report = echo.line();
    let (head, fds) = report.split_once(", descriptors ").expect(&report);
    let (before, after) = fds.split_once(" -> ").expect(&report);
    assert_eq!(before, after, "{backend}: descriptors leaked: {report}");
    let ms: u128 = head
        .strip_prefix("canceled=true in ")
        .and_then(|rest| rest.strip_suffix(" ms"))
        .expect(&report)
        .parse()
        .unwrap();
    assert!(ms < PROMPT.as_millis(), "{backend}: cancel took {ms} ms");
    send();
    assert_eq!(echo.line(), "then read \"after the cancel\"", "{backend}");
}

#[test]
fn a_canceled_read_of_a_piped_stdin_returns_promptly_and_consumes_nothing() {
    each_backend_name(|backend| {
        let mut echo = Echo::spawn(backend, &["--cancel"], None);
        let mut stdin = echo.stdin.take().unwrap();
        check_cancel(backend, &echo, || {
            stdin.write_all(b"after the cancel\n").unwrap();
        });
        drop(stdin);
        echo.succeeds();
    });
}

/// A new pseudo-terminal: (controller, terminal).
fn pty() -> (OwnedFd, OwnedFd) {
    // SAFETY: posix_openpt takes flags only; a non-negative result is a new descriptor.
    let controller = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(
        controller >= 0,
        "posix_openpt: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: just opened, owned by nobody else.
    let controller = unsafe { OwnedFd::from_raw_fd(controller) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&controller);
    // SAFETY: `raw` is the open controller of a pseudo-terminal.
    assert_eq!(unsafe { libc::grantpt(raw) }, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::unlockpt(raw) }, 0);
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: `name` is writable for its length.
    let rc = unsafe { libc::ptsname_r(raw, name.as_mut_ptr(), name.len()) };
    assert_eq!(rc, 0);
    // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) };
    // SAFETY: `path` is a valid C string; open takes flags.
    let terminal = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    assert!(
        terminal >= 0,
        "open {path:?}: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: just opened, owned by nobody else.
    (controller, unsafe { OwnedFd::from_raw_fd(terminal) })
}

#[test]
fn a_canceled_read_of_a_terminal_stdin_returns_promptly_and_consumes_nothing() {
    each_backend_name(|backend| {
        let (controller, terminal) = pty();
        let echo = Echo::spawn(backend, &["--cancel"], Some(terminal));
        let mut controller = std::fs::File::from(controller);
        check_cancel(backend, &echo, || {
            controller.write_all(b"after the cancel\n").unwrap();
        });
        // End of input on a terminal: ^D at the start of a line.
        controller.write_all(&[4]).unwrap();
        echo.succeeds();
    });
}

#[test]
fn a_read_of_a_terminal_is_a_cancellation_point_and_reads_a_line() {
    watched("terminal read", Duration::from_secs(60), || {
        each_backend(|io| {
            let (controller, terminal) = pty();
            assert_cancel_interrupts(io, || io.read_fd(terminal.as_fd(), &mut [0; 64]));
            io.write_fd(controller.as_fd(), b"typed\n").unwrap();
            let mut buf = [0; 64];
            let n = io.read_fd(terminal.as_fd(), &mut buf).unwrap();
            assert_eq!(&buf[..n], b"typed\n");
        });
    });
}
