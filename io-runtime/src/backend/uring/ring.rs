//! The ring: submission with back-pressure, completion reaping, and setup errors that name
//! their reason.

use std::io;

use io_uring::{cqueue, squeue, IoUring};

/// Submission queue entries per ring (completions get twice as many).
const ENTRIES: u32 = 4096;

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
    IoUring::builder()
        .setup_cqsize(ENTRIES * 2)
        .build(ENTRIES)
        .map_err(|e| explain_setup_error(&e))
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
}

impl Ring {
    pub(crate) fn new(ring: IoUring) -> Self {
        Self { ring }
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

    /// Submits what is queued and waits for at least `want` completions. `EINTR` and `EBUSY`
    /// (completion queue backed up) just return: the caller reaps and comes back.
    pub(crate) fn submit_and_wait(&mut self, want: usize) {
        match self.ring.submit_and_wait(want) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
            Err(e) => panic!("io: io_uring_enter failed: {e}"),
        }
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
}
