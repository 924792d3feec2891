//! The `grep` example end to end: on a generated tree it prints exactly the matching lines of
//! the regular files (skipping symbolic links and FIFOs) and exits 0; 1 when nothing matches;
//! 2 with the path named for a missing directory; 2 when its timeout expires first. On both
//! backends (`IO_BACKEND`), each child bounded in time.

mod support;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::examples::{self, available, run_bounded, Finished, Profile};
use support::TempDir;

/// How long a child that should end on its own may run before it is killed.
const CHILD_LIMIT: Duration = Duration::from_secs(60);

const BACKENDS: [&str; 2] = ["threaded", "uring"];

/// Runs the `grep` example with `args` on `backend`, to its end.
fn grep(backend: &str, args: &[&std::ffi::OsStr]) -> Finished {
    let mut command = Command::new(examples::path("grep", &["grep"], Profile::Test));
    command
        .env("IO_BACKEND", backend)
        .env_remove("IO_THREADS")
        .args(args);
    run_bounded(command, CHILD_LIMIT)
}

/// Writes a tree of 60 files in nested directories under `root`, some of whose lines contain
/// "needle"; returns the `PATH:LINE` lines grep must print. Also a symbolic link to a matching
/// file and a FIFO, which grep must skip (and not wait for).
fn make_tree(root: &Path) -> Vec<String> {
    let mut expected = Vec::new();
    for i in 0..60 {
        let dir = root.join(format!("d{}", i % 4)).join(format!("e{}", i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("file-{i}.txt"));
        let mut text = String::new();
        for line in 0..(i % 7 + 1) {
            let content = if (i + line) % 3 == 0 {
                format!("line {line} has a needle in file {i}")
            } else {
                format!("line {line} has nothing, neither nee nor dle")
            };
            if content.contains("needle") {
                expected.push(format!("{}:{content}", path.display()));
            }
            text.push_str(&content);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
    }
    std::os::unix::fs::symlink(root.join("d0/e0/file-0.txt"), root.join("link.txt")).unwrap();
    let fifo = CString::new(root.join("d1/fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: `fifo` is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    expected.sort();
    expected
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn grep_prints_every_matching_line_and_only_those() {
    for backend in BACKENDS {
        if !available(backend) {
            continue;
        }
        let dir = TempDir::new("examples-grep", &format!("match-{backend}"));
        let expected = make_tree(&dir.0);
        assert!(expected.len() > 20, "the tree has matches");
        for tasks in ["1", "4"] {
            let found = grep(
                backend,
                &[
                    "needle".as_ref(),
                    dir.0.as_os_str(),
                    "--tasks".as_ref(),
                    tasks.as_ref(),
                ],
            );
            assert_eq!(found.status.code(), Some(0), "{found}");
            assert_eq!(sorted_lines(&found.stdout), expected, "{found}");
            assert_eq!(found.stderr, "", "{found}");
        }
        let none = grep(backend, &["no such text".as_ref(), dir.0.as_os_str()]);
        assert_eq!(none.status.code(), Some(1), "{none}");
        assert_eq!(none.stdout, "", "{none}");
    }
}

#[test]
fn grep_of_a_missing_directory_names_it_and_exits_2() {
    for backend in BACKENDS {
        if !available(backend) {
            continue;
        }
        let dir = TempDir::new("examples-grep", &format!("missing-{backend}"));
        let missing = dir.0.join("not-there");
        let failed = grep(backend, &["needle".as_ref(), missing.as_os_str()]);
        assert_eq!(failed.status.code(), Some(2), "{failed}");
        let expected = format!(
            "grep: read_dir {}: No such file or directory",
            missing.display()
        );
        assert!(failed.stderr.starts_with(&expected), "{failed}");
        assert_eq!(failed.stdout, "", "{failed}");
    }
}

/// A timeout that expires before the search ends stops every worker: the program says so and
/// exits 2 (well within the bound on the child).
#[test]
fn grep_stops_everything_when_its_timeout_expires() {
    for backend in BACKENDS {
        if !available(backend) {
            continue;
        }
        let dir = TempDir::new("examples-grep", &format!("timeout-{backend}"));
        for d in 0..20 {
            let sub = dir.0.join(format!("d{d}"));
            std::fs::create_dir(&sub).unwrap();
            for f in 0..100 {
                std::fs::write(sub.join(format!("f{f}")), "a needle\n".repeat(50)).unwrap();
            }
        }
        let stopped = grep(
            backend,
            &[
                "needle".as_ref(),
                dir.0.as_os_str(),
                "--timeout".as_ref(),
                "0".as_ref(),
            ],
        );
        assert_eq!(stopped.status.code(), Some(2), "{stopped}");
        assert!(
            stopped.stderr.starts_with("grep: timed out after 0 s"),
            "{stopped}"
        );
        assert!(stopped.stdout.lines().count() < 2_000 * 50, "{stopped}");
    }
}
