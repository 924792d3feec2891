//! The uring backend with `threads = 2`: two event loops, each with its own ring on its own
//! thread. Tasks spawned on a busy loop run on the idle one, wakes and cancels cross loops, a
//! started fiber stays on its thread, and a hundred thousand fibers spread over both. Which
//! loop ran what is observed through thread ids. (The deadlock report across loops is in
//! tests/deadlock.rs, which has its own `main`.)

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::Duration;

use io::net::UnixStream;
use io::{Backend, Canceled, Clock, Queue, Runtime};
use support::{spin_until, timed, watched, LONG, PROMPT};

/// A runtime of two uring loops, or `None` where the kernel refuses io_uring.
fn two_loops() -> Option<Runtime> {
    support::runtime_on(Backend::Uring, 2, Some(Duration::from_millis(500)))
}

#[test]
fn tasks_spawned_on_a_busy_loop_run_on_the_other_one() {
    let Some(runtime) = two_loops() else { return };
    watched("busy loop hand-off", Duration::from_secs(20), || {
        runtime.run(|io| {
            let root = std::thread::current().id();
            let ran = AtomicUsize::new(0);
            io.scope(|s| {
                let tasks: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn_concurrent(|| {
                            ran.fetch_add(1, Ordering::SeqCst);
                            std::thread::current().id()
                        })
                        .expect("a fiber")
                    })
                    .collect();
                // The root holds its loop: only the other loop can run the tasks meanwhile.
                assert!(
                    spin_until(|| ran.load(Ordering::SeqCst) == 8),
                    "the other loop did not take the tasks of the busy one"
                );
                for task in tasks {
                    assert_ne!(task.join(io), root, "a task ran on the busy loop");
                }
            });
        });
    });
}

#[test]
fn a_queue_rendezvous_crosses_loops() {
    let Some(runtime) = two_loops() else { return };
    watched("cross-loop queue", Duration::from_secs(20), || {
        runtime.run(|io| {
            let root = std::thread::current().id();
            let queue = Queue::new(0);
            let started = AtomicBool::new(false);
            io.scope(|s| {
                let producer = s
                    .spawn_concurrent(|| {
                        started.store(true, Ordering::SeqCst);
                        for i in 0..10_000u32 {
                            queue.put_one(io, i).expect("the queue stays open");
                        }
                        std::thread::current().id()
                    })
                    .expect("a fiber");
                assert!(spin_until(|| started.load(Ordering::SeqCst)));
                for i in 0..10_000u32 {
                    let got = io.timeout(PROMPT, || queue.get_one(io));
                    assert_eq!(got, Ok(Ok(i)));
                }
                assert_ne!(
                    producer.join(io),
                    root,
                    "the producer ran on the root's loop"
                );
            });
        });
    });
}

#[test]
fn a_cancel_from_one_loop_ends_a_read_in_flight_on_the_other_ring() {
    let Some(runtime) = two_loops() else { return };
    watched("cross-loop cancel", Duration::from_secs(20), || {
        runtime.run(|io| {
            let root = std::thread::current().id();
            let (ours, theirs) = UnixStream::pair(io).unwrap();
            let reader = Mutex::new(None);
            io.scope(|s| {
                let read = s
                    .spawn_concurrent(|| {
                        *reader.lock().unwrap() = Some(std::thread::current().id());
                        let mut buf = [0u8; 16];
                        // Nobody writes: only the cancel ends this read, within 10 s at worst.
                        let result = io.timeout(LONG, || theirs.read(io, &mut buf));
                        (result, std::thread::current().id())
                    })
                    .expect("a fiber");
                assert!(spin_until(|| reader.lock().unwrap().is_some()));
                // Let the read reach the other loop's ring.
                io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
                let ((result, ran_on), elapsed) = timed(|| read.cancel(io));
                assert_ne!(ran_on, root, "the read ran on the root's loop");
                match result {
                    Ok(Err(e)) => assert!(io::is_canceled(&e), "not canceled: {e}"),
                    other => panic!("the read ended otherwise: {other:?}"),
                }
                assert!(elapsed < PROMPT, "the cancel took {elapsed:?}");
            });
            drop(ours);
        });
    });
}

#[test]
fn a_hundred_thousand_fibers_spread_over_the_loops() {
    let Some(runtime) = two_loops() else { return };
    watched("100 000 fibers", Duration::from_secs(120), || {
        let per_thread: Mutex<HashMap<ThreadId, usize>> = Mutex::default();
        runtime.run(|io| {
            let root = std::thread::current().id();
            let elsewhere = AtomicBool::new(false);
            io.scope(|s| {
                let group = s.group();
                for _ in 0..100_000 {
                    group.spawn(io, || {
                        if std::thread::current().id() != root {
                            elsewhere.store(true, Ordering::SeqCst);
                        }
                        io.sleep(Duration::from_millis(100), Clock::Awake).unwrap();
                        *per_thread
                            .lock()
                            .unwrap()
                            .entry(std::thread::current().id())
                            .or_default() += 1;
                    });
                }
                // On a loaded machine the other loop's thread may not have run yet: hold this
                // loop (its fibers wait) until the other one took some.
                assert!(spin_until(|| elsewhere.load(Ordering::SeqCst)));
                group.wait(io).unwrap();
            })
        });
        let per_thread = per_thread.into_inner().unwrap();
        assert_eq!(per_thread.values().sum::<usize>(), 100_000);
        assert_eq!(
            per_thread.len(),
            2,
            "not spread over both loops: {per_thread:?}"
        );
    });
}

thread_local! {
    /// A per-thread value a fiber borrows across its parks.
    static PER_THREAD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[test]
fn a_started_fiber_never_changes_thread() {
    // 2 000 fibers park 20 times each (yields, sleeps, queue hand-offs with a partner) while
    // the root keeps offering new ones and the other loop steals: each stays on the thread it
    // started on, and a thread-local it borrowed before a park is the same one after.
    let Some(runtime) = two_loops() else { return };
    watched(
        "fibers stay on their thread",
        Duration::from_secs(60),
        || {
            let threads: Mutex<HashMap<ThreadId, usize>> = Mutex::default();
            runtime.run(|io| {
                let root = std::thread::current().id();
                let elsewhere = AtomicBool::new(false);
                io.scope(|s| {
                    let group = s.group();
                    for i in 0..2_000usize {
                        let (threads, elsewhere) = (&threads, &elsewhere);
                        group.spawn(io, move || {
                            let started = std::thread::current().id();
                            if started != root {
                                elsewhere.store(true, Ordering::SeqCst);
                            }
                            PER_THREAD.with(|mine| {
                                let borrowed: *const std::cell::Cell<usize> = mine;
                                let handoff: Queue<usize> = Queue::new(1);
                                io.scope(|inner| {
                                    let partner = inner.spawn_async(|| {
                                        (0..10).try_for_each(|_| handoff.get_one(io).map(drop))
                                    });
                                    for round in 0..20 {
                                        match round % 3 {
                                            0 => io.yield_now().unwrap(),
                                            1 => io.sleep(Duration::ZERO, Clock::Awake).unwrap(),
                                            _ => {}
                                        }
                                        if round % 2 == 0 {
                                            handoff.put_one(io, i).unwrap();
                                        }
                                        assert_eq!(std::thread::current().id(), started);
                                        assert!(std::ptr::eq(borrowed, mine));
                                        assert!(PER_THREAD.with(|now| std::ptr::eq(borrowed, now)));
                                    }
                                    partner.join(io).unwrap();
                                });
                            });
                            *threads.lock().unwrap().entry(started).or_default() += 1;
                        });
                    }
                    // Hold this loop until the other one took some, so both run fibers.
                    assert!(spin_until(|| elsewhere.load(Ordering::SeqCst)));
                    group.wait(io).unwrap();
                })
            });
            let threads = threads.into_inner().unwrap();
            assert_eq!(threads.values().sum::<usize>(), 2_000);
            assert_eq!(threads.len(), 2, "not run on both loops: {threads:?}");
        },
    );
}

#[test]
fn yield_now_lets_the_loop_run_others_and_is_a_cancellation_point() {
    // On one loop: a computing fiber that yields lets a sibling run before it finishes.
    let runtime = Runtime::builder()
        .backend(Backend::Uring)
        .threads(1)
        .build();
    let Ok(runtime) = runtime else { return };
    watched("yield_now", Duration::from_secs(20), || {
        runtime.run(|io| {
            let sibling_ran = AtomicBool::new(false);
            io.scope(|s| {
                let sibling = s
                    .spawn_concurrent(|| sibling_ran.store(true, Ordering::SeqCst))
                    .expect("a fiber");
                let mut yields = 0;
                while !sibling_ran.load(Ordering::SeqCst) && yields < 1000 {
                    io.yield_now().unwrap();
                    yields += 1;
                }
                assert!(
                    sibling_ran.load(Ordering::SeqCst),
                    "yield_now never let it run"
                );
                sibling.join(io);
                // A canceled computation that yields ends at its next yield.
                let worker = s
                    .spawn_concurrent(|| -> Result<(), Canceled> {
                        loop {
                            io.yield_now()?;
                        }
                    })
                    .expect("a fiber");
                io.yield_now().unwrap();
                let (result, elapsed) = timed(|| worker.cancel(io));
                assert_eq!(result, Err::<(), _>(Canceled));
                assert!(elapsed < PROMPT);
            });
        });
    });
}

#[test]
fn yield_now_is_a_cancellation_point_on_both_backends() {
    support::each_backend(|io| {
        io.scope(|s| {
            let worker = s
                .spawn_concurrent(|| -> Result<(), Canceled> {
                    loop {
                        io.yield_now()?;
                    }
                })
                .expect("a task");
            io.sleep(Duration::from_millis(10), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| worker.cancel(io));
            assert_eq!(result, Err::<(), _>(Canceled));
            assert!(elapsed < PROMPT);
        });
    });
}
