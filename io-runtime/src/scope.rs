//! Scopes: the owner of every task spawned inside `scope!`.
//!
//! # Soundness
//! Tasks may borrow anything that outlives the scope, so their closures are not `'static`; the
//! run queues nevertheless hold them as `'static` trait objects (the lifetime is erased in
//! [`Scope::spawn`]). That is sound because no task can outlive the scope:
//! - every task is registered in the scope's registry before it is dispatched, and only its
//!   handle's `join`/`cancel`/`drop` — each of which first waits for the task — removes it;
//! - [`Scope`]'s `Drop` cancels and waits for every task still registered, so a handle that was
//!   `mem::forget`-ed, or a handle never dropped because of a panic, cannot leave a task running;
//! - `Scope<'env>` is invariant in `'env` and has a `Drop` impl, so the borrow checker requires
//!   everything a task borrows (`F: 'env`) to stay alive until that `Drop` ran;
//! - the `Scope` itself cannot be forgotten or moved by user code: `scope!` declares it under a
//!   hygienic name that user code cannot write, and the plain API ([`Io::scope`]) owns it in a
//!   stack frame the closure cannot reach;
//! - a task's result may borrow from `'env` too; it is dropped (or taken) before the scope ends,
//!   so the erased task cells that run queues may still hold afterwards contain no `F` or `T`.
//!
//! `scope!` refuses `.await` in its body, so the scope cannot live inside a suspended Rust
//! future that could itself be forgotten.

use std::marker::PhantomData;
use std::panic::{self, Location};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::backend::{Dispatch, SpawnKind, TaskRef};
use crate::block::cancel_task;
use crate::error::ConcurrencyUnavailable;
use crate::future::Future;
use crate::group::{Group, GroupInner};
use crate::io::Io;
use crate::join::{run_inline, wait_for};
use crate::task::{Completion, Panic, RawTask, ResultCell, Task};

/// The tasks of a scope that no handle has released yet, in spawn order.
#[derive(Default)]
struct Registry {
    slots: Vec<Option<(u64, TaskRef)>>,
    free: Vec<usize>,
    spawned: u64,
}

impl Registry {
    fn insert(&mut self, task: TaskRef) -> usize {
        self.spawned += 1;
        let entry = Some((self.spawned, task));
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = entry;
                slot
            }
            None => {
                self.slots.push(entry);
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, slot: usize) -> Option<TaskRef> {
        let (_, task) = self.slots[slot].take()?;
        self.free.push(slot);
        Some(task)
    }

    /// Takes every remaining task, newest first.
    fn drain_newest_first(&mut self) -> Vec<TaskRef> {
        let mut tasks: Vec<(u64, TaskRef)> = self.slots.drain(..).flatten().collect();
        self.free.clear();
        tasks.sort_by_key(|(spawned, _)| std::cmp::Reverse(*spawned));
        tasks.into_iter().map(|(_, task)| task).collect()
    }
}

/// The lifetime-free part of a scope, which handles point to.
pub(crate) struct ScopeCore {
    io: Io,
    registry: Mutex<Registry>,
    groups: Mutex<Vec<Arc<GroupInner>>>,
    panic: Mutex<Option<Panic>>,
}

impl ScopeCore {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the registry's reference to a finished task whose result was taken.
    pub(crate) fn release(&self, slot: usize) {
        let task = self.lock().remove(slot);
        drop(task);
    }

    /// Keeps the first panic of an unjoined task, to resume when the scope ends.
    pub(crate) fn defer_panic(&self, panic: Panic) {
        let mut slot = self.panic.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(panic);
    }

    /// Dispatches a registered task through the backend, running it inline if told to.
    pub(crate) fn dispatch(
        &self,
        task: TaskRef,
        kind: SpawnKind,
    ) -> Result<(), ConcurrencyUnavailable> {
        match self.io.with(|shared| shared.backend.spawn(task, kind))? {
            Dispatch::Scheduled => Ok(()),
            Dispatch::RunInline(task) => {
                run_inline(&*task);
                Ok(())
            }
        }
    }

    /// Creates a group owned by this scope. The scope keeps it until the scope ends, or until
    /// its handle was dropped and its tasks are done, so the reference lives as long as `self`.
    pub(crate) fn adopt_group(&self) -> &GroupInner {
        let group = Arc::new(GroupInner::default());
        let ptr = Arc::as_ptr(&group);
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups.retain(|g| !g.is_finished());
        groups.push(group);
        // SAFETY: the Arc just pushed stays in `groups` until the group is finished, which
        // requires its `Group` handle (the only holder of this reference) to have been
        // dropped, or until the scope itself ends; either way no use of the reference follows.
        unsafe { &*ptr }
    }

    /// A weak link to one of this scope's groups, for its tasks to report back.
    pub(crate) fn group_link(&self, group: &GroupInner) -> Weak<GroupInner> {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        let owned = groups.iter().find(|g| std::ptr::eq(Arc::as_ptr(g), group));
        Arc::downgrade(owned.expect("io: a group outlived its scope's record of it"))
    }

    /// Cancels and waits for every task and group still owned by the scope, one at a time and
    /// newest first, like Zig's deferred cancels.
    fn finish(&self) {
        let tasks = self.lock().drain_newest_first();
        for task in &tasks {
            cancel_task(task.ctx());
            wait_for(&**task);
            if let Some(panic) = task.discard_result() {
                self.defer_panic(panic);
            }
        }
        drop(tasks);
        let groups = std::mem::take(&mut *self.groups.lock().unwrap_or_else(|e| e.into_inner()));
        for group in groups.iter().rev() {
            if let Some(panic) = group.cancel_and_wait() {
                self.defer_panic(panic);
            }
        }
    }
}

/// The owner of a scope's tasks: dropping it cancels and joins whatever still runs.
///
/// `scope!` creates one under a name user code cannot write; the plain API is
/// [`Io::scope`]. `'env` is everything the tasks may borrow.
pub struct Scope<'env> {
    core: ScopeCore,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'env> Scope<'env> {
    /// A new scope on the runtime of `io`. Use `scope!` or [`Io::scope`], which keep the scope
    /// where user code cannot reach it.
    ///
    /// # Safety
    /// - The scope must be dropped before anything its tasks borrow (`'env`) ends: it must not
    ///   be leaked with `mem::forget`, `Box::leak`, a reference cycle, or by living in a Rust
    ///   future that is forgotten while suspended.
    #[doc(hidden)]
    pub unsafe fn new(io: Io) -> Self {
        Self {
            core: ScopeCore {
                io,
                registry: Mutex::default(),
                groups: Mutex::default(),
                panic: Mutex::default(),
            },
            _env: PhantomData,
        }
    }

    /// Spawns `call` asynchronously: it may run on a worker, or inline right now.
    #[track_caller]
    pub fn spawn_async<F, T>(&self, call: F) -> Future<'_, T>
    where
        F: FnOnce() -> T + Send + 'env,
        T: Send + 'env,
    {
        match self.spawn(call, SpawnKind::Async) {
            Ok(future) => future,
            Err(ConcurrencyUnavailable) => unreachable!("io: async spawns never need concurrency"),
        }
    }

    /// Spawns `call` concurrently: it runs at the same time as the caller, or this returns
    /// [`ConcurrencyUnavailable`].
    ///
    /// # Errors
    /// [`ConcurrencyUnavailable`] on a single-threaded runtime or past `concurrent_limit`.
    #[track_caller]
    pub fn spawn_concurrent<F, T>(&self, call: F) -> Result<Future<'_, T>, ConcurrencyUnavailable>
    where
        F: FnOnce() -> T + Send + 'env,
        T: Send + 'env,
    {
        self.spawn(call, SpawnKind::Concurrent)
    }

    /// A new [`Group`] owned by this scope.
    pub fn group(&self) -> Group<'_, 'env> {
        Group::new(&self.core)
    }

    #[track_caller]
    fn spawn<F, T>(&self, call: F, kind: SpawnKind) -> Result<Future<'_, T>, ConcurrencyUnavailable>
    where
        F: FnOnce() -> T + Send + 'env,
        T: Send + 'env,
    {
        let done = Completion::Joiner(Mutex::new(None));
        let task = Arc::new(Task::new(call, Location::caller(), done));
        let typed: NonNull<dyn ResultCell<T> + '_> = NonNull::from(&*task as &dyn ResultCell<T>);
        let erased = erase(task);
        let slot = self.core.lock().insert(Arc::clone(&erased));
        if let Err(unavailable) = self.core.dispatch(erased, kind) {
            self.core.release(slot);
            return Err(unavailable);
        }
        Ok(Future::new(typed, &self.core, slot))
    }
}

/// Erases the `'env` lifetime of a task so that run queues can hold it.
pub(crate) fn erase<'env>(task: Arc<dyn RawTask + 'env>) -> TaskRef {
    // SAFETY: only the lifetime bound changes, not the layout. The task cannot outlive 'env in
    // any way that matters: its owner (a Scope or a Group of one) waits for it to finish and
    // drops its result before 'env ends, after which the cell holds neither F nor T (see the
    // module documentation).
    unsafe { std::mem::transmute::<Arc<dyn RawTask + 'env>, TaskRef>(task) }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        self.core.finish();
        let panic = self
            .core
            .panic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(panic) = panic {
            if !std::thread::panicking() {
                panic::resume_unwind(panic);
            }
        }
    }
}

impl Io {
    /// Runs `f` with a new [`Scope`]: every task spawned on it is canceled (newest first) and
    /// joined before `scope` returns. This is the closure form of `scope!`.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let words = ["hard", "on an excuse"];
    /// let total = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let a = s.spawn_async(|| words[0].len());
    ///         let b = s.spawn_async(|| words[1].len());
    ///         a.join(io) + b.join(io)
    ///     })
    /// });
    /// assert_eq!(total, 16);
    /// ```
    ///
    /// # Panics
    /// Resumes the first panic of a task that no handle joined, after every task ended.
    pub fn scope<'env, R>(self, f: impl for<'s> FnOnce(&'s Scope<'env>) -> R) -> R {
        // SAFETY: the scope lives in this frame, out of the closure's reach, and is dropped
        // when the frame ends (also on unwind), before 'env (which outlives this call) ends.
        let scope = unsafe { Scope::new(self) };
        f(&scope)
    }
}
