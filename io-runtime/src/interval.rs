//! Periodic ticks: [`Io::interval`] and [`Interval::tick`].
//!
//! An [`Interval`] is a plain value holding a schedule on [`Clock::Awake`]: the time of its next
//! tick, its period and its [`MissedTickBehavior`]. [`Interval::tick`] sleeps until the next
//! tick with [`Io::sleep_until`] (so it is a cancellation point, and the deadlines of
//! [`Io::timeout`] apply), then advances the schedule. Nothing runs between ticks: no timer,
//! no task, no thread.
//!
//! # Missed ticks
//! A tick is *missed* when the time of the tick after it has come too before `tick` delivers
//! it: the caller was busy (or stalled) for at least a whole period past the schedule. Lateness
//! below one period is not a miss, whatever the policy: the next tick keeps its time on the
//! schedule, so a loop whose ticks are slightly late does not drift. What follows a miss is the
//! interval's [`MissedTickBehavior`].
//!
//! `Clock::Awake` stops while the machine is suspended, so a suspend is not a stall: the
//! schedule resumes where it stood.

use std::time::Duration;

use crate::error::Canceled;
use crate::io::Io;
use crate::time::Clock;

/// What an [`Interval`] does after ticks were missed. The default is [`Skip`](Self::Skip).
///
/// A tick is *missed* when the time of the tick after it has come too before
/// [`tick`](Interval::tick) delivers it: the caller was busy (or stalled) for at least a whole
/// period past the schedule. Lateness below one period is not a miss, whatever the policy: the
/// next tick keeps its time on the schedule, so a loop whose ticks are slightly late does not
/// drift.
///
/// The examples stall for 3.5 periods after the first tick, at `start`: the ticks due at
/// `start + period`, `start + 2 × period` and `start + 3 × period` have all come when `tick` is
/// called again, at `start + 3.5 × period`.
///
/// Why `Skip` by default (tokio defaults to `Burst`): after a stall it does a bounded amount of
/// work — one late tick, then the schedule — however long the stall was, and it keeps ticks on
/// the schedule `start + k × period`. That is what periodic work (heartbeats, polling, flushing
/// metrics) wants, and it is what Go's `time.Ticker` does. Code that must run once per elapsed
/// period, whatever happened (counting, catching up a rate), chooses `Burst`; code that needs a
/// full period of rest after each late tick chooses `Delay`.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use io::{Clock, MissedTickBehavior};
///
/// let period = Duration::from_millis(10);
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| -> Result<(), io::Canceled> {
///     let mut interval = io.interval(period);
///     assert_eq!(interval.missed_tick_behavior(), MissedTickBehavior::Skip);
///     interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
///     let start = interval.tick(io)?;
///     io.sleep(period * 7 / 2, Clock::Awake)?; // a stall of 3.5 periods
///     for k in 1..=3 {
///         assert_eq!(interval.tick(io)?, start + period * k); // due already: no wait
///     }
///     assert_eq!(interval.tick(io)?, start + period * 4); // back on the schedule
///
///     for (behavior, earliest) in [
///         (MissedTickBehavior::Skip, period * 4), // the schedule, past the stall
///         (MissedTickBehavior::Delay, period * 9 / 2), // a period after the stall
///     ] {
///         let mut interval = io.interval(period);
///         interval.set_missed_tick_behavior(behavior);
///         let start = interval.tick(io)?;
///         io.sleep(period * 7 / 2, Clock::Awake)?;
///         assert_eq!(interval.tick(io)?, start + period); // late, at once
///         assert!(interval.tick(io)? >= start + earliest);
///     }
///     Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MissedTickBehavior {
    /// Delivers every missed tick, each at once, until the interval has caught up; the schedule
    /// never changes. After the 3.5-period stall: the ticks of `start + period`,
    /// `start + 2 × period` and `start + 3 × period` return without waiting, then the tick of
    /// `start + 4 × period` comes on time. The number of ticks always matches the time elapsed,
    /// at the price of a burst of work after a long stall.
    Burst,
    /// Delivers the first missed tick at once, then starts the schedule afresh from that
    /// moment: the next tick comes one period after the late one was delivered. After the
    /// 3.5-period stall: the tick of `start + period` returns at once (at about
    /// `start + 3.5 × period`), the next comes about `start + 4.5 × period`, and every later
    /// one a period after it. The schedule drifts by the stall; two ticks are never closer than
    /// a period after a miss.
    Delay,
    /// Delivers the first missed tick at once and drops the others: the next tick is the first
    /// time on the original schedule after the late one was delivered. After the 3.5-period
    /// stall: the tick of `start + period` returns at once, the ticks of `start + 2 × period`
    /// and `start + 3 × period` are dropped, and the next comes at `start + 4 × period`.
    /// Ticks stay aligned to the schedule, and a stall costs one extra tick at most.
    #[default]
    Skip,
}

impl MissedTickBehavior {
    /// The time of the tick after the one due at `due`, delivered at `now` on an interval of
    /// `period`.
    fn next(self, due: Duration, now: Duration, period: Duration) -> Duration {
        let on_schedule = due.saturating_add(period);
        if now < on_schedule {
            // Late by less than a period, or on time: nothing was missed.
            return on_schedule;
        }
        match self {
            MissedTickBehavior::Burst => on_schedule,
            MissedTickBehavior::Delay => now.saturating_add(period),
            MissedTickBehavior::Skip => {
                // `now - due` is at most a clock reading, so the remainder fits in a u64.
                let into_period = ((now - due).as_nanos() % period.as_nanos()) as u64;
                now.saturating_add(period - Duration::from_nanos(into_period))
            }
        }
    }
}

/// A schedule of ticks, one every `period` on [`Clock::Awake`]: made by [`Io::interval`] or
/// [`Io::interval_at`], waited on with [`tick`](Self::tick).
///
/// Ticks are times since the epoch of `Clock::Awake`, as [`Io::now`]`(Clock::Awake)` returns
/// them. What happens when the caller falls behind is its [`MissedTickBehavior`] (default
/// [`Skip`](MissedTickBehavior::Skip)).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use io::Clock;
///
/// let period = Duration::from_millis(5);
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| -> Result<(), io::Canceled> {
///     let before = io.now(Clock::Awake);
///     let mut interval = io.interval(period);
///     for _ in 0..4 {
///         interval.tick(io)?; // the first tick at once, then one every 5 ms
///     }
///     assert!(io.now(Clock::Awake) - before >= 3 * period);
///     Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Interval {
    /// The time of the next tick on `Clock::Awake`.
    next: Duration,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Io {
    /// An interval that ticks now and then every `period`: the first [`Interval::tick`]
    /// returns at once, as tokio's does.
    ///
    /// # Panics
    /// If `period` is zero (as tokio's `interval` does): an interval that is always due would
    /// never wait, and `tick` would spin.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let mut interval = io.interval(Duration::from_secs(10));
    ///     let before = io.now(Clock::Awake);
    ///     let first = interval.tick(io).unwrap(); // due at creation: no wait
    ///     assert!(first <= before);
    ///     assert_eq!(interval.next_tick(), first + Duration::from_secs(10));
    /// });
    /// ```
    #[must_use]
    pub fn interval(self, period: Duration) -> Interval {
        self.interval_at(self.now(Clock::Awake), period)
    }

    /// An interval whose first tick is at `start` (a time on [`Clock::Awake`], as
    /// [`now`](Io::now) returns) and then every `period`. A `start` in the past is due at
    /// once; the ticks between it and now count as missed (see [`MissedTickBehavior`]).
    ///
    /// # Panics
    /// If `period` is zero, as [`interval`](Io::interval).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let start = io.now(Clock::Awake) + Duration::from_millis(20);
    ///     let mut interval = io.interval_at(start, Duration::from_millis(5));
    ///     assert_eq!(interval.tick(io), Ok(start));
    ///     assert!(io.now(Clock::Awake) >= start);
    /// });
    /// ```
    #[must_use]
    pub fn interval_at(self, start: Duration, period: Duration) -> Interval {
        assert!(
            !period.is_zero(),
            "io: an interval's period must be non-zero"
        );
        Interval {
            next: start,
            period,
            missed: MissedTickBehavior::default(),
        }
    }
}

impl Interval {
    /// Waits for the next tick and returns the time it was due (on [`Clock::Awake`]), which
    /// the schedule set and not the moment it returned: at or before
    /// [`now`](Io::now)`(Clock::Awake)`, never after. A tick that is due already returns at
    /// once, after checking for a cancel. The tick after it is set by the schedule and the
    /// [`MissedTickBehavior`].
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or the deadline of an enclosing
    /// [`Io::timeout`] passes) before the tick. The tick is then not consumed: the next call
    /// waits for the same one.
    ///
    /// # Cancelation
    /// A cancellation point, also when the tick is due already.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let period = Duration::from_millis(5);
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let mut interval = io.interval(period);
    ///     let first = interval.tick(io).unwrap();
    ///     let second = interval.tick(io).unwrap();
    ///     assert!(second >= first + period);
    ///     assert!(io.now(Clock::Awake) >= second);
    ///     // A tick that does not come before a deadline stays the next one.
    ///     let mut slow = io.interval(Duration::from_secs(10));
    ///     let start = slow.tick(io).unwrap();
    ///     let waited = io.timeout(Duration::from_millis(5), || slow.tick(io));
    ///     assert_eq!(waited, Err(io::Timeout));
    ///     assert_eq!(slow.next_tick(), start + Duration::from_secs(10));
    /// });
    /// ```
    pub fn tick(&mut self, io: Io) -> Result<Duration, Canceled> {
        let due = self.next;
        if io.now(Clock::Awake) < due {
            io.sleep_until(due, Clock::Awake)?;
        } else {
            io.check_cancel()?;
        }
        let now = io.now(Clock::Awake);
        self.next = self.missed.next(due, now, self.period);
        Ok(due)
    }

    /// The time the next [`tick`](Self::tick) is due, on [`Clock::Awake`].
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let start = io.now(io::Clock::Awake) + Duration::from_secs(1);
    ///     let interval = io.interval_at(start, Duration::from_millis(5));
    ///     assert_eq!(interval.next_tick(), start);
    /// });
    /// ```
    pub fn next_tick(&self) -> Duration {
        self.next
    }

    /// The time between ticks.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let interval = runtime.run(|io| io.interval(Duration::from_millis(250)));
    /// assert_eq!(interval.period(), Duration::from_millis(250));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What the interval does after missed ticks; [`MissedTickBehavior::Skip`] unless set.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let interval = runtime.run(|io| io.interval(Duration::from_millis(250)));
    /// assert_eq!(interval.missed_tick_behavior(), io::MissedTickBehavior::Skip);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what the interval does after missed ticks, from the next [`tick`](Self::tick) on.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::MissedTickBehavior;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let mut interval = runtime.run(|io| io.interval(Duration::from_millis(250)));
    /// interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    /// assert_eq!(interval.missed_tick_behavior(), MissedTickBehavior::Delay);
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// Restarts the schedule: the next tick is one period from now, and every later one a
    /// period after it.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let period = Duration::from_secs(10);
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let mut interval = io.interval(period);
    ///     let before = io.now(Clock::Awake);
    ///     interval.reset(io);
    ///     assert!(interval.next_tick() >= before + period);
    /// });
    /// ```
    pub fn reset(&mut self, io: Io) {
        self.next = io.now(Clock::Awake).saturating_add(self.period);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::MissedTickBehavior::{self, Burst, Delay, Skip};

    const P: Duration = Duration::from_millis(10);

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn lateness_below_a_period_keeps_the_schedule_on_every_policy() {
        for policy in [Burst, Delay, Skip] {
            assert_eq!(policy.next(ms(100), ms(100), P), ms(110), "{policy:?}");
            assert_eq!(policy.next(ms(100), ms(109), P), ms(110), "{policy:?}");
        }
    }

    #[test]
    fn after_a_stall_of_three_and_a_half_periods() {
        assert_eq!(Burst.next(ms(10), ms(35), P), ms(20));
        assert_eq!(Delay.next(ms(10), ms(35), P), ms(45));
        assert_eq!(Skip.next(ms(10), ms(35), P), ms(40));
        assert_eq!(
            Skip.next(ms(10), ms(40), P),
            ms(50),
            "a tick due now is missed"
        );
    }

    #[test]
    fn the_schedule_saturates_instead_of_overflowing() {
        for policy in [Burst, Delay, Skip] {
            assert_eq!(
                policy.next(Duration::MAX - P, Duration::MAX, P),
                Duration::MAX
            );
            assert_eq!(policy.next(ms(1), ms(2), Duration::MAX), Duration::MAX);
        }
        assert_eq!(MissedTickBehavior::default(), Skip);
    }
}
