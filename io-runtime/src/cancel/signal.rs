//! Interrupting a task blocked in a system call on its own thread (see `README.md`, path 2).
//!
//! # Interrupting a system call
//! The task does: publish `tid`, set `IN_SYSCALL` with a `fetch_or` and look at the value it
//! replaced (return `Canceled` without entering the call if `REQUESTED` was in it), enter the
//! call; on `EINTR` it returns `Canceled` if `REQUESTED` is set, otherwise it retries. The
//! canceler does: set `REQUESTED` with a `fetch_or`, then — for as long as the task has not
//! finished and `IN_SYSCALL` is set — send [`CANCEL_SIGNAL`] to `tid`, waiting with a growing
//! back-off between sends ([`Interrupter`]).
//!
//! Both flags live in one word, and read-modify-writes of one word are totally ordered (its
//! modification order; no `SeqCst` needed): if the canceler's `fetch_or(REQUESTED)` came first,
//! the task's `fetch_or(IN_SYSCALL)` returns `REQUESTED`; otherwise the canceler's later loads
//! see `IN_SYSCALL` (until the task clears it on leaving the call), and it signals. The
//! `fetch_or` releases `tid` to the canceler's acquiring load of the flags. The accesses stay
//! `SeqCst`, but this argument needs only acquire/release, and the loom models at the end of
//! this file check it that way (loom treats `SeqCst` as `AcqRel`).
//!
//! The one remaining window — the signal lands after the `fetch_or` but before the kernel
//! entered the call, so nothing is interrupted — is closed by re-sending until the task
//! acknowledges by leaving the call: the canceler never relies on a single signal, and never
//! sleeps in place of a protocol (the loom model deadlocks if the canceler signals only once).
//! The handler is installed without `SA_RESTART`, so the kernel returns `EINTR` instead of
//! silently restarting the call.
//!
//! # Deadlines in a system call
//! A deadline of an enclosing `Io::timeout` ends a blocked call the same way, with the kernel
//! as the canceler. The state involved is the task's own: its deadlines (read through
//! [`Deadline`]: `time::timer` for the earliest one, `block::check` for "has one passed?") and
//! its thread's *alarm*, a POSIX timer that sends [`CANCEL_SIGNAL`] to that thread only
//! (`crate::alarm`). Nobody else signals for a deadline, and the flag word is not involved.
//! The alarm goes *disarmed* → *armed* (by the task, before it enters the call) → *firing*
//! (by the kernel, from the deadline on, every `alarm::REPEAT`) → *disarmed* (by the task,
//! after it left the call, however it left).
//!
//! The task does: return `Canceled` if a deadline passed ([`Deadline::check`]); arm the alarm
//! for the earliest deadline ([`Deadline::arm`]: from then on the kernel signals the thread
//! every `alarm::REPEAT`, until disarmed; a deadline that already passed fires at once); run the
//! cancel protocol above and enter the call; disarm when the call returns. On `EINTR` it loops,
//! and the loop's first step returns `Canceled` if `REQUESTED` is set or a deadline passed
//! (which marks it fired, so that `Io::timeout` reports [`Timeout`](crate::Timeout)); any other
//! `EINTR` is retried, re-arming the alarm.
//!
//! Why no deadline is missed: the alarm is armed before the task enters the call and disarmed
//! only after it left it, and once the deadline passed it fires again and again in between. If
//! the deadline passes before the call, the check or the first signal catches it; if a signal
//! lands in the window after the check but before the kernel entered the call, the next repeat
//! arrives inside the call. Like the canceler, the alarm never relies on one signal, and
//! nothing sleeps in place of the protocol. The repeats cost nothing outside that window: the
//! task disarms as soon as the first signal inside the call returns it, and a signal that is
//! still pending absorbs later expiries. The alarm fires no earlier than the deadline on the
//! clock `Instant` reads (`CLOCK_MONOTONIC`), so the check that follows the `EINTR` sees it
//! passed. Protected code arms nothing (`time::timer` is `None` there), so deadlines never
//! interrupt it. The loom model `a_deadline_reaches_a_task_entering_a_blocking_call` checks
//! this with a modelled alarm.

use std::sync::atomic::Ordering;
use std::sync::Once;
use std::time::{Duration, Instant};

use super::{CancelState, IN_SYSCALL, REQUESTED};
use crate::error::Canceled;

/// The signal that interrupts a blocked system call. Its handler does nothing; its only effect
/// is the `EINTR`.
pub(crate) const CANCEL_SIGNAL: libc::c_int = libc::SIGURG;

impl CancelState {
    /// Runs a blocking system call as a cancellation point.
    ///
    /// `call` returns the raw result (`-1` with `errno` set on failure). `EINTR` caused by a
    /// cancel or by a passed `deadline` becomes [`Canceled`]; any other `EINTR` is retried.
    pub(crate) fn syscall<R>(
        &self,
        mut call: impl FnMut() -> R,
        failed: impl Fn(&R) -> bool,
        deadline: &impl Deadline,
    ) -> Result<Result<R, std::io::Error>, Canceled> {
        install_signal_handler();
        loop {
            self.check()?;
            deadline.check()?;
            // See "Deadlines in a system call": armed before entering, disarmed after leaving.
            let _alarm = Armed::arm(deadline);
            self.tid.store(current_tid(), Ordering::Relaxed);
            // Decide on the value this fetch_or replaced: see "Interrupting a system call".
            let flags = self.flags.fetch_or(IN_SYSCALL, Ordering::SeqCst);
            if flags & REQUESTED != 0 && !self.is_protected() {
                self.flags.fetch_and(!IN_SYSCALL, Ordering::SeqCst);
                return Err(Canceled);
            }
            let result = call();
            let error = failed(&result).then(std::io::Error::last_os_error);
            self.flags.fetch_and(!IN_SYSCALL, Ordering::SeqCst);
            match error {
                None => return Ok(Ok(result)),
                Some(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Some(e) => return Ok(Err(e)),
            }
        }
    }

    /// If the task sits in a system call, sends it the cancel signal. Returns whether it did.
    pub(crate) fn interrupt(&self) -> bool {
        if self.flags.load(Ordering::SeqCst) & IN_SYSCALL == 0 {
            return false;
        }
        let tid = self.tid.load(Ordering::Relaxed);
        // SAFETY: tgkill only sends a signal; it targets a thread of this process only (the
        // thread group id is ours), whose handler for CANCEL_SIGNAL is a no-op, so a stale tid
        // at worst causes one spurious EINTR, which the runtime's syscalls retry.
        unsafe {
            libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, CANCEL_SIGNAL);
        }
        true
    }
}

/// The deadlines of the task that makes a system call, as [`CancelState::syscall`] needs them
/// (see "Deadlines in a system call"). Only the task itself calls these, on its own thread.
pub(crate) trait Deadline {
    /// `Err(Canceled)` if a deadline that applies to the task has passed (marking it fired).
    fn check(&self) -> Result<(), Canceled>;
    /// Arms the thread's alarm for the earliest deadline that applies, if any: from that
    /// deadline on, the thread receives [`CANCEL_SIGNAL`] repeatedly until [`disarm`]. Returns
    /// whether it armed.
    ///
    /// [`disarm`]: Deadline::disarm
    fn arm(&self) -> bool;
    /// Stops the alarm that [`arm`](Deadline::arm) armed.
    fn disarm(&self);
}

/// No deadline applies (the models and tests of the cancel path).
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoDeadline;

#[cfg(test)]
impl Deadline for NoDeadline {
    fn check(&self) -> Result<(), Canceled> {
        Ok(())
    }

    fn arm(&self) -> bool {
        false
    }

    fn disarm(&self) {}
}

/// Disarms the alarm, if [`Deadline::arm`] armed it, when the call is over (on every way out).
struct Armed<'a, D: Deadline>(Option<&'a D>);

impl<'a, D: Deadline> Armed<'a, D> {
    fn arm(deadline: &'a D) -> Self {
        Self(deadline.arm().then_some(deadline))
    }
}

impl<D: Deadline> Drop for Armed<'_, D> {
    fn drop(&mut self) {
        if let Some(deadline) = self.0 {
            deadline.disarm();
        }
    }
}

/// The canceler's side of the syscall protocol: re-sends the signal with a growing back-off
/// until the target leaves its system call or finishes.
#[derive(Debug)]
pub(crate) struct Interrupter {
    backoff: Duration,
}

impl Interrupter {
    const FIRST: Duration = Duration::from_micros(50);
    const LAST: Duration = Duration::from_millis(10);

    pub(crate) fn new() -> Self {
        Self {
            backoff: Self::FIRST,
        }
    }

    /// Signals `target` if needed and returns how long to wait before looking again, or `None`
    /// if the target is not in a system call (then wait without a deadline: the runtime's own
    /// primitives wake a canceled task themselves).
    pub(crate) fn poke(&mut self, target: &CancelState) -> Option<Duration> {
        if !target.interrupt() {
            return None;
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(Self::LAST);
        Some(wait)
    }

    /// For a waiter of `target`: if `target` has a cancel request, [`poke`](Self::poke)s it and
    /// returns when to look again; `None` (park without a deadline) otherwise.
    pub(crate) fn poke_if_requested(&mut self, target: &CancelState) -> Option<Instant> {
        if !target.is_requested() {
            return None;
        }
        self.poke(target).map(|wait| Instant::now() + wait)
    }
}

std::thread_local! {
    /// This thread's id, asked once: a `gettid` per system call was a measurable share of a
    /// file operation on the threaded backend. 0 until asked; a forked child forgets it
    /// ([`reset_after_fork`]), since its one thread has an id of its own.
    static TID: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

fn current_tid() -> i32 {
    TID.with(|tid| {
        if tid.get() == 0 {
            // SAFETY: gettid has no preconditions and cannot fail.
            tid.set(unsafe { libc::gettid() });
        }
        tid.get()
    })
}

/// Forgets the cached thread id in the child of a fork (called by `crate::fork`).
pub(crate) fn reset_after_fork() {
    TID.with(|tid| tid.set(0));
}

extern "C" fn on_cancel_signal(_: libc::c_int) {}

/// Installs the no-op handler for [`CANCEL_SIGNAL`], without `SA_RESTART`, once per process.
pub(crate) fn install_signal_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; we then set a
        // handler that is async-signal-safe (it does nothing). Not setting SA_RESTART is the
        // point: interrupted calls return EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_cancel_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0;
            let rc = libc::sigaction(CANCEL_SIGNAL, &action, std::ptr::null_mut());
            assert_eq!(rc, 0, "io: cannot install the cancel signal handler");
        }
    });
}

/// Loom models of the syscall protocol. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p io-runtime --release --lib loom_tests` (see
/// `crate::loom`). The task runs the real [`CancelState::syscall`] and the canceler the real
/// [`CancelState::request`] and [`Interrupter`]; only the kernel is modelled. (`interrupt` still
/// sends its real, harmless signal: loom runs every model thread on this one OS thread, whose
/// handler does nothing.)
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    /// The kernel's side of one blocking system call: a signal that arrives while the caller is
    /// inside makes it fail with `EINTR`; one that arrives before it entered is lost.
    struct Kernel {
        signals: Mutex<u32>,
        delivered: Condvar,
    }

    impl Kernel {
        fn new() -> Self {
            Self {
                signals: Mutex::new(0),
                delivered: Condvar::new(),
            }
        }

        /// A call that never completes on its own (a read of an idle socket).
        fn blocking_call(&self) -> i32 {
            let mut signals = self.signals.lock().unwrap();
            let at_entry = *signals;
            while *signals == at_entry {
                signals = self.delivered.wait(signals).unwrap();
            }
            // SAFETY: `__errno_location` returns this thread's errno, valid for the thread's
            // life; `syscall` reads it back before any other model thread runs.
            unsafe { *libc::__errno_location() = libc::EINTR };
            -1
        }

        /// The delivery of the signal that `CancelState::interrupt` sent.
        fn signal(&self) {
            *self.signals.lock().unwrap() += 1;
            self.delivered.notify_all();
        }
    }

    /// Model 3: the task enters a call that only a signal ends while the canceler requests and
    /// then pokes it the way `join` does. Either the task sees `REQUESTED` before entering, or
    /// the canceler sees `IN_SYSCALL` and its signals reach the task inside the call. A
    /// violation leaves the task in the call forever: a loom deadlock.
    #[test]
    fn cancel_reaches_a_task_entering_a_blocking_call() {
        crate::loom::model(|| {
            let state = Arc::new(CancelState::default());
            let kernel = Arc::new(Kernel::new());
            let task = {
                let (state, kernel) = (Arc::clone(&state), Arc::clone(&kernel));
                thread::spawn(move || {
                    let mut entered = false;
                    let result = state.syscall(
                        || {
                            entered = true;
                            kernel.blocking_call()
                        },
                        |rc| *rc < 0,
                        &NoDeadline,
                    );
                    (result.map(|_| ()), entered)
                })
            };
            state.request();
            let mut interrupter = Interrupter::new();
            let mut sent = 0;
            while interrupter.poke(&state).is_some() {
                kernel.signal();
                sent += 1;
                thread::yield_now();
            }
            let (result, entered) = task.join().unwrap();
            assert_eq!(result, Err(Canceled));
            assert!(
                !entered || sent > 0,
                "the task entered but nobody signaled it"
            );
        });
    }

    /// The task's deadline and the kernel's side of its thread's alarm: once the deadline has
    /// passed, the alarm signals the thread again and again for as long as it is armed. The
    /// "clock" is a flag that the alarm's thread sets before it fires, as the kernel's timer
    /// expires only after the monotonic clock passed the deadline.
    struct ModelDeadline {
        /// The deadline has passed (the monotonic clock, as far as the model goes).
        passed: loom::sync::atomic::AtomicBool,
        /// The alarm's state, as the kernel holds it.
        alarm: Mutex<AlarmState>,
        /// Signaled at every change of `alarm`.
        changed: Condvar,
    }

    /// The kernel's view of the task thread's alarm.
    #[derive(Default)]
    struct AlarmState {
        /// Between the task's `arm` and its `disarm`.
        armed: bool,
        /// The task left `syscall` for good: the alarm's thread may stop.
        finished: bool,
    }

    impl ModelDeadline {
        /// A deadline that has not passed, with the alarm disarmed.
        fn new() -> Self {
            Self {
                passed: loom::sync::atomic::AtomicBool::new(false),
                alarm: Mutex::new(AlarmState::default()),
                changed: Condvar::new(),
            }
        }

        /// Changes the alarm's state and tells the alarm's thread.
        fn update(&self, change: impl FnOnce(&mut AlarmState)) {
            change(&mut self.alarm.lock().unwrap());
            self.changed.notify_all();
        }

        /// The kernel's timer: the deadline passes, then every expiry while armed sends a
        /// signal to the task's thread (lost if the task is not inside the call).
        fn run_alarm(&self, kernel: &Kernel) {
            self.passed.store(true, Ordering::Release);
            loop {
                let mut alarm = self.alarm.lock().unwrap();
                while !alarm.armed && !alarm.finished {
                    alarm = self.changed.wait(alarm).unwrap();
                }
                if alarm.finished {
                    return;
                }
                drop(alarm);
                kernel.signal();
                thread::yield_now();
            }
        }
    }

    impl Deadline for ModelDeadline {
        fn check(&self) -> Result<(), Canceled> {
            if self.passed.load(Ordering::Acquire) {
                Err(Canceled)
            } else {
                Ok(())
            }
        }

        fn arm(&self) -> bool {
            self.update(|alarm| alarm.armed = true);
            true
        }

        fn disarm(&self) {
            self.update(|alarm| alarm.armed = false);
        }
    }

    /// Model 4: a deadline passes while the task checks it, arms its alarm and enters a call
    /// that only a signal ends; nobody cancels. Wherever the deadline falls — before the check,
    /// between the check and the entry (the first signal is lost), or inside the call — the
    /// alarm's repeats reach the task inside the call and it returns `Canceled`. A violation
    /// leaves the task in the call forever: a loom deadlock.
    #[test]
    fn a_deadline_reaches_a_task_entering_a_blocking_call() {
        crate::loom::model(|| {
            let state = Arc::new(CancelState::default());
            let kernel = Arc::new(Kernel::new());
            let deadline = Arc::new(ModelDeadline::new());
            let alarm = {
                let (deadline, kernel) = (Arc::clone(&deadline), Arc::clone(&kernel));
                thread::spawn(move || deadline.run_alarm(&kernel))
            };
            let result = state.syscall(|| kernel.blocking_call(), |rc| *rc < 0, &*deadline);
            deadline.update(|alarm| alarm.finished = true);
            alarm.join().unwrap();
            assert_eq!(result.map(|_| ()), Err(Canceled));
            assert!(
                !deadline.alarm.lock().unwrap().armed,
                "the task left its call with the alarm armed"
            );
        });
    }

    /// The task's call completes by itself while a cancel races it: the result is the call's
    /// (it entered before the request) or `Canceled` (it did not enter), and the canceler stops
    /// poking once the task left the call.
    #[test]
    fn cancel_racing_a_call_that_completes() {
        crate::loom::model(|| {
            let state = Arc::new(CancelState::default());
            let task = {
                let state = Arc::clone(&state);
                thread::spawn(move || {
                    let mut entered = false;
                    let result = state.syscall(
                        || {
                            entered = true;
                            7
                        },
                        |rc| *rc < 0,
                        &NoDeadline,
                    );
                    (result.map(|r| r.ok()), entered)
                })
            };
            state.request();
            let mut interrupter = Interrupter::new();
            while interrupter.poke(&state).is_some() {
                thread::yield_now();
            }
            let (result, entered) = task.join().unwrap();
            match result {
                Ok(value) => assert!(entered && value == Some(7)),
                Err(Canceled) => assert!(!entered),
            }
        });
    }
}
