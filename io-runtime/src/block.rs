//! Blocking the current task: the one cancellation point every primitive is built on.
//!
//! A primitive registers the current task (see [`crate::task::current_arc`]) in its wait list
//! under its own lock, releases the lock, then calls [`park`]. A waker unparks the task; a
//! canceler sets the task's cancel request and unparks it too ([`cancel_task`]). `park` may
//! also return spuriously, so callers re-check their condition under their lock and, on
//! `Err(Canceled)`, remove themselves from the wait list before returning.
//!
//!
//! Deadlines of `Io::timeout` are checked here too: see `crate::time`.

use std::sync::Arc;
use std::time::Instant;

use crate::error::Canceled;
use crate::io::with_monitor;
use crate::park::Wake;
use crate::task::{current_arc, with_current, TaskCtx};
use crate::time::{self, earliest, timer};

/// Parks the current task until it is unparked, canceled, or `deadline` passes.
///
/// `what` names the operation for deadlock reports (e.g. `&"Queue::put_one"`). A deadline of
/// an enclosing `Io::timeout` that passes first returns `Err(Canceled)`, never `TimedOut`.
pub(crate) fn park(
    what: &'static &'static str,
    deadline: Option<Instant>,
) -> Result<Wake, Canceled> {
    let ctx = current_arc();
    check(&ctx)?;
    let wake = park_ctx(&ctx, what, earliest(deadline, timer(&ctx)));
    check(&ctx)?;
    Ok(own_wake(wake, deadline))
}

/// Parks the current task `ctx` until it is unparked, canceled, or a deadline of an enclosing
/// `Io::timeout` passes — after a cancellation point check, but without [`park`]'s second
/// check on the way out. For a caller that looks at its condition before every call of this,
/// wake-ups included (`Io::select`): what became ready wins over a cancel or a deadline that
/// came meanwhile, and the next call reports those.
pub(crate) fn check_then_park(
    ctx: &Arc<TaskCtx>,
    what: &'static &'static str,
) -> Result<(), Canceled> {
    check(ctx)?;
    let _ = park_ctx(ctx, what, timer(ctx));
    Ok(())
}

/// `TimedOut` only for the caller's own deadline (a timer deadline became `Canceled` above, or
/// does not apply under protection).
fn own_wake(wake: Wake, deadline: Option<Instant>) -> Wake {
    match (wake, deadline) {
        (Wake::TimedOut, Some(deadline)) if Instant::now() >= deadline => Wake::TimedOut,
        _ => Wake::Notified,
    }
}

/// Parks `ctx` (the current task) without cancellation checks, recording what it waits on. A
/// park without a deadline goes through the runtime's deadlock monitor.
pub(crate) fn park_ctx(
    ctx: &Arc<TaskCtx>,
    what: &'static &'static str,
    deadline: Option<Instant>,
) -> Wake {
    // A task run inline becomes reachable by cancels of its parents before it blocks.
    ctx.publish_inline_links();
    match deadline {
        Some(_) => ctx.parker.park(deadline),
        None => with_monitor(|monitor| match monitor {
            Some(monitor) => monitor.park_indefinitely(ctx, what),
            None => ctx.parker.park(None),
        }),
    }
}

/// The explicit cancellation point: `Err(Canceled)` if the current task was canceled or a
/// deadline of an enclosing `Io::timeout` passed.
pub(crate) fn check_cancel() -> Result<(), Canceled> {
    with_current(check)
}

/// The cancellation point check of `ctx` (the current task): `Err(Canceled)` if it has a
/// cancel request or an enclosing `Io::timeout` deadline passed, unless it runs protected. A
/// backend that blocks the task by other means than [`park`] (a ring operation) checks this.
pub(crate) fn check(ctx: &TaskCtx) -> Result<(), Canceled> {
    // A task run inline receives its parents' cancels from its first cancellation point on.
    ctx.publish_inline_links();
    ctx.cancel.check()?;
    if ctx.cancel.is_protected() {
        return Ok(());
    }
    time::check_deadlines(ctx)
}
