//! [`Future`]: the handle of a spawned task. `join` is Zig's `await`; `cancel` requests
//! cancellation and then behaves exactly like `join`; `is_finished` and `try_join` look at the
//! task without blocking.

use std::fmt;
use std::marker::{PhantomData, PhantomPinned};
use std::mem::ManuallyDrop;
use std::panic;
use std::ptr::NonNull;

use crate::backend::{carrier, TaskRef};
use crate::cancel::cancel_task;
use crate::io::Io;
use crate::join::{run_claimed_inline, wait_for};
use crate::scope::ScopeCore;
use crate::task::{RawTask, ResultCell};

/// The handle of a task spawned with `io_async!` or `io_concurrent!` inside a `scope!`.
///
/// Both [`join`](Self::join) and [`cancel`](Self::cancel) consume the handle, so awaiting twice
/// is a compile error. A handle dropped without either — because `?`, `return`, `break` or a
/// panic left the block — cancels the task, waits for it and drops its result. The handle
/// borrows its scope, so it cannot outlive it.
///
/// ```compile_fail
/// // A handle cannot escape its scope.
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let escaped = runtime.run(|io| io::scope!(io, { io::io_async!(u8::min(1, 2)) }));
/// ```
#[must_use = "a Future that is dropped at once cancels its task: join or cancel it"]
pub struct Future<'scope, T> {
    task: NonNull<dyn ResultCell<T> + 'scope>,
    scope: &'scope ScopeCore,
    slot: usize,
    _owns: PhantomData<T>,
    /// Makes handles `!Unpin`: that is how `scope!` tells them from values that may leave it
    /// (`__private::MayLeaveScope`). Nothing pins a handle.
    _stays: PhantomPinned,
}

// SAFETY: the handle only reaches the task through `ResultCell`, whose cells are Sync for
// Send results; moving the handle moves the right to take a `T: Send`.
unsafe impl<T: Send> Send for Future<'_, T> {}
// SAFETY: through `&Future` the task is only read through atomics and locks of its own:
// `is_finished` loads its state, and `Io::select` registers waiters under the task's lock.
// Taking the result needs the handle by value.
unsafe impl<T: Send> Sync for Future<'_, T> {}

impl<T> fmt::Debug for Future<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future").field("slot", &self.slot).finish()
    }
}

impl<'scope, T> Future<'scope, T> {
    pub(crate) fn new(
        task: NonNull<dyn ResultCell<T> + 'scope>,
        scope: &'scope ScopeCore,
        slot: usize,
    ) -> Self {
        Self {
            task,
            scope,
            slot,
            _owns: PhantomData,
            _stays: PhantomPinned,
        }
    }

    fn cell(&self) -> &(dyn ResultCell<T> + 'scope) {
        // SAFETY: the scope's registry holds a strong reference to the task until `release`
        // below, which happens only when this handle is consumed or dropped.
        unsafe { self.task.as_ref() }
    }

    /// The type-erased task, for `Io::select` (which only registers as joiner and polls).
    pub(crate) fn raw_task(&self) -> &dyn RawTask {
        self.cell().as_raw()
    }

    /// Waits for the task and returns its result (Zig's `await`).
    ///
    /// # Panics
    /// Resumes the task's panic, if it panicked.
    ///
    /// # Cancelation
    /// A cancellation point of the *caller*: if the caller is canceled while it waits, the
    /// cancel is passed on to the task, and `join` still returns the task's result.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let (value, panicked) = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let value = s.spawn_async(|| 6 * 7).join(io);
    ///         // A panic of the task resumes in the joiner.
    ///         let failing = s.spawn_async(|| -> u8 { panic!("task failed") });
    ///         let join = std::panic::AssertUnwindSafe(|| failing.join(io));
    ///         let panicked = std::panic::catch_unwind(join);
    ///         (value, panicked.is_err())
    ///     })
    /// });
    /// assert_eq!((value, panicked), (42, true));
    /// ```
    pub fn join(self, io: Io) -> T {
        let _ = io;
        self.join_inner()
    }

    /// `join` without an `Io` (for a select arm that joins its winner).
    pub(crate) fn join_inner(self) -> T {
        let this = ManuallyDrop::new(self);
        let task = this.cell().as_raw();
        // A task spawned just before (or the oldest one) has its start taken back from the
        // queue: its two references then go at once below.
        let start = carrier::take_back_start(task);
        let claimed = match &start {
            Some(start) if start.unshared && this.scope.ends_here() => {
                // SAFETY: the start was the task's only queue entry and no other thread's run
                // queue offers it (`unshared`); this handle is consumed here, so no other join,
                // cancel or select reaches it; what remains is its scope's end, which claims
                // tasks only on the scope's own thread — this one, where nothing else runs
                // between the load and the store of `claim_unshared`.
                unsafe { task.claim_unshared() }
            }
            _ => false,
        };
        if claimed {
            // SAFETY: claimed just above; the handle is owned here, so nobody waits on it.
            unsafe { run_claimed_inline(task) };
        } else {
            wait_for(task);
        }
        let result = this.cell().take_result();
        match (this.scope.take(this.slot), start) {
            (Some(registered), Some(start)) => TaskRef::drop_pair(registered, start.task),
            (registered, start) => drop((registered, start.map(|start| start.task))),
        }
        result.unwrap_or_else(|payload| panic::resume_unwind(payload))
    }

    /// Whether the task has finished: returned a value or panicked. [`join`](Self::join) then
    /// returns at once, and [`try_join`](Self::try_join) returns `Ok`.
    ///
    /// Never blocks and never runs the task; a task that no runner has started yet is not
    /// finished.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let gate = io::Event::new();
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let waiter = s.spawn_concurrent(|| gate.wait(io)).unwrap();
    ///         assert!(!waiter.is_finished(), "it waits for the gate");
    ///         gate.set();
    ///         assert_eq!(io.select(&[&waiter]), Ok(0));
    ///         assert!(waiter.is_finished());
    ///         assert_eq!(waiter.join(io), Ok(()));
    ///     })
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw_task().is_done()
    }

    /// The task's result if it has finished, like [`join`](Self::join); otherwise the handle
    /// back, unchanged (join, cancel, select or drop it as usual).
    ///
    /// Never blocks. Unlike `join`, it does not run a task that no runner has started yet
    /// inline: such a task is not finished, so the handle comes back.
    ///
    /// # Errors
    /// The handle itself if the task has not finished.
    ///
    /// # Panics
    /// Resumes the task's panic, if it finished by panicking.
    ///
    /// # Cancelation
    /// Not a cancellation point.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let gate = io::Event::new();
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let waiter = s.spawn_concurrent(|| gate.wait(io).map(|()| 7)).unwrap();
    ///         // Not finished: the handle comes back.
    ///         let waiter = waiter.try_join(io).expect_err("the gate is not set yet");
    ///         gate.set();
    ///         assert_eq!(io.select(&[&waiter]), Ok(0));
    ///         assert_eq!(waiter.try_join(io).ok(), Some(Ok(7)));
    ///     })
    /// });
    /// ```
    pub fn try_join(self, io: Io) -> Result<T, Self> {
        let _ = io;
        if !self.is_finished() {
            return Err(self);
        }
        let this = ManuallyDrop::new(self);
        let result = this.cell().take_result();
        this.scope.release(this.slot);
        Ok(result.unwrap_or_else(|payload| panic::resume_unwind(payload)))
    }

    /// Requests cancellation of the task, then waits for it and returns its result, exactly
    /// like [`join`](Self::join).
    ///
    /// The task's cancellation points return [`Canceled`](crate::Canceled) from now on; what
    /// the task returns then is up to it (typically `Err(Canceled)` passed up with `?`).
    ///
    /// # Panics
    /// Resumes the task's panic, if it panicked.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let (canceled, finished) = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let nap = || io.sleep(Duration::from_secs(10), io::Clock::Awake);
    ///         let sleeper = s.spawn_concurrent(nap);
    ///         let done = s.spawn_async(|| "done");
    ///         // The sleep returns Canceled at once; a finished task keeps its result.
    ///         (sleeper.unwrap().cancel(io), done.cancel(io))
    ///     })
    /// });
    /// assert_eq!((canceled, finished), (Err(io::Canceled), "done"));
    /// ```
    pub fn cancel(self, io: Io) -> T {
        cancel_task(self.cell().as_raw().ctx());
        self.join(io)
    }
}

impl<T> Drop for Future<'_, T> {
    /// Cancels the task. While the scope's body is being left (its tail, `?`, `return`,
    /// `break`, or a panic), that is all: the scope joins every such task at once when it ends.
    /// Anywhere else the drop also waits for the task and drops its result, so that a loop that
    /// drops handles does not pile up tasks until the scope ends.
    fn drop(&mut self) {
        let task = self.cell().as_raw();
        cancel_task(task.ctx());
        if self.scope.is_ending() || std::thread::panicking() {
            return;
        }
        // As in `join`: a start left in the queue would keep the task's cell until the loop
        // next runs (see `Carrier::take_back_start`).
        let start = carrier::take_back_start(task);
        wait_for(task);
        let panic = task.discard_result();
        self.scope.release(self.slot);
        drop(start);
        if let Some(panic) = panic {
            self.scope.defer_panic(panic);
        }
    }
}
