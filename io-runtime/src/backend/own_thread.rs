//! [`OwnThread`]: the carrier of a task that owns its OS thread (every task of the threaded
//! backend, an offload closure, the root of a threaded `Runtime::run`, a user's thread). It
//! blocks the thread: the parker sleeps on its futex, an operation is a system call made as a
//! cancellation point ([`syscall`]), a sleep parks until the deadline.

use std::io;
use std::time::{Duration, Instant};

use super::carrier::Carrier;
use crate::block;
use crate::error::{canceled_io, Canceled};
use crate::park::Wake;
use crate::task::with_current;
use crate::time::{Clock, SyscallDeadline};

/// The carrier of a thread no backend entered (see `carrier`).
pub(crate) struct OwnThread;

impl Carrier for OwnThread {}

/// Runs a raw system call returning `-1`/errno on failure as a cancellation point: a cancel
/// of the task, or a passed deadline of an enclosing `Io::timeout` (through the thread's
/// alarm), interrupts it with the cancel signal (see `crate::cancel`), and the call returns
/// [`canceled_io`].
pub(crate) fn syscall(call: impl FnMut() -> isize) -> io::Result<usize> {
    let outcome = with_current(|ctx| {
        // A cancel of a task that runs this one inline must be able to interrupt the call.
        ctx.publish_inline_links();
        ctx.cancel
            .syscall(call, |rc| *rc < 0, &SyscallDeadline(ctx))
    });
    match outcome {
        Err(Canceled) => Err(canceled_io()),
        Ok(Err(error)) => Err(error),
        Ok(Ok(count)) => Ok(count as usize),
    }
}

/// Parks the current task until `clock` reads `deadline`.
pub(crate) fn sleep_until(deadline: Duration, clock: Clock) -> Result<(), Canceled> {
    loop {
        let left = deadline.saturating_sub(clock.read());
        if left.is_zero() {
            return block::check_cancel();
        }
        // The parker waits on the monotonic clock; re-reading `clock` after each wake keeps
        // Boot and Real deadlines right when those clocks move differently.
        // A deadline beyond what `Instant` can hold is never reached: park without one.
        let wake_at = Instant::now().checked_add(left);
        if block::park(&"Io::sleep", wake_at)? == Wake::Notified {
            continue;
        }
    }
}
