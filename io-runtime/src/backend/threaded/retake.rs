//! The retaker: takes the running slots of pool threads that sleep in the kernel while tasks
//! wait for a slot.
//!
//! A task that parks lends its slot itself (`pool::blocked`). A task in a system call — a read
//! of an idle socket, an accept, a blocking `open` — is in `crate::cancel`'s protocol, which
//! has no hook into the pool; nor has user code that blocks in a call the runtime does not know
//! (`std::fs`, a C library). So, like Go's `sysmon`, one thread per pool watches while tasks
//! wait and no slot is free: when no entry was taken for a whole tick and a slot holder sleeps
//! in the kernel (state `S` or `D` in `/proc/self/task/<tid>/stat`), it takes that slot
//! ([`Worker::retake`](super::slot::Worker::retake)) and hands it to a queued task. The thread
//! in the call runs on without a slot until its task ends or parks.
//!
//! The watch ticks every [`TICK`], backing off to [`MAX_TICK`] while it finds nothing to take,
//! and sleeps (until a push or a thread finds tasks and no free slot) once the queue is empty.
//! A thread in the kernel for a moment only (a page fault, a contended lock) may lose its slot:
//! the cost is one task more running for a while, never a lost or stalled task.

use std::sync::MutexGuard;
use std::time::Duration;

use super::pool::{Inner, Queue};

/// How long the queue must stall before the retaker looks for slots held in the kernel.
const TICK: Duration = Duration::from_millis(1);

/// The longest tick, reached while the retaker finds nothing to take.
const MAX_TICK: Duration = Duration::from_millis(10);

/// The retaker thread's life: watch while tasks wait, sleep while none do, until shutdown.
pub(super) fn watch(inner: &Inner) {
    let mut tick = TICK;
    let mut queue = inner.lock();
    let mut seen = queue.taken;
    while !queue.shutdown {
        if !queue.has_tasks() {
            queue.retaker_awake = false;
            queue = inner.retaker.wait(queue).unwrap_or_else(|e| e.into_inner());
            (tick, seen) = (TICK, queue.taken);
            continue;
        }
        queue.retaker_awake = true;
        queue = nap(inner, queue, tick);
        if queue.taken != seen || !queue.has_tasks() || queue.shutdown {
            seen = queue.taken;
            continue;
        }
        drop(queue);
        tick = match retake_sleepers(inner) {
            true => TICK,
            false => (tick * 2).min(MAX_TICK),
        };
        queue = inner.lock();
        seen = queue.taken;
    }
    inner.retaker_exits(&mut queue);
}

/// Waits for `tick` (or shutdown) on the retaker's condvar.
fn nap<'a>(
    inner: &'a Inner,
    queue: MutexGuard<'a, Queue>,
    tick: Duration,
) -> MutexGuard<'a, Queue> {
    inner
        .retaker
        .wait_timeout(queue, tick)
        .unwrap_or_else(|e| e.into_inner())
        .0
}

/// Takes the slot of every slot holder that sleeps in the kernel, handing each to a queued
/// task; returns whether it took any.
fn retake_sleepers(inner: &Inner) -> bool {
    let mut any = false;
    for worker in inner.holding_workers() {
        if in_kernel(worker.tid) && worker.retake(&inner.counts) {
            any = true;
            inner.hand_over();
        }
    }
    any
}

/// Whether thread `tid` of this process sleeps in the kernel now (state `S` or `D`).
fn in_kernel(tid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // "tid (comm) S …": the name may hold a ')', so the state follows the last one.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_some_and(|state| state == 'S' || state == 'D')
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_asleep_in_the_kernel_is_seen_and_a_running_one_is_not() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (hold, release) = std::sync::mpsc::channel::<()>();
        let sleeper = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = release.recv();
        });
        let tid = rx.recv().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !in_kernel(tid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(in_kernel(tid), "a thread blocked in recv");
        // SAFETY: as above.
        assert!(!in_kernel(unsafe { libc::gettid() }), "this running thread");
        hold.send(()).unwrap();
        sleeper.join().unwrap();
    }
}
