//! Tasks: the type-erased cell that holds a spawned call and its result, and the per-task
//! context (cancel state, parker) that the current thread runs on behalf of.
//!
//! # Task states
//! - `QUEUED`: created; the call has not started. Set at spawn.
//! - `RUNNING`: claimed by exactly one runner (a worker, a spare thread, or a joiner that runs
//!   it inline). Set by the winning compare-exchange in [`RawTask::run`].
//! - `DONE`: the result (or the caught panic) is stored. Set by the runner, after which the
//!   runner never touches the call or the result again.
//!
//! # Field ownership
//! `func` belongs to the runner that won `QUEUED → RUNNING`; `result` is written by that runner
//! before `DONE` (release) and read only by the single owner of the task (its handle, or the
//! scope that outlives a forgotten handle) after observing `DONE` (acquire).

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::cancel::CancelState;
use crate::park::Parker;
use crate::time::Deadlines;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;

/// A caught panic, resumed at the join.
pub(crate) type Panic = Box<dyn Any + Send + 'static>;

/// What the current thread is running: cancel state and parker of one task.
#[derive(Debug)]
pub(crate) struct TaskCtx {
    pub(crate) cancel: CancelState,
    pub(crate) parker: Parker,
    /// Where the task was spawned (`#[track_caller]`), for diagnostics.
    pub(crate) spawned_at: &'static Location<'static>,
    /// A task this one runs inline on its own thread right now (see `join::run_inline`):
    /// canceling this task cancels that one too.
    inline_child: Mutex<Option<Arc<TaskCtx>>>,
    /// The task that runs this one inline on its thread right now, if any: its `timeout`
    /// deadlines apply here too (see `block::check`).
    inline_parent: Mutex<Option<Arc<TaskCtx>>>,
    /// Deadlines of the `Io::timeout` calls the task is inside (see `block`).
    pub(crate) deadlines: Deadlines,
    /// How many regions that must not unwind (a scope's end) the task is inside: the deadlock
    /// monitor never delivers its report to such a task as a panic.
    no_unwind: AtomicUsize,
    /// The deadlock report this task panicked with, for the task that ran it inline to raise
    /// again (see `join::run_inline`).
    deadlock_report: Mutex<Option<String>>,
    /// Whether `deadlock_report` holds a report (read without the lock).
    reported: AtomicBool,
    /// The spawn-limit counter (`async_limit`, `concurrent_limit`) this task holds one unit of,
    /// or null. Given back as the task finishes, before its waiters wake, so that a joiner that
    /// spawns again at once finds the unit free — whoever runs the task.
    limit: AtomicPtr<AtomicUsize>,
}

impl TaskCtx {
    pub(crate) fn new(spawned_at: &'static Location<'static>) -> Self {
        Self {
            cancel: CancelState::default(),
            parker: Parker::default(),
            spawned_at,
            inline_child: Mutex::new(None),
            inline_parent: Mutex::new(None),
            deadlines: Deadlines::default(),
            no_unwind: AtomicUsize::new(0),
            deadlock_report: Mutex::new(None),
            reported: AtomicBool::new(false),
            limit: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Records that the task holds one unit of the spawn-limit `counter` (already claimed).
    ///
    /// The counter must outlive the task's end: backends keep their counters for as long as
    /// tasks of theirs can run (every task ends before `Runtime::run` returns).
    pub(crate) fn hold_limit(&self, counter: &AtomicUsize) {
        let counter = std::ptr::from_ref(counter).cast_mut();
        self.limit.store(counter, Ordering::Release);
    }

    /// Gives back the unit of a spawn limit the task holds, if it still holds one. Idempotent:
    /// the task's end and its backend may both call it.
    pub(crate) fn release_limit(&self) {
        let counter = self.limit.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: a non-null pointer was stored by `hold_limit`, whose caller guarantees that
        // the counter outlives the task's end; the swap hands it to exactly one caller.
        if let Some(counter) = unsafe { counter.as_ref() } {
            counter.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Runs `f` in a region that must not unwind (a scope's end): a panic that escapes it
    /// anyway aborts the process, since unwinding on would leave tasks running on borrows
    /// that are about to end.
    pub(crate) fn without_unwinding<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Region<'a> {
            depth: &'a AtomicUsize,
            left: bool,
        }
        impl Drop for Region<'_> {
            fn drop(&mut self) {
                self.depth.fetch_sub(1, Ordering::Release);
                if !self.left {
                    eprintln!(
                        "io: a panic escaped the end of a scope whose tasks still run; \
                         aborting, because unwinding on would let them outlive their borrows"
                    );
                    std::process::abort();
                }
            }
        }
        self.no_unwind.fetch_add(1, Ordering::Acquire);
        let mut region = Region {
            depth: &self.no_unwind,
            left: false,
        };
        let value = f();
        region.left = true;
        value
    }

    /// Whether a panic may unwind from where the task is parked now.
    pub(crate) fn may_unwind(&self) -> bool {
        self.no_unwind.load(Ordering::Acquire) == 0
    }

    /// Records the deadlock report this task is about to panic with.
    pub(crate) fn set_deadlock_report(&self, report: String) {
        *self
            .deadlock_report
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(report);
        self.reported.store(true, Ordering::Release);
    }

    /// Takes the deadlock report this task panicked with, if any. Called after every inline
    /// run: the common answer, none, costs one load.
    pub(crate) fn take_deadlock_report(&self) -> Option<String> {
        if !self.reported.load(Ordering::Acquire) || !self.reported.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.deadlock_report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Sets (or clears) the task this one runs inline; returns the previous one.
    pub(crate) fn swap_inline_child(&self, child: Option<Arc<TaskCtx>>) -> Option<Arc<TaskCtx>> {
        std::mem::replace(
            &mut *self.inline_child.lock().unwrap_or_else(|e| e.into_inner()),
            child,
        )
    }

    /// Sets (or clears) the task that runs this one inline.
    pub(crate) fn set_inline_parent(&self, parent: Option<Arc<TaskCtx>>) {
        *self.inline_parent.lock().unwrap_or_else(|e| e.into_inner()) = parent;
    }

    /// The task that runs this one inline right now, if any.
    pub(crate) fn inline_parent(&self) -> Option<Arc<TaskCtx>> {
        self.inline_parent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The task this one runs inline right now, if any.
    pub(crate) fn inline_child(&self) -> Option<Arc<TaskCtx>> {
        self.inline_child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

thread_local! {
    static CURRENT: Cell<*const TaskCtx> = const { Cell::new(std::ptr::null()) };
    static FOREIGN: Arc<TaskCtx> = Arc::new(TaskCtx::new(Location::caller()));
}

/// In the child of a `fork` (see `crate::fork`): the thread runs no task; code on it gets the
/// thread's own never-canceled context (`FOREIGN`, which holds no per-process resource and is
/// kept: replacing it would allocate). Only a store to a `const` thread-local without
/// destructor.
pub(crate) fn reset_after_fork() {
    CURRENT.set(std::ptr::null());
}

/// The current task of this thread, as a raw pointer (for a fiber to save across a switch).
pub(crate) fn current_ptr() -> *const TaskCtx {
    CURRENT.with(Cell::get)
}

/// Restores a pointer saved by [`current_ptr`] on the same thread, while the task it points
/// to is still kept alive by its `enter` frame (which is suspended on a fiber stack).
pub(crate) fn set_current_ptr(ptr: *const TaskCtx) {
    CURRENT.with(|c| c.set(ptr));
}

/// Runs `f` with `ctx` as the current task of this thread, restoring the previous one after
/// (also on unwind).
pub(crate) fn enter<R>(ctx: &Arc<TaskCtx>, f: impl FnOnce() -> R) -> R {
    struct Restore(*const TaskCtx);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let previous = CURRENT.with(|c| c.replace(Arc::as_ptr(ctx)));
    let _restore = Restore(previous);
    f()
}

/// Calls `f` with the context of the task running on this thread. A thread that runs no task
/// (a thread the user started) gets a context of its own that is never canceled.
pub(crate) fn with_current<R>(f: impl FnOnce(&TaskCtx) -> R) -> R {
    let ptr = CURRENT.with(Cell::get);
    if ptr.is_null() {
        FOREIGN.with(|ctx| f(ctx))
    } else {
        // SAFETY: `enter` keeps the Arc behind `ptr` alive for as long as it is current.
        f(unsafe { &*ptr })
    }
}

/// Clones the Arc of the current task's context (to park in a wait list).
pub(crate) fn current_arc() -> Arc<TaskCtx> {
    let ptr = CURRENT.with(Cell::get);
    if ptr.is_null() {
        FOREIGN.with(Arc::clone)
    } else {
        // SAFETY: `ptr` came from `Arc::as_ptr` of an Arc kept alive by `enter`; incrementing
        // the count before `from_raw` leaves that Arc's own count untouched.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }
}

/// Drops a panic payload whose own `Drop` may panic. A payload that panics while being
/// dropped is leaked instead of dropped in turn: no panic may escape into a scheduler or out
/// of a scope's end, and such a payload is a bug of its own that cannot be cleaned up.
pub(crate) fn drop_payload(payload: Panic) {
    if let Some(second) = drop_catching(payload) {
        std::mem::forget(second);
    }
}

/// Drops `value`, returning the panic of its `Drop`, if any.
pub(crate) fn drop_catching<T>(value: T) -> Option<Panic> {
    panic::catch_unwind(AssertUnwindSafe(move || drop(value))).err()
}

/// The tasks waiting for one task to finish. Almost always one (its joiner) or none, so the
/// first waits inline and only more selectors allocate.
#[derive(Default)]
pub(crate) struct Waiters {
    first: Option<Arc<TaskCtx>>,
    more: Vec<Arc<TaskCtx>>,
}

impl Waiters {
    /// Adds `waiter` unless it is already here.
    fn add(&mut self, waiter: &Arc<TaskCtx>) {
        let is = |w: &Arc<TaskCtx>| Arc::ptr_eq(w, waiter);
        match &self.first {
            None => self.first = Some(Arc::clone(waiter)),
            Some(first) if is(first) => {}
            Some(_) if self.more.iter().any(is) => {}
            Some(_) => self.more.push(Arc::clone(waiter)),
        }
    }

    /// Removes `waiter`, if it is here.
    fn remove(&mut self, waiter: &Arc<TaskCtx>) {
        if self.first.as_ref().is_some_and(|w| Arc::ptr_eq(w, waiter)) {
            self.first = self.more.pop();
        } else {
            self.more.retain(|w| !Arc::ptr_eq(w, waiter));
        }
    }

    /// Takes every waiter out.
    fn take(&mut self) -> impl Iterator<Item = Arc<TaskCtx>> {
        let first = self.first.take();
        first.into_iter().chain(std::mem::take(&mut self.more))
    }
}

/// What happens when a task finishes.
pub(crate) enum Completion {
    /// Handles may be waiting (a joiner, any number of selectors): wake every waiter here.
    Waiters(Mutex<Waiters>),
    /// A group task: tell the group (it reclaims the task). With `keep`, the result (or the
    /// panic) is stored in the cell for the group to hand out, and the group keeps the task
    /// until then; without, the result is dropped here and only a panic reaches the group.
    Group {
        notify: Arc<dyn Fn(usize, Option<Panic>) + Send + Sync>,
        id: usize,
        keep: bool,
    },
}

/// The type-erased interface of a task cell, used by the run queues and the scope registry.
pub(crate) trait RawTask: Send + Sync {
    /// Claims the task and runs its call on this thread; does nothing if another runner
    /// already claimed it. Returns whether this call ran it.
    fn run(&self) -> bool;
    /// The task's context.
    fn ctx(&self) -> &Arc<TaskCtx>;
    /// Whether the result is stored.
    fn is_done(&self) -> bool;
    /// Whether no runner has claimed the task yet.
    fn is_queued(&self) -> bool;
    /// Registers `waiter` to be unparked at completion; `false` if already done. Any number
    /// of tasks may wait on one task; registering twice keeps one entry.
    fn add_waiter(&self, waiter: &Arc<TaskCtx>) -> bool;
    /// Withdraws a registration of `waiter` (a selector that stops waiting).
    fn remove_waiter(&self, waiter: &Arc<TaskCtx>);
    /// Drops the stored result; returns the panic it held, or the panic of its `Drop`, if
    /// any. Never unwinds. Only after `is_done`.
    fn discard_result(&self) -> Option<Panic>;
    /// Moves the stored result out into `out`, which points to an
    /// `Option<std::thread::Result<T>>` of the task's own `T` (a group that knows its tasks'
    /// result type, see `group`).
    ///
    /// # Safety
    /// - `out` is valid for writes of `Option<std::thread::Result<T>>` for this task's `T`.
    /// - The task is done (`is_done` observed) and the caller owns its result.
    unsafe fn take_result_into(&self, out: *mut ());
}

/// A task whose result is a `T`, as its [`Future`](crate::Future) sees it.
pub(crate) trait ResultCell<T>: RawTask {
    /// Takes the result out. Only after `is_done`, once.
    fn take_result(&self) -> std::thread::Result<T>;
    /// The type-erased view.
    fn as_raw(&self) -> &dyn RawTask;
}

/// A spawned call `F` producing `T`.
pub(crate) struct Task<F, T> {
    state: AtomicU8,
    ctx: Arc<TaskCtx>,
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<std::thread::Result<T>>>,
    completion: Completion,
}

// SAFETY: `func` is touched only by the runner that won QUEUED → RUNNING, and `result` only by
// that runner before DONE and by the single owner after DONE (see the module documentation),
// so sharing `&Task` across threads never gives two threads access to the same cell. F and T
// must be Send because they move to the runner's thread and back.
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    pub(crate) fn new(func: F, spawned_at: &'static Location<'static>, done: Completion) -> Self {
        Self {
            state: AtomicU8::new(QUEUED),
            ctx: Arc::new(TaskCtx::new(spawned_at)),
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(None),
            completion: done,
        }
    }

    fn finish(&self, outcome: std::thread::Result<T>) {
        self.ctx.release_limit();
        match &self.completion {
            Completion::Waiters(waiters) => {
                // SAFETY: we are the runner; nobody reads `result` before DONE is published.
                unsafe { *self.result.get() = Some(outcome) };
                let waiting = {
                    // Under the lock, so that a waiter either sees DONE or is in the list.
                    let mut waiters = waiters.lock().unwrap_or_else(|e| e.into_inner());
                    self.state.store(DONE, Ordering::Release);
                    waiters.take()
                };
                for waiter in waiting {
                    waiter.parker.unpark();
                }
            }
            Completion::Group { notify, id, keep } => {
                if *keep {
                    // SAFETY: we are the runner; nobody reads `result` before DONE is published.
                    unsafe { *self.result.get() = Some(outcome) };
                    self.state.store(DONE, Ordering::Release);
                    notify(*id, None);
                } else {
                    self.state.store(DONE, Ordering::Release);
                    notify(*id, outcome.err());
                }
            }
        }
    }
}

impl<F, T> ResultCell<T> for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn take_result(&self) -> std::thread::Result<T> {
        assert!(
            self.is_done(),
            "io: task result taken before the task finished"
        );
        // SAFETY: DONE was observed (acquire), so the runner has stored the result and will
        // not touch it again; the caller is the single owner.
        unsafe { (*self.result.get()).take() }.expect("io: task result taken twice")
    }

    fn as_raw(&self) -> &dyn RawTask {
        self
    }
}

impl<F, T> RawTask for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self) -> bool {
        if self
            .state
            .compare_exchange(QUEUED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: the compare-exchange above made this thread the only runner.
        let func = unsafe { (*self.func.get()).take() }.expect("io: task claimed twice");
        // Every panic of the call — a deadlock report included — becomes the task's result:
        // none may unwind into the worker or the event loop that runs the task.
        let outcome = enter(&self.ctx, || panic::catch_unwind(AssertUnwindSafe(func)));
        self.finish(outcome);
        true
    }

    fn ctx(&self) -> &Arc<TaskCtx> {
        &self.ctx
    }

    fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    fn is_queued(&self) -> bool {
        self.state.load(Ordering::Acquire) == QUEUED
    }

    fn add_waiter(&self, waiter: &Arc<TaskCtx>) -> bool {
        let Completion::Waiters(waiters) = &self.completion else {
            unreachable!("io: group tasks have no handle to wait on")
        };
        let mut waiters = waiters.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_done() {
            return false;
        }
        waiters.add(waiter);
        true
    }

    fn remove_waiter(&self, waiter: &Arc<TaskCtx>) {
        if let Completion::Waiters(waiters) = &self.completion {
            let mut waiters = waiters.lock().unwrap_or_else(|e| e.into_inner());
            waiters.remove(waiter);
        }
    }

    unsafe fn take_result_into(&self, out: *mut ()) {
        let out = out.cast::<Option<std::thread::Result<T>>>();
        // SAFETY: the caller guarantees that `out` holds this task's result type and that the
        // task is done with its result owned by the caller (see the trait method).
        unsafe { *out = (*self.result.get()).take() };
    }

    fn discard_result(&self) -> Option<Panic> {
        if !self.is_done() {
            return None;
        }
        // SAFETY: DONE observed; the caller is the single owner of the result.
        match unsafe { (*self.result.get()).take() } {
            Some(Err(panic)) => Some(panic),
            Some(Ok(value)) => drop_catching(value),
            None => None,
        }
    }
}
