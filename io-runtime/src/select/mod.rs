//! Waiting for the first of several operations: [`Io::select`] over futures, and
//! [`io_select!`](crate::io_select) over any blocking operation (futures, queue gets and puts,
//! events, deadlines, a group's next result, the task's own cancel request).
//!
//! # Protocol
//! Every operation a select can wait on is an *arm* ([`Arm`]) with three steps, each under its
//! primitive's own lock: `poll` tries to complete it now (a queue arm takes the item, a put arm
//! puts, a group arm takes a result) and keeps what it got; `register` adds the selecting task
//! to the primitive's wait list — the same list its blocking operation waits in (a task's
//! waiters, a queue's getters, an event's waiters, a group's next-waiters); `unregister`
//! withdraws it. One task, one parker: [`wait_any`] registers the current task with every arm,
//! polls them all in order, and parks until any primitive unparks it, its cancel arrives, or
//! the earliest deadline (of a deadline arm, or of an enclosing `Io::timeout`) passes. No arm
//! costs a thread or a fiber.
//!
//! Arms are polled in order *before* every cancellation check, on entry and after every
//! wake-up: an arm that is ready when `select` looks wins over a pending cancel or a passed
//! deadline, and the first ready arm in order wins over later ones. At most one arm
//! completes: the others are left as they were (an item not taken stays in its queue, a
//! future not chosen stays joinable). On every way out — a winner, `Canceled`, a panic —
//! the task is withdrawn from every wait list; a queue getter that a put had already woken
//! for its item passes that wake-up on to the next getter, so no item waits for a getter that
//! left.
//!
//! So `io.timeout(Duration::ZERO, || io.select(&futures))` polls — it returns the index of a
//! finished future, and `Err(Timeout)` only if none is — and a canceled task can still collect
//! what already finished (its next cancellation point that would block returns `Canceled`: the
//! request stays pending).

mod arms;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use crate::block;
use crate::error::Canceled;
use crate::future::Future;
use crate::io::Io;
use crate::task::{current_arc, TaskCtx};
use crate::time::{earliest, timer};

pub use arms::{after, at, cancel_requested, CancelRequest, Deadline, Finished, Joined};

/// A handle that [`Io::select`] can wait on: a [`Future`].
///
/// The trait is sealed: its methods are internal to the runtime.
///
/// # Examples
/// ```
/// use io::Selectable;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let gate = io::Event::new();
/// let first = runtime.run(|io| {
///     io.scope(|s| {
///         let waiting = s.spawn_concurrent(|| gate.wait(io)).unwrap();
///         let done = s.spawn_async(|| ());
///         // Handles of different result types, side by side.
///         let handles: [&dyn Selectable; 2] = [&waiting, &done];
///         let first = io.select(&handles);
///         gate.set();
///         first
///     })
/// });
/// assert_eq!(first, Ok(1));
/// ```
pub trait Selectable: sealed::Sealed {}

/// The task that selects, as the arms see it.
pub struct Waiter(pub(crate) Arc<TaskCtx>);

pub(crate) mod sealed {
    use crate::task::RawTask;

    /// The task behind a selectable handle.
    pub struct Hook<'a>(pub(crate) &'a dyn RawTask);

    /// Implemented only inside the runtime.
    pub trait Sealed {
        /// The task to poll and to register on.
        fn hook(&self) -> Hook<'_>;
    }
}

impl<T> sealed::Sealed for Future<'_, T> {
    fn hook(&self) -> sealed::Hook<'_> {
        sealed::Hook(self.raw_task())
    }
}

impl<T> Selectable for Future<'_, T> {}

/// One operation a select waits on, type-erased (see the module documentation for the
/// protocol). Implemented by the runtime's arm types only: its methods take a `Waiter`,
/// which only the runtime creates.
pub trait Arm {
    /// Tries to complete the operation now, keeping its output; whether it completed. Never
    /// blocks and never unwinds.
    fn poll(&mut self, waiter: &Waiter) -> bool;
    /// Adds `waiter` to the primitive's wait list, unless it is there.
    fn register(&mut self, waiter: &Waiter);
    /// Withdraws `waiter` from the primitive's wait list (passing on a wake-up it consumed).
    fn unregister(&mut self, waiter: &Waiter);
    /// When the arm becomes ready by itself (a deadline), if ever.
    fn deadline(&self) -> Option<Instant> {
        None
    }
    /// Whether the arm waits for the task's own cancel request ([`cancel_requested`]).
    fn is_cancel_request(&self) -> bool {
        false
    }
}

/// An operation that [`io_select!`](crate::io_select) can wait on, with the value its arm
/// binds. Created by `queue.select_get()`, `queue.select_put(item)`, `event.select_wait()`,
/// `group.select_next()`, [`after`], [`at`], [`cancel_requested`], or from a [`Future`] (see
/// [`IntoSelectArm`]).
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// /// The output of `arm` if it completes within `limit`.
/// fn within<A: io::SelectArm>(io: io::Io, arm: A, limit: Duration) -> Option<A::Output> {
///     io::io_select!(io, {
///         output = arm => Some(output),
///         () = io::after(limit) => None,
///     })
///     .ok()
///     .flatten()
/// }
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let queue = io::Queue::new(1);
/// queue.try_put_one("ready").unwrap();
/// let (first, second) = runtime.run(|io| {
///     let wait = Duration::from_millis(5);
///     (within(io, queue.select_get(), wait), within(io, queue.select_get(), wait))
/// });
/// assert_eq!((first, second), (Some(Ok("ready")), None));
/// ```
pub trait SelectArm: Arm {
    /// What the arm binds when it wins.
    type Output;
    /// Takes the output of the arm that completed.
    ///
    /// # Panics
    /// If the arm did not complete, or its output was taken; resumes the panic of a task whose
    /// result it holds.
    fn take(&mut self) -> Self::Output;
}

/// What an arm of [`io_select!`](crate::io_select) may name: every [`SelectArm`], a
/// [`Future`] by value (binds the task's result; if another arm wins, the future is canceled
/// and joined before the winner's expression runs), or a `&Future` (binds `()`; the handle
/// stays joinable, and its `join` returns at once).
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// /// Waits for whatever `op` names — an arm, a future by value or by reference — for at most
/// /// `limit`.
/// fn before<O: io::IntoSelectArm>(io: io::Io, op: O, limit: Duration) -> bool {
///     io::io_select!(io, {
///         _ = op => true,
///         () = io::after(limit) => false,
///     })
///     .unwrap()
/// }
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let event = io::Event::new();
/// let (task, unset) = runtime.run(|io| {
///     io.scope(|s| {
///         let task = s.spawn_async(|| 42);
///         let task_done = before(io, &task, Duration::from_secs(10));
///         (task_done, before(io, event.select_wait(), Duration::from_millis(2)))
///     })
/// });
/// assert_eq!((task, unset), (true, false));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an operation `io_select!` can wait on",
    label = "not a select arm",
    note = "an arm waits on a Future (by value or `&future`), `queue.select_get()`, \
            `queue.select_put(item)`, `event.select_wait()`, `group.select_next()`, \
            `io::after(duration)`, `io::at(instant)` or `io::cancel_requested()`"
)]
pub trait IntoSelectArm {
    /// The arm.
    type Arm: SelectArm;
    /// Converts `self` into an arm.
    fn into_select_arm(self) -> Self::Arm;
}

impl<A: SelectArm> IntoSelectArm for A {
    type Arm = A;
    fn into_select_arm(self) -> A {
        self
    }
}

impl<'f, 's, T> IntoSelectArm for &'f Future<'s, T> {
    type Arm = Finished<'f>;
    fn into_select_arm(self) -> Finished<'f> {
        Finished::new(self.raw_task())
    }
}

impl<'s, T> IntoSelectArm for Future<'s, T> {
    type Arm = Joined<'s, T>;
    fn into_select_arm(self) -> Joined<'s, T> {
        Joined::new(self)
    }
}

/// Waits until one of `arms` completes and returns its index (see the module documentation).
///
/// # Errors
/// [`Canceled`] if the task is canceled (or an enclosing timeout expires) while no arm is
/// ready.
pub(crate) fn wait_any(
    arms: &mut [&mut dyn Arm],
    what: &'static &'static str,
) -> Result<usize, Canceled> {
    let me = Waiter(current_arc());
    if let Some(index) = poll_all(arms, &me) {
        return Ok(index);
    }
    // Withdraws the task from every arm on every way out, a panic included.
    struct Withdraw<'a, 'b> {
        arms: &'a mut [&'b mut dyn Arm],
        me: &'a Waiter,
    }
    impl Drop for Withdraw<'_, '_> {
        fn drop(&mut self) {
            for arm in self.arms.iter_mut() {
                arm.unregister(self.me);
            }
        }
    }
    let guard = Withdraw { arms, me: &me };
    let own = guard.arms.iter().filter_map(|arm| arm.deadline()).min();
    loop {
        for arm in guard.arms.iter_mut() {
            arm.register(&me);
        }
        if let Some(index) = poll_all(guard.arms, &me) {
            return Ok(index);
        }
        if let Err(canceled) = block::check(&me.0) {
            // The cancel came after the poll: a cancel arm takes it. No other arm is polled
            // again, since a deadline of an enclosing timeout may have fired here, and that
            // timeout would drop what the arm took (a queue's item).
            let cancel_arm = guard.arms.iter().position(|arm| arm.is_cancel_request());
            return match cancel_arm {
                Some(index) if guard.arms[index].poll(&me) => Ok(index),
                _ => Err(canceled),
            };
        }
        let _ = block::park_ctx(&me.0, what, earliest(own, timer(&me.0)));
    }
}

fn poll_all(arms: &mut [&mut dyn Arm], me: &Waiter) -> Option<usize> {
    arms.iter_mut().position(|arm| arm.poll(me))
}

/// The engine of `io_select!`: waits for the first of `arms` (see [`wait_any`]).
#[doc(hidden)]
pub fn select_arms(io: Io, arms: &mut [&mut dyn Arm]) -> Result<usize, Canceled> {
    let _ = io;
    assert!(
        !arms.is_empty(),
        "io: select over no arms would wait forever"
    );
    wait_any(arms, &"io_select!")
}

impl Io {
    /// Waits until one of `futures` is finished and returns its index; the others keep
    /// running and stay usable (join or cancel them as usual; the winner's `join` returns at
    /// once). If several are finished when `select` looks, the lowest index wins.
    ///
    /// Unlike `join`, `select` never runs a future's call inline: a future that no worker has
    /// started yet finishes only once one does. On a busy pool, spawn the futures you select
    /// over with `io_concurrent!` ([`Scope::spawn_concurrent`](crate::Scope::spawn_concurrent)).
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled (or its [`timeout`](Self::timeout) expires) while
    /// none of `futures` is finished.
    ///
    /// # Panics
    /// If `futures` is empty (the wait could never end).
    ///
    /// # Cancelation
    /// A cancellation point whenever it would wait: `select` first looks at the futures, so
    /// one that is already finished wins even over a pending cancel or a deadline that has
    /// passed (the cancel stays pending for the next cancellation point). Hence
    /// `io.timeout(Duration::ZERO, || io.select(&futures))` is a poll: `Ok(Ok(index))` if a
    /// future is finished, `Err(Timeout)` if none is. The futures are not canceled.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let slow = s.spawn_concurrent(|| io.sleep(Duration::from_secs(10), Clock::Awake)).unwrap();
    ///         let fast = s.spawn_concurrent(|| io.sleep(Duration::from_millis(1), Clock::Awake)).unwrap();
    ///         assert_eq!(io.select(&[&slow, &fast]), Ok(1));
    ///         assert_eq!(fast.join(io), Ok(()));
    ///         assert_eq!(slow.cancel(io), Err(io::Canceled));
    ///     })
    /// });
    /// ```
    pub fn select(self, futures: &[&dyn Selectable]) -> Result<usize, Canceled> {
        assert!(
            !futures.is_empty(),
            "io: select over no futures would wait forever"
        );
        let mut finished: Vec<Finished<'_>> =
            futures.iter().map(|f| Finished::new(f.hook().0)).collect();
        let mut arms: Vec<&mut dyn Arm> = finished.iter_mut().map(|f| f as &mut dyn Arm).collect();
        wait_any(&mut arms, &"Io::select")
    }
}
