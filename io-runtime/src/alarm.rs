//! The per-thread alarm: a POSIX timer that sends its own thread [`CANCEL_SIGNAL`] from a
//! deadline on, again and again, until it is disarmed. It is how an `Io::timeout` deadline
//! interrupts a task blocked in a system call on the threaded backend (see `crate::cancel`,
//! "Deadlines in a system call").
//!
//! Each thread creates its timer (`timer_create(CLOCK_MONOTONIC)`, delivered with
//! `SIGEV_THREAD_ID` to the thread itself) the first time it arms it, reuses it for every later
//! call, and deletes it when the thread exits. The child of a `fork` inherits no timer: its
//! thread forgets the parent's (see [`reset_after_fork`]) and creates one of its own.

use std::cell::Cell;
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::cancel::{install_signal_handler, CANCEL_SIGNAL};

/// How often the alarm repeats once its deadline passed, until disarmed. The first signal may
/// land before the kernel entered the call (then it interrupts nothing); a repeat reaches the
/// task inside. Repeats are cheap: they happen only between the deadline and the task leaving
/// its call, and a signal that is still pending absorbs the next ones (the timer counts an
/// overrun instead of queueing another).
pub(crate) const REPEAT: Duration = Duration::from_micros(100);

/// The longest first expiry armed (about 68 years): a later deadline waits that long.
const LONGEST: Duration = Duration::from_secs(i32::MAX as u64);

/// A thread's timer: created on first use, deleted with the thread.
struct Alarm {
    /// The timer, once created.
    timer: Cell<Option<libc::timer_t>>,
}

impl Alarm {
    /// The timer this thread created, if any: not one a parent process created before a fork.
    fn existing(&self) -> Option<libc::timer_t> {
        if INHERITED.get() {
            return None;
        }
        self.timer.get()
    }

    /// The timer of this thread, created now if it does not exist yet; `None` if the kernel
    /// refused one (see [`create`]).
    fn timer(&self) -> Option<libc::timer_t> {
        if INHERITED.replace(false) {
            // The id names a timer of the parent process, which this one does not have (or,
            // worse, a timer another thread of this process created since).
            self.timer.set(None);
        }
        if self.timer.get().is_none() {
            self.timer.set(create());
        }
        self.timer.get()
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        if let Some(timer) = self.existing() {
            // SAFETY: `timer` was created by this thread's `create` and is deleted once, here,
            // as the thread exits; nothing uses it afterwards.
            unsafe { libc::timer_delete(timer) };
        }
    }
}

thread_local! {
    static ALARM: Alarm = const {
        Alarm {
            timer: Cell::new(None),
        }
    };
    /// Whether `ALARM`'s timer id, if any, was inherited through a fork: POSIX timers are not
    /// inherited, so the id names nothing of this process (or another thread's timer). A flag
    /// of its own because `ALARM` has a destructor: touching it first on a thread registers
    /// that destructor, which allocates — not for the fork handler.
    static INHERITED: Cell<bool> = const { Cell::new(false) };
}

/// In the child of a `fork` (see `crate::fork`): this thread's timer is its parent's, which the
/// child does not have; the next arm creates a fresh one, and the thread's exit deletes nothing
/// it did not create. Only a store to a `const` thread-local without destructor.
pub(crate) fn reset_after_fork() {
    INHERITED.set(true);
}

/// Creates a timer that delivers [`CANCEL_SIGNAL`] to the calling thread. `None` (said once on
/// stderr) if the kernel refuses: a deadline then reaches a blocked call only when it returns.
fn create() -> Option<libc::timer_t> {
    install_signal_handler();
    // SAFETY: a zeroed sigevent is a valid value (no notification); the fields set below make
    // it "send signal CANCEL_SIGNAL to thread `gettid()`", a thread of this process.
    let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
    event.sigev_notify = libc::SIGEV_THREAD_ID;
    event.sigev_signo = CANCEL_SIGNAL;
    // SAFETY: gettid has no preconditions and cannot fail.
    event.sigev_notify_thread_id = unsafe { libc::gettid() };
    let mut timer: libc::timer_t = std::ptr::null_mut();
    // SAFETY: `event` and `timer` are valid for the call; the kernel writes the new timer's id
    // into `timer` on success.
    let rc = unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) };
    if rc == 0 {
        return Some(timer);
    }
    static SAID: Once = Once::new();
    let error = std::io::Error::last_os_error();
    SAID.call_once(|| {
        eprintln!(
            "io: cannot create a timer ({error}); deadlines do not interrupt system calls \
             of threads without one"
        );
    });
    None
}

/// `duration` as the kernel's `timespec`.
fn timespec(duration: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: duration.as_secs() as libc::time_t,
        tv_nsec: duration.subsec_nanos() as libc::c_long,
    }
}

/// Sets this thread's timer; `false` if the thread has none.
fn set(value: Duration, interval: Duration) -> bool {
    let spec = libc::itimerspec {
        it_interval: timespec(interval),
        it_value: timespec(value),
    };
    let timer = ALARM.try_with(Alarm::timer).ok().flatten();
    let Some(timer) = timer else {
        return false;
    };
    // SAFETY: `timer` is this thread's live timer (deleted only as the thread exits) and
    // `spec` is a valid itimerspec for the call.
    let rc = unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) };
    rc == 0
}

/// Arms this thread's alarm: from `at` on (at once if it passed), the thread receives
/// [`CANCEL_SIGNAL`] every [`REPEAT`] until [`disarm`]. Returns whether it is armed.
pub(crate) fn arm(at: Instant) -> bool {
    // A relative expiry measured now fires no earlier than `at`; zero would disarm instead.
    let first = at
        .saturating_duration_since(Instant::now())
        .clamp(Duration::from_nanos(1), LONGEST);
    set(first, REPEAT)
}

/// Disarms this thread's alarm (a signal it already sent may still arrive: one spurious
/// `EINTR`, which the runtime's system calls retry).
pub(crate) fn disarm() {
    set(Duration::ZERO, Duration::ZERO);
}

/// Whether this thread's alarm is armed now (for tests).
#[cfg(all(test, not(loom)))]
pub(crate) fn is_armed() -> bool {
    let Some(timer) = ALARM.with(Alarm::existing) else {
        return false;
    };
    let mut spec = libc::itimerspec {
        it_interval: timespec(Duration::ZERO),
        it_value: timespec(Duration::ZERO),
    };
    // SAFETY: `timer` is this thread's live timer; `spec` is writable for the call.
    let rc = unsafe { libc::timer_gettime(timer, &mut spec) };
    assert_eq!(rc, 0, "timer_gettime: {}", std::io::Error::last_os_error());
    spec.it_value.tv_sec != 0 || spec.it_value.tv_nsec != 0
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn an_armed_alarm_interrupts_a_blocking_call_and_disarm_stops_it() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        assert!(arm(Instant::now() + Duration::from_millis(20)));
        assert!(is_armed());
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into `byte` from the pipe we own.
        let rc = unsafe { libc::read(fds[0], (&mut byte as *mut u8).cast(), 1) };
        let error = std::io::Error::last_os_error();
        disarm();
        assert_eq!(rc, -1);
        assert_eq!(error.raw_os_error(), Some(libc::EINTR));
        assert!(!is_armed(), "disarm left the alarm armed");
        for fd in fds {
            // SAFETY: closes the descriptors pipe2 made for this test, once.
            unsafe { libc::close(fd) };
        }
    }

    #[test]
    fn a_passed_deadline_arms_the_alarm_at_once() {
        assert!(arm(Instant::now() - Duration::from_millis(1)));
        assert!(is_armed(), "a passed deadline still arms (its repeats)");
        disarm();
        assert!(!is_armed());
    }
}
