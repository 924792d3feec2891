//! [`Semaphore`]: a count of permits that tasks acquire and give back, blocking through the
//! runtime.
//!
//! # Design
//! `state.permits` counts the permits available; blocked tasks wait in `state.waiters`, each
//! with the number of permits it wants. Fairness is FIFO with hand-off, as for
//! [`RwLock`](super::RwLock): a task that arrives takes permits at once only if enough are
//! available *and nobody waits*; a release (or [`Semaphore::add_permits`]) grants permits to
//! the oldest waiters in order, stopping at the first that wants more than are left, so a large
//! request at the head of the queue is never overtaken by small ones behind it.
//!
//! A granted waiter is no longer in the queue; if it is canceled before it returns, it gives
//! its permits back, which grants them on. A queued waiter that is canceled leaves the queue
//! and grants whoever it was blocking. A cancel therefore never loses a wake-up.

use std::fmt;
use std::sync::Mutex as StdMutex;

use super::{acquire_granted, lock, Granting, WaitList, Wakeups};
use crate::error::Canceled;
use crate::io::Io;

#[derive(Debug, Default)]
struct SemState {
    /// Permits available (not granted to anyone).
    permits: usize,
    /// Blocked tasks, each with the number of permits it waits for.
    waiters: WaitList<usize>,
}

impl Granting for SemState {
    type Want = usize;

    /// Takes `n` permits for a task that arrives now: only if they are available and nobody
    /// waits.
    fn try_take(&mut self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        if !self.waiters.is_empty() || self.permits < n {
            return false;
        }
        self.permits -= n;
        true
    }

    /// Grants permits to the oldest waiters for as long as there are enough for the oldest,
    /// removing each from the queue and waking it.
    fn grant(&mut self, wake: &mut Wakeups) {
        while let Some(&n) = self.waiters.front() {
            if self.permits < n {
                break;
            }
            self.permits -= n;
            wake.add(self.waiters.pop());
        }
    }

    /// Adds `n` permits and grants them on.
    fn release(&mut self, n: usize, wake: &mut Wakeups) {
        self.permits = self
            .permits
            .checked_add(n)
            .expect("io: Semaphore permit count overflows usize");
        self.grant(wake);
    }

    fn waiters(&mut self) -> &mut WaitList<usize> {
        &mut self.waiters
    }
}

/// A counting semaphore: [`acquire`](Self::acquire) takes a permit, parking the task (not the
/// thread, on a fiber backend) while none is available; the [`Permit`] gives it back on drop.
///
/// Fairness is first come, first served: a task that finds others waiting queues behind them,
/// and permits that become available go to the oldest waiters in order. An
/// [`acquire_many`](Self::acquire_many) of many permits is therefore not starved by a stream of
/// small acquires; they queue behind it.
///
/// # Examples
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let slots = io::Semaphore::new(2);
/// let inside = AtomicUsize::new(0);
/// runtime.run(|io| {
///     io.scope(|s| {
///         let work = || -> Result<(), io::Canceled> {
///             let _permit = slots.acquire(io)?;
///             assert!(inside.fetch_add(1, Ordering::SeqCst) < 2, "at most 2 inside");
///             inside.fetch_sub(1, Ordering::SeqCst);
///             Ok(())
///         };
///         let tasks: Vec<_> = (0..4).map(|_| s.spawn_async(work)).collect();
///         for task in tasks {
///             task.join(io).unwrap();
///         }
///     })
/// });
/// assert_eq!(slots.available_permits(), 2);
/// ```
#[derive(Default)]
pub struct Semaphore {
    state: StdMutex<SemState>,
}

impl Semaphore {
    /// A semaphore with `permits` permits available.
    ///
    /// # Examples
    /// ```
    /// let semaphore = io::Semaphore::new(3);
    /// assert_eq!(semaphore.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Self {
        Self {
            state: StdMutex::new(SemState {
                permits,
                waiters: WaitList::default(),
            }),
        }
    }

    /// Waits for a permit, takes it, and returns the [`Permit`] that gives it back on drop.
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Io::timeout) expires) before it
    /// gets the permit; it then holds nothing (a permit it was granted meanwhile goes to the
    /// next waiters).
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let semaphore = io::Semaphore::new(1);
    /// runtime.run(|io| {
    ///     let permit = semaphore.acquire(io).unwrap();
    ///     assert_eq!(semaphore.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(semaphore.available_permits(), 1);
    /// });
    /// ```
    pub fn acquire(&self, io: Io) -> Result<Permit<'_>, Canceled> {
        self.acquire_many(io, 1)
    }

    /// Waits for `n` permits, takes them all at once, and returns the [`Permit`] that gives
    /// them back on drop. Asking for 0 permits returns at once; asking for more than will ever
    /// be available waits until canceled (and blocks the waiters behind it meanwhile).
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Io::timeout) expires) before it
    /// gets the permits; it then holds none.
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let semaphore = io::Semaphore::new(5);
    /// runtime.run(|io| {
    ///     let permit = semaphore.acquire_many(io, 3).unwrap();
    ///     assert_eq!(permit.permits(), 3);
    ///     assert_eq!(semaphore.available_permits(), 2);
    /// });
    /// assert_eq!(semaphore.available_permits(), 5);
    /// ```
    pub fn acquire_many(&self, io: Io, n: usize) -> Result<Permit<'_>, Canceled> {
        io.check_cancel()?;
        self.take(n)?;
        Ok(self.permit(n))
    }

    /// Takes a permit if one is available and nobody waits, without blocking.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let semaphore = io::Semaphore::new(1);
    /// let permit = semaphore.try_acquire().unwrap();
    /// assert!(semaphore.try_acquire().is_none());
    /// drop(permit);
    /// assert!(semaphore.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if that many are available and nobody waits, without blocking.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let semaphore = io::Semaphore::new(3);
    /// assert!(semaphore.try_acquire_many(4).is_none());
    /// let permit = semaphore.try_acquire_many(3).unwrap();
    /// assert_eq!(permit.permits(), 3);
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Option<Permit<'_>> {
        lock(&self.state).try_take(n).then(|| self.permit(n))
    }

    /// Adds `n` permits, granting them to the waiters in order.
    ///
    /// # Panics
    /// If the number of available permits overflows `usize`.
    ///
    /// # Examples
    /// ```
    /// let semaphore = io::Semaphore::new(0);
    /// assert!(semaphore.try_acquire().is_none());
    /// semaphore.add_permits(2);
    /// assert_eq!(semaphore.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut wake = Wakeups::default();
        lock(&self.state).release(n, &mut wake);
    }

    /// The number of permits available now (not held and not granted to a waiter).
    ///
    /// # Examples
    /// ```
    /// let semaphore = io::Semaphore::new(4);
    /// let _permit = semaphore.try_acquire_many(3).unwrap();
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// Takes `n` permits, parking until a release grants them.
    fn take(&self, n: usize) -> Result<(), Canceled> {
        acquire_granted(&self.state, n, &"Semaphore::acquire")
    }

    fn permit(&self, n: usize) -> Permit<'_> {
        Permit {
            semaphore: self,
            permits: n,
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// Permits taken from a [`Semaphore`], given back when this is dropped.
///
/// # Examples
/// ```
/// let semaphore = io::Semaphore::new(2);
/// let permit: io::Permit<'_> = semaphore.try_acquire_many(2).unwrap();
/// assert_eq!(permit.permits(), 2);
/// drop(permit);
/// assert_eq!(semaphore.available_permits(), 2);
/// ```
#[must_use = "dropping the permit gives it back at once"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl Permit<'_> {
    /// How many permits this holds.
    ///
    /// # Examples
    /// ```
    /// let semaphore = io::Semaphore::new(1);
    /// assert_eq!(semaphore.try_acquire().unwrap().permits(), 1);
    /// ```
    pub fn permits(&self) -> usize {
        self.permits
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("permits", &self.permits)
            .finish()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.add_permits(self.permits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{race_grant_and_cancel, runtime};

    #[test]
    fn a_canceled_granted_acquire_hands_the_permit_on() {
        // The grant and the cancel race: whichever wins, no permit may be lost.
        let semaphore = Semaphore::new(1);
        race_grant_and_cancel(
            |io| semaphore.acquire(io).unwrap(),
            |io| semaphore.acquire(io).map(drop),
            |io| semaphore.acquire(io).map(drop),
            |next| assert_eq!(next, Ok(Ok(())), "the next waiter got in"),
            || assert_eq!(semaphore.available_permits(), 1, "no permit was lost"),
        );
        assert!(lock(&semaphore.state).waiters.is_empty());
    }

    #[test]
    fn zero_permits_are_always_available() {
        let semaphore = Semaphore::new(0);
        runtime().run(|io| {
            let none = semaphore.acquire_many(io, 0).unwrap();
            assert_eq!(none.permits(), 0);
        });
        assert_eq!(semaphore.available_permits(), 0);
    }
}
