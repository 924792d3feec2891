//! Deadlock diagnosis: knowing when every task waits on the runtime's own primitives and
//! nothing — no timer, no system call, no running thread — can wake any of them.
//!
//! # Accounting
//! `active` counts threads that execute task code and could still wake someone: a thread is
//! counted while it runs a task (workers, concurrent threads, the thread inside
//! `Runtime::run`) and uncounted while it parks *without a deadline* on a runtime primitive.
//! Parks with a deadline and system calls keep a thread counted: a timer or the kernel will
//! wake it. An io_uring event loop counts as one more active thread while it runs, and is
//! uncounted only while it waits in the kernel with no runnable fiber and no operation (I/O,
//! timer) in flight: fibers waiting to start, runnable fibers, pending ring timeouts and I/O
//! are all wakers, so no report can fire while any exists, however slow the loop is. Every
//! change bumps `epoch`.
//!
//! # Diagnosis
//! The hot path only counts: a watchdog thread samples `active` and `epoch` a few times per
//! grace period. When it has seen `active` at zero with tasks parked and `epoch` unchanged for
//! a whole grace period, it first asks whether the process has threads outside the runtime
//! (`threads`): such a thread (a Ctrl-C handler, any thread the program started) may still
//! wake a task, so the blockage is only noted on stderr, once, and the runtime keeps waiting.
//! Otherwise nothing can ever wake a task, and the watchdog writes a report naming
//! every parked task, where it was spawned and what it waits on. It then wakes the task that
//! is blocked on the root's own stack — the root task of `Runtime::run`, or the innermost task
//! it runs inline — and that task panics with the report. The panic becomes that task's result
//! like any other (no panic unwinds into a worker or the event loop), and each task that ran
//! it inline raises the report again (`join::run_inline`), so it surfaces from `Runtime::run`.
//!
//! # Scope ends do not unwind
//! A task that is ending a scope (`ScopeCore::finish`) waits for the scope's tasks and must not
//! unwind before they are done: they borrow what the unwinding would free. The report then goes
//! to another parked task that may unwind (its panic ends it, which lets the scope end go on);
//! if every parked task is ending a scope, the report is printed on stderr once and the runtime
//! keeps waiting. Waiting rather than aborting: a thread the monitor cannot see (a plain
//! `std::thread`, a signal handler) may still wake a task, and a hang after a printed report is
//! recoverable by the user, while a report that unwound would be undefined behaviour.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::park::Wake;
use crate::task::TaskCtx;

mod threads;

pub(crate) use threads::Entered;
use threads::OwnThreads;

/// The first words of every deadlock report (panic message).
pub(crate) const DEADLOCK: &str = "io: deadlock detected";

/// The tasks parked without a deadline, in the order they parked: a park and its wake cost
/// O(log n), however many tasks wait (a `Vec` scanned on every wake made 100 000 waiters on one
/// event quadratic).
#[derive(Default)]
struct Parked {
    next: u64,
    tasks: std::collections::BTreeMap<u64, ParkedTask>,
}

impl Parked {
    /// Records `task`; returns the key that removes it.
    fn insert(&mut self, task: ParkedTask) -> u64 {
        let key = self.next;
        self.next += 1;
        self.tasks.insert(key, task);
        key
    }
}

struct ParkedTask {
    ctx: Arc<TaskCtx>,
    what: &'static str,
}

/// The per-runtime deadlock monitor.
pub(crate) struct Monitor {
    // Every park and wake of every thread touches these two: keep them on lines of their own.
    active: CachePadded<AtomicIsize>,
    epoch: CachePadded<AtomicU64>,
    parked: Mutex<Parked>,
    roots: Mutex<Vec<Arc<TaskCtx>>>,
    victim: Mutex<Option<(*const TaskCtx, String)>>,
    shutdown: Mutex<bool>,
    wake: Condvar,
    grace: Option<Duration>,
    watchdog: Mutex<Option<JoinHandle<()>>>,
    /// The threads inside the runtime: any other thread of the process might wake a task.
    own: Arc<OwnThreads>,
}

// SAFETY: the raw pointer in `victim` is only compared for identity, never dereferenced.
unsafe impl Send for Monitor {}
// SAFETY: as above; every other field is Sync.
unsafe impl Sync for Monitor {}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Monitor {
    /// A monitor that reports after `grace` of total blockage (`None`: never).
    pub(crate) fn new(grace: Option<Duration>) -> Arc<Self> {
        let monitor = Arc::new(Self {
            active: CachePadded::new(AtomicIsize::new(0)),
            epoch: CachePadded::new(AtomicU64::new(0)),
            parked: Mutex::default(),
            roots: Mutex::default(),
            victim: Mutex::default(),
            shutdown: Mutex::default(),
            wake: Condvar::new(),
            grace,
            watchdog: Mutex::default(),
            own: Arc::default(),
        });
        if grace.is_some() {
            let weak = Arc::downgrade(&monitor);
            let handle = std::thread::Builder::new()
                .name("io-deadlock-watch".into())
                .spawn(move || watch(&weak));
            *lock(&monitor.watchdog) = handle.ok();
        }
        monitor
    }

    /// Counts the current thread as one of the runtime's (not one that might wake a task from
    /// outside) until the guard is dropped.
    pub(crate) fn enter_thread(&self) -> Entered {
        self.own.enter()
    }

    /// Counts the current thread (or fiber) as active while `f` runs task code.
    pub(crate) fn running<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Leave<'a>(&'a Monitor);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.change(-1);
            }
        }
        self.change(1);
        let _leave = Leave(self);
        f()
    }

    /// Uncounts the current thread (counted by [`running`](Self::running)) while it blocks in
    /// `f` with nothing left that could wake a task but other threads: an event loop with no
    /// runnable fiber and no operation in flight.
    pub(crate) fn idle<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Resume<'a>(&'a Monitor);
        impl Drop for Resume<'_> {
            fn drop(&mut self) {
                self.0.change(1);
            }
        }
        self.change(-1);
        let _resume = Resume(self);
        f()
    }

    /// Like [`running`](Self::running) for the root task of `Runtime::run`, which receives
    /// the deadlock report.
    pub(crate) fn running_root<R>(&self, root: &Arc<TaskCtx>, f: impl FnOnce() -> R) -> R {
        struct Forget<'a>(&'a Monitor, &'a Arc<TaskCtx>);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                lock(&self.0.roots).retain(|r| !Arc::ptr_eq(r, self.1));
            }
        }
        lock(&self.roots).push(Arc::clone(root));
        let _forget = Forget(self, root);
        self.running(f)
    }

    /// Parks `ctx` without a deadline, uncounted while it sleeps.
    ///
    /// # Panics
    /// With the deadlock report, if the watchdog chose this task to deliver it.
    pub(crate) fn park_indefinitely(&self, ctx: &Arc<TaskCtx>, what: &'static str) -> Wake {
        let key = lock(&self.parked).insert(ParkedTask {
            ctx: Arc::clone(ctx),
            what,
        });
        self.change(-1);
        let wake = ctx.parker.park(None);
        self.change(1);
        lock(&self.parked).tasks.remove(&key);
        let mut victim = lock(&self.victim);
        if victim.as_ref().is_some_and(|(v, _)| *v == Arc::as_ptr(ctx)) {
            let (_, report) = victim.take().unwrap_or_default();
            drop(victim);
            if ctx.may_unwind() {
                ctx.set_deadlock_report(report.clone());
                std::panic::panic_any(report);
            }
            // Woken by someone else meanwhile and now ending a scope: report, keep waiting.
            eprintln!("{report}");
        }
        wake
    }

    /// `Some(description)` of the threads outside the runtime, if any exist (or if they cannot
    /// be listed): then a blocked runtime is not certainly deadlocked.
    fn foreign_threads(&self) -> Option<String> {
        match self.own.foreign() {
            Some(0) => None,
            Some(1) => Some(String::from("a thread")),
            Some(n) => Some(format!("{n} threads")),
            None => Some(String::from(
                "any thread (the process's threads cannot be listed)",
            )),
        }
    }

    fn change(&self, delta: isize) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.active.fetch_add(delta, Ordering::SeqCst);
    }

    /// Stops the watchdog thread.
    pub(crate) fn shutdown(&self) {
        *lock(&self.shutdown) = true;
        self.wake.notify_one();
        if let Some(handle) = lock(&self.watchdog).take() {
            let _ = handle.join();
        }
    }

    /// The epoch, if nothing runs and tasks are parked right now.
    fn blocked_epoch(&self) -> Option<u64> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        let idle = self.active.load(Ordering::SeqCst) == 0;
        (idle && !lock(&self.parked).tasks.is_empty()).then_some(epoch)
    }

    /// Sleeps for `period`; `false` once the runtime shuts down.
    fn nap(&self, period: Duration) -> bool {
        let shutdown = lock(&self.shutdown);
        let (shutdown, _) = self
            .wake
            .wait_timeout_while(shutdown, period, |stop| !*stop)
            .unwrap_or_else(|e| e.into_inner());
        !*shutdown
    }

    /// Writes the report, picks the task that delivers it, and wakes that task — if nothing
    /// outside the runtime can wake a task; otherwise prints a note and keeps waiting.
    fn diagnose(&self) {
        let parked = lock(&self.parked);
        let parked = &parked.tasks;
        let roots = lock(&self.roots);
        let mut blocked = String::new();
        for task in parked.values() {
            let at = task.ctx.spawned_at;
            let _ = write!(
                blocked,
                "\n  - task spawned at {}:{}:{} is blocked in {}",
                at.file(),
                at.line(),
                at.column(),
                task.what
            );
        }
        if let Some(foreign) = self.foreign_threads() {
            eprintln!(
                "io: every task is blocked on the runtime ({} blocked), but {foreign} the program \
                 started itself may still wake one, so this is no deadlock report \
                 (deadlock_grace(None), or #[io::main(deadlock = \"off\")], turns this note \
                 off):{blocked}",
                parked.len()
            );
            return;
        }
        let report = format!(
            "{DEADLOCK}: every task is blocked and nothing can wake any of them ({} blocked):\
             {blocked}",
            parked.len()
        );
        // The report is a panic of one parked task. Preferred: the task blocked on a root's own
        // stack (the innermost of what the root runs inline), so the report reaches
        // `Runtime::run`. Never a task that is ending a scope: unwinding there would let the
        // scope's tasks outlive their borrows.
        let may_receive = |ctx: &TaskCtx| {
            parked
                .values()
                .find(|p| std::ptr::eq(Arc::as_ptr(&p.ctx), ctx) && p.ctx.may_unwind())
        };
        let on_root_stack =
            |root: &Arc<TaskCtx>| root.find_inline_innermost_first(&mut |ctx| may_receive(ctx));
        let chosen = roots
            .iter()
            .find_map(on_root_stack)
            .or_else(|| parked.values().rev().find(|p| p.ctx.may_unwind()));
        match chosen {
            Some(chosen) => {
                *lock(&self.victim) = Some((Arc::as_ptr(&chosen.ctx), report));
                chosen.ctx.parker.unpark();
            }
            None => eprintln!(
                "{report}\n  every blocked task is ending a scope, which must not unwind while \
                 its tasks run: the runtime reports and keeps waiting"
            ),
        }
    }
}

fn watch(monitor: &std::sync::Weak<Monitor>) {
    let Some(grace) = monitor.upgrade().and_then(|m| m.grace) else {
        return;
    };
    // The watchdog is the runtime's own thread, not one that could wake a task.
    let Some(_entered) = monitor.upgrade().map(|m| m.enter_thread()) else {
        return;
    };
    let period = (grace / 5).clamp(Duration::from_millis(1), Duration::from_millis(100));
    // The epoch at which the runtime was first seen blocked, and when.
    let mut blocked: Option<(u64, Instant)> = None;
    // The blockage last reported: reported once, however long it lasts.
    let mut reported: Option<u64> = None;
    loop {
        let Some(monitor) = monitor.upgrade() else {
            return;
        };
        if !monitor.nap(period) {
            return;
        }
        blocked = match (monitor.blocked_epoch(), blocked) {
            (Some(epoch), _) if reported == Some(epoch) => None,
            (Some(epoch), Some((seen, since))) if epoch == seen => {
                if since.elapsed() >= grace {
                    monitor.diagnose();
                    reported = Some(epoch);
                    None
                } else {
                    Some((seen, since))
                }
            }
            (Some(epoch), _) => Some((epoch, Instant::now())),
            (None, _) => None,
        };
    }
}
