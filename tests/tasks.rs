//! Tasks: async and concurrent spawning, join, cancel, and their results.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use io::{Canceled, Clock, ConcurrencyUnavailable, Io, Runtime};
use support::{each_backend, timed, LONG, PROMPT};

fn sleep_then(io: Io, duration: Duration, value: u32) -> Result<u32, Canceled> {
    io.sleep(duration, Clock::Awake)?;
    Ok(value)
}

#[test]
fn two_async_sleeps_overlap() {
    each_backend(|io| {
        let (sum, elapsed) = timed(|| {
            io.scope(|s| {
                let a = s.spawn_async(|| sleep_then(io, Duration::from_secs(1), 1));
                let b = s.spawn_async(|| sleep_then(io, Duration::from_secs(1), 2));
                a.join(io).unwrap() + b.join(io).unwrap()
            })
        });
        assert_eq!(sum, 3);
        assert!(elapsed < Duration::from_millis(1900), "took {elapsed:?}");
    });
}

#[test]
fn join_and_cancel_return_the_same_type() {
    each_backend(|io| {
        io.scope(|s| {
            let finished = s.spawn_async(|| sleep_then(io, Duration::ZERO, 7));
            let joined: Result<u32, Canceled> = finished.join(io);
            assert_eq!(joined, Ok(7));
            let sleeping = s.spawn_async(|| sleep_then(io, LONG, 8));
            let (canceled, elapsed): (Result<u32, Canceled>, _) = timed(|| sleeping.cancel(io));
            assert_eq!(canceled, Err(Canceled));
            assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        });
    });
}

#[test]
fn cancel_after_completion_returns_the_result() {
    each_backend(|io| {
        io.scope(|s| {
            let done = s.spawn_async(|| 5);
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            assert_eq!(done.cancel(io), 5);
        });
    });
}

#[test]
fn a_dropped_handle_cancels_and_waits_for_its_task() {
    each_backend(|io| {
        let finished = AtomicUsize::new(0);
        let (_, elapsed) = timed(|| {
            io.scope(|s| {
                let handle = s.spawn_async(|| {
                    let slept = io.sleep(LONG, Clock::Awake);
                    finished.fetch_add(1, Ordering::SeqCst);
                    slept
                });
                drop(handle);
                // The task finished before drop returned.
                assert_eq!(finished.load(Ordering::SeqCst), 1);
            })
        });
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

/// Records, when dropped, that the result of task `id` was dropped.
struct DropRecorder<'a> {
    id: usize,
    dropped: &'a Mutex<Vec<usize>>,
}

impl Drop for DropRecorder<'_> {
    fn drop(&mut self) {
        self.dropped.lock().unwrap().push(self.id);
    }
}

#[test]
fn scope_end_cancels_every_task_then_joins_newest_first() {
    each_backend(|io| {
        let canceled = AtomicUsize::new(0);
        let dropped = Mutex::new(Vec::new());
        io.scope(|s| {
            for id in 0..3 {
                let (canceled, dropped) = (&canceled, &dropped);
                let handle = s.spawn_concurrent(move || {
                    if io.sleep(LONG, Clock::Awake).is_err() {
                        canceled.fetch_add(1, Ordering::SeqCst);
                    }
                    DropRecorder { id, dropped }
                });
                std::mem::forget(handle.unwrap());
            }
            // Let all three reach their sleep.
            io.sleep(Duration::from_millis(100), Clock::Awake).unwrap();
        });
        // All three were canceled (all at once: in whatever order they noticed), and the scope
        // joined them, dropping their unclaimed results, newest first like Zig's defers.
        assert_eq!(canceled.load(Ordering::SeqCst), 3);
        assert_eq!(dropped.into_inner().unwrap(), [2, 1, 0]);
    });
}

#[test]
fn forgotten_handle_does_not_outlive_its_scope() {
    each_backend(|io| {
        let running = AtomicUsize::new(0);
        let (_, elapsed) = timed(|| {
            io.scope(|s| {
                let handle = s.spawn_async(|| {
                    running.fetch_add(1, Ordering::SeqCst);
                    let _ = io.sleep(LONG, Clock::Awake);
                    running.fetch_sub(1, Ordering::SeqCst);
                });
                std::mem::forget(handle);
            })
        });
        assert_eq!(running.load(Ordering::SeqCst), 0, "task outlived its scope");
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

#[test]
fn tasks_borrow_locals_that_outlive_the_scope() {
    each_backend(|io| {
        let words = [String::from("hard"), String::from("on an excuse")];
        let lengths = io.scope(|s| {
            let futures: Vec<_> = words.iter().map(|w| s.spawn_async(|| w.len())).collect();
            futures.into_iter().map(|f| f.join(io)).collect::<Vec<_>>()
        });
        assert_eq!(lengths, [4, 12]);
    });
}

#[test]
fn concurrent_is_unavailable_single_threaded() {
    let runtime = Runtime::builder().single_threaded().build().unwrap();
    runtime.run(|io| {
        io.scope(|s| {
            let refused = s.spawn_concurrent(|| 1).map(|f| f.join(io));
            assert_eq!(refused, Err(ConcurrencyUnavailable));
            // Asynchrony still works: inline.
            assert_eq!(s.spawn_async(|| 2).join(io), 2);
        });
    });
}

#[test]
fn concurrent_limit_zero_refuses_every_spawn() {
    let runtime = Runtime::builder()
        .threads(2)
        .concurrent_limit(0)
        .build()
        .unwrap();
    runtime.run(|io| {
        io.scope(|s| assert!(s.spawn_concurrent(|| ()).is_err()));
    });
}

#[test]
fn concurrent_oversubscribes_beyond_the_pool() {
    let runtime = Runtime::builder().threads(1).build().unwrap();
    runtime.run(|io| {
        let arrived = AtomicUsize::new(0);
        io.scope(|s| {
            // Four tasks that each wait until all four run at once: only concurrency passes.
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn_concurrent(|| {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        for _ in 0..200 {
                            if arrived.load(Ordering::SeqCst) == 4 {
                                return true;
                            }
                            io.sleep(Duration::from_millis(10), Clock::Awake).unwrap();
                        }
                        false
                    })
                    .unwrap()
                })
                .collect();
            assert!(handles.into_iter().all(|h| h.join(io)));
        });
    });
}

#[test]
fn async_limit_zero_runs_inline_on_the_caller() {
    let runtime = Runtime::builder()
        .threads(2)
        .async_limit(0)
        .build()
        .unwrap();
    runtime.run(|io| {
        let caller = std::thread::current().id();
        io.scope(|s| {
            let task = s.spawn_async(|| std::thread::current().id());
            assert_eq!(task.join(io), caller);
        });
    });
}

#[test]
fn building_with_zero_threads_is_an_error() {
    let error = Runtime::builder().threads(0).build().unwrap_err();
    assert!(error.to_string().contains("single_threaded"), "{error}");
}

#[test]
#[should_panic(expected = "Runtime that was dropped")]
fn using_an_io_after_its_runtime_is_a_clear_panic() {
    let runtime = Runtime::builder().threads(1).build().unwrap();
    let io = runtime.io();
    drop(runtime);
    io.scope(|s| s.spawn_async(|| ()).join(io));
}

/// A joined or canceled task's unit of `concurrent_limit` is free by the time `join`/`cancel`
/// returns, whoever ran it (its own thread or fiber, or its joiner inline): a spawn right after
/// is never refused.
#[test]
fn a_limit_slot_is_free_when_join_or_cancel_returns() {
    for &backend in support::BACKENDS {
        let built = Runtime::builder()
            .backend(backend)
            .threads(2)
            .concurrent_limit(3)
            .build();
        let Ok(runtime) = built else {
            eprintln!("skipped on {backend:?}: {}", built.err().unwrap());
            continue;
        };
        runtime.run(|io| {
            io.scope(|s| {
                let sleepers: Vec<_> = (0..2)
                    .map(|_| s.spawn_concurrent(|| io.sleep(LONG, Clock::Awake)).unwrap())
                    .collect();
                for round in 0..300 {
                    let joined = s.spawn_concurrent(move || round);
                    let joined = joined.unwrap_or_else(|_| panic!("{backend:?}: round {round}"));
                    assert_eq!(joined.join(io), round);
                    let canceled = s.spawn_concurrent(|| io.sleep(LONG, Clock::Awake));
                    let canceled = canceled.unwrap_or_else(|_| panic!("{backend:?}: {round}"));
                    assert_eq!(canceled.cancel(io), Err(io::Canceled));
                }
                // The limit still holds: two sleepers and one more fill it.
                let third = s.spawn_concurrent(|| io.sleep(LONG, Clock::Awake)).unwrap();
                assert!(s.spawn_concurrent(|| ()).is_err(), "{backend:?}");
                drop(third);
                drop(sleepers);
            })
        });
    }
}

#[test]
fn handles_and_spawns_on_other_threads_keep_the_scope_whole() {
    each_backend(|io| {
        let canceled = AtomicUsize::new(0);
        let dropped = Mutex::new(Vec::new());
        io.scope(|s| {
            let sleeper = |id| {
                let (canceled, dropped) = (&canceled, &dropped);
                move || {
                    if io.sleep(LONG, Clock::Awake).is_err() {
                        canceled.fetch_add(1, Ordering::SeqCst);
                    }
                    DropRecorder { id, dropped }
                }
            };
            std::mem::forget(s.spawn_concurrent(sleeper(0)).unwrap());
            let mine: Vec<_> = (0..4u32).map(|n| s.spawn_async(move || n)).collect();
            // Other threads join the scope's handles, spawn on it and hand a handle back.
            let (joined, theirs, handed) = io.offload(|| {
                std::thread::scope(|threads| {
                    let joiner = threads.spawn(|| mine.into_iter().map(|f| f.join(io)).sum());
                    let spawner = threads.spawn(|| s.spawn_async(|| 10u32).join(io));
                    let joined: u32 = joiner.join().unwrap();
                    let theirs = spawner.join().unwrap();
                    let handed = threads.spawn(|| {
                        // Finished at once (a plain thread cannot spawn a concurrent task on
                        // every backend); the scope drops its result in its turn.
                        let dropped = &dropped;
                        std::mem::forget(s.spawn_async(move || DropRecorder { id: 1, dropped }));
                        s.spawn_async(|| 100u32)
                    });
                    (joined, theirs, handed.join().unwrap())
                })
            });
            assert_eq!((joined, theirs, handed.join(io)), (6, 10, 100));
            // The scope's own spawns go on after the other threads' releases.
            let more: u32 = (0..3u32).map(|n| s.spawn_async(move || n).join(io)).sum();
            assert_eq!(more, 3);
            std::mem::forget(s.spawn_concurrent(sleeper(2)).unwrap());
            io.sleep(Duration::from_millis(100), Clock::Awake).unwrap();
        });
        // Spawns made on either thread end newest first, as if made on one.
        assert_eq!(canceled.load(Ordering::SeqCst), 2);
        assert_eq!(dropped.into_inner().unwrap(), [2, 1, 0]);
    });
}

/// A joiner takes the start of the task it joins back from the loop's queue (when it is the
/// newest or the oldest entry) and runs the task inline; whatever order the handles are joined
/// in, every task runs exactly once and each join returns its own task's result.
#[test]
fn joins_in_any_order_run_each_task_once() {
    each_backend(|io| {
        let runs: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
        let run = |i: usize| {
            runs[i].fetch_add(1, Ordering::Relaxed);
            i * 3
        };
        io.scope(|s| {
            // Newest first, oldest first, and from the middle after a park let the loop start
            // some of them.
            let mut handles: Vec<_> = (0..16)
                .map(|i| (i, s.spawn_async(move || run(i))))
                .collect();
            while let Some((i, handle)) = handles.pop() {
                assert_eq!(handle.join(io), i * 3);
            }
            let handles: Vec<_> = (16..32)
                .map(|i| (i, s.spawn_async(move || run(i))))
                .collect();
            for (i, handle) in handles {
                assert_eq!(handle.join(io), i * 3);
            }
            let mut handles: Vec<_> = (32..64)
                .map(|i| (i, s.spawn_async(move || run(i))))
                .collect();
            io.sleep(Duration::from_millis(1), Clock::Awake).unwrap();
            while !handles.is_empty() {
                let (i, handle) = handles.remove(handles.len() / 2);
                assert_eq!(handle.join(io), i * 3);
            }
        });
        for (i, count) in runs.iter().enumerate() {
            assert_eq!(
                count.load(Ordering::Relaxed),
                1,
                "task {i} ran a wrong number of times"
            );
        }
    });
}
