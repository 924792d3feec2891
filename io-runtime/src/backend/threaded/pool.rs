//! The worker pool: a shared FIFO of async tasks, run by at most `size` threads at a time.
//!
//! # Running slots
//! `size` is the configured worker count. A thread takes a task from the queue only if it can
//! claim one of the `size` *running slots* (`slot.rs`), and holds the slot while the task runs
//! — except while the task blocks:
//! - in a park (a sleep, a wait on a runtime primitive, a join): the parker calls [`blocked`]
//!   before it sleeps, and the thread lends its slot back until it wakes;
//! - in a system call (or any other kernel wait the runtime cannot see): the retaker
//!   (`retake.rs`) takes the slot of a thread that sleeps in the kernel while tasks wait.
//!
//! If tasks are queued, another thread takes a lent slot up (an idle one woken, or a new one
//! started, up to [`MAX_THREADS`]), so a pool of 2 whose tasks sleep or wait runs the next
//! queued tasks instead of leaving them behind the sleepers. This is Go's hand-off of a blocked
//! thread's `P`.
//!
//! When a parked task wakes, its thread takes its slot back at once, even if none is free:
//! for a while more than `size` tasks run, and no queued task starts until fewer than `size`
//! do. (Unlike a goroutine the task cannot be requeued — it lives on its thread's stack — and
//! making it wait for a slot could starve it behind tasks that compute, or deadlock it behind
//! tasks that wait for it.) A thread whose slot was retaken runs on without one until its task
//! ends or parks. A thread that finishes its task goes back to the queue and takes the next task
//! if a slot is free; otherwise it idles, and an idle thread beyond `size` exits after
//! [`LINGER`]. So after a burst of blocking tasks the pool shrinks back to `size` threads.
//!
//! # Thread cap
//! [`MAX_THREADS`] threads at most (or `size`, if larger). `n` tasks that each block for `t`
//! then take about `n / MAX_THREADS × t` (10 000 sleeps of 100 ms: about 1 s). Each thread
//! costs its stack (2 MiB of address space, of which a task that blocks touches a few pages)
//! and a kernel task (~16 KiB kernel stack): 10 000 sleepers on 1024 threads peak at 16 MiB of
//! RSS (`benches/sleep_many.rs`), and 1024 threads use 2 048 of the kernel's 65 530 default
//! memory maps — far from the default limits on threads (`pid_max` 32 768) and maps, while a
//! few hundred would make such bursts take seconds. Past
//! the cap, and if the kernel refuses a thread, queued tasks wait for a slot as they did before
//! (and a joiner runs its own task inline).
//!
//! # Stale entries
//! A queued task may also be claimed inline by its joiner (see `crate::task`); the thread that
//! later pops the stale entry finds it claimed and releases it without taking a slot.
//!
//! # Who looks at the queue
//! Under the queue's lock: `alive`, `sleeping`, `waking`. Threads that are alive, not asleep,
//! and neither hold a slot nor lent one are *looking*: spinning, started or woken, or on their
//! way back from a task; each looks at the queue before it sleeps. A queued task gets a thread
//! ([`Inner::provide`]) whenever a slot is free and fewer threads are looking or being woken
//! than tasks could start: on a push, on a block, and after a take that left tasks queued. When
//! no slot is free and tasks wait, the retaker is woken instead.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::slot::{Counts, Worker};
use super::start_thread;
use crate::backend::carrier::{self, Carrier};
use crate::backend::headroom::Headroom;
use crate::backend::TaskRef;
use crate::io::ThreadEnv;

/// The most threads a pool runs (unless its `size` is larger): see "Thread cap".
pub(crate) const MAX_THREADS: usize = 1024;

/// How long an idle thread beyond the pool's size waits for work before it exits.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// How long an idle thread spins, watching the counts, before it sleeps on the condvar.
const SPIN: Duration = Duration::from_micros(50);

/// A queued task (it holds a unit of `async_limit`, given back as it finishes: see
/// `TaskCtx::release_limit`).
type Entry = TaskRef;

/// The queue and the thread counts kept under its lock.
pub(super) struct Queue {
    /// The queued tasks, oldest first.
    tasks: VecDeque<Entry>,
    /// Set once, when the runtime is dropped: threads exit when nothing is left to take.
    pub(super) shutdown: bool,
    /// Threads asleep on `available`.
    sleeping: usize,
    /// Wake-ups sent and not yet taken by a thread: a push wakes a thread only if more sleep
    /// than are already being woken (a futex wake is a system call, and an IPI to the other
    /// core, for a task that its joiner will often run inline before any thread gets to it).
    waking: usize,
    /// Threads started and not exited (or being started), at most `Inner::cap`.
    alive: usize,
    /// How many threads were ever started: names them.
    started: usize,
    /// Entries taken so far: the retaker's measure of progress.
    pub(super) taken: u64,
    /// Whether the retaker's thread was started and has not exited.
    retaker_started: bool,
    /// Whether the retaker watches (rather than sleeps until woken).
    pub(super) retaker_awake: bool,
}

impl Queue {
    /// Whether tasks wait in the queue.
    pub(super) fn has_tasks(&self) -> bool {
        !self.tasks.is_empty()
    }
}

/// What to do, once the queue is unlocked, so that a queued task gets a thread.
#[must_use]
enum Provide {
    /// Enough threads are looking at the queue (or none may start).
    Nothing,
    /// Wake a sleeping thread.
    Wake,
    /// Start a new thread (already counted in `alive`), number `.0`.
    Start(usize),
    /// No slot is free: wake the retaker, which looks for slots held in system calls.
    Retake,
    /// As [`Provide::Retake`], starting the retaker's thread first.
    StartRetaker,
}

/// What a thread found in the queue.
enum Next {
    /// A task to run, with a running slot claimed for it.
    Run(Entry),
    /// A task its joiner already claimed: release it.
    Stale(Entry),
    /// Nothing more to do: the thread exits.
    Exit,
}

/// The state the pool's threads share.
pub(super) struct Inner {
    queue: Mutex<Queue>,
    /// Where idle threads sleep (with the queue's lock).
    available: Condvar,
    /// Where the retaker sleeps (with the queue's lock).
    pub(super) retaker: Condvar,
    /// Read by spinning threads and by every block: a line of its own.
    pub(super) counts: CachePadded<Counts>,
    /// Running slots: the configured worker count.
    pub(super) size: usize,
    /// The most threads alive at once.
    cap: usize,
    /// How new threads join the runtime.
    env: ThreadEnv,
    /// The address-space limit: a new thread leaves its reserve free (see `threaded`).
    headroom: Headroom,
    /// The threads to join at shutdown (workers and the retaker).
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The slot records of the live threads, for the retaker.
    workers: Mutex<Vec<Arc<Worker>>>,
    /// This `Inner`, for starting threads from a block.
    this: Weak<Inner>,
}

/// A pool of worker threads: `size` of them run tasks, more while some block.
pub(crate) struct Pool {
    /// Shared with every thread of the pool.
    inner: Arc<Inner>,
}

impl Pool {
    /// A pool of `size` running slots whose threads join the runtime through `env`, within
    /// the address space `headroom` allows.
    pub(crate) fn new(env: ThreadEnv, size: usize, headroom: Headroom) -> Self {
        let inner = Arc::new_cyclic(|this| Inner {
            queue: Mutex::new(Queue {
                tasks: VecDeque::new(),
                shutdown: false,
                sleeping: 0,
                waking: 0,
                alive: 0,
                started: 0,
                taken: 0,
                retaker_started: false,
                retaker_awake: false,
            }),
            available: Condvar::new(),
            retaker: Condvar::new(),
            counts: CachePadded::default(),
            size,
            cap: size.max(MAX_THREADS),
            env,
            headroom,
            threads: Mutex::default(),
            workers: Mutex::default(),
            this: this.clone(),
        });
        Self { inner }
    }

    /// Starts the `size` workers (none for a single-threaded runtime).
    pub(crate) fn start(&self) -> std::io::Result<()> {
        for _ in 0..self.inner.size {
            let index = self.inner.count_start();
            if let Err(e) = self.inner.start_thread(index) {
                self.shutdown();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Queues `task`.
    pub(crate) fn push(&self, task: TaskRef) {
        let inner = &*self.inner;
        let mut queue = inner.lock();
        let was_empty = queue.tasks.is_empty();
        queue.tasks.push_back(task);
        inner.counts.queued.fetch_add(1, Ordering::SeqCst);
        let provide = if queue.sleeping > queue.waking {
            queue.waking += 1;
            Provide::Wake
        } else if was_empty {
            // Nobody asleep to wake: if every thread is busy or blocked, the task needs a new
            // thread (a slot is free: the workers park) or the retaker (none is). Behind other
            // queued tasks it needs nothing more: whoever takes one of them provides for the
            // rest (`take`), so a burst of pushes does not read the slot counts every time.
            inner.provide(&mut queue)
        } else {
            Provide::Nothing
        };
        drop(queue);
        inner.carry_out(provide);
    }

    /// Lets the threads finish what is queued, then joins them (and the retaker).
    pub(crate) fn shutdown(&self) {
        self.inner.lock().shutdown = true;
        self.inner.available.notify_all();
        self.inner.retaker.notify_all();
        loop {
            let threads = std::mem::take(&mut *self.inner.lock_threads());
            if threads.is_empty() {
                let queue = self.inner.lock();
                if queue.alive == 0 && !queue.retaker_started {
                    return;
                }
                drop(queue);
                // A thread being started: its handle is on its way.
                std::thread::yield_now();
                continue;
            }
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}

impl Inner {
    /// Locks the queue (a poisoned lock is still used: no code panics while holding it).
    pub(super) fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the list of threads to join at shutdown.
    fn lock_threads(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the slot records of the live threads.
    fn lock_workers(&self) -> MutexGuard<'_, Vec<Arc<Worker>>> {
        self.workers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The slot records of the threads that hold a slot and run task code now.
    pub(super) fn holding_workers(&self) -> Vec<Arc<Worker>> {
        let workers = self.lock_workers();
        workers.iter().filter(|w| w.is_holding()).cloned().collect()
    }

    /// Counts a thread about to be started; returns its number.
    fn count_start(&self) -> usize {
        let mut queue = self.lock();
        queue.alive += 1;
        queue.started += 1;
        queue.started - 1
    }

    /// Starts thread number `index` (already counted in `alive`); uncounts it on failure.
    fn start_thread(&self, index: usize) -> std::io::Result<()> {
        let inner = self
            .this
            .upgrade()
            .expect("io: a pool is alive while it is used");
        let started = self.spawn(format!("io-worker-{index}"), move || work(&inner));
        if started.is_err() {
            self.lock().alive -= 1;
        }
        started
    }

    /// Starts a thread of the runtime named `name` running `body`, to be joined at shutdown.
    /// The list of threads stays locked until the new one is in it, so that `shutdown` never
    /// misses a thread that was being started. `ENOMEM` if the thread would eat into the
    /// address-space reserve.
    fn spawn(&self, name: String, body: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        let no_memory = || std::io::Error::from_raw_os_error(libc::ENOMEM);
        let env = self.env.clone();
        let mut threads = self.lock_threads();
        threads.retain(|t| !t.is_finished());
        threads.try_reserve(1).map_err(|_| no_memory())?;
        let tasks = threads.len() + 1;
        let handle = start_thread(&self.headroom, tasks, name, move || env.run_thread(body))?;
        threads.push(handle); // capacity reserved above
        Ok(())
    }

    /// Decides how a queued task that a free slot could run gets a thread: a wake-up, a new
    /// thread, or nothing if enough threads look at the queue already (or none may start).
    /// With no slot free, the retaker is to look for slots held in system calls.
    fn provide(&self, queue: &mut Queue) -> Provide {
        if queue.shutdown || queue.tasks.is_empty() {
            return Provide::Nothing;
        }
        let (running, blocked) = self.counts.snapshot();
        let free = self.size.saturating_sub(running);
        if free == 0 {
            return Self::wake_retaker(queue);
        }
        let wanted = queue.tasks.len().min(free);
        let looking = queue
            .alive
            .saturating_sub(queue.sleeping + running + blocked);
        if wanted <= looking + queue.waking {
            return Provide::Nothing;
        }
        if queue.sleeping > queue.waking {
            queue.waking += 1;
            return Provide::Wake;
        }
        if queue.alive >= self.cap {
            return Provide::Nothing;
        }
        queue.alive += 1;
        queue.started += 1;
        Provide::Start(queue.started - 1)
    }

    /// Tasks wait and no slot is free: the retaker should watch, if it does not already.
    fn wake_retaker(queue: &mut Queue) -> Provide {
        if queue.retaker_awake {
            return Provide::Nothing;
        }
        queue.retaker_awake = true;
        if queue.retaker_started {
            return Provide::Retake;
        }
        queue.retaker_started = true;
        Provide::StartRetaker
    }

    /// Carries out what [`provide`](Self::provide) decided, with the queue unlocked.
    fn carry_out(&self, provide: Provide) {
        match provide {
            Provide::Nothing => {}
            Provide::Wake => self.available.notify_one(),
            // A refused thread is no error here: the task waits for a slot, as it would
            // past the cap.
            Provide::Start(index) => drop(self.start_thread(index)),
            Provide::Retake => self.retaker.notify_one(),
            Provide::StartRetaker => self.start_retaker(),
        }
    }

    /// Starts the retaker's thread; if the kernel refuses it, slots held in system calls
    /// stay held, as they did before there was a retaker.
    fn start_retaker(&self) {
        let inner = self
            .this
            .upgrade()
            .expect("io: a pool is alive while it is used");
        if self
            .spawn("io-retaker".into(), move || super::retake::watch(&inner))
            .is_err()
        {
            self.retaker_exits(&mut self.lock());
        }
    }

    /// Records that the retaker's thread is gone (or could not start).
    pub(super) fn retaker_exits(&self, queue: &mut Queue) {
        queue.retaker_started = false;
        queue.retaker_awake = false;
    }

    /// Gives a slot just lent or retaken to a queued task, if one waits.
    pub(super) fn hand_over(&self) {
        if self.counts.queued.load(Ordering::SeqCst) > 0 {
            let provide = self.provide(&mut self.lock());
            self.carry_out(provide);
        }
    }

    /// Takes the next entry if one can be taken now: a stale one always, a task if a slot is
    /// free. Wakes or starts another thread if more tasks could start.
    fn take(&self, queue: &mut Queue) -> Option<(Next, Provide)> {
        let front = queue.tasks.front()?;
        let next = if !front.is_queued() {
            Next::Stale(self.pop(queue))
        } else if self.counts.claim(self.size) {
            Next::Run(self.pop(queue))
        } else {
            return None;
        };
        let provide = match queue.tasks.is_empty() {
            true => Provide::Nothing,
            false => self.provide(queue),
        };
        Some((next, provide))
    }

    /// Removes the front entry (there is one), counting it as taken.
    fn pop(&self, queue: &mut Queue) -> Entry {
        self.counts.queued.fetch_sub(1, Ordering::SeqCst);
        queue.taken += 1;
        queue
            .tasks
            .pop_front()
            .expect("io: pool queue and count disagree")
    }

    /// Waits for the next entry, spinning a while and then sleeping; [`Next::Exit`] at
    /// shutdown, or when the thread has idled for [`LINGER`] beyond the pool's size.
    fn next(&self) -> Next {
        let mut queue = self.lock();
        loop {
            if let Some((next, provide)) = self.take(&mut queue) {
                drop(queue);
                self.carry_out(provide);
                return next;
            }
            if queue.shutdown {
                queue.alive -= 1;
                return Next::Exit;
            }
            drop(queue);
            let found = spin_for_work(&self.counts, self.size);
            queue = self.lock();
            if found || self.counts.takeable(self.size) || queue.shutdown {
                continue;
            }
            // Tasks that wait for a slot: make sure the retaker watches.
            let provide = self.provide(&mut queue);
            let retire;
            (queue, retire) = self.sleep(queue, provide);
            if retire {
                queue.alive -= 1;
                return Next::Exit;
            }
        }
    }

    /// Sleeps on `available` until woken, after carrying out `provide` (with the lock
    /// released by the wait); also returns whether this thread should exit instead: it is
    /// beyond the pool's size, idled for [`LINGER`], and nothing can be taken.
    fn sleep<'a>(
        &'a self,
        mut queue: MutexGuard<'a, Queue>,
        provide: Provide,
    ) -> (MutexGuard<'a, Queue>, bool) {
        if !matches!(provide, Provide::Nothing) {
            drop(queue);
            self.carry_out(provide);
            queue = self.lock();
            if self.counts.takeable(self.size) || queue.shutdown {
                return (queue, false);
            }
        }
        let linger = queue.alive > self.size;
        queue.sleeping += 1;
        let timed_out = if linger {
            let (guard, result) = self
                .available
                .wait_timeout(queue, LINGER)
                .unwrap_or_else(|e| e.into_inner());
            queue = guard;
            result.timed_out()
        } else {
            queue = self
                .available
                .wait(queue)
                .unwrap_or_else(|e| e.into_inner());
            false
        };
        queue.sleeping -= 1;
        queue.waking = queue.waking.saturating_sub(1);
        let retire = timed_out
            && queue.alive > self.size
            && !queue.shutdown
            && queue.tasks.is_empty()
            && !self.counts.takeable(self.size);
        (queue, retire)
    }

    /// Adds the calling thread's slot record to those the retaker sees.
    fn register(&self) -> Arc<Worker> {
        let worker = Arc::new(Worker::current());
        self.lock_workers().push(Arc::clone(&worker));
        worker
    }

    /// Removes a record added by [`register`](Self::register).
    fn unregister(&self, worker: &Arc<Worker>) {
        self.lock_workers().retain(|w| !Arc::ptr_eq(w, worker));
    }
}

/// A pool thread's life: take entries and run them until told to exit.
fn work(inner: &Inner) {
    let me = Me {
        inner,
        worker: inner.register(),
    };
    carrier::enter(&me, || serve(inner, &me));
    inner.unregister(&me.worker);
}

/// Runs entries on a pool thread until told to exit.
fn serve(inner: &Inner, me: &Me<'_>) {
    loop {
        match inner.next() {
            Next::Run(task) => {
                me.worker.hold();
                crate::backend::run_counted(&*task);
                drop(task);
                me.worker.release(&inner.counts);
            }
            Next::Stale(task) => {
                // Its joiner ran it inline; its end gave back its limit unit already.
                task.ctx().release_limit();
                drop(task);
            }
            Next::Exit => break,
        }
    }
}

/// Spins for up to [`SPIN`] until a task could be taken; returns whether one could.
fn spin_for_work(counts: &Counts, size: usize) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if counts.takeable(size) {
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

/// A pool thread as the carrier of the task it runs: its pool and its slot record.
struct Me<'a> {
    inner: &'a Inner,
    worker: Arc<Worker>,
}

/// A pool task owns its thread; while it sleeps in a park, the thread lends its running slot
/// to the queued tasks (another thread takes it up) and takes it back when it wakes.
impl Carrier for Me<'_> {
    fn sleep(&self, sleep: &mut dyn FnMut()) {
        if !self.worker.lend(&self.inner.counts) {
            return sleep();
        }
        self.inner.hand_over();
        // Taken back however the sleep ends (a panic in it unwinds through here).
        struct TakeBack<'a, 'b>(&'a Me<'b>);
        impl Drop for TakeBack<'_, '_> {
            fn drop(&mut self) {
                self.0.worker.take_back(&self.0.inner.counts);
            }
        }
        let _take_back = TakeBack(self);
        sleep();
    }
}
