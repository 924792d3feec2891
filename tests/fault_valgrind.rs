//! valgrind's memcheck runs the examples 4, 6 and 7 cleanly on both backends: valgrind itself
//! does not crash (it did on the uring backend, whose fibers switch stacks, before fiber stacks
//! were registered with it), reports no invalid read, write or free and no definitely lost
//! memory, and each example prints and exits as it does natively: 4 and 6 fail at once with
//! `Error: OutOfMemory` (status 1), 7 prints its two results (status 0).
//!
//! The examples are built once per test binary by the cargo building this test, into its target
//! directory (with `support::examples`, as tests/examples_real.rs does), always in the release
//! profile: the build users memcheck, and the one where valgrind crashed (on a debug build it
//! only warned "client switching stacks?", which the test rejects too). Every child is bounded
//! and killed past its limit. Skipped, saying so on stderr, where valgrind is not installed (and
//! on uring where io_uring is unavailable).

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use support::examples::{self, available, run_bounded, Finished, Profile};

/// The examples run under valgrind.
const EXAMPLES: &[&str] = &["example4", "example6", "example7"];

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

/// Runs `example` on `backend` under memcheck and checks valgrind's verdict: it ran to its end
/// (no crash of its own, no warning about an unknown stack), found no invalid access or free
/// and no definitely lost block (its stderr holds the example's and valgrind's report,
/// interleaved). `None` (said on stderr) where valgrind or the backend is unavailable.
fn memcheck(example: &str, backend: &str) -> Option<Finished> {
    if !valgrind_installed() || !available(backend) {
        return None;
    }
    let mut valgrind = Command::new("valgrind");
    valgrind
        .args(["--tool=memcheck", "--leak-check=full", "--error-exitcode=3"])
        .arg(example_path(example))
        .env("IO_BACKEND", backend)
        .env_remove("IO_THREADS");
    let run = run_bounded(valgrind, VALGRIND_LIMIT);
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

// ---------------------------------------------------------------------------------------------
// Building the examples

/// The path of `name`, built (with all of [`EXAMPLES`], once per test binary) in this binary's
/// target directory, release profile.
fn example_path(name: &str) -> PathBuf {
    examples::path(name, EXAMPLES, Profile::Release)
}
