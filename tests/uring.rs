//! What only the uring backend has: fibers by the hundred thousand, a fiber limit that turns
//! into `ConcurrencyUnavailable`, completions that never reach the wrong fiber, switches that
//! never allocate, and `offload` for work that would hold the loop.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use io::{Backend, Canceled, Clock, ConcurrencyUnavailable, Runtime};
use support::{timed, PROMPT};

/// The single-loop uring runtime: a fiber limit, a calling thread and a loop that one
/// computation holds are one loop's (tests/multi_loop.rs has the multi-loop runtime's).
fn uring() -> io::Builder {
    Runtime::builder().backend(Backend::Uring).threads(1)
}

#[test]
fn a_hundred_thousand_fibers_sleep_at_once() {
    let runtime = uring().build().unwrap();
    let woke = AtomicUsize::new(0);
    let (_, elapsed) = timed(|| {
        runtime.run(|io| {
            io.scope(|s| {
                let group = s.group();
                for _ in 0..100_000 {
                    group.spawn(io, || {
                        io.sleep(Duration::from_millis(100), Clock::Awake).unwrap();
                        woke.fetch_add(1, Ordering::Relaxed);
                    });
                }
                group.wait(io).unwrap();
            })
        })
    });
    assert_eq!(woke.load(Ordering::Relaxed), 100_000);
    // All sleeps overlap: far less than 100 000 × 100 ms, whatever the machine.
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

#[test]
fn past_the_fiber_limit_concurrency_is_unavailable_and_async_runs_inline() {
    let runtime = uring().fiber_limit(8).build().unwrap();
    runtime.run(|io| {
        io.scope(|s| {
            let mut sleepers = Vec::new();
            let refused = loop {
                match s.spawn_concurrent(|| io.sleep(Duration::from_secs(10), Clock::Awake)) {
                    Ok(sleeper) => sleepers.push(sleeper),
                    Err(refused) => break refused,
                }
                assert!(sleepers.len() <= 8, "the fiber limit was not enforced");
            };
            assert_eq!(refused, ConcurrencyUnavailable);
            // The root fiber holds one stack: seven more fit under a limit of eight.
            assert_eq!(sleepers.len(), 7);
            let caller = std::thread::current().id();
            let inline = s.spawn_async(|| std::thread::current().id());
            assert_eq!(inline.join(io), caller);
            for sleeper in sleepers {
                assert_eq!(sleeper.cancel(io), Err(Canceled));
            }
        })
    });
}

#[test]
fn a_stale_completion_never_resumes_the_wrong_fiber() {
    let runtime = uring().build().unwrap();
    runtime.run(|io| {
        for round in 0..200u64 {
            io.scope(|s| {
                // A canceled sleep leaves its operation's completion in flight while the next
                // fibers reuse the slot and the stack.
                let canceled =
                    s.spawn_concurrent(|| io.sleep(Duration::from_secs(10), Clock::Awake));
                let short = s.spawn_concurrent(move || {
                    io.sleep(Duration::from_millis(1), Clock::Awake)
                        .map(|()| round)
                });
                assert_eq!(canceled.unwrap().cancel(io), Err(Canceled));
                assert_eq!(short.unwrap().join(io), Ok(round));
            });
        }
    });
}

#[test]
fn canceling_a_sleeping_fiber_is_prompt() {
    let runtime = uring().build().unwrap();
    runtime.run(|io| {
        io.scope(|s| {
            let sleeper = s.spawn_concurrent(|| io.sleep(Duration::from_secs(10), Clock::Boot));
            io.sleep(Duration::from_millis(10), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| sleeper.unwrap().cancel(io));
            assert_eq!(result, Err(Canceled));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        })
    });
}

#[test]
fn offload_runs_blocking_work_without_holding_the_loop() {
    let runtime = uring().build().unwrap();
    runtime.run(|io| {
        let ticks = AtomicUsize::new(0);
        io.scope(|s| {
            let ticker = s
                .spawn_concurrent(|| {
                    for _ in 0..5 {
                        io.sleep(Duration::from_millis(10), Clock::Awake)?;
                        ticks.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok::<_, Canceled>(())
                })
                .unwrap();
            // A blocking call: on the loop it would stall the ticker for its whole length.
            let slept = io.offload(|| {
                std::thread::sleep(Duration::from_millis(200));
                ticks.load(Ordering::SeqCst)
            });
            assert_eq!(
                slept, 5,
                "the ticker ran while the blocking call was offloaded"
            );
            ticker.join(io).unwrap();
        });
    });
}

#[test]
fn the_uring_backend_runs_on_the_calling_thread() {
    let runtime = uring().build().unwrap();
    let caller = std::thread::current().id();
    let (name, thread) = runtime.run(|io| (io.backend_name(), std::thread::current().id()));
    assert_eq!((name, thread), ("uring", caller));
}
