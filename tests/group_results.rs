//! Groups that yield their tasks' results: `next` in completion order, `try_next`, and the
//! first-error mode `try_join_all`, with the group's ownership guarantees.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use io::{io_group, scope, Canceled, Clock, Event};
use support::{each_backend, timed, watched, LONG, PROMPT};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn next_yields_results_in_completion_order_then_none() {
    watched("next order", LONG * 3, || {
        each_backend(|io| {
            io.scope(|s| {
                let group = s.group();
                for (name, delay) in [("slow", 150), ("fast", 1), ("middle", 60)] {
                    group
                        .spawn_concurrent(io, move || {
                            io.sleep(ms(delay), Clock::Awake).map(|()| name)
                        })
                        .unwrap();
                }
                let mut order = Vec::new();
                while let Some(result) = io.timeout(LONG, || group.next(io)).unwrap().unwrap() {
                    order.push(result.unwrap());
                }
                assert_eq!(order, ["fast", "middle", "slow"]);
                assert!(group.is_empty());
                assert_eq!(group.next(io), Ok(None), "an empty group says so at once");
            })
        });
    });
}

#[test]
fn try_next_never_blocks_and_sees_finished_results() {
    each_backend(|io| {
        let gate = Event::new();
        io.scope(|s| {
            let group = s.group();
            group
                .spawn_concurrent(io, || gate.wait(io).map(|()| 1))
                .unwrap();
            assert_eq!(group.try_next(), None, "nothing finished");
            assert!(!group.is_empty(), "one task still runs");
            group.spawn(io, || Ok(2));
            gate.set();
            group.wait(io).unwrap();
            let mut got = vec![group.try_next().unwrap(), group.try_next().unwrap()];
            got.sort_unstable_by_key(|r| r.ok());
            assert_eq!(got, [Ok(1), Ok(2)]);
            assert_eq!(group.try_next(), None);
            assert!(group.is_empty());
        })
    });
}

#[test]
fn io_group_infers_the_result_type_from_its_spawns() {
    each_backend(|io| {
        let words = ["a", "bb", "ccc"];
        let total = scope!(io, {
            let group = io_group!();
            for word in words {
                group.spawn(io, move || word.len());
            }
            let mut total = 0;
            while let Some(len) = group.next(io).unwrap() {
                total += len;
            }
            total
        });
        assert_eq!(total, 6);
    });
}

#[test]
fn unit_groups_count_their_results() {
    each_backend(|io| {
        io.scope(|s| {
            let group = s.group();
            for _ in 0..5 {
                group.spawn(io, || {});
            }
            let mut seen = 0;
            while let Some(()) = group.next(io).unwrap() {
                seen += 1;
            }
            assert_eq!(seen, 5);
        })
    });
}

#[test]
fn first_error_cancels_sleeping_siblings_within_2s_and_is_returned() {
    watched("first error", LONG * 3, || {
        each_backend(|io| {
            let canceled = AtomicUsize::new(0);
            let (result, elapsed) = timed(|| {
                io.scope(|s| {
                    let group = s.group();
                    let canceled = &canceled;
                    for n in 0..6u32 {
                        group
                            .spawn_concurrent(io, move || -> std::io::Result<u32> {
                                if n == 3 {
                                    io.sleep(ms(20), Clock::Awake)?;
                                    return Err(std::io::Error::other(format!("task {n} failed")));
                                }
                                if io.sleep(LONG, Clock::Awake) == Err(Canceled) {
                                    canceled.fetch_add(1, Ordering::SeqCst);
                                    return Err(Canceled.into());
                                }
                                Ok(n)
                            })
                            .unwrap();
                    }
                    let result = group.try_join_all(io);
                    assert!(
                        group.is_empty(),
                        "every sibling was joined before it returned"
                    );
                    assert_eq!(canceled.load(Ordering::SeqCst), 5, "before it returned");
                    result.map_err(|e| e.to_string())
                })
            });
            assert_eq!(result, Err(String::from("task 3 failed")));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
    });
}

#[test]
fn try_join_all_returns_values_in_spawn_order() {
    each_backend(|io| {
        io.scope(|s| {
            let group = s.group();
            for n in 0..8u64 {
                group.spawn(io, move || -> Result<u64, Canceled> {
                    io.sleep(ms(8 - n), Clock::Awake)?;
                    Ok(n * 10)
                });
            }
            assert_eq!(
                group.try_join_all(io),
                Ok((0..8).map(|n| n * 10).collect::<Vec<_>>())
            );
        })
    });
}

#[test]
fn a_canceled_next_returns_canceled_and_the_tasks_keep_running() {
    each_backend(|io| {
        let finished = AtomicUsize::new(0);
        let (gate, started) = (Event::new(), Event::new());
        io.scope(|s| {
            let waiter = s.spawn_concurrent(|| {
                io.scope(|inner| {
                    let group = inner.group();
                    group
                        .spawn_concurrent(io, || {
                            started.set();
                            let opened = io.uncancelable(|| gate.wait(io));
                            finished.fetch_add(1, Ordering::SeqCst);
                            opened
                        })
                        .unwrap();
                    let next = group.next(io);
                    // Canceled, yet the group still holds its task: let it finish.
                    assert!(!group.is_empty());
                    gate.set();
                    let after = io.uncancelable(|| group.next(io));
                    (next, after)
                })
            });
            started.wait(io).unwrap();
            io.sleep(ms(20), Clock::Awake).unwrap();
            let ((next, after), elapsed) = timed(|| waiter.unwrap().cancel(io));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
            assert_eq!(next, Err(Canceled));
            assert_eq!(after, Ok(Some(Ok(()))), "the task finished normally");
        });
        assert_eq!(finished.load(Ordering::SeqCst), 1);
    });
}

/// Counts drops of the results nobody took.
struct Tracked<'a>(&'a AtomicUsize);

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn results_nobody_took_are_dropped_when_the_scope_ends() {
    each_backend(|io| {
        let dropped = AtomicUsize::new(0);
        io.scope(|s| {
            let group = s.group();
            for _ in 0..4 {
                group.spawn(io, || Tracked(&dropped));
            }
            group.wait(io).unwrap();
            let taken = group.next(io).unwrap().expect("a result");
            drop(taken);
            assert_eq!(dropped.load(Ordering::SeqCst), 1);
            std::mem::forget(group);
        });
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            4,
            "the scope dropped the other three"
        );
    });
}

#[test]
fn next_resumes_the_panic_of_the_task_whose_result_it_takes() {
    each_backend(|io| {
        let caught = Mutex::new(None);
        io.scope(|s| {
            let group = s.group();
            group.spawn(io, || -> u32 { panic!("task blew up") });
            group.wait(io).unwrap();
            let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.next(io)));
            *caught.lock().unwrap() = panic.err().map(|p| support::panic_message(&*p).to_owned());
            assert_eq!(group.next(io), Ok(None));
        });
        assert_eq!(
            caught.into_inner().unwrap().as_deref(),
            Some("task blew up")
        );
    });
}

#[test]
fn next_never_waits_for_a_blocked_task_it_could_have_run_inline() {
    watched("no inline next", LONG * 3, || {
        for threads in [1, 4] {
            for &backend in support::BACKENDS {
                let Some(runtime) =
                    support::runtime_on(backend, threads, Some(Duration::from_secs(5)))
                else {
                    continue;
                };
                runtime.run(|io| {
                    let ((), elapsed) = timed(|| {
                        io.scope(|s| {
                            let group = s.group();
                            for n in 0..4 {
                                group.spawn(io, move || -> std::io::Result<u32> {
                                    if n == 3 {
                                        return Err(std::io::Error::other("fast failure"));
                                    }
                                    io.sleep(LONG, Clock::Awake)?;
                                    Ok(n)
                                });
                            }
                            let error = group.try_join_all(io).unwrap_err();
                            assert_eq!(error.to_string(), "fast failure");
                        })
                    });
                    assert!(
                        elapsed < PROMPT,
                        "{backend:?}, {threads} threads: took {elapsed:?}"
                    );
                });
            }
        }
    });
}

#[test]
fn try_join_all_cancels_the_siblings_of_a_panicked_task_then_resumes_its_panic() {
    each_backend(|io| {
        let canceled = AtomicUsize::new(0);
        let caught = Mutex::new(String::new());
        let ((), elapsed) = timed(|| {
            io.scope(|s| {
                let group = s.group();
                let canceled = &canceled;
                for n in 0..3 {
                    group
                        .spawn_concurrent(io, move || -> Result<u32, Canceled> {
                            if n == 1 {
                                io.sleep(ms(10), Clock::Awake)?;
                                panic!("task {n} panicked");
                            }
                            io.sleep(LONG, Clock::Awake).inspect_err(|_| {
                                canceled.fetch_add(1, Ordering::SeqCst);
                            })?;
                            Ok(n)
                        })
                        .unwrap();
                }
                let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    group.try_join_all(io)
                }));
                let payload = joined.expect_err("the panic is resumed");
                *caught.lock().unwrap() = support::panic_message(&*payload);
                assert!(group.is_empty(), "the siblings were joined first");
            })
        });
        assert_eq!(*caught.lock().unwrap(), "task 1 panicked");
        assert_eq!(canceled.load(Ordering::SeqCst), 2);
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}
