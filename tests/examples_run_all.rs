//! `examples/run_all` end to end, on each backend: fast, failing and hanging commands run at
//! most J at a time; the hanging ones are killed (with what they started) at the timeout, far
//! before they would end; every command's status and output is reported, and the exit status
//! says that some failed.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::examples::{self, available, run_bounded, Profile};

/// How long a run may take before it is killed (its stragglers would sleep ~30 s).
const CHILD_LIMIT: Duration = Duration::from_secs(20);

fn run_all(backend: &str) -> Command {
    let mut command = Command::new(examples::path("run_all", &["run_all"], Profile::Test));
    command.env("IO_BACKEND", backend).env_remove("IO_THREADS");
    command
}

/// The processes whose command line is `sleep SECONDS`.
fn sleepers(seconds: &str) -> Vec<String> {
    let wanted = format!("sleep\0{seconds}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            (cmdline == wanted.as_bytes()).then(|| entry.file_name().to_string_lossy().into())
        })
        .collect()
}

fn stragglers_are_killed_at_the_timeout(backend: &str, sleep: &str) {
    if !available(backend) {
        return;
    }
    let mut command = run_all(backend);
    command.args(["-j", "3", "--timeout", "1", "--"]).args([
        "echo fast".to_owned(),
        "echo oops >&2; exit 3".to_owned(),
        format!("echo begun; sleep {sleep}"),
        format!("sh -c 'sleep {sleep} | cat'; echo never"),
        "echo last".to_owned(),
    ]);
    let start = Instant::now();
    let finished = run_bounded(command, CHILD_LIMIT);
    let elapsed = start.elapsed();
    let out = &finished.stdout;
    assert_eq!(finished.status.code(), Some(1), "{finished}");
    assert!(
        elapsed < Duration::from_secs(10),
        "took {elapsed:?}: {finished}"
    );
    for expected in [
        "[1] ok in ",
        "  out| fast\n",
        "[2] exit 3 in ",
        "  err| oops\n",
        "[3] timed out, killed in ",
        "  out| begun\n",
        "[4] timed out, killed in ",
        "[5] ok in ",
        "  out| last\n",
        "5 commands: 2 ok, 1 failed, 2 timed out\n",
    ] {
        assert!(out.contains(expected), "no {expected:?} in {finished}");
    }
    assert!(!out.contains("out| never"), "{finished}");
    // The whole process group of each straggler was killed, the sleep under `sh -c` too.
    assert_eq!(sleepers(sleep), Vec::<String>::new(), "{finished}");
}

#[test]
fn stragglers_are_killed_at_the_timeout_threaded() {
    stragglers_are_killed_at_the_timeout("threaded", "29.1");
}

#[test]
fn stragglers_are_killed_at_the_timeout_uring() {
    stragglers_are_killed_at_the_timeout("uring", "29.2");
}

fn commands_from_a_file_run_one_at_a_time_in_order(backend: &str) {
    if !available(backend) {
        return;
    }
    let file = std::env::temp_dir().join(format!("io-run-all-{backend}-{}", std::process::id()));
    std::fs::write(&file, "# a comment\necho one\n\nexit 0\necho three >&2\n").unwrap();
    let mut command = run_all(backend);
    command
        .arg("-j")
        .arg("1")
        .arg("-f")
        .arg(PathBuf::from(&file));
    let finished = run_bounded(command, CHILD_LIMIT);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(finished.status.code(), Some(0), "{finished}");
    let reports: Vec<&str> = finished
        .stdout
        .lines()
        .filter(|line| line.starts_with('['))
        .collect();
    assert_eq!(reports.len(), 3, "{finished}");
    for (i, (report, command)) in reports
        .iter()
        .zip(["echo one", "exit 0", "echo three >&2"])
        .enumerate()
    {
        assert!(
            report.starts_with(&format!("[{}] ok in ", i + 1)),
            "{finished}"
        );
        assert!(report.ends_with(&format!(": {command}")), "{finished}");
    }
    assert!(finished.stdout.contains("  err| three\n"), "{finished}");
    assert!(
        finished
            .stdout
            .ends_with("3 commands: 3 ok, 0 failed, 0 timed out\n"),
        "{finished}"
    );
}

#[test]
fn commands_from_a_file_run_one_at_a_time_in_order_threaded() {
    commands_from_a_file_run_one_at_a_time_in_order("threaded");
}

#[test]
fn commands_from_a_file_run_one_at_a_time_in_order_uring() {
    commands_from_a_file_run_one_at_a_time_in_order("uring");
}

#[test]
fn no_command_is_a_usage_error() {
    let finished = run_bounded(run_all("threaded"), CHILD_LIMIT);
    assert_eq!(finished.status.code(), Some(2), "{finished}");
    assert!(finished.stderr.contains("usage: run_all"), "{finished}");
}
