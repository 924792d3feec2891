//! [`SpinLock`]: a mutual-exclusion lock for the task core's short critical sections (a scope's
//! registry, a task's waiter list), where std's `Mutex` costs two read-modify-writes per use.
//!
//! Locking is one compare-exchange (acquire) and unlocking one store (release): the
//! read-modify-write that std's futex mutex makes on unlock (to see whether to wake a sleeper)
//! is gone, because nobody sleeps — a contended locker spins, then yields its thread (the
//! holder may have been preempted). Only for sections that never block, park or suspend a
//! fiber while they hold the lock (a fiber on the same thread would otherwise spin forever on
//! a lock its own loop cannot release), and that are a few dozen instructions long, so that
//! spinning is cheaper than sleeping. There is no poisoning: a panic that unwinds through a
//! guard unlocks, and the data is as the section left it (the callers' sections cannot panic
//! halfway, but for allocation failure, which aborts).
//!
//! The acquire/release pairing is checked by a loom model (`spin_lock::loom_tests`).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;

use crate::loom::AtomicBool;

/// A lock that spins (then yields) instead of sleeping; see the module documentation.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one guard at a time (the compare-exchange from false
// to true succeeds for one locker until its guard stores false), so sharing the lock shares
// `T` only by moving access between threads, which `T: Send` allows.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new, unlocked lock around `value`.
    pub(crate) fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, through exclusive access to the lock (no locking needed).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Locks, spinning and then yielding while another thread holds the lock.
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        let mut round = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Wait with loads until it looks free, so spinners do not bounce the line.
            while self.locked.load(Ordering::Relaxed) {
                round = round.saturating_add(1);
                crate::loom::backoff(round);
            }
        }
        SpinGuard { lock: self }
    }
}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

/// Access to a [`SpinLock`]'s value; unlocks when dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock (it exists only after a successful acquire and
        // releases in `drop`), so no other reference to the value exists meanwhile.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

/// Loom model of the lock: two threads that each increment a counter under it, with the
/// counter's read and write as separate `Relaxed` operations, so only the lock's
/// acquire/release can make the second see the first's write. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p io-runtime --release --lib loom_tests`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    fn increment(lock: &SpinLock<()>, counter: &AtomicUsize, inside: &AtomicUsize) {
        let guard = lock.lock();
        assert_eq!(
            inside.fetch_add(1, Ordering::Relaxed),
            0,
            "two holders at once"
        );
        let seen = counter.load(Ordering::Relaxed);
        counter.store(seen + 1, Ordering::Relaxed);
        inside.fetch_sub(1, Ordering::Relaxed);
        drop(guard);
    }

    #[test]
    fn spin_lock_excludes_and_publishes() {
        crate::loom::model(|| {
            let lock = Arc::new(SpinLock::new(()));
            let counter = Arc::new(AtomicUsize::new(0));
            let inside = Arc::new(AtomicUsize::new(0));
            let other = {
                let (lock, counter, inside) =
                    (Arc::clone(&lock), Arc::clone(&counter), Arc::clone(&inside));
                thread::spawn(move || increment(&lock, &counter, &inside))
            };
            increment(&lock, &counter, &inside);
            other.join().unwrap();
            assert_eq!(counter.load(Ordering::Relaxed), 2, "an update was lost");
        });
    }
}
