//! Synchronization between tasks: [`Mutex`], [`Condition`], [`Event`], [`RwLock`] and
//! [`Semaphore`].
//!
//! Each primitive blocks through the runtime (a task parks; on a fiber backend the fiber
//! parks, not its thread), and each blocking operation is a cancellation point that returns
//! [`Canceled`](crate::Canceled), also when an enclosing [`timeout`](crate::Io::timeout)
//! expires.

// # Protocol
// Every primitive keeps its state and a `WaitList` under one short-held std mutex. To block, a
// task registers itself in the list under that lock, releases the lock and parks
// (`block::park`). A waker removes the task from the list and unparks it, always *after*
// releasing the lock (`Wakeups`). A task that wakes re-checks its condition under the lock;
// being absent from the list means "you were woken on purpose". A task that is canceled after
// it was woken on purpose passes the wake-up on to the next waiter (or, for a queue getter,
// takes the item it was woken for), so a cancel never swallows a wake-up another task needs.
//
// `RwLock` and `Semaphore` hand off: a release grants the lock (or permits) to the oldest
// waiters itself, in FIFO order, before waking them, so being absent from the list means "you
// own it". A granted waiter that is canceled releases what it was granted, which grants it on
// to the next waiters; a queued waiter that is canceled leaves and lets those behind it try.
//
// A select (`crate::select`) registers one task in the wait lists of several primitives at
// once (`Event::select_wait` here) and withdraws it from all of them when it returns; the same
// rule applies: a woken selector that takes nothing passes on what it was woken for.

mod condition;
mod event;
mod mutex;
mod rwlock;
mod semaphore;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard};

use crate::task::TaskCtx;

pub use condition::Condition;
pub use event::{Event, EventSet};
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Permit, Semaphore};

/// Tasks blocked on one primitive, oldest first, each with what it waits for (`K`: nothing for
/// most primitives; read or write for [`RwLock`], a number of permits for [`Semaphore`]).
#[derive(Debug)]
pub(crate) struct WaitList<K = ()> {
    tasks: VecDeque<Arc<TaskCtx>>,
    /// `wants[i]` is what `tasks[i]` waits for (zero-sized, so never allocated, for `()`).
    wants: VecDeque<K>,
}

impl<K> Default for WaitList<K> {
    fn default() -> Self {
        Self {
            tasks: VecDeque::new(),
            wants: VecDeque::new(),
        }
    }
}

impl WaitList {
    /// Registers `task` as the newest waiter.
    pub(crate) fn push(&mut self, task: &Arc<TaskCtx>) {
        self.push_wanting(task, ());
    }
}

impl<K> WaitList<K> {
    /// Registers `task` as the newest waiter, waiting for `want`.
    pub(crate) fn push_wanting(&mut self, task: &Arc<TaskCtx>, want: K) {
        self.tasks.push_back(Arc::clone(task));
        self.wants.push_back(want);
    }

    /// Removes `task`; `false` if it was not registered (a waker already took it).
    pub(crate) fn remove(&mut self, task: &Arc<TaskCtx>) -> bool {
        match self.tasks.iter().position(|t| Arc::ptr_eq(t, task)) {
            Some(index) => {
                self.tasks.remove(index);
                self.wants.remove(index);
                true
            }
            None => false,
        }
    }

    /// Whether `task` is registered.
    pub(crate) fn contains(&self, task: &Arc<TaskCtx>) -> bool {
        self.tasks.iter().any(|t| Arc::ptr_eq(t, task))
    }

    /// What the oldest waiter waits for.
    pub(crate) fn front(&self) -> Option<&K> {
        self.wants.front()
    }

    /// Takes the oldest waiter, to be woken.
    pub(crate) fn pop(&mut self) -> Option<Arc<TaskCtx>> {
        self.wants.pop_front();
        self.tasks.pop_front()
    }

    /// How many tasks wait.
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether nobody waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Takes every waiter, to be woken.
    pub(crate) fn take_all(&mut self) -> VecDeque<Arc<TaskCtx>> {
        self.wants.clear();
        std::mem::take(&mut self.tasks)
    }
}

/// Tasks to unpark once the primitive's lock is released.
///
/// Declare it *before* the lock guard: locals drop in reverse order, so the guard is released
/// first and the woken tasks do not run straight into a held lock. The first task is kept
/// inline: waking one task — the common case — allocates nothing.
#[derive(Default)]
pub(crate) struct Wakeups {
    first: Option<Arc<TaskCtx>>,
    rest: Vec<Arc<TaskCtx>>,
}

impl Wakeups {
    /// Adds a task to wake (if any).
    pub(crate) fn add(&mut self, task: Option<Arc<TaskCtx>>) {
        let Some(task) = task else {
            return;
        };
        match self.first {
            None => self.first = Some(task),
            Some(_) => self.rest.push(task),
        }
    }

    /// Adds every task of `tasks`.
    pub(crate) fn add_all(&mut self, tasks: impl IntoIterator<Item = Arc<TaskCtx>>) {
        for task in tasks {
            self.add(Some(task));
        }
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        for task in self.first.take().into_iter().chain(self.rest.drain(..)) {
            task.parker.unpark();
        }
    }
}

/// Locks a primitive's state, ignoring poison: no user code runs under these locks.
pub(crate) fn lock<S>(state: &StdMutex<S>) -> StdMutexGuard<'_, S> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The state of a primitive that serves its waiters first come, first served, handing what it
/// frees straight to the oldest of them (RwLock, Semaphore): a waiter leaves the queue only
/// when it is granted (or gives up).
pub(crate) trait Granting {
    /// What a waiter asks for (a read or write access, a number of permits).
    type Want: Copy;
    /// Takes `want` for a task that arrives now: only if it is free and nobody waits.
    fn try_take(&mut self, want: Self::Want) -> bool;
    /// The queue of blocked tasks, oldest first.
    fn waiters(&mut self) -> &mut WaitList<Self::Want>;
    /// Grants what is free to the oldest waiters, removing each from the queue.
    fn grant(&mut self, wake: &mut Wakeups);
    /// Gives back `want` and grants it on.
    fn release(&mut self, want: Self::Want, wake: &mut Wakeups);
}

/// Takes `want` from `state`, parking (a cancellation point named `what`) until a release
/// grants it. A waiter canceled after it was granted gives the grant back, so the next waiter
/// gets it; one canceled while queued leaves the queue and lets those behind it move up.
pub(crate) fn acquire_granted<S: Granting>(
    state: &StdMutex<S>,
    want: S::Want,
    what: &'static &'static str,
) -> Result<(), crate::error::Canceled> {
    let me = {
        let mut state = lock(state);
        if state.try_take(want) {
            return Ok(());
        }
        let me = crate::task::current_arc();
        state.waiters().push_wanting(&me, want);
        me
    };
    loop {
        let parked = crate::block::park(what, None);
        let mut wake = Wakeups::default();
        let mut state = lock(state);
        // Only a grant removes a waiter from the queue (besides the waiter itself).
        let granted = !state.waiters().contains(&me);
        match parked {
            Ok(_) if granted => return Ok(()),
            Ok(_) => continue, // spurious
            Err(canceled) => {
                if granted {
                    state.release(want, &mut wake);
                } else {
                    state.waiters().remove(&me);
                    state.grant(&mut wake);
                }
                return Err(canceled);
            }
        }
    }
}
