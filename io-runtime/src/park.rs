//! The parker: how a task blocks and how another task wakes it.
//!
//! Every task owns one [`Parker`], a futex word with a permit, like `std::thread::park`:
//! `unpark` leaves a permit (or wakes the parked task), `park` consumes it (or sleeps until one
//! arrives, a deadline passes, or the futex wakes spuriously). Callers always re-check their
//! condition after `park` returns, so spurious and stale wake-ups are harmless.
//!
//! States of the word:
//! - `EMPTY`: no permit, nobody parked (set by `park` when it consumes a permit or returns).
//! - `PARKED`: the owner is (about to be) asleep in `futex_wait` (set by `park` only).
//! - `PARKED_FIBER`: the owner is a fiber of the uring backend, suspended (or about to be);
//!   `fiber` says how to make it runnable again (set by `park` only).
//! - `NOTIFIED`: a permit is waiting (set by `unpark`; cleared by the next `park`).
//!
//! On the threaded backend a task owns its thread while it runs, so the thread sleeps on the
//! futex. On the uring backend the fiber is suspended instead, and the single `unpark` that
//! observes `PARKED_FIBER` schedules it: a fiber is resumed at most once per park.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

use crate::backend::uring::{self, FiberWaker};
use crate::loom::AtomicU32;
#[cfg(all(test, loom))]
use crate::loom::{futex_wait, futex_wake};

const EMPTY: u32 = 0;
const PARKED: u32 = 1;
const NOTIFIED: u32 = 2;
const PARKED_FIBER: u32 = 3;

/// Why [`Parker::park`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Wake {
    /// A permit was consumed, or the futex woke spuriously: re-check the condition.
    Notified,
    /// The deadline passed without a permit.
    TimedOut,
}

/// A futex-based permit owned by one task.
#[derive(Debug, Default)]
pub(crate) struct Parker {
    state: AtomicU32,
    /// How to resume the owner while it is `PARKED_FIBER`.
    fiber: Mutex<Option<FiberWaker>>,
}

impl Parker {
    /// Blocks until a permit arrives or `deadline` passes (`None`: no deadline).
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Wake {
        if self.try_consume() {
            return Wake::Notified;
        }
        if let Some(fiber) = uring::current_fiber() {
            return self.park_fiber(fiber, deadline);
        }
        if self
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::Acquire, Ordering::Acquire)
            .is_err()
        {
            // The only other state is NOTIFIED: an unpark raced in. Consume it with a swap, not
            // a store: another unpark may have landed since the failed exchange, and the swap
            // reads (so synchronizes with) the latest one instead of erasing it (loom:
            // `two_unparks_wake_a_parker_waiting_for_both`).
            let _ = self.state.swap(EMPTY, Ordering::AcqRel);
            return Wake::Notified;
        }
        loop {
            let timeout = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return self.leave_parked(),
                },
            };
            // A worker of the threaded pool lends its running slot to queued tasks while it
            // sleeps (see `backend::threaded`).
            let blocked = crate::backend::threaded::blocked();
            futex_wait(&self.state, PARKED, timeout);
            drop(blocked);
            if self.try_consume() {
                return Wake::Notified;
            }
        }
    }

    /// Suspends the current fiber until a permit arrives or `deadline` passes.
    fn park_fiber(&self, fiber: FiberWaker, deadline: Option<Instant>) -> Wake {
        *self.fiber.lock().unwrap_or_else(|e| e.into_inner()) = Some(fiber);
        if self
            .state
            .compare_exchange(EMPTY, PARKED_FIBER, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // NOTIFIED: consume it by a swap, as in `park`.
            let _ = self.state.swap(EMPTY, Ordering::AcqRel);
            return Wake::Notified;
        }
        uring::suspend_current(self, deadline);
        if self.try_consume() {
            return Wake::Notified;
        }
        // Resumed by the deadline's timer: leave PARKED_FIBER, unless a permit raced in.
        match self.state.swap(EMPTY, Ordering::AcqRel) {
            NOTIFIED => Wake::Notified,
            _ => Wake::TimedOut,
        }
    }

    /// Leaves a permit and wakes the owner if it sleeps.
    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, Ordering::AcqRel) {
            PARKED => futex_wake(&self.state),
            PARKED_FIBER => {
                let waker = self.fiber.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            _ => {}
        }
    }

    /// Resumes a fiber parked here with a deadline, if it still waits (its timer fired).
    pub(crate) fn expire(&self) {
        if self.state.load(Ordering::Acquire) == PARKED_FIBER {
            let waker = self.fiber.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    fn try_consume(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// The deadline passed: go back to EMPTY, unless a permit arrived meanwhile.
    fn leave_parked(&self) -> Wake {
        match self.state.swap(EMPTY, Ordering::Acquire) {
            NOTIFIED => Wake::Notified,
            _ => Wake::TimedOut,
        }
    }
}

#[cfg(not(all(test, loom)))]
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<std::time::Duration>) {
    let spec = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let spec_ptr = spec
        .as_ref()
        .map_or(std::ptr::null(), |s| s as *const libc::timespec);
    // SAFETY: `word` is a live AtomicU32 for the whole call, and `spec_ptr` is null or points to
    // `spec`, which outlives the call. FUTEX_WAIT only reads the word; EINTR/EAGAIN/ETIMEDOUT are
    // all handled by the caller's re-check loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            spec_ptr,
        );
    }
}

#[cfg(not(all(test, loom)))]
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is live for the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn permit_before_park_is_consumed() {
        let parker = Parker::default();
        parker.unpark();
        assert_eq!(parker.park(None), Wake::Notified);
        let soon = Instant::now() + Duration::from_millis(10);
        assert_eq!(parker.park(Some(soon)), Wake::TimedOut);
    }

    #[test]
    fn unpark_from_another_thread_wakes() {
        let parker = Arc::new(Parker::default());
        let other = Arc::clone(&parker);
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.unpark();
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while parker.park(Some(deadline)) != Wake::Notified {}
        assert!(Instant::now() < deadline);
        waker.join().unwrap();
    }
}

/// Loom models of the parker: no lost wake-up, and one `unpark` leaves exactly one permit.
/// Run with `RUSTFLAGS="--cfg loom" cargo test -p io-runtime --release --lib loom_tests` (see
/// `crate::loom`). The futex is loom's model of it; the fiber path (`PARKED_FIBER`) needs a
/// uring loop and is not modelled.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;

    /// The caller's side of every wait in the runtime: park until `flag` is set, re-checking
    /// after each return. Returns how many permits it consumed. The flag is `Relaxed`, so the
    /// parker alone must make the setter's store visible (unpark synchronizes with park).
    fn park_until(parker: &Parker, flag: &AtomicBool) -> usize {
        let mut consumed = 0;
        while !flag.load(Ordering::Relaxed) {
            if parker.park(None) == Wake::Notified {
                consumed += 1;
            }
        }
        consumed
    }

    /// Sets `flag`, then unparks `parker`, on a new thread.
    fn set_and_unpark(parker: &Arc<Parker>, flag: &Arc<AtomicBool>) -> thread::JoinHandle<()> {
        let (parker, flag) = (Arc::clone(parker), Arc::clone(flag));
        thread::spawn(move || {
            flag.store(true, Ordering::Relaxed);
            parker.unpark();
        })
    }

    /// Model 1: whether the unpark lands before the park, between its compare-exchange and the
    /// futex wait, or while it sleeps, the parker wakes and sees the flag. A lost wake-up would
    /// leave it asleep: a loom deadlock.
    #[test]
    fn unpark_is_never_lost() {
        crate::loom::model(|| {
            let parker = Arc::new(Parker::default());
            let flag = Arc::new(AtomicBool::new(false));
            let setter = set_and_unpark(&parker, &flag);
            park_until(&parker, &flag);
            setter.join().unwrap();
        });
    }

    /// Model 1, three threads: two unparks coalesce into one permit, and the parker still
    /// sees both flags.
    #[test]
    fn two_unparks_wake_a_parker_waiting_for_both() {
        crate::loom::model(|| {
            let parker = Arc::new(Parker::default());
            let first = Arc::new(AtomicBool::new(false));
            let second = Arc::new(AtomicBool::new(false));
            let setters = [
                set_and_unpark(&parker, &first),
                set_and_unpark(&parker, &second),
            ];
            park_until(&parker, &first);
            park_until(&parker, &second);
            for setter in setters {
                setter.join().unwrap();
            }
        });
    }

    /// Model 2: a park whose deadline has passed (so it goes `EMPTY -> PARKED` and straight to
    /// the `leave_parked` swap) races one unpark. The permit is consumed by exactly one park or
    /// left in the word for the next: never lost, never counted twice. The park that follows,
    /// waiting for the flag, therefore never sleeps forever.
    #[test]
    fn a_timed_out_park_neither_loses_nor_duplicates_the_permit() {
        crate::loom::model(|| {
            let parker = Arc::new(Parker::default());
            let flag = Arc::new(AtomicBool::new(false));
            let setter = set_and_unpark(&parker, &flag);
            let timed = parker.park(Some(Instant::now()));
            let consumed = usize::from(timed == Wake::Notified) + park_until(&parker, &flag);
            setter.join().unwrap();
            let state = parker.state.load(Ordering::Relaxed);
            assert!(state == EMPTY || state == NOTIFIED, "left in state {state}");
            let left = usize::from(state == NOTIFIED);
            assert_eq!(
                consumed + left,
                1,
                "one unpark is one permit (timed park: {timed:?})"
            );
        });
    }
}
