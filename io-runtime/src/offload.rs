//! [`Io::offload`]: running a long computation or a blocking library call off the event loop,
//! on the runtime's pool of offload threads.
//!
//! # The pool
//! Each runtime owns one [`Pool`] (in its shared state). Threads start on demand — when a call
//! arrives and no thread is idle — up to `max(4, 2 × CPUs)` at once ([`Pool::bound_for`]);
//! beyond it calls queue and the busy threads take them in order as they finish. A thread that found no work for
//! [`IDLE_EXIT`] exits; the runtime stops and joins the rest when it is dropped. Pool threads
//! belong to the runtime (like its workers), and run each closure counted as active by the
//! deadlock monitor: an offloaded closure is arbitrary code that may yet wake a task.
//!
//! # Cancel and deadlines
//! The closure runs as a task of its own, linked to the caller the way `join::run_inline`
//! links a task run inline (see [`Link`]): a cancel of the caller reaches it, and the caller's
//! `Io::timeout` deadlines apply to it. The caller waits for it to finish (the closure may
//! borrow from the caller's stack), re-sending the cancel signal while the closure sits in a
//! system call with a cancel request, as a joiner does; a deadline interrupts such a call
//! through the pool thread's own alarm (see `crate::cancel`).

use std::collections::VecDeque;
use std::panic::{self, Location};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::backend::{carrier, run_counted, TaskRef};
use crate::cancel::Interrupter;
use crate::io::{Io, ThreadEnv};
use crate::join::Link;
use crate::spin_lock::SpinLock;
use crate::task::{current_arc, with_current, Completion, RawTask, ResultCell, Task, TaskCtx};

/// How long an idle offload thread waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(5);

/// The runtime's offload threads (see the module documentation).
pub(crate) struct Pool {
    /// The queue and the counts the threads share.
    inner: Arc<Inner>,
    /// How a new thread joins the runtime.
    env: ThreadEnv,
    /// Handles of the threads started, to join at shutdown (finished ones are pruned).
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The most threads alive at once.
    bound: usize,
}

/// What the pool's threads share.
#[derive(Default)]
struct Inner {
    /// The queue and the counts.
    state: Mutex<State>,
    /// Signaled when work is queued or the pool shuts down.
    work: Condvar,
}

/// The pool's queue and thread counts, under `Inner::state`.
#[derive(Default)]
struct State {
    /// Calls no thread has taken yet.
    queue: VecDeque<TaskRef>,
    /// Threads waiting for work.
    idle: usize,
    /// Threads started and not exited.
    live: usize,
    /// The runtime is being dropped: threads exit once the queue is empty.
    shutdown: bool,
}

impl Inner {
    /// Locks the state (a poisoned lock still holds consistent counts: nothing panics under it).
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pool {
    /// A pool with no threads yet, whose threads join the runtime through `env`.
    pub(crate) fn new(env: ThreadEnv) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            inner: Arc::default(),
            env,
            threads: Mutex::default(),
            bound: Self::bound_for(cores),
        }
    }

    /// The most threads a pool keeps on a machine with `cores` CPUs: `max(4, 2 × cores)`.
    /// Offloaded work mostly blocks rather than computes, so twice the cores, and never so few
    /// that a handful of slow calls would queue behind one another.
    pub(crate) fn bound_for(cores: usize) -> usize {
        (2 * cores).max(4)
    }

    /// Runs `task` on a pool thread: an idle one, a new one while under the bound, or the
    /// first to finish its current call.
    fn submit(&self, task: TaskRef) {
        let mut state = self.inner.state();
        if state.shutdown {
            // No thread will come: the task runs here (only a call racing the runtime's end).
            drop(state);
            task.run();
            return;
        }
        if state.live >= self.bound || state.queue.len() < state.idle {
            state.queue.push_back(task);
            drop(state);
            self.inner.work.notify_one();
            return;
        }
        state.live += 1;
        drop(state);
        if let Err(task) = self.start(task) {
            self.not_started(task);
        }
    }

    /// Starts a thread whose first call is `task`; gives `task` back if no thread starts.
    fn start(&self, task: TaskRef) -> Result<(), TaskRef> {
        let first = Arc::new(Mutex::new(Some(task)));
        let (inner, env, handed) = (Arc::clone(&self.inner), self.env.clone(), first.clone());
        let spawned = std::thread::Builder::new()
            .name("io-offload".into())
            .spawn(move || serve(&inner, &env, &handed));
        match spawned {
            Ok(handle) => {
                let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
                threads.retain(|thread| !thread.is_finished());
                threads.push(handle);
                Ok(())
            }
            Err(_) => {
                let task = first.lock().unwrap_or_else(|e| e.into_inner()).take();
                Err(task.expect("io: an offload thread that never started took its call"))
            }
        }
    }

    /// No thread could be started for `task`: queue it for the running threads, or, if there
    /// are none, run it here (late, on the caller's thread, but never lost).
    fn not_started(&self, task: TaskRef) {
        let mut state = self.inner.state();
        state.live -= 1;
        if state.live > 0 {
            state.queue.push_back(task);
            drop(state);
            self.inner.work.notify_one();
        } else {
            drop(state);
            task.run();
        }
    }

    /// Stops the threads once the queue is drained, and joins them. Called when the runtime
    /// is dropped.
    pub(crate) fn shutdown(&self) {
        self.inner.state().shutdown = true;
        self.inner.work.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// A pool thread: runs its first call, then queued ones, until idle for [`IDLE_EXIT`] or the
/// pool shuts down. Inside the runtime while the runtime lives (it always does while calls
/// are submitted: the caller is inside `Runtime::run`).
fn serve(inner: &Inner, env: &ThreadEnv, first: &Mutex<Option<TaskRef>>) {
    let take_first = || first.lock().unwrap_or_else(|e| e.into_inner()).take();
    env.run_thread(|| {
        let mut next = take_first();
        while let Some(task) = next {
            run_counted(&*task);
            drop(task);
            next = next_call(inner);
        }
    });
    // The runtime was gone before this thread entered it: still run the call it was given.
    if let Some(task) = take_first() {
        task.run();
        drop(task);
        inner.state().live -= 1;
    }
}

/// Waits for the next queued call; `None` once the thread should exit (it is then no longer
/// counted as live). Deciding to exit and uncounting happen under one lock, so a call is never
/// queued for a thread that is leaving; and since `Task::run` catches every panic of a call,
/// this is the only way a pool thread leaves while the runtime lives.
fn next_call(inner: &Inner) -> Option<TaskRef> {
    let mut state = inner.state();
    loop {
        if let Some(task) = state.queue.pop_front() {
            return Some(task);
        }
        if state.shutdown {
            break;
        }
        state.idle += 1;
        let (woken, wait) = inner
            .work
            .wait_timeout(state, IDLE_EXIT)
            .unwrap_or_else(|e| e.into_inner());
        state = woken;
        state.idle -= 1;
        if wait.timed_out() && state.queue.is_empty() {
            break;
        }
    }
    state.live -= 1;
    None
}

impl Io {
    /// Runs `f` where it cannot hold up other tasks, and returns its result.
    ///
    /// On the uring backend every task of a loop shares one thread, so a task that computes
    /// for a long time, or calls a blocking function the runtime does not know (a C library,
    /// `std::fs`, DNS), stalls all the others. `offload` runs `f` on a thread of the runtime's
    /// offload pool while the calling fiber parks, and resumes it when `f` returns. The pool
    /// reuses its threads and keeps at most `max(4, 2 × CPUs)` of them (idle ones exit after
    /// a few seconds); when all are busy, the call waits for one. Offloaded closures that wait
    /// for one another can therefore exhaust the pool: do not make one wait for another.
    ///
    /// On the threaded backend the task already owns its thread, so `f` simply runs inline;
    /// it also runs inline on a thread that is no fiber of a uring loop (an offloaded closure
    /// that offloads again, a thread the program started).
    ///
    /// # Panics
    /// Resumes the panic of `f`.
    ///
    /// # Cancelation
    /// Not a cancellation point itself, but `f` runs as part of the calling task: a cancel of
    /// the caller, and the deadline of an enclosing [`timeout`](Self::timeout), reach `f`'s
    /// own cancellation points (`io.sleep`, `io.read_fd`, queue and lock waits…), which return
    /// [`Canceled`](crate::Canceled) as they would on the caller — also a call blocked in the
    /// kernel, which is interrupted. Inside [`uncancelable`](Self::uncancelable), `f` is
    /// protected too. Arbitrary code (`std::fs`, a C library, a computation) cannot be
    /// interrupted: `offload` returns only when `f` returns, whatever the cancel or deadline,
    /// because `f` may borrow from the caller and so must not be left running.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().build().unwrap();
    /// let sum = runtime.run(|io| io.offload(|| (1..=1_000_000u64).sum::<u64>()));
    /// assert_eq!(sum, 500_000_500_000);
    /// ```
    #[track_caller]
    pub fn offload<R: Send>(self, f: impl FnOnce() -> R + Send) -> R {
        // A task that owns its thread blocks nobody else by running `f` itself.
        if carrier::owns_thread() {
            return f();
        }
        let me = current_arc();
        // The caller cannot change its protection while it waits below.
        let protected = me.cancel.is_protected();
        let call = move || {
            if protected {
                with_current(|ctx| ctx.cancel.protected(f))
            } else {
                f()
            }
        };
        let at = Location::caller();
        let waiters = || Completion::Waiters(SpinLock::default());
        // SAFETY: this call waits for the task and takes its result before it returns, so
        // before anything the call borrows ends; `write_new` writes the whole task.
        let (erased, submitted, typed) =
            unsafe { TaskRef::new_pair(|place| Task::write_new(place, call, at, waiters)) };
        // SAFETY: `erased`, kept until this function returns, keeps the task alive.
        let task = unsafe { typed.as_ref() };
        let link = Link::new(&me, task.ctx());
        self.with(|shared| shared.offload.submit(submitted));
        wait(&me, task, protected);
        drop(link);
        let result = task.take_result();
        drop(erased);
        result.unwrap_or_else(|payload| panic::resume_unwind(payload))
    }
}

/// Waits until the offloaded `task` is done. A cancel of the caller reached `task` through its
/// link; while `task` has a request (and is not protected) and sits in a system call, the
/// cancel signal is re-sent with back-off until it leaves, as a joiner does. The pool thread
/// wakes the caller, so this wait is not a deadlock: it bypasses the monitor.
fn wait(me: &Arc<TaskCtx>, task: &dyn RawTask, protected: bool) {
    let mut interrupter = Interrupter::new();
    while task.add_waiter(me) {
        let poke = if protected {
            None
        } else {
            interrupter.poke_if_requested(&task.ctx().cancel)
        };
        let _ = me.parker.park(poke);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_twice_the_cores_and_at_least_four() {
        assert_eq!(Pool::bound_for(1), 4);
        assert_eq!(Pool::bound_for(2), 4);
        assert_eq!(Pool::bound_for(3), 6);
        assert_eq!(Pool::bound_for(16), 32);
    }
}
