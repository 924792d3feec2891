//! Which threads of the process belong to a runtime, and whether any other thread exists.
//!
//! A deadlock report is certain only if nothing outside the runtime can wake a task: a thread
//! the program started itself (a Ctrl-C handler, a watcher) may set an `Event` or put into a
//! `Queue` at any time, and the runtime cannot know whether it will. So the monitor counts the
//! process's threads (`/proc/self/task`) that are not the runtime's own; the kernel's io_uring
//! workers (`iou-wrk-…`, `iou-sqp-…`) run no user code and do not count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The kernel thread ids of the threads inside a runtime, with how many times each entered.
#[derive(Default)]
pub(crate) struct OwnThreads {
    tids: Mutex<HashMap<libc::pid_t, usize>>,
}

impl OwnThreads {
    fn tids(&self) -> std::sync::MutexGuard<'_, HashMap<libc::pid_t, usize>> {
        self.tids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the current thread as the runtime's until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> Entered {
        let tid = current_tid();
        *self.tids().entry(tid).or_insert(0) += 1;
        Entered {
            threads: Arc::clone(self),
            tid,
        }
    }

    /// How many threads of the process run outside the runtime right now; `None` if the
    /// process's threads cannot be listed (then nothing can be ruled out).
    pub(crate) fn foreign(&self) -> Option<usize> {
        let tasks = std::fs::read_dir("/proc/self/task").ok()?;
        let own = self.tids();
        let foreign = tasks
            .filter_map(|entry| {
                entry
                    .ok()?
                    .file_name()
                    .to_str()?
                    .parse::<libc::pid_t>()
                    .ok()
            })
            .filter(|tid| !own.contains_key(tid) && !is_ring_worker(*tid))
            .count();
        Some(foreign)
    }
}

/// Marks a thread as the runtime's while it lives.
pub(crate) struct Entered {
    threads: Arc<OwnThreads>,
    tid: libc::pid_t,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let mut tids = self.threads.tids();
        if let Some(count) = tids.get_mut(&self.tid) {
            *count -= 1;
            if *count == 0 {
                tids.remove(&self.tid);
            }
        }
    }
}

fn current_tid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// Whether `tid` is one of the kernel's io_uring workers of this process.
fn is_ring_worker(tid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .is_ok_and(|comm| comm.starts_with("iou-"))
}
