//! Clocks and sleeping.

use std::time::{Duration, Instant};

use crate::block;
use crate::error::Canceled;
use crate::io::Io;
use crate::park::Wake;

/// Which clock a time is measured on.
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

    fn read(self) -> Duration {
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
    pub fn sleep_until(self, deadline: Duration, clock: Clock) -> Result<(), Canceled> {
        if crate::backend::uring::on_fiber() {
            return crate::backend::uring::sleep_until(deadline, clock);
        }
        loop {
            let left = deadline.saturating_sub(clock.read());
            if left.is_zero() {
                return block::check_cancel();
            }
            // The parker waits on the monotonic clock; re-reading `clock` after each wake keeps
            // Boot and Real deadlines right when those clocks move differently.
            let wake_at = Instant::now() + left;
            if block::park(&"Io::sleep", Some(wake_at))? == Wake::Notified {
                continue;
            }
        }
    }

    /// The explicit cancellation point: returns [`Canceled`] if the current task was canceled.
    ///
    /// # Errors
    /// [`Canceled`] once the current task has a cancel request (unless it runs protected).
    pub fn check_cancel(self) -> Result<(), Canceled> {
        block::check_cancel()
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
}
