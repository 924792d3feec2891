//! Scopes: the owner of every task spawned inside `scope!`.
//!
//! # Soundness
//! Tasks may borrow anything that outlives the scope, so their closures are not `'static`; the
//! run queues nevertheless hold them as `'static` trait objects (the lifetime is erased in
//! `TaskRef::new_pair`). That is sound because no task runs, and no result of one lives, once
//! the scope ended. The argument, against everything that user code can reach:
//!
//! 1. **The owner is out of reach.** A [`Scope`] is created only inside this crate
//!    (`Scope::new` is private): by [`Io::scope`], which keeps it in its own stack frame and
//!    drops it when the frame ends, also on unwind. `scope!` expands to a call of
//!    `__private::scope`, which is `Io::scope`, with the body as a closure. The only token a
//!    macro hands to user-reachable code (a user macro's arguments may capture and re-emit any
//!    token) is the closure's parameter, a `&Scope`: forgetting, moving or copying a reference
//!    does nothing to the owner, and the reference cannot leave the closure (`for<'s>`).
//! 2. **Every task is registered before it can run**, in the scope's registry or in a group
//!    that the scope owns, and only the handle's `join`/`cancel`/`drop` — each of which first
//!    waits for the task — removes it. So a handle that is `mem::forget`-ed, leaked in an `Rc`
//!    cycle, or never dropped because of a panic leaves its task with the scope, which cancels
//!    and joins it when it ends.
//! 3. **Borrows outlive the owner.** `Scope<'env>` is invariant in `'env` and tasks are
//!    `F: 'env`; `'env` is a lifetime parameter of `Io::scope`, so it outlives that call, and
//!    the owner dies inside it.
//! 4. **The body cannot be suspended.** `scope!`'s body is a plain (non-`async`) closure, so a
//!    `.await` in it — written by hand or produced by any macro — does not compile. The owner
//!    therefore never lives in a Rust future that could be forgotten while suspended. (An
//!    `async` block *inside* the body can hold the `&Scope`, but cannot outlive the closure,
//!    so the scope still ends in `Io::scope`'s frame.) `?`, `return`, `break` and `continue`
//!    are carried out of the closure and re-applied by the expansion.
//! 5. **Scope end never unwinds while a task may run.** [`ScopeCore::finish`] requests every
//!    cancellation, then joins every task and group. Dropping an unclaimed result or a panic
//!    payload may panic: those panics are caught (`drop_catching`, `drop_payload`) and the
//!    first is resumed by `Scope`'s `Drop` *after* everything was joined. The deadlock monitor
//!    never delivers its report as a panic to a task that is ending a scope (see `monitor`):
//!    it picks another blocked task, or prints the report and keeps waiting. Any panic that
//!    escapes `finish` all the same aborts the process instead of unwinding
//!    (`TaskCtx::without_unwinding`).
//! 6. **Nothing of `F` or `T` outlives the scope.** A task's result may borrow from `'env`
//!    too; it is taken by its handle or dropped by the scope before `'env` ends, so the erased
//!    cells that run queues may still hold afterwards contain no `F` or `T`. No panic escapes a
//!    task into a worker or the event loop (`Task::run` catches the call's panic, and payload
//!    drops are caught), so no runner dies holding a task.
//!
//! What this does not cover: `std::process::exit` or an abort ends the process with tasks
//! running (nothing is freed, so nothing is read after free), and `unsafe` code that frees a
//! borrow behind the borrow checker's back.

use std::marker::PhantomData;
use std::panic::{self, Location};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::backend::{Dispatch, SpawnKind, TaskRef};
use crate::cancel::cancel_task;
use crate::error::ConcurrencyUnavailable;
use crate::future::Future;
use crate::group::{Group, GroupInner};
use crate::io::Io;
use crate::join::{run_inline, wait_for};
use crate::spin_lock::SpinLock;

mod registry;
use crate::task::{current_arc, drop_payload, Completion, Panic, ResultCell, Task};
use registry::Registry;

/// The lifetime-free part of a scope, which handles point to.
pub(crate) struct ScopeCore {
    io: Io,
    /// The tasks no handle released yet: the owner thread's without a lock (see `registry`).
    registry: Registry<TaskRef>,
    groups: Mutex<Vec<Arc<GroupInner>>>,
    panic: Mutex<Option<Panic>>,
    /// Set once the body is being left: handles dropped from then on only request
    /// cancellation, and `finish` joins them all.
    ending: AtomicBool,
}

impl ScopeCore {
    /// Drops the registry's reference to a finished task whose result was taken (on another
    /// thread than the scope's, a task the scope's thread spawned is freed by that thread's next
    /// spawn or by the scope's end instead: see `registry`).
    pub(crate) fn release(&self, slot: usize) {
        drop(self.take(slot));
    }

    /// Whether this scope ends on the calling thread (the scope's end is the one runner besides
    /// a task's handle that claims the task: see `Future::join`).
    pub(crate) fn ends_here(&self) -> bool {
        self.registry.is_owner()
    }

    /// Like [`release`](Self::release), but hands the registry's reference to the caller (if
    /// this thread holds it) instead of dropping it.
    pub(crate) fn take(&self, slot: usize) -> Option<TaskRef> {
        self.registry.remove(slot)
    }

    /// Keeps the first panic of an unjoined task, to resume when the scope ends; later ones
    /// are dropped (a payload whose `Drop` panics too is leaked, see `drop_payload`).
    pub(crate) fn defer_panic(&self, panic: Panic) {
        let mut slot = self.panic.lock().unwrap_or_else(|e| e.into_inner());
        let extra = match *slot {
            None => {
                *slot = Some(panic);
                None
            }
            Some(_) => Some(panic),
        };
        drop(slot);
        if let Some(extra) = extra {
            drop_payload(extra);
        }
    }

    /// Whether the body is being left (see [`Scope::body_ends`]).
    pub(crate) fn is_ending(&self) -> bool {
        self.ending.load(Ordering::Acquire)
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
    pub(crate) fn adopt_group(&self, keeps: bool) -> &GroupInner {
        let group = Arc::new(GroupInner::new(keeps));
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

    /// Ends the scope: requests cancellation of every task and group it still owns, all at
    /// once (so ending costs about one cancel latency, not one per task), then joins them newest
    /// first, like Zig's deferred cancels, and drops their unclaimed results.
    ///
    /// Never unwinds while a task of the scope may still run: result drops that panic are
    /// caught and kept for [`Scope`]'s `Drop` to resume, the deadlock monitor does not deliver
    /// its report here (see `monitor`), and anything that escapes anyway aborts the process.
    ///
    /// `&mut self`: no handle or `&Scope` is left (they borrow the scope), which is what lets
    /// the registry hand over the owner's part without a lock.
    fn finish(&mut self) {
        let tasks = self.registry.drain_newest_first();
        let groups = std::mem::take(&mut *self.groups.lock().unwrap_or_else(|e| e.into_inner()));
        for task in &tasks {
            cancel_task(task.ctx());
        }
        for group in &groups {
            group.request_cancel();
        }
        current_arc().without_unwinding(|| {
            for task in &tasks {
                wait_for(&**task);
                if let Some(panic) = task.discard_result() {
                    self.defer_panic(panic);
                }
            }
            for group in groups.iter().rev() {
                if let Some(panic) = group.cancel_and_wait() {
                    self.defer_panic(panic);
                }
            }
        });
    }
}

/// The owner of a scope's tasks: dropping it cancels and joins whatever still runs.
///
/// Only [`Io::scope`] creates one, and hands its body a `&Scope`; `scope!` calls it (as
/// `__private::scope`) and names that reference with an identifier user code cannot write.
/// `'env` is everything the tasks may borrow.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let words = ["scope", "owns", "tasks"];
/// let total = runtime.run(|io| {
///     io.scope(|s| {
///         // Tasks may borrow what lives longer than the scope.
///         let futures: Vec<_> = words.iter().map(|w| s.spawn_async(move || w.len())).collect();
///         futures.into_iter().map(|f| f.join(io)).sum::<usize>()
///     })
/// });
/// assert_eq!(total, 14);
/// ```
pub struct Scope<'env> {
    core: ScopeCore,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'env> Scope<'env> {
    /// A new scope on the runtime of `io`. Private: only [`Io::scope`] creates one, in a frame
    /// that user code cannot reach (see the module documentation).
    ///
    /// # Safety
    /// - The scope must be dropped before anything its tasks borrow (`'env`) ends: it must not
    ///   be leaked with `mem::forget`, `Box::leak`, a reference cycle, or by living in a Rust
    ///   future that is forgotten while suspended.
    unsafe fn new(io: Io) -> Self {
        crate::task_cell::scope_opened();
        Self {
            core: ScopeCore {
                io,
                registry: Registry::new(),
                groups: Mutex::default(),
                panic: Mutex::default(),
                ending: AtomicBool::new(false),
            },
            _env: PhantomData,
        }
    }

    /// Spawns `call` asynchronously: it may run on a worker, or inline right now.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let data = vec![1, 2, 3, 4];
    /// let sums = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let (left, right) = data.split_at(2);
    ///         let a = s.spawn_async(|| left.iter().sum::<i32>());
    ///         let b = s.spawn_async(|| right.iter().sum::<i32>());
    ///         (a.join(io), b.join(io))
    ///     })
    /// });
    /// assert_eq!(sums, (3, 7));
    /// ```
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
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let (gate, order) = (io::Event::new(), std::sync::Mutex::new(Vec::new()));
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         // The waiter must run beside the caller, or the caller's set would never come.
    ///         let waiter = s
    ///             .spawn_concurrent(|| {
    ///                 gate.wait(io).unwrap();
    ///                 order.lock().unwrap().push("waiter");
    ///             })
    ///             .expect("a worker is free");
    ///         io.sleep(Duration::from_millis(5), io::Clock::Awake).unwrap();
    ///         order.lock().unwrap().push("setter");
    ///         gate.set();
    ///         waiter.join(io);
    ///     })
    /// });
    /// assert_eq!(*order.lock().unwrap(), ["setter", "waiter"]);
    /// ```
    #[track_caller]
    pub fn spawn_concurrent<F, T>(&self, call: F) -> Result<Future<'_, T>, ConcurrencyUnavailable>
    where
        F: FnOnce() -> T + Send + 'env,
        T: Send + 'env,
    {
        self.spawn(call, SpawnKind::Concurrent)
    }

    /// Marks the body as being left (see `__private::body_ends`).
    pub(crate) fn body_ends(&self) {
        self.core.ending.store(true, Ordering::Release);
    }

    /// A new [`Group`] owned by this scope, for tasks that return `T` (inferred from the
    /// spawns; `()` for tasks run for their effect).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let mut squares = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         for n in 1..=4u32 {
    ///             group.spawn(io, move || n * n);
    ///         }
    ///         let mut squares = Vec::new();
    ///         while let Some(square) = group.next(io).unwrap() {
    ///             squares.push(square);
    ///         }
    ///         squares
    ///     })
    /// });
    /// squares.sort();
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// ```
    pub fn group<T: Send + 'env>(&self) -> Group<'_, 'env, T> {
        Group::new(&self.core)
    }

    #[track_caller]
    fn spawn<F, T>(&self, call: F, kind: SpawnKind) -> Result<Future<'_, T>, ConcurrencyUnavailable>
    where
        F: FnOnce() -> T + Send + 'env,
        T: Send + 'env,
    {
        let at = Location::caller();
        let waiters = || Completion::Waiters(SpinLock::default());
        // SAFETY: the scope waits for the task and drops its result before 'env ends (see the
        // module documentation); `write_new` writes the whole task into the cell's place.
        let (registered, erased, typed) =
            unsafe { TaskRef::new_pair(|place| Task::write_new(place, call, at, waiters)) };
        let typed: NonNull<dyn ResultCell<T> + '_> = typed;
        let slot = self.core.registry.insert(registered);
        if let Err(unavailable) = self.core.dispatch(erased, kind) {
            self.core.release(slot);
            return Err(unavailable);
        }
        Ok(Future::new(typed, &self.core, slot))
    }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        self.core.finish();
        // What the thread keeps of its tasks' memory for the next spawns shrinks back as the
        // scope ends (see `task_cell`).
        crate::task_cell::scope_closed();
        crate::task::trim_spares();
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
    /// Runs `f` with a new [`Scope`]: every task spawned on it that still runs is canceled (all
    /// at once) and joined (newest first) before `scope` returns. This is the closure form of
    /// `scope!`.
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
