//! Deadlock diagnosis: when every task waits on the runtime and nothing can wake any of them,
//! the runtime panics with a report instead of hanging — and only then.
//!
//! "Nothing can wake them" includes threads outside the runtime: a thread the program started
//! itself may set an `Event` at any time, so while one exists the runtime only prints a note.
//! libtest runs every test on a thread of its own beside the main thread, which would be such
//! threads; so this file has its own `main` (`harness = false` in Cargo.toml) and runs each
//! scenario on the main thread, one after the other. Nothing here may hang: `alarm` ends the
//! process (a failure) if the whole run takes more than 120 s — a helper thread to watch the
//! time would itself be a thread outside the runtime.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use io::{Backend, Clock, Event, Runtime};
use support::{panic_message, runtime_on};

const BACKENDS: [Backend; 2] = [Backend::Threaded, Backend::Uring];

/// A short grace, so the suite stays fast; the watchdog samples five times per grace.
const GRACE: Duration = Duration::from_millis(100);

/// The panic message of `f`, which must panic.
fn panic_message_of(f: impl FnOnce()) -> String {
    let caught = catch_unwind(AssertUnwindSafe(f));
    panic_message(&*caught.expect_err("the runtime returned instead of reporting a deadlock"))
}

fn a_put_with_no_getter_on_an_inline_runtime_is_reported() {
    // The seed's example 9: async_limit(0) runs the producer inline, and it blocks forever in
    // a rendezvous put because the consumer was never started.
    let message = panic_message_of(|| {
        let runtime = Runtime::builder()
            .threads(2)
            .async_limit(0)
            .deadlock_grace(Some(GRACE))
            .build()
            .unwrap();
        runtime.run(|io| {
            let queue = io::Queue::<&str>::new(0);
            io.scope(|s| {
                let producer = s.spawn_async(|| queue.put_one(io, "never gonna give you up"));
                let consumer = s.spawn_async(|| queue.get_one(io));
                let _ = (producer.join(io), consumer.join(io));
            })
        });
    });
    assert!(message.starts_with("io: deadlock detected"), "{message}");
    assert!(message.contains("Queue::put_one"), "{message}");
    assert!(
        message.contains("tests/deadlock.rs"),
        "names where the task was spawned: {message}"
    );
}

fn a_root_joining_a_task_that_waits_forever_is_reported() {
    for backend in BACKENDS {
        let Some(runtime) = runtime_on(backend, 1, Some(GRACE)) else {
            continue;
        };
        let message = panic_message_of(|| {
            runtime.run(|io| {
                let queue = io::Queue::<u8>::new(4);
                let started = Event::new();
                io.scope(|s| {
                    let getter = s
                        .spawn_concurrent(|| {
                            started.set();
                            queue.get_one(io)
                        })
                        .unwrap();
                    // The getter runs on its own thread or fiber, so the root waits in join
                    // rather than running it inline.
                    io.uncancelable(|| started.wait(io)).unwrap();
                    let _ = getter.join(io);
                })
            });
        });
        assert!(
            message.starts_with("io: deadlock detected"),
            "{backend:?}: {message}"
        );
        assert!(message.contains("(2 blocked)"), "{backend:?}: {message}");
        assert!(message.contains("Future::join"), "{backend:?}: {message}");
        assert!(message.contains("Queue::get_one"), "{backend:?}: {message}");
    }
}

/// Spins (holding the loop) until `flag` is set, for at most 10 s.
fn spin_until_set(flag: &AtomicBool) {
    let start = std::time::Instant::now();
    while !flag.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the task never started"
        );
        std::hint::spin_loop();
    }
}

fn a_deadlock_across_two_loops_is_reported() {
    let Some(runtime) = runtime_on(Backend::Uring, 2, Some(GRACE)) else {
        return;
    };
    let root_thread = std::thread::current().id();
    let getter_thread = std::sync::Mutex::new(None);
    let message = panic_message_of(|| {
        runtime.run(|io| {
            let queue = io::Queue::<u8>::new(4);
            let started = AtomicBool::new(false);
            io.scope(|s| {
                let getter = s
                    .spawn_concurrent(|| {
                        *getter_thread.lock().unwrap() = Some(std::thread::current().id());
                        started.store(true, Ordering::SeqCst);
                        queue.get_one(io)
                    })
                    .unwrap();
                // The root holds its loop until the getter started: on the other loop.
                spin_until_set(&started);
                let _ = getter.join(io);
            })
        });
    });
    let getter_thread = getter_thread.into_inner().unwrap();
    assert!(
        getter_thread.is_some_and(|t| t != root_thread),
        "the getter ran on the root's loop"
    );
    assert!(message.starts_with("io: deadlock detected"), "{message}");
    assert!(message.contains("(2 blocked)"), "{message}");
    assert!(message.contains("Queue::get_one"), "{message}");
}

fn a_task_waiting_for_a_busy_loop_is_no_deadlock() {
    let Some(runtime) = runtime_on(Backend::Uring, 2, Some(GRACE)) else {
        return;
    };
    runtime.run(|io| {
        let done = Event::new();
        let started = AtomicBool::new(false);
        let root = std::thread::current().id();
        io.scope(|s| {
            let worker = s
                .spawn_concurrent(|| {
                    started.store(true, Ordering::SeqCst);
                    // Six graces of computing without a cancellation point: the other loop,
                    // where the root waits, sees no deadlock while this one runs.
                    let start = std::time::Instant::now();
                    while start.elapsed() < GRACE * 6 {
                        std::hint::spin_loop();
                    }
                    done.set();
                    std::thread::current().id()
                })
                .unwrap();
            spin_until_set(&started);
            done.wait(io).unwrap();
            assert_ne!(worker.join(io), root, "the worker ran on the root's loop");
        });
    });
}

fn sleeping_tasks_are_not_a_deadlock() {
    for backend in BACKENDS {
        let Some(runtime) = runtime_on(backend, 1, Some(Duration::from_millis(20))) else {
            continue;
        };
        runtime.run(|io| {
            io.scope(|s| {
                let sleeper =
                    s.spawn_async(|| io.sleep(Duration::from_millis(300), io::Clock::Awake));
                assert_eq!(sleeper.join(io), Ok(()));
            })
        });
    }
}

/// Fibers waiting to start, runnable fibers and ring timers are wakers: however long the loop
/// takes to start 20 000 fibers, a root that waits for them is not reported, even with a grace
/// of 1 ms.
fn a_loop_busy_starting_fibers_is_no_deadlock() {
    let Some(runtime) = runtime_on(Backend::Uring, 1, Some(Duration::from_millis(1))) else {
        return;
    };
    let woke = AtomicUsize::new(0);
    runtime.run(|io| {
        io.scope(|s| {
            let group = s.group();
            for _ in 0..20_000 {
                group.spawn(io, || {
                    io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                    woke.fetch_add(1, Ordering::Relaxed);
                });
            }
            group.wait(io).unwrap();
        })
    });
    assert_eq!(woke.load(Ordering::Relaxed), 20_000);
}

/// A root that waits for an `Event` that a thread of the program's own sets later (a Ctrl-C
/// handler, say) is not a deadlock: the runtime notes it on stderr and keeps waiting.
fn a_root_waiting_for_a_thread_outside_the_runtime_is_no_deadlock() {
    for backend in BACKENDS {
        let Some(runtime) = runtime_on(backend, 1, Some(Duration::from_millis(10))) else {
            continue;
        };
        let event = Event::new();
        let woken = std::thread::scope(|threads| {
            threads.spawn(|| {
                // Long past the grace: the watchdog has seen every task blocked by then.
                std::thread::sleep(Duration::from_millis(300));
                event.set();
            });
            runtime.run(|io| event.wait(io))
        });
        assert_eq!(woken, Ok(()), "{backend:?}");
    }
}

fn a_deadlock_at_scope_end_is_reported_without_unwinding_through_the_scope() {
    for backend in BACKENDS {
        let Some(runtime) = runtime_on(backend, 1, Some(GRACE)) else {
            continue;
        };
        let scope_over = AtomicBool::new(false);
        let ran_after_scope = AtomicBool::new(false);
        let never = Event::new();
        let started = Event::new();
        let report = panic_message_of(|| {
            runtime.run(|io| {
                io.scope(|s| {
                    let stuck = s.spawn_concurrent(|| {
                        started.set();
                        // Cancel cannot end this wait; nothing will ever set the event.
                        let _ = io.uncancelable(|| never.wait(io));
                        if scope_over.load(Ordering::SeqCst) {
                            ran_after_scope.store(true, Ordering::SeqCst);
                        }
                    });
                    // Running on its own thread or fiber, not inline in the scope's end.
                    started.wait(io).unwrap();
                    std::mem::forget(stuck);
                })
            });
        });
        scope_over.store(true, Ordering::SeqCst);
        // If the scope had unwound with the task parked, this would let it run past its scope.
        never.set();
        drop(runtime);
        assert!(
            report.starts_with("io: deadlock detected"),
            "{backend:?}: {report}"
        );
        assert!(report.contains("Event::wait"), "{backend:?}: {report}");
        assert!(
            !ran_after_scope.load(Ordering::SeqCst),
            "{backend:?}: a task ran after its scope had ended"
        );
    }
}

fn a_deadlock_report_delivered_to_a_worker_task_keeps_the_worker() {
    let Some(runtime) = runtime_on(Backend::Threaded, 1, Some(GRACE)) else {
        return;
    };
    let never = Event::new();
    let report = panic_message_of(|| {
        runtime.run(|io| {
            io.scope(|s| {
                // Runs on the only worker; the root then ends the scope and waits for it.
                let stuck = s.spawn_async(|| {
                    let _ = io.uncancelable(|| never.wait(io));
                });
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                std::mem::forget(stuck);
            })
        })
    });
    assert!(report.starts_with("io: deadlock detected"), "{report}");
    let worker = runtime.run(|io| {
        io.scope(|s| {
            let task = s.spawn_async(|| std::thread::current().name().map(str::to_owned));
            // `select` never runs a task inline: only a live worker can finish it.
            let waited = io.timeout(Duration::from_secs(10), || io.select(&[&task]));
            assert_eq!(waited, Ok(Ok(0)), "no worker took the task");
            task.join(io)
        })
    });
    assert_eq!(worker.as_deref(), Some("io-worker-0"));
}

/// `#[io::main]` runs `main` through `__private::run_main`: the root is reported as spawned
/// where that call stands (the attribute, in the user's file), not inside the library.
fn a_root_started_by_io_main_is_reported_where_main_stands() {
    fn root(io: io::Io) {
        let never = Event::new();
        let _ = never.wait(io);
    }
    let settings = io::__private::Settings {
        threads: Some(1),
        deadlock_millis: Some(100),
        ..Default::default()
    };
    let line = line!() + 1;
    let report = panic_message_of(|| io::__private::run_main(Some("threaded"), settings, root));
    assert!(report.starts_with("io: deadlock detected"), "{report}");
    assert!(
        report.contains(&format!("task spawned at tests/deadlock.rs:{line}:")),
        "{report}"
    );
}

/// A task waiting for a signal waits in an I/O operation (a read of the stream's pipe), which
/// the kernel may end at any time: not a deadlock, however long past the grace it waits. The
/// signal comes from a child process (a thread would be one outside the runtime, which alone
/// keeps the monitor from reporting).
fn a_task_waiting_for_a_signal_is_no_deadlock() {
    for backend in BACKENDS {
        let Some(runtime) = runtime_on(backend, 1, Some(GRACE)) else {
            continue;
        };
        let received = runtime.run(|io| {
            let stream = io::signal::signals(io, &[libc::SIGUSR1]).unwrap();
            let script = format!("sleep 1; kill -USR1 {}", std::process::id());
            let mut sender = io::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .kill_on_drop(true)
                .spawn(io)
                .unwrap();
            let received = stream.recv(io).unwrap();
            assert!(sender.wait(io).unwrap().success(), "{backend:?}");
            received
        });
        assert_eq!(received, libc::SIGUSR1, "{backend:?}");
    }
}

/// A task waiting for a child process to end is not a deadlock either.
fn a_task_waiting_for_a_child_is_no_deadlock() {
    for backend in BACKENDS {
        let Some(runtime) = runtime_on(backend, 1, Some(GRACE)) else {
            continue;
        };
        let status = runtime.run(|io| {
            io::process::Command::new("sleep")
                .arg("0.6")
                .status(io)
                .unwrap()
        });
        assert!(status.success(), "{backend:?}: {status}");
    }
}

fn main() {
    // SAFETY: alarm only schedules SIGALRM, whose default action ends the process.
    unsafe { libc::alarm(120) };
    let tests: [(&str, fn()); 12] = [
        (
            "a_deadlock_across_two_loops_is_reported",
            a_deadlock_across_two_loops_is_reported,
        ),
        (
            "a_task_waiting_for_a_busy_loop_is_no_deadlock",
            a_task_waiting_for_a_busy_loop_is_no_deadlock,
        ),
        (
            "a_task_waiting_for_a_signal_is_no_deadlock",
            a_task_waiting_for_a_signal_is_no_deadlock,
        ),
        (
            "a_task_waiting_for_a_child_is_no_deadlock",
            a_task_waiting_for_a_child_is_no_deadlock,
        ),
        (
            "a_root_started_by_io_main_is_reported_where_main_stands",
            a_root_started_by_io_main_is_reported_where_main_stands,
        ),
        (
            "a_put_with_no_getter_on_an_inline_runtime_is_reported",
            a_put_with_no_getter_on_an_inline_runtime_is_reported,
        ),
        (
            "a_root_joining_a_task_that_waits_forever_is_reported",
            a_root_joining_a_task_that_waits_forever_is_reported,
        ),
        (
            "sleeping_tasks_are_not_a_deadlock",
            sleeping_tasks_are_not_a_deadlock,
        ),
        (
            "a_loop_busy_starting_fibers_is_no_deadlock",
            a_loop_busy_starting_fibers_is_no_deadlock,
        ),
        (
            "a_root_waiting_for_a_thread_outside_the_runtime_is_no_deadlock",
            a_root_waiting_for_a_thread_outside_the_runtime_is_no_deadlock,
        ),
        (
            "a_deadlock_at_scope_end_is_reported_without_unwinding_through_the_scope",
            a_deadlock_at_scope_end_is_reported_without_unwinding_through_the_scope,
        ),
        (
            "a_deadlock_report_delivered_to_a_worker_task_keeps_the_worker",
            a_deadlock_report_delivered_to_a_worker_task_keeps_the_worker,
        ),
    ];
    let filter = std::env::args().nth(1).filter(|arg| !arg.starts_with('-'));
    let mut failed = 0;
    let mut passed = 0;
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        match catch_unwind(test) {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Err(payload) => {
                failed += 1;
                println!("test {name} ... FAILED: {}", panic_message(&*payload));
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(i32::from(failed > 0));
}
