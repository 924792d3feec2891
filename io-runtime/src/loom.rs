//! The std/loom switch: the atomics of the lock-free protocols (the parker, the cancel flags)
//! come from here, so the same code runs on `std` normally and under the [loom] model checker
//! in the loom tests.
//!
//! Under `cfg(all(test, loom))` the atomics are loom's, and the futex the parker sleeps on is
//! modelled with a loom `Mutex` + `Condvar` (below), so loom checks the parker's state machine
//! itself: a lost wake-up shows up as a loom deadlock. Everywhere else these are plain
//! re-exports of `std` and the real `futex(2)` calls in `park.rs` are used.
//!
//! `test` is part of the switch (as in tokio) because loom is a dev-dependency: it exists only
//! for the crate's own unit-test build. The models therefore live in `#[cfg(all(test, loom))]`
//! modules next to the code they check (`park::loom_tests`, `cancel::loom_tests`); integration
//! tests could not see the crate-private types.
//!
//! # Running the models
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p io-runtime --release --lib loom_tests
//! ```
//! The `loom_tests` filter matters: under `--cfg loom` every other unit test of the crate would
//! touch loom atomics outside a model and panic. Each model finishes in well under a minute in
//! release mode. On a failure, `LOOM_CHECKPOINT_FILE`/`LOOM_LOG=1` (see loom's docs) replay and
//! explain the interleaving. Loom treats `SeqCst` loads and stores as `AcqRel`, so the models
//! hold without relying on `SeqCst`'s single total order.
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize};

#[cfg(all(test, loom))]
pub(crate) use ::loom::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize};

/// One round of a wait for another thread: a spin hint for the first rounds, then a yield of
/// the thread (the other thread may have been preempted); under loom always a yield, which
/// lets the model run the other thread.
pub(crate) fn backoff(round: u32) {
    #[cfg(all(test, loom))]
    {
        let _ = round;
        ::loom::thread::yield_now();
    }
    #[cfg(not(all(test, loom)))]
    if round < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

#[cfg(all(test, loom))]
pub(crate) use self::futex::{futex_wait, futex_wake};

/// Runs `f` under loom with at most [`PREEMPTIONS`] preemptions per execution, unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise (as tokio's CI bounds them: an unbounded search of the
/// three-thread parker model takes minutes; every race found so far needs two).
#[cfg(all(test, loom))]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = ::loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(PREEMPTIONS);
    }
    builder.check(f);
}

/// The default preemption bound of [`model`].
#[cfg(all(test, loom))]
const PREEMPTIONS: usize = 3;

/// A model of `FUTEX_WAIT`/`FUTEX_WAKE` for the parker under loom.
///
/// One wait queue (a loom `Condvar` with its `Mutex`, standing in for the kernel's hash-bucket
/// lock) serves every futex word of an execution. The waiter compares the word under the lock
/// and sleeps atomically with releasing it; the waker takes the same lock after changing the
/// word, so a wake can never fall between the waiter's compare and its sleep — exactly the
/// guarantee the kernel gives. `notify_all` instead of "wake one" only adds spurious wake-ups,
/// which real futexes have too; with one queue for all words, waking a single sleeper could
/// pick another word's.
#[cfg(all(test, loom))]
mod futex {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use ::loom::sync::{Condvar, Mutex};

    use super::AtomicU32;

    ::loom::lazy_static! {
        static ref QUEUE: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
    }

    /// Sleeps while `*word == expected`, until [`futex_wake`]. A wait with a timeout returns at
    /// once, as a futex whose timeout elapsed would (loom has no clock): models exercise the
    /// deadline path with deadlines that already passed.
    pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let (lock, condvar) = &*QUEUE;
        let guard = lock.lock().unwrap();
        // Relaxed: the kernel's compare grants the caller no ordering either; the lock orders
        // it after any waker that already passed through `futex_wake`.
        if word.load(Ordering::Relaxed) != expected {
            return; // EAGAIN
        }
        if timeout.is_some() {
            drop(guard);
            ::loom::thread::yield_now();
            return; // ETIMEDOUT
        }
        drop(condvar.wait(guard).unwrap());
    }

    /// Wakes the sleepers of [`futex_wait`].
    pub(crate) fn futex_wake(_word: &AtomicU32) {
        let (lock, condvar) = &*QUEUE;
        let _guard = lock.lock().unwrap();
        condvar.notify_all();
    }
}
