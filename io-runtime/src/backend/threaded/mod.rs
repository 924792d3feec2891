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
//!
//! # Address-space limit
//! Under a finite `RLIMIT_AS`, every thread the backend starts (a concurrent task's, a worker,
//! the retaker) must leave the reserve of `backend::headroom` free: its stack
//! ([`thread_stack_size`]) plus [`THREAD_EXTRA`]; see [`start_thread`]. A concurrent spawn
//! that does not fit is refused (`ConcurrencyUnavailable`); a worker that does not fit is not
//! started, as past the thread cap (at build: the build fails). The limit is read once, when
//! the backend is made.

mod pool;
mod retake;
mod slot;
mod spare;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::headroom::Headroom;
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

/// What a new thread maps besides its stack: the guard page below it, the alternate signal
/// stack std gives every thread (`SIGSTKSZ` or the kernel's `AT_MINSIGSTKSZ`, plus a guard
/// page), and the pages the allocator maps for a thread's first allocations when it gets no
/// arena of its own. A few pages each; 64 KiB is a bound with room to spare.
const THREAD_EXTRA: usize = 64 << 10;

/// How long [`start_thread`] waits, under an address-space limit, for the new thread to be
/// past its first allocation. It takes microseconds; the bound only keeps a stalled machine
/// from stalling the spawner (the next check may then miss that thread's arena).
const START_WAIT: Duration = Duration::from_secs(1);

/// Starts a thread of this backend named `name` running `body`, with [`thread_stack_size`],
/// if the address space leaves room for it and the reserve for `tasks` threads (see
/// `backend::headroom`); `ENOMEM` if not, or the error of the kernel refusing it.
///
/// Under a limit, it also waits (at most [`START_WAIT`]) until the thread is past its first
/// allocation. That allocation is where glibc may reserve a 64 MiB arena for the thread, and
/// the next decision must see it: otherwise a spawner that starts threads in a loop decides
/// on an address space that the arenas of the threads still starting are about to take, and a
/// thread accepted that way dies in its start-up (no room for its signal stack) and takes the
/// process with it.
pub(super) fn start_thread(
    headroom: &Headroom,
    tasks: usize,
    name: impl Into<String>,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    let stack_size = thread_stack_size();
    if !headroom.allows(stack_size + THREAD_EXTRA, tasks) {
        return Err(std::io::Error::from_raw_os_error(libc::ENOMEM));
    }
    let builder = std::thread::Builder::new()
        .name(name.into())
        .stack_size(stack_size);
    if !headroom.is_limited() {
        return builder.spawn(body);
    }
    let started = Arc::new((Mutex::new(false), Condvar::new()));
    let signal = Arc::clone(&started);
    let handle = builder.spawn(move || {
        drop(std::hint::black_box(Box::new(0_u64)));
        *signal.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        signal.1.notify_one();
        drop(signal);
        body();
    })?;
    let (flag, condvar) = &*started;
    let flag = flag.lock().unwrap_or_else(|e| e.into_inner());
    let _ = condvar
        .wait_timeout_while(flag, START_WAIT, |started| !*started)
        .unwrap_or_else(|e| e.into_inner());
    Ok(handle)
}

/// The stack size of the threads this backend starts: std's default for spawned threads,
/// `RUST_MIN_STACK` if set (a number of bytes), else 2 MiB. Set explicitly on each thread, so
/// that the address-space check knows what a thread takes.
fn thread_stack_size() -> usize {
    static SIZE: OnceLock<usize> = OnceLock::new();
    *SIZE.get_or_init(|| {
        std::env::var("RUST_MIN_STACK")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(2 << 20)
    })
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
        let headroom = Headroom::new();
        Self {
            pool: Pool::new(env.clone(), config.threads, headroom),
            spares: Spares::new(env, headroom),
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
