//! Backends: what runs tasks, and how they wait. This folder is the one seam between the core
//! (scopes, futures, groups, parking, queues, locks, time, files, sockets) and the machinery
//! that runs them; core modules name no backend.
//!
//! - [`Backend`] is what a runtime does: start, spawn, run the root, shut down. It is the
//!   vtable behind [`Io`](crate::Io); user code never sees which one it talks to.
//! - [`carrier::Carrier`] is how the task running on a thread waits: park, sleep, and run a
//!   blocking [`op::Op`]. A task that owns its thread blocks it (`own_thread`); a fiber of an
//!   event loop is suspended and its operations go through the ring (`uring`). The choice is
//!   per thread, not per `Io`: the same `Io` is used from a fiber and from the offload threads
//!   its runtime starts.
//! - [`op`] holds every blocking operation, written once for all backends.
//!
//! A new backend is one folder here, one `Backend` and one `Carrier` implementation, plus one
//! line where `Runtime::build` chooses backends.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::ConcurrencyUnavailable;
use crate::io::ThreadEnv;
use crate::task::RawTask;

pub(crate) mod carrier;
pub(crate) mod headroom;
pub(crate) mod op;
mod own_thread;
pub(crate) mod threaded;
pub(crate) mod uring;

/// A type-erased task as the run queues hold it.
pub(crate) use crate::task_cell::TaskRef;

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

/// Runs a task whose `QUEUED → RUNNING` claim the caller won ([`RawTask::claim`]), counted
/// like [`run_counted`].
///
/// # Safety
/// As [`RawTask::run_claimed`]: the caller's claim succeeded, and it calls this once.
pub(crate) unsafe fn run_claimed_counted(task: &dyn RawTask) {
    crate::io::with_monitor(|monitor| match monitor {
        // SAFETY: forwarded to the caller.
        Some(monitor) => monitor.running(|| unsafe { task.run_claimed() }),
        // SAFETY: forwarded to the caller.
        None => unsafe { task.run_claimed() },
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

/// Runs `op` for the current task, as its thread's carrier decides (a cancellation point).
pub(crate) fn perform(mut op: impl op::Op) -> std::io::Result<usize> {
    carrier::with_current(|carrier| carrier.perform(&mut op))
}

/// What a runtime's builder asks of its backend.
pub(crate) struct Settings {
    pub(crate) kind: crate::runtime::Backend,
    /// Worker threads of the threaded backend (0 with `single_threaded`).
    pub(crate) workers: usize,
    pub(crate) single_threaded: bool,
    pub(crate) async_limit: usize,
    pub(crate) concurrent_limit: usize,
    pub(crate) stack_size: usize,
    pub(crate) max_fibers: usize,
}

/// A backend made but for the runtime's shared state, which it may link to.
pub(crate) type MakeBackend = Box<dyn FnOnce(ThreadEnv) -> Box<dyn Backend>>;

/// Chooses the backend `settings` ask for — the one place that names every backend. `Auto`
/// takes io_uring where the kernel allows it and otherwise the threaded backend, saying why
/// once per process. `Err` names why the requested backend is unavailable.
pub(crate) fn choose(settings: &Settings) -> Result<MakeBackend, String> {
    use crate::runtime::Backend as Kind;
    let uring = || {
        uring::Uring::new(uring::Config {
            single_threaded: settings.single_threaded,
            async_limit: settings.async_limit,
            concurrent_limit: settings.concurrent_limit,
            stack_size: settings.stack_size,
            max_fibers: settings.max_fibers,
            loops: settings.workers.max(1),
        })
    };
    let threaded = threaded::Config {
        threads: settings.workers,
        async_limit: settings.async_limit,
        concurrent_limit: settings.concurrent_limit,
    };
    let threaded: MakeBackend =
        Box::new(move |env| Box::new(threaded::Threaded::new(threaded, env)));
    match settings.kind {
        Kind::Threaded => Ok(threaded),
        Kind::Uring => {
            let uring = uring()?;
            Ok(Box::new(move |env| Box::new(uring.with_env(env))))
        }
        Kind::Auto => match uring() {
            Ok(uring) => Ok(Box::new(move |env| Box::new(uring.with_env(env)))),
            Err(reason) => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| eprintln!("io: {reason}; using the threaded backend"));
                Ok(threaded)
            }
        },
    }
}

/// In the child of a `fork`: forgets the backends' per-thread state of the forking thread (its
/// carrier, and the event loop and fiber it ran) — plain stores, async-signal-safe (see
/// `crate::fork`).
pub(crate) fn reset_after_fork() {
    carrier::reset_after_fork();
    uring::reset_after_fork();
}
