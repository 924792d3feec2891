//! The state behind a [`Queue`](super::Queue)'s lock; see the parent module for its rules.

use std::collections::VecDeque;
use std::sync::Arc;

use super::TryPutError;
use crate::sync::{WaitList, Wakeups};
use crate::task::TaskCtx;

pub(super) struct Entry<T> {
    pub(super) item: T,
    /// The task whose `put_one` waits for this item; `None` once that put completed.
    pub(super) putter: Option<Arc<TaskCtx>>,
}

pub(super) struct State<T> {
    pub(super) entries: VecDeque<Entry<T>>,
    /// How many entries at the front are complete (see the module documentation).
    pub(super) done: usize,
    /// Set once by `close`, never cleared.
    pub(super) closed: bool,
    pub(super) getters: WaitList,
    /// Selectors waiting for a put to become possible (`Queue::select_put`): woken, all of
    /// them, whenever a take makes room, a getter starts waiting, or the queue closes.
    pub(super) room: WaitList,
}

impl<T> State<T> {
    pub(super) fn can_take(&self) -> bool {
        self.done > 0 || (!self.closed && !self.entries.is_empty())
    }

    /// Takes the head if a getter may, completing or promoting puts as needed.
    pub(super) fn take(&mut self, capacity: usize, wake: &mut Wakeups) -> Option<T> {
        if !self.can_take() {
            return None;
        }
        let entry = self.entries.pop_front()?;
        if !self.room.is_empty() {
            wake.add_all(self.room.take_all());
        }
        if !self.room.is_empty() {
            wake.add_all(self.room.take_all());
        }
        match entry.putter {
            Some(putter) => wake.add(Some(putter)),
            None => self.done -= 1,
        }
        while !self.closed && self.done < capacity.min(self.entries.len()) {
            wake.add(self.entries[self.done].putter.take());
            self.done += 1;
        }
        Some(entry.item)
    }

    /// Accepts `item` as complete if the buffer has room or a getter waits for it.
    pub(super) fn try_put(
        &mut self,
        capacity: usize,
        item: T,
        wake: &mut Wakeups,
    ) -> Result<(), TryPutError<T>> {
        if self.closed {
            return Err(TryPutError::Closed(item));
        }
        if self.done >= capacity && self.getters.is_empty() {
            return Err(TryPutError::Full(item));
        }
        self.entries.insert(self.done, Entry { item, putter: None });
        self.done += 1;
        wake.add(self.getters.pop());
        Ok(())
    }

    pub(super) fn is_pending(&self, putter: &Arc<TaskCtx>) -> bool {
        self.pending_index(putter).is_some()
    }

    fn pending_index(&self, putter: &Arc<TaskCtx>) -> Option<usize> {
        let mine = |entry: &Entry<T>| {
            entry
                .putter
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(p, putter))
        };
        self.entries
            .range(self.done..)
            .position(mine)
            .map(|i| self.done + i)
    }

    /// Removes `putter`'s pending entry and returns its item (`None`: the put completed).
    pub(super) fn withdraw(&mut self, putter: &Arc<TaskCtx>) -> Option<T> {
        let index = self.pending_index(putter)?;
        self.entries.remove(index).map(|entry| entry.item)
    }
}
