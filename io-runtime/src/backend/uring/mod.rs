//! The uring backend: an io_uring event loop running every task as a stackful fiber.
//!
//! Blocking never blocks the thread: a task that waits on a runtime primitive suspends its
//! fiber (see `crate::park`), a sleep or an I/O operation becomes a submission queue entry
//! and the fiber waits for its completion (see `op.rs` and README.md). The loop runs on the
//! thread that calls `Runtime::run`, for the duration of that call; a fiber that computes for
//! a long time holds the loop, so long computations belong in [`Io::offload`](crate::Io::offload).
//!
//! Stacks come from a pool of slabs with guard pages (see `crate::fiber::stack`); when the
//! pool or the configured fiber limit runs out, `io_concurrent!` returns
//! `ConcurrencyUnavailable` and `io_async!` runs inline.

mod op;
mod open;
mod ring;
mod scheduler;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types};

use super::{Backend, Dispatch, SpawnKind, TaskRef};
use crate::block;
use crate::error::{Canceled, ConcurrencyUnavailable};
use crate::park::Parker;
use crate::task::current_arc;

pub(crate) use op::Leftover;
pub(crate) use open::open_entry;
pub(crate) use scheduler::FiberWaker;
use scheduler::Loop;

/// Limits and sizes of a uring backend.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// No concurrency at all: async runs inline, concurrent is refused.
    pub(crate) single_threaded: bool,
    pub(crate) async_limit: usize,
    pub(crate) concurrent_limit: usize,
    pub(crate) stack_size: usize,
    pub(crate) max_fibers: usize,
}

/// The uring backend.
pub(crate) struct Uring {
    config: Config,
    /// A ring made at build time (proving io_uring works here), used by the first `run`.
    spare_ring: Mutex<Option<io_uring::IoUring>>,
}

impl Uring {
    /// Sets up a ring, or says why io_uring cannot be used.
    pub(crate) fn new(config: Config) -> Result<Self, String> {
        let ring = ring::create()?;
        Ok(Self {
            config,
            spare_ring: Mutex::new(Some(ring)),
        })
    }
}

impl Backend for Uring {
    fn name(&self) -> &'static str {
        "uring"
    }

    fn start(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn spawn(&self, task: TaskRef, kind: SpawnKind) -> Result<Dispatch, ConcurrencyUnavailable> {
        Loop::current(|lp| match lp {
            Some(lp) => lp.spawn(task, kind),
            // A thread outside the loop (an offload helper, a thread the user started): it can
            // run asynchrony inline, but it cannot host concurrency.
            None => match kind {
                SpawnKind::Async => Ok(Dispatch::RunInline(task)),
                SpawnKind::Concurrent => Err(ConcurrencyUnavailable),
            },
        })
    }

    fn block_on(&self, root: &mut dyn FnMut()) {
        let ring = self
            .spare_ring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let ring = match ring {
            Some(ring) => ring,
            None => ring::create().unwrap_or_else(|e| panic!("io: {e}")),
        };
        let lp = Loop::new(self.config.clone(), ring)
            .unwrap_or_else(|e| panic!("io: cannot start the uring loop: {e}"));
        lp.run(root);
    }

    fn shutdown(&self) {}
}

/// How to resume the fiber running on this thread, if a uring fiber runs here.
pub(crate) fn current_fiber() -> Option<FiberWaker> {
    Loop::current(|lp| lp.and_then(Loop::current_waker))
}

/// Suspends the running fiber (see `Parker::park`).
pub(crate) fn suspend_current(parker: &Parker, deadline: Option<Instant>) {
    Loop::current(|lp| {
        lp.expect("io: suspend without a uring loop")
            .suspend(parker, deadline)
    });
}

/// Whether this thread drives a uring event loop right now (from its loop or one of its fibers).
pub(crate) fn in_loop() -> bool {
    Loop::current(|lp| lp.is_some())
}

/// Whether the current task runs on a uring fiber (so operations go through the ring).
pub(crate) fn on_fiber() -> bool {
    current_fiber().is_some()
}

/// Submits `entry` for the current fiber and waits for its completion, as a cancellation
/// point: a cancel (or the deadline of an enclosing `Io::timeout`) submits an async-cancel for
/// exactly this operation and still waits for its completion, so buffers the entry points to
/// stay valid until the kernel is done.
///
/// Returns the raw result (negative errno on failure), or `Err(Canceled)` if a cancel came
/// first; a result that won the race against the cancel is returned when it holds data
/// (`leftover` is `Nothing`), and released (a descriptor closed) otherwise.
///
/// # Safety
/// Every buffer `entry` points to must stay valid until this function returns.
pub(crate) unsafe fn submit(entry: squeue::Entry, leftover: Leftover) -> Result<i32, Canceled> {
    let me = current_arc();
    block::check(&me)?;
    Loop::current(|lp| {
        let lp = lp.expect("io: ring operation outside the uring loop");
        let user_data = lp.ops().insert(me.clone(), op::Purpose::Result, leftover);
        // SAFETY: the caller keeps the buffers alive until we return, and we return only
        // after the completion was reaped (take_result below).
        unsafe { lp.push(&entry.user_data(user_data)) };
        let mut canceled = false;
        loop {
            // Until a cancel was sent, wake at an enclosing `Io::timeout`'s deadline too.
            let deadline = if canceled { None } else { block::timer(&me) };
            let _ = me.parker.park(deadline);
            if let Some(result) = lp.ops().take_result(user_data) {
                return finish(result, canceled, leftover);
            }
            if !canceled && block::check(&me).is_err() {
                canceled = true;
                let cancel = opcode::AsyncCancel::new(user_data)
                    .build()
                    .user_data(op::IGNORE);
                // SAFETY: an async-cancel refers to no memory.
                unsafe { lp.push(&cancel) };
            }
        }
    })
}

/// What `submit` returns for an operation's `result`, given whether a cancel was sent.
fn finish(result: i32, canceled: bool, leftover: Leftover) -> Result<i32, Canceled> {
    let interrupted = result == -libc::EINTR || is_restart(result);
    if !canceled {
        return Ok(if interrupted { -libc::EINTR } else { result });
    }
    if result == -libc::ECANCELED || interrupted {
        return Err(Canceled);
    }
    if leftover == Leftover::Descriptor && result >= 0 {
        // SAFETY: the kernel made this descriptor for the canceled caller, who never sees it.
        unsafe { libc::close(result) };
        return Err(Canceled);
    }
    Ok(result)
}

/// Whether `result` is one of the kernel's internal "restart the call" codes. An operation
/// that an io-wq worker ran blocking (an open waiting for a FIFO's peer, see `open.rs`) and an
/// async-cancel interrupted completes with one of them (seen: `-ERESTARTSYS`, 512) instead of
/// `-EINTR`.
fn is_restart(result: i32) -> bool {
    /// `ERESTARTSYS`, `ERESTARTNOINTR`, `ERESTARTNOHAND` and `ERESTART_RESTARTBLOCK` of
    /// include/linux/errno.h (515 is `ENOIOCTLCMD`, not a restart).
    const RESTART: [i32; 4] = [512, 513, 514, 516];
    RESTART.contains(&-result)
}

/// Sleeps on the ring until `deadline` on `clock` (an absolute time since the clock's epoch).
pub(crate) fn sleep_until(deadline: Duration, clock: crate::Clock) -> Result<(), Canceled> {
    let flags = match clock {
        crate::Clock::Awake => types::TimeoutFlags::ABS,
        crate::Clock::Boot => types::TimeoutFlags::ABS | types::TimeoutFlags::BOOTTIME,
        crate::Clock::Real => types::TimeoutFlags::ABS | types::TimeoutFlags::REALTIME,
    };
    let spec = types::Timespec::new()
        .sec(deadline.as_secs())
        .nsec(deadline.subsec_nanos());
    let entry = opcode::Timeout::new(&spec).flags(flags).build();
    // SAFETY: `spec` lives until `submit` returns, after the completion was reaped.
    match unsafe { submit(entry, Leftover::Nothing) }? {
        result if result == -libc::ETIME || result >= 0 => Ok(()),
        _ => Err(Canceled),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// `-ERESTARTSYS`, as an io-wq worker's open interrupted by an async-cancel returns it.
    const ERESTARTSYS: i32 = 512;

    #[test]
    fn an_interrupted_operation_is_canceled_if_a_cancel_was_sent_and_eintr_otherwise() {
        for interrupted in [-libc::EINTR, -ERESTARTSYS] {
            assert_eq!(
                finish(interrupted, true, Leftover::Descriptor),
                Err(Canceled)
            );
            assert_eq!(
                finish(interrupted, false, Leftover::Nothing),
                Ok(-libc::EINTR)
            );
        }
        assert_eq!(
            finish(-libc::ENXIO, true, Leftover::Descriptor),
            Ok(-libc::ENXIO)
        );
        assert_eq!(finish(7, false, Leftover::Nothing), Ok(7));
    }
}
