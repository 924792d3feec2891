//! `Io::interval`: ticks come in order on the schedule, never early; a tick is a cancellation
//! point that consumes nothing when canceled; each `MissedTickBehavior` after a stall.
//!
//! Timing is asserted only as lower bounds on `Clock::Awake` (a tick never returns before it is
//! due) and through the schedule `tick` returns. "Returned without waiting" means the tick was
//! due when `tick` was called (its time is at or before a reading of the clock taken just
//! before the call), which load cannot change.

mod support;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use io::{Canceled, Clock, Event, Interval, Io, MissedTickBehavior, Timeout};
use support::{each_backend, panic_message, timed, watched, LONG, PROMPT};

/// How long a test may run before the process is aborted.
const WATCHDOG: Duration = Duration::from_secs(60);
/// The period of the stall tests.
const PERIOD: Duration = Duration::from_millis(20);

/// Runs `f` on every backend under the watchdog.
fn run(name: &'static str, f: impl Fn(Io)) {
    watched(name, WATCHDOG, || each_backend(f));
}

fn now(io: Io) -> Duration {
    io.now(Clock::Awake)
}

/// One tick: the time it was due and whether it was due already when `tick` was called (so
/// returned without sleeping). Checks that it did not return before it was due.
fn tick(io: Io, interval: &mut Interval) -> (Duration, bool) {
    let before = now(io);
    let due = interval.tick(io).expect("tick");
    let after = now(io);
    assert!(
        due <= after,
        "a tick returned early: due {due:?}, now {after:?}"
    );
    (due, due <= before)
}

/// An interval of `PERIOD` with `behavior`, its first tick taken, then a stall of 3.5 periods.
/// Returns the interval, the time of the first tick and the time the stall ended.
fn stalled(io: Io, behavior: MissedTickBehavior) -> (Interval, Duration, Duration) {
    let mut interval = io.interval(PERIOD);
    interval.set_missed_tick_behavior(behavior);
    let (start, immediate) = tick(io, &mut interval);
    assert!(immediate, "the first tick waited");
    io.sleep(PERIOD * 7 / 2, Clock::Awake).unwrap();
    let stall_end = now(io);
    assert!(stall_end >= start + PERIOD * 7 / 2);
    (interval, start, stall_end)
}

/// Where a policy that delivers one late tick for a stall stands after its next tick.
struct AfterStall {
    interval: Interval,
    /// The first tick, before the stall.
    start: Duration,
    stall_end: Duration,
    /// When the late tick was delivered.
    delivered: Duration,
    /// The tick after the late one.
    next: Duration,
}

/// [`stalled`] under `behavior`, then the late tick, which must be the one due a period after
/// the start and returned without waiting, then the next tick.
fn late_tick_then_next(io: Io, behavior: MissedTickBehavior) -> AfterStall {
    let (mut interval, start, stall_end) = stalled(io, behavior);
    let (late, immediate) = tick(io, &mut interval);
    assert_eq!(late, start + PERIOD);
    assert!(immediate, "the late tick waited");
    let delivered = now(io);
    let (next, _) = tick(io, &mut interval);
    AfterStall {
        interval,
        start,
        stall_end,
        delivered,
        next,
    }
}

#[test]
fn ticks_come_in_order_on_the_schedule_at_least_a_period_apart() {
    run(
        "ticks_come_in_order_on_the_schedule_at_least_a_period_apart",
        |io| {
            let period = Duration::from_millis(10);
            let before = now(io);
            let mut interval = io.interval(period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
            let (start, immediate) = tick(io, &mut interval);
            assert!(immediate, "the first tick waited");
            assert!(start >= before);
            for k in 1..5 {
                let (due, _) = tick(io, &mut interval);
                assert_eq!(due, start + period * k, "tick {k} is off the schedule");
            }
            let elapsed = now(io) - before;
            assert!(
                elapsed >= 4 * period,
                "5 ticks of {period:?} took {elapsed:?}"
            );
        },
    );
}

#[test]
fn ticks_of_the_default_policy_stay_on_the_schedule_in_order() {
    run(
        "ticks_of_the_default_policy_stay_on_the_schedule_in_order",
        |io| {
            let period = Duration::from_millis(10);
            let mut interval = io.interval(period);
            assert_eq!(interval.missed_tick_behavior(), MissedTickBehavior::Skip);
            let (start, _) = tick(io, &mut interval);
            let mut last = start;
            for _ in 1..5 {
                let (due, _) = tick(io, &mut interval);
                // Under load Skip may drop a tick: later, and still a multiple of the period.
                assert!(due > last, "ticks out of order: {due:?} after {last:?}");
                assert_eq!(
                    (due - start).as_nanos() % period.as_nanos(),
                    0,
                    "off the schedule"
                );
                last = due;
            }
            assert!(now(io) - start >= 4 * period);
        },
    );
}

#[test]
fn a_tick_at_a_start_in_the_future_waits_for_it() {
    run("a_tick_at_a_start_in_the_future_waits_for_it", |io| {
        let start = now(io) + Duration::from_millis(30);
        let mut interval = io.interval_at(start, Duration::from_millis(10));
        // Burst: a tick returned late under load leaves the schedule alone.
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        assert_eq!(interval.next_tick(), start);
        let (due, _) = tick(io, &mut interval);
        assert_eq!(due, start);
        assert!(now(io) >= start);
        assert_eq!(interval.next_tick(), start + Duration::from_millis(10));
    });
}

#[test]
fn a_reset_restarts_the_schedule_a_period_from_now() {
    run("a_reset_restarts_the_schedule_a_period_from_now", |io| {
        let period = Duration::from_millis(10);
        let mut interval = io.interval(period);
        tick(io, &mut interval);
        io.sleep(period * 3, Clock::Awake).unwrap();
        let before = now(io);
        interval.reset(io);
        let (due, _) = tick(io, &mut interval);
        assert!(due >= before + period, "the reset kept the old schedule");
        assert!(now(io) >= due);
    });
}

#[test]
fn a_zero_period_panics() {
    run("a_zero_period_panics", |io| {
        for result in [
            std::panic::catch_unwind(AssertUnwindSafe(|| io.interval(Duration::ZERO))),
            std::panic::catch_unwind(AssertUnwindSafe(|| io.interval_at(now(io), Duration::ZERO))),
        ] {
            let payload = result.expect_err("a zero period was accepted");
            assert!(panic_message(&*payload).contains("period must be non-zero"));
        }
    });
}

#[test]
fn a_cancel_of_a_task_blocked_in_tick_returns_canceled_promptly() {
    run(
        "a_cancel_of_a_task_blocked_in_tick_returns_canceled_promptly",
        |io| {
            let ticked = Event::new();
            io.scope(|s| {
                let ticker = s
                    .spawn_concurrent(|| {
                        let mut interval = io.interval(LONG);
                        interval.tick(io).expect("the first tick");
                        ticked.set();
                        let pending = interval.next_tick();
                        (interval.tick(io), pending, interval.next_tick())
                    })
                    .expect("concurrency");
                ticked.wait(io).unwrap();
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                let ((result, pending, after), elapsed) = timed(|| ticker.cancel(io));
                assert_eq!(result, Err(Canceled));
                assert!(elapsed < PROMPT, "took {elapsed:?}");
                assert_eq!(after, pending, "a canceled tick was consumed");
            });
        },
    );
}

#[test]
fn a_tick_is_a_cancellation_point_even_when_due() {
    run("a_tick_is_a_cancellation_point_even_when_due", |io| {
        let mut interval = io.interval(Duration::from_millis(1));
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        tick(io, &mut interval);
        io.sleep(Duration::from_millis(10), Clock::Awake).unwrap();
        let pending = interval.next_tick();
        assert!(pending <= now(io), "the tick is due");
        // The deadline passes during the busy wait, before the due tick is asked for.
        let result = io.timeout(Duration::from_millis(5), || {
            let until = now(io) + Duration::from_millis(10);
            while now(io) < until {
                std::hint::spin_loop();
            }
            interval.tick(io)
        });
        assert_eq!(result, Err(Timeout));
        assert_eq!(
            interval.next_tick(),
            pending,
            "a canceled tick was consumed"
        );
        assert_eq!(interval.tick(io), Ok(pending));
    });
}

#[test]
fn a_deadline_leaves_the_tick_to_come() {
    run("a_deadline_leaves_the_tick_to_come", |io| {
        let mut interval = io.interval(LONG);
        let (start, _) = tick(io, &mut interval);
        let (result, elapsed) =
            timed(|| io.timeout(Duration::from_millis(20), || interval.tick(io)));
        assert_eq!(result, Err(Timeout));
        assert!(elapsed < PROMPT, "took {elapsed:?}");
        assert_eq!(interval.next_tick(), start + LONG);
    });
}

#[test]
fn a_tick_beyond_any_clock_reading_sleeps_until_canceled() {
    run(
        "a_tick_beyond_any_clock_reading_sleeps_until_canceled",
        |io| {
            let wait = Duration::from_millis(20);
            let mut interval = io.interval_at(Duration::MAX, LONG);
            let before = now(io);
            let result = io.timeout(wait, || interval.tick(io));
            assert_eq!(result, Err(Timeout));
            assert!(
                now(io) - before >= wait,
                "the sleep failed instead of waiting"
            );
            assert_eq!(interval.next_tick(), Duration::MAX);
        },
    );
}

#[test]
fn burst_delivers_every_missed_tick_at_once_then_keeps_the_schedule() {
    run(
        "burst_delivers_every_missed_tick_at_once_then_keeps_the_schedule",
        |io| {
            let (mut interval, start, stall_end) = stalled(io, MissedTickBehavior::Burst);
            // Ticks due by the end of the stall: 3, or more if the stall overran.
            let due = ((stall_end - start).as_nanos() / PERIOD.as_nanos()) as u32;
            assert!(due >= 3);
            for k in 1..=due {
                let (at, immediate) = tick(io, &mut interval);
                assert_eq!(at, start + PERIOD * k, "missed tick {k}");
                assert!(immediate, "missed tick {k} waited");
            }
            let (at, _) = tick(io, &mut interval);
            assert_eq!(at, start + PERIOD * (due + 1), "back on the schedule");
        },
    );
}

#[test]
fn skip_delivers_one_late_tick_then_the_next_on_the_schedule() {
    run(
        "skip_delivers_one_late_tick_then_the_next_on_the_schedule",
        |io| {
            let AfterStall {
                start,
                stall_end,
                delivered,
                next,
                ..
            } = late_tick_then_next(io, MissedTickBehavior::Skip);
            assert!(
                next > stall_end,
                "a tick missed during the stall was delivered"
            );
            assert!(next >= start + PERIOD * 4);
            assert!(
                next <= delivered + PERIOD,
                "more than a period after the late tick"
            );
            assert_eq!(
                (next - start).as_nanos() % PERIOD.as_nanos(),
                0,
                "off the schedule"
            );
        },
    );
}

#[test]
fn delay_delivers_one_late_tick_then_the_next_a_period_later() {
    run(
        "delay_delivers_one_late_tick_then_the_next_a_period_later",
        |io| {
            let AfterStall {
                mut interval,
                stall_end,
                delivered,
                next,
                ..
            } = late_tick_then_next(io, MissedTickBehavior::Delay);
            assert!(
                next >= stall_end + PERIOD,
                "less than a period after the stall"
            );
            assert!(
                next <= delivered + PERIOD,
                "more than a period after the late tick"
            );
            let (after, _) = tick(io, &mut interval);
            assert!(after >= next + PERIOD, "ticks closer than a period");
        },
    );
}
