//! Looking at a task without blocking: `Future::is_finished` and `Future::try_join`, and
//! `select` under a deadline that has already passed (a poll).

mod support;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use io::{Backend, Canceled, Clock, Event, Timeout};
use support::{each_backend, panic_message, runtime_on, timed, watched, BACKENDS, LONG, PROMPT};

#[test]
fn is_finished_is_false_while_the_task_waits_and_true_after() {
    each_backend(|io| {
        let gate = Event::new();
        io.scope(|s| {
            let waiter = s.spawn_concurrent(|| gate.wait(io)).unwrap();
            assert!(!waiter.is_finished(), "the task waits for the gate");
            // Asking again changes nothing, and is no cancellation point.
            assert!(!waiter.is_finished());
            gate.set();
            assert_eq!(io.timeout(LONG, || io.select(&[&waiter])), Ok(Ok(0)));
            assert!(waiter.is_finished());
            assert_eq!(waiter.join(io), Ok(()));
        });
    });
}

#[test]
fn is_finished_is_true_for_a_task_that_panicked() {
    each_backend(|io| {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            io.scope(|s| {
                let failing = s.spawn_concurrent(|| -> u32 { panic!("finished by a panic") });
                let failing = failing.unwrap();
                assert_eq!(io.timeout(LONG, || io.select(&[&failing])), Ok(Ok(0)));
                assert!(failing.is_finished());
                failing.join(io)
            })
        }));
        assert_eq!(panic_message(&*caught.unwrap_err()), "finished by a panic");
    });
}

#[test]
fn try_join_returns_the_handle_while_running_and_the_value_after() {
    each_backend(|io| {
        let gate = Event::new();
        io.scope(|s| {
            let waiter = s.spawn_concurrent(|| gate.wait(io).map(|()| 42)).unwrap();
            let waiter = waiter
                .try_join(io)
                .expect_err("the task waits for the gate");
            // The handle that came back is the same handle: try again, still not finished.
            let waiter = waiter.try_join(io).expect_err("still waiting");
            gate.set();
            assert_eq!(io.timeout(LONG, || io.select(&[&waiter])), Ok(Ok(0)));
            assert_eq!(waiter.try_join(io).ok(), Some(Ok(42)));
        });
    });
}

#[test]
fn the_handle_try_join_returns_can_still_be_joined_or_canceled() {
    each_backend(|io| {
        let gate = Event::new();
        let (_, elapsed) = timed(|| {
            io.scope(|s| {
                let joined = s
                    .spawn_concurrent(|| gate.wait(io).map(|()| "joined"))
                    .unwrap();
                let canceled = s.spawn_concurrent(|| io.sleep(LONG, Clock::Awake)).unwrap();
                let joined = joined.try_join(io).expect_err("waits for the gate");
                let canceled = canceled.try_join(io).expect_err("sleeps");
                assert_eq!(canceled.cancel(io), Err(Canceled));
                gate.set();
                assert_eq!(joined.join(io), Ok("joined"));
            })
        });
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

#[test]
fn a_dropped_handle_from_try_join_still_cancels_its_task() {
    each_backend(|io| {
        let ended = AtomicBool::new(false);
        let (_, elapsed) = timed(|| {
            io.scope(|s| {
                let sleeper = s
                    .spawn_concurrent(|| {
                        let slept = io.sleep(LONG, Clock::Awake);
                        ended.store(true, Ordering::SeqCst);
                        slept
                    })
                    .unwrap();
                drop(sleeper.try_join(io).expect_err("sleeps"));
                assert!(ended.load(Ordering::SeqCst), "the drop waited for the task");
            })
        });
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

#[test]
fn try_join_resumes_a_panic_like_join() {
    each_backend(|io| {
        io.scope(|s| {
            let failing = s.spawn_concurrent(|| -> u32 { panic!("boom in try_join") });
            let failing = failing.unwrap();
            assert_eq!(io.timeout(LONG, || io.select(&[&failing])), Ok(Ok(0)));
            let caught = catch_unwind(AssertUnwindSafe(|| failing.try_join(io).ok()));
            assert_eq!(panic_message(&*caught.unwrap_err()), "boom in try_join");
            // The scope ends without resuming the panic again: try_join took it.
        });
    });
}

thread_local! {
    /// Set on a thread only while it is inside `try_join` (a test task that sees it ran inline).
    static IN_TRY_JOIN: Cell<bool> = const { Cell::new(false) };
}

/// `try_join` never runs a task that no runner claimed yet: the task would see
/// [`IN_TRY_JOIN`] on its thread. One worker, kept busy on the threaded backend by a spinner,
/// so the task stays queued; the uring loop runs it only once the root fiber parks, which
/// `try_join` never does.
#[test]
fn try_join_does_not_run_a_queued_task_inline() {
    for &backend in BACKENDS {
        let Some(runtime) = runtime_on(backend, 1, Some(Duration::from_millis(500))) else {
            continue;
        };
        watched(
            "try_join_does_not_run_a_queued_task_inline",
            60 * LONG,
            || {
                runtime.run(|io| {
                    let gate = Event::new();
                    let flags = [false; 3].map(AtomicBool::new);
                    let [spinning, release, started] = &flags;
                    io.scope(|s| {
                        // On the threaded backend, a task that computes holds the only running
                        // slot, so the next async task queues. (A spinner would hold the uring loop
                        // for ever: there the root fiber holds it already.)
                        let spinner = (backend == Backend::Threaded).then(|| {
                            let spinner = s.spawn_async(move || {
                                spinning.store(true, Ordering::SeqCst);
                                while !release.load(Ordering::SeqCst) && io.check_cancel().is_ok() {
                                    std::hint::spin_loop();
                                }
                            });
                            let spun = io.timeout(LONG, || {
                                while !spinning.load(Ordering::SeqCst) {
                                    io.sleep(Duration::from_millis(1), Clock::Awake)?;
                                }
                                Ok::<(), Canceled>(())
                            });
                            assert_eq!(spun, Ok(Ok(())), "the spinner started");
                            spinner
                        });
                        let task = s.spawn_async(|| {
                            if IN_TRY_JOIN.get() {
                                return Err("run inline by try_join");
                            }
                            started.store(true, Ordering::SeqCst);
                            gate.wait(io).map_err(|Canceled| "canceled")?;
                            Ok("run by a runner")
                        });
                        IN_TRY_JOIN.set(true);
                        let tried = task.try_join(io);
                        IN_TRY_JOIN.set(false);
                        let task = tried.expect_err("try_join returned a result: it ran the task");
                        if backend == Backend::Uring {
                            assert!(!started.load(Ordering::SeqCst), "{backend:?}: still queued");
                            assert!(!task.is_finished());
                        }
                        release.store(true, Ordering::SeqCst);
                        if let Some(spinner) = spinner {
                            spinner.join(io);
                        }
                        gate.set();
                        assert_eq!(task.join(io), Ok("run by a runner"), "{backend:?}");
                        assert!(started.load(Ordering::SeqCst));
                    });
                });
            },
        );
    }
}

#[test]
fn a_zero_timeout_around_select_sees_a_finished_future() {
    each_backend(|io| {
        let gate = Event::new();
        io.scope(|s| {
            let done = s.spawn_concurrent(|| 5).unwrap();
            assert_eq!(io.timeout(LONG, || io.select(&[&done])), Ok(Ok(0)));
            // Finished a while ago.
            io.sleep(Duration::from_millis(10), Clock::Awake).unwrap();
            let pending = s.spawn_concurrent(|| gate.wait(io)).unwrap();
            for zero in [Duration::ZERO, Duration::from_nanos(1)] {
                assert_eq!(io.timeout(zero, || io.select(&[&done])), Ok(Ok(0)));
                let both = io.timeout(zero, || io.select(&[&pending, &done]));
                assert_eq!(both, Ok(Ok(1)), "{zero:?}: the finished one, not a timeout");
                let none = io.timeout(zero, || io.select(&[&pending]));
                assert_eq!(none, Err(Timeout), "{zero:?}: nothing finished");
            }
            assert_eq!(done.join(io), 5);
            gate.set();
            assert_eq!(pending.join(io), Ok(()));
        });
    });
}

/// Decided behaviour: `select` looks at the futures before it checks for cancellation, so a
/// canceled task still gets the index of a finished future; the cancel stays pending, and a
/// `select` that would wait returns `Canceled`.
#[test]
fn a_canceled_select_returns_a_finished_future_and_the_cancel_stays_pending() {
    each_backend(|io| {
        let ready = Event::new();
        let never = Event::new();
        let (outcome, elapsed) = timed(|| {
            io.scope(|s| {
                let selector = s.spawn_concurrent(|| {
                    io.scope(|inner| {
                        let done = inner.spawn_concurrent(|| 5).unwrap();
                        let stuck = inner.spawn_concurrent(|| never.wait(io)).unwrap();
                        let first = io.timeout(LONG, || io.select(&[&done]));
                        ready.set();
                        // Waits until the cancel below arrives.
                        let waited = never.wait(io);
                        let finished = io.select(&[&stuck, &done]);
                        let unfinished = io.select(&[&stuck]);
                        let pending = io.check_cancel();
                        let value = done.join(io);
                        assert_eq!(stuck.cancel(io), Err(Canceled));
                        (first, waited, finished, unfinished, pending, value)
                    })
                });
                ready.wait(io).unwrap();
                selector.unwrap().cancel(io)
            })
        });
        let (first, waited, finished, unfinished, pending, value) = outcome;
        assert_eq!(first, Ok(Ok(0)));
        assert_eq!(waited, Err(Canceled));
        assert_eq!(finished, Ok(1), "a finished future wins over the cancel");
        assert_eq!(
            unfinished,
            Err(Canceled),
            "a select that would wait is canceled"
        );
        assert_eq!(pending, Err(Canceled), "the cancel stays pending");
        assert_eq!(value, 5);
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}
