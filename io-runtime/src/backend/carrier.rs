//! The per-thread half of the backend seam: the *carrier* of the running task — the OS thread
//! it owns, or the event loop whose fiber it is — decides how that task waits.
//!
//! A backend makes itself the carrier of every thread it runs tasks on ([`enter`]); a thread
//! no backend entered (the thread inside a threaded `Runtime::run`, an offload thread, a
//! user's own thread) is carried by [`OwnThread`]: the task blocks the thread itself. Core
//! modules ask [`with_current`] and never name a backend.

use std::cell::Cell;
use std::io;
use std::time::Duration;

use super::op::Op;
use super::own_thread::{self, OwnThread};
use super::TaskRef;
use crate::error::Canceled;
use crate::park::Suspend;
use crate::task::RawTask;
use crate::time::Clock;

/// How the task running on this thread waits.
pub(crate) trait Carrier {
    /// How the current task suspends if it must not block the thread (a fiber); `None` if it
    /// blocks the thread (the parker then sleeps on its futex).
    fn suspension(&self) -> Option<&dyn Suspend> {
        None
    }

    /// Puts the thread to sleep in `sleep` (a futex wait of the parker) on behalf of the
    /// current task; a backend may lend the thread's place to other tasks meanwhile.
    fn sleep(&self, sleep: &mut dyn FnMut()) {
        sleep();
    }

    /// Runs `op` for the current task as a cancellation point.
    fn perform(&self, op: &mut dyn Op) -> io::Result<usize> {
        op.run_on_thread()
    }

    /// Sleeps the current task until `clock` reads `deadline`, as a cancellation point.
    fn sleep_until(&self, deadline: Duration, clock: Clock) -> Result<(), Canceled> {
        own_thread::sleep_until(deadline, clock)
    }

    /// Lets the other tasks of the carrier run before the current one goes on
    /// (`Io::yield_now`); a task that owns its thread yields the thread.
    fn yield_now(&self) {
        std::thread::yield_now();
    }

    /// Whether the current task owns its OS thread while it runs. Only then may it spin, run
    /// queued tasks inline to help, run offloaded work itself, have a signal interrupt its
    /// system calls, or block the thread in another runtime's `run`.
    fn owns_thread(&self) -> bool {
        true
    }

    /// Takes back the start of `task` if this carrier queued it and has not begun it: its
    /// joiner is about to run it inline, and holds the start's reference from now on instead of
    /// leaving a stale entry behind. Looks only where a task just spawned, or the oldest one,
    /// waits (either end of the queue): `None` elsewhere, and on carriers that queue nothing.
    fn take_back_start(&self, task: &dyn RawTask) -> Option<TakenBack> {
        let _ = task;
        None
    }
}

thread_local! {
    /// The carrier a backend entered on this thread (null: none, the thread carries itself).
    static CURRENT: Cell<Option<*const (dyn Carrier + 'static)>> = const { Cell::new(None) };
}

/// In the child of a `fork` (see `crate::fork`): the thread carries itself, whatever carried
/// the task that forked. Only a store to a `const` thread-local without destructor.
pub(crate) fn reset_after_fork() {
    CURRENT.set(None);
}

/// Calls `f` with the carrier of the current thread.
pub(crate) fn with_current<R>(f: impl FnOnce(&dyn Carrier) -> R) -> R {
    match CURRENT.with(Cell::get) {
        // SAFETY: `enter` keeps the carrier alive and current only while its `f` runs on this
        // thread, and clears the pointer (restores the previous one) before it returns.
        Some(carrier) => f(unsafe { &*carrier }),
        None => f(&OwnThread),
    }
}

/// Whether the task running on this thread owns it (see [`Carrier::owns_thread`]).
pub(crate) fn owns_thread() -> bool {
    with_current(|carrier| carrier.owns_thread())
}

/// The start of a task that its carrier gave back ([`Carrier::take_back_start`]).
pub(crate) struct TakenBack {
    /// The reference the start held.
    pub(crate) task: TaskRef,
    /// No runner on another thread can reach the task any more: the start was its only entry
    /// in any run queue (the carrier offers none to other threads), so besides its handle only
    /// its scope's end can claim it, on the scope's own thread.
    pub(crate) unshared: bool,
}

/// [`Carrier::take_back_start`] on the carrier of the current thread.
pub(crate) fn take_back_start(task: &dyn RawTask) -> Option<TakenBack> {
    with_current(|carrier| carrier.take_back_start(task))
}

/// Makes `carrier` the current thread's carrier while `f` runs.
pub(crate) fn enter<R>(carrier: &dyn Carrier, f: impl FnOnce() -> R) -> R {
    struct Leave(Option<*const (dyn Carrier + 'static)>);
    impl Drop for Leave {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0));
        }
    }
    let carrier: *const (dyn Carrier + '_) = carrier;
    // SAFETY: only the lifetime is erased; the pointer is current only until `_leave` drops,
    // within the borrow of `carrier`.
    let carrier: *const (dyn Carrier + 'static) = unsafe { std::mem::transmute(carrier) };
    let _leave = Leave(CURRENT.with(|current| current.replace(Some(carrier))));
    f()
}
