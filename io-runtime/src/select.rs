//! Waiting for the first of several futures ([`Io::select`]).
//!
//! `select` registers the current task as a waiter of every future that is not done and parks.
//! A task keeps a list of waiters, so any number of selectors (on other threads or tasks, via a
//! shared `&Future`) and a joiner can wait on it at once; a finishing task unparks them all,
//! and `select` looks again. On every way out `select` withdraws its registrations.
//!
//! `select` looks at the futures *before* every cancellation check, on entry and after every
//! wake-up: a future that is finished when it looks wins over a pending cancel or a passed
//! deadline. So `io.timeout(Duration::ZERO, || io.select(&futures))` polls — it returns the
//! index of a finished future, and `Err(Timeout)` only if none is — and a canceled task can
//! still collect what already finished (its next cancellation point that would block returns
//! `Canceled`: the request stays pending).

use crate::block;
use crate::error::Canceled;
use crate::future::Future;
use crate::io::Io;
use std::sync::Arc;

use crate::task::{current_arc, TaskCtx};

/// A handle that [`Io::select`] can wait on: a [`Future`].
///
/// The trait is sealed: its methods are internal to the runtime.
pub trait Selectable: sealed::Sealed {}

mod sealed {
    use crate::task::RawTask;

    /// The task behind a selectable handle.
    pub struct Hook<'a>(pub(crate) &'a dyn RawTask);

    /// Implemented only inside the runtime.
    pub trait Sealed {
        /// The task to poll and to register on.
        fn hook(&self) -> Hook<'_>;
    }
}

impl<T> sealed::Sealed for Future<'_, T> {
    fn hook(&self) -> sealed::Hook<'_> {
        sealed::Hook(self.raw_task())
    }
}

impl<T> Selectable for Future<'_, T> {}

impl Io {
    /// Waits until one of `futures` is finished and returns its index; the others keep
    /// running and stay usable (join or cancel them as usual; the winner's `join` returns at
    /// once). If several are finished when `select` looks, the lowest index wins.
    ///
    /// Unlike `join`, `select` never runs a future's call inline: a future that no worker has
    /// started yet finishes only once one does. On a busy pool, spawn the futures you select
    /// over with `io_concurrent!` ([`Scope::spawn_concurrent`](crate::Scope::spawn_concurrent)).
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Self::timeout) expires) while
    /// none of `futures` is finished.
    ///
    /// # Panics
    /// If `futures` is empty (the wait could never end).
    ///
    /// # Cancelation
    /// A cancellation point whenever it would wait: `select` first looks at the futures, so
    /// one that is already finished wins even over a pending cancel or a deadline that has
    /// passed (the cancel stays pending for the next cancellation point). Hence
    /// `io.timeout(Duration::ZERO, || io.select(&futures))` is a poll: `Ok(Ok(index))` if a
    /// future is finished, `Err(Timeout)` if none is. The futures are not canceled.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let slow = s.spawn_concurrent(|| io.sleep(Duration::from_secs(10), Clock::Awake)).unwrap();
    ///         let fast = s.spawn_concurrent(|| io.sleep(Duration::from_millis(1), Clock::Awake)).unwrap();
    ///         assert_eq!(io.select(&[&slow, &fast]), Ok(1));
    ///         assert_eq!(fast.join(io), Ok(()));
    ///         assert_eq!(slow.cancel(io), Err(io::Canceled));
    ///     })
    /// });
    /// ```
    pub fn select(self, futures: &[&dyn Selectable]) -> Result<usize, Canceled> {
        assert!(
            !futures.is_empty(),
            "io: select over no futures would wait forever"
        );
        // Readiness before cancellation, on entry and after every wake-up: see the module
        // documentation.
        if let Some(index) = futures.iter().position(|f| f.hook().0.is_done()) {
            return Ok(index);
        }
        let me = current_arc();
        // Withdraws this selector from every future on every way out, so that a future that
        // outlives many selects does not collect stale waiters.
        struct Withdraw<'a>(&'a [&'a dyn Selectable], &'a Arc<TaskCtx>);
        impl Drop for Withdraw<'_> {
            fn drop(&mut self) {
                for future in self.0 {
                    future.hook().0.remove_waiter(self.1);
                }
            }
        }
        let _withdraw = Withdraw(futures, &me);
        loop {
            let done = futures.iter().position(|f| !f.hook().0.add_waiter(&me));
            if let Some(index) = done {
                return Ok(index);
            }
            block::check_then_park(&me, &"Io::select")?;
        }
    }
}

#[cfg(test)]
mod tests {
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
}
