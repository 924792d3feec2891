//! `RwLock` and `Semaphore`: exclusion, sharing, FIFO fairness, and cancellation that leaves
//! them consistent, on every backend.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use io::{Canceled, Clock, Event, Future, Io, RwLock, Scope, Semaphore, Timeout};
use support::{each_backend, timed, LONG, PROMPT};

fn nap(io: Io, millis: u64) {
    io.sleep(Duration::from_millis(millis), Clock::Awake)
        .unwrap();
}

/// Lets the other tasks run (a fiber backend switches only when a task parks).
fn pause(io: Io) -> Result<(), Canceled> {
    io.sleep(Duration::ZERO, Clock::Awake)
}

/// Spawns `call` concurrently in `s`, bounded by [`LONG`] (a task that never got in fails
/// instead of hanging the test).
fn bounded<'s, 'env, T: Send + 'env>(
    s: &'s Scope<'env>,
    io: Io,
    call: impl FnOnce() -> T + Send + 'env,
) -> Future<'s, Result<T, Timeout>> {
    s.spawn_concurrent(move || io.timeout(LONG, call)).unwrap()
}

/// Joins every task and checks that each one ended in time and `Ok`.
fn all_end_ok<'s>(
    io: Io,
    tasks: impl IntoIterator<Item = Future<'s, Result<Result<(), Canceled>, Timeout>>>,
) {
    for task in tasks {
        assert_eq!(task.join(io), Ok(Ok(())));
    }
}

/// Cancels a task blocked in a wait and checks that it returns `Canceled` promptly.
fn cancel_promptly<T: PartialEq + std::fmt::Debug>(
    io: Io,
    blocked: Future<'_, Result<Result<T, Canceled>, Timeout>>,
) {
    let (result, elapsed) = timed(|| blocked.cancel(io));
    assert_eq!(result, Ok(Err(Canceled)));
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

/// Races a grant against a cancel, 30 rounds: `hold` takes the primitive, a first waiter and a
/// next one queue behind it (both run `wait`); the release grants the primitive to the first
/// waiter, and the cancel of that waiter races it. The next waiter must get in every round;
/// then `settled` checks the primitive, given the round.
fn race_grant_and_cancel<H>(
    io: Io,
    hold: impl Fn() -> H,
    wait: impl Fn() -> Result<(), Canceled> + Sync,
    settled: impl Fn(u32),
) {
    io.scope(|s| {
        for round in 0..30 {
            let held = hold();
            let granted_first = bounded(s, io, &wait);
            nap(io, 1);
            let next = bounded(s, io, &wait);
            nap(io, 1);
            // The release grants the primitive to the first waiter, and the cancel races it.
            drop(held);
            let _ = granted_first.cancel(io);
            assert_eq!(
                next.join(io),
                Ok(Ok(())),
                "round {round}: the next waiter starved"
            );
            settled(round);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// RwLock

#[test]
fn writers_exclude_each_other_and_readers() {
    each_backend(|io| {
        const TASKS: usize = 6;
        const ROUNDS: u64 = 100;
        let counter = RwLock::new(0u64);
        let writing = AtomicBool::new(false);
        io.scope(|s| {
            let write = || -> Result<(), Canceled> {
                for _ in 0..ROUNDS {
                    let mut guard = counter.write(io)?;
                    assert!(!writing.swap(true, Ordering::SeqCst), "two writers inside");
                    let value = *guard; // a read-yield-write: lost updates if not exclusive
                    pause(io)?;
                    std::thread::yield_now();
                    *guard = value + 1;
                    writing.store(false, Ordering::SeqCst);
                }
                Ok(())
            };
            let read = || -> Result<(), Canceled> {
                for _ in 0..ROUNDS {
                    let guard = counter.read(io)?;
                    assert!(!writing.load(Ordering::SeqCst), "a reader beside a writer");
                    let before = *guard;
                    pause(io)?;
                    assert_eq!(*guard, before, "the value changed under a read guard");
                }
                Ok(())
            };
            let writers: Vec<_> = (0..TASKS).map(|_| bounded(s, io, write)).collect();
            let readers: Vec<_> = (0..2).map(|_| bounded(s, io, read)).collect();
            all_end_ok(io, writers.into_iter().chain(readers));
        });
        assert_eq!(counter.into_inner(), TASKS as u64 * ROUNDS);
    });
}

#[test]
fn readers_hold_the_lock_together() {
    each_backend(|io| {
        let lock = RwLock::new(1);
        let second_inside = Event::new();
        io.scope(|s| {
            // The first reader keeps its guard until the second reader is inside as well: with
            // an exclusive lock, that wait would never end (it is bounded, so it fails instead).
            let first = bounded(s, io, || {
                let guard = lock.read(io)?;
                second_inside.wait(io)?;
                Ok::<_, Canceled>(*guard)
            });
            let second = bounded(s, io, || {
                let guard = lock.read(io)?;
                second_inside.set();
                Ok::<_, Canceled>(*guard)
            });
            assert_eq!(first.join(io), Ok(Ok(1)));
            assert_eq!(second.join(io), Ok(Ok(1)));
        });
        assert!(lock.try_write().is_some(), "both readers left");
    });
}

#[test]
fn a_writer_waits_for_the_readers_inside() {
    each_backend(|io| {
        let lock = RwLock::new(0);
        let wrote = AtomicBool::new(false);
        io.scope(|s| {
            let first = lock.read(io).unwrap();
            let second = lock.try_read().expect("readers share the lock");
            let writer = bounded(s, io, || {
                *lock.write(io)? = 1;
                wrote.store(true, Ordering::SeqCst);
                Ok::<_, Canceled>(())
            });
            nap(io, 20);
            assert!(!wrote.load(Ordering::SeqCst), "wrote beside two readers");
            drop(first);
            nap(io, 20);
            assert!(!wrote.load(Ordering::SeqCst), "wrote beside a reader");
            assert_eq!(*second, 0);
            drop(second);
            assert_eq!(writer.join(io), Ok(Ok(())));
        });
        assert_eq!(lock.into_inner(), 1);
    });
}

#[test]
fn a_writer_is_not_starved_by_a_stream_of_readers() {
    each_backend(|io| {
        let lock = RwLock::new(0);
        let stop = AtomicBool::new(false);
        let reads = AtomicUsize::new(0);
        io.scope(|s| {
            // Overlapping readers: at every moment some reader holds the lock, so a lock that
            // let new readers pass a waiting writer would never let the writer in.
            let read = || -> Result<(), Canceled> {
                while !stop.load(Ordering::SeqCst) {
                    let _guard = lock.read(io)?;
                    reads.fetch_add(1, Ordering::SeqCst);
                    io.sleep(Duration::from_millis(3), Clock::Awake)?;
                }
                Ok(())
            };
            let readers: Vec<_> = (0..3).map(|_| bounded(s, io, read)).collect();
            let readers_running = io.timeout(LONG, || {
                while reads.load(Ordering::SeqCst) < 10 {
                    io.sleep(Duration::from_millis(1), Clock::Awake)?;
                }
                Ok::<_, Canceled>(())
            });
            assert_eq!(readers_running, Ok(Ok(())));
            let written = io.timeout(LONG, || lock.write(io).map(|mut guard| *guard = 1));
            stop.store(true, Ordering::SeqCst);
            assert_eq!(
                written,
                Ok(Ok(())),
                "the writer got in while readers kept coming"
            );
            all_end_ok(io, readers);
        });
        assert_eq!(lock.into_inner(), 1);
    });
}

#[test]
fn cancel_of_a_blocked_read_or_write_returns_canceled_promptly_and_leaves_the_lock_usable() {
    each_backend(|io| {
        let lock = RwLock::new(0);
        io.scope(|s| {
            // A blocked read (behind a writer) and a blocked write (behind a reader).
            let written = lock.write(io).unwrap();
            let reader = bounded(s, io, || lock.read(io).map(|guard| *guard));
            nap(io, 20);
            cancel_promptly(io, reader);
            drop(written);

            let read = lock.read(io).unwrap();
            let writer = bounded(s, io, || lock.write(io).map(|mut g| *g = 9));
            nap(io, 20);
            cancel_promptly(io, writer);
            assert!(
                lock.try_read().is_some(),
                "no canceled writer blocks readers"
            );
            drop(read);

            *lock.write(io).unwrap() = 1;
            assert_eq!(*lock.read(io).unwrap(), 1);
        });
        assert!(
            lock.try_write().is_some(),
            "the canceled waiters hold nothing"
        );
    });
}

#[test]
fn a_waiter_canceled_as_it_is_granted_hands_the_lock_to_the_next() {
    each_backend(|io| {
        let lock = RwLock::new(0);
        race_grant_and_cancel(
            io,
            || lock.write(io).unwrap(),
            || lock.write(io).map(|mut g| *g += 1),
            |round| {
                assert!(
                    lock.try_write().is_some(),
                    "round {round}: the lock is free"
                );
            },
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Semaphore

#[test]
fn a_semaphore_limits_concurrency_to_its_permits() {
    each_backend(|io| {
        const PERMITS: usize = 3;
        let semaphore = Semaphore::new(PERMITS);
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let full = Event::new();
        io.scope(|s| {
            let work = || -> Result<(), Canceled> {
                for _ in 0..5 {
                    let _permit = semaphore.acquire(io)?;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    if now == PERMITS {
                        full.set();
                    }
                    // The first holders stay until all permits are out at once (bounded by the
                    // task's timeout, should fewer get in), so the maximum is not left to chance.
                    full.wait(io)?;
                    pause(io)?;
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
                Ok(())
            };
            all_end_ok(io, (0..8).map(|_| bounded(s, io, work)).collect::<Vec<_>>());
        });
        assert_eq!(most.load(Ordering::SeqCst), PERMITS);
        assert_eq!(semaphore.available_permits(), PERMITS);
    });
}

#[test]
fn acquire_many_is_served_first_come_first_served() {
    each_backend(|io| {
        let semaphore = Semaphore::new(3);
        let order = std::sync::Mutex::new(Vec::new());
        io.scope(|s| {
            let held = semaphore.acquire_many(io, 2).unwrap();
            // The big request queues first (1 permit left, it needs 3); the small one after it
            // could be served by the 1 permit left, but must not overtake it.
            let big = bounded(s, io, || {
                let permit = semaphore.acquire_many(io, 3)?;
                order.lock().unwrap().push("big");
                Ok::<_, Canceled>(permit.permits())
            });
            // Once the big request waits, `try_acquire` no longer takes the permit left.
            let big_queued = io.timeout(LONG, || {
                while let Some(permit) = semaphore.try_acquire() {
                    drop(permit);
                    io.sleep(Duration::from_millis(1), Clock::Awake)?;
                }
                Ok::<_, Canceled>(())
            });
            assert_eq!(big_queued, Ok(Ok(())));
            let small = bounded(s, io, || {
                let _permit = semaphore.acquire(io)?;
                order.lock().unwrap().push("small");
                Ok::<_, Canceled>(())
            });
            nap(io, 20);
            assert!(order.lock().unwrap().is_empty(), "the small one overtook");
            assert!(
                semaphore.try_acquire().is_none(),
                "try_acquire overtook the queue"
            );
            assert_eq!(semaphore.available_permits(), 1);
            // The release grants all 3 permits to the big one; the small one gets one only
            // when the big one gives them back.
            drop(held);
            assert_eq!(big.join(io), Ok(Ok(3)));
            assert_eq!(small.join(io), Ok(Ok(())));
        });
        assert_eq!(*order.lock().unwrap(), ["big", "small"]);
        assert_eq!(semaphore.available_permits(), 3);
    });
}

#[test]
fn cancel_of_a_blocked_acquire_returns_canceled_promptly_and_lets_the_queue_move() {
    each_backend(|io| {
        let semaphore = Semaphore::new(2);
        io.scope(|s| {
            let held = semaphore.acquire(io).unwrap();
            // A big acquire blocks a small one behind it; canceling it must let the small one in.
            let big = bounded(s, io, || semaphore.acquire_many(io, 2).map(drop));
            nap(io, 20);
            let small = bounded(s, io, || semaphore.acquire(io).map(drop));
            nap(io, 20);
            cancel_promptly(io, big);
            assert_eq!(small.join(io), Ok(Ok(())));
            drop(held);
        });
        assert_eq!(semaphore.available_permits(), 2, "no permit was lost");
        assert!(semaphore.try_acquire_many(2).is_some());
    });
}

#[test]
fn an_acquire_canceled_as_it_is_granted_hands_the_permit_to_the_next() {
    each_backend(|io| {
        let semaphore = Semaphore::new(1);
        race_grant_and_cancel(
            io,
            || semaphore.acquire(io).unwrap(),
            || semaphore.acquire(io).map(drop),
            |round| {
                assert_eq!(
                    semaphore.available_permits(),
                    1,
                    "round {round}: a permit was lost"
                );
            },
        );
    });
}

#[test]
fn add_permits_wakes_waiters() {
    each_backend(|io| {
        let semaphore = Semaphore::new(0);
        io.scope(|s| {
            let waiter = bounded(s, io, || semaphore.acquire_many(io, 2).map(drop));
            nap(io, 20);
            semaphore.add_permits(1);
            nap(io, 20);
            assert_eq!(semaphore.available_permits(), 1, "one permit is not enough");
            semaphore.add_permits(1);
            assert_eq!(waiter.join(io), Ok(Ok(())));
        });
        assert_eq!(semaphore.available_permits(), 2);
    });
}
