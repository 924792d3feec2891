//! Regression tests of the scope's promise: no task outlives its scope, no result leaks, no
//! waiter loses its wake-up — whatever panics, forgets or shares. (Deadlock reports during a
//! scope's end are in tests/deadlock.rs, which runs without libtest's threads.) Every test runs
//! on both backends and is bounded in time: a failure is an assertion, never a hang.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use io::{io_concurrent, scope, Backend, Clock, Event, Io, Runtime};
use support::{each_backend, panic_message, runtime_on, BACKENDS, LONG};

/// Runs `f` on a thread of its own and returns its outcome, failing instead of hanging if it
/// takes more than 20 s.
fn bounded<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> std::thread::Result<R> {
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(catch_unwind(AssertUnwindSafe(f)));
    });
    outcome
        .recv_timeout(Duration::from_secs(20))
        .expect("hung: the runtime did not return within 20 s")
}

/// A value whose `Drop` sets a flag, then panics.
struct PanicsOnDrop<'a>(&'a AtomicBool);

impl Drop for PanicsOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
        panic!("drop of a result panicked");
    }
}

/// A panic payload whose own `Drop` panics too.
struct PoisonedPayload;

impl Drop for PoisonedPayload {
    fn drop(&mut self) {
        panic!("drop of a panic payload panicked");
    }
}

/// Waits, protected from cancellation, until `flag` is set or 5 s passed; returns whether it
/// was set. A task that must still be running when its scope decides something.
fn protected_wait_for(io: Io, flag: &AtomicBool) -> bool {
    io.uncancelable(|| {
        for _ in 0..5000 {
            if flag.load(Ordering::SeqCst) {
                return true;
            }
            let _ = io.sleep(Duration::from_millis(1), Clock::Awake);
        }
        false
    })
}

#[test]
fn a_result_drop_that_panics_does_not_end_the_scope_before_its_other_tasks() {
    each_backend(|io| {
        let older_finished = AtomicBool::new(false);
        let release = AtomicBool::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            io.scope(|s| {
                let older = s
                    .spawn_concurrent(|| {
                        // Still running when the scope ends: only the scope's end releases it.
                        protected_wait_for(io, &release);
                        older_finished.store(true, Ordering::SeqCst);
                    })
                    .unwrap();
                // The scope's end drops this result first (newest first): the drop releases
                // the older task, then panics; the scope must still join the older task.
                let newer = s.spawn_async(|| PanicsOnDrop(&release));
                std::mem::forget(newer);
                std::mem::forget(older);
            })
        }));
        assert_eq!(
            panic_message(&*caught.unwrap_err()),
            "drop of a result panicked",
            "the drop's panic is resumed after the scope ended"
        );
        assert!(
            older_finished.load(Ordering::SeqCst),
            "the older task was joined before the panic left the scope"
        );
    });
}

#[test]
fn a_result_drop_that_panics_in_a_dropped_handle_is_resumed_at_scope_end() {
    each_backend(|io| {
        let dropped = AtomicBool::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            io.scope(|s| {
                let handle = s.spawn_async(|| PanicsOnDrop(&dropped));
                drop(handle);
                "the body went on"
            })
        }));
        assert_eq!(
            panic_message(&*caught.unwrap_err()),
            "drop of a result panicked"
        );
    });
}

#[test]
fn two_group_tasks_that_panic_with_a_poisoned_payload_end_normally() {
    for &backend in BACKENDS {
        let outcome = bounded(move || {
            let Some(runtime) = runtime_on(backend, 2, Some(Duration::from_millis(500))) else {
                return String::from("first");
            };
            let caught = catch_unwind(AssertUnwindSafe(|| {
                runtime.run(|io| {
                    io.scope(|s| {
                        let group = s.group();
                        group.spawn(io, || std::panic::panic_any(String::from("first")));
                        group.spawn(io, || std::panic::panic_any(PoisonedPayload));
                        let _ = group.wait(io);
                    })
                })
            }));
            // The runtime still works afterwards: no worker or loop was lost.
            assert_eq!(
                runtime.run(|io| io.scope(|s| s.spawn_async(|| 7).join(io))),
                7
            );
            let payload = caught.expect_err("the group's first panic is resumed");
            let resumed = match payload.downcast_ref::<PoisonedPayload>() {
                Some(_) => String::from("poisoned"),
                None => panic_message(&*payload),
            };
            // Whichever panicked first is resumed; the user's own payload type is theirs
            // to drop (this one would panic again), so the test leaks it.
            std::mem::forget(payload);
            resumed
        });
        let resumed = outcome.unwrap_or_else(|p| panic!("{backend:?}: {}", panic_message(&*p)));
        assert!(
            resumed == "first" || resumed == "poisoned",
            "{backend:?}: {resumed:?}"
        );
    }
}

#[test]
fn two_selectors_on_one_future_are_both_woken() {
    each_backend(|io| {
        let go = Event::new();
        io.scope(|s| {
            let task = s.spawn_concurrent(|| go.wait(io).map(|()| 42)).unwrap();
            let woken = io.scope(|selectors| {
                let select = || io.timeout(LONG, || io.select(&[&task]));
                let first = selectors.spawn_concurrent(select).unwrap();
                let second = selectors.spawn_concurrent(select).unwrap();
                // Both selectors are registered once they are parked; give them the chance.
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                go.set();
                (first.join(io), second.join(io))
            });
            assert_eq!(
                woken,
                (Ok(Ok(0)), Ok(Ok(0))),
                "neither selector lost its wake-up"
            );
            assert_eq!(task.join(io), Ok(42));
        });
    });
}

#[test]
fn selectors_on_plain_threads_sharing_a_future_are_both_woken() {
    each_backend(|io| {
        let go = Event::new();
        io.scope(|s| {
            let task = s.spawn_concurrent(|| go.wait(io).map(|()| 1)).unwrap();
            // Off the event loop's thread (on uring, blocking it would stop the task too).
            let woken = io.offload(|| {
                std::thread::scope(|threads| {
                    let select = || io.timeout(LONG, || io.select(&[&task]));
                    let first = threads.spawn(select);
                    let second = threads.spawn(select);
                    std::thread::sleep(Duration::from_millis(20));
                    go.set();
                    (first.join().unwrap(), second.join().unwrap())
                })
            });
            assert_eq!(woken, (Ok(Ok(0)), Ok(Ok(0))));
            assert_eq!(task.join(io), Ok(1));
        });
    });
}

#[test]
fn runtime_run_inside_a_uring_task_is_a_clear_panic() {
    let Some(outer) = runtime_on(Backend::Uring, 1, None) else {
        return;
    };
    let inner = Runtime::builder()
        .backend(Backend::Threaded)
        .threads(1)
        .build()
        .unwrap();
    let caught = catch_unwind(AssertUnwindSafe(|| outer.run(|_io| inner.run(|_| 1))));
    let text = panic_message(&*caught.unwrap_err());
    assert!(
        text.contains("Runtime::run called from a task of an io_uring runtime"),
        "{text}"
    );
}

/// How many tasks the cancel-order tests end at once.
const TASKS: usize = 8;

/// Sleeps until canceled, then waits (protected, up to 2 s) until all [`TASKS`] tasks were
/// canceled, and counts itself in `saw_all` if they were. Joined one after the other, the
/// others would not be canceled yet and none would count.
fn canceled_together(io: Io, canceled: &AtomicUsize, saw_all: &AtomicUsize) {
    assert_eq!(io.sleep(LONG, Clock::Awake), Err(io::Canceled));
    canceled.fetch_add(1, Ordering::SeqCst);
    let all = io.uncancelable(|| {
        (0..2000).any(|_| {
            let _ = io.sleep(Duration::from_millis(1), Clock::Awake);
            canceled.load(Ordering::SeqCst) == TASKS
        })
    });
    if all {
        saw_all.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn scope_end_requests_every_cancel_before_it_joins() {
    each_backend(|io| {
        let (canceled, saw_all) = (AtomicUsize::new(0), AtomicUsize::new(0));
        io.scope(|s| {
            for _ in 0..TASKS {
                let task = s
                    .spawn_concurrent(|| canceled_together(io, &canceled, &saw_all))
                    .unwrap();
                std::mem::forget(task);
            }
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
        });
        assert_eq!(saw_all.load(Ordering::SeqCst), TASKS);
    });
}

#[test]
fn handles_in_a_vec_left_behind_by_the_body_are_canceled_together() {
    each_backend(|io| {
        let (canceled, saw_all) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let (canceled, saw_all) = (&canceled, &saw_all);
        scope!(io, {
            let handles: Vec<_> = (0..TASKS)
                .map(|_| io_concurrent!(canceled_together(io, canceled, saw_all)).unwrap())
                .collect();
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            // The Vec drops its handles oldest first as the body is left.
            let _ = &handles;
        });
        assert_eq!(saw_all.load(Ordering::SeqCst), TASKS);
        // And on an early exit.
        let early = || -> Result<(), io::Canceled> {
            scope!(io, {
                let _handles: Vec<_> = (0..TASKS)
                    .map(|_| io_concurrent!(canceled_together(io, canceled, saw_all)).unwrap())
                    .collect();
                io.sleep(Duration::from_millis(20), Clock::Awake)?;
                Err(io::Canceled)?;
                Ok(())
            })
        };
        canceled.store(0, Ordering::SeqCst);
        assert_eq!(early(), Err(io::Canceled));
        assert_eq!(saw_all.load(Ordering::SeqCst), 2 * TASKS);
    });
}
