//! Waiting for a task to finish: the one routine behind `join`, `cancel`, and every scope or
//! group that ends with tasks still running.

use std::time::{Duration, Instant};

use crate::backend::carrier;
use crate::block::park_ctx;
use crate::cancel::cancel_task;
use crate::cancel::Interrupter;

use crate::task::{current_arc, with_current, RawTask, TaskCtx};

/// Runs `task` inline on the current thread if no runner claimed it yet, on behalf of the
/// current task: a cancel of the current task reaches `task` while it runs here.
///
/// Nobody waits on `task` while it runs here, so it ends without its waiter list's lock
/// (`RawTask::run_claimed_unobserved`): every caller owns the task's handle by value (`join`,
/// `cancel`, a handle's drop, through [`wait_for`]), or no handle exists (a spawn that runs
/// inline, a scope's end for forgotten handles, a group's tasks, which have no waiter list).
///
/// # Panics
/// With the deadlock report that `task` received while it ran here, so that the report
/// reaches the root through every inline run — unless the current task is ending a scope,
/// which must not unwind (the report then stays `task`'s result, resumed by its owner).
pub(crate) fn run_inline(task: &dyn RawTask) -> bool {
    // Claimed first, linked after: a task that another runner took is not linked at all, so a
    // linked child only ever runs inside its link, on this thread (see `TaskCtx::inline_parent`).
    if !task.claim() {
        return false;
    }
    // SAFETY: claimed just above.
    unsafe { run_claimed_inline(task) };
    true
}

/// [`run_inline`] for a task the caller claimed.
///
/// # Safety
/// The caller's claim of `task` succeeded, and this is its one run; as for [`run_inline`],
/// nobody waits on `task` while it runs.
pub(crate) unsafe fn run_claimed_inline(task: &dyn RawTask) {
    with_current(|me| {
        let link = Link::inline(me, task.ctx());
        // SAFETY: the caller's claim succeeded; this is its one run. No waiter registers while
        // it runs: see `run_inline` for why each caller rules it out.
        unsafe { task.run_claimed_unobserved() };
        drop(link);
        if let Some(report) = task.ctx().take_deadlock_report() {
            if me.may_unwind() {
                // `task` is done and still owned by its scope or group: unwinding from here
                // leaves nothing running.
                std::panic::panic_any(report);
            }
        }
    });
}

/// Links a task that runs on behalf of the current one — inline on its thread, or offloaded
/// while it waits — for as long as it lives: a cancel of the current task reaches the linked
/// one (`cancel::cancel_task` follows `inline_child`), and the current task's `Io::timeout`
/// deadlines apply to it (`block::check` and `time::timer` follow `inline_parent`). Dropping
/// it undoes the link.
///
/// An inline run is linked lazily ([`Link::inline`]): the child enters the parent's
/// `inline_child` slot only when it reaches a cancellation point or blocks
/// (`TaskCtx::publish_inline_links`); a task run inline that does neither costs no
/// read-modify-write for its link. An offloaded call, which runs on another thread, is
/// published at once ([`Link::new`]).
///
/// The link holds no reference count and takes no lock: the child borrows both tasks for the
/// link's life, and `child` runs only inside it (claimed before the link, done before it is
/// dropped), which is what makes `TaskCtx::inline_parent` valid; `inline_child` is read by
/// other threads under its slot's protocol (`task::InlineSlot`).
pub(crate) struct Link<'a> {
    /// The current task, on whose behalf `child` runs.
    me: &'a TaskCtx,
    /// The task linked.
    child: &'a TaskCtx,
}

impl<'a> Link<'a> {
    /// Links `child` to `me` (the current task) and publishes the link now, passing on a
    /// cancel `me` already has.
    pub(crate) fn new(me: &'a TaskCtx, child: &'a TaskCtx) -> Self {
        // A published child's parents are published (see `publish_inline_links`).
        me.publish_inline_links();
        child.set_inline_parent(Some(me));
        me.publish_inline_child(child);
        Self { me, child }
    }

    /// Links `child`, which `me` (the current task) runs inline on this thread, leaving its
    /// publication to the child's first cancellation point or block.
    pub(crate) fn inline(me: &'a TaskCtx, child: &'a TaskCtx) -> Self {
        child.set_inline_parent(Some(me));
        Self { me, child }
    }
}

impl Drop for Link<'_> {
    fn drop(&mut self) {
        self.child.set_inline_parent(None);
        self.me.unpublish_inline_child(self.child);
    }
}

/// Blocks until `task` is done. The caller owns the task's handle by value, or no handle
/// exists any more (a scope's end): nobody else waits on `task` (see [`run_inline`]).
///
/// A task that no runner has claimed yet runs inline, right here (asynchrony allows it, and it
/// keeps a joiner from waiting on a queue behind blocked work). If the *joiner* is canceled
/// while it waits, the cancel is passed on to `task` and the wait goes on: the joiner's result
/// is the task's result, so the task must finish either way. While `task` has a cancel request
/// and sits in a system call, the cancel signal is re-sent with back-off until it leaves.
pub(crate) fn wait_for(task: &dyn RawTask) {
    // On a fiber the task can only progress once this fiber parks: spinning would be waste.
    let spin = || carrier::owns_thread() && spin_until_done(task);
    if run_inline(task) || task.is_done() || spin() {
        return;
    }
    let me = current_arc();
    me.publish_inline_links();
    let mut interrupter = Interrupter::new();
    let mut passed_on = false;
    while task.add_waiter(&me) {
        if !passed_on && me.cancel.check().is_err() {
            cancel_task(task.ctx());
            passed_on = true;
        }
        let poke = interrupter.poke_if_requested(&task.ctx().cancel);
        let _ = park_ctx(&me, &"Future::join", poke);
    }
}

/// How long a joiner spins on a task that runs elsewhere before it parks: a park and its
/// wake-up cost a futex round trip and, across cores, an interrupt — far more than a short task.
const SPIN: Duration = Duration::from_micros(20);

/// Spins for up to [`SPIN`] until `task` is done; returns whether it is.
fn spin_until_done(task: &dyn RawTask) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..32 {
            if task.is_done() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN {
            return false;
        }
        // Let the task we wait for run now if it was woken on this CPU.
        std::thread::yield_now();
    }
}
