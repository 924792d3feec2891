//! Backends: what runs tasks. [`Backend`] is the vtable behind [`Io`](crate::Io); user code
//! never sees which one it talks to.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::ConcurrencyUnavailable;
use crate::task::RawTask;

pub(crate) mod threaded;
pub(crate) mod uring;

/// A type-erased task as the run queues hold it.
pub(crate) type TaskRef = Arc<dyn RawTask>;

/// Takes one unit of `counter` if it stays within `limit` (a spawn limit).
pub(crate) fn claim(counter: &AtomicUsize, limit: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_ok()
}

/// Runs a task that a backend thread or fiber took up, counted by the deadlock monitor as
/// active while it runs.
pub(crate) fn run_counted(task: &dyn RawTask) {
    crate::io::with_monitor(|monitor| match monitor {
        Some(monitor) => monitor.running(|| task.run()),
        None => task.run(),
    });
}

/// How a spawn asks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpawnKind {
    /// Asynchrony: may run on a worker, or inline on the caller.
    Async,
    /// Concurrency: must run at the same time as the caller.
    Concurrent,
}

/// What the backend did with a spawned task.
#[must_use]
pub(crate) enum Dispatch {
    /// Handed to another thread or fiber.
    Scheduled,
    /// No worker is available for asynchrony: the caller runs it inline, now.
    RunInline(TaskRef),
}

/// The operations every backend implements.
pub(crate) trait Backend: Send + Sync {
    /// The backend's name, as `IO_BACKEND` spells it.
    fn name(&self) -> &'static str;
    /// Starts the backend's threads; called once, after the shared state exists.
    fn start(&self) -> std::io::Result<()>;
    /// Schedules `task` per `kind`.
    fn spawn(&self, task: TaskRef, kind: SpawnKind) -> Result<Dispatch, ConcurrencyUnavailable>;
    /// Runs `root` (the body of `Runtime::run`) on the calling thread, driving whatever the
    /// backend needs (an event loop) until it returns.
    fn block_on(&self, root: &mut dyn FnMut());
    /// Stops the workers; called once, when the runtime is dropped, after every scope ended.
    fn shutdown(&self);
}
