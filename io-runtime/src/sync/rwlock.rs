//! [`RwLock`]: shared reading or exclusive writing between tasks, blocking through the runtime.
//!
//! # Design
//! `state` counts the read guards out and says whether a write guard is out; blocked tasks wait
//! in `state.waiters`, each with the access it wants.
//!
//! Fairness is FIFO with hand-off. A task that arrives gets the lock at once only if the lock
//! is free for it *and nobody waits*; otherwise it queues behind the waiters. A release grants
//! the lock to the oldest waiters itself (all the readers at the head of the queue together, or
//! the one writer at the head) before waking them. So a writer waits only for the readers that
//! were inside or queued before it, never for readers that arrive after it: a stream of readers
//! cannot starve a writer, nor a stream of writers a reader.
//!
//! A granted waiter is no longer in the queue; if it is canceled before it returns, it releases
//! what it was granted, which grants the lock on to the next waiters. A queued waiter that is
//! canceled leaves the queue and grants whoever it was blocking (readers behind a canceled
//! writer). A cancel therefore never loses a wake-up.
//!
//! The value lives in a std `RwLock` that is never contended: only tasks granted the runtime
//! lock touch it, so its `try_read` and `try_write` always succeed. That keeps this module free
//! of `unsafe`; the price is that the guards are `!Send`, like std's (and like
//! [`MutexGuard`](super::MutexGuard)).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{
    Mutex as StdMutex, RwLock as StdRwLock, RwLockReadGuard as StdReadGuard,
    RwLockWriteGuard as StdWriteGuard, TryLockError,
};

use super::{acquire_granted, lock, Granting, WaitList, Wakeups};
use crate::error::Canceled;
use crate::io::Io;

/// What a waiter of an [`RwLock`] waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

#[derive(Debug, Default)]
struct RwState {
    /// Read guards out (granted, maybe not yet returned to their task).
    readers: usize,
    /// Whether a write guard is out (granted, maybe not yet returned to its task).
    writer: bool,
    waiters: WaitList<Access>,
}

impl Granting for RwState {
    type Want = Access;

    /// Takes `access` for a task that arrives now: only if it is free and nobody waits.
    fn try_take(&mut self, access: Access) -> bool {
        self.waiters.is_empty() && self.take_if_free(access)
    }

    /// Grants the lock to the oldest waiters for as long as it is free for them, removing each
    /// from the queue and waking it. Afterwards the oldest waiter (if any) cannot be granted.
    fn grant(&mut self, wake: &mut Wakeups) {
        while let Some(&access) = self.waiters.front() {
            if !self.take_if_free(access) {
                break;
            }
            wake.add(self.waiters.pop());
        }
    }

    /// Gives back one guard of `access` and grants the lock on.
    fn release(&mut self, access: Access, wake: &mut Wakeups) {
        match access {
            Access::Read => self.readers -= 1,
            Access::Write => self.writer = false,
        }
        self.grant(wake);
    }

    fn waiters(&mut self) -> &mut WaitList<Access> {
        &mut self.waiters
    }
}

impl RwState {
    /// Takes `access` if the guards out allow it.
    fn take_if_free(&mut self, access: Access) -> bool {
        match access {
            Access::Read if !self.writer => {
                self.readers += 1;
                true
            }
            Access::Write if !self.writer && self.readers == 0 => {
                self.writer = true;
                true
            }
            _ => false,
        }
    }
}

/// A reader-writer lock: any number of tasks may hold [`read`](Self::read) guards at once, or
/// one task a [`write`](Self::write) guard. Waiting parks the task (not the thread, on a fiber
/// backend) and is a cancellation point.
///
/// Fairness is first come, first served: a task that finds others waiting queues behind them,
/// and each release hands the lock to the oldest waiters (every reader at the head of the queue
/// together, or the writer at the head). A writer therefore gets in once the readers ahead of
/// it leave, however many readers keep arriving after it.
///
/// Because of that order, a task that already holds a read guard must not [`read`](Self::read)
/// again while a writer may be waiting: the second read queues behind the writer, which waits
/// for the first guard (a deadlock, as with most fair locks).
///
/// A panic while a guard is held releases it; there is no poisoning.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let config = io::RwLock::new(String::from("v1"));
/// runtime.run(|io| {
///     io.scope(|s| {
///         let reader = s.spawn_async(|| -> Result<usize, io::Canceled> {
///             Ok(config.read(io)?.len())
///         });
///         assert_eq!(reader.join(io), Ok(2));
///         config.write(io).unwrap().push_str(".1");
///         assert_eq!(*config.read(io).unwrap(), "v1.1");
///     })
/// });
/// assert_eq!(config.into_inner(), "v1.1");
/// ```
#[derive(Default)]
pub struct RwLock<T> {
    state: StdMutex<RwState>,
    data: StdRwLock<T>,
}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`.
    ///
    /// # Examples
    /// ```
    /// let lock = io::RwLock::new(5);
    /// assert_eq!(*lock.try_read().unwrap(), 5);
    /// ```
    pub fn new(value: T) -> Self {
        Self {
            state: StdMutex::default(),
            data: StdRwLock::new(value),
        }
    }

    /// Waits until no writer holds or waits ahead, takes a shared read guard, and returns it.
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Io::timeout) expires) before it
    /// gets the lock; it then holds nothing (a lock it was granted meanwhile goes to the next
    /// waiters).
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let lock = io::RwLock::new(7);
    /// runtime.run(|io| {
    ///     let first = lock.read(io).unwrap();
    ///     let second = lock.read(io).unwrap(); // readers share the lock
    ///     assert_eq!(*first + *second, 14);
    /// });
    /// ```
    pub fn read(&self, io: Io) -> Result<RwLockReadGuard<'_, T>, Canceled> {
        io.check_cancel()?;
        self.acquire(Access::Read, &"RwLock::read")?;
        Ok(self.read_guard())
    }

    /// Waits until no guard is out and nobody waits ahead, takes the exclusive write guard,
    /// and returns it.
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Io::timeout) expires) before it
    /// gets the lock; it then holds nothing (a lock it was granted meanwhile goes to the next
    /// waiters).
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let lock = io::RwLock::new(vec![1]);
    /// runtime.run(|io| {
    ///     let mut guard = lock.write(io).unwrap();
    ///     guard.push(2);
    ///     assert!(lock.try_read().is_none(), "a writer excludes readers");
    /// });
    /// assert_eq!(lock.into_inner(), [1, 2]);
    /// ```
    pub fn write(&self, io: Io) -> Result<RwLockWriteGuard<'_, T>, Canceled> {
        io.check_cancel()?;
        self.acquire(Access::Write, &"RwLock::write")?;
        Ok(self.write_guard())
    }

    /// Takes a read guard if no writer holds the lock and nobody waits for it, without
    /// blocking.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let lock = io::RwLock::new(1);
    /// let reading = lock.try_read().unwrap();
    /// assert!(lock.try_read().is_some(), "readers share the lock");
    /// assert!(lock.try_write().is_none());
    /// drop(reading);
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        lock(&self.state)
            .try_take(Access::Read)
            .then(|| self.read_guard())
    }

    /// Takes the write guard if no guard is out and nobody waits for the lock, without
    /// blocking.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let lock = io::RwLock::new(1);
    /// *lock.try_write().unwrap() += 1;
    /// let reading = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_none(), "a reader excludes writers");
    /// assert_eq!(*reading, 2);
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        lock(&self.state)
            .try_take(Access::Write)
            .then(|| self.write_guard())
    }

    /// Consumes the lock and returns its value.
    ///
    /// # Examples
    /// ```
    /// let lock = io::RwLock::new(String::from("done"));
    /// assert_eq!(lock.into_inner(), "done");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// The value, through exclusive access to the lock (no locking needed).
    ///
    /// # Examples
    /// ```
    /// let mut lock = io::RwLock::new(0);
    /// *lock.get_mut() = 3;
    /// assert_eq!(*lock.try_read().unwrap(), 3);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `access` of the runtime lock, parking until a release grants it.
    fn acquire(&self, access: Access, what: &'static &'static str) -> Result<(), Canceled> {
        acquire_granted(&self.state, access, what)
    }

    /// Gives back a guard of `access` of the runtime lock, granting it to the next waiters.
    fn release(&self, access: Access) {
        let mut wake = Wakeups::default();
        lock(&self.state).release(access, &mut wake);
    }

    /// The read guard, for a task granted read access.
    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        let data = match self.data.try_read() {
            Ok(data) => data,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                unreachable!("io: RwLock data written without the write lock")
            }
        };
        RwLockReadGuard {
            lock: self,
            data: Some(data),
        }
    }

    /// The write guard, for the task granted write access.
    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        let data = match self.data.try_write() {
            Ok(data) => data,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                unreachable!("io: RwLock data held without the lock")
            }
        };
        RwLockWriteGuard {
            lock: self,
            data: Some(data),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => out.field("data", &&*guard),
            None => out.field("data", &format_args!("<locked>")),
        };
        out.finish()
    }
}

/// Proof that the current task shares an [`RwLock`] for reading: dereferences to the value and
/// releases its share on drop.
///
/// # Examples
/// ```
/// let lock = io::RwLock::new([1, 2, 3]);
/// let guard: io::RwLockReadGuard<'_, [i32; 3]> = lock.try_read().unwrap();
/// assert_eq!(guard.len(), 3);
/// drop(guard);
/// assert!(lock.try_write().is_some(), "the last reader left");
/// ```
#[must_use = "dropping the guard releases the lock at once"]
pub struct RwLockReadGuard<'a, T> {
    lock: &'a RwLock<T>,
    /// `None` only while dropping: the data guard goes before the runtime lock is released.
    data: Option<StdReadGuard<'a, T>>,
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data.as_deref().expect("io: RwLockReadGuard dropped")
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        // The data guard goes first, so a writer granted next finds the data free.
        if self.data.take().is_some() {
            self.lock.release(Access::Read);
        }
    }
}

/// Proof that the current task holds an [`RwLock`] exclusively: dereferences (mutably) to the
/// value and releases the lock on drop.
///
/// # Examples
/// ```
/// let lock = io::RwLock::new(String::new());
/// let mut guard: io::RwLockWriteGuard<'_, String> = lock.try_write().unwrap();
/// guard.push_str("written");
/// drop(guard);
/// assert_eq!(*lock.try_read().unwrap(), "written");
/// ```
#[must_use = "dropping the guard releases the lock at once"]
pub struct RwLockWriteGuard<'a, T> {
    lock: &'a RwLock<T>,
    /// `None` only while dropping: the data guard goes before the runtime lock is released.
    data: Option<StdWriteGuard<'a, T>>,
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data.as_deref().expect("io: RwLockWriteGuard dropped")
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_deref_mut()
            .expect("io: RwLockWriteGuard dropped")
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        // The data guard goes first, so a task granted next finds the data free.
        if self.data.take().is_some() {
            self.lock.release(Access::Write);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{race_grant_and_cancel, runtime, sleep, LONG};

    #[test]
    fn a_canceled_granted_writer_hands_the_lock_on() {
        // The grant and the cancel race: whichever wins, the lock must end free and usable.
        let rw = RwLock::new(0);
        race_grant_and_cancel(
            |io| rw.write(io).unwrap(),
            |io| rw.write(io).map(|mut g| *g += 1),
            |io| rw.read(io).map(|g| *g),
            |next| assert!(next.unwrap().is_ok(), "the next waiter got in"),
            || assert!(rw.try_write().is_some(), "nothing is held afterwards"),
        );
        let state = lock(&rw.state);
        assert_eq!((state.readers, state.writer), (0, false));
        assert!(state.waiters.is_empty());
    }

    #[test]
    fn a_canceled_queued_writer_lets_the_readers_behind_it_in() {
        let rw = RwLock::new(());
        runtime().run(|io| {
            io.scope(|s| {
                let reading = rw.read(io).unwrap();
                let writer = s
                    .spawn_concurrent(|| io.timeout(LONG, || rw.write(io).map(drop)))
                    .unwrap();
                sleep(io, 20).unwrap();
                let reader = s
                    .spawn_concurrent(|| io.timeout(LONG, || rw.read(io).map(drop)))
                    .unwrap();
                sleep(io, 20).unwrap();
                assert!(rw.try_read().is_none(), "a writer waits: readers queue");
                assert_eq!(writer.cancel(io), Ok(Err(Canceled)));
                assert_eq!(reader.join(io), Ok(Ok(())));
                drop(reading);
            })
        });
        assert!(rw.try_write().is_some());
    }
}
