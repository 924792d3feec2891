//! Threads for concurrent tasks: each concurrent task gets a thread of its own, reused from a
//! cache of idle ones when possible. Idle threads exit after [`IDLE_EXIT`].
//!
//! # Running out
//!
//! A new thread is started only if its stack leaves the reserve of `backend::headroom` free
//! under `RLIMIT_AS` (otherwise, or if the kernel refuses the thread, the spawn is refused:
//! `ConcurrencyUnavailable`). A thread the kernel accepted must not then die in its start-up
//! or later for want of a few pages (its signal stack, its thread-locals, its place in the idle
//! list): that would abort the whole process. So the spawner also makes room, before the
//! thread exists, for everything the thread's life adds to the shared lists.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::start_thread;
use crate::backend::headroom::Headroom;
use crate::backend::TaskRef;
use crate::io::ThreadEnv;

/// How long an idle concurrent thread waits for new work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(5);

/// A concurrent task handed to a thread (it holds a unit of `concurrent_limit`, given back as
/// it finishes: see `TaskCtx::release_limit`).
struct Job {
    task: TaskRef,
}

/// Where an idle thread waits for its next job.
#[derive(Default)]
struct Slot {
    job: Mutex<Option<Job>>,
    ready: Condvar,
}

/// The state the concurrent threads share.
#[derive(Default)]
struct Inner {
    /// The slots of the idle threads, most recently idle last.
    idle: Mutex<Vec<Arc<Slot>>>,
    shutdown: Mutex<bool>,
}

/// The cache of concurrent-task threads.
pub(crate) struct Spares {
    inner: Arc<Inner>,
    env: ThreadEnv,
    /// The threads started and not yet seen finished, to join at shutdown.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The address-space limit, read when the backend was made.
    headroom: Headroom,
}

impl Spares {
    /// An empty cache whose threads join the runtime through `env`.
    pub(crate) fn new(env: ThreadEnv, headroom: Headroom) -> Self {
        Self {
            inner: Arc::default(),
            env,
            threads: Mutex::default(),
            headroom,
        }
    }

    /// Runs `task` on an idle thread, or on a new one.
    ///
    /// # Errors
    /// `ENOMEM` when a new thread would eat into the address-space reserve or there is no room
    /// for its bookkeeping, or the error of the kernel refusing the thread.
    pub(crate) fn run(&self, task: TaskRef) -> std::io::Result<()> {
        let job = Job { task };
        let idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        if let Some(slot) = idle {
            *slot.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(job);
            slot.ready.notify_one();
            return Ok(());
        }
        self.start(job)
    }

    /// Starts a thread for `job`, if the address space leaves room for it (see the module
    /// documentation). The list of threads stays locked until the new one is in it, so that
    /// `shutdown` never misses a thread that was being started.
    fn start(&self, job: Job) -> std::io::Result<()> {
        let no_memory = || std::io::Error::from_raw_os_error(libc::ENOMEM);
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain(|t| !t.is_finished());
        let alive = threads.len() + 1;
        // Room for its handle here and, once it idles, its slot in the idle list.
        threads.try_reserve(1).map_err(|_| no_memory())?;
        let mut idle = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner());
        let listed = idle.len();
        idle.try_reserve(alive.saturating_sub(listed))
            .map_err(|_| no_memory())?;
        drop(idle);
        let inner = Arc::clone(&self.inner);
        let env = self.env.clone();
        let handle = start_thread(&self.headroom, alive, "io-concurrent", move || {
            env.run_thread(|| serve(&inner, job));
        })?;
        threads.push(handle); // capacity reserved above
        Ok(())
    }

    /// Tells idle threads to exit and joins every thread.
    pub(crate) fn shutdown(&self) {
        *self
            .inner
            .shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = true;
        for slot in self
            .inner
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            // Taking the slot's lock orders this notify after the thread's predicate check.
            let _job = slot.job.lock().unwrap_or_else(|e| e.into_inner());
            slot.ready.notify_one();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// A concurrent thread's life: run `first`, then each job handed to it while idle, until it
/// idles for [`IDLE_EXIT`] or the runtime shuts down.
fn serve(inner: &Inner, first: Job) {
    let slot = Arc::new(Slot::default());
    let mut job = Some(first);
    while let Some(Job { task }) = job.take() {
        crate::backend::run_counted(&*task);
        drop(task);
        job = wait_for_job(inner, &slot);
    }
}

/// Parks the thread as idle until a job arrives, shutdown, or IDLE_EXIT passes.
fn wait_for_job(inner: &Inner, slot: &Arc<Slot>) -> Option<Job> {
    if *inner.shutdown.lock().unwrap_or_else(|e| e.into_inner()) {
        return None;
    }
    // Within the capacity its spawner reserved: the idle list never holds more slots than
    // there are threads.
    inner
        .idle
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::clone(slot));
    let job = slot.job.lock().unwrap_or_else(|e| e.into_inner());
    let (mut job, _) = slot
        .ready
        .wait_timeout_while(job, IDLE_EXIT, |job| {
            job.is_none() && !*inner.shutdown.lock().unwrap_or_else(|e| e.into_inner())
        })
        .unwrap_or_else(|e| e.into_inner());
    if job.is_none() {
        // Leave the idle list. If a spawner popped us first, it owns us now and its job is on
        // its way: wait for it rather than lose it.
        drop(job);
        let mut idle = inner.idle.lock().unwrap_or_else(|e| e.into_inner());
        let listed = idle.len();
        idle.retain(|s| !Arc::ptr_eq(s, slot));
        let popped_by_spawner = idle.len() == listed;
        drop(idle);
        job = slot.job.lock().unwrap_or_else(|e| e.into_inner());
        if popped_by_spawner {
            job = slot
                .ready
                .wait_while(job, |job| job.is_none())
                .unwrap_or_else(|e| e.into_inner());
        }
    }
    job.take()
}
