//! valgrind's memcheck runs the examples 4, 6 and 7 cleanly on both backends: valgrind itself
//! does not crash (it did on the uring backend, whose fibers switch stacks, before fiber stacks
//! were registered with it), reports no invalid read, write or free and no definitely lost
//! memory, and each example prints and exits as it does natively: 4 and 6 fail at once with
//! `Error: OutOfMemory` (status 1), 7 prints its two results (status 0).
//!
//! The examples are built once per test binary by the cargo building this test, into its target
//! directory (as tests/examples_real.rs does), always in the release profile: the build users
//! memcheck, and the one where valgrind crashed (on a debug build it only warned "client
//! switching stacks?", which the test rejects too). Every child is bounded and killed past its
//! limit. Skipped, saying so on stderr, where valgrind is not installed (and on uring
//! where io_uring is unavailable).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The examples run under valgrind.
const EXAMPLES: &[&str] = &["example4", "example6", "example7"];

/// How long building the examples may take (from scratch on a slow machine).
const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// How long one example may run under valgrind before it is killed.
const VALGRIND_LIMIT: Duration = Duration::from_secs(300);

/// What example 4's and 6's second task prints if it starts before it is canceled.
const EXCUSE: &str = "working on an excuse not to drink Spezi";

// ---------------------------------------------------------------------------------------------
// The scenarios

/// Examples 4 and 6: the first task fails, `?` leaves `main` with `Error: OutOfMemory` (status
/// 1) and the scope cancels the second task, which may have printed its line first.
fn fails_at_once(example: &str, backend: &str) {
    let Some(run) = memcheck(example, backend) else {
        return;
    };
    assert_eq!(run.status.code(), Some(1), "{run}");
    assert!(run.stderr.contains("Error: OutOfMemory"), "{run}");
    assert!(
        run.stdout.lines().all(|line| line == EXCUSE) && run.stdout.lines().count() <= 1,
        "{run}"
    );
}

/// Example 7: both tasks work (in either order), then `main` prints both results (status 0).
fn prints_both_results(backend: &str) {
    let Some(run) = memcheck("example7", backend) else {
        return;
    };
    assert_eq!(run.status.code(), Some(0), "{run}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{run}");
    let mut working = lines[..2].to_vec();
    working.sort_unstable();
    assert_eq!(working, ["working hard", EXCUSE], "{run}");
    assert_eq!(
        lines[2..],
        ["finished hard", "finished on an excuse not to drink Spezi"],
        "{run}"
    );
}

#[test]
fn example4_under_memcheck_threaded() {
    fails_at_once("example4", "threaded");
}

#[test]
fn example4_under_memcheck_uring() {
    fails_at_once("example4", "uring");
}

#[test]
fn example6_under_memcheck_threaded() {
    fails_at_once("example6", "threaded");
}

#[test]
fn example6_under_memcheck_uring() {
    fails_at_once("example6", "uring");
}

#[test]
fn example7_under_memcheck_threaded() {
    prints_both_results("threaded");
}

#[test]
fn example7_under_memcheck_uring() {
    prints_both_results("uring");
}

// ---------------------------------------------------------------------------------------------
// valgrind

/// What an example did under valgrind.
#[derive(Debug)]
struct Run {
    what: String,
    status: ExitStatus,
    stdout: String,
    /// The example's stderr and valgrind's report, interleaved.
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}):\n--- stdout\n{}--- stderr\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `example` on `backend` under memcheck and checks valgrind's verdict: it ran to its end
/// (no crash of its own, no warning about an unknown stack), found no invalid access or free
/// and no definitely lost block. `None` (said on stderr) where valgrind or the backend is
/// unavailable.
fn memcheck(example: &str, backend: &str) -> Option<Run> {
    if !valgrind_installed() || !available(backend) {
        return None;
    }
    let mut valgrind = Command::new("valgrind");
    valgrind
        .args(["--tool=memcheck", "--leak-check=full", "--error-exitcode=3"])
        .arg(example_path(example))
        .env("IO_BACKEND", backend)
        .env_remove("IO_THREADS");
    let run = run_bounded(valgrind, VALGRIND_LIMIT, format!("{example} on {backend}"));
    let report = &run.stderr;
    for crash in ["VALGRIND INTERNAL ERROR", "the 'impossible' happened"] {
        assert!(!report.contains(crash), "valgrind crashed: {run}");
    }
    assert!(run.status.code().is_some(), "killed by a signal: {run}");
    assert!(
        report.contains("ERROR SUMMARY:"),
        "valgrind did not finish: {run}"
    );
    // A fiber stack valgrind does not know makes every switch look like a jump of the stack.
    assert!(
        !report.contains("client switching stacks"),
        "valgrind does not know a stack: {run}"
    );
    for error in ["Invalid read", "Invalid write", "Invalid free"] {
        assert!(!report.contains(error), "{error}: {run}");
    }
    assert!(
        report.contains("ERROR SUMMARY: 0 errors"),
        "memcheck found errors: {run}"
    );
    let lost = report
        .lines()
        .find(|line| line.contains("definitely lost:"));
    assert!(
        lost.is_none_or(|line| line.contains("definitely lost: 0 bytes")),
        "a leak: {run}"
    );
    Some(run)
}

/// Whether valgrind is installed; if not, says so on stderr.
fn valgrind_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let installed = *INSTALLED.get_or_init(|| {
        Command::new("valgrind")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if !installed {
        eprintln!("skipped: valgrind is not installed");
    }
    installed
}

/// Whether this machine can run `backend`; if not, says why on stderr.
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

// ---------------------------------------------------------------------------------------------
// Building the examples

/// The path of `name`, built (once per test binary) in this binary's target directory, release
/// profile.
fn example_path(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_examples) {
        Ok(dir) => dir.join(name),
        Err(why) => panic!("cannot build the examples: {why}"),
    }
}

/// Builds [`EXAMPLES`] with the cargo that builds this test, in the release profile, into the
/// target directory of this binary (`<target>/<profile>/deps/<this test>`); returns
/// `<target>/release/examples`.
fn build_examples() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let deps = exe.parent().ok_or("the test binary has no directory")?;
    let profile_dir = deps.parent().ok_or("no profile directory above deps/")?;
    let target_dir = profile_dir
        .parent()
        .ok_or("no target directory above the profile directory")?;
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            env!("CARGO_PKG_NAME"),
        ])
        .arg("--target-dir")
        .arg(target_dir);
    for name in EXAMPLES {
        cargo.args(["--example", name]);
    }
    let built = run_bounded(cargo, BUILD_LIMIT, "cargo build".to_owned());
    if !built.status.success() {
        return Err(format!("cargo build of the examples failed: {built}"));
    }
    let examples = target_dir.join("release").join("examples");
    match EXAMPLES.iter().find(|name| !examples.join(name).is_file()) {
        Some(missing) => Err(format!(
            "cargo built no {}",
            examples.join(missing).display()
        )),
        None => Ok(examples),
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded children

/// Runs `command` to its end with its output captured; kills it (and panics) once it has run
/// for `limit`. The child is killed too if this panics meanwhile.
fn run_bounded(mut command: Command, limit: Duration, what: String) -> Run {
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            if let Ok(None) = self.0.try_wait() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut child = Killed(child);
    let read_all = |pipe: Option<Box<dyn Read + Send>>| -> JoinHandle<String> {
        std::thread::spawn(move || {
            let mut all = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut all);
            }
            all
        })
    };
    let stdout = read_all(child.0.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read_all(child.0.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                drop(child);
                let stderr = stderr.join().unwrap_or_default();
                panic!("{what} still ran after {limit:?}, killed; stderr:\n{stderr}");
            }
            Err(e) => panic!("{what}: wait: {e}"),
        }
    };
    Run {
        what,
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}
