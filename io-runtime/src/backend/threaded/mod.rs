//! The threaded backend: a pool of worker threads for asynchrony, and dedicated threads for
//! concurrency (oversubscription beyond the pool, never refusal, unless the runtime is
//! single-threaded or `concurrent_limit` is reached).
//!
//! Every blocking operation blocks the task's thread: on the runtime's primitives through the
//! task's futex parker, in system calls through the kernel, interrupted by the cancel signal
//! (see `crate::cancel`).

mod pool;
mod spare;

use std::sync::atomic::{AtomicUsize, Ordering};

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
    pool: Pool,
    spares: Spares,
    async_outstanding: AtomicUsize,
    concurrent_outstanding: AtomicUsize,
}

impl Threaded {
    pub(crate) fn new(config: Config, env: ThreadEnv) -> Self {
        crate::cancel::install_signal_handler();
        Self {
            pool: Pool::new(env.clone()),
            spares: Spares::new(env),
            config,
            async_outstanding: AtomicUsize::new(0),
            concurrent_outstanding: AtomicUsize::new(0),
        }
    }

    fn spawn_async(&self, task: TaskRef) -> Dispatch {
        if !claim(&self.async_outstanding, self.config.async_limit) || self.config.threads == 0 {
            if self.config.threads == 0 {
                release(&self.async_outstanding);
            }
            return Dispatch::RunInline(task);
        }
        self.pool.push(task, &self.async_outstanding);
        Dispatch::Scheduled
    }

    fn spawn_concurrent(&self, task: TaskRef) -> Result<Dispatch, ConcurrencyUnavailable> {
        if self.config.threads == 0 {
            return Err(ConcurrencyUnavailable);
        }
        if !claim(&self.concurrent_outstanding, self.config.concurrent_limit) {
            return Err(ConcurrencyUnavailable);
        }
        match self.spares.run(task, &self.concurrent_outstanding) {
            Ok(()) => Ok(Dispatch::Scheduled),
            Err(_) => {
                release(&self.concurrent_outstanding);
                Err(ConcurrencyUnavailable)
            }
        }
    }
}

fn release(counter: &AtomicUsize) {
    counter.fetch_sub(1, Ordering::AcqRel);
}

impl Backend for Threaded {
    fn name(&self) -> &'static str {
        "threaded"
    }

    fn start(&self) -> std::io::Result<()> {
        self.pool.start(self.config.threads)
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
