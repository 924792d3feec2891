//! [`Mutex`]: mutual exclusion between tasks, blocking through the runtime.
//!
//! # Design
//! `state.locked` says which task holds the lock; contenders wait in `state.waiters`. Unlock
//! clears `locked` and wakes the oldest waiter, which competes again (a task that arrives in
//! between may take the lock first: no hand-off, so a canceled waiter never owns the lock).
//!
//! The protected value lives in a std mutex that is never contended: only the holder of the
//! runtime lock touches it, so its `try_lock` always succeeds. That keeps this module free of
//! `unsafe`; the price is that [`MutexGuard`] is `!Send`, like std's.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, TryLockError};

use super::{lock, WaitList, Wakeups};
use crate::block;
use crate::error::Canceled;
use crate::io::Io;
use crate::task::{current_arc, TaskCtx};

#[derive(Debug, Default)]
struct LockState {
    /// Set by the task that takes the lock, cleared by its guard's drop.
    locked: bool,
    waiters: WaitList,
}

/// A mutual-exclusion lock whose [`lock`](Self::lock) parks the task (not the thread, on a
/// fiber backend) and is a cancellation point.
///
/// A panic while the lock is held unlocks it; there is no poisoning.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let total = io::Mutex::new(0);
/// runtime.run(|io| {
///     io.scope(|s| {
///         let add = || -> Result<(), io::Canceled> {
///             for _ in 0..1000 {
///                 *total.lock(io)? += 1;
///             }
///             Ok(())
///         };
///         let a = s.spawn_async(add);
///         let b = s.spawn_async(add);
///         a.join(io).and(b.join(io))
///     })
/// })
/// .unwrap();
/// assert_eq!(total.into_inner(), 2000);
/// ```
#[derive(Default)]
pub struct Mutex<T> {
    state: StdMutex<LockState>,
    data: StdMutex<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    ///
    /// # Examples
    /// ```
    /// let mutex = io::Mutex::new(vec![1, 2]);
    /// mutex.try_lock().unwrap().push(3);
    /// assert_eq!(mutex.into_inner(), [1, 2, 3]);
    /// ```
    pub fn new(value: T) -> Self {
        Self {
            state: StdMutex::default(),
            data: StdMutex::new(value),
        }
    }

    /// Waits until the lock is free, takes it, and returns the guard that releases it on drop.
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Io::timeout) expires) before it
    /// gets the lock; it then holds nothing.
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting. Use
    /// [`lock_uncancelable`](Self::lock_uncancelable) in cleanup code.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let counter = io::Mutex::new(0);
    /// let (total, blocked) = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         for _ in 0..4 {
    ///             group.spawn(io, || *counter.lock(io).unwrap() += 1);
    ///         }
    ///         group.wait(io).unwrap();
    ///         let guard = counter.lock(io).unwrap();
    ///         // Held: another lock waits, here until its deadline.
    ///         let blocked = s
    ///             .spawn_concurrent(|| io.timeout(Duration::from_millis(5), || counter.lock(io).map(drop)))
    ///             .unwrap()
    ///             .join(io);
    ///         (*guard, blocked)
    ///     })
    /// });
    /// assert_eq!((total, blocked), (4, Err(io::Timeout)));
    /// ```
    pub fn lock(&self, io: Io) -> Result<MutexGuard<'_, T>, Canceled> {
        io.check_cancel()?;
        self.acquire()?;
        Ok(self.guard())
    }

    /// Like [`lock`](Self::lock), but ignores cancel requests and deadlines: it always returns
    /// the guard.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let log = io::Mutex::new(Vec::new());
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let worker = s.spawn_concurrent(|| {
    ///             // Canceled while it sleeps:
    ///             let _ = io.sleep(std::time::Duration::from_secs(10), io::Clock::Awake);
    ///             // Cleanup after a cancel: a plain lock would return Canceled at once.
    ///             assert_eq!(log.lock(io).map(drop), Err(io::Canceled));
    ///             log.lock_uncancelable(io).push("cleaned up");
    ///         });
    ///         worker.unwrap().cancel(io);
    ///     })
    /// });
    /// assert_eq!(log.into_inner(), ["cleaned up"]);
    /// ```
    pub fn lock_uncancelable(&self, io: Io) -> MutexGuard<'_, T> {
        self.acquire_uncancelable(io);
        self.guard()
    }

    /// Takes the lock if it is free, without blocking.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let mutex = io::Mutex::new(0);
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.try_lock().is_none(), "held");
    /// drop(guard);
    /// assert!(mutex.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.try_acquire().then(|| self.guard())
    }

    /// Consumes the mutex and returns its value.
    ///
    /// # Examples
    /// ```
    /// let mutex = io::Mutex::new(String::from("owned"));
    /// assert_eq!(mutex.into_inner(), "owned");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// The value, through exclusive access to the mutex (no locking needed).
    ///
    /// # Examples
    /// ```
    /// let mut mutex = io::Mutex::new(1);
    /// *mutex.get_mut() += 1; // no lock: the borrow checker proves nobody else holds it
    /// assert_eq!(mutex.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    fn try_acquire(&self) -> bool {
        let mut state = lock(&self.state);
        !std::mem::replace(&mut state.locked, true)
    }

    /// Takes the runtime lock, parking while another task holds it.
    fn acquire(&self) -> Result<(), Canceled> {
        if self.try_acquire() {
            return Ok(());
        }
        let me = current_arc();
        loop {
            if self.acquire_or_enqueue(&me) {
                return Ok(());
            }
            if let Err(canceled) = block::park(&"Mutex::lock", None) {
                self.abandon(&me);
                return Err(canceled);
            }
        }
    }

    pub(super) fn acquire_uncancelable(&self, io: Io) {
        // Protected, `acquire` has no way to fail; the loop only spells that out.
        io.uncancelable(|| while self.acquire().is_err() {});
    }

    fn acquire_or_enqueue(&self, me: &Arc<TaskCtx>) -> bool {
        let mut state = lock(&self.state);
        state.waiters.remove(me);
        if !state.locked {
            state.locked = true;
            return true;
        }
        state.waiters.push(me);
        false
    }

    /// A canceled waiter leaves; if an unlock already woke it, the wake-up goes to the next.
    fn abandon(&self, me: &Arc<TaskCtx>) {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        if !state.waiters.remove(me) && !state.locked {
            wake.add(state.waiters.pop());
        }
    }

    /// Releases the runtime lock and wakes the oldest waiter.
    pub(super) fn release(&self) {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        state.locked = false;
        wake.add(state.waiters.pop());
    }

    /// The data guard, for the task that holds the runtime lock.
    pub(super) fn data(&self) -> StdMutexGuard<'_, T> {
        match self.data.try_lock() {
            Ok(data) => data,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => unreachable!("io: Mutex data held without its lock"),
        }
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            data: Some(self.data()),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => out.field("data", &&*guard),
            None => out.field("data", &format_args!("<locked>")),
        };
        out.finish()
    }
}

/// Proof that the current task holds a [`Mutex`]: dereferences to the value and unlocks on
/// drop.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let mutex = io::Mutex::new(vec![1]);
/// runtime.run(|io| {
///     let mut guard = mutex.lock(io).unwrap();
///     guard.push(2); // dereferences to the value
///     assert!(mutex.try_lock().is_none());
///     drop(guard); // unlocks
///     assert!(mutex.try_lock().is_some());
/// });
/// assert_eq!(mutex.into_inner(), [1, 2]);
/// ```
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    /// `None` only inside `Condition::wait`, which holds the guard mutably throughout.
    data: Option<StdMutexGuard<'a, T>>,
}

impl<'a, T> MutexGuard<'a, T> {
    /// Unlocks for `Condition::wait`; [`Self::relock`] must follow before the guard is used.
    pub(super) fn unlock(&mut self) {
        drop(self.data.take());
        self.mutex.release();
    }

    /// Locks again after [`Self::unlock`], ignoring cancellation.
    pub(super) fn relock(&mut self, io: Io) {
        self.mutex.acquire_uncancelable(io);
        self.data = Some(self.mutex.data());
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
            .as_deref()
            .expect("io: MutexGuard used while unlocked")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_deref_mut()
            .expect("io: MutexGuard used while unlocked")
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // The data guard goes first, so the next holder's `try_lock` finds it free.
        if self.data.take().is_some() {
            self.mutex.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::testing::runtime;
    use crate::{Clock, Timeout};

    /// Locks, checks nobody else is inside, and increments through a read-yield-write.
    fn increment(io: Io, mutex: &Mutex<u32>, inside: &AtomicBool) -> Result<(), Canceled> {
        let mut guard = mutex.lock(io)?;
        assert!(
            !inside.swap(true, Ordering::SeqCst),
            "two tasks inside the lock"
        );
        let value = *guard;
        std::thread::yield_now();
        *guard = value + 1;
        inside.store(false, Ordering::SeqCst);
        Ok(())
    }

    #[test]
    fn lock_excludes_a_concurrent_task() {
        let mutex = Mutex::new(0);
        let inside = AtomicBool::new(false);
        runtime().run(|io| {
            io.scope(|s| {
                let work = || {
                    io.timeout(Duration::from_secs(20), || {
                        (0..2000).try_for_each(|_| increment(io, &mutex, &inside))
                    })
                };
                let a = s.spawn_concurrent(work).unwrap();
                let b = s.spawn_concurrent(work).unwrap();
                assert_eq!(a.join(io), Ok(Ok(())));
                assert_eq!(b.join(io), Ok(Ok(())));
            })
        });
        assert_eq!(mutex.into_inner(), 4000);
    }

    #[test]
    fn cancel_of_a_blocked_lock_returns_canceled_within_2s() {
        let mutex = Mutex::new(1);
        runtime().run(|io| {
            io.scope(|s| {
                let held = mutex.lock(io).unwrap();
                let long = || io.timeout(Duration::from_secs(10), || mutex.lock(io).map(|g| *g));
                let waiter = s.spawn_concurrent(long).unwrap();
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                let start = Instant::now();
                assert_eq!(waiter.cancel(io), Ok(Err(Canceled)));
                assert!(start.elapsed() < Duration::from_secs(2));
                drop(held);
                assert!(
                    mutex.try_lock().is_some(),
                    "the canceled waiter holds nothing"
                );
            })
        });
    }

    #[test]
    fn try_lock_fails_while_locked_and_a_timeout_bounds_lock() {
        let mutex = Mutex::new(());
        runtime().run(|io| {
            let held = mutex.lock(io).unwrap();
            assert!(mutex.try_lock().is_none());
            let waited = io.timeout(Duration::from_millis(20), || mutex.lock(io).map(drop));
            assert_eq!(waited, Err(Timeout));
            drop(held);
            assert!(mutex.try_lock().is_some());
        });
    }

    #[test]
    fn lock_uncancelable_ignores_a_cancel() {
        let mutex = Mutex::new(0);
        runtime().run(|io| {
            io.scope(|s| {
                let held = mutex.lock(io).unwrap();
                let waiter = s
                    .spawn_concurrent(|| *mutex.lock_uncancelable(io) += 1)
                    .unwrap();
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                crate::cancel::cancel_task(waiter.raw_task().ctx());
                drop(held);
                waiter.join(io);
            })
        });
        assert_eq!(mutex.into_inner(), 1);
    }
}
