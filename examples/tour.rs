//! The tour: runs the seed's examples (example0 … example10) as child processes on every
//! available backend, checks each against what the seed says it does, and prints a table.
//!
//! ```text
//! cargo run --release --example tour
//! ```
//!
//! Each example runs in its own process under a hard timeout, so a hang (say, example 9
//! without deadlock diagnosis) is killed and reported instead of hanging the tour. A row
//! passes when the exit status, the expected lines (stdout and stderr together) and the
//! elapsed time all match. The exit status is non-zero if any row fails.

#[path = "tour/child.rs"]
mod child;
#[path = "tour/expect.rs"]
mod expect;

use std::process::ExitCode;

use io::{Backend, Runtime};

use child::{examples_dir, run};
use expect::{judge, observe, EXPECTED};

/// Runs every expectation on every available backend, printing one row per run as it ends.
fn main() -> ExitCode {
    let dir = match examples_dir() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("tour: {why}");
            return ExitCode::FAILURE;
        }
    };
    let mut backends = vec!["threaded"];
    match Runtime::builder().backend(Backend::Uring).build() {
        Ok(_) => backends.push("uring"),
        Err(why) => println!("uring skipped: {why}\n"),
    }
    println!(
        "{:<22} {:<9} {:<24} {:<24} {:>7}  verdict",
        "example", "backend", "expected", "observed", "elapsed"
    );
    let (mut passed, mut failed) = (0, 0);
    for backend in backends {
        for expect in EXPECTED {
            let outcome = run(&dir, expect, backend);
            let problems = judge(expect, &outcome);
            let name = expect
                .env
                .iter()
                .fold(expect.example.to_owned(), |name, (k, v)| {
                    format!("{name} {k}={v}")
                });
            let verdict = if problems.is_empty() { "PASS" } else { "FAIL" };
            println!(
                "{name:<22} {backend:<9} {:<24} {:<24} {:>6.2}s  {verdict}",
                expect.summary,
                observe(&outcome),
                outcome.elapsed.as_secs_f64(),
            );
            for problem in &problems {
                println!("    - {problem}");
            }
            if problems.is_empty() {
                passed += 1;
            } else {
                failed += 1;
                println!("    output:\n{}", indent(&outcome.output));
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `text` indented for the failure report.
fn indent(text: &str) -> String {
    text.lines().map(|line| format!("      {line}\n")).collect()
}
