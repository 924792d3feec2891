//! [`Group`]: any number of tasks without handles, reclaimed as they finish.

use std::collections::HashMap;
use std::marker::{PhantomData, PhantomPinned};
use std::panic::{self, Location};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::backend::{carrier, SpawnKind, TaskRef};
use crate::block;
use crate::cancel::cancel_task;
use crate::error::{Canceled, ConcurrencyUnavailable};
use crate::io::Io;
use crate::join::run_inline;
use crate::scope::{erase, ScopeCore};
use crate::task::{current_arc, drop_payload, Completion, Panic, RawTask, Task, TaskCtx};

#[derive(Default)]
struct State {
    running: HashMap<usize, TaskRef>,
    waiters: Vec<Arc<TaskCtx>>,
    panic: Option<Panic>,
}

/// The shared part of a group: its running tasks and who waits for them. Owned by the scope
/// (so a forgotten `Group` leaks nothing); tasks reach it through weak references.
#[derive(Default)]
pub(crate) struct GroupInner {
    state: Mutex<State>,
    next_id: AtomicUsize,
    /// Set when the `Group` handle was dropped: the scope may then let go of an empty group.
    released: AtomicBool,
}

impl GroupInner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the scope can drop this group: its handle is gone and no task runs.
    pub(crate) fn is_finished(&self) -> bool {
        self.released.load(Ordering::Acquire) && self.lock().running.is_empty()
    }

    /// Called by a finishing task: reclaims it and wakes waiters if it was the last.
    ///
    /// Never unwinds (it runs on the task's worker or fiber): a second panic payload is dropped
    /// with `drop_payload`, outside the lock.
    fn finished(&self, id: usize, panic: Option<Panic>) {
        let mut state = self.lock();
        let task = state.running.remove(&id);
        let extra = match panic {
            Some(panic) if state.panic.is_none() => {
                state.panic = Some(panic);
                None
            }
            extra => extra,
        };
        let waiters = if state.running.is_empty() {
            std::mem::take(&mut state.waiters)
        } else {
            Vec::new()
        };
        drop(state);
        drop(task);
        if let Some(extra) = extra {
            drop_payload(extra);
        }
        for waiter in waiters {
            waiter.parker.unpark();
        }
    }

    /// Runs inline every task no runner has claimed yet (helping, so a wait never depends on
    /// a free worker). Not on a fiber: the loop starts every task on a fiber of its own, and
    /// running them inline here, one after the other, would serialize them.
    fn help(&self) {
        if !carrier::owns_thread() {
            return;
        }
        let queued: Vec<TaskRef> = self.lock().running.values().cloned().collect();
        for task in queued {
            run_inline(&*task);
        }
    }

    /// Waits until no task runs. `Err(Canceled)` if the waiter was canceled first (its tasks
    /// are then canceled and still waited for).
    fn wait(&self) -> Result<(), Canceled> {
        self.help();
        let me = current_arc();
        loop {
            // A cancel, or the deadline of an enclosing `Io::timeout`.
            if block::check(&me).is_err() {
                self.cancel_and_wait();
                return Err(Canceled);
            }
            {
                let mut state = self.lock();
                if state.running.is_empty() {
                    return Ok(());
                }
                if !state.waiters.iter().any(|w| Arc::ptr_eq(w, &me)) {
                    state.waiters.push(Arc::clone(&me));
                }
            }
            // Woken, canceled or spurious: the loop re-checks both conditions.
            let _ = block::park(&"Group::wait", None);
        }
    }

    /// Requests cancellation of every running task, without waiting.
    pub(crate) fn request_cancel(&self) {
        for task in self.lock().running.values() {
            cancel_task(task.ctx());
        }
    }

    /// Cancels every task, waits for all, and returns the first panic among them.
    pub(crate) fn cancel_and_wait(&self) -> Option<Panic> {
        self.request_cancel();
        let me = current_arc();
        me.cancel.protected(|| while self.wait().is_err() {});
        self.lock().panic.take()
    }
}

/// Spawns any number of tasks that have no handles; finished tasks are reclaimed at once, so a
/// group can serve an accept loop for days. Leaving the scope (or dropping the group) cancels
/// and joins the tasks that still run.
///
/// # Examples
/// ```
/// use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let done = AtomicUsize::new(0);
/// runtime.run(|io| {
///     io.scope(|s| {
///         let group = s.group();
///         for _ in 0..100 {
///             group.spawn(io, || {
///                 done.fetch_add(1, Ordering::Relaxed);
///             });
///         }
///         group.wait(io).unwrap();
///     })
/// });
/// assert_eq!(done.load(Ordering::Relaxed), 100);
/// ```
pub struct Group<'scope, 'env> {
    inner: &'scope GroupInner,
    scope: &'scope ScopeCore,
    _env: PhantomData<&'env mut &'env ()>,
    /// `!Unpin`, like [`Future`](crate::Future): a group cannot leave its `scope!`.
    _stays: PhantomPinned,
}

impl<'scope, 'env> Group<'scope, 'env> {
    pub(crate) fn new(scope: &'scope ScopeCore) -> Self {
        Self {
            inner: scope.adopt_group(),
            scope,
            _env: PhantomData,
            _stays: PhantomPinned,
        }
    }

    /// Spawns `call` asynchronously into the group.
    #[track_caller]
    pub fn spawn<F>(&self, io: Io, call: F)
    where
        F: FnOnce() + Send + 'env,
    {
        let spawned = self.spawn_as(io, call, SpawnKind::Async);
        debug_assert!(spawned.is_ok(), "async spawns never need concurrency");
    }

    /// Spawns `call` into the group to run at the same time as the caller (Zig's
    /// `Group.concurrent`): a connection handler that blocks must not wait for a free worker.
    ///
    /// # Errors
    /// [`ConcurrencyUnavailable`] on a single-threaded runtime, past `concurrent_limit`, or
    /// when fibers run out; `call` is then dropped without running.
    #[track_caller]
    pub fn spawn_concurrent<F>(&self, io: Io, call: F) -> Result<(), ConcurrencyUnavailable>
    where
        F: FnOnce() + Send + 'env,
    {
        self.spawn_as(io, call, SpawnKind::Concurrent)
    }

    #[track_caller]
    fn spawn_as<F>(&self, io: Io, call: F, kind: SpawnKind) -> Result<(), ConcurrencyUnavailable>
    where
        F: FnOnce() + Send + 'env,
    {
        let _ = io;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let weak: Weak<GroupInner> = self.scope.group_link(self.inner);
        let notify = Arc::new(move |id: usize, panic: Option<Panic>| {
            if let Some(group) = weak.upgrade() {
                group.finished(id, panic);
            }
        });
        let task = Arc::new(Task::new(
            call,
            Location::caller(),
            Completion::Group(notify, id),
        ));
        let erased = erase(task as Arc<dyn RawTask + 'env>);
        self.inner.lock().running.insert(id, Arc::clone(&erased));
        let dispatched = self.scope.dispatch(erased, kind);
        if dispatched.is_err() {
            let refused = self.inner.lock().running.remove(&id);
            drop(refused);
        }
        dispatched
    }

    /// Waits until every task of the group finished.
    ///
    /// # Errors
    /// [`Canceled`] if the caller was canceled while waiting; the group's tasks are then
    /// canceled and waited for before this returns.
    ///
    /// # Panics
    /// Resumes the first panic of a task of the group.
    pub fn wait(&self, io: Io) -> Result<(), Canceled> {
        let _ = io;
        let waited = self.inner.wait();
        self.resume_panic();
        waited
    }

    /// Cancels every task of the group and waits for them all.
    ///
    /// # Panics
    /// Resumes the first panic of a task of the group.
    pub fn cancel(&self, io: Io) {
        let _ = io;
        if let Some(panic) = self.inner.cancel_and_wait() {
            panic::resume_unwind(panic);
        }
    }

    fn resume_panic(&self) {
        let panic = self.inner.lock().panic.take();
        if let Some(panic) = panic {
            panic::resume_unwind(panic);
        }
    }
}

impl Drop for Group<'_, '_> {
    fn drop(&mut self) {
        if let Some(panic) = self.inner.cancel_and_wait() {
            self.scope.defer_panic(panic);
        }
        self.inner.released.store(true, Ordering::Release);
    }
}
