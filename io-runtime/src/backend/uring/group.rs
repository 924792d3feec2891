//! The loops of one multi-loop `Runtime::run` (`threads = N`, N > 1): what they share.
//!
//! Each loop keeps its own ring, fiber table, timers, stack pool and ready queue (a `RefCell`,
//! touched by its thread only). What another loop may touch is here, one [`Peer`] per loop:
//!
//! - `offered`: the tasks the loop spawned and has not started yet, in spawn order. Each is
//!   also in the loop's own ready queue (with the stack reserved for it); `offered` holds a
//!   second reference that an idle loop may take ([`Group::steal`]). Whoever runs the task
//!   first wins its `QUEUED → RUNNING` exchange (`RawTask::run`); the other copy then finds it
//!   no longer queued and only drops its reference (and the stack reserved for it). So a steal
//!   never loses a task, and failing to steal (no stack on the thief) costs nothing.
//! - `sleeping`: set while the loop blocks in the kernel; a loop that offers a task wakes one
//!   sleeper through its eventfd (`Remote`), at most one write per sleeper and nap: a sleeping
//!   loop is never spun.
//! - `remote`: the loop's wake list and eventfd, through which wakes of its fibers from other
//!   threads arrive (`Resumer`s name the loop that owns the fiber).
//!
//! Started fibers never move: a fiber's stack can hold references into its thread's
//! thread-locals (a `LocalKey::with` closure that parks) and other `!Send` values, which
//! another thread must not touch, and its operation in flight belongs to the ring that
//! submitted it. Only a task that has not started — no stack built, nothing in flight — moves;
//! the thief runs it on a stack of its own pool, so stack pools stay per loop.
//!
//! The offer/sleep handshake: the offerer pushes under the peer's lock, then reads `sleepers`;
//! a loop about to block raises its `sleeping` flag and `sleepers`, then takes every peer's
//! lock once more to look for offers. The lock orders the push and that look: if the look
//! comes second it sees the task; if the push comes second, the offerer's critical section
//! follows the sleeper's (which followed its raise), so the offerer reads `sleepers` ≥ 1 and
//! rings a sleeper. Either way an offered task never waits for a loop that went to sleep
//! meanwhile. (The `SeqCst` fences on both sides are belt and braces; no loom model covers
//! this handshake, since it rests on the mutex's ordering, not on a lock-free protocol.)

use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

use super::scheduler::Remote;
use crate::backend::TaskRef;

/// Tasks a thief takes from one loop at most per steal (half of what is offered, up to this).
pub(crate) const STEAL_BATCH: usize = 32;

/// What other loops may see of one loop.
pub(crate) struct Peer {
    offered: CachePadded<Mutex<Offered>>,
    sleeping: AtomicBool,
    pub(crate) remote: Arc<Remote>,
}

/// The tasks a loop offers, and when to next drop those no longer queued from the middle.
#[derive(Default)]
struct Offered {
    tasks: VecDeque<TaskRef>,
    /// The length at which `offer` next keeps only the queued tasks: twice what was left after
    /// the last time (at least [`RETAIN_AT_LEAST`]), so the sweeps cost O(1) per offer.
    retain_at: usize,
}

/// The smallest length at which `offer` sweeps the whole list.
const RETAIN_AT_LEAST: usize = 64;

/// The loops of one multi-loop run.
pub(crate) struct Group {
    peers: Box<[Peer]>,
    /// Loops blocked in the kernel right now (with `sleeping` set).
    sleepers: CachePadded<AtomicUsize>,
    /// Set once the root task returned: helper loops end when their last fiber did.
    stop: AtomicBool,
    /// Units of `async_limit` and `concurrent_limit` in use, runtime-wide (every loop's spawns
    /// count against the same limits). Tasks point to them until they finish; the group
    /// outlives every loop, hence every task.
    pub(crate) async_outstanding: CachePadded<AtomicUsize>,
    pub(crate) concurrent_outstanding: CachePadded<AtomicUsize>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Group {
    /// A group of `loops` loops (each with its wake list and eventfd).
    pub(crate) fn new(loops: usize) -> std::io::Result<Arc<Self>> {
        let peers = (0..loops)
            .map(|_| {
                Ok(Peer {
                    offered: CachePadded::new(Mutex::new(Offered::default())),
                    sleeping: AtomicBool::new(false),
                    remote: Arc::new(Remote::new()?),
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Arc::new(Self {
            peers: peers.into_boxed_slice(),
            sleepers: CachePadded::new(AtomicUsize::new(0)),
            stop: AtomicBool::new(false),
            async_outstanding: CachePadded::new(AtomicUsize::new(0)),
            concurrent_outstanding: CachePadded::new(AtomicUsize::new(0)),
        }))
    }

    pub(crate) fn peer(&self, index: usize) -> &Peer {
        &self.peers[index]
    }

    /// Offers `task`, just queued on loop `index`, to the other loops, and wakes one that
    /// sleeps. Drops the references to tasks no longer queued (they ran, inline or on a
    /// loop) first: at either end at every offer, and all of them whenever the list doubled
    /// since the last sweep — a reference here keeps a finished task's cell alive. `false` (the
    /// task is not offered; it still runs on its loop) if no memory was left for the entry.
    pub(crate) fn offer(&self, index: usize, task: &TaskRef) -> bool {
        {
            let mut offered = lock(&self.peers[index].offered);
            let offered = &mut *offered;
            while offered.tasks.front().is_some_and(|t| !t.is_queued()) {
                offered.tasks.pop_front();
            }
            while offered.tasks.back().is_some_and(|t| !t.is_queued()) {
                offered.tasks.pop_back();
            }
            if offered.tasks.len() >= offered.retain_at.max(RETAIN_AT_LEAST) {
                offered.tasks.retain(|t| t.is_queued());
                offered.retain_at = 2 * offered.tasks.len();
            }
            if offered.tasks.try_reserve(1).is_err() {
                return false;
            }
            offered.tasks.push_back(task.clone());
        }
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Acquire) > 0 {
            self.wake_one(index);
        }
        true
    }

    /// Wakes one sleeping loop other than `from`, if any.
    fn wake_one(&self, from: usize) {
        let n = self.peers.len();
        for step in 1..n {
            let peer = &self.peers[(from + step) % n];
            if peer
                .sleeping
                .compare_exchange(true, false, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.sleepers.fetch_sub(1, Ordering::AcqRel);
                peer.remote.ring();
                return;
            }
        }
    }

    /// Loop `index` is about to block in the kernel. The caller then looks for work once more
    /// (see the module docs) before it blocks.
    pub(crate) fn sleep(&self, index: usize) {
        self.peers[index].sleeping.store(true, Ordering::Relaxed);
        self.sleepers.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::SeqCst);
    }

    /// Loop `index` is awake (woken, or it found work before blocking).
    pub(crate) fn awake(&self, index: usize) {
        if self.peers[index].sleeping.swap(false, Ordering::AcqRel) {
            self.sleepers.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Takes, for loop `thief`, up to half (at most [`STEAL_BATCH`]) of the tasks another loop
    /// offers, from the first loop after `thief` that offers any; tasks no longer queued met on
    /// the way are dropped. The newest: the owner starts its queue from the oldest, so the two
    /// meet in the middle instead of both coming to the same tasks (the one that loses the
    /// claim gives its stack back). The batch is queued oldest first.
    pub(crate) fn steal(&self, thief: usize, into: &mut Vec<TaskRef>) {
        let n = self.peers.len();
        for step in 1..n {
            let mut offered = lock(&self.peers[(thief + step) % n].offered);
            let want = offered.tasks.len().div_ceil(2).min(STEAL_BATCH);
            while into.len() < want {
                match offered.tasks.pop_back() {
                    Some(task) if task.is_queued() => into.push(task),
                    Some(_) => {}
                    None => break,
                }
            }
            if !into.is_empty() {
                into.reverse();
                return;
            }
        }
    }

    /// The root task returned: every helper loop ends once its fibers did.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        for peer in self.peers.iter() {
            peer.remote.ring();
        }
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Drops what loop `index` still offers (its run ended).
    pub(crate) fn clear(&self, index: usize) {
        let offered = std::mem::take(&mut lock(&self.peers[index].offered).tasks);
        drop(offered);
    }
}
