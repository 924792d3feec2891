//! Running slots: the pool's count of them, and each pool thread's own slot state.
//!
//! One atomic word ([`Counts::slots`]) holds the threads that run task code with a slot
//! (`running`, low half) and those whose slot is lent out while they block (`blocked`, high
//! half), so that a block or a wake-up is one atomic add.
//!
//! Each pool thread has a [`Worker`] record whose state says what it holds:
//!
//! | from       | to         | by                                   | `slots`            |
//! | ---------- | ---------- | ------------------------------------ | ------------------ |
//! | `FREE`     | `HOLDING`  | the thread, after its claim          | (claim: running+1) |
//! | `HOLDING`  | `FREE`     | the thread, its task done            | running−1          |
//! | `HOLDING`  | `LENT`     | the thread, about to park            | running−1, blocked+1 |
//! | `LENT`     | `HOLDING`  | the thread, woken                    | running+1, blocked−1 |
//! | `HOLDING`  | `RETAKING` | the retaker, the thread in a syscall | —                  |
//! | `RETAKING` | `RETAKEN`  | the retaker                          | running−1, blocked+1 |
//! | `RETAKEN`  | `LENT`     | the thread, about to park            | —                  |
//! | `RETAKEN`  | `FREE`     | the thread, its task done            | blocked−1          |
//!
//! Every change of a state is a compare-exchange on the record's one word, so the thread and
//! the retaker never both act on one slot; `RETAKING` covers the retaker's update of `slots`
//! (the thread waits out that instant), so `blocked` never goes below zero.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// One `blocked` thread in [`Counts::slots`] (the high half; `running` is the low half).
const BLOCKED_ONE: u64 = 1 << 32;
/// The low half of [`Counts::slots`].
const RUNNING_MASK: u64 = BLOCKED_ONE - 1;
/// Lends a slot: `running − 1`, `blocked + 1` in one add (its negation takes it back).
const LEND: u64 = BLOCKED_ONE - 1;

/// The pool's counts that threads change without the queue's lock.
#[derive(Default)]
pub(super) struct Counts {
    /// Tasks in the queue.
    pub(super) queued: AtomicUsize,
    /// `running + blocked × 2³²`.
    slots: AtomicU64,
}

impl Counts {
    /// `(running, blocked)`: threads running task code with a slot, and threads whose slot is
    /// lent out while they block.
    pub(super) fn snapshot(&self) -> (usize, usize) {
        let slots = self.slots.load(Ordering::SeqCst);
        ((slots & RUNNING_MASK) as usize, (slots >> 32) as usize)
    }

    /// Takes a running slot if fewer than `size` are taken.
    pub(super) fn claim(&self, size: usize) -> bool {
        self.slots
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |slots| {
                ((slots & RUNNING_MASK) < size as u64).then_some(slots + 1)
            })
            .is_ok()
    }

    /// Whether a queued task could be taken now.
    pub(super) fn takeable(&self, size: usize) -> bool {
        self.queued.load(Ordering::SeqCst) > 0 && self.snapshot().0 < size
    }
}

/// Holds no slot.
const FREE: u8 = 0;
/// Holds a slot and runs task code.
const HOLDING: u8 = 1;
/// Lent its slot while it parks.
const LENT: u8 = 2;
/// The retaker is taking its slot (for an instant).
const RETAKING: u8 = 3;
/// Its slot was taken while it sat in a system call; it runs on without one.
const RETAKEN: u8 = 4;

/// One pool thread's slot state (see the module documentation).
pub(super) struct Worker {
    /// The kernel's id of the thread, for the retaker's look at `/proc`.
    pub(super) tid: libc::pid_t,
    state: AtomicU8,
}

impl Worker {
    /// The record of the calling thread.
    pub(super) fn current() -> Self {
        Self {
            // SAFETY: gettid has no preconditions and cannot fail.
            tid: unsafe { libc::gettid() },
            state: AtomicU8::new(FREE),
        }
    }

    /// Moves from one of `from` to `to` once no retake is under way; returns the state it
    /// left, or `None` if it was in none of `from`. `from[0]` is tried first, without a load
    /// (the usual case: the state the thread itself left it in).
    fn leave(&self, from: &[u8], to: u8) -> Option<u8> {
        if self
            .state
            .compare_exchange(from[0], to, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Some(from[0]);
        }
        loop {
            let state = self.state.load(Ordering::SeqCst);
            if state == RETAKING {
                std::hint::spin_loop();
                continue;
            }
            if !from.contains(&state) {
                return None;
            }
            if self
                .state
                .compare_exchange(state, to, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Some(state);
            }
        }
    }

    /// The thread claimed a slot (counted by [`Counts::claim`]) for a task.
    pub(super) fn hold(&self) {
        self.state.store(HOLDING, Ordering::SeqCst);
    }

    /// The thread's task is done: gives up its slot, or its retaken one's count.
    pub(super) fn release(&self, counts: &Counts) {
        match self.leave(&[HOLDING, RETAKEN], FREE) {
            Some(HOLDING) => counts.slots.fetch_sub(1, Ordering::SeqCst),
            Some(_) => counts.slots.fetch_sub(BLOCKED_ONE, Ordering::SeqCst),
            None => return,
        };
    }

    /// The thread is about to park: lends its slot (a retaken one is lent already). `false`
    /// if it holds none.
    pub(super) fn lend(&self, counts: &Counts) -> bool {
        match self.leave(&[HOLDING, RETAKEN], LENT) {
            Some(HOLDING) => {
                counts.slots.fetch_add(LEND, Ordering::SeqCst);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// The thread woke from the park it lent its slot for: takes the slot back, at once.
    pub(super) fn take_back(&self, counts: &Counts) {
        if self.leave(&[LENT], HOLDING).is_some() {
            counts.slots.fetch_sub(LEND, Ordering::SeqCst);
        }
    }

    /// The retaker takes the slot of this thread, which sits in a system call; `false` if the
    /// thread no longer holds one.
    pub(super) fn retake(&self, counts: &Counts) -> bool {
        if self
            .state
            .compare_exchange(HOLDING, RETAKING, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        counts.slots.fetch_add(LEND, Ordering::SeqCst);
        self.state.store(RETAKEN, Ordering::SeqCst);
        true
    }

    /// Whether the thread holds a slot and runs task code (a retake candidate).
    pub(super) fn is_holding(&self) -> bool {
        self.state.load(Ordering::SeqCst) == HOLDING
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn worker() -> Worker {
        Worker::current()
    }

    #[test]
    fn a_lent_slot_is_counted_blocked_until_taken_back() {
        let counts = Counts::default();
        let me = worker();
        assert!(counts.claim(1));
        me.hold();
        assert!(!counts.claim(1), "the only slot is taken");
        assert!(me.lend(&counts));
        assert_eq!(counts.snapshot(), (0, 1));
        assert!(counts.claim(1), "a lent slot is free for another thread");
        me.take_back(&counts);
        assert_eq!(
            counts.snapshot(),
            (2, 0),
            "taken back at once, over the size"
        );
        me.release(&counts);
        assert_eq!(counts.snapshot(), (1, 0));
    }

    #[test]
    fn a_retaken_slot_is_not_lent_twice_and_is_released_as_blocked() {
        let counts = Counts::default();
        let me = worker();
        assert!(counts.claim(1));
        me.hold();
        assert!(me.retake(&counts));
        assert!(!me.retake(&counts), "retaken once");
        assert_eq!(counts.snapshot(), (0, 1));
        assert!(me.lend(&counts), "still counts as lending");
        assert_eq!(counts.snapshot(), (0, 1), "lent only once");
        me.take_back(&counts);
        assert_eq!(counts.snapshot(), (1, 0));
        assert!(me.retake(&counts));
        me.release(&counts);
        assert_eq!(counts.snapshot(), (0, 0));
    }

    #[test]
    fn a_thread_without_a_slot_lends_nothing() {
        let counts = Counts::default();
        let me = worker();
        assert!(!me.lend(&counts));
        me.take_back(&counts);
        me.release(&counts);
        assert_eq!(counts.snapshot(), (0, 0));
    }
}
