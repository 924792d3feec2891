//! In-flight operations: a table of slots whose generation-tagged `user_data` ties each
//! completion to exactly the wait that submitted it (see README.md for the lifecycle).

use std::sync::Arc;

use io_uring::types::Timespec;

use crate::backend::op::Leftover;
use crate::task::TaskCtx;

/// `user_data` of entries whose completions carry nothing to deliver (cancel requests).
pub(crate) const IGNORE: u64 = u64::MAX;
/// `user_data` of the read on the loop's eventfd.
pub(crate) const EVENTFD: u64 = u64::MAX - 1;

/// What a completion does for the task that waits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Purpose {
    /// An I/O or sleep operation: store the result and unpark the task.
    Result,
    /// The loop's ring timeout for the earliest deadline of a clock (see `timers.rs`): the
    /// completion frees the slot and tells the loop, which expires the timers that are due.
    Timer,
}

enum State {
    Free,
    Pending,
    Done(i32),
    /// The waiter left; the completion only frees the slot (and closes a descriptor).
    Orphaned,
}

struct Slot {
    generation: u32,
    state: State,
    purpose: Purpose,
    leftover: Leftover,
    waiter: Option<Arc<TaskCtx>>,
    /// Read by the kernel when the entry is submitted; boxed slots keep it in place.
    timespec: Timespec,
}

/// The operation table of one loop. Slots are boxed so that a timespec stays in place while
/// the table grows: the kernel reads it when the entry is submitted.
#[derive(Default)]
#[allow(clippy::vec_box)]
pub(crate) struct Ops {
    slots: Vec<Box<Slot>>,
    free: Vec<u32>,
}

impl Ops {
    /// Takes a slot for an operation that `waiter` waits for (none: the loop's own timer);
    /// returns its `user_data`.
    pub(crate) fn insert(
        &mut self,
        waiter: Option<Arc<TaskCtx>>,
        purpose: Purpose,
        leftover: Leftover,
    ) -> u64 {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Box::new(Slot {
                generation: 0,
                state: State::Free,
                purpose,
                leftover,
                waiter: None,
                timespec: Timespec::new(),
            }));
            (self.slots.len() - 1) as u32
        });
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.state = State::Pending;
        slot.purpose = purpose;
        slot.leftover = leftover;
        slot.waiter = waiter;
        (u64::from(slot.generation) << 32) | u64::from(index)
    }

    /// How many operations are in flight or completed but not yet taken by their waiter (which
    /// is then runnable): while any is, the loop has something that can wake a task.
    pub(crate) fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The timespec of a pending slot, for a timeout entry to point to.
    pub(crate) fn timespec(&mut self, user_data: u64, value: Timespec) -> *const Timespec {
        let slot = self
            .slot_mut(user_data)
            .expect("io: timespec of a stale operation");
        slot.timespec = value;
        &slot.timespec
    }

    fn slot_mut(&mut self, user_data: u64) -> Option<&mut Slot> {
        let index = (user_data & u64::from(u32::MAX)) as usize;
        let generation = (user_data >> 32) as u32;
        self.slots
            .get_mut(index)
            .map(|slot| &mut **slot)
            .filter(|slot| slot.generation == generation)
    }

    fn release(&mut self, user_data: u64) {
        if let Some(slot) = self
            .slot_mut(user_data)
            .filter(|s| !matches!(s.state, State::Free))
        {
            slot.state = State::Free;
            slot.waiter = None;
            self.free.push((user_data & u64::from(u32::MAX)) as u32);
        }
    }

    /// Delivers a completion. A stale `user_data` (its slot was reused) is ignored. Returns
    /// whether it was the completion of a loop timer still armed (`Purpose::Timer`, not
    /// orphaned): the loop then expires its timers.
    pub(crate) fn complete(&mut self, user_data: u64, result: i32) -> bool {
        let Some(slot) = self.slot_mut(user_data) else {
            return false;
        };
        match slot.state {
            State::Pending => {}
            State::Orphaned => {
                if slot.leftover == Leftover::Descriptor && result >= 0 {
                    // SAFETY: the kernel created this descriptor for us and nobody else has it.
                    unsafe { libc::close(result) };
                }
                self.release(user_data);
                return false;
            }
            State::Free | State::Done(_) => return false,
        }
        let waiter = slot.waiter.take();
        match slot.purpose {
            Purpose::Result => {
                slot.state = State::Done(result);
                if let Some(waiter) = waiter {
                    waiter.parker.unpark();
                }
            }
            Purpose::Timer => {
                self.release(user_data);
                return true;
            }
        }
        false
    }

    /// The result of a finished operation, freeing its slot; `None` while it is in flight.
    pub(crate) fn take_result(&mut self, user_data: u64) -> Option<i32> {
        let slot = self.slot_mut(user_data)?;
        let State::Done(result) = slot.state else {
            return None;
        };
        self.release(user_data);
        Some(result)
    }

    /// The waiter no longer waits: the completion, when it comes, only frees the slot.
    pub(crate) fn orphan(&mut self, user_data: u64) {
        if let Some(slot) = self.slot_mut(user_data) {
            if matches!(slot.state, State::Pending) {
                slot.state = State::Orphaned;
                slot.waiter = None;
            } else {
                self.release(user_data);
            }
        }
    }
}
