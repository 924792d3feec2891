//! Cancellation points return `Canceled` promptly; protection shields cleanup.

mod support;

use std::time::Duration;

use io::{Canceled, Clock};
use support::{each_backend, timed, LONG, PROMPT};

#[test]
fn a_canceled_sleep_returns_canceled() {
    each_backend(|io| {
        io.scope(|s| {
            let sleeper = s.spawn_async(|| io.sleep(LONG, Clock::Awake));
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| sleeper.cancel(io));
            assert_eq!(result, Err(Canceled));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
    });
}

/// A sleep longer than any clock can reach (`Duration::MAX`) waits until canceled instead of
/// overflowing the deadline.
#[test]
fn a_sleep_of_duration_max_waits_until_canceled() {
    each_backend(|io| {
        io.scope(|s| {
            let sleeper = s
                .spawn_concurrent(|| io.sleep(Duration::MAX, Clock::Awake))
                .unwrap();
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            assert!(!sleeper.is_finished(), "the sleep ended early");
            let (result, elapsed) = timed(|| sleeper.cancel(io));
            assert_eq!(result, Err(Canceled));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
    });
}

#[test]
fn sleeping_on_every_clock_works() {
    each_backend(|io| {
        for clock in [Clock::Awake, Clock::Boot, Clock::Real] {
            let before = io.now(clock);
            io.sleep(Duration::from_millis(20), clock).unwrap();
            assert!(
                io.now(clock) - before >= Duration::from_millis(20),
                "{clock:?}"
            );
        }
    });
}

#[test]
fn canceling_a_joiner_cancels_the_task_it_joins() {
    each_backend(|io| {
        io.scope(|s| {
            let outer = s.spawn_concurrent(|| {
                io.scope(|inner| {
                    let sleeper = inner
                        .spawn_concurrent(|| io.sleep(LONG, Clock::Awake))
                        .unwrap();
                    sleeper.join(io)
                })
            });
            io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| outer.unwrap().cancel(io));
            assert_eq!(result, Err(Canceled));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
    });
}

#[test]
fn uncancelable_cleanup_runs_to_the_end() {
    each_backend(|io| {
        io.scope(|s| {
            let task = s.spawn_async(|| {
                let first = io.sleep(LONG, Clock::Awake);
                let cleanup = io.uncancelable(|| io.sleep(Duration::from_millis(30), Clock::Awake));
                (first, cleanup, io.check_cancel())
            });
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            let (first, cleanup, after) = task.cancel(io);
            assert_eq!(first, Err(Canceled));
            assert_eq!(cleanup, Ok(()), "protected sleep was cut short");
            assert_eq!(
                after,
                Err(Canceled),
                "the request is still pending after protection"
            );
        });
    });
}

#[test]
fn a_timeout_bounds_a_group_wait() {
    each_backend(|io| {
        let (result, elapsed) = timed(|| {
            io.timeout(Duration::from_millis(50), || {
                io.scope(|s| {
                    let group = s.group();
                    for _ in 0..2 {
                        group.spawn(io, || {
                            let _ = io.sleep(LONG, Clock::Awake);
                        });
                    }
                    group.wait(io)
                })
            })
        });
        assert_eq!(result, Err(io::Timeout));
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

#[test]
fn a_timeout_reaches_a_task_run_inline_by_its_caller() {
    let runtime = io::Runtime::builder().single_threaded().build().unwrap();
    runtime.run(|io| {
        let (result, elapsed) = timed(|| {
            io.timeout(Duration::from_millis(50), || {
                io.scope(|s| s.spawn_async(|| io.sleep(LONG, Clock::Awake)).join(io))
            })
        });
        assert_eq!(result, Err(io::Timeout));
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}
