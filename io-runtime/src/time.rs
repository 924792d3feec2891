//! Clocks, sleeping, and deadlines: [`Io::timeout`].
//!
//! # Timeout
//! `timeout` pushes a deadline on the current task for the duration of its call: every
//! cancellation point inside the call returns `Canceled` once the earliest enclosing deadline
//! has passed. No thread is involved: a parked task simply parks with that deadline, a ring
//! operation wakes at it, and a system call on a thread arms its thread's alarm (see
//! `cancel/README.md`, "Deadlines in a system call").
//!
//! # Deadlines
//! `Io::timeout` pushes a deadline on the current task's [`Deadlines`] for the duration of its
//! call. Once any of them has passed, every cancellation point of the task ([`park`],
//! [`check_cancel`], a system call — see [`SyscallDeadline`]) returns [`Canceled`] exactly as
//! if the task had been canceled, and marks the expired deadlines as *fired* so that their
//! `timeout` can report the reason. Unlike a cancel request, an expired deadline ends with its
//! `timeout` call. Protected code (`Io::uncancelable`) ignores deadlines as it ignores cancel
//! requests. Only the task itself touches its deadlines — and, while it waits for them, the
//! tasks that run on its behalf and so are inside its `timeout`s too: one it runs inline, or
//! the closure of its `Io::offload` (both linked through `inline_parent`).

use std::time::{Duration, Instant};

use std::sync::{Arc, Mutex};

use crate::alarm;
use crate::backend::carrier;
use crate::block;
use crate::error::{Canceled, Timeout};
use crate::io::Io;
use crate::task::{current_arc, TaskCtx};

/// Which clock a time is measured on.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use io::Clock;
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| {
///     let before = io.now(Clock::Awake);
///     io.sleep(Duration::from_millis(2), Clock::Awake).unwrap();
///     assert!(io.now(Clock::Awake) >= before + Duration::from_millis(2));
///     // Real time is wall-clock time since the Unix epoch (after 2020 here).
///     assert!(io.now(Clock::Real) > Duration::from_secs(1_577_836_800));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// Monotonic time that stops while the machine is suspended (`CLOCK_MONOTONIC`).
    Awake,
    /// Monotonic time that includes suspension (`CLOCK_BOOTTIME`).
    Boot,
    /// Wall-clock time since the Unix epoch; it can jump (`CLOCK_REALTIME`).
    Real,
}

impl Clock {
    fn id(self) -> libc::clockid_t {
        match self {
            Clock::Awake => libc::CLOCK_MONOTONIC,
            Clock::Boot => libc::CLOCK_BOOTTIME,
            Clock::Real => libc::CLOCK_REALTIME,
        }
    }

    pub(crate) fn read(self) -> Duration {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec and the clock ids above exist on Linux.
        let rc = unsafe { libc::clock_gettime(self.id(), &mut now) };
        assert_eq!(rc, 0, "io: clock_gettime({self:?}) failed");
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }
}

impl Io {
    /// The current time on `clock`, as the time since that clock's epoch.
    ///
    /// # Examples
    /// ```
    /// use io::Clock;
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| assert!(io.now(Clock::Real).as_secs() > 1_600_000_000));
    /// ```
    pub fn now(self, clock: Clock) -> Duration {
        clock.read()
    }

    /// Sleeps for `duration`, measured on `clock`.
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled before the time is up.
    ///
    /// # Cancelation
    /// A cancellation point: a canceled sleep returns at once.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| io.sleep(Duration::from_millis(5), io::Clock::Awake)).unwrap();
    /// ```
    pub fn sleep(self, duration: Duration, clock: Clock) -> Result<(), Canceled> {
        self.sleep_until(clock.read().saturating_add(duration), clock)
    }

    /// Sleeps until `clock` reads `deadline` (a time since the clock's epoch, as
    /// [`now`](Self::now) returns).
    ///
    /// # Errors
    /// [`Canceled`] if the task is canceled first.
    ///
    /// # Cancelation
    /// A cancellation point: a canceled sleep returns at once.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let wake_at = io.now(Clock::Boot) + Duration::from_millis(3);
    ///     io.sleep_until(wake_at, Clock::Boot).unwrap();
    ///     assert!(io.now(Clock::Boot) >= wake_at);
    ///     // A time already past returns at once.
    ///     io.sleep_until(Duration::ZERO, Clock::Boot).unwrap();
    /// });
    /// ```
    pub fn sleep_until(self, deadline: Duration, clock: Clock) -> Result<(), Canceled> {
        carrier::with_current(|carrier| carrier.sleep_until(deadline, clock))
    }

    /// The explicit cancellation point: returns [`Canceled`] if the current task was canceled.
    ///
    /// # Errors
    /// [`Canceled`] once the current task has a cancel request (unless it runs protected).
    ///
    /// A check does not let other tasks run: on the uring backend a fiber that computes without
    /// blocking holds its event loop (and so the task that would cancel it) until it blocks.
    ///
    /// # Examples
    /// A long computation on the threaded backend that checks now and then, so a cancel ends
    /// it:
    /// ```
    /// use io::{io_concurrent, scope, Canceled, Io};
    ///
    /// fn count_forever(io: Io) -> Result<u64, Canceled> {
    ///     let mut n = 0u64;
    ///     loop {
    ///         n = n.wrapping_add(1);
    ///         if n % 1024 == 0 {
    ///             io.check_cancel()?;
    ///         }
    ///     }
    /// }
    ///
    /// let runtime = io::Runtime::builder()
    ///     .backend(io::Backend::Threaded)
    ///     .threads(2)
    ///     .build()
    ///     .unwrap();
    /// let result = runtime.run(|io| -> Result<(), Canceled> {
    ///     scope!(io, {
    ///         let counter = io_concurrent!(count_forever(io)).unwrap();
    ///         io.sleep(std::time::Duration::from_millis(5), io::Clock::Awake)?;
    ///         assert_eq!(counter.cancel(io), Err(Canceled));
    ///         Ok(())
    ///     })
    /// });
    /// assert_eq!(result, Ok(()));
    /// ```
    pub fn check_cancel(self) -> Result<(), Canceled> {
        block::check_cancel()
    }

    /// Lets the other tasks run before this one goes on: a cancellation point for long
    /// computations.
    ///
    /// On the uring backend a fiber runs until it reaches a cancellation point (a wait, an
    /// operation, a sleep, this call); one that computes for long without reaching any holds
    /// its event loop, and the fibers of that loop wait. With `threads = N` (N > 1) the other
    /// loops keep running theirs, and take tasks that were spawned on the busy loop and have
    /// not started yet; a fiber that started stays on its loop. Calling `yield_now` now and
    /// then puts the fiber behind every fiber runnable on its loop (and lets the loop look at
    /// its ring) and makes the computation cancelable. On the threaded backend it yields the
    /// thread. For minutes of computation, [`offload`](Self::offload) frees the loop entirely.
    ///
    /// # Errors
    /// [`Canceled`] if the task was canceled (or an enclosing `Io::timeout` expired) before or
    /// while it yielded.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let sum = runtime.run(|io| {
    ///     let mut sum = 0u64;
    ///     for i in 0..1_000_000u64 {
    ///         sum = sum.wrapping_add(i * i);
    ///         if i % 100_000 == 0 {
    ///             io.yield_now()?;
    ///         }
    ///     }
    ///     Ok::<_, io::Canceled>(sum)
    /// });
    /// assert!(sum.is_ok());
    /// ```
    pub fn yield_now(self) -> Result<(), Canceled> {
        block::check_cancel()?;
        carrier::with_current(|carrier| carrier.yield_now());
        block::check_cancel()
    }

    /// Re-raises cancellation on the current task (Zig's `recancel`): its next cancellation
    /// point returns [`Canceled`], and so does every later one, as after any cancel request.
    ///
    /// Cancel requests are sticky here: a point that returned `Canceled` leaves the request
    /// pending, so a task that was canceled needs no `recancel` (calling it then changes
    /// nothing). It is for a `Canceled` — or [`Timeout`] — that was *handled* and did not come
    /// from a request to this task, when the task should now stop as if it had been canceled:
    /// - a [`Timeout`] of an enclosing [`timeout`](Self::timeout) (the deadline that fired
    ///   belongs to that call, so later points do not see it);
    /// - a `Canceled` returned by a task it joined, which someone else canceled;
    /// - a `Canceled` caught inside [`uncancelable`](Self::uncancelable) code, which hides the
    ///   request until the protection ends: re-raised there, it is seen by the first point after.
    ///
    /// Whoever joins the task sees what it returns, as for any cancel. On a thread that runs no
    /// task (one the user started) it does nothing: such a thread is never canceled.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::{Clock, Timeout};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let waited = io.timeout(Duration::from_millis(1), || io.sleep(Duration::from_secs(10), Clock::Awake));
    ///     assert_eq!(waited, Err(Timeout));
    ///     assert_eq!(io.check_cancel(), Ok(()), "the timeout consumed its deadline");
    ///     io.recancel();
    ///     assert_eq!(io.check_cancel(), Err(io::Canceled));
    ///     assert_eq!(io.sleep(Duration::from_secs(10), Clock::Awake), Err(io::Canceled));
    /// });
    /// ```
    pub fn recancel(self) {
        if !crate::task::current_ptr().is_null() {
            crate::task::with_current(|ctx| ctx.cancel.request());
        }
    }

    /// Runs `f` protected from cancellation: its cancellation points ignore cancel requests,
    /// so cleanup that must block (flush, close, a final message) is not cut short. A cancel
    /// that arrives meanwhile is seen by the first cancellation point after `f`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let slept = io.uncancelable(|| io.sleep(Duration::from_millis(1), io::Clock::Awake));
    ///     assert!(slept.is_ok());
    /// });
    /// ```
    pub fn uncancelable<R>(self, f: impl FnOnce() -> R) -> R {
        crate::task::with_current(|ctx| ctx.cancel.protected(f))
    }

    /// Runs `call` on the current task with a deadline `duration` from now.
    ///
    /// Once the deadline passes, every cancellation point inside `call` (sleeps, queue and
    /// lock waits, `select`, `check_cancel`, file and socket I/O blocked in the kernel…)
    /// returns [`Canceled`] as if the task had been canceled, so `call` typically returns
    /// early with `Err(Canceled)` (I/O: an error for which [`is_canceled`](crate::is_canceled)
    /// is true). Timeouts nest: the earliest enclosing deadline applies. Code inside
    /// [`uncancelable`](Self::uncancelable) ignores deadlines, as it ignores cancel requests.
    /// No thread is started; on the threaded backend a system call made under a deadline arms a
    /// timer of its thread (created once per thread) that interrupts it.
    ///
    /// Not cut short by a deadline: [`Future::join`](crate::Future::join), which waits for the task it joins. To
    /// bound a join, bound a `select` and cancel on timeout:
    /// `if io.timeout(d, || io.select(&[&f])).is_err() { f.cancel(io) }`.
    ///
    /// # Errors
    /// [`Timeout`] if the deadline passed and a cancellation point inside `call` reported it
    /// (the call's own result, usually `Err(Canceled)`, is dropped). A call that finishes
    /// without meeting the expired deadline returns `Ok`, even if late. An operation whose
    /// result won the race against the deadline (a queue item handed over, bytes read on the
    /// ring before the cancel reached them) returns that result and does not report the
    /// deadline, so nothing taken is dropped. A cancel of the task is not a timeout: the
    /// call's result, carrying `Canceled`, comes back in `Ok`.
    ///
    /// # Cancelation
    /// Not a cancellation point itself; `call`'s are.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::Clock;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let nap = || io.sleep(Duration::from_secs(10), Clock::Awake);
    ///     assert_eq!(io.timeout(Duration::from_millis(10), nap), Err(io::Timeout));
    ///     assert_eq!(io.timeout(Duration::from_secs(10), || 6 * 7), Ok(42));
    /// });
    /// ```
    pub fn timeout<T>(self, duration: Duration, call: impl FnOnce() -> T) -> Result<T, Timeout> {
        let Some(deadline) = Instant::now().checked_add(duration) else {
            return Ok(call());
        };
        let ctx = current_arc();
        let depth = ctx.deadlines.push(deadline);
        let frame = TimeoutFrame {
            ctx: &ctx,
            depth,
            left: false,
        };
        let value = call();
        if frame.leave() {
            Err(Timeout)
        } else {
            Ok(value)
        }
    }

    /// [`timeout`](Self::timeout) for a `call` that returns a `Result`: an expired deadline
    /// becomes the call's own error type through `From<Timeout>`, so the result is
    /// `Result<T, E>`, not `Result<Result<T, E>, Timeout>` (named like `try_fold`: the
    /// closure is fallible).
    ///
    /// `E` may be `std::io::Error` (the deadline comes back with kind `TimedOut`, and
    /// [`is_canceled`](crate::is_canceled) false), `Box<dyn Error + Send + Sync>`, or an error
    /// enum of one's own with `From<Timeout>`.
    ///
    /// # Errors
    /// `E::from(Timeout)` if the deadline passed and a cancellation point inside `call`
    /// reported it (the call's own result is dropped); otherwise `call`'s result, `Ok` or
    /// `Err`, unchanged — also its `Canceled` error when the task itself is canceled.
    ///
    /// # Cancelation
    /// Not a cancellation point itself; `call`'s are.
    ///
    /// # Examples
    /// Accepting with a deadline, in a function that returns `std::io::Result`:
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// use io::net::{TcpListener, TcpStream};
    ///
    /// fn accept_within(
    ///     io: io::Io,
    ///     listener: &TcpListener,
    ///     limit: Duration,
    /// ) -> std::io::Result<TcpStream> {
    ///     let (stream, _peer) = io.try_timeout(limit, || listener.accept(io))?;
    ///     Ok(stream)
    /// }
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// runtime.run(|io| {
    ///     let listener = TcpListener::bind(io, ([127, 0, 0, 1], 0)).unwrap();
    ///     let nobody = accept_within(io, &listener, Duration::from_millis(20)).unwrap_err();
    ///     assert_eq!(nobody.kind(), ErrorKind::TimedOut);
    ///     assert!(!io::is_canceled(&nobody));
    ///
    ///     // A call that ends in time returns its own result, `Ok` or `Err`.
    ///     let quick = io.try_timeout(Duration::from_secs(10), || std::io::Result::Ok(42));
    ///     assert_eq!(quick.unwrap(), 42);
    ///     let failed = io.try_timeout(Duration::from_secs(10), || {
    ///         std::fs::read("/no/such/file").map(|bytes| bytes.len())
    ///     });
    ///     assert_eq!(failed.unwrap_err().kind(), ErrorKind::NotFound);
    /// });
    /// ```
    pub fn try_timeout<T, E: From<Timeout>>(
        self,
        duration: Duration,
        call: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.timeout(duration, call)?
    }
}

/// Leaves a `timeout` frame on every way out, also on unwind.
struct TimeoutFrame<'a> {
    ctx: &'a TaskCtx,
    depth: usize,
    left: bool,
}

impl TimeoutFrame<'_> {
    /// Leaves the frame; returns whether its deadline fired.
    fn leave(mut self) -> bool {
        self.left = true;
        self.ctx.deadlines.pop(self.depth)
    }
}

impl Drop for TimeoutFrame<'_> {
    fn drop(&mut self) {
        if !self.left {
            self.ctx.deadlines.pop(self.depth);
        }
    }
}

/// `Err(Canceled)` if a deadline of an enclosing `Io::timeout` passed for `ctx` (the current
/// task), or for a task it runs on behalf of (see "Deadlines" above).
pub(crate) fn check_deadlines(ctx: &TaskCtx) -> Result<(), Canceled> {
    ctx.deadlines.check()?;
    for parent in ctx.inline_parents() {
        if parent.cancel.is_protected() {
            break;
        }
        parent.deadlines.check()?;
    }
    Ok(())
}

/// The earliest `Io::timeout` deadline that applies to `ctx` (the current task) now; none while
/// it runs protected. A backend that blocks the task by other means than [`park`] wakes it by
/// then and calls [`check`].
pub(crate) fn timer(ctx: &TaskCtx) -> Option<Instant> {
    if ctx.cancel.is_protected() {
        return None;
    }
    let mut timer = ctx.deadlines.earliest();
    for parent in ctx.inline_parents() {
        if parent.cancel.is_protected() {
            break;
        }
        timer = earliest(timer, parent.deadlines.earliest());
    }
    timer
}

/// The deadlines of `ctx` (the current task) as its blocking system calls see them: a deadline
/// that passes while the task sits in a call interrupts it through the thread's alarm (see
/// `cancel`, "Deadlines in a system call").
pub(crate) struct SyscallDeadline<'a>(pub(crate) &'a TaskCtx);

impl crate::cancel::Deadline for SyscallDeadline<'_> {
    fn check(&self) -> Result<(), Canceled> {
        block::check(self.0)
    }

    /// Only where the task owns its thread: a thread shared by tasks (an event loop) must
    /// not receive the signal, and makes no blocking call through this path.
    fn arm(&self) -> bool {
        if !carrier::owns_thread() {
            return false;
        }
        timer(self.0).is_some_and(alarm::arm)
    }

    fn disarm(&self) {
        alarm::disarm();
    }
}

pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The fired marks of the deadlines that apply to a task (its own, and those of the tasks it
/// runs on behalf of), taken before it waits.
///
/// A wait that saw a passed deadline (and so marked it fired) but whose result won the race
/// all the same — an item handed over, a ring operation that completed with data before its
/// cancel — did not report the deadline: it returns the result, and [`restore`](Self::restore)
/// takes back the marks, so the enclosing `Io::timeout` returns that result instead of dropping
/// it as a `Timeout`. Only the 64 outermost deadlines of a task are kept (deeper nesting keeps
/// its marks).
pub(crate) struct FiredMarks(Vec<(Arc<TaskCtx>, u64)>);

impl FiredMarks {
    /// The marks of `ctx` (the current task) and its inline parents now; allocates nothing
    /// while no deadline applies.
    pub(crate) fn take(ctx: &Arc<TaskCtx>) -> Self {
        let mut marks = Vec::new();
        // `ctx` and the parents whose deadlines apply, as `check_deadlines` walks them.
        let parents = ctx.inline_parents();
        let applying = parents.take_while(|parent| !parent.cancel.is_protected());
        for task in std::iter::once(&**ctx).chain(applying) {
            if let Some(bits) = task.deadlines.fired_bits() {
                // SAFETY: `task` is `ctx` or one of its inline parents, alive while `ctx` runs
                // (here); every context lives in an Arc.
                marks.push((unsafe { TaskCtx::arc_of(task) }, bits));
            }
        }
        Self(marks)
    }

    /// Puts the marks back as they were when taken.
    pub(crate) fn restore(self) {
        for (task, bits) in self.0 {
            task.deadlines.set_fired_bits(bits);
        }
    }
}

/// The deadlines of the `Io::timeout` calls a task is inside, outermost first.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    frames: Mutex<Vec<Frame>>,
}

#[derive(Debug)]
struct Frame {
    at: Instant,
    /// Set when a cancellation point returned `Canceled` because `at` passed.
    fired: bool,
}

impl Deadlines {
    /// Empties the frames of a context that nobody else references, keeping their memory (see
    /// `TaskCtx::renew`).
    pub(crate) fn renew(&mut self) {
        self.frames.clear_poison();
        self.frames
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn frames(&self) -> std::sync::MutexGuard<'_, Vec<Frame>> {
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enters a `timeout` ending at `at`; returns its depth, to hand back to [`Self::pop`].
    pub(crate) fn push(&self, at: Instant) -> usize {
        let mut frames = self.frames();
        frames.push(Frame { at, fired: false });
        frames.len() - 1
    }

    /// Leaves the innermost `timeout` (at `depth`); returns whether its deadline fired.
    pub(crate) fn pop(&self, depth: usize) -> bool {
        let mut frames = self.frames();
        debug_assert_eq!(frames.len(), depth + 1, "io: timeouts left out of order");
        frames.truncate(depth + 1);
        frames.pop().is_some_and(|frame| frame.fired)
    }

    /// Which of the first 64 deadlines fired (bit `i`: frame `i`); `None` without deadlines.
    fn fired_bits(&self) -> Option<u64> {
        let frames = self.frames();
        let bits = frames
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, frame)| frame.fired)
            .fold(0, |bits, (i, _)| bits | 1 << i);
        (!frames.is_empty()).then_some(bits)
    }

    /// Sets the fired marks of the first 64 deadlines from `bits` (see [`FiredMarks`]).
    fn set_fired_bits(&self, bits: u64) {
        for (i, frame) in self.frames().iter_mut().take(64).enumerate() {
            frame.fired = bits & (1 << i) != 0;
        }
    }

    /// The earliest deadline, if any.
    fn earliest(&self) -> Option<Instant> {
        self.frames().iter().map(|frame| frame.at).min()
    }

    /// `Err(Canceled)` if a deadline passed; marks every passed deadline as fired.
    fn check(&self) -> Result<(), Canceled> {
        let mut frames = self.frames();
        if frames.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let mut fired = false;
        for frame in frames.iter_mut().filter(|frame| frame.at <= now) {
            frame.fired = true;
            fired = true;
        }
        if fired {
            Err(Canceled)
        } else {
            Ok(())
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::{Duration, Instant};

    use crate::error::{Canceled, Timeout};
    use crate::testing::{runtime, sleep, LONG};
    use crate::Clock;

    #[test]
    fn timeout_of_a_10s_sleep_returns_timeout_within_2s() {
        runtime().run(|io| {
            let start = Instant::now();
            let slept = io.timeout(Duration::from_millis(20), || io.sleep(LONG, Clock::Awake));
            assert_eq!(slept, Err(Timeout));
            assert!(start.elapsed() < Duration::from_secs(2));
            assert_eq!(sleep(io, 1), Ok(()), "the deadline ends with its timeout");
        });
    }

    #[test]
    fn a_call_that_finishes_in_time_returns_ok() {
        runtime().run(|io| {
            assert_eq!(io.timeout(LONG, || sleep(io, 1).map(|()| 42)), Ok(Ok(42)));
            assert_eq!(io.timeout(Duration::MAX, || 7), Ok(7), "no overflow");
        });
    }

    #[test]
    fn nested_timeouts_the_earliest_deadline_wins() {
        runtime().run(|io| {
            let inner_first = io.timeout(LONG, || {
                let inner = io.timeout(Duration::from_millis(10), || io.sleep(LONG, Clock::Awake));
                assert_eq!(inner, Err(Timeout));
                sleep(io, 1)
            });
            assert_eq!(
                inner_first,
                Ok(Ok(())),
                "the outer call goes on after the inner timeout"
            );
            let outer_first = io.timeout(Duration::from_millis(10), || {
                let inner = io.timeout(LONG, || io.sleep(LONG, Clock::Awake));
                assert_eq!(
                    inner,
                    Ok(Err(Canceled)),
                    "the outer deadline is not the inner's"
                );
                inner
            });
            assert_eq!(outer_first, Err(Timeout));
        });
    }

    #[test]
    fn uncancelable_code_ignores_an_expired_deadline() {
        runtime().run(|io| {
            let mut cleanup = None;
            let result = io.timeout(Duration::from_millis(1), || {
                std::thread::sleep(Duration::from_millis(5));
                cleanup = Some(io.uncancelable(|| sleep(io, 5)));
                io.check_cancel()
            });
            assert_eq!(
                cleanup,
                Some(Ok(())),
                "protected code slept through the deadline"
            );
            assert_eq!(result, Err(Timeout));
        });
    }

    #[test]
    fn a_cancel_is_not_reported_as_a_timeout() {
        runtime().run(|io| {
            io.scope(|s| {
                let task = s.spawn_concurrent(|| io.timeout(LONG, || io.sleep(LONG, Clock::Awake)));
                sleep(io, 20).unwrap();
                assert_eq!(task.unwrap().cancel(io), Ok(Err(Canceled)));
            })
        });
    }
}
