//! The loop's timers: every deadline of a suspended fiber (a sleep's, a park's) in a binary heap
//! per clock, and one ring timeout per clock for the earliest of them.
//!
//! # Why a heap with lazy deletion (and not a timer wheel)
//! An entry names the suspension it may end: `(deadline, fiber slot, fiber generation)`. The
//! loop gives a fiber a fresh generation every time it resumes it, so whatever ends a
//! suspension first (its timer, an unpark, a cancel) turns its other entries stale at no cost:
//! removal is O(1) and nothing is touched. A stale entry is dropped when it reaches the top of
//! the heap, or when stale entries outnumber live ones (then the heap keeps only the live ones,
//! an O(n) pass paid for by at least n/2 removals before it). Against a hierarchical wheel: the
//! heap keeps deadlines exact (a wheel rounds them to its tick, which would make every sleep up
//! to a tick late, or needs a heap of its own for the last level), has no cascading, and its
//! O(log n) insertion is a few dozen nanoseconds at 100 000 entries, small beside the fiber
//! switch of the sleep itself; 100 000 sleepers expiring together are popped in one batch.
//!
//! # One ring timeout per clock
//! Sleeps keep their clock (`Clock::Awake`, `Boot`, `Real`: `CLOCK_MONOTONIC`, `BOOTTIME`,
//! `REALTIME`), so each clock has its own heap, and the ring timeout armed for its earliest
//! deadline is absolute on that very clock: a `REALTIME` deadline still follows a change of the
//! wall clock, as a timeout per sleep did. Deadlines of parks (`Instant`s, the monotonic clock)
//! go into the `Awake` heap. The loop [settles](super::scheduler) the timers whenever it
//! turns (each poll, each reap, before each wait): it expires every entry whose deadline the
//! clock has reached and drops stale entries from the top. Only before it blocks does it touch
//! the ring timeout: it re-arms it when the earliest live deadline is earlier than the armed one
//! (a timeout armed for a deadline whose entry went stale fires once for nothing and is
//! re-armed then), and never for less than 50 µs ahead (`TIMER_SLACK`: deadlines closer than
//! that are served by one timeout, not one kernel timer and one wake of the loop each; a loop
//! that runs reads its clocks at every poll anyway). With no live entry left it
//! removes the ring timeout, so a loop whose fibers are all parked without deadline looks idle
//! to the deadlock monitor at once; while any entry is live a ring timeout is in flight, which
//! keeps the loop a waker for the monitor.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::time::Clock;

/// The clocks in the order of their heaps.
pub(crate) const CLOCKS: [Clock; 3] = [Clock::Awake, Clock::Boot, Clock::Real];

/// The index of `clock`'s heap.
pub(crate) fn index(clock: Clock) -> usize {
    match clock {
        Clock::Awake => 0,
        Clock::Boot => 1,
        Clock::Real => 2,
    }
}

/// `time` (since a clock's epoch) in nanoseconds, saturated (a sleep of `Duration::MAX`).
pub(crate) fn nanos(time: Duration) -> u64 {
    u64::try_from(time.as_nanos()).unwrap_or(u64::MAX)
}

/// `deadline` on the `Awake` clock (`CLOCK_MONOTONIC`, whose reading `Instant` is), in
/// nanoseconds: never earlier than `deadline` (the clock is read after `Instant::now`).
pub(crate) fn awake_nanos(deadline: Instant) -> u64 {
    let left = deadline.saturating_duration_since(Instant::now());
    nanos(Clock::Awake.read().saturating_add(left))
}

/// A deadline of one suspension of one fiber.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Entry {
    /// Nanoseconds since the clock's epoch.
    pub(crate) at: u64,
    /// The fiber's slot in the loop's table.
    pub(crate) fiber: usize,
    /// The fiber's generation during the suspension this entry may end.
    pub(crate) generation: u64,
}

/// The ring timeout armed for a clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Armed {
    /// Its deadline, nanoseconds since the clock's epoch.
    pub(crate) at: u64,
    /// Its slot in the op table.
    pub(crate) user_data: u64,
}

/// The deadlines on one clock.
#[derive(Default)]
pub(crate) struct ClockTimers {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Entries in the heap whose suspension is still in progress.
    live: usize,
    /// The ring timeout in flight for this clock, if any.
    pub(crate) armed: Option<Armed>,
}

impl ClockTimers {
    /// Adds a live entry.
    pub(crate) fn add(&mut self, entry: Entry) {
        self.heap.push(Reverse(entry));
        self.live += 1;
    }

    /// `count` live entries went stale (their suspension ended).
    pub(crate) fn forget(&mut self, count: usize) {
        self.live -= count;
    }

    /// Whether there is nothing to do for this clock: no entry and no ring timeout.
    pub(crate) fn quiet(&self) -> bool {
        self.heap.is_empty() && self.armed.is_none()
    }

    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Drops every entry (all stale: none is live).
    pub(crate) fn clear(&mut self) {
        debug_assert_eq!(self.live, 0);
        self.heap.clear();
    }

    /// The earliest entry, live or stale.
    pub(crate) fn peek(&self) -> Option<Entry> {
        self.heap.peek().map(|e| e.0)
    }

    /// Takes the earliest entry off; `live` says whether it was live (its count goes down).
    pub(crate) fn pop(&mut self, live: bool) {
        self.heap.pop();
        if live {
            self.live -= 1;
        }
    }

    /// Keeps only the live entries once stale ones outnumber them (amortized O(1) per entry).
    pub(crate) fn compact(&mut self, is_live: impl FnMut(&Entry) -> bool) {
        let mut is_live = is_live;
        if self.heap.len() > 64 && self.heap.len() > 2 * self.live {
            self.heap.retain(|e| is_live(&e.0));
            debug_assert_eq!(self.heap.len(), self.live);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn entry(at: u64, fiber: usize, generation: u64) -> Entry {
        Entry {
            at,
            fiber,
            generation,
        }
    }

    #[test]
    fn entries_come_out_earliest_first_and_compaction_keeps_the_live_ones() {
        let mut timers = ClockTimers::default();
        for i in 0..100u64 {
            timers.add(entry(1000 - i, i as usize, i));
        }
        assert_eq!(timers.peek(), Some(entry(901, 99, 99)));
        // Entries of even fibers go stale.
        timers.forget(50);
        timers.compact(|e| e.fiber % 2 == 1);
        assert_eq!(timers.live(), 50);
        // Compaction waits until stale entries outnumber live ones.
        assert_eq!(timers.heap.len(), 100);
        timers.forget(1);
        timers.compact(|e| e.fiber % 2 == 1 && e.fiber != 99);
        assert_eq!(timers.heap.len(), 49);
        assert_eq!(timers.peek(), Some(entry(903, 97, 97)));
        timers.pop(true);
        assert_eq!(timers.live(), 48);
    }

    #[test]
    fn a_deadline_converted_to_the_awake_clock_is_not_earlier() {
        let deadline = Instant::now() + Duration::from_millis(5);
        let at = awake_nanos(deadline);
        while nanos(Clock::Awake.read()) < at {}
        assert!(Instant::now() >= deadline);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }
}
