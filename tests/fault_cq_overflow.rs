//! Far more completions at once than the completion queue holds (uring only): 100 000 fibers
//! sleep until one absolute deadline, so 100 000 timeouts complete together, more than the
//! ring's 65 536 completion entries. The kernel keeps what does not fit on its overflow list;
//! the loop must move it back into the queue and deliver it. Every sleeper wakes, at or after
//! the deadline, and is joined with its own result; a cancel of one of them while they all
//! sleep returns promptly.
//!
//! Since sleeps are deadlines in the loop's own timers (one ring timeout per clock, see
//! io-runtime/src/backend/uring/timers.rs, issue 14), the sleepers no longer complete 100 000
//! timeouts: the scenario still checks that 100 000 sleepers sharing one deadline all wake
//! after it with their own results, but the overflow report now says 0. The overflow path is
//! driven by a unit test of the uring backend instead (`backend::uring::tests`: 100 000 polls
//! on one eventfd completing while a fiber holds the loop).
//!
//! The scenario runs in a child process (this test binary re-executed, killed after
//! [`LIMIT`]) with the ring's test hook `IO_URING_OVERFLOW_REPORT` set: the child's stderr then
//! says how many completions came back from the overflow list, which the test prints with how
//! late the last sleeper woke. Neither figure is asserted: both depend on the machine (a loop
//! that reaped as fast as the kernel posted would see no overflow).

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use io::{Backend, Canceled, Clock};

use support::examples::run_bounded;

/// Sleepers, far more than the ring's completion queue entries.
const SLEEPERS: usize = 100_000;
/// How far ahead the shared deadline lies, beyond twice the time it takes to start them all.
const AHEAD: Duration = Duration::from_millis(200);
/// The bound on the cancel of a sleeper (generous: 100 000 timeouts are in flight).
const CANCEL_BOUND: Duration = Duration::from_secs(5);
/// How long the child may run before it is killed.
const LIMIT: Duration = Duration::from_secs(240);
/// Which sleeper is canceled.
const VICTIM: usize = 0;
/// Set in the child's environment: run the scenario.
const CHILD: &str = "IO_FAULT_CQ_OVERFLOW_CHILD";
/// This test's name, to re-run exactly it in the child.
const TEST: &str =
    "a_hundred_thousand_timeouts_completing_at_once_all_wake_through_an_overflowing_cq";

#[test]
fn a_hundred_thousand_timeouts_completing_at_once_all_wake_through_an_overflowing_cq() {
    if std::env::var_os(CHILD).is_some() {
        scenario();
        return;
    }
    if support::runtime_on(Backend::Uring, 1, None).is_none() {
        return;
    }
    let mut child = Command::new(std::env::current_exe().expect("the test binary"));
    child
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("IO_URING_OVERFLOW_REPORT", "1");
    let output = run_bounded(child, LIMIT);
    let stderr = &output.stderr;
    assert!(
        output.status.success(),
        "the child failed ({}):\n{}\n{stderr}",
        output.status,
        output.stdout
    );
    let said = |what: &str| {
        stderr
            .lines()
            .filter(|line| line.contains(what))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let report = said("io: uring:");
    assert!(
        !report.is_empty(),
        "the ring did not report its overflow figures:\n{stderr}"
    );
    eprintln!("{}\n{report}", said("sleepers"));
}

/// The child's part: 100 000 sleepers, one canceled, the others joined.
fn scenario() {
    let runtime = support::runtime_on(Backend::Uring, 1, None).expect("a uring runtime");
    // How long spawning and starting every fiber takes (warming the stack pool on the way): the
    // deadline lies twice that further ahead, so every sleeper's timeout is in flight by then.
    let startup = runtime.run(|io| {
        let (_, took) = support::timed(|| {
            io.scope(|s| {
                let group = s.group();
                for _ in 0..SLEEPERS {
                    group.spawn(io, || {});
                }
                group.wait(io)
            })
        });
        took
    });
    let ahead = AHEAD + 2 * startup;
    let sleeping = AtomicUsize::new(0);
    let (results, deadline, cancel) = runtime.run(|io| {
        let deadline = io.now(Clock::Awake) + ahead;
        io.scope(|s| {
            let sleepers: Vec<_> = (0..SLEEPERS)
                .map(|i| {
                    let sleeping = &sleeping;
                    s.spawn_concurrent(move || {
                        sleeping.fetch_add(1, Ordering::Relaxed);
                        io.sleep_until(deadline, Clock::Awake)?;
                        Ok::<_, Canceled>((i, io.now(Clock::Awake)))
                    })
                    .expect("a fiber for every sleeper")
                })
                .collect();
            // Once all sleep, cancel one: with 100 000 timeouts in flight.
            while sleeping.load(Ordering::Relaxed) < SLEEPERS {
                io.sleep(Duration::from_millis(1), Clock::Awake).unwrap();
            }
            let mut sleepers = sleepers.into_iter();
            let victim = sleepers.next().expect("the victim's future");
            let canceled_at = io.now(Clock::Awake);
            let (canceled, took) = support::timed(|| victim.cancel(io));
            let results: Vec<_> = sleepers.map(|sleeper| sleeper.join(io)).collect();
            (results, deadline, (canceled, took, canceled_at))
        })
    });

    let (canceled, cancel_took, canceled_at) = cancel;
    // Only a machine too loaded to start the sleepers before the deadline lets the victim wake
    // before its cancel.
    assert!(
        matches!(canceled, Err(Canceled)) || canceled_at >= deadline,
        "the victim was not canceled: {canceled:?}"
    );
    assert!(
        cancel_took < CANCEL_BOUND,
        "canceling a sleeper took {cancel_took:?}"
    );
    assert_eq!(results.len(), SLEEPERS - 1);
    let mut last_woke = deadline;
    for (expected, result) in (VICTIM + 1..).zip(results) {
        let (index, woke) = result.unwrap_or_else(|e| panic!("sleeper {expected}: {e:?}"));
        assert_eq!(
            index, expected,
            "a sleeper was joined with another's result"
        );
        assert!(woke >= deadline, "sleeper {index} woke before the deadline");
        last_woke = last_woke.max(woke);
    }
    eprintln!(
        "{SLEEPERS} sleepers, deadline {ahead:?} ahead (starting them took {startup:?}): the \
         cancel{} took {cancel_took:?}; the last sleeper woke {:?} after the deadline",
        if canceled_at >= deadline {
            " (after the deadline, too late to test)"
        } else {
            ""
        },
        last_woke - deadline,
    );
}
