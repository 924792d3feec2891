//! The ring: submission with back-pressure, completion reaping, and setup errors that name
//! their reason.
//!
//! # Completion queue overflow
//!
//! Completions can outnumber the completion queue's entries: 100 000 fibers whose operations
//! complete together (a timeout each, before sleeps moved into the loop's own timers, see
//! `timers.rs`; 100 000 polls of one descriptor), and any operation in flight may complete
//! while the loop runs fibers. A completion that finds the queue full goes to an overflow list in the kernel (`IORING_FEAT_NODROP`, Linux ≥ 5.5, older
//! than the 5.6 opcodes this backend uses), and the kernel raises `IORING_SQ_CQ_OVERFLOW` in the
//! submission ring's flags. It moves those completions back into the queue only when entered
//! with `IORING_ENTER_GETEVENTS`, as many as the queue has room for. So the loop reaps in rounds
//! ([`Ring::overflowed`], [`Ring::flush_overflow`]): it empties the queue and, while the flag is
//! up, enters to refill it and empties it again. It does so after a blocking wait and in the
//! poll of a busy loop alike, so no completion waits on the kernel's list while fibers run.
//!
//! A completion the kernel could not keep (no memory for its overflow entry) is lost: the next
//! enter fails with `EBADR` and the loop panics saying so, as its waiter would never wake. A big
//! completion queue ([`CQ_ENTRIES`]) makes overflow rare; the rounds make it harmless.
//!
//! `IO_URING_OVERFLOW_REPORT` (a test hook, read when a ring is created) makes the ring say on
//! stderr, when dropped, how many completions came back from the overflow list and in how many
//! rounds.

use std::io;

use io_uring::{cqueue, squeue, IoUring};

/// Submission queue entries per ring. A full queue is flushed to the kernel ([`Ring::push`]).
const SQ_ENTRIES: u32 = 4096;

/// Completion queue entries per ring: the kernel's maximum (`IORING_MAX_CQ_ENTRIES`, 65 536,
/// twice its 32 768 submission entries; more is `EINVAL`).
///
/// A completion entry is 16 bytes: the queue is 1 MiB of kernel memory per ring (one per
/// `Runtime` and one per concurrent `Runtime::run` on this backend), against 128 KiB for 8 192
/// entries. What it buys: a burst of up to 65 536 completions (that many sleepers expiring
/// together) lands in the queue, not on the overflow list, where the kernel allocates each
/// completion a list entry (32 bytes and up; when that allocation fails under memory pressure,
/// the completion is lost) and copies it a second time. When 100 000 timeouts completed at once
/// (tests/fault_cq_overflow.rs, measured while every sleep was a ring timeout), up to 91 807 of
/// them (about 2.9 MB) went through the list with 8 192 entries, moved back in twelve rounds,
/// and up to 34 463 (about 1.1 MB) with 65 536, in one: the burst costs about the same memory
/// either way. Its latency did not change measurably; the kernel's posting and the loop's
/// resuming of 100 000 fibers dominate it.
/// Kernels that count ring memory against `RLIMIT_MEMLOCK` (before 5.12) and refuse it get
/// [`FALLBACK_CQ_ENTRIES`].
const CQ_ENTRIES: u32 = 65_536;

/// Completion queue entries when the kernel refuses [`CQ_ENTRIES`] for want of memory.
const FALLBACK_CQ_ENTRIES: u32 = 2 * SQ_ENTRIES;

/// `IORING_ENTER_GETEVENTS` (include/uapi/linux/io_uring.h).
const IORING_ENTER_GETEVENTS: u32 = 1;

/// Why io_uring cannot be used here, in words a user can act on.
pub(crate) fn explain_setup_error(error: &io::Error) -> String {
    let reason = match error.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no io_uring (ENOSYS)",
        Some(libc::EPERM) => {
            "io_uring is refused (EPERM): see /proc/sys/kernel/io_uring_disabled or the seccomp policy"
        }
        Some(libc::ENOMEM) => "not enough locked memory for the ring (ENOMEM): raise RLIMIT_MEMLOCK",
        Some(libc::EINVAL) => "the kernel rejected the ring parameters (EINVAL): kernel too old",
        _ => "io_uring_setup failed",
    };
    format!("the io_uring backend is unavailable: {reason} ({error})")
}

/// Creates a ring, or explains why not. `IO_URING_SETUP_ERRNO` (a test hook) makes setup fail
/// with that errno, as a kernel that refuses io_uring would.
///
/// No `IORING_SETUP_COOP_TASKRUN` or `DEFER_TASKRUN`: the kernel then interrupts the loop's
/// thread to post each completion, so the poll of a busy loop (`Ring::submit_queued`, then
/// reaping) sees completions without entering the kernel. With either flag, that poll would
/// have to enter with `IORING_ENTER_GETEVENTS`.
pub(crate) fn create() -> Result<IoUring, String> {
    if let Some(errno) = injected_failure() {
        return Err(explain_setup_error(&io::Error::from_raw_os_error(errno)));
    }
    if let Ok(text) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
        if text.trim() == "2" {
            return Err(
                "the io_uring backend is unavailable: /proc/sys/kernel/io_uring_disabled is 2"
                    .to_owned(),
            );
        }
    }
    let build = |cq_entries| {
        IoUring::builder()
            .setup_cqsize(cq_entries)
            .build(SQ_ENTRIES)
    };
    let ring = match build(CQ_ENTRIES) {
        Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => build(FALLBACK_CQ_ENTRIES),
        built => built,
    };
    ring.map_err(|e| explain_setup_error(&e))
}

fn injected_failure() -> Option<i32> {
    std::env::var("IO_URING_SETUP_ERRNO")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A ring owned by one event loop thread.
pub(crate) struct Ring {
    ring: IoUring,
    /// What came back from the kernel's overflow list, for `IO_URING_OVERFLOW_REPORT`.
    overflow: Overflow,
}

/// Completions moved back from the kernel's CQ overflow list so far.
#[derive(Default)]
struct Overflow {
    /// Calls of [`Ring::flush_overflow`].
    rounds: u64,
    /// Completions in the queue right after those calls (it was empty before each).
    completions: u64,
    /// Whether `IO_URING_OVERFLOW_REPORT` asks for the figures on drop.
    report: bool,
}

impl Ring {
    pub(crate) fn new(ring: IoUring) -> Self {
        let overflow = Overflow {
            report: std::env::var_os("IO_URING_OVERFLOW_REPORT").is_some(),
            ..Overflow::default()
        };
        Self { ring, overflow }
    }

    /// Queues `entry`, flushing the submission queue to the kernel first if it is full.
    ///
    /// # Safety
    /// Every buffer and pointer `entry` refers to must stay valid until its completion is
    /// reaped (the op table's lifecycle guarantees this, see README.md).
    pub(crate) unsafe fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: the caller guarantees the entry's memory outlives its completion.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return;
            }
            self.submit_and_wait(0);
        }
    }

    /// Submits what is queued and waits for at least `want` completions (with `want` 0, the
    /// crate still sets `IORING_ENTER_GETEVENTS` when completions overflowed, so the kernel
    /// moves them back into the queue). `EINTR` and `EBUSY` (completion queue backed up) just
    /// return: the caller reaps and comes back.
    pub(crate) fn submit_and_wait(&mut self, want: usize) {
        entered(self.ring.submit_and_wait(want));
    }

    /// Hands the queued entries to the kernel without waiting for a completion. Makes no system
    /// call when nothing is queued, unless completions overflowed the completion queue (an
    /// enter then moves them back into it).
    pub(crate) fn submit_queued(&mut self) {
        let queue = self.ring.submission();
        let quiet = queue.is_empty() && !queue.cq_overflow();
        drop(queue);
        if !quiet {
            self.submit_and_wait(0);
        }
    }

    /// Takes the next completion, if any.
    pub(crate) fn next_completion(&mut self) -> Option<cqueue::Entry> {
        self.ring.completion().next()
    }

    /// Whether completions wait on the kernel's overflow list (`IORING_SQ_CQ_OVERFLOW`: they
    /// found the completion queue full). One atomic load of the submission ring's flags.
    pub(crate) fn overflowed(&mut self) -> bool {
        self.ring.submission().cq_overflow()
    }

    /// Has the kernel move overflowed completions back into the completion queue, as many as
    /// it has room for: an `io_uring_enter` with `IORING_ENTER_GETEVENTS` that submits nothing
    /// and waits for nothing. It also runs completions pending as task work, which may overflow
    /// anew: callers reap and ask [`overflowed`](Self::overflowed) again.
    pub(crate) fn flush_overflow(&mut self) {
        // SAFETY: submits no entry (`to_submit` 0) and passes no argument (`None`, so no
        // pointer for the kernel to read); the flag only makes the kernel post completions into
        // this ring's completion queue, which the `IoUring` keeps mapped while `self` lives.
        let result = unsafe {
            self.ring
                .submitter()
                .enter::<libc::sigset_t>(0, 0, IORING_ENTER_GETEVENTS, None)
        };
        entered(result);
        self.overflow.rounds += 1;
        self.overflow.completions += self.ring.completion().len() as u64;
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let overflow = &self.overflow;
        if overflow.report {
            eprintln!(
                "io: uring: {} completions came back from the CQ overflow list in {} rounds \
                 ({} CQ entries)",
                overflow.completions,
                overflow.rounds,
                self.ring.params().cq_entries()
            );
        }
    }
}

/// Checks the result of an `io_uring_enter`. `EINTR` and `EBUSY` (completion queue backed up)
/// are no errors: the caller reaps and comes back.
///
/// # Panics
///
/// On any other error. `EBADR` says the kernel dropped completions (it had no memory for its
/// overflow list): their waiters would never wake.
fn entered(result: io::Result<usize>) {
    match result {
        Ok(_) => {}
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
        Err(e) if e.raw_os_error() == Some(libc::EBADR) => panic!(
            "io: the kernel dropped io_uring completions (no memory for its CQ overflow list), \
             whose tasks would never wake ({e})"
        ),
        Err(e) => panic!("io: io_uring_enter failed: {e}"),
    }
}
