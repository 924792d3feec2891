//! Cancellation: the per-task request flag, cancel protection, and the protocol that interrupts
//! a task blocked in a system call.
//!
//! # States
//! One atomic word per task (`CancelState::flags`):
//! - `REQUESTED`: set once by [`CancelState::request`] (a `cancel`, a scope or group ending, a
//!   canceled joiner); never cleared: every later cancellation point of the task returns
//!   [`Canceled`] unless the task runs protected (see below).
//! - `IN_SYSCALL`: set by the task itself around a blocking system call made through
//!   [`CancelState::syscall`]; cleared by the task when the call returns. While it is set,
//!   `tid` names the kernel thread that sits in the call.
//!
//! Protection (`protect` depth, touched only by the task itself) hides `REQUESTED` from the
//! task's cancellation points, so cleanup code can block without being cut short.
//!
//! # Interrupting a system call (threaded backend)
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

use std::sync::atomic::Ordering;
use std::sync::Once;
use std::time::Duration;

use crate::error::Canceled;
use crate::loom::{AtomicI32, AtomicU32};

const REQUESTED: u32 = 1;
const IN_SYSCALL: u32 = 2;

/// The signal that interrupts a blocked system call. Its handler does nothing; its only effect
/// is the `EINTR`.
pub(crate) const CANCEL_SIGNAL: libc::c_int = libc::SIGURG;

/// The cancel state of one task. See the module documentation for the protocol.
#[derive(Debug, Default)]
pub(crate) struct CancelState {
    flags: AtomicU32,
    tid: AtomicI32,
    protect: AtomicU32,
}

impl CancelState {
    /// Records a cancel request. Returns `true` if this call made the request (the first one).
    pub(crate) fn request(&self) -> bool {
        self.flags.fetch_or(REQUESTED, Ordering::SeqCst) & REQUESTED == 0
    }

    /// Whether a cancel was requested, protection ignored.
    pub(crate) fn is_requested(&self) -> bool {
        self.flags.load(Ordering::SeqCst) & REQUESTED != 0
    }

    /// The cancellation point check: `Err(Canceled)` if a request is pending and the task is
    /// not protected. Only the task itself calls this.
    pub(crate) fn check(&self) -> Result<(), Canceled> {
        if self.is_requested() && self.protect.load(Ordering::Relaxed) == 0 {
            Err(Canceled)
        } else {
            Ok(())
        }
    }

    /// Whether the task runs protected (inside `protected`): its cancellation points then also
    /// ignore `Io::timeout` deadlines. Only the task itself calls this.
    pub(crate) fn is_protected(&self) -> bool {
        self.protect.load(Ordering::Relaxed) != 0
    }

    /// Runs `f` with cancellation points of this task ignoring cancel requests.
    pub(crate) fn protected<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Unprotect<'a>(&'a AtomicU32);
        impl Drop for Unprotect<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.protect.fetch_add(1, Ordering::Relaxed);
        let _unprotect = Unprotect(&self.protect);
        f()
    }

    /// Runs a blocking system call as a cancellation point.
    ///
    /// `call` returns the raw result (`-1` with `errno` set on failure). `EINTR` caused by a
    /// cancel becomes [`Canceled`]; any other `EINTR` is retried.
    pub(crate) fn syscall<R>(
        &self,
        mut call: impl FnMut() -> R,
        failed: impl Fn(&R) -> bool,
    ) -> Result<Result<R, std::io::Error>, Canceled> {
        install_signal_handler();
        loop {
            self.check()?;
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
}

fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn request_is_sticky_and_protection_hides_it() {
        let state = CancelState::default();
        assert!(state.check().is_ok());
        assert!(state.request());
        assert!(!state.request(), "only the first request reports true");
        assert_eq!(state.check(), Err(Canceled));
        state.protected(|| assert!(state.check().is_ok()));
        assert_eq!(state.check(), Err(Canceled));
    }

    #[test]
    fn a_requested_cancel_prevents_entering_the_syscall() {
        let state = CancelState::default();
        state.request();
        let mut entered = false;
        let result = state.syscall(
            || {
                entered = true;
                0
            },
            |rc| *rc < 0,
        );
        assert!(matches!(result, Err(Canceled)));
        assert!(!entered);
    }
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
