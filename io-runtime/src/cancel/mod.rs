//! Cancellation: the per-task request flag, cancel protection, and the protocol that interrupts
//! a task blocked in a system call.
//!
//! # States
//! One atomic word per task (`CancelState::flags`):
//! - `REQUESTED`: set once by [`CancelState::request`] (a `cancel`, a scope or group ending, a
//!   canceled joiner); never cleared: every later cancellation point of the task returns
//!   [`Canceled`] unless the task runs protected (see below).
//! - `IN_SYSCALL`: set by the task itself around a blocking system call made through
//!   [`CancelState::syscall`]; cleared by the task when the call returns. While it is set,
//!   `tid` names the kernel thread that sits in the call.
//!
//! Protection (`protect` depth, touched only by the task itself) hides `REQUESTED` from the
//! task's cancellation points, so cleanup code can block without being cut short.
//!//!
//! A cancel reaches a task in one of three places — parked on a runtime primitive, in a system
//! call on its own thread, or a fiber with an operation in flight on the ring. `README.md` beside
//! this file follows one cancel (and one `Io::timeout` deadline) through each, with the states
//! involved; `signal.rs` holds the protocol for a system call.

mod signal;

pub(crate) use signal::{
    install_signal_handler, reset_after_fork, Deadline, Interrupter, CANCEL_SIGNAL,
};

use std::sync::atomic::Ordering;

use crate::error::Canceled;
use crate::loom::{AtomicI32, AtomicU32};

/// Requests cancellation of `task` and wakes it if it is parked on a runtime primitive. A task
/// in a system call is interrupted by whoever then waits for it (see `cancel::Interrupter`).
/// The request reaches a task that `task` runs inline on its thread, too.
pub(crate) fn cancel_task(task: &crate::task::TaskCtx) {
    task.cancel.request();
    task.parker.unpark();
    task.cancel.interrupt();
    task.with_inline_child(|child| {
        if let Some(child) = child {
            cancel_task(child);
        }
    });
}

const REQUESTED: u32 = 1;
const IN_SYSCALL: u32 = 2;

/// The cancel state of one task. See the module documentation for the protocol.
#[derive(Debug, Default)]
pub(crate) struct CancelState {
    flags: AtomicU32,
    tid: AtomicI32,
    protect: AtomicU32,
}

impl CancelState {
    /// Records a cancel request. Returns `true` if this call made the request (the first one).
    pub(crate) fn request(&self) -> bool {
        self.flags.fetch_or(REQUESTED, Ordering::SeqCst) & REQUESTED == 0
    }

    /// Whether a cancel was requested, protection ignored.
    pub(crate) fn is_requested(&self) -> bool {
        self.flags.load(Ordering::SeqCst) & REQUESTED != 0
    }

    /// The cancellation point check: `Err(Canceled)` if a request is pending and the task is
    /// not protected. Only the task itself calls this.
    pub(crate) fn check(&self) -> Result<(), Canceled> {
        if self.is_requested() && self.protect.load(Ordering::Relaxed) == 0 {
            Err(Canceled)
        } else {
            Ok(())
        }
    }

    /// Whether the task runs protected (inside `protected`): its cancellation points then also
    /// ignore `Io::timeout` deadlines. Only the task itself calls this.
    pub(crate) fn is_protected(&self) -> bool {
        self.protect.load(Ordering::Relaxed) != 0
    }

    /// Runs `f` with cancellation points of this task ignoring cancel requests.
    pub(crate) fn protected<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Unprotect<'a>(&'a AtomicU32);
        impl Drop for Unprotect<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.protect.fetch_add(1, Ordering::Relaxed);
        let _unprotect = Unprotect(&self.protect);
        f()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::cancel::signal::NoDeadline;

    #[test]
    fn request_is_sticky_and_protection_hides_it() {
        let state = CancelState::default();
        assert!(state.check().is_ok());
        assert!(state.request());
        assert!(!state.request(), "only the first request reports true");
        assert_eq!(state.check(), Err(Canceled));
        state.protected(|| assert!(state.check().is_ok()));
        assert_eq!(state.check(), Err(Canceled));
    }

    #[test]
    fn a_requested_cancel_prevents_entering_the_syscall() {
        let state = CancelState::default();
        state.request();
        let mut entered = false;
        let result = state.syscall(
            || {
                entered = true;
                0
            },
            |rc| *rc < 0,
            &NoDeadline,
        );
        assert!(matches!(result, Err(Canceled)));
        assert!(!entered);
    }
}
