//! The worker pool: a shared FIFO of async tasks served by a fixed set of threads.
//!
//! A queued task may also be claimed inline by its joiner (see `crate::task`); the worker that
//! later pops the stale entry finds it claimed and moves on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::release;
use crate::backend::TaskRef;
use crate::io::ThreadEnv;

struct Queue {
    tasks: VecDeque<(TaskRef, *const AtomicUsize)>,
    shutdown: bool,
    /// Workers asleep on `available`.
    sleeping: usize,
    /// Wake-ups sent and not yet taken by a worker: a push wakes a worker only if more sleep
    /// than are already being woken (a futex wake is a system call, and an IPI to the other
    /// core, for a task that its joiner will often run inline before any worker gets to it).
    waking: usize,
}

// SAFETY: the raw pointer is the backend's outstanding-task counter, which outlives the pool
// (the pool is shut down and its threads joined before the backend is dropped).
unsafe impl Send for Queue {}

struct Inner {
    queue: Mutex<Queue>,
    available: Condvar,
    /// Tasks in `queue`, readable without the lock: an idle worker spins on it for a while
    /// before it sleeps, so a burst of spawns finds it awake and needs no wake-up.
    queued: AtomicUsize,
}

/// How long an idle worker spins, watching `queued`, before it sleeps on the condvar.
const SPIN: Duration = Duration::from_micros(50);

/// A fixed pool of worker threads.
pub(crate) struct Pool {
    inner: Arc<Inner>,
    env: ThreadEnv,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    pub(crate) fn new(env: ThreadEnv) -> Self {
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue {
                tasks: VecDeque::new(),
                shutdown: false,
                sleeping: 0,
                waking: 0,
            }),
            available: Condvar::new(),
            queued: AtomicUsize::new(0),
        });
        Self {
            inner,
            env,
            workers: Mutex::default(),
        }
    }

    /// Starts `threads` workers (none for a single-threaded runtime).
    pub(crate) fn start(&self, threads: usize) -> std::io::Result<()> {
        for index in 0..threads {
            let inner = Arc::clone(&self.inner);
            let env = self.env.clone();
            let worker = std::thread::Builder::new()
                .name(format!("io-worker-{index}"))
                .spawn(move || env.run_thread(|| work(&inner)));
            match worker {
                Ok(handle) => self.lock_workers().push(handle),
                Err(e) => {
                    self.shutdown();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Queues `task`; `outstanding` is released when a worker has dealt with it.
    pub(crate) fn push(&self, task: TaskRef, outstanding: &AtomicUsize) {
        let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.tasks.push_back((task, outstanding));
        self.inner.queued.fetch_add(1, Ordering::Release);
        let wake = queue.sleeping > queue.waking;
        if wake {
            queue.waking += 1;
        }
        drop(queue);
        if wake {
            self.inner.available.notify_one();
        }
    }

    /// Lets the workers finish what is queued, then joins them.
    pub(crate) fn shutdown(&self) {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .shutdown = true;
        self.inner.available.notify_all();
        let workers = std::mem::take(&mut *self.lock_workers());
        for worker in workers {
            let _ = worker.join();
        }
    }

    fn lock_workers(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.workers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn work(inner: &Inner) {
    loop {
        let (task, outstanding) = {
            let mut queue = inner.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(next) = queue.tasks.pop_front() {
                    inner.queued.fetch_sub(1, Ordering::Release);
                    break next;
                }
                if queue.shutdown {
                    return;
                }
                drop(queue);
                let found = spin_for_work(inner);
                queue = inner.queue.lock().unwrap_or_else(|e| e.into_inner());
                if found || !queue.tasks.is_empty() || queue.shutdown {
                    continue;
                }
                queue.sleeping += 1;
                queue = inner
                    .available
                    .wait(queue)
                    .unwrap_or_else(|e| e.into_inner());
                queue.sleeping -= 1;
                queue.waking = queue.waking.saturating_sub(1);
            }
        };
        crate::backend::run_counted(&*task);
        drop(task);
        // SAFETY: see `unsafe impl Send for Queue`: the counter outlives the pool.
        release(unsafe { &*outstanding });
    }
}

/// Spins for up to [`SPIN`] until a task is queued; returns whether one was.
fn spin_for_work(inner: &Inner) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if inner.queued.load(Ordering::Acquire) > 0 {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN {
            return false;
        }
        // Let a task woken on this CPU run now rather than after the whole spin.
        std::thread::yield_now();
    }
}
