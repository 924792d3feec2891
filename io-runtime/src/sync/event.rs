//! [`Event`]: a flag that tasks can wait for.
//!
//! # Design
//! `set` raises the flag and wakes every waiter, removing each from the wait list. A waiter
//! that is no longer registered when it wakes returns, even if a `reset` came in between: it
//! was woken by a `set`. One that is still registered re-checks the flag (a spurious wake-up).

use std::sync::{Arc, Mutex as StdMutex};

use super::{lock, WaitList, Wakeups};
use crate::block;
use crate::error::Canceled;
use crate::io::Io;
use crate::select::{Arm, SelectArm, Waiter};
use crate::task::{current_arc, TaskCtx};

#[derive(Debug, Default)]
struct EventState {
    set: bool,
    waiters: WaitList,
}

/// A flag that is either set or not: [`wait`](Self::wait) parks until it is set.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let started = io::Event::new();
/// runtime.run(|io| {
///     io.scope(|s| {
///         let waiter = s.spawn_async(|| started.wait(io));
///         started.set();
///         assert_eq!(waiter.join(io), Ok(()));
///     })
/// });
/// assert!(started.is_set());
/// ```
#[derive(Debug, Default)]
pub struct Event {
    state: StdMutex<EventState>,
}

impl Event {
    /// A new event that is not set.
    ///
    /// # Examples
    /// ```
    /// let event = io::Event::new();
    /// assert!(!event.is_set());
    /// event.set();
    /// event.set(); // setting a set event does nothing
    /// assert!(event.is_set());
    /// event.reset();
    /// assert!(!event.is_set());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the event and wakes every task waiting for it. Setting a set event does nothing.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let ready = io::Event::new();
    /// let woken = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let waiters: Vec<_> =
    ///             (0..2).map(|_| s.spawn_concurrent(|| ready.wait(io)).unwrap()).collect();
    ///         ready.set(); // wakes every waiter
    ///         waiters.into_iter().map(|w| w.join(io)).collect::<Vec<_>>()
    ///     })
    /// });
    /// assert_eq!(woken, [Ok(()), Ok(())]);
    /// ```
    pub fn set(&self) {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        state.set = true;
        wake.add_all(state.waiters.take_all());
    }

    /// Clears the event: later [`wait`](Self::wait)s park until the next [`set`](Self::set).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let event = io::Event::new();
    /// let (while_set, after_reset) = runtime.run(|io| {
    ///     event.set();
    ///     let while_set = event.wait(io);
    ///     event.reset();
    ///     // Not set any more: the wait parks again (here until the deadline).
    ///     (while_set, io.timeout(Duration::from_millis(5), || event.wait(io)))
    /// });
    /// assert_eq!((while_set, after_reset), (Ok(()), Err(io::Timeout)));
    /// ```
    pub fn reset(&self) {
        lock(&self.state).set = false;
    }

    /// Whether the event is set.
    ///
    /// # Examples
    /// ```
    /// let event = io::Event::new();
    /// assert!(!event.is_set());
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        lock(&self.state).set
    }

    /// Returns once the event is set (at once if it is set now).
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Io::timeout) expires) first.
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let started = io::Event::new();
    /// let (order, canceled) = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let worker = s.spawn_concurrent(|| started.set()).unwrap();
    ///         started.wait(io).unwrap(); // returns once the worker set it
    ///         worker.join(io);
    ///         // A wait for an event nobody sets ends with a cancel or a deadline.
    ///         let never = io::Event::new();
    ///         ("started", io.timeout(Duration::from_millis(5), || never.wait(io)))
    ///     })
    /// });
    /// assert_eq!((order, canceled), ("started", Err(io::Timeout)));
    /// ```
    pub fn wait(&self, io: Io) -> Result<(), Canceled> {
        io.check_cancel()?;
        if self.is_set() {
            return Ok(());
        }
        let me = current_arc();
        let mut registered = false;
        loop {
            if self.done_or_register(&me, registered) {
                return Ok(());
            }
            registered = true;
            if let Err(canceled) = block::park(&"Event::wait", None) {
                lock(&self.state).waiters.remove(&me);
                return Err(canceled);
            }
        }
    }

    /// `true` if the wait is over: the event is set, or a `set` already woke (and removed)
    /// `me`; otherwise registers `me` unless `registered` already.
    fn done_or_register(&self, me: &Arc<TaskCtx>, registered: bool) -> bool {
        let mut state = lock(&self.state);
        if state.set {
            state.waiters.remove(me);
            return true;
        }
        if registered {
            return !state.waiters.contains(me);
        }
        state.waiters.push(me);
        false
    }
}

/// The arm of [`Event::select_wait`]: ready once the event is set; binds `()`.
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let (done, queue) = (io::Event::new(), io::Queue::<u8>::new(1));
/// let outcome = runtime.run(|io| {
///     io.scope(|s| {
///         let setter = s.spawn_concurrent(|| done.set()).unwrap();
///         let outcome = io::io_select!(io, {
///             () = done.select_wait() => "done",
///             _ = queue.select_get() => "item",
///             () = io::after(Duration::from_secs(10)) => "timeout",
///         });
///         setter.join(io);
///         outcome
///     })
/// });
/// assert_eq!(outcome, Ok("done"));
/// ```
#[derive(Debug)]
pub struct EventSet<'e> {
    event: &'e Event,
    done: bool,
}

impl Event {
    /// A select arm that is ready once the event is set (see
    /// [`io_select!`](crate::io_select)).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (stop, queue) = (io::Event::new(), io::Queue::<u32>::new(1));
    /// stop.set();
    /// let stopped = runtime.run(|io| {
    ///     io::io_select!(io, {
    ///         item = queue.select_get() => item.is_err(),
    ///         () = stop.select_wait() => true,
    ///     })
    /// });
    /// assert_eq!(stopped, Ok(true));
    /// ```
    pub fn select_wait(&self) -> EventSet<'_> {
        EventSet {
            event: self,
            done: false,
        }
    }
}

impl Arm for EventSet<'_> {
    fn poll(&mut self, _: &Waiter) -> bool {
        self.done = self.event.is_set();
        self.done
    }
    fn register(&mut self, waiter: &Waiter) {
        let mut state = lock(&self.event.state);
        if !state.waiters.contains(&waiter.0) {
            state.waiters.push(&waiter.0);
        }
    }
    // A `set` wakes every waiter: there is no wake-up to pass on.
    fn unregister(&mut self, waiter: &Waiter) {
        lock(&self.event.state).waiters.remove(&waiter.0);
    }
}

impl SelectArm for EventSet<'_> {
    type Output = ();
    fn take(&mut self) {
        assert!(self.done, "io: select arm taken before it completed");
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::testing::runtime;
    use crate::{Clock, Timeout};

    #[test]
    fn set_wakes_waiters_and_reset_makes_wait_block_again() {
        let event = Event::new();
        runtime().run(|io| {
            io.scope(|s| {
                let bounded = || io.timeout(Duration::from_secs(20), || event.wait(io));
                let waiters: Vec<_> = (0..3)
                    .map(|_| s.spawn_concurrent(bounded).unwrap())
                    .collect();
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                event.set();
                for waiter in waiters {
                    assert_eq!(waiter.join(io), Ok(Ok(())));
                }
                assert!(event.is_set());
                assert_eq!(event.wait(io), Ok(()), "a set event does not block");
                event.reset();
                assert!(!event.is_set());
                let blocked = io.timeout(Duration::from_millis(20), || event.wait(io));
                assert_eq!(blocked, Err(Timeout));
            })
        });
    }

    #[test]
    fn cancel_of_an_event_wait_returns_canceled_within_2s() {
        let event = Event::new();
        runtime().run(|io| {
            io.scope(|s| {
                let long = || io.timeout(Duration::from_secs(10), || event.wait(io));
                let waiter = s.spawn_concurrent(long).unwrap();
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                let start = Instant::now();
                assert_eq!(waiter.cancel(io), Ok(Err(Canceled)));
                assert!(start.elapsed() < Duration::from_secs(2));
                assert!(
                    lock(&event.state).waiters.is_empty(),
                    "the canceled waiter left"
                );
            })
        });
    }
}
