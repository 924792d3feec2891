//! The arms of the runtime's own kinds: futures, deadlines and the cancel request. The arms of
//! primitives live beside them (`queue/select.rs`, `sync/event.rs`, `group.rs`).

use std::time::{Duration, Instant};

use super::{Arm, SelectArm, Waiter};
use crate::block;
use crate::error::Canceled;
use crate::future::Future;
use crate::task::RawTask;

/// The arm of a `&Future`: ready once the task finished; binds `()` and leaves the handle
/// joinable (its `join` then returns at once).
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let gate = io::Event::new();
/// let (winner, result) = runtime.run(|io| {
///     io.scope(|s| {
///         let slow = s.spawn_concurrent(|| gate.wait(io).map(|()| "slow")).unwrap();
///         let fast = s.spawn_async(|| "fast");
///         let winner = io::io_select!(io, {
///             () = &fast => "fast",
///             () = &slow => "slow",
///         });
///         gate.set();
///         // Both handles stay joinable: a `&future` arm only waits.
///         (winner, (fast.join(io), slow.join(io)))
///     })
/// });
/// assert_eq!(winner, Ok("fast"));
/// assert_eq!(result, ("fast", Ok("slow")));
/// ```
pub struct Finished<'a> {
    task: &'a dyn RawTask,
    done: bool,
}

impl<'a> Finished<'a> {
    pub(crate) fn new(task: &'a dyn RawTask) -> Self {
        Self { task, done: false }
    }
}

impl Arm for Finished<'_> {
    fn poll(&mut self, _: &Waiter) -> bool {
        self.done = self.task.is_done();
        self.done
    }
    fn register(&mut self, waiter: &Waiter) {
        // `false`: done already; the poll that follows sees it.
        let _ = self.task.add_waiter(&waiter.0);
    }
    fn unregister(&mut self, waiter: &Waiter) {
        self.task.remove_waiter(&waiter.0);
    }
}

impl SelectArm for Finished<'_> {
    type Output = ();
    fn take(&mut self) {
        assert!(self.done, "io: select arm taken before it completed");
    }
}

/// The arm of a [`Future`] given by value: ready once the task finished; binds its result. A
/// `Joined` arm that loses is dropped with its future, which cancels and joins the task.
///
/// # Examples
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let loser_canceled = AtomicBool::new(false);
/// let winner = runtime.run(|io| {
///     io.scope(|s| {
///         let quick = s.spawn_async(|| 1);
///         let stuck = s
///             .spawn_concurrent(|| {
///                 let slept = io.sleep(Duration::from_secs(10), io::Clock::Awake);
///                 loser_canceled.store(slept.is_err(), Ordering::SeqCst);
///                 2
///             })
///             .unwrap();
///         io::io_select!(io, {
///             n = quick => n,
///             n = stuck => n, // loses: canceled and joined before the select returns
///         })
///     })
/// });
/// assert_eq!(winner, Ok(1));
/// assert!(loser_canceled.load(Ordering::SeqCst));
/// ```
pub struct Joined<'s, T> {
    future: Option<Future<'s, T>>,
    done: bool,
}

impl<'s, T> Joined<'s, T> {
    pub(crate) fn new(future: Future<'s, T>) -> Self {
        Self {
            future: Some(future),
            done: false,
        }
    }

    fn task(&self) -> &dyn RawTask {
        self.future
            .as_ref()
            .expect("io: select arm used after it was taken")
            .raw_task()
    }
}

impl<T> Arm for Joined<'_, T> {
    fn poll(&mut self, _: &Waiter) -> bool {
        self.done = self.future.is_some() && self.task().is_done();
        self.done
    }
    fn register(&mut self, waiter: &Waiter) {
        let _ = self.task().add_waiter(&waiter.0);
    }
    fn unregister(&mut self, waiter: &Waiter) {
        if self.future.is_some() {
            self.task().remove_waiter(&waiter.0);
        }
    }
}

impl<T> SelectArm for Joined<'_, T> {
    type Output = T;
    fn take(&mut self) -> T {
        assert!(self.done, "io: select arm taken before it completed");
        let future = self.future.take().expect("io: select arm taken twice");
        // Finished: the join returns at once (and resumes the task's panic, if it panicked).
        future.join_inner()
    }
}

/// A deadline arm ([`after`], [`at`]): ready once the deadline passed; binds `()`. Measured on
/// the monotonic clock ([`Clock::Awake`](crate::Clock::Awake)).
///
/// # Examples
/// ```
/// use std::time::{Duration, Instant};
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let event = io::Event::new();
/// let start = Instant::now();
/// let which = runtime.run(|io| {
///     io::io_select!(io, {
///         () = event.select_wait() => "event",
///         () = io::at(start + Duration::from_millis(20)) => "late",
///         () = io::after(Duration::from_millis(2)) => "soon",
///     })
/// });
/// assert_eq!(which, Ok("soon"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    done: bool,
}

/// A select arm that is ready `duration` from now (a sleep that loses does nothing).
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let queue: io::Queue<u32> = io::Queue::new(1);
/// let got = runtime.run(|io| {
///     io::io_select!(io, {
///         item = queue.select_get() => Some(item),
///         () = io::after(Duration::from_millis(5)) => None,
///     })
/// });
/// assert_eq!(got, Ok(None), "nothing came within 5 ms");
/// ```
pub fn after(duration: Duration) -> Deadline {
    let now = Instant::now();
    at(now
        .checked_add(duration)
        .unwrap_or(now + Duration::from_secs(1 << 40)))
}

/// A select arm that is ready once `deadline` passed.
///
/// # Examples
/// ```
/// use std::time::{Duration, Instant};
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let queue: io::Queue<u8> = io::Queue::new(1);
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let got = runtime.run(|io| {
///     io::io_select!(io, {
///         item = queue.select_get() => Some(item),
///         () = io::at(deadline) => None,
///     })
/// });
/// assert_eq!(got, Ok(None));
/// assert!(Instant::now() >= deadline);
/// // A deadline in the past is ready at once.
/// let past = runtime.run(|io| io::io_select!(io, { () = io::at(Instant::now()) => "ready" }));
/// assert_eq!(past, Ok("ready"));
/// ```
pub fn at(deadline: Instant) -> Deadline {
    Deadline {
        at: deadline,
        done: false,
    }
}

impl Arm for Deadline {
    fn poll(&mut self, _: &Waiter) -> bool {
        self.done = Instant::now() >= self.at;
        self.done
    }
    fn register(&mut self, _: &Waiter) {}
    fn unregister(&mut self, _: &Waiter) {}
    fn deadline(&self) -> Option<Instant> {
        Some(self.at)
    }
}

impl SelectArm for Deadline {
    type Output = ();
    fn take(&mut self) {
        assert!(self.done, "io: select arm taken before it completed");
    }
}

/// The arm of the selecting task's own cancel request ([`cancel_requested`]): ready when a
/// cancellation point of the task would return [`Canceled`] (a cancel, or an enclosing
/// timeout's deadline); binds that `Canceled`. Winning does not consume the request: it stays
/// pending for the next cancellation point.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let event = io::Event::new();
/// let (outcome, next_point) = runtime.run(|io| {
///     io.scope(|s| {
///         let worker = s.spawn_concurrent(|| {
///             let outcome = io::io_select!(io, {
///                 () = event.select_wait() => "set",
///                 io::Canceled = io::cancel_requested() => "canceled",
///             });
///             // Winning did not consume the request: the next cancellation point sees it.
///             (outcome, io.check_cancel())
///         });
///         worker.unwrap().cancel(io)
///     })
/// });
/// assert_eq!(outcome, Ok("canceled"));
/// assert_eq!(next_point, Err(io::Canceled));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CancelRequest {
    done: bool,
}

/// A select arm that is ready when the selecting task is canceled (or its
/// [`timeout`](crate::Io::timeout) expires). With it, `io_select!` returns `Ok` for a cancel
/// too: the arm's expression decides what a cancel means here.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let queue: io::Queue<u32> = io::Queue::new(1);
/// let outcome = runtime.run(|io| {
///     io.scope(|s| {
///         let worker = s.spawn_concurrent(|| {
///             io::io_select!(io, {
///                 item = queue.select_get() => format!("got {item:?}"),
///                 _ = io::cancel_requested() => String::from("asked to stop"),
///             })
///         });
///         worker.unwrap().cancel(io)
///     })
/// });
/// assert_eq!(outcome.as_deref(), Ok("asked to stop"));
/// ```
pub fn cancel_requested() -> CancelRequest {
    CancelRequest::default()
}

impl Arm for CancelRequest {
    fn poll(&mut self, waiter: &Waiter) -> bool {
        self.done = block::check(&waiter.0).is_err();
        self.done
    }
    // A cancel unparks the task itself (`cancel_task`); a deadline bounds the park.
    fn register(&mut self, _: &Waiter) {}
    fn unregister(&mut self, _: &Waiter) {}
    fn is_cancel_request(&self) -> bool {
        true
    }
}

impl SelectArm for CancelRequest {
    type Output = Canceled;
    fn take(&mut self) -> Canceled {
        assert!(self.done, "io: select arm taken before it completed");
        Canceled
    }
}
