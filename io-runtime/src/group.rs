//! [`Group`]: any number of tasks without handles, whose results come out in completion order.
//!
//! # Records
//! A task of a group is registered in `running` before it can run. When it finishes it tells
//! the group (`finished`), which either keeps it in `finished` until its result is taken
//! (`take_next`), or — for results that carry nothing (zero-sized without drop glue, `counts`) —
//! drops it at once and counts it in `unreported`. Either way the task's stack is gone when it
//! finishes, and whatever is left when the group ends is dropped by `cancel_and_wait` (the
//! `Group`'s drop, or the scope's end for a forgotten one), before the scope's borrows end.

use std::collections::{HashMap, VecDeque};
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
use crate::scope::ScopeCore;
use crate::select::{Arm, SelectArm, Waiter};
use crate::task::{current_arc, drop_payload, Completion, Panic, Task, TaskCtx};

#[derive(Default)]
struct State {
    running: HashMap<usize, TaskRef>,
    /// Finished tasks whose results nobody took yet, in completion order, with their spawn
    /// numbers (groups that keep results only; see [`GroupInner::keeps`]).
    finished: VecDeque<(usize, TaskRef)>,
    /// How many tasks finished without a panic whose (zero-sized) results nobody took yet
    /// (groups that count instead of keeping).
    unreported: usize,
    /// Waiting for the group to run empty (`wait`).
    waiters: Vec<Arc<TaskCtx>>,
    /// Waiting for any task to finish (`next`, a select's group arm).
    next_waiters: Vec<Arc<TaskCtx>>,
    panic: Option<Panic>,
}

/// What a group has to hand out next (see [`GroupInner::take_next`]).
pub(crate) enum Next {
    /// A finished task whose result is in its cell (a group that keeps results).
    Kept(usize, TaskRef),
    /// A task finished with a zero-sized result (a group that counts).
    Counted,
    /// A task panicked (a group that counts): resume it.
    Panicked(Panic),
    /// Every task finished and every result was taken.
    Empty,
    /// Tasks still run, none finished unseen.
    Pending,
}

/// The shared part of a group: its running tasks and who waits for them. Owned by the scope
/// (so a forgotten `Group` leaks nothing); tasks reach it through weak references.
#[derive(Default)]
pub(crate) struct GroupInner {
    state: Mutex<State>,
    next_id: AtomicUsize,
    /// Set when the `Group` handle was dropped: the scope may then let go of an empty group.
    released: AtomicBool,
    /// Whether finished tasks are kept until their results are taken. `false` for results
    /// that are zero-sized and have no drop glue (`()`): those are counted and the task is
    /// reclaimed as it finishes, so a group that nobody asks for results (an accept loop)
    /// keeps no record per task.
    keeps: bool,
}

impl GroupInner {
    pub(crate) fn new(keeps: bool) -> Self {
        Self {
            keeps,
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the scope can drop this group: its handle is gone and no task runs.
    pub(crate) fn is_finished(&self) -> bool {
        self.released.load(Ordering::Acquire) && self.lock().running.is_empty()
    }

    /// Called by a finishing task: reclaims it (or keeps it for its result) and wakes waiters.
    ///
    /// Never unwinds (it runs on the task's worker or fiber): a second panic payload is dropped
    /// with `drop_payload`, outside the lock.
    fn finished(&self, id: usize, panic: Option<Panic>) {
        let mut state = self.lock();
        let mut task = state.running.remove(&id);
        let extra = match panic {
            Some(panic) if state.panic.is_none() => {
                state.panic = Some(panic);
                None
            }
            Some(extra) => Some(extra),
            None => {
                match task.take() {
                    Some(kept) if self.keeps => state.finished.push_back((id, kept)),
                    other => {
                        task = other;
                        state.unreported += 1;
                    }
                }
                None
            }
        };
        let mut waiters = std::mem::take(&mut state.next_waiters);
        if state.running.is_empty() {
            waiters.append(&mut state.waiters);
        }
        drop(state);
        drop(task);
        if let Some(extra) = extra {
            drop_payload(extra);
        }
        for waiter in waiters {
            waiter.parker.unpark();
        }
    }

    /// Takes what the group has to hand out next, without waiting.
    pub(crate) fn take_next(&self) -> Next {
        let mut state = self.lock();
        if let Some((id, task)) = state.finished.pop_front() {
            return Next::Kept(id, task);
        }
        if let Some(panic) = state.panic.take() {
            return Next::Panicked(panic);
        }
        if state.unreported > 0 {
            state.unreported -= 1;
            return Next::Counted;
        }
        if state.running.is_empty() {
            Next::Empty
        } else {
            Next::Pending
        }
    }

    /// Registers `waiter` to be woken when a task finishes.
    pub(crate) fn add_next_waiter(&self, waiter: &Arc<TaskCtx>) {
        let mut state = self.lock();
        if !state.next_waiters.iter().any(|w| Arc::ptr_eq(w, waiter)) {
            state.next_waiters.push(Arc::clone(waiter));
        }
    }

    /// Withdraws a registration of `add_next_waiter`.
    pub(crate) fn remove_next_waiter(&self, waiter: &Arc<TaskCtx>) {
        self.lock().next_waiters.retain(|w| !Arc::ptr_eq(w, waiter));
    }

    /// Drops the results nobody took (after the group's tasks were waited for), returning
    /// the first panic among them or their drops.
    fn discard_finished(&self) -> Option<Panic> {
        let finished = std::mem::take(&mut self.lock().finished);
        let mut first = None;
        for (_, task) in finished {
            if let Some(panic) = task.discard_result() {
                match first {
                    None => first = Some(panic),
                    Some(_) => drop_payload(panic),
                }
            }
        }
        first
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

    /// Cancels every task, waits for all, drops the results nobody took, and returns the
    /// first panic among them.
    pub(crate) fn cancel_and_wait(&self) -> Option<Panic> {
        self.request_cancel();
        let me = current_arc();
        me.cancel.protected(|| while self.wait().is_err() {});
        let panic = self.lock().panic.take();
        self.lock().unreported = 0; // counted results are dropped too: `next` then says `None`
        let dropped = self.discard_finished();
        match (panic, dropped) {
            (Some(panic), extra) => {
                if let Some(extra) = extra {
                    drop_payload(extra);
                }
                Some(panic)
            }
            (None, dropped) => dropped,
        }
    }
}

/// Spawns any number of tasks that have no handles, and hands out their results as they
/// finish. Leaving the scope (or dropping the group) cancels and joins the tasks that still
/// run, and drops the results nobody took.
///
/// `T` is what the tasks return; `s.group()` (or `io_group!()`) infers it from the spawns. A
/// group of tasks that return `()` (or another zero-sized type without `Drop`) reclaims every
/// task as it finishes and only counts the results, so it can serve an accept loop for days;
/// any other group keeps each finished task's record (its stack is freed as it finishes) until
/// [`next`](Self::next), [`try_next`](Self::try_next) or
/// [`try_join_all`](Group::try_join_all) takes its result.
///
/// # Examples
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
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
///
/// Results in completion order:
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let total = runtime.run(|io| {
///     io.scope(|s| {
///         let group = s.group();
///         for n in 1..=10u64 {
///             group.spawn(io, move || n * n);
///         }
///         let mut total = 0;
///         while let Some(square) = group.next(io).unwrap() {
///             total += square;
///         }
///         total
///     })
/// });
/// assert_eq!(total, 385);
/// ```
pub struct Group<'scope, 'env, T = ()> {
    inner: &'scope GroupInner,
    scope: &'scope ScopeCore,
    _env: PhantomData<&'env mut &'env ()>,
    /// The tasks' results come out of the group (`next` needs `T: Send`).
    _results: PhantomData<fn() -> T>,
    /// `!Unpin`, like [`Future`](crate::Future): a group cannot leave its `scope!`.
    _stays: PhantomPinned,
}

/// Whether a group of tasks returning `T` counts their results instead of keeping them: a
/// zero-sized `T` without drop glue carries nothing but its existence.
const fn counts<T>() -> bool {
    std::mem::size_of::<T>() == 0 && !std::mem::needs_drop::<T>()
}

impl<'scope, 'env, T> Group<'scope, 'env, T>
where
    T: Send + 'env,
{
    pub(crate) fn new(scope: &'scope ScopeCore) -> Self {
        Self {
            inner: scope.adopt_group(!counts::<T>()),
            scope,
            _env: PhantomData,
            _results: PhantomData,
            _stays: PhantomPinned,
        }
    }

    /// Spawns `call` asynchronously into the group.
    ///
    /// # Examples
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let sum = AtomicU32::new(0);
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         for n in 1..=5 {
    ///             let sum = &sum;
    ///             group.spawn(io, move || {
    ///                 sum.fetch_add(n, Ordering::Relaxed);
    ///             });
    ///         }
    ///         group.wait(io).unwrap();
    ///     })
    /// });
    /// assert_eq!(sum.into_inner(), 15);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, io: Io, call: F)
    where
        F: FnOnce() -> T + Send + 'env,
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
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).concurrent_limit(1).build().unwrap();
    /// let gate = io::Event::new();
    /// let (first, second) = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         let first = group.spawn_concurrent(io, || gate.wait(io));
    ///         // The one concurrent task allowed still runs.
    ///         let second = group.spawn_concurrent(io, || Ok(()));
    ///         gate.set();
    ///         group.wait(io).unwrap();
    ///         (first, second)
    ///     })
    /// });
    /// assert_eq!((first, second), (Ok(()), Err(io::ConcurrencyUnavailable)));
    /// ```
    #[track_caller]
    pub fn spawn_concurrent<F>(&self, io: Io, call: F) -> Result<(), ConcurrencyUnavailable>
    where
        F: FnOnce() -> T + Send + 'env,
    {
        self.spawn_as(io, call, SpawnKind::Concurrent)
    }

    #[track_caller]
    fn spawn_as<F>(&self, io: Io, call: F, kind: SpawnKind) -> Result<(), ConcurrencyUnavailable>
    where
        F: FnOnce() -> T + Send + 'env,
    {
        let _ = io;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let weak: Weak<GroupInner> = self.scope.group_link(self.inner);
        let notify = Arc::new(move |id: usize, panic: Option<Panic>| {
            if let Some(group) = weak.upgrade() {
                group.finished(id, panic);
            }
        });
        let keep = self.inner.keeps;
        let done = || Completion::Group { notify, id, keep };
        let at = Location::caller();
        // SAFETY: the group's scope waits for the task and drops its result before 'env ends
        // (see `scope`'s module documentation); `write_new` writes the whole task.
        let (running, erased, _) =
            unsafe { TaskRef::new_pair(|place| Task::write_new(place, call, at, done)) };
        self.inner.lock().running.insert(id, running);
        let dispatched = self.scope.dispatch(erased, kind);
        if dispatched.is_err() {
            let refused = self.inner.lock().running.remove(&id);
            drop(refused);
        }
        dispatched
    }

    /// Waits until every task of the group finished. Their results stay in the group for
    /// [`next`](Self::next) to take.
    ///
    /// # Errors
    /// [`Canceled`] if the caller was canceled while waiting; the group's tasks are then
    /// canceled and waited for before this returns.
    ///
    /// # Panics
    /// Resumes the first panic of a task of a group of `()` tasks. (In a group that keeps
    /// results, a panic is the task's result: `next` resumes it.)
    ///
    /// # Cancelation
    /// A cancellation point while it waits.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let results = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         for ms in [3, 1, 2] {
    ///             group.spawn(io, move || {
    ///                 io.sleep(Duration::from_millis(ms), io::Clock::Awake).map(|()| ms)
    ///             });
    ///         }
    ///         group.wait(io).unwrap();
    ///         // Every task finished; the results wait in the group.
    ///         let mut results: Vec<u64> =
    ///             std::iter::from_fn(|| group.try_next()).map(Result::unwrap).collect();
    ///         results.sort();
    ///         results
    ///     })
    /// });
    /// assert_eq!(results, [1, 2, 3]);
    /// ```
    pub fn wait(&self, io: Io) -> Result<(), Canceled> {
        let _ = io;
        let waited = self.inner.wait();
        self.resume_panic();
        waited
    }

    /// Cancels every task of the group, waits for them all, and drops the results nobody
    /// took.
    ///
    /// # Panics
    /// Resumes the first panic of a task of the group (or of dropping a result).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let empty = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         for _ in 0..3 {
    ///             group.spawn(io, || {
    ///                 let _ = io.sleep(Duration::from_secs(10), io::Clock::Awake);
    ///             });
    ///         }
    ///         group.cancel(io); // returns once all three sleeps ended
    ///         group.is_empty()
    ///     })
    /// });
    /// assert!(empty);
    /// ```
    pub fn cancel(&self, io: Io) {
        let _ = io;
        if let Some(panic) = self.inner.cancel_and_wait() {
            panic::resume_unwind(panic);
        }
    }

    /// Waits for the next task to finish and returns its result, in completion order;
    /// `Ok(None)` once every task spawned so far finished and its result was taken. Results
    /// that finished before the call come first, oldest first.
    ///
    /// Unlike [`Future::join`](crate::Future::join), `next` never runs a task that no runner
    /// started yet inline: that task might block, and the results of the others would wait
    /// for it. (`wait`, which waits for all of them anyway, does run them inline.)
    ///
    /// # Errors
    /// [`Canceled`] if the caller is canceled (or its [`timeout`](Io::timeout) expires) while
    /// no result is ready. The group's tasks keep running (leaving the scope cancels them).
    ///
    /// # Panics
    /// Resumes the panic of the task whose result it takes.
    ///
    /// # Cancelation
    /// A cancellation point whenever it would wait: a result that is ready wins over a pending
    /// cancel.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         for (name, ms) in [("slow", 60), ("fast", 1)] {
    ///             group
    ///                 .spawn_concurrent(io, move || {
    ///                     io.sleep(Duration::from_millis(ms), Clock::Awake).map(|()| name)
    ///                 })
    ///                 .unwrap();
    ///         }
    ///         assert_eq!(group.next(io), Ok(Some(Ok("fast"))));
    ///         assert_eq!(group.next(io), Ok(Some(Ok("slow"))));
    ///         assert_eq!(group.next(io), Ok(None));
    ///     })
    /// });
    /// ```
    pub fn next(&self, io: Io) -> Result<Option<T>, Canceled> {
        self.next_with_id(io)
            .map(|next| next.map(|(_, value)| value))
    }

    /// The result of a task that finished, if there is one, without waiting; `None` if none
    /// finished unseen (then [`is_empty`](Self::is_empty) tells whether any still runs).
    ///
    /// # Panics
    /// Resumes the panic of the task whose result it takes.
    ///
    /// # Cancelation
    /// Not a cancellation point: it never blocks.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let gate = io::Event::new();
    /// let (before, after) = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         let before = group.try_next(); // nothing spawned yet
    ///         group.spawn_concurrent(io, || gate.wait(io).map(|()| "done")).unwrap();
    ///         gate.set();
    ///         group.wait(io).unwrap();
    ///         (before, group.try_next())
    ///     })
    /// });
    /// assert_eq!((before, after), (None, Some(Ok("done"))));
    /// ```
    pub fn try_next(&self) -> Option<T> {
        self.take().flatten().map(|(_, value)| value)
    }

    /// Whether no task runs and every result was taken: [`next`](Self::next) would return
    /// `Ok(None)`.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let states = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         let empty_at_first = group.is_empty();
    ///         group.spawn(io, || 1);
    ///         group.wait(io).unwrap();
    ///         let holding_a_result = !group.is_empty();
    ///         group.next(io).unwrap();
    ///         (empty_at_first, holding_a_result, group.is_empty())
    ///     })
    /// });
    /// assert_eq!(states, (true, true, true));
    /// ```
    pub fn is_empty(&self) -> bool {
        let state = self.inner.lock();
        state.running.is_empty()
            && state.finished.is_empty()
            && state.unreported == 0
            && state.panic.is_none()
    }

    /// A select arm for the group's next result (see [`io_select!`](crate::io_select)): ready
    /// when a task finished (its result) or the group is empty (`None`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         group.spawn_concurrent(io, || 7).unwrap();
    ///         let got = io::io_select!(io, {
    ///             result = group.select_next() => result,
    ///             () = io::after(Duration::from_secs(10)) => None,
    ///         });
    ///         assert_eq!(got, Ok(Some(7)));
    ///     })
    /// });
    /// ```
    pub fn select_next(&self) -> NextResult<'_, 'scope, 'env, T> {
        NextResult {
            group: self,
            got: None,
        }
    }

    /// `next` with the spawn number of the task (for `try_join_all`'s order).
    fn next_with_id(&self, io: Io) -> Result<Option<(usize, T)>, Canceled> {
        let _ = io;
        if let Some(next) = self.take() {
            return Ok(next);
        }
        let me = current_arc();
        let result = loop {
            self.inner.add_next_waiter(&me);
            if let Some(next) = self.take() {
                break Ok(next);
            }
            // Readiness before cancellation: the take above looked first. No second look after
            // a cancel: a deadline of an enclosing timeout may have fired, and that timeout
            // would drop the result taken.
            if let Err(canceled) = block::check_then_park(&me, &"Group::next") {
                break Err(canceled);
            }
        };
        self.inner.remove_next_waiter(&me);
        result
    }

    /// What the group has ready: `Some(Some(..))` a result, `Some(None)` empty, `None`
    /// pending. Used by `next`, `try_next` and the select arm.
    pub(crate) fn take(&self) -> Option<Option<(usize, T)>> {
        self.value_of(self.inner.take_next())
    }

    /// The value of what `take_next` handed out (resuming a task's panic).
    fn value_of(&self, next: Next) -> Option<Option<(usize, T)>> {
        match next {
            Next::Kept(id, task) => {
                let mut out: Option<std::thread::Result<T>> = None;
                // SAFETY: every task of this group was spawned by `spawn_as` with result type
                // `T`, and `take_next` handed this finished task to us alone.
                unsafe { task.take_result_into(std::ptr::from_mut(&mut out).cast()) };
                drop(task);
                let outcome = out.expect("io: a kept group task had no result");
                Some(Some((
                    id,
                    outcome.unwrap_or_else(|p| panic::resume_unwind(p)),
                )))
            }
            // SAFETY: `T` is zero-sized without drop glue (`counts`), and a task of this group
            // returned one such value that was dropped (a no-op) when it finished: reading a
            // zero-sized value from a dangling, aligned pointer gives that value back, as
            // `Vec` of a zero-sized type does.
            Next::Counted => Some(Some((0, unsafe {
                std::ptr::NonNull::<T>::dangling().read()
            }))),
            Next::Panicked(panic) => panic::resume_unwind(panic),
            Next::Empty => Some(None),
            Next::Pending => None,
        }
    }

    fn resume_panic(&self) {
        let panic = self.inner.lock().panic.take();
        if let Some(panic) = panic {
            panic::resume_unwind(panic);
        }
    }
}

impl<'env, U, E> Group<'_, 'env, Result<U, E>>
where
    U: Send + 'env,
    E: Send + From<Canceled> + 'env,
{
    /// Waits for every task and returns their values in spawn order (of the results not
    /// taken before); the first `Err` a task returns cancels the others, waits for them, drops
    /// their results, and is returned.
    ///
    /// # Errors
    /// The first error of a task, in completion order; `E::from(Canceled)` if the caller is
    /// canceled while it waits (the tasks are then canceled and waited for too).
    ///
    /// # Panics
    /// Resumes the panic of a task it takes a result from, after canceling and waiting for
    /// the others.
    ///
    /// # Cancelation
    /// A cancellation point while it waits.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let group = s.group();
    ///         for n in 0..4u32 {
    ///             group.spawn(io, move || -> std::io::Result<u32> {
    ///                 if n == 2 {
    ///                     return Err(std::io::Error::other("replica 2 is down"));
    ///                 }
    ///                 io.sleep(Duration::from_secs(10), Clock::Awake)?; // canceled
    ///                 Ok(n)
    ///             });
    ///         }
    ///         let error = group.try_join_all(io).unwrap_err();
    ///         assert_eq!(error.to_string(), "replica 2 is down");
    ///         assert!(group.is_empty(), "the sleepers were canceled and joined");
    ///     })
    /// });
    /// ```
    pub fn try_join_all(&self, io: Io) -> Result<Vec<U>, E> {
        let mut values = Vec::new();
        let failed = loop {
            let next = panic::catch_unwind(panic::AssertUnwindSafe(|| self.next_with_id(io)));
            match next {
                Ok(Ok(Some((id, Ok(value))))) => values.push((id, value)),
                Ok(Ok(Some((_, Err(error))))) => break Err(Ok(error)),
                Ok(Ok(None)) => break Ok(()),
                Ok(Err(canceled)) => break Err(Ok(E::from(canceled))),
                Err(panic) => break Err(Err(panic)),
            }
        };
        match failed {
            Ok(()) => {
                values.sort_by_key(|(id, _)| *id);
                Ok(values.into_iter().map(|(_, value)| value).collect())
            }
            Err(first) => {
                drop(values);
                let later = self.inner.cancel_and_wait();
                match first {
                    Ok(error) => {
                        if let Some(panic) = later {
                            panic::resume_unwind(panic);
                        }
                        Err(error)
                    }
                    Err(panic) => {
                        if let Some(later) = later {
                            drop_payload(later);
                        }
                        panic::resume_unwind(panic)
                    }
                }
            }
        }
    }
}

impl<T> Drop for Group<'_, '_, T> {
    fn drop(&mut self) {
        if let Some(panic) = self.inner.cancel_and_wait() {
            self.scope.defer_panic(panic);
        }
        self.inner.released.store(true, Ordering::Release);
    }
}

/// The arm of [`Group::select_next`]: binds `Option<T>` — the next result in completion order,
/// or `None` once the group is empty. If another arm wins, no result is taken.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use io::io_select;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let got = runtime.run(|io| {
///     io.scope(|s| {
///         let group = s.group();
///         group.spawn(io, || 7);
///         let mut got = Vec::new();
///         loop {
///             let next = io_select!(io, {
///                 result = group.select_next() => result,
///                 () = io::after(Duration::from_secs(10)) => None,
///             });
///             match next.unwrap() {
///                 Some(value) => got.push(value),
///                 None => return got, // the group is empty
///             }
///         }
///     })
/// });
/// assert_eq!(got, [7]);
/// ```
pub struct NextResult<'g, 'scope, 'env, T> {
    group: &'g Group<'scope, 'env, T>,
    /// What `take` found: a result (with its task's panic not yet resumed), or `None`.
    got: Option<Option<Next>>,
}

impl<T: Send> Arm for NextResult<'_, '_, '_, T> {
    fn poll(&mut self, _: &Waiter) -> bool {
        if self.got.is_some() {
            return true;
        }
        match self.group.inner.take_next() {
            Next::Pending => false,
            Next::Empty => {
                self.got = Some(None);
                true
            }
            ready => {
                self.got = Some(Some(ready));
                true
            }
        }
    }
    fn register(&mut self, waiter: &Waiter) {
        self.group.inner.add_next_waiter(&waiter.0);
    }
    fn unregister(&mut self, waiter: &Waiter) {
        self.group.inner.remove_next_waiter(&waiter.0);
    }
}

impl<'env, T: Send + 'env> SelectArm for NextResult<'_, '_, 'env, T> {
    type Output = Option<T>;
    fn take(&mut self) -> Option<T> {
        let got = self
            .got
            .take()
            .expect("io: select arm taken before it completed");
        let next = got?;
        self.group.value_of(next).flatten().map(|(_, value)| value)
    }
}
