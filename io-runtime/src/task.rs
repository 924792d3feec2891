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
use std::cell::{Cell, RefCell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::{self, AssertUnwindSafe, Location};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::cancel::CancelState;
use crate::loom::{AtomicPtr as LoomAtomicPtr, AtomicUsize as LoomAtomicUsize};
use crate::park::Parker;
use crate::spin_lock::SpinLock;
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
    /// A task this one runs inline on its own thread right now, or whose offloaded call it
    /// waits for (see `join::Link`): canceling this task cancels that one too. Written only by
    /// this task, read by any thread that cancels it and by the deadlock monitor. A task run
    /// inline enters its parent's slot only once it reaches a cancellation point or blocks
    /// ([`publish_inline_links`](Self::publish_inline_links)).
    inline_child: InlineSlot<TaskCtx>,
    /// The task that runs this one inline on its thread right now (or waits for it as its
    /// offloaded call), if any: its `timeout` deadlines apply here too (see `block::check`).
    /// Written by that task around the run (`join::Link`), read only by this task while it
    /// runs; null when unlinked.
    inline_parent: AtomicPtr<TaskCtx>,
    /// Whether this task is in its inline parent's `inline_child` slot now, and what that slot
    /// held before (restored when the link ends). Touched only by the thread that runs the
    /// task inline (for an offloaded call: by its waiter, before the call starts and after it
    /// ended).
    published: AtomicBool,
    outer: AtomicPtr<TaskCtx>,
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
    /// A fresh context. Only ever used to fill an `Arc` (see [`arc_of`](Self::arc_of)).
    pub(crate) fn new(spawned_at: &'static Location<'static>) -> Self {
        Self {
            cancel: CancelState::default(),
            parker: Parker::default(),
            spawned_at,
            inline_child: InlineSlot::new(),
            inline_parent: AtomicPtr::new(std::ptr::null_mut()),
            published: AtomicBool::new(false),
            outer: AtomicPtr::new(std::ptr::null_mut()),
            deadlines: Deadlines::default(),
            no_unwind: AtomicUsize::new(0),
            deadlock_report: Mutex::new(None),
            reported: AtomicBool::new(false),
            limit: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Makes the context of a finished task, which nothing else references, as good as
    /// [`new`](Self::new) for the next task, keeping the memory it allocated (its deadline
    /// frames): a few stores instead of building and copying a whole context. Lists every
    /// field, so a field added to the context is not forgotten here.
    fn renew(&mut self, spawned_at: &'static Location<'static>) {
        let Self {
            cancel,
            parker,
            spawned_at: at,
            inline_child,
            inline_parent,
            published,
            outer,
            deadlines,
            no_unwind,
            deadlock_report,
            reported,
            limit,
        } = self;
        *cancel = CancelState::default();
        parker.renew();
        *at = spawned_at;
        *inline_child = InlineSlot::new();
        *inline_parent.get_mut() = std::ptr::null_mut();
        *published.get_mut() = false;
        *outer.get_mut() = std::ptr::null_mut();
        deadlines.renew();
        *no_unwind.get_mut() = 0;
        deadlock_report.clear_poison();
        *deadlock_report.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        *reported.get_mut() = false;
        *limit.get_mut() = std::ptr::null_mut();
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
        // The common case, nothing held (a task whose backend ran it inline, or whose unit its
        // end gave back already), costs a load and no read-modify-write. Only `hold_limit`
        // stores a non-null pointer, before the task is shared, so a null seen here stays null.
        if self.limit.load(Ordering::Acquire).is_null() {
            return;
        }
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

    /// Puts `child` in this task's `inline_child` slot, where other threads see it: this
    /// task (the current one) runs `child` inline, or waits for it as its offloaded call, and
    /// `child` is alive until [`unpublish_inline_child`](Self::unpublish_inline_child). A
    /// cancel this task already has is passed on.
    ///
    /// The slot is written with a read-modify-write: a canceler that requested the cancel of
    /// this task and then found no child synchronized with it, so the check of the request
    /// that follows sees that request (see `InlineSlot`'s protocol and its loom models).
    pub(crate) fn publish_inline_child(&self, child: &TaskCtx) {
        let outer = self.inline_child.replace(child, false);
        child.outer.store(outer.cast_mut(), Ordering::Relaxed);
        child.published.store(true, Ordering::Relaxed);
        if self.cancel.check().is_err() {
            crate::cancel::cancel_task(child);
        }
    }

    /// Takes `child` out of this task's slot again, if it was published there, restoring what
    /// the slot held before; returns once no other thread still reads `child`, which may
    /// therefore be freed as soon as this returns.
    pub(crate) fn unpublish_inline_child(&self, child: &TaskCtx) {
        // A load and a store: only the thread that runs `child` inline touches the flag.
        if child.published.load(Ordering::Relaxed) {
            child.published.store(false, Ordering::Relaxed);
            let outer = child.outer.load(Ordering::Relaxed);
            self.inline_child.replace(outer, true);
        }
    }

    /// Publishes the links of the inline runs the current task is in (this task in its
    /// parent's slot, the parent in its own parent's, …), outermost first, passing on a cancel
    /// a parent already has. Called at every cancellation point and before every block of the
    /// current task (`block::check`, `block::park_ctx`, a blocking system call): a task run
    /// inline that reaches none of them can neither observe a cancel nor be woken by one, so
    /// it is never published, and its run costs no read-modify-write for the link. For any
    /// task but the current one, and once published, this is a few loads.
    pub(crate) fn publish_inline_links(&self) {
        if self.inline_parent.load(Ordering::Relaxed).is_null()
            || self.published.load(Ordering::Relaxed)
            || !std::ptr::eq(self, current_ptr())
        {
            return;
        }
        // SAFETY: `self` is the current task (checked above).
        unsafe { publish_from(self) }
    }

    /// Calls `f` with the task this one runs inline right now, if any; the child stays alive
    /// (its parent cannot finish unlinking it) until `f` returns. Any thread may call this.
    pub(crate) fn with_inline_child<R>(&self, f: impl FnOnce(Option<&TaskCtx>) -> R) -> R {
        self.inline_child.with(f)
    }

    /// The first `Some` that `f` returns for the chain of tasks run inline below this one
    /// (this one, the task it runs inline, the task that one runs inline, …), innermost first.
    pub(crate) fn find_inline_innermost_first<R>(
        &self,
        f: &mut dyn FnMut(&TaskCtx) -> Option<R>,
    ) -> Option<R> {
        self.with_inline_child(|child| child.and_then(|child| child.find_inline_innermost_first(f)))
            .or_else(|| f(self))
    }

    /// A new counted reference to `ctx`.
    ///
    /// # Safety
    /// `ctx` is alive and lives in an `Arc` — every context does: `TaskCtx::new` is only ever
    /// called to fill an `Arc` (a task's `OwnedCtx`, a runtime's root, a thread's `FOREIGN`).
    pub(crate) unsafe fn arc_of(ctx: &TaskCtx) -> Arc<TaskCtx> {
        let ptr = std::ptr::from_ref(ctx);
        // SAFETY: the caller's contract: `ptr` is the pointer of a live Arc; incrementing the
        // count before `from_raw` leaves that Arc's own count untouched.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    /// Sets (or clears) the task that runs this one inline (see `join::Link`).
    pub(crate) fn set_inline_parent(&self, parent: Option<&TaskCtx>) {
        let parent = parent.map_or(std::ptr::null_mut(), |p| std::ptr::from_ref(p).cast_mut());
        self.inline_parent.store(parent, Ordering::Release);
    }

    /// The tasks this one runs on behalf of, innermost first: the task that runs it inline
    /// (or waits for it as its offloaded call), the task that runs that one, and so on. Only
    /// for the current task of this thread — for any other task this yields nothing, since
    /// only the current task's parents are sure to be alive. Use the references within the
    /// call that asked for them.
    pub(crate) fn inline_parents(&self) -> InlineParents<'_> {
        if !std::ptr::eq(self, current_ptr()) {
            return InlineParents { next: None };
        }
        // SAFETY: `self` is the current task (checked above), whose parents are alive while it
        // runs (see `parent_of`).
        let next = unsafe { parent_of(self) };
        InlineParents { next }
    }
}

/// Publishes `child` in its parent's slot, the parent first (see
/// [`TaskCtx::publish_inline_links`]). A published task's parents are published too: they
/// were published first, and stay so until their own runs end, after `child`'s.
///
/// # Safety
/// As for [`parent_of`].
unsafe fn publish_from(child: &TaskCtx) {
    if child.published.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: the caller's contract.
    let Some(parent) = (unsafe { parent_of(child) }) else {
        return;
    };
    // SAFETY: `parent` was reached from the current task through `parent_of`.
    unsafe { publish_from(parent) };
    parent.publish_inline_child(child);
}

/// The task that runs `ctx` inline right now (or waits for it as its offloaded call), if any.
///
/// # Safety
/// `ctx` is the current task of this thread, or a task reached from it through this function:
/// a linked parent waits (in `join::run_inline` or `Io::offload`) until the task it links has
/// finished running, and undoes the link only then, so while the current task runs its parent
/// (and that parent's own parent) is alive and its link does not change.
unsafe fn parent_of<'a>(ctx: &TaskCtx) -> Option<&'a TaskCtx> {
    let parent = ctx.inline_parent.load(Ordering::Acquire);
    // SAFETY: the caller's contract: a non-null parent is alive while the current task runs.
    unsafe { parent.as_ref() }
}

/// The iterator of [`TaskCtx::inline_parents`].
pub(crate) struct InlineParents<'a> {
    next: Option<&'a TaskCtx>,
}

impl<'a> Iterator for InlineParents<'a> {
    type Item = &'a TaskCtx;

    fn next(&mut self) -> Option<&'a TaskCtx> {
        let parent = self.next?;
        // SAFETY: `parent` was reached from the current task through `parent_of`.
        self.next = unsafe { parent_of(parent) };
        Some(parent)
    }
}

/// A pointer slot with lock-free readers: the owner replaces the pointer, and other threads
/// may read the pointee while it is in the slot. Used for `TaskCtx::inline_child`.
///
/// # Protocol
/// A reader pins the slot (`readers` + 1), then reads the pointer with a read-modify-write,
/// uses it, and unpins. The owner swaps a pointer out; when the pointee may be freed afterwards
/// (`settle`), it then loads `readers` (acquire) until it is 0. If a reader's read of the
/// pointer came before the swap in the pointer's modification order, the swap reads from it
/// or from a later read-modify-write of its release sequence (all accesses to the pointer are
/// read-modify-writes) and so synchronizes with it: the reader's pin happens before the
/// owner's load, which by coherence reads the pin or a later count — one that includes the pin
/// until the reader unpins (release, continued by every later read-modify-write of the count),
/// after which the owner (acquire) may free the pointee. A reader that came after the swap
/// reads the new pointer. No `SeqCst` is relied on (loom checks this in `task::loom_tests`).
pub(crate) struct InlineSlot<T> {
    ptr: LoomAtomicPtr<T>,
    readers: LoomAtomicUsize,
}

impl<T> std::fmt::Debug for InlineSlot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineSlot").finish_non_exhaustive()
    }
}

impl<T> InlineSlot<T> {
    pub(crate) fn new() -> Self {
        Self {
            ptr: LoomAtomicPtr::new(std::ptr::null_mut()),
            readers: LoomAtomicUsize::new(0),
        }
    }

    /// Puts `new` in the slot and returns the pointer it held. With `settle`, returns only
    /// once no reader still uses that pointer. Only the slot's owner calls this (one thread at
    /// a time); `new` must stay alive until it is replaced again.
    pub(crate) fn replace(&self, new: *const T, settle: bool) -> *const T {
        let old = self.ptr.swap(new.cast_mut(), Ordering::AcqRel);
        if settle {
            let mut spins = 0u32;
            // A load suffices: every pin whose reader saw the old pointer happens before it
            // (see the protocol above).
            while self.readers.load(Ordering::Acquire) != 0 {
                spins = spins.saturating_add(1);
                crate::loom::backoff(spins);
            }
        }
        old
    }

    /// Calls `f` with the pointee of the slot, if any; the owner cannot settle a replacement of
    /// it until `f` returned.
    pub(crate) fn with<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        struct Unpin<'a>(&'a LoomAtomicUsize);
        impl Drop for Unpin<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Release);
            }
        }
        self.readers.fetch_add(1, Ordering::AcqRel);
        let _unpin = Unpin(&self.readers);
        // A read-modify-write (a compare-exchange that writes what it read), not a load: see
        // the protocol above.
        let mut seen = self.ptr.load(Ordering::Acquire);
        let ptr = loop {
            match self
                .ptr
                .compare_exchange(seen, seen, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(ptr) => break ptr,
                Err(now) => seen = now,
            }
        };
        // SAFETY: the owner keeps a pointer it put in the slot alive until it replaced it with
        // `settle` (`replace`'s contract), which waits for this pin, taken before the read.
        f(unsafe { ptr.as_ref() })
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
    Waiters(SpinLock<Waiters>),
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
    fn run(&self) -> bool {
        if !self.claim() {
            return false;
        }
        // SAFETY: the claim above succeeded, and this is its one run.
        unsafe { self.run_claimed() };
        true
    }
    /// Claims the task for this caller (`QUEUED → RUNNING`); `false` if another runner
    /// already did. A successful claim must be followed by one [`run_claimed`](Self::run_claimed).
    fn claim(&self) -> bool;
    /// [`claim`](Self::claim) for a task that no other runner can reach: a load and a store,
    /// no read-modify-write. `false` if a runner already claimed it.
    ///
    /// # Safety
    /// Every runner that could claim the task runs on this thread, and none runs meanwhile.
    unsafe fn claim_unshared(&self) -> bool;
    /// Runs the call of a task this caller claimed, on this thread, and stores its result.
    ///
    /// # Safety
    /// The caller's [`claim`](Self::claim) returned `true`, and it calls this once.
    unsafe fn run_claimed(&self);
    /// [`run_claimed`](Self::run_claimed) for a task that nobody can wait on while it runs: it
    /// publishes its end without taking its waiter list's lock, and wakes no waiter.
    ///
    /// # Safety
    /// As `run_claimed`; and no waiter is registered ([`add_waiter`](Self::add_waiter)) until
    /// it returns, nor was one before that still waits: the caller owns the task's handle by
    /// value (a join, a cancel or a handle's drop — so no `&Future` exists for a select to
    /// register through), or no handle exists (a spawn run inline, a scope's end).
    unsafe fn run_claimed_unobserved(&self);
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

thread_local! {
    /// Contexts of finished tasks that nothing else references, for the next tasks spawned on
    /// this thread: a spawn then allocates none. As many as the thread keeps task cells
    /// (`task_cell::keep_limit`): 64 (~12 KiB, a context is ~180 bytes) outside scopes, up to
    /// 1 024 while a scope is open on the thread, trimmed back to 64 as it ends
    /// ([`trim_spares`]), so that a scope's end still gives back nearly all the memory of its
    /// tasks (`tests/compose_memory.rs` holds it to under 64 KiB across a runtime's threads).
    static SPARE: RefCell<Vec<Arc<TaskCtx>>> = const { RefCell::new(Vec::new()) };
}

/// A scope ended on this thread: keep at most `task_cell::KEEP` spare contexts.
pub(crate) fn trim_spares() {
    trim_spares_to(crate::task_cell::KEEP);
}

/// `Runtime::run` returns on this thread: give back every spare context and cached task cell,
/// so that a run leaves the calling thread's memory as it found it.
pub(crate) fn release_thread_caches() {
    trim_spares_to(0);
    crate::task_cell::release_cache();
}

fn trim_spares_to(keep: usize) {
    let trimmed = SPARE.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        let excess = spare.len().saturating_sub(keep);
        let trimmed: Vec<_> = spare.drain(..excess).collect();
        if spare.capacity() > 2 * keep {
            spare.shrink_to(keep);
        }
        trimmed
    });
    // Dropped after the borrow ends.
    drop(trimmed);
}

/// The context of a task, owned by its cell: taken from this thread's spares if there is one,
/// and given back to them when the cell is dropped and no one else holds the context.
pub(crate) struct OwnedCtx(ManuallyDrop<Arc<TaskCtx>>);

impl OwnedCtx {
    fn new(spawned_at: &'static Location<'static>) -> Self {
        let spare = SPARE
            .try_with(|spare| spare.borrow_mut().pop())
            .ok()
            .flatten();
        if let Some(ctx) = spare {
            // SAFETY: the Arc is the only reference to the context: it went to the spares only
            // once its count was one and it had no `Weak`, after an acquire fence that orders
            // every earlier holder's use before this write (see `drop`); a context in the
            // spares cannot be cloned, since nothing else references it. So these writes are the
            // only accesses (what `Arc::get_mut` would check again with a read-modify-write).
            unsafe { (*Arc::as_ptr(&ctx).cast_mut()).renew(spawned_at) };
            return Self(ManuallyDrop::new(ctx));
        }
        Self(ManuallyDrop::new(Arc::new(TaskCtx::new(spawned_at))))
    }
}

impl Deref for OwnedCtx {
    type Target = Arc<TaskCtx>;

    fn deref(&self) -> &Arc<TaskCtx> {
        &self.0
    }
}

impl Drop for OwnedCtx {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the field is not used again.
        let ctx = unsafe { ManuallyDrop::take(&mut self.0) };
        // Loads only: the Arc cannot gain a reference while these run, since this is the last
        // one (a waiter list or a parked table that held another dropped it; everything that
        // clones the context holds a reference already), and no `Weak` of a context is ever
        // made.
        if Arc::strong_count(&ctx) != 1 || Arc::weak_count(&ctx) != 0 {
            return;
        }
        // The count of one was written by the other holders' drops (release decrements):
        // their uses of the context happen before `OwnedCtx::new` rewrites it.
        std::sync::atomic::fence(Ordering::Acquire);
        // A context the spares have no room for is dropped after the borrow ends.
        let limit = crate::task_cell::keep_limit();
        let _rejected = SPARE.try_with(move |spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < limit {
                spare.push(ctx);
                None
            } else {
                Some(ctx)
            }
        });
    }
}

/// A spawned call `F` producing `T`.
pub(crate) struct Task<F, T> {
    state: AtomicU8,
    ctx: OwnedCtx,
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
    /// Writes a new task into `place`, field by field: built on the stack and copied, the
    /// task would be read back with wide loads across the narrow stores that just wrote it,
    /// which stalls the processor until those stores land.
    ///
    /// # Safety
    /// `place` is valid for writes of `Self` and aligned (an uninitialised cell).
    pub(crate) unsafe fn write_new(
        place: *mut Self,
        func: F,
        spawned_at: &'static Location<'static>,
        done: impl FnOnce() -> Completion,
    ) {
        // SAFETY: the caller's contract: every field of `place` may be written.
        unsafe {
            ptr::addr_of_mut!((*place).state).write(AtomicU8::new(QUEUED));
            ptr::addr_of_mut!((*place).ctx).write(OwnedCtx::new(spawned_at));
            ptr::addr_of_mut!((*place).func).write(UnsafeCell::new(Some(func)));
            ptr::addr_of_mut!((*place).result).write(UnsafeCell::new(None));
            ptr::addr_of_mut!((*place).completion).write(done());
        }
    }

    /// Runs `func` (claimed by this runner) and writes its outcome into `result` in place —
    /// the value as the call returns it, or the panic it raised. Every panic of the call, a
    /// deadlock report included, becomes the task's result: none may unwind into the worker
    /// or the event loop that runs the task.
    fn call(&self, func: F) {
        let result = self.result.get();
        let caught = enter(&self.ctx, || {
            panic::catch_unwind(AssertUnwindSafe(|| {
                let value = func();
                // SAFETY: only the runner writes `result`, before DONE; it holds `None`, so
                // there is nothing to drop.
                unsafe { result.write(Some(Ok(value))) };
            }))
        });
        if let Err(payload) = caught {
            // SAFETY: as above; the call panicked before it wrote anything.
            unsafe { result.write(Some(Err(payload))) };
        }
    }

    /// Runs the claimed call and publishes its end (`observed`: see [`finish`](Self::finish)).
    ///
    /// # Safety
    /// The caller's claim made this thread the only runner, and it runs the task once.
    #[inline(always)]
    unsafe fn run_once(&self, observed: bool) {
        // SAFETY: the caller's contract: nobody else touches `func`.
        let func = unsafe { (*self.func.get()).take() }.expect("io: task claimed twice");
        self.call(func);
        self.finish(observed);
    }

    /// Publishes `DONE` (the outcome is in `result`). `observed`: whether a waiter may register
    /// meanwhile (see [`RawTask::run_claimed_unobserved`]).
    fn finish(&self, observed: bool) {
        self.ctx.release_limit();
        match &self.completion {
            // No waiter to wake and none registering (the caller's contract): no lock. A
            // registration a selector left behind is dropped with the cell.
            Completion::Waiters(_) if !observed => self.state.store(DONE, Ordering::Release),
            Completion::Waiters(waiters) => {
                let waiting = {
                    // Under the lock, so that a waiter either sees DONE or is in the list.
                    let mut waiters = waiters.lock();
                    self.state.store(DONE, Ordering::Release);
                    waiters.take()
                };
                for waiter in waiting {
                    waiter.parker.unpark();
                }
            }
            Completion::Group { notify, id, keep } => {
                if *keep {
                    self.state.store(DONE, Ordering::Release);
                    notify(*id, None);
                } else {
                    // SAFETY: we are the runner; nobody reads `result` before DONE is published.
                    let outcome = unsafe { (*self.result.get()).take() };
                    self.state.store(DONE, Ordering::Release);
                    notify(*id, outcome.and_then(Result::err));
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
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    unsafe fn claim_unshared(&self) -> bool {
        // The caller's contract: no other thread claims, so the load and the store do what the
        // compare-exchange would.
        if self.state.load(Ordering::Relaxed) != QUEUED {
            return false;
        }
        self.state.store(RUNNING, Ordering::Relaxed);
        true
    }

    unsafe fn run_claimed(&self) {
        // SAFETY: forwarded: the caller's claim made this thread the only runner, once.
        unsafe { self.run_once(true) }
    }

    unsafe fn run_claimed_unobserved(&self) {
        // SAFETY: forwarded, as in `run_claimed`.
        unsafe { self.run_once(false) }
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
        let mut waiters = waiters.lock();
        if self.is_done() {
            return false;
        }
        waiters.add(waiter);
        true
    }

    fn remove_waiter(&self, waiter: &Arc<TaskCtx>) {
        if let Completion::Waiters(waiters) = &self.completion {
            waiters.lock().remove(waiter);
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

/// Loom models of [`InlineSlot`], the lock-free link from a task to the task it runs inline:
/// a reader never uses a child that its parent unlinked and then freed, and a cancel that races
/// with the link always reaches the child (either the canceler finds it, or the linker sees the
/// request). Run with `RUSTFLAGS="--cfg loom" cargo test -p io-runtime --release --lib
/// loom_tests` (see `crate::loom`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;

    /// A linked child: `alive` goes false when its owner frees it, and `memory` stands for its
    /// memory, which the free overwrites (loom reports a read that the free does not
    /// happen after); `canceled` is set when a cancel reached it.
    struct Child {
        alive: AtomicBool,
        memory: loom::cell::UnsafeCell<u64>,
        canceled: AtomicBool,
    }

    impl Child {
        fn new() -> Self {
            Self {
                alive: AtomicBool::new(true),
                memory: loom::cell::UnsafeCell::new(1),
                canceled: AtomicBool::new(false),
            }
        }
    }

    /// Model 1: the owner links a child, unlinks it with `settle` and then "frees" it (a
    /// `Relaxed` store and a write of its memory: only the protocol orders them after the
    /// reader's use); a reader on another thread that finds the child must never see it freed,
    /// nor read its memory concurrently with the free. Fails when any ordering of the
    /// protocol is weakened: the reader's read or unpin, the owner's swap or its settle.
    #[test]
    fn an_unlinked_child_is_not_read_after_it_is_freed() {
        crate::loom::model(|| {
            let slot = Arc::new(InlineSlot::<Child>::new());
            let child = Arc::new(Child::new());
            let reader = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || {
                    slot.with(|child| {
                        if let Some(child) = child {
                            assert!(child.alive.load(Ordering::Relaxed), "read after free");
                            // SAFETY: loom checks this access against the free for races.
                            let memory = child.memory.with(|m| unsafe { *m });
                            assert_eq!(memory, 1, "read after free");
                        }
                    });
                })
            };
            let outer = slot.replace(&*child, false);
            assert!(outer.is_null());
            let unlinked = slot.replace(outer, true);
            assert!(std::ptr::eq(unlinked, &*child));
            child.alive.store(false, Ordering::Relaxed);
            // SAFETY: loom checks this access against the reader's for races.
            child.memory.with_mut(|m| unsafe { *m = 0 });
            reader.join().unwrap();
        });
    }

    /// Model 2: a cancel races with linking a child. The canceler requests, then passes the
    /// cancel on to the child it finds; the linker links, then passes on a request it sees
    /// (as `TaskCtx::publish_inline_child` does). Either way the child is canceled.
    #[test]
    fn a_cancel_racing_with_the_link_reaches_the_child() {
        crate::loom::model(|| {
            let slot = Arc::new(InlineSlot::<Child>::new());
            let requested = Arc::new(AtomicBool::new(false));
            let child = Arc::new(Child::new());
            let canceler = {
                let (slot, requested) = (Arc::clone(&slot), Arc::clone(&requested));
                thread::spawn(move || {
                    requested.swap(true, Ordering::SeqCst);
                    slot.with(|child| {
                        if let Some(child) = child {
                            child.canceled.store(true, Ordering::Relaxed);
                        }
                    });
                })
            };
            let outer = slot.replace(&*child, false);
            if requested.load(Ordering::SeqCst) {
                child.canceled.store(true, Ordering::Relaxed);
            }
            canceler.join().unwrap();
            slot.replace(outer, true);
            assert!(
                child.canceled.load(Ordering::Relaxed),
                "the cancel was lost"
            );
        });
    }
}
