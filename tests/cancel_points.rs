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

/// A task run inline by its joiner joins the joiner's link only at its first cancellation
/// point (see `join::Link`). A cancel of the joiner from another thread while the task runs
/// must still reach it: here the task never blocks, it polls `check_cancel` in a loop.
#[test]
fn a_cancel_of_the_joiner_reaches_a_task_it_runs_inline_that_only_polls() {
    each_backend(|io| {
        io.scope(|s| {
            let joiner = s.spawn_async(|| {
                io.scope(|inner| {
                    let polling = inner.spawn_async(|| {
                        let start = std::time::Instant::now();
                        while io.check_cancel().is_ok() {
                            assert!(start.elapsed() < LONG, "the cancel never came");
                            std::hint::spin_loop();
                        }
                        Err::<(), _>(Canceled)
                    });
                    polling.join(io)
                })
            });
            let (result, elapsed) = std::thread::scope(|threads| {
                let canceler = threads.spawn(move || {
                    // Long enough for the joiner to be running its task inline.
                    std::thread::sleep(Duration::from_millis(100));
                    timed(|| joiner.cancel(io))
                });
                // Parks the root, so that a single loop starts the joiner.
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                canceler.join().unwrap()
            });
            assert_eq!(result, Err(Canceled));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
    });
}

/// A cancel that reached the joiner before it runs a task inline is passed on at the task's
/// first cancellation point. On one uring loop the run is inline for certain: the joiner takes
/// the task's start back from the queue (elsewhere a worker or another loop may run it).
#[test]
fn a_cancel_that_came_before_an_inline_run_reaches_the_task() {
    let runtime = match io::Runtime::builder()
        .backend(io::Backend::Uring)
        .threads(1)
        .build()
    {
        Ok(runtime) => runtime,
        Err(reason) => return eprintln!("skipped: {reason}"),
    };
    runtime.run(|io| {
        let go = std::sync::atomic::AtomicBool::new(false);
        let on_joiner = std::sync::Mutex::new(None);
        io.scope(|s| {
            let joiner = s.spawn_async(|| {
                // No cancellation point: the cancel arrives while this waits.
                let start = std::time::Instant::now();
                while !go.load(std::sync::atomic::Ordering::Acquire) {
                    assert!(start.elapsed() < LONG, "never released");
                    std::thread::yield_now();
                }
                let joiner_thread = std::thread::current().id();
                io.scope(|inner| {
                    inner
                        .spawn_async(|| {
                            *on_joiner.lock().unwrap() =
                                Some(std::thread::current().id() == joiner_thread);
                            io.check_cancel()
                        })
                        .join(io)
                })
            });
            let result = std::thread::scope(|threads| {
                threads.spawn(|| {
                    std::thread::sleep(Duration::from_millis(50));
                    go.store(true, std::sync::atomic::Ordering::Release);
                });
                joiner.cancel(io)
            });
            assert_eq!(result, Err(Canceled));
        });
        assert_eq!(*on_joiner.lock().unwrap(), Some(true), "ran inline");
    });
}
