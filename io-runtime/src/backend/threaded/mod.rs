//! The threaded backend: a pool of worker threads for asynchrony, and dedicated threads for
//! concurrency (oversubscription beyond the pool, never refusal, unless the runtime is
//! single-threaded or `concurrent_limit` is reached).
//!
//! Every blocking operation blocks the task's thread: on the runtime's primitives through the
//! task's futex parker, in system calls through the kernel, interrupted by the cancel signal
//! (see `crate::cancel`).
//!
//! # The pool (`pool.rs`)
//! Async tasks wait in one FIFO queue. The pool has `threads` *running slots*: a thread takes a
//! queued task only with a free slot, so at most `threads` async tasks compute at once. A task
//! that blocks in the parker (a sleep, a wait on a runtime primitive, a join) lends its slot
//! back for the duration of the block ([`blocked`], the parker's hook), and another thread —
//! an idle one, or a new one, up to [`MAX_THREADS`](pool::MAX_THREADS) — takes the next queued
//! task: tasks that sleep or wait do not hold up the queue. The woken task takes its slot back
//! at once; threads beyond `threads` retire once idle for [`LINGER`](pool::LINGER). A queued
//! task may also run inline on its joiner (`crate::join`).
//!
//! A task blocked in a *system call* (made in `crate::cancel`'s protocol, which has no hook into
//! the pool) or in any other kernel wait keeps its slot until the retaker (`retake.rs`, Go's
//! `sysmon` in small) sees that tasks have waited a tick with no slot free and that the slot's
//! thread sleeps in the kernel, and takes the slot for a queued task.
//!
//! # Concurrent tasks (`spare.rs`)
//! Each runs on a thread of its own, reused from a cache of idle ones.

mod pool;
mod retake;
mod slot;
mod spare;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{claim, Backend, Dispatch, SpawnKind, TaskRef};
use crate::error::ConcurrencyUnavailable;
use crate::io::ThreadEnv;

pub(crate) use pool::Pool;
use spare::Spares;

/// Limits and sizes of a threaded backend.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Worker threads; 0 = single-threaded (everything async runs inline).
    pub(crate) threads: usize,
    /// Async tasks that may be queued or running on the pool at once.
    pub(crate) async_limit: usize,
    /// Concurrent tasks that may run at once.
    pub(crate) concurrent_limit: usize,
}

/// The threaded backend.
pub(crate) struct Threaded {
    config: Config,
    /// Runs async tasks.
    pool: Pool,
    /// Runs concurrent tasks, a thread each.
    spares: Spares,
    /// Async tasks queued or running on the pool (at most `config.async_limit`).
    async_outstanding: AtomicUsize,
    /// Concurrent tasks running (at most `config.concurrent_limit`).
    concurrent_outstanding: AtomicUsize,
}

impl Threaded {
    /// A backend configured by `config` whose threads join the runtime through `env`; its
    /// threads start in [`Backend::start`].
    pub(crate) fn new(config: Config, env: ThreadEnv) -> Self {
        crate::cancel::install_signal_handler();
        Self {
            pool: Pool::new(env.clone(), config.threads),
            spares: Spares::new(env),
            config,
            async_outstanding: AtomicUsize::new(0),
            concurrent_outstanding: AtomicUsize::new(0),
        }
    }

    /// Queues `task` on the pool, or hands it back to run inline (single-threaded, or
    /// `async_limit` reached).
    fn spawn_async(&self, task: TaskRef) -> Dispatch {
        if !claim(&self.async_outstanding, self.config.async_limit) || self.config.threads == 0 {
            if self.config.threads == 0 {
                release(&self.async_outstanding);
            }
            return Dispatch::RunInline(task);
        }
        task.ctx().hold_limit(&self.async_outstanding);
        self.pool.push(task);
        Dispatch::Scheduled
    }

    /// Runs `task` on a thread of its own, unless single-threaded or `concurrent_limit` is
    /// reached (or the kernel refuses a thread).
    fn spawn_concurrent(&self, task: TaskRef) -> Result<Dispatch, ConcurrencyUnavailable> {
        if self.config.threads == 0 {
            return Err(ConcurrencyUnavailable);
        }
        if !claim(&self.concurrent_outstanding, self.config.concurrent_limit) {
            return Err(ConcurrencyUnavailable);
        }
        let ctx = Arc::clone(task.ctx());
        ctx.hold_limit(&self.concurrent_outstanding);
        match self.spares.run(task) {
            Ok(()) => Ok(Dispatch::Scheduled),
            Err(_) => {
                ctx.release_limit();
                Err(ConcurrencyUnavailable)
            }
        }
    }
}

/// Gives back one unit of a spawn-limit counter taken by `claim`.
fn release(counter: &AtomicUsize) {
    counter.fetch_sub(1, Ordering::AcqRel);
}

impl Backend for Threaded {
    fn name(&self) -> &'static str {
        "threaded"
    }

    fn start(&self) -> std::io::Result<()> {
        self.pool.start()
    }

    fn spawn(&self, task: TaskRef, kind: SpawnKind) -> Result<Dispatch, ConcurrencyUnavailable> {
        match kind {
            SpawnKind::Async => Ok(self.spawn_async(task)),
            SpawnKind::Concurrent => self.spawn_concurrent(task),
        }
    }

    fn block_on(&self, root: &mut dyn FnMut()) {
        root();
    }

    fn shutdown(&self) {
        self.pool.shutdown();
        self.spares.shutdown();
    }
}
