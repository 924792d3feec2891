//! Blocking the current task: the one cancellation point every primitive is built on.
//!
//! A primitive registers the current task (see [`crate::task::current_arc`]) in its wait list
//! under its own lock, releases the lock, then calls [`park`]. A waker unparks the task; a
//! canceler sets the task's cancel request and unparks it too ([`cancel_task`]). `park` may
//! also return spuriously, so callers re-check their condition under their lock and, on
//! `Err(Canceled)`, remove themselves from the wait list before returning.
//!
//! # Deadlines
//! `Io::timeout` pushes a deadline on the current task's [`Deadlines`] for the duration of its
//! call. Once any of them has passed, every cancellation point of the task ([`park`],
//! [`check_cancel`], a system call — see [`SyscallDeadline`]) returns [`Canceled`] exactly as
//! if the task had been canceled, and marks the expired deadlines as *fired* so that their
//! `timeout` can report the reason. Unlike a cancel request, an expired deadline ends with its
//! `timeout` call. Protected code (`Io::uncancelable`) ignores deadlines as it ignores cancel
//! requests. Only the task itself touches its deadlines — and, while it waits for them, the
//! tasks that run on its behalf and so are inside its `timeout`s too: one it runs inline, or
//! the closure of its `Io::offload` (both linked through `inline_parent`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::alarm;
use crate::error::Canceled;
use crate::io::with_monitor;
use crate::park::Wake;
use crate::task::{current_arc, with_current, TaskCtx};

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
    match deadline {
        Some(_) => ctx.parker.park(deadline),
        None => with_monitor(|monitor| match monitor {
            Some(monitor) => monitor.park_indefinitely(ctx, what),
            None => ctx.parker.park(None),
        }),
    }
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

/// The explicit cancellation point: `Err(Canceled)` if the current task was canceled or a
/// deadline of an enclosing `Io::timeout` passed.
pub(crate) fn check_cancel() -> Result<(), Canceled> {
    with_current(check)
}

/// The cancellation point check of `ctx` (the current task): `Err(Canceled)` if it has a
/// cancel request or an enclosing `Io::timeout` deadline passed, unless it runs protected. A
/// backend that blocks the task by other means than [`park`] (a ring operation) checks this.
pub(crate) fn check(ctx: &TaskCtx) -> Result<(), Canceled> {
    ctx.cancel.check()?;
    if ctx.cancel.is_protected() {
        return Ok(());
    }
    ctx.deadlines.check()?;
    // A task run inline is inside its runner's `timeout`s too: the runner waits for it.
    match ctx.inline_parent() {
        Some(parent) if !parent.cancel.is_protected() => check_deadlines_upwards(&parent),
        _ => Ok(()),
    }
}

fn check_deadlines_upwards(ctx: &TaskCtx) -> Result<(), Canceled> {
    ctx.deadlines.check()?;
    match ctx.inline_parent() {
        Some(parent) if !parent.cancel.is_protected() => check_deadlines_upwards(&parent),
        _ => Ok(()),
    }
}

/// The earliest `Io::timeout` deadline that applies to `ctx` (the current task) now; none while
/// it runs protected. A backend that blocks the task by other means than [`park`] wakes it by
/// then and calls [`check`].
pub(crate) fn timer(ctx: &TaskCtx) -> Option<Instant> {
    if ctx.cancel.is_protected() {
        return None;
    }
    let outer = ctx.inline_parent().and_then(|parent| timer(&parent));
    earliest(ctx.deadlines.earliest(), outer)
}

/// The deadlines of `ctx` (the current task) as its blocking system calls see them: a deadline
/// that passes while the task sits in a call interrupts it through the thread's alarm (see
/// `cancel`, "Deadlines in a system call").
pub(crate) struct SyscallDeadline<'a>(pub(crate) &'a TaskCtx);

impl crate::cancel::Deadline for SyscallDeadline<'_> {
    fn check(&self) -> Result<(), Canceled> {
        check(self.0)
    }

    /// Not on a uring loop's thread: the only call made there through this path (`fstat`)
    /// never blocks, and the loop must not receive the signal.
    fn arm(&self) -> bool {
        if crate::backend::uring::in_loop() {
            return false;
        }
        timer(self.0).is_some_and(alarm::arm)
    }

    fn disarm(&self) {
        alarm::disarm();
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The deadlines of the `Io::timeout` calls a task is inside, outermost first.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    frames: Mutex<Vec<Frame>>,
}

#[derive(Debug)]
struct Frame {
    at: Instant,
    /// Set when a cancellation point returned `Canceled` because `at` passed.
    fired: bool,
}

impl Deadlines {
    fn frames(&self) -> std::sync::MutexGuard<'_, Vec<Frame>> {
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enters a `timeout` ending at `at`; returns its depth, to hand back to [`Self::pop`].
    pub(crate) fn push(&self, at: Instant) -> usize {
        let mut frames = self.frames();
        frames.push(Frame { at, fired: false });
        frames.len() - 1
    }

    /// Leaves the innermost `timeout` (at `depth`); returns whether its deadline fired.
    pub(crate) fn pop(&self, depth: usize) -> bool {
        let mut frames = self.frames();
        debug_assert_eq!(frames.len(), depth + 1, "io: timeouts left out of order");
        frames.truncate(depth + 1);
        frames.pop().is_some_and(|frame| frame.fired)
    }

    /// The earliest deadline, if any.
    fn earliest(&self) -> Option<Instant> {
        self.frames().iter().map(|frame| frame.at).min()
    }

    /// `Err(Canceled)` if a deadline passed; marks every passed deadline as fired.
    fn check(&self) -> Result<(), Canceled> {
        let mut frames = self.frames();
        if frames.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let mut fired = false;
        for frame in frames.iter_mut().filter(|frame| frame.at <= now) {
            frame.fired = true;
            fired = true;
        }
        if fired {
            Err(Canceled)
        } else {
            Ok(())
        }
    }
}
