//! Tests of `Io::select` over futures.
use std::time::{Duration, Instant};

use super::*;
use crate::error::Timeout;
use crate::testing::{runtime, sleep, LONG};
use crate::Clock;

#[test]
fn select_returns_the_first_finisher_and_the_other_can_still_be_joined() {
    runtime().run(|io| {
        io.scope(|s| {
            let slow = s
                .spawn_concurrent(|| sleep(io, 200).map(|()| "slow"))
                .unwrap();
            let fast = s
                .spawn_concurrent(|| sleep(io, 1).map(|()| "fast"))
                .unwrap();
            let bounded = io.timeout(LONG, || io.select(&[&slow, &fast]));
            assert_eq!(bounded, Ok(Ok(1)));
            assert_eq!(fast.join(io), Ok("fast"));
            assert_eq!(
                slow.join(io),
                Ok("slow"),
                "the loser still runs to completion"
            );
        })
    });
}

#[test]
fn select_returns_at_once_if_a_future_already_finished() {
    runtime().run(|io| {
        io.scope(|s| {
            let done = s.spawn_async(|| 5);
            let pending = s.spawn_concurrent(|| io.sleep(LONG, Clock::Awake)).unwrap();
            assert_eq!(
                io.timeout(LONG, || io.select(&[&pending, &done])),
                Ok(Ok(1))
            );
            assert_eq!(io.select(&[&pending, &done]), Ok(1), "finished: no wait");
            assert_eq!(done.join(io), 5);
            assert_eq!(pending.cancel(io), Err(Canceled));
        })
    });
}

#[test]
fn a_canceled_select_returns_canceled_within_2s() {
    runtime().run(|io| {
        io.scope(|s| {
            let selector = s.spawn_concurrent(|| {
                io.scope(|inner| {
                    let never = inner.spawn_concurrent(|| io.sleep(LONG, Clock::Awake));
                    io.timeout(LONG, || io.select(&[&never.unwrap()]))
                })
            });
            sleep(io, 20).unwrap();
            let start = Instant::now();
            assert_eq!(selector.unwrap().cancel(io), Ok(Err(Canceled)));
            assert!(start.elapsed() < Duration::from_secs(2));
        })
    });
}

#[test]
fn a_zero_timeout_still_sees_a_finished_future() {
    runtime().run(|io| {
        io.scope(|s| {
            let done = s.spawn_async(|| 5);
            assert_eq!(io.timeout(LONG, || io.select(&[&done])), Ok(Ok(0)));
            let pending = s.spawn_concurrent(|| io.sleep(LONG, Clock::Awake)).unwrap();
            for zero in [Duration::ZERO, Duration::from_nanos(1)] {
                assert_eq!(io.timeout(zero, || io.select(&[&done])), Ok(Ok(0)));
                let both = io.timeout(zero, || io.select(&[&pending, &done]));
                assert_eq!(both, Ok(Ok(1)));
                assert_eq!(io.timeout(zero, || io.select(&[&pending])), Err(Timeout));
            }
            assert_eq!(done.join(io), 5);
            assert_eq!(pending.cancel(io), Err(Canceled));
        })
    });
}

#[test]
fn a_canceled_task_still_selects_a_finished_future() {
    runtime().run(|io| {
        let ready = crate::Event::new();
        io.scope(|s| {
            let selector = s.spawn_concurrent(|| {
                io.scope(|inner| {
                    let done = inner.spawn_async(|| 5);
                    let waited = io.timeout(LONG, || io.select(&[&done]));
                    ready.set();
                    // Sleeps until the cancel below arrives.
                    let slept = io.sleep(LONG, Clock::Awake);
                    (waited, slept, io.select(&[&done]), io.check_cancel())
                })
            });
            ready.wait(io).unwrap();
            let (waited, slept, selected, pending) = selector.unwrap().cancel(io);
            assert_eq!(waited, Ok(Ok(0)));
            assert_eq!(slept, Err(Canceled));
            assert_eq!(selected, Ok(0), "a finished future wins over the cancel");
            assert_eq!(pending, Err(Canceled), "the cancel stays pending");
        })
    });
}

#[test]
fn a_timeout_around_select_bounds_a_join() {
    runtime().run(|io| {
        io.scope(|s| {
            let stuck = s.spawn_concurrent(|| io.sleep(LONG, Clock::Awake)).unwrap();
            let start = Instant::now();
            let waited = io.timeout(Duration::from_millis(20), || io.select(&[&stuck]));
            assert_eq!(waited, Err(Timeout));
            assert_eq!(stuck.cancel(io), Err(Canceled));
            assert!(start.elapsed() < Duration::from_secs(2));
        })
    });
}
