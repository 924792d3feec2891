//! The pattern examples run end to end as child processes, on each backend: `fan_out` (first
//! error cancels the rest), `hedged` (first of three replicas wins, the losers are canceled) and
//! `pipeline` (queues with backpressure). Every child is bounded (`run_bounded`).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::examples::{self, available, run_bounded, Profile};

const EXAMPLES: &[&str] = &["fan_out", "hedged", "pipeline"];
const CHILD_LIMIT: Duration = Duration::from_secs(60);
const BACKENDS: &[&str] = &["threaded", "uring"];

fn command(program: &str, backend: &str) -> Command {
    let mut command = Command::new(examples::path(program, EXAMPLES, Profile::Test));
    command.env("IO_BACKEND", backend).env_remove("IO_THREADS");
    command
}

#[test]
fn fan_out_sums_every_file_and_the_first_error_cancels_the_slow_sources_at_once() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let files = [
        format!("{manifest}/Cargo.toml"),
        format!("{manifest}/README.md"),
    ];
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    for &backend in BACKENDS.iter().filter(|b| available(b)) {
        let mut all = command("fan_out", backend);
        all.args(&files);
        let done = run_bounded(all, CHILD_LIMIT);
        assert!(done.status.success(), "{done}");
        assert_eq!(
            done.stdout.trim(),
            format!("2 paths, {bytes} bytes"),
            "{done}"
        );

        let mut failing = command("fan_out", backend);
        failing.args(["slow", &files[0], "/nonexistent/fan-out", "slow"]);
        let start = Instant::now();
        let failed = run_bounded(failing, CHILD_LIMIT);
        let elapsed = start.elapsed();
        assert_eq!(failed.status.code(), Some(1), "{failed}");
        let mut lines = failed.stdout.lines();
        let first =
            "first error: open /nonexistent/fan-out: No such file or directory (os error 2)";
        assert_eq!(lines.next(), Some(first), "{failed}");
        // Both slow sources were canceled; the read of the real file too if it had not finished
        // when the error came (on a loaded machine it may not have).
        let canceled = lines.next().and_then(|l| l.strip_prefix("canceled: "));
        assert!(matches!(canceled, Some("2" | "3")), "{failed}");
        // The slow sources would take 10 s: the cancel ended them.
        assert!(
            elapsed < Duration::from_secs(5),
            "{backend}: took {elapsed:?}"
        );
    }
}

#[test]
fn hedged_takes_the_fastest_replica_and_cancels_the_two_others() {
    for &backend in BACKENDS.iter().filter(|b| available(b)) {
        for (delays, winner) in [(["300", "20", "10000"], 1), (["10", "10000", "10000"], 0)] {
            let mut hedged = command("hedged", backend);
            hedged.args(delays);
            let start = Instant::now();
            let done = run_bounded(hedged, CHILD_LIMIT);
            let elapsed = start.elapsed();
            assert!(done.status.success(), "{done}");
            let lines: Vec<&str> = done.stdout.lines().collect();
            assert!(
                lines[0].starts_with(&format!("winner: replica {winner} after ")),
                "{done}"
            );
            assert_eq!(lines[1], "losers canceled: 2", "{done}");
            assert!(
                elapsed < Duration::from_secs(5),
                "{backend}: took {elapsed:?}"
            );
        }
    }
}

#[test]
fn pipeline_squares_every_number_with_the_producer_held_back_by_the_queue() {
    for &backend in BACKENDS.iter().filter(|b| available(b)) {
        let (items, workers, capacity) = (5_000u64, 3usize, 4usize);
        let mut pipeline = command("pipeline", backend);
        pipeline.args([items.to_string(), workers.to_string(), capacity.to_string()]);
        let done = run_bounded(pipeline, CHILD_LIMIT);
        assert!(done.status.success(), "{done}");
        let lines: Vec<&str> = done.stdout.lines().collect();
        let sum: u64 = (1..=items).map(|n| n * n).sum();
        assert_eq!(lines[0], format!("sum of squares: {sum}"), "{done}");
        let ahead: usize = lines[1]
            .strip_prefix("most ahead: ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{done}"));
        // The buffer, one number in each worker's hands, and the one being counted.
        assert!(
            ahead <= capacity + workers + 1,
            "{backend}: {ahead} ahead: {done}"
        );
    }
}
