//! Blocking the current task: the one cancellation point every primitive is built on.
//!
//! A primitive registers the current task (see [`crate::task::current_arc`]) in its wait list
//! under its own lock, releases the lock, then calls [`park`]. A waker unparks the task; a
//! canceler sets the task's cancel request and unparks it too ([`cancel_task`]). `park` may
//! also return spuriously, so callers re-check their condition under their lock and, on
//! `Err(Canceled)`, remove themselves from the wait list before returning.

use std::time::Instant;

use crate::error::Canceled;
use crate::park::Wake;
use crate::task::{with_current, TaskCtx};

/// Parks the current task until it is unparked, canceled, or `deadline` passes.
///
/// `what` names the operation for deadlock reports (e.g. `&"Queue::put_one"`).
pub(crate) fn park(what: &'static &'static str, deadline: Option<Instant>) -> Result<Wake, Canceled> {
    with_current(|ctx| {
        ctx.cancel.check()?;
        ctx.set_waiting_on(Some(what));
        let wake = ctx.parker.park(deadline);
        ctx.set_waiting_on(None);
        ctx.cancel.check()?;
        Ok(wake)
    })
}

/// Requests cancellation of `task` and wakes it if it is parked on a runtime primitive. A task
/// in a system call is interrupted by whoever then waits for it (see `cancel::Interrupter`).
/// The request reaches a task that `task` runs inline on its thread, too.
pub(crate) fn cancel_task(task: &TaskCtx) {
    task.cancel.request();
    task.parker.unpark();
    task.cancel.interrupt();
    if let Some(child) = task.inline_child() {
        cancel_task(&child);
    }
}

/// The explicit cancellation point: `Err(Canceled)` if the current task was canceled.
pub(crate) fn check_cancel() -> Result<(), Canceled> {
    with_current(|ctx| ctx.cancel.check())
}
