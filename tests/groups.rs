//! Groups: any number of tasks, reclaimed as they finish.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use io::{Canceled, Clock};
use support::{each_backend, timed, LONG, PROMPT};

#[test]
fn group_cancel_ends_blocked_tasks() {
    each_backend(|io| {
        let canceled = AtomicUsize::new(0);
        io.scope(|s| {
            let group = s.group();
            for _ in 0..8 {
                group.spawn(io, || {
                    if io.sleep(LONG, Clock::Awake) == Err(Canceled) {
                        canceled.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            let ((), elapsed) = timed(|| group.cancel(io));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
        assert_eq!(canceled.load(Ordering::SeqCst), 8);
    });
}

#[test]
fn leaving_the_scope_cancels_the_group() {
    each_backend(|io| {
        let ended = AtomicUsize::new(0);
        let ((), elapsed) = timed(|| {
            io.scope(|s| {
                let group = s.group();
                for _ in 0..4 {
                    group.spawn(io, || {
                        let _ = io.sleep(LONG, Clock::Awake);
                        ended.fetch_add(1, Ordering::SeqCst);
                    });
                }
                std::mem::forget(group);
            })
        });
        assert_eq!(ended.load(Ordering::SeqCst), 4);
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

#[test]
fn a_canceled_group_waiter_returns_canceled() {
    each_backend(|io| {
        io.scope(|s| {
            let waiter = s.spawn_concurrent(|| {
                io.scope(|inner| {
                    let group = inner.group();
                    group.spawn(io, || {
                        let _ = io.sleep(LONG, Clock::Awake);
                    });
                    group.wait(io)
                })
            });
            io.sleep(Duration::from_millis(30), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| waiter.unwrap().cancel(io));
            assert_eq!(result, Err(Canceled));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
    });
}

#[test]
fn group_cancel_drops_the_results_nobody_took_counted_or_kept() {
    each_backend(|io| {
        io.scope(|s| {
            // A group of `()` tasks counts its results instead of keeping them.
            let counted = s.group();
            let kept = s.group();
            for n in 0..3 {
                counted.spawn(io, || ());
                kept.spawn(io, move || n);
            }
            counted.wait(io).unwrap();
            kept.wait(io).unwrap();
            assert!(
                !counted.is_empty() && !kept.is_empty(),
                "results wait to be taken"
            );
            counted.cancel(io);
            kept.cancel(io);
            assert!(counted.is_empty() && kept.is_empty());
            assert_eq!(counted.next(io), Ok(None));
            assert_eq!(kept.next(io), Ok(None));
        });
    });
}
