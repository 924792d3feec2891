//! [`Condition`]: waiting for a change of state protected by a [`Mutex`](super::Mutex).
//!
//! # Design
//! `wait` registers the task in the wait list *before* it unlocks the mutex, so a `signal`
//! sent by whoever locks the mutex next cannot be missed. `signal` and `broadcast` remove
//! waiters from the list as they wake them; a waiter that finds itself still registered
//! after `park` returned was woken spuriously and parks again. A waiter that is canceled after
//! a `signal` removed it hands that signal on to the next waiter.

use std::sync::{Arc, Mutex as StdMutex};

use super::{lock, MutexGuard, WaitList, Wakeups};
use crate::block;
use crate::error::Canceled;
use crate::io::Io;
use crate::task::{current_arc, TaskCtx};

/// A condition variable for tasks: [`wait`](Self::wait) unlocks a [`Mutex`](super::Mutex)
/// guard, parks until [`signal`](Self::signal) or [`broadcast`](Self::broadcast), and locks
/// again.
///
/// As with every condition variable, check the awaited state in a loop around `wait`.
///
/// # Examples
/// ```
/// use io::{Condition, Mutex};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let ready = Mutex::new(false);
/// let changed = Condition::new();
/// runtime.run(|io| {
///     io.scope(|s| {
///         let waiter = s.spawn_async(|| -> Result<bool, io::Canceled> {
///             let mut guard = ready.lock(io)?;
///             while !*guard {
///                 changed.wait(io, &mut guard)?;
///             }
///             Ok(*guard)
///         });
///         *ready.lock_uncancelable(io) = true;
///         changed.signal();
///         assert_eq!(waiter.join(io), Ok(true));
///     })
/// });
/// ```
#[derive(Debug, Default)]
pub struct Condition {
    waiters: StdMutex<WaitList>,
}

impl Condition {
    /// A condition with no waiters.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (lock, condition) = (io::Mutex::new(0), io::Condition::new());
    /// // Nobody signals: a bounded wait ends at its deadline, with the mutex locked again.
    /// let waited = runtime.run(|io| {
    ///     let mut guard = lock.lock(io).unwrap();
    ///     let wait = || condition.wait(io, &mut guard);
    ///     let waited = io.timeout(std::time::Duration::from_millis(5), wait);
    ///     *guard += 1;
    ///     waited
    /// });
    /// assert_eq!(waited, Err(io::Timeout));
    /// assert_eq!(lock.into_inner(), 1);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Unlocks `guard`'s mutex, parks until signaled, then locks the mutex again.
    ///
    /// The guard is locked again when this returns, whatever the result, so it stays usable
    /// (and unlocks on drop as usual). A return does not prove that the awaited state holds:
    /// check it again.
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Io::timeout) expires) before a
    /// signal arrives; the mutex is locked again first, ignoring the cancel.
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting for the signal; re-locking is not one.
    ///
    /// # Examples
    /// ```
    /// use io::{Condition, Mutex};
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let (items, added) = (Mutex::new(Vec::new()), Condition::new());
    /// let taken = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let consumer = s.spawn_concurrent(|| -> Result<u32, io::Canceled> {
    ///             let mut guard = items.lock(io)?;
    ///             while guard.is_empty() {
    ///                 added.wait(io, &mut guard)?; // unlocks while it waits
    ///             }
    ///             Ok(guard.pop().unwrap())
    ///         });
    ///         items.lock(io).unwrap().push(7);
    ///         added.signal();
    ///         consumer.unwrap().join(io)
    ///     })
    /// });
    /// assert_eq!(taken, Ok(7));
    /// ```
    pub fn wait<T>(&self, io: Io, guard: &mut MutexGuard<'_, T>) -> Result<(), Canceled> {
        io.check_cancel()?;
        let me = current_arc();
        lock(&self.waiters).push(&me);
        guard.unlock();
        let signaled = self.park_until_signaled(&me);
        guard.relock(io);
        signaled
    }

    fn park_until_signaled(&self, me: &Arc<TaskCtx>) -> Result<(), Canceled> {
        loop {
            let parked = block::park(&"Condition::wait", None);
            let mut wake = Wakeups::default();
            let mut waiters = lock(&self.waiters);
            match parked {
                Err(canceled) => {
                    if !waiters.remove(me) {
                        wake.add(waiters.pop());
                    }
                    return Err(canceled);
                }
                Ok(_) if waiters.contains(me) => continue,
                Ok(_) => return Ok(()),
            }
        }
    }

    /// Wakes the oldest waiting task, if any.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::{Condition, Mutex};
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let (tickets, turn) = (Mutex::new(0), Condition::new());
    /// let served = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let customers: Vec<_> = (0..2)
    ///             .map(|_| {
    ///                 s.spawn_concurrent(|| -> Result<(), io::Canceled> {
    ///                     let mut guard = tickets.lock(io)?;
    ///                     while *guard == 0 {
    ///                         turn.wait(io, &mut guard)?;
    ///                     }
    ///                     *guard -= 1;
    ///                     Ok(())
    ///                 })
    ///                 .unwrap()
    ///             })
    ///             .collect();
    ///         // One ticket at a time, one waiter woken for each.
    ///         for _ in 0..2 {
    ///             io.sleep(Duration::from_millis(2), io::Clock::Awake).unwrap();
    ///             *tickets.lock(io).unwrap() += 1;
    ///             turn.signal();
    ///         }
    ///         customers.into_iter().map(|c| c.join(io)).collect::<Vec<_>>()
    ///     })
    /// });
    /// assert_eq!(served, [Ok(()), Ok(())]);
    /// ```
    pub fn signal(&self) {
        let mut wake = Wakeups::default();
        wake.add(lock(&self.waiters).pop());
    }

    /// Wakes every waiting task.
    ///
    /// # Examples
    /// ```
    /// use io::{Condition, Mutex};
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let (open, opened) = (Mutex::new(false), Condition::new());
    /// let woken = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         for _ in 0..3 {
    ///             group.spawn(io, || -> Result<(), io::Canceled> {
    ///                 let mut guard = open.lock(io)?;
    ///                 while !*guard {
    ///                     opened.wait(io, &mut guard)?;
    ///                 }
    ///                 Ok(())
    ///             });
    ///         }
    ///         *open.lock(io).unwrap() = true;
    ///         opened.broadcast(); // every waiter at once
    ///         group.try_join_all(io).map(|all| all.len())
    ///     })
    /// });
    /// assert_eq!(woken, Ok(3));
    /// ```
    pub fn broadcast(&self) {
        let mut wake = Wakeups::default();
        wake.add_all(lock(&self.waiters).take_all());
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::testing::runtime;
    use crate::{Clock, Mutex};

    /// Waits until the counter reaches `target`, under a 20 s bound.
    fn wait_for(io: Io, mutex: &Mutex<u32>, cond: &Condition, target: u32) -> Result<(), Canceled> {
        io.timeout(Duration::from_secs(20), || {
            let mut guard = mutex.lock(io)?;
            while *guard < target {
                cond.wait(io, &mut guard)?;
            }
            Ok(())
        })
        .unwrap_or(Err(Canceled))
    }

    #[test]
    fn signal_and_broadcast_wake_waiters() {
        let mutex = Mutex::new(0);
        let cond = Condition::new();
        runtime().run(|io| {
            io.scope(|s| {
                let one = s
                    .spawn_concurrent(|| wait_for(io, &mutex, &cond, 1))
                    .unwrap();
                *mutex.lock(io).unwrap() = 1;
                cond.signal();
                assert_eq!(one.join(io), Ok(()));
                let all: Vec<_> = (0..3)
                    .map(|_| {
                        s.spawn_concurrent(|| wait_for(io, &mutex, &cond, 2))
                            .unwrap()
                    })
                    .collect();
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                *mutex.lock(io).unwrap() = 2;
                cond.broadcast();
                for waiter in all {
                    assert_eq!(waiter.join(io), Ok(()));
                }
            })
        });
    }

    #[test]
    fn cancel_of_a_wait_returns_canceled_within_2s_and_relocks() {
        let mutex = Mutex::new(0);
        let cond = Condition::new();
        runtime().run(|io| {
            io.scope(|s| {
                let waiter = s.spawn_concurrent(|| {
                    io.timeout(Duration::from_secs(10), || {
                        let mut guard = mutex.lock(io)?;
                        let waited = cond.wait(io, &mut guard);
                        *guard = 7; // still locked after a canceled wait
                        waited
                    })
                });
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                let start = Instant::now();
                assert_eq!(waiter.unwrap().cancel(io), Ok(Err(Canceled)));
                assert!(start.elapsed() < Duration::from_secs(2));
                assert_eq!(*mutex.try_lock().expect("unlocked after the wait"), 7);
            })
        });
    }
}
