//! Running one unit test in a child process, for tests that crash the process on purpose or use up
//! a per-process resource (kernel mappings) that the tests running beside them need.
//!
//! A test calls [`test_name`], then either does the dangerous part when [`is_child`] says this
//! process is its child, or runs [`run_child`] and checks the child's exit status and output. The
//! child is this test binary, selecting the one test with `--exact`.

use std::env;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Set in a child to the name of the test it runs.
const CHILD_ENV: &str = "IO_FIBER_TEST_CHILD";

/// How long a child may run; generous because other tests share the machine.
const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

/// libtest's name of test `name` defined in `module` (a `module_path!()`, which begins with the
/// crate's name; test names do not).
pub(super) fn test_name(module: &str, name: &str) -> String {
    let path = module.split_once("::").map_or("", |(_krate, path)| path);
    format!("{path}::{name}")
}

/// Returns whether this process is the child running `test`.
pub(super) fn is_child(test: &str) -> bool {
    env::var(CHILD_ENV).is_ok_and(|name| name == test)
}

/// What a child left behind.
pub(super) struct ChildOutput {
    pub(super) status: ExitStatus,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl ChildOutput {
    /// Asserts that the child ran exactly its one test and the test passed; relays its stderr
    /// (e.g. "skipped: …" notes) to this test's output.
    pub(super) fn assert_passed(&self) {
        eprint!("{}", self.stderr);
        assert!(
            self.status.success(),
            "{:?}, stderr:\n{}",
            self.status,
            self.stderr
        );
        assert!(
            self.stdout.contains("1 passed"),
            "the child did not run its test; stdout:\n{}",
            self.stdout
        );
    }
}

/// Runs `test` alone in a child process (ignored or not: the parent was asked to run it) and
/// waits for it, at most [`CHILD_TIMEOUT`].
///
/// # Panics
///
/// Panics if the child cannot be started or outlives the timeout (it is killed then).
pub(super) fn run_child(test: &str) -> ChildOutput {
    let mut child = Command::new(env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {test} did not finish within {CHILD_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    ChildOutput {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Reads a pipe to its end on a thread of its own, so a chatty child never blocks on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Keeps a child that crashes on purpose from writing a core file.
pub(super) fn disable_core_dumps() {
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads a valid rlimit and only affects this (child) process.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
}
