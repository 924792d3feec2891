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
//! - `SUSPENDED`: the owner is suspended (or about to be) by its carrier instead of sleeping on
//!   the futex (a fiber: it must not block the thread it shares); `resumer` says how to make it
//!   runnable again (set by `park` only).
//! - `NOTIFIED`: a permit is waiting (set by `unpark`; cleared by the next `park`).
//!
//! Which of the two ways a task waits is its carrier's choice (`backend::carrier`): a task that
//! owns its thread sleeps on the futex; one that shares it is suspended through [`Suspend`],
//! and the single `unpark` (or deadline [`expire`](Parker::expire)) that takes the resumer out
//! of the parker resumes it: a suspended task is resumed at most once per park.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

use crate::backend::carrier::{self, Carrier};
use crate::loom::AtomicU32;
#[cfg(all(test, loom))]
use crate::loom::{futex_wait, futex_wake};

const EMPTY: u32 = 0;
const PARKED: u32 = 1;
const NOTIFIED: u32 = 2;
const SUSPENDED: u32 = 3;

/// How a task that must not block its thread waits: its carrier suspends it (a fiber switch)
/// and resumes it when the [`Resumer`] it handed out is called.
pub(crate) trait Suspend {
    /// How to make the current task runnable again after it suspended.
    fn resumer(&self) -> Resumer;
    /// Suspends the current task until its resumer is called. With a deadline, the carrier
    /// calls `parker.expire()` once it passed (the resumer may then already be used up).
    fn suspend(&self, parker: &Parker, deadline: Option<Instant>);
}

/// Where a [`Resumer`] sends its task: the scheduler of a carrier, callable from any thread.
pub(crate) trait Schedule: Send + Sync {
    /// Makes the task `slot` runnable again, if it is still suspended in park `generation`.
    fn resume(&self, slot: usize, generation: u64);
}

/// Makes one suspended task runnable again, from any thread; used at most once.
pub(crate) struct Resumer {
    pub(crate) scheduler: std::sync::Arc<dyn Schedule>,
    pub(crate) slot: usize,
    pub(crate) generation: u64,
}

impl std::fmt::Debug for Resumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resumer({}@{})", self.slot, self.generation)
    }
}

impl Resumer {
    fn resume(self) {
        self.scheduler.resume(self.slot, self.generation);
    }
}

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
    /// How to resume the owner while it is `SUSPENDED`.
    resumer: Mutex<Option<Resumer>>,
}

impl Parker {
    /// Makes a parker that nobody else references as good as new (see `TaskCtx::renew`).
    pub(crate) fn renew(&mut self) {
        self.state.store(EMPTY, Ordering::Relaxed);
        self.resumer.clear_poison();
        *self.resumer.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Blocks until a permit arrives or `deadline` passes (`None`: no deadline).
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Wake {
        if self.try_consume() {
            return Wake::Notified;
        }
        carrier::with_current(|carrier| match carrier.suspension() {
            Some(suspension) => self.park_suspended(suspension, deadline),
            None => self.park_thread(carrier, deadline),
        })
    }

    /// Sleeps on the futex until a permit arrives or `deadline` passes.
    fn park_thread(&self, carrier: &dyn Carrier, deadline: Option<Instant>) -> Wake {
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
            // The carrier may lend the thread's place to other tasks while it sleeps.
            carrier.sleep(&mut || futex_wait(&self.state, PARKED, timeout));
            if self.try_consume() {
                return Wake::Notified;
            }
        }
    }

    /// Suspends the current task through `suspension` until a permit arrives or `deadline`
    /// passes.
    pub(crate) fn park_suspended(
        &self,
        suspension: &dyn Suspend,
        deadline: Option<Instant>,
    ) -> Wake {
        if self.try_consume() {
            return Wake::Notified;
        }
        *self.resumer.lock().unwrap_or_else(|e| e.into_inner()) = Some(suspension.resumer());
        if self
            .state
            .compare_exchange(EMPTY, SUSPENDED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // NOTIFIED: consume it by a swap, as in `park`.
            let _ = self.state.swap(EMPTY, Ordering::AcqRel);
            return Wake::Notified;
        }
        suspension.suspend(self, deadline);
        if self.try_consume() {
            return Wake::Notified;
        }
        // Resumed by the deadline's timer: leave SUSPENDED, unless a permit raced in.
        match self.state.swap(EMPTY, Ordering::AcqRel) {
            NOTIFIED => Wake::Notified,
            _ => Wake::TimedOut,
        }
    }

    /// Leaves a permit and wakes the owner if it sleeps.
    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, Ordering::AcqRel) {
            PARKED => futex_wake(&self.state),
            SUSPENDED => self.resume(),
            _ => {}
        }
    }

    /// Resumes a task suspended here with a deadline, if it still waits (its timer fired).
    pub(crate) fn expire(&self) {
        if self.state.load(Ordering::Acquire) == SUSPENDED {
            self.resume();
        }
    }

    /// Resumes the suspended owner, unless an unpark or expiry took the resumer already.
    fn resume(&self) {
        let resumer = self
            .resumer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(resumer) = resumer {
            resumer.resume();
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
/// `crate::loom`). The futex is loom's model of it; a suspended task's carrier is modelled by
/// [`FakeFiber`](loom_tests::FakeFiber) (models 3 and 4).
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

    /// After one unpark: the permit was consumed exactly once (`consumed`, counting the timed
    /// park's `timed` result) or is still in the word for the next park — never lost, never
    /// counted twice.
    fn assert_one_permit(parker: &Parker, consumed: usize, timed: Wake) {
        let state = parker.state.load(Ordering::Relaxed);
        assert!(state == EMPTY || state == NOTIFIED, "left in state {state}");
        let left = usize::from(state == NOTIFIED);
        assert_eq!(
            consumed + left,
            1,
            "one unpark is one permit (timed park: {timed:?})"
        );
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
            assert_one_permit(&parker, consumed, timed);
        });
    }

    /// A carrier that suspends its task as a fiber's loop does, on a loom thread: `suspend`
    /// waits until the resumer it handed out was called (or, with a deadline, plays the timer:
    /// it calls `expire` once, as the loop does when the ring timeout fires). The scheduler
    /// checks that every resume targets the park in progress and comes at most once.
    pub(super) struct FakeFiber {
        scheduler: std::sync::Arc<FakeScheduler>,
    }

    #[derive(Default)]
    struct FakeScheduler {
        /// The generation of the park in progress (one per `resumer` call).
        generation: loom::sync::atomic::AtomicU64,
        /// Set by a resume, cleared by the suspended task as it runs again.
        runnable: AtomicBool,
    }

    impl Schedule for FakeScheduler {
        fn resume(&self, slot: usize, generation: u64) {
            assert_eq!(slot, 7);
            assert_eq!(
                generation,
                self.generation.load(Ordering::Acquire),
                "a resume reached a park that already ended"
            );
            let twice = self.runnable.swap(true, Ordering::AcqRel);
            assert!(!twice, "one park was resumed twice");
        }
    }

    impl FakeFiber {
        fn new() -> Self {
            Self {
                scheduler: std::sync::Arc::default(),
            }
        }
    }

    impl Suspend for FakeFiber {
        fn resumer(&self) -> Resumer {
            let generation = self.scheduler.generation.fetch_add(1, Ordering::AcqRel) + 1;
            Resumer {
                scheduler: self.scheduler.clone(),
                slot: 7,
                generation,
            }
        }

        fn suspend(&self, parker: &Parker, deadline: Option<Instant>) {
            let mut timer = deadline.is_some();
            while !self.scheduler.runnable.swap(false, Ordering::AcqRel) {
                if std::mem::take(&mut timer) {
                    parker.expire();
                } else {
                    thread::yield_now();
                }
            }
        }
    }

    /// `park_until` for a task that its carrier suspends.
    fn suspend_until(parker: &Parker, fiber: &FakeFiber, flag: &AtomicBool) -> usize {
        let mut consumed = 0;
        while !flag.load(Ordering::Relaxed) {
            if parker.park_suspended(fiber, None) == Wake::Notified {
                consumed += 1;
            }
        }
        consumed
    }

    /// Model 3: model 1 for a suspended task. Whether the unpark lands before the park stored
    /// its resumer, between that and `SUSPENDED`, or after, the task is resumed exactly once
    /// and sees the flag; a lost resume would leave it suspended (a loom deadlock: the spin
    /// yields forever).
    #[test]
    fn a_suspended_task_is_resumed_once_and_never_lost() {
        crate::loom::model(|| {
            let parker = Arc::new(Parker::default());
            let flag = Arc::new(AtomicBool::new(false));
            let fiber = FakeFiber::new();
            let setter = set_and_unpark(&parker, &flag);
            suspend_until(&parker, &fiber, &flag);
            setter.join().unwrap();
        });
    }

    /// Model 4: model 2 for a suspended task whose deadline's timer fires (`expire`) while an
    /// unpark races it. Only one of them takes the resumer: the task is resumed once per park,
    /// and the permit is consumed once or left for the next park — never lost, never doubled.
    #[test]
    fn an_expiring_suspended_park_races_an_unpark_without_double_resume() {
        crate::loom::model(|| {
            let parker = Arc::new(Parker::default());
            let flag = Arc::new(AtomicBool::new(false));
            let fiber = FakeFiber::new();
            let setter = set_and_unpark(&parker, &flag);
            let timed = parker.park_suspended(&fiber, Some(Instant::now()));
            let consumed =
                usize::from(timed == Wake::Notified) + suspend_until(&parker, &fiber, &flag);
            setter.join().unwrap();
            assert_one_permit(&parker, consumed, timed);
        });
    }
}
