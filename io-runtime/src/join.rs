//! Waiting for a task to finish: the one routine behind `join`, `cancel`, and every scope or
//! group that ends with tasks still running.

use std::time::Instant;

use crate::block::cancel_task;
use crate::cancel::Interrupter;
use crate::task::{current_arc, RawTask};

/// Blocks until `task` is done.
///
/// A task that no runner has claimed yet runs inline, right here (asynchrony allows it, and it
/// keeps a joiner from waiting on a queue behind blocked work). If the *joiner* is canceled
/// while it waits, the cancel is passed on to `task` and the wait goes on: the joiner's result
/// is the task's result, so the task must finish either way. While `task` has a cancel request
/// and sits in a system call, the cancel signal is re-sent with back-off until it leaves.
pub(crate) fn wait_for(task: &dyn RawTask) {
    if task.run() || task.is_done() {
        return;
    }
    let me = current_arc();
    let mut interrupter = Interrupter::new();
    let mut passed_on = false;
    while task.set_joiner(&me) {
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
        me.set_waiting_on(Some(&"Future::join"));
        let _ = me.parker.park(poke.map(|wait| Instant::now() + wait));
        me.set_waiting_on(None);
    }
}
