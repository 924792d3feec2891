//! Waiting for signals as a cancellation point: [`ctrl_c`] and [`signals`] / [`Signals`].
//!
//! # How it works, and why a self-pipe
//! Each [`Signals`] owns a pipe and a slot in a fixed, process-wide table: the signals it
//! wants and those delivered but not yet received (one bit per signal). The first `signals`
//! call for a signal installs a handler for it with `sigaction` (once per process,
//! `SA_RESTART | SA_ONSTACK`, replacing — not chaining — the previous disposition). The handler
//! is async-signal-safe: for every slot that wants the signal it sets the signal's pending bit
//! and writes one byte into the slot's pipe (non-blocking: a full pipe already wakes the
//! reader), saving and restoring `errno`. [`Signals::recv`] takes a pending bit if there is
//! one, and otherwise reads the pipe — an ordinary read op, so a cancellation point on both
//! backends (a ring `READ` on a fiber, a `read(2)` that the cancel signal interrupts on a
//! thread) — and looks again.
//!
//! `signalfd` was the alternative: it needs the signal blocked in *every* thread, or the
//! kernel delivers it to a thread that does not block it (with its default action: SIGTERM
//! kills the process) instead of queueing it for the descriptor. The runtime's threads, the
//! offload pool's, and any thread the program or a library started before the call exist
//! already, and a library cannot change their masks; the self-pipe works whatever the masks.
//!
//! # Promises
//! - Every [`Signals`] that wants a signal gets every delivery of it (fan-out); deliveries
//!   that arrive while nobody waits are kept, coalesced per signal as the kernel coalesces
//!   standard signals: two deliveries before a `recv` are received once. When several
//!   different signals are pending, `recv` returns the lowest-numbered first.
//! - Deliveries before `signals` returned are not seen; once a signal's handler is installed,
//!   it stays installed for the life of the process, also after every `Signals` is dropped
//!   (as in tokio): a later `SIGINT` then no longer ends the process.
//! - Refused with `InvalidInput`, naming the signal: `SIGURG` (the threaded backend's cancel
//!   signal), `SIGKILL` and `SIGSTOP` (which cannot be caught), `SIGSEGV`, `SIGBUS`, `SIGILL`,
//!   `SIGFPE` (faults, and the fiber stack-overflow report), the real-time signals glibc keeps
//!   for itself (32 and 33), and numbers that are no signal.
//! - A task waiting in `recv` is not a deadlock: it waits in an I/O operation, which the
//!   deadlock monitor counts as something that can still wake it.
//! - At most [`MAX_SIGNALS`] `Signals` exist at once (`ctrl_c` holds one while it waits).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::cancel::CANCEL_SIGNAL;
use crate::io::Io;
use crate::os::annotate;

pub use libc::c_int;

/// How many [`Signals`] may exist at once in the process.
pub const MAX_SIGNALS: usize = 128;

/// One [`Signals`]' place in the table that the handler reads.
struct Slot {
    /// Taken by a live `Signals`.
    taken: AtomicBool,
    /// The write end of its pipe, or -1 while the handler must not touch the slot.
    fd: AtomicI32,
    /// Handlers running on this slot right now (a drop waits for them before it closes).
    users: AtomicUsize,
    /// Bit `n - 1`: signal `n` is wanted.
    wanted: AtomicU64,
    /// Bit `n - 1`: signal `n` was delivered and not yet received.
    pending: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    taken: AtomicBool::new(false),
    fd: AtomicI32::new(-1),
    users: AtomicUsize::new(0),
    wanted: AtomicU64::new(0),
    pending: AtomicU64::new(0),
};

static SLOTS: [Slot; MAX_SIGNALS] = [FREE; MAX_SIGNALS];

/// How many slots were ever taken: the handler looks at no slot beyond.
static USED: AtomicUsize = AtomicUsize::new(0);

/// Bit `n - 1`: the handler is installed for signal `n`.
static INSTALLED: Mutex<u64> = Mutex::new(0);

/// A stream of the chosen signals, as [`signals`] returns it.
///
/// # Examples
/// ```
/// use io::signal::{signals, SIGUSR1};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// runtime.run(|io| {
///     let stream = signals(io, &[SIGUSR1]).unwrap();
///     // SAFETY: getpid and kill are async-signal-safe and have no preconditions.
///     unsafe { libc::kill(libc::getpid(), SIGUSR1) };
///     assert_eq!(stream.recv(io).unwrap(), SIGUSR1);
/// });
/// ```
pub struct Signals {
    slot: usize,
    read: OwnedFd,
    /// Kept open while the slot names it; closed in `Drop` once no handler can write to it.
    write: Option<OwnedFd>,
}

/// The signals a program most often waits for, re-exported from `libc`.
pub use libc::{SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

/// Waits for the next `SIGINT` (Ctrl-C in a terminal) delivered from now on.
///
/// # Errors
/// Those of [`signals`].
///
/// # Cancelation
/// A cancellation point on both backends.
///
/// # Examples
/// ```no_run
/// #[io::main]
/// fn main(io: io::Io) -> std::io::Result<()> {
///     io::signal::ctrl_c(io)?;
///     println!("interrupted, shutting down");
///     Ok(())
/// }
/// ```
pub fn ctrl_c(io: Io) -> io::Result<()> {
    signals(io, &[libc::SIGINT])?.recv(io).map(drop)
}

/// A stream of the signals in `set` delivered from now on (see the module documentation).
///
/// # Errors
/// `InvalidInput` naming the signal for a signal that cannot be waited for (`SIGURG`, the
/// runtime's cancel signal; `SIGKILL`, `SIGSTOP`, `SIGSEGV`, …) and for an empty `set`;
/// `OutOfMemory` when [`MAX_SIGNALS`] streams exist already; the errors of pipe2(2).
///
/// # Examples
/// ```
/// use io::signal::{signals, SIGUSR2, SIGWINCH};
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let (got, refused) = runtime.run(|io| -> std::io::Result<_> {
///     let stream = signals(io, &[SIGUSR2, SIGWINCH])?;
///     // SAFETY: getpid and kill are async-signal-safe and have no preconditions.
///     unsafe { libc::kill(libc::getpid(), SIGWINCH) };
///     let got = stream.recv(io)?;
///     Ok((got, signals(io, &[libc::SIGKILL]).unwrap_err()))
/// })
/// .unwrap();
/// assert_eq!(got, SIGWINCH);
/// assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub fn signals(io: Io, set: &[c_int]) -> io::Result<Signals> {
    let _ = io;
    let mut wanted = 0u64;
    for &signal in set {
        check(signal)?;
        wanted |= bit(signal);
    }
    if wanted == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "signals: no signal to wait for",
        ));
    }
    let (read, write) = pipe().map_err(|e| annotate("signals", "pipe", e))?;
    let slot = claim().ok_or_else(|| {
        let why = format!("signals: more than {MAX_SIGNALS} signal streams at once");
        io::Error::new(io::ErrorKind::OutOfMemory, why)
    })?;
    let entry = &SLOTS[slot];
    entry.pending.store(0, Ordering::SeqCst);
    entry.wanted.store(wanted, Ordering::SeqCst);
    entry.fd.store(write.as_raw_fd(), Ordering::SeqCst);
    let signals = Signals {
        slot,
        read,
        write: Some(write),
    };
    install(wanted)?;
    Ok(signals)
}

impl Signals {
    /// Waits for the next delivery of one of the stream's signals and returns its number.
    ///
    /// # Errors
    /// The errors of reading the stream's pipe.
    ///
    /// # Cancelation
    /// A cancellation point on both backends; a canceled `recv` loses no delivery.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::signal::{signals, SIGUSR1, SIGUSR2};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (first, second, idle) = runtime.run(|io| -> std::io::Result<_> {
    ///     let stream = signals(io, &[SIGUSR1, SIGUSR2])?;
    ///     // SAFETY: getpid and kill are async-signal-safe and have no preconditions.
    ///     unsafe {
    ///         libc::kill(libc::getpid(), SIGUSR2);
    ///         libc::kill(libc::getpid(), SIGUSR1);
    ///     }
    ///     // Each delivery is received once (when both are pending, the lower number first).
    ///     let (first, second) = (stream.recv(io)?, stream.recv(io)?);
    ///     let idle = io.timeout(Duration::from_millis(5), || stream.recv(io).map(drop));
    ///     Ok((first, second, idle.is_err()))
    /// })
    /// .unwrap();
    /// assert_eq!(([first.min(second), first.max(second)], idle), ([SIGUSR1, SIGUSR2], true));
    /// ```
    pub fn recv(&self, io: Io) -> io::Result<c_int> {
        let slot = &SLOTS[self.slot];
        loop {
            let pending = slot.pending.load(Ordering::SeqCst);
            if pending != 0 {
                let lowest = pending & pending.wrapping_neg();
                if slot.pending.fetch_and(!lowest, Ordering::SeqCst) & lowest != 0 {
                    return Ok(lowest.trailing_zeros() as c_int + 1);
                }
                continue;
            }
            // The handler sets the bit before it writes the byte, so after a byte is read the
            // loop finds the bit. Bytes of deliveries already taken only wake it once more.
            let mut bytes = [0; 64];
            crate::os::read(io, self.read.as_fd(), &mut bytes)
                .map_err(|e| annotate("recv", "signal pipe", e))?;
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let slot = &SLOTS[self.slot];
        // From now on no handler starts writing to the pipe; wait for those that did (a
        // handler runs to its end in a few instructions, never on this thread meanwhile).
        slot.fd.store(-1, Ordering::SeqCst);
        while slot.users.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
        drop(self.write.take());
        slot.wanted.store(0, Ordering::SeqCst);
        slot.pending.store(0, Ordering::SeqCst);
        slot.taken.store(false, Ordering::Release);
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wanted = SLOTS[self.slot].wanted.load(Ordering::Relaxed);
        let names: Vec<String> = (1..=64)
            .filter(|&n| wanted & bit(n) != 0)
            .map(name)
            .collect();
        f.debug_struct("Signals").field("signals", &names).finish()
    }
}

/// The bit of `signal` (1..=64) in a mask.
fn bit(signal: c_int) -> u64 {
    1 << (signal - 1)
}

/// Refuses a signal that cannot be waited for, naming it.
fn check(signal: c_int) -> io::Result<()> {
    let refuse = |why: &str| {
        let message = format!("signals: {} {why}", name(signal));
        Err(io::Error::new(io::ErrorKind::InvalidInput, message))
    };
    match signal {
        _ if signal == CANCEL_SIGNAL => {
            refuse("is the runtime's cancel signal and cannot be waited for")
        }
        libc::SIGKILL | libc::SIGSTOP => refuse("cannot be caught"),
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE => {
            refuse("reports a fault and cannot be waited for")
        }
        _ if !(1..=64).contains(&signal) => refuse("is not a signal"),
        _ if (32..libc::SIGRTMIN()).contains(&signal) => refuse("is reserved by the C library"),
        _ => Ok(()),
    }
}

/// The name of `signal`: "SIGTERM", or "signal 40".
fn name(signal: c_int) -> String {
    let known = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGCHLD, "SIGCHLD"),
        (libc::SIGCONT, "SIGCONT"),
        (libc::SIGSTOP, "SIGSTOP"),
        (libc::SIGTSTP, "SIGTSTP"),
        (libc::SIGURG, "SIGURG"),
        (libc::SIGWINCH, "SIGWINCH"),
    ];
    match known.iter().find(|(n, _)| *n == signal) {
        Some((_, name)) => (*name).to_string(),
        None => format!("signal {signal}"),
    }
}

/// A pipe: the blocking read end, and the non-blocking write end the handler writes to.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is valid for writes of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both descriptors are new and nobody else owns them.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    if unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((read, write))
}

/// Takes a free slot of the table.
fn claim() -> Option<usize> {
    let index = SLOTS.iter().position(|slot| {
        slot.taken
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    })?;
    USED.fetch_max(index + 1, Ordering::SeqCst);
    Some(index)
}

/// Installs the handler for every signal in `wanted` that has none of ours yet.
fn install(wanted: u64) -> io::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    for signal in 1..=64 {
        if wanted & bit(signal) == 0 || *installed & bit(signal) != 0 {
            continue;
        }
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler is
        // async-signal-safe (atomics and write(2), errno saved), and lives for the process.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART | libc::SA_ONSTACK;
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            let error = io::Error::last_os_error();
            return Err(annotate("sigaction", name(signal), error));
        }
        *installed |= bit(signal);
    }
    Ok(())
}

/// The handler: marks `signal` pending in every slot that wants it and wakes its reader.
extern "C" fn on_signal(signal: c_int) {
    // SAFETY: errno is a thread-local int; saving and restoring it keeps the interrupted
    // code's errno as it was.
    let errno = unsafe { *libc::__errno_location() };
    let mask = bit(signal);
    for slot in &SLOTS[..USED.load(Ordering::SeqCst)] {
        slot.users.fetch_add(1, Ordering::SeqCst);
        let fd = slot.fd.load(Ordering::SeqCst);
        if fd >= 0 && slot.wanted.load(Ordering::SeqCst) & mask != 0 {
            slot.pending.fetch_or(mask, Ordering::SeqCst);
            let byte = signal as u8;
            // SAFETY: `fd` is the slot's open write end: its `Signals` closes it only after
            // storing -1 and waiting for `users` to drop to zero, which this handler holds up.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
        slot.users.fetch_sub(1, Ordering::SeqCst);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}
