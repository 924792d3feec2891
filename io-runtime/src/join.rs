//! Waiting for a task to finish: the one routine behind `join`, `cancel`, and every scope or
//! group that ends with tasks still running.

use std::time::{Duration, Instant};

use crate::block::{cancel_task, park_ctx};
use crate::cancel::Interrupter;
use std::sync::Arc;

use crate::task::{current_arc, RawTask};

/// Runs `task` inline on the current thread if no runner claimed it yet, on behalf of the
/// current task: a cancel of the current task reaches `task` while it runs here.
///
/// # Panics
/// With the deadlock report that `task` received while it ran here, so that the report
/// reaches the root through every inline run — unless the current task is ending a scope,
/// which must not unwind (the report then stays `task`'s result, resumed by its owner).
pub(crate) fn run_inline(task: &dyn RawTask) -> bool {
    let me = current_arc();
    let outer = me.swap_inline_child(Some(task.ctx().clone()));
    task.ctx().set_inline_parent(Some(Arc::clone(&me)));
    // A cancel that came before the link was set has not reached `task`: pass it on.
    if me.cancel.check().is_err() {
        cancel_task(task.ctx());
    }
    let ran = task.run();
    task.ctx().set_inline_parent(None);
    me.swap_inline_child(outer);
    if let Some(report) = task.ctx().take_deadlock_report() {
        if me.may_unwind() {
            // `task` is done and still owned by its scope or group: unwinding from here
            // leaves nothing running.
            std::panic::panic_any(report);
        }
    }
    ran
}

/// Blocks until `task` is done.
///
/// A task that no runner has claimed yet runs inline, right here (asynchrony allows it, and it
/// keeps a joiner from waiting on a queue behind blocked work). If the *joiner* is canceled
/// while it waits, the cancel is passed on to `task` and the wait goes on: the joiner's result
/// is the task's result, so the task must finish either way. While `task` has a cancel request
/// and sits in a system call, the cancel signal is re-sent with back-off until it leaves.
pub(crate) fn wait_for(task: &dyn RawTask) {
    // On a fiber the task can only progress once this fiber parks: spinning would be waste.
    let spin = || !crate::backend::uring::on_fiber() && spin_until_done(task);
    if run_inline(task) || task.is_done() || spin() {
        return;
    }
    let me = current_arc();
    let mut interrupter = Interrupter::new();
    let mut passed_on = false;
    while task.add_waiter(&me) {
        if !passed_on && me.cancel.check().is_err() {
            cancel_task(task.ctx());
            passed_on = true;
        }
        let target = &task.ctx().cancel;
        let poke = if target.is_requested() {
            interrupter.poke(target)
        } else {
            None
        };
        let _ = park_ctx(&me, &"Future::join", poke.map(|wait| Instant::now() + wait));
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
