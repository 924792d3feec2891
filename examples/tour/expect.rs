//! What each example must do, per the seed, and how a run is judged against it.

use crate::child::{Outcome, TIMEOUT};

/// How long an expected outcome may take.
#[derive(Clone, Copy)]
pub enum Timing {
    /// Well under a second: nothing waits (< 0.5 s).
    AtOnce,
    /// About one second of sleeping (0.8–1.8 s).
    OneSecond,
    /// Bounded, but slower than "at once": the deadlock detector's grace period (< 5 s).
    Within5s,
}

impl Timing {
    /// Whether `secs` seconds is within this timing's bounds.
    pub fn admits(self, secs: f64) -> bool {
        match self {
            Timing::AtOnce => secs < 0.5,
            Timing::OneSecond => (0.8..=1.8).contains(&secs),
            Timing::Within5s => secs < 5.0,
        }
    }
}

/// What one example must do, per the seed.
pub struct Expect {
    /// The binary's name.
    pub example: &'static str,
    /// Extra environment for the child (beside `IO_BACKEND`).
    pub env: &'static [(&'static str, &'static str)],
    /// The outcome in a few words, for the table.
    pub summary: &'static str,
    /// Whether the process must exit successfully.
    pub success: bool,
    /// Text that must appear in some line of stdout or stderr (case-insensitive).
    pub lines: &'static [&'static str],
    /// The admissible elapsed time.
    pub timing: Timing,
}

/// The second task's line in examples 3–7.
const EXCUSE: &str = "working on an excuse not to drink Spezi";
/// Example 7's lines: both tasks work, then both results are printed.
const FINISHED: &[&str] = &[
    "working hard",
    EXCUSE,
    "finished hard",
    "finished on an excuse",
];
/// What examples 8 and 10 print.
const MESSAGE: &str = "message received: never gonna give you up";
/// The error line of examples 4–6 (`Error: …` from `main`'s `Result`; any case matches).
const OOM: &str = "error: OutOfMemory";
/// The runtime's report for example 9: a deadlock, naming the blocked operation.
const DEADLOCK: &[&str] = &["io: deadlock detected", "Queue::put_one"];

/// An example that succeeds, printing `lines`.
const fn ok(example: &'static str, lines: &'static [&'static str], timing: Timing) -> Expect {
    let summary = match timing {
        Timing::AtOnce => "ok at once",
        _ => "ok in ~1s",
    };
    Expect {
        example,
        env: &[],
        summary,
        success: true,
        lines,
        timing,
    }
}

/// An example that fails (non-zero exit), printing `lines`; `summary` says how.
const fn fails(
    example: &'static str,
    summary: &'static str,
    lines: &'static [&'static str],
    timing: Timing,
) -> Expect {
    Expect {
        success: false,
        summary,
        ..ok(example, lines, timing)
    }
}

/// The seed's examples and what each does; example10 also runs single-threaded.
pub const EXPECTED: &[Expect] = &[
    ok("example0", &["working"], Timing::OneSecond),
    ok("example1", &["working"], Timing::OneSecond),
    ok("example2", &["working"], Timing::OneSecond),
    ok("example3", &["working hard", EXCUSE], Timing::OneSecond),
    fails(
        "example4",
        "OutOfMemory at once",
        &[EXCUSE, OOM],
        Timing::AtOnce,
    ),
    fails(
        "example5",
        "OutOfMemory after ~1s",
        &[EXCUSE, OOM],
        Timing::OneSecond,
    ),
    fails(
        "example6",
        "OutOfMemory at once",
        &[EXCUSE, OOM],
        Timing::AtOnce,
    ),
    ok("example7", FINISHED, Timing::OneSecond),
    ok("example8", &[MESSAGE], Timing::AtOnce),
    fails("example9", "deadlock diagnosed", DEADLOCK, Timing::Within5s),
    ok("example10", &[MESSAGE], Timing::AtOnce),
    Expect {
        env: &[("IO_THREADS", "0")],
        ..fails(
            "example10",
            "ConcurrencyUnavailable",
            &["error: ConcurrencyUnavailable"],
            Timing::AtOnce,
        )
    },
];

/// Everything about `outcome` that contradicts `expect`; empty means PASS.
pub fn judge(expect: &Expect, outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match outcome.status {
        None => problems.push(format!("killed after {TIMEOUT:?}: it hung")),
        Some(status) if status.success() != expect.success => {
            problems.push(format!(
                "exit status {status}, expected success = {}",
                expect.success
            ));
        }
        Some(_) => {}
    }
    let output = outcome.output.to_lowercase();
    for line in expect.lines {
        if !output.lines().any(|l| l.contains(&line.to_lowercase())) {
            problems.push(format!("no line contains {line:?}"));
        }
    }
    if outcome.status.is_some() && !expect.timing.admits(outcome.elapsed.as_secs_f64()) {
        problems.push(format!("took {:.2?}", outcome.elapsed));
    }
    problems
}

/// A few words for what the child did, in the same vocabulary as the expectations.
pub fn observe(outcome: &Outcome) -> String {
    let secs = outcome.elapsed.as_secs_f64();
    let when = |preposition: &str| {
        if Timing::AtOnce.admits(secs) {
            "at once".to_owned()
        } else if Timing::OneSecond.admits(secs) {
            format!("{preposition} ~1s")
        } else {
            format!("{preposition} {secs:.1}s")
        }
    };
    let has = |text: &str| outcome.output.contains(text);
    match outcome.status {
        None => "hung (killed)".to_owned(),
        Some(_) if has("io: deadlock detected") => "deadlock diagnosed".to_owned(),
        Some(_) if has("ConcurrencyUnavailable") => "ConcurrencyUnavailable".to_owned(),
        Some(_) if has("OutOfMemory") => format!("OutOfMemory {}", when("after")),
        Some(status) if status.success() => format!("ok {}", when("in")),
        Some(status) => format!("failed ({status}) {}", when("after")),
    }
}
