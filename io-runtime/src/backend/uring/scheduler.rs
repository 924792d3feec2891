//! The event loop: fibers, the ready queue, wakes from other threads, and the ring.
//!
//! One loop runs on the thread that calls `Runtime::run`, for the duration of that call. Every
//! task is a fiber; a fiber runs until it parks (its parker suspends it), and is resumed when
//! the one `unpark` that found it parked pushes `(fiber, generation)` onto the ready queue —
//! directly on the loop thread, through [`Remote`] and the eventfd from any other thread. The
//! generation changes at every resume, so a wake meant for an earlier park is dropped.
//!
//! A spawned task reserves a stack at once (so `io_concurrent!` can say whether concurrency is
//! available) but becomes a fiber only when the loop starts it: a task that its joiner ran
//! inline (or another loop started) meanwhile gives the stack back without a fiber ever being
//! built, and without the stack ever being touched: a fresh stack's first page is faulted in
//! by the start, which then runs the new fiber at once (see `Loop::start`). The reservation is
//! usually only a promise: while the pool has more idle stacks than the loop promised, a spawn
//! counts one more promised ([`Loop::promised`]) and takes no stack; every other taker leaves
//! that many idle (`StackPool::reserve_leaving`), and the task takes its stack only as it
//! starts. A spawn-and-join that runs inline thus never touches a stack.
//!
//! # Fairness: polling while fibers stay runnable
//! The ready queue is FIFO: a fiber made runnable (by another fiber, a completion or another
//! thread) goes behind every fiber already runnable. Fibers that keep each other runnable (two
//! of them handing items through a `Queue`) would keep the queue from ever emptying, so the
//! loop does not wait for it to empty before it looks at the outside world. The rule: **after
//! every [`POLL_EVERY`] (61) entries of the ready queue, if more are runnable, the loop polls**
//! ([`Loop::poll_events`]) — without waiting and without telling the deadlock monitor
//! anything (runnable fibers make the loop active): it hands the submission queue to the
//! kernel (so operations pushed meanwhile start), delivers every completion already posted
//! (expired timers and deadlines, finished I/O, the eventfd read) and takes the wakes that
//! other threads left in [`Remote`]. Everything it makes runnable is appended behind the
//! fibers already waiting. Only when the ready queue is empty does the loop block in
//! [`Loop::wait_for_events`].
//!
//! Why a count of resumes and no time budget: every switch is a fiber's turn, a few hundred
//! nanoseconds when fibers hand work around, so the loop notices an expired timer or a finished
//! operation within tens of microseconds (the fiber it wakes then waits its turn behind those
//! already runnable) — while a poll that finds nothing costs a few atomic loads and an
//! uncontended lock, well under 1 % of those 61 switches. Reading the clock at
//! every switch (tens of nanoseconds, far more on a machine without a vDSO clock) would cost
//! more than the poll it decides on. A fiber that computes between parks holds the loop
//! whatever the rule (polling needs the loop thread), which is what `Io::offload` is for. The
//! number is tokio's (its scheduler polls its driver every 61 ticks): a prime, so a cycle of
//! fibers does not line up with it.
//!
//! A poll makes no system call unless entries are queued (or completions overflowed): the ring
//! is set up without `IORING_SETUP_COOP_TASKRUN` / `DEFER_TASKRUN`, so the kernel interrupts
//! the busy loop thread to post a completion (task work run on its next return to user space)
//! and the completion queue fills without the loop entering the kernel.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types};

use super::group::Group;
use super::ops::{Ops, Purpose, EVENTFD, IGNORE};
use super::ring::Ring;
use super::timers::{self, Armed, ClockTimers, Entry, CLOCKS};
use super::Config;
use crate::backend::carrier::TakenBack;
use crate::backend::op::Leftover;
use crate::backend::{claim, Dispatch, SpawnKind, TaskRef};
use crate::error::ConcurrencyUnavailable;
use crate::fiber::{Fiber, ReservedStack, Resume, StackPool, Suspender};
use crate::park::{Parker, Resumer, Schedule, Suspend};
use crate::task::{self, RawTask};
use crate::time::Clock;

/// The least time ahead a ring timeout is armed for (nanoseconds): a deadline closer than this
/// is served by a timeout that fires this long from now, with every other deadline due by then.
/// Deadlines a few microseconds apart (100 000 sleepers spread over the 150 ms it took to put
/// them to sleep) otherwise cost one arm, one kernel timer and one wake of the loop each few
/// fibers — each arm a timer programmed in the kernel, which on a KVM guest exits to the host
/// (10 % of a run of 100 000 sleepers on two loops went there). A sleep wakes at most this much
/// later than its deadline on account of it; a loop that runs reads its clocks at every poll
/// regardless.
const TIMER_SLACK: u64 = 50_000;

/// Entries of the ready queue the loop runs between two polls of the ring and of other
/// threads' wakes while fibers stay runnable (see the module docs for the rule and the number).
const POLL_EVERY: usize = 61;

thread_local! {
    /// The loop running on this thread (null: none).
    static CURRENT: Cell<*const Loop> = const { Cell::new(std::ptr::null()) };
    /// The fiber the loop is running right now (`usize::MAX`: none, the loop itself runs).
    static RUNNING: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// In the child of a `fork` (see `crate::fork`): no loop runs on this thread and no fiber on
/// it — the loop that did in the parent is the parent's, its ring shared with the parent. Only
/// stores to `const` thread-locals without destructor.
pub(crate) fn reset_after_fork() {
    CURRENT.set(std::ptr::null());
    RUNNING.set(usize::MAX);
}

/// Wakes and spawns that other threads hand to a loop.
pub(crate) struct Remote {
    wakes: Mutex<Vec<(usize, u64)>>,
    eventfd: libc::c_int,
}

impl Remote {
    pub(crate) fn new() -> std::io::Result<Self> {
        // SAFETY: eventfd has no memory preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self {
            wakes: Mutex::new(Vec::new()),
            eventfd: fd,
        })
    }

    /// Queues a wake from a thread other than the loop's and rings the loop's doorbell.
    pub(crate) fn wake(&self, fiber: usize, generation: u64) {
        self.wakes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((fiber, generation));
        self.ring();
    }

    /// Rings the loop's doorbell: the read always armed on its eventfd completes, so a loop
    /// blocked in the kernel wakes (and one that runs sees it at its next poll).
    pub(crate) fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
        unsafe { libc::write(self.eventfd, (&one as *const u64).cast(), 8) };
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // SAFETY: the eventfd is owned by this Remote and closed once.
        unsafe { libc::close(self.eventfd) };
    }
}

/// A wake of a parked fiber: pushed on the ready queue directly on the loop's own thread,
/// through the wake list and the eventfd from any other thread.
impl Schedule for Remote {
    fn resume(&self, fiber: usize, generation: u64) {
        Loop::current(|lp| match lp {
            Some(lp) if std::ptr::eq(&*lp.remote, self) => {
                lp.ready
                    .borrow_mut()
                    .push_back(Ready::Resume(fiber, generation));
            }
            _ => self.wake(fiber, generation),
        });
    }
}

/// An entry of the ready queue.
enum Ready {
    /// Resume a parked fiber, if it still is at this generation.
    Resume(usize, u64),
    /// Start a spawned task on the stack reserved for it (not touched yet), unless it already
    /// ran inline or on another loop. `None`: the stack is one of the idle stacks the loop
    /// promised ([`Loop::promised`]).
    Start(TaskRef, Option<ReservedStack>),
}

struct FiberSlot {
    /// Taken out while the fiber runs (so the loop's tables are free to change meanwhile).
    fiber: Option<Fiber<()>>,
    /// Unique in the loop: a fresh one at every resume (never reused by another fiber that
    /// takes the slot later), so a wake or a timer entry of an earlier park is stale.
    generation: u64,
    suspender: *const Suspender<'static>,
    /// The parker the fiber is suspended on (set as it suspends): its timers expire it.
    parker: *const Parker,
    /// Live timer entries of its current suspension, per clock (see `timers.rs`).
    timers: [u8; 3],
}

/// One event loop: its ring, fibers and operations. Lives on the stack of `Runtime::run`.
pub(crate) struct Loop {
    config: Config,
    ring: RefCell<Ring>,
    ops: RefCell<Ops>,
    pool: StackPool,
    /// Idle stacks of the pool promised to start entries that hold none (`Ready::Start(_,
    /// None)`): the pool always has at least this many idle, since every other taker leaves
    /// them ([`Loop::take_stack`]).
    promised: Cell<usize>,
    /// How many tasks holding a stack the tables below have room for (see
    /// [`reserve`](Self::reserve)): the least of their capacities.
    room: Cell<usize>,
    fibers: RefCell<Vec<Option<FiberSlot>>>,
    free_fibers: RefCell<Vec<usize>>,
    ready: RefCell<VecDeque<Ready>>,
    /// Deadlines of suspended fibers, per clock, and the ring timeouts armed for them.
    timers: RefCell<[ClockTimers; 3]>,
    /// The deadline of the sleep about to suspend the running fiber (see `sleep_on_ring`).
    sleep: Cell<Option<(Clock, Duration)>>,
    /// The last fiber generation handed out.
    generations: Cell<u64>,
    remote: Arc<Remote>,
    /// The wake list `drain_remote` swapped out last time, emptied, kept with its capacity:
    /// swapped back in next time, so that neither side allocates once both lists have grown
    /// to the wakes of one turn.
    remote_batch: RefCell<Vec<(usize, u64)>>,
    eventfd_buffer: Box<u64>,
    /// Units of `async_limit` and `concurrent_limit` in use (a single loop; a multi-loop run
    /// counts in its [`Group`]). Tasks point to them until they finish
    /// (`TaskCtx::hold_limit`); the loop outlives every task spawned on it.
    async_outstanding: AtomicUsize,
    concurrent_outstanding: AtomicUsize,
    /// The other loops of a multi-loop run, and this loop's index among them.
    group: Option<(Arc<Group>, usize)>,
    /// On a multi-loop run: the ready queue's length at which a spawn next drops the starts of
    /// tasks that no longer wait (see [`Loop::sweep_stale_starts`]).
    sweep_at: Cell<usize>,
}

impl Loop {
    /// A loop; `group`: the multi-loop run it belongs to, and its index there.
    pub(crate) fn new(
        config: Config,
        ring: io_uring::IoUring,
        group: Option<(Arc<Group>, usize)>,
    ) -> std::io::Result<Self> {
        let remote = match &group {
            Some((group, index)) => Arc::clone(&group.peer(*index).remote),
            None => Arc::new(Remote::new()?),
        };
        Ok(Self {
            pool: StackPool::new(config.stack_size, config.max_fibers),
            promised: Cell::new(0),
            room: Cell::new(0),
            config,
            ring: RefCell::new(Ring::new(ring)),
            ops: RefCell::default(),
            fibers: RefCell::default(),
            free_fibers: RefCell::default(),
            ready: RefCell::default(),
            timers: RefCell::default(),
            sleep: Cell::new(None),
            generations: Cell::new(0),
            remote,
            remote_batch: RefCell::default(),
            eventfd_buffer: Box::new(0),
            async_outstanding: AtomicUsize::new(0),
            concurrent_outstanding: AtomicUsize::new(0),
            group,
            sweep_at: Cell::new(0),
        })
    }

    /// The loop running on this thread, if any.
    pub(crate) fn current<R>(f: impl FnOnce(Option<&Loop>) -> R) -> R {
        let ptr = CURRENT.with(Cell::get);
        // SAFETY: a non-null CURRENT points to the loop whose `run` is on this thread's stack.
        f(unsafe { ptr.as_ref() })
    }

    /// Runs `root` as the first fiber and drives the loop until it returns.
    pub(crate) fn run(&self, root: &mut dyn FnMut()) {
        let done = Cell::new(false);
        let mut body = || {
            root();
            done.set(true);
        };
        // SAFETY: the root fiber borrows `root` and `done`, which live on this stack frame;
        // the loop below does not return before the fiber finished, and a panic that
        // unwinds out of the loop drops the fiber (unwinding it) before those locals die.
        let fiber = unsafe {
            Fiber::new_unchecked(&self.pool, move |s: &Suspender<'_>| {
                Loop::current(|lp| lp.expect("io: root fiber outside its loop").register(s));
                body()
            })
        };
        let fiber = fiber
            .expect("io: no stack for the root fiber")
            .with_name("root of Runtime::run");
        let (index, generation) = self.adopt(fiber);
        self.ready
            .borrow_mut()
            .push_back(Ready::Resume(index, generation));
        self.drive(&|| done.get());
    }

    /// Drives a helper loop of a multi-loop run (one with no root: it runs what it steals and
    /// what those tasks spawn) until the group stops and its last fiber ended.
    pub(crate) fn run_helper(&self) {
        let group = &self
            .group
            .as_ref()
            .expect("io: a helper loop belongs to a group")
            .0;
        self.map_first_slab();
        self.drive(&|| group.stopped() && self.fibers.borrow().iter().all(Option::is_none));
    }

    /// Maps the loop's first slab of stacks now, whether or not it runs any task: what a run
    /// maps (and registers for stack overflow reports, whose entries are kept for reuse) then
    /// does not depend on which loop happened to run what. A slab that cannot be mapped is not
    /// an error here: the loop's spawns find no stack and say so then.
    pub(crate) fn map_first_slab(&self) {
        drop(self.take_stack());
    }

    /// A stack for a fiber, leaving the idle stacks promised to start entries to them.
    fn take_stack(&self) -> Option<ReservedStack> {
        self.pool.reserve_leaving(self.promised.get()).ok()
    }

    /// A start entry that held no stack leaves the ready queue: its promise ends.
    fn forget_promise(&self) {
        self.promised.set(self.promised.get() - 1);
    }

    /// Runs the loop on this thread until `finished` says so (asked whenever nothing is
    /// runnable).
    fn drive(&self, finished: &dyn Fn() -> bool) {
        struct Leave(*const Loop);
        impl Drop for Leave {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _leave = Leave(CURRENT.with(|c| c.replace(self)));
        self.arm_eventfd();
        // The loop carries every task on this thread (see `backend::carrier`), and is a waker
        // for the deadlock monitor while it has work (see `monitor`).
        crate::backend::carrier::enter(self, || {
            crate::io::with_monitor(|monitor| {
                let drive = || loop {
                    if self.run_ready() {
                        self.poll_events();
                    } else if finished() {
                        break;
                    } else {
                        self.wait_for_events(monitor);
                    }
                };
                match monitor {
                    Some(monitor) => monitor.running(drive),
                    None => drive(),
                }
            })
        });
        if let Some((group, index)) = &self.group {
            group.clear(*index);
        }
    }

    /// A generation no fiber of this loop had before.
    fn fresh_generation(&self) -> u64 {
        let generation = self.generations.get() + 1;
        self.generations.set(generation);
        generation
    }

    /// Puts `fiber` into the fiber table, not yet runnable: returns its slot and generation.
    fn adopt(&self, fiber: Fiber<()>) -> (usize, u64) {
        let generation = self.fresh_generation();
        let slot = FiberSlot {
            fiber: Some(fiber),
            generation,
            suspender: std::ptr::null(),
            parker: std::ptr::null(),
            timers: [0; 3],
        };
        let index = match self.free_fibers.borrow_mut().pop() {
            Some(index) => {
                self.fibers.borrow_mut()[index] = Some(slot);
                index
            }
            None => {
                let mut fibers = self.fibers.borrow_mut();
                fibers.push(Some(slot));
                fibers.len() - 1
            }
        };
        (index, generation)
    }

    /// Called by a fiber as it starts: records how to suspend it.
    fn register(&self, suspender: &Suspender<'_>) {
        let running = RUNNING.with(Cell::get);
        if let Some(Some(slot)) = self.fibers.borrow_mut().get_mut(running) {
            slot.suspender = (suspender as *const Suspender<'_>).cast();
        }
    }

    /// Runs the ready queue in FIFO order, up to [`POLL_EVERY`] entries: `false` once it is
    /// empty, `true` if entries are still runnable (the loop then polls before going on).
    fn run_ready(&self) -> bool {
        for _ in 0..POLL_EVERY {
            let next = self.ready.borrow_mut().pop_front();
            match next {
                None => return false,
                Some(Ready::Resume(index, generation)) => self.resume(index, generation),
                Some(Ready::Start(task, stack)) => self.start(task, stack),
            }
        }
        !self.ready.borrow().is_empty()
    }

    /// Drops the starts of tasks that no longer wait (run inline by a handle or a scope's end,
    /// or on a multi-loop run by another loop) from the whole ready queue, with their stacks,
    /// once it doubled since the last sweep (at least 64 entries): a loop that keeps spawning
    /// while its tasks run elsewhere would otherwise pile up their cells and stacks until it
    /// next parks. O(1) amortized per spawn; order is kept. (A handle's join or drop takes the
    /// start of its task back when it is the newest or the oldest entry, so most never stay.)
    fn sweep_stale_starts(&self) {
        let mut ready = self.ready.borrow_mut();
        if ready.len() < self.sweep_at.get().max(64) {
            return;
        }
        let mut forgotten = 0;
        ready.retain(|entry| match entry {
            Ready::Start(task, stack) if !task.is_queued() => {
                forgotten += usize::from(stack.is_none());
                false
            }
            _ => true,
        });
        self.promised.set(self.promised.get() - forgotten);
        self.sweep_at.set(2 * ready.len());
    }

    /// Takes the start entry of `task` out of the ready queue if it is the newest or the oldest
    /// entry (see `Carrier::take_back_start`), giving back its stack or its promise.
    pub(crate) fn take_back_start(&self, task: &dyn RawTask) -> Option<TakenBack> {
        // Never while the loop itself holds the queue (a task dropped under its borrow).
        let Ok(mut ready) = self.ready.try_borrow_mut() else {
            return None;
        };
        let is_its_start = |entry: Option<&Ready>| matches!(entry, Some(Ready::Start(start, _)) if ptr::addr_eq(&**start, task));
        let entry = if is_its_start(ready.back()) {
            ready.pop_back()
        } else if is_its_start(ready.front()) {
            ready.pop_front()
        } else {
            None
        };
        drop(ready);
        let Some(Ready::Start(start, stack)) = entry else {
            return None;
        };
        match stack {
            Some(stack) => drop(stack),
            None => self.forget_promise(),
        }
        Some(TakenBack {
            task: start,
            // A single loop offers its tasks to no other loop (`group`).
            unshared: self.group.is_none(),
        })
    }

    /// Builds the fiber of a spawned task and runs it, unless the task already ran (or runs)
    /// inline or on another loop. The task is claimed here, before its stack is touched: on a
    /// multi-loop run the loop that spawned it and one that stole it may both come to start it,
    /// and only the one that wins the claim pays for a fiber (and the first touch of a fresh
    /// stack); the other gives the stack back untouched.
    fn start(&self, task: TaskRef, stack: Option<ReservedStack>) {
        if stack.is_none() {
            self.forget_promise();
        }
        if !task.claim() {
            // Run inline by its joiner, or by another loop of a multi-loop run (which may
            // still be running it): the run's end gives back its limit unit (`Task::finish`).
            return;
        }
        let stack = match stack {
            Some(stack) => stack,
            // One of the promised idle stacks: the pool holds at least one more idle stack
            // than the promises left, so this takes it without carving.
            None => match self.take_stack() {
                Some(stack) => stack,
                None => unreachable!("io: a stack promised to a task was taken"),
            },
        };
        let name = task.ctx().spawned_at.file();
        // The first touch of a fresh stack (its top page made resident) is paid here, by the
        // loop that starts the task, not at the spawn.
        let fiber = Fiber::on_stack(stack.into_stack(), move |s: &Suspender<'_>| {
            Loop::current(|lp| lp.expect("io: fiber outside its loop").register(s));
            // SAFETY: the claim above succeeded, and the fiber runs its body once.
            unsafe { crate::backend::run_claimed_counted(&*task) };
        });
        // Named after the file that spawned it, for stack overflow reports (a static string:
        // naming allocates nothing). It runs at once, in the turn of its start: its stack's
        // top page was just written (the header, the first frame), so it is still in the cache
        // and the TLB. Queued behind every runnable fiber instead, a fiber started in a burst
        // of 100 000 starts found its page cold again, which cost more than the rest of its
        // first run.
        let (index, generation) = self.adopt(fiber.with_name(name));
        self.resume(index, generation);
    }

    fn resume(&self, index: usize, generation: u64) {
        let (fiber, timed) = {
            let mut fibers = self.fibers.borrow_mut();
            match fibers.get_mut(index) {
                Some(Some(slot)) if slot.generation == generation && slot.fiber.is_some() => {
                    // The entries of this suspension in the timers go stale at once.
                    slot.generation = self.fresh_generation();
                    (slot.fiber.take(), std::mem::take(&mut slot.timers))
                }
                _ => (None, [0; 3]),
            }
        };
        let Some(mut fiber) = fiber else {
            return;
        };
        if timed != [0; 3] {
            let mut timers = self.timers.borrow_mut();
            for (clock, count) in timers.iter_mut().zip(timed) {
                clock.forget(usize::from(count));
            }
        }
        let previous = RUNNING.with(|r| r.replace(index));
        let task = task::current_ptr();
        let outcome = fiber.resume();
        task::set_current_ptr(task);
        RUNNING.with(|r| r.set(previous));
        match outcome {
            Resume::Suspended => {
                if let Some(Some(slot)) = self.fibers.borrow_mut().get_mut(index) {
                    slot.fiber = Some(fiber);
                }
            }
            Resume::Finished(()) => {
                self.fibers.borrow_mut()[index] = None;
                self.free_fibers.borrow_mut().push(index);
                drop(fiber);
            }
        }
    }

    /// Submits, waits for at least one completion and delivers them, overflowed ones included
    /// ([`reap`](Self::reap)). With nothing runnable and nothing in flight, only another thread
    /// can wake the loop: `monitor` may then see it idle.
    fn wait_for_events(&self, monitor: Option<&crate::monitor::Monitor>) {
        // Expire what is due and arm the ring timeouts for the rest before blocking.
        self.settle_timers(true);
        if !self.ready.borrow().is_empty() {
            return;
        }
        // A loop of a multi-loop run takes tasks other loops offer before it blocks; it says
        // it sleeps first, so an offer made meanwhile either is seen here or rings it.
        if let Some((group, index)) = &self.group {
            group.sleep(*index);
            if self.steal(group, *index) {
                group.awake(*index);
                return;
            }
        }
        {
            let mut ring = self.ring.borrow_mut();
            let idle = self.ready.borrow().is_empty() && self.ops.borrow().in_flight() == 0;
            match monitor {
                Some(monitor) if idle => monitor.idle(|| ring.submit_and_wait(1)),
                _ => ring.submit_and_wait(1),
            }
        }
        if let Some((group, index)) = &self.group {
            group.awake(*index);
        }
        self.reap();
    }

    /// Takes tasks other loops of the group offer (see `group.rs`) and queues each on a stack
    /// of this loop's pool; `true` if it queued any.
    fn steal(&self, group: &Group, index: usize) -> bool {
        let mut stolen = Vec::new();
        group.steal(index, &mut stolen);
        let mut queued = false;
        for task in stolen {
            // No stack or no room here: the task stays with the loop that spawned it (its
            // copy there is still queued), so giving up loses nothing.
            let Some(stack) = self.take_stack() else {
                break;
            };
            if !self.reserve(self.pool.in_use() + self.promised.get()) {
                break;
            }
            self.ready
                .borrow_mut()
                .push_back(Ready::Start(task, Some(stack)));
            queued = true;
        }
        queued
    }

    /// Room in the loop's tables for `tasks` tasks that hold a stack (see `spawn`).
    fn reserve(&self, tasks: usize) -> bool {
        // The tables' capacities never shrink: room once made for as many stays.
        if tasks <= self.room.get() {
            return true;
        }
        let mut fibers = self.fibers.borrow_mut();
        let mut free = self.free_fibers.borrow_mut();
        let mut ready = self.ready.borrow_mut();
        let (table, freed, queued) = (fibers.len(), free.len(), ready.len());
        let slots = tasks.max(table);
        let made = fibers.try_reserve(slots - table).is_ok()
            && free.try_reserve(slots - freed).is_ok()
            && ready.try_reserve(tasks.saturating_sub(queued)).is_ok();
        if made {
            let room = fibers.capacity().min(free.capacity()).min(ready.capacity());
            self.room.set(room);
        }
        made
    }

    /// Suspends the running fiber behind every fiber runnable now (`Io::yield_now`): it runs
    /// again in its turn, after the loop's next look at the ring if 61 others went first.
    pub(crate) fn yield_fiber(&self) {
        let running = RUNNING.with(Cell::get);
        let (generation, suspender) = match self.fibers.borrow().get(running) {
            Some(Some(slot)) => (slot.generation, slot.suspender),
            _ => panic!("io: yield outside a fiber"),
        };
        self.ready
            .borrow_mut()
            .push_back(Ready::Resume(running, generation));
        let task = task::current_ptr();
        // SAFETY: the suspender was registered by this very fiber as it started and lives on
        // its stack, which is the stack we are running on.
        unsafe { (*suspender).suspend() };
        task::set_current_ptr(task);
    }

    /// The poll of a busy loop (see the module docs): submits what is queued, delivers the
    /// completions already posted (those on the kernel's overflow list too, see
    /// [`reap`](Self::reap)) and takes other threads' wakes, never waiting. Fibers are
    /// runnable, so the loop is active and the deadlock monitor is not involved.
    fn poll_events(&self) {
        self.ring.borrow_mut().submit_queued();
        self.reap();
        self.drain_remote();
    }

    /// Delivers every completion, those on the kernel's overflow list included; the fibers
    /// they wake are appended to the ready queue.
    ///
    /// Empties the completion queue, then, while the kernel says completions overflowed (they
    /// found the queue full), has it move them into the emptied queue and empties it again (see
    /// `ring.rs`). Ends: a round submits nothing, so only operations already in flight can
    /// complete meanwhile, and each round takes completions off the kernel's list.
    fn reap(&self) {
        let mut ring = self.ring.borrow_mut();
        loop {
            while let Some(cqe) = ring.next_completion() {
                match cqe.user_data() {
                    IGNORE => {}
                    EVENTFD => {
                        drop(ring);
                        self.drain_remote();
                        self.arm_eventfd();
                        ring = self.ring.borrow_mut();
                    }
                    user_data => {
                        if self.ops.borrow_mut().complete(user_data, cqe.result()) {
                            self.timer_fired(user_data);
                        }
                    }
                }
            }
            if !ring.overflowed() {
                break;
            }
            ring.flush_overflow();
        }
        drop(ring);
        // Whenever the loop turns, not only when a ring timeout fired: a busy loop expires
        // its timers at every poll. The ring timeout is set again only before the loop blocks
        // (`wait_for_events`): while it runs, its polls read the clocks anyway, and re-arming
        // for every next deadline cost a system call and a kernel timer each (in a wake phase
        // of 100 000 sleepers, one per few woken fibers: 13 % of the run).
        self.settle_timers(false);
    }

    /// Appends the wakes other threads left in [`Remote`] to the ready queue.
    fn drain_remote(&self) {
        let mut batch = self.remote_batch.borrow_mut();
        {
            let mut wakes = self.remote.wakes.lock().unwrap_or_else(|e| e.into_inner());
            if wakes.is_empty() {
                return;
            }
            std::mem::swap(&mut *wakes, &mut *batch);
        }
        let wakes = batch
            .drain(..)
            .map(|(fiber, gen)| Ready::Resume(fiber, gen));
        self.ready.borrow_mut().extend(wakes);
    }

    fn arm_eventfd(&self) {
        let buffer: *const u64 = &*self.eventfd_buffer;
        let entry = opcode::Read::new(types::Fd(self.remote.eventfd), buffer as *mut u8, 8)
            .build()
            .user_data(EVENTFD);
        // SAFETY: the buffer is boxed in the loop, which outlives the ring's use of it (the
        // ring is dropped with the loop, and a read on an eventfd never outlives the ring).
        unsafe { self.ring.borrow_mut().push(&entry) };
    }

    /// Pushes an entry for the kernel.
    ///
    /// # Safety
    /// The entry's buffers must stay valid until its completion is reaped.
    pub(crate) unsafe fn push(&self, entry: &squeue::Entry) {
        // SAFETY: forwarded to the caller.
        unsafe { self.ring.borrow_mut().push(entry) };
    }

    pub(crate) fn ops(&self) -> std::cell::RefMut<'_, Ops> {
        self.ops.borrow_mut()
    }

    /// Whether completions wait on the kernel's CQ overflow list right now.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn cq_overflowed(&self) -> bool {
        self.ring.borrow_mut().overflowed()
    }

    /// Whether a fiber of this loop runs right now (not the loop itself).
    pub(crate) fn on_fiber(&self) -> bool {
        RUNNING.with(Cell::get) != usize::MAX
    }
}

impl Suspend for Loop {
    /// How the running fiber is woken later.
    fn resumer(&self) -> Resumer {
        let running = RUNNING.with(Cell::get);
        let generation = match self.fibers.borrow().get(running) {
            Some(Some(slot)) => slot.generation,
            _ => panic!("io: suspend outside a fiber"),
        };
        Resumer {
            scheduler: Arc::clone(&self.remote) as Arc<dyn Schedule>,
            slot: running,
            generation,
        }
    }

    /// Suspends the running fiber. Its deadline, and that of the sleep it is in (see
    /// [`Loop::sleep_at_next_suspend`]), go into the loop's timers, which expire `parker` then.
    fn suspend(&self, parker: &Parker, deadline: Option<Instant>) {
        let running = RUNNING.with(Cell::get);
        let sleep = self.sleep.take();
        let suspender = {
            let mut fibers = self.fibers.borrow_mut();
            let Some(Some(slot)) = fibers.get_mut(running) else {
                panic!("io: suspend outside a fiber")
            };
            slot.parker = parker;
            if sleep.is_some() || deadline.is_some() {
                let mut timers = self.timers.borrow_mut();
                let mut add = |clock: Clock, at: u64| {
                    let clock = timers::index(clock);
                    timers[clock].add(Entry {
                        at,
                        fiber: running,
                        generation: slot.generation,
                    });
                    slot.timers[clock] += 1;
                };
                if let Some((clock, at)) = sleep {
                    add(clock, timers::nanos(at));
                }
                if let Some(deadline) = deadline {
                    add(Clock::Awake, timers::awake_nanos(deadline));
                }
            }
            slot.suspender
        };
        // The current task is per fiber: keep ours across the switch.
        let task = task::current_ptr();
        // SAFETY: the suspender was registered by this very fiber as it started and lives on
        // its stack, which is the stack we are running on.
        unsafe { (*suspender).suspend() };
        task::set_current_ptr(task);
    }
}

/// Whether `entry` may still end a suspension: its fiber is in the suspension that added it
/// (generations are unique in a loop, so a later fiber in the same slot never matches).
fn is_live(fibers: &[Option<FiberSlot>], entry: &Entry) -> bool {
    matches!(fibers.get(entry.fiber), Some(Some(slot)) if slot.generation == entry.generation)
}

impl Loop {
    /// The running fiber's next suspension is a sleep until `deadline` on `clock`: the loop
    /// adds it to its timers as the fiber suspends (only then, so that a park that returns at
    /// once leaves no entry behind).
    pub(crate) fn sleep_at_next_suspend(&self, clock: Clock, deadline: Duration) {
        self.sleep.set(Some((clock, deadline)));
    }

    /// The park of a sleep returned: forget its deadline if it did not suspend.
    pub(crate) fn sleep_at_next_suspend_done(&self) {
        self.sleep.set(None);
    }

    /// A loop timer's ring timeout completed: it is no longer armed.
    fn timer_fired(&self, user_data: u64) {
        let mut timers = self.timers.borrow_mut();
        if let Some(clock) = timers.iter_mut().find(|clock| {
            clock
                .armed
                .is_some_and(|armed| armed.user_data == user_data)
        }) {
            clock.armed = None;
        }
    }

    /// Expires every timer whose deadline passed (its parker's `expire` makes the fiber
    /// runnable, unless something woke it first), drops stale entries, and keeps one ring
    /// timeout per clock armed for the earliest live deadline (none when no entry is live) if
    /// `arm` (the loop is about to block); otherwise the ring timeouts stay as they are. See
    /// `timers.rs`.
    fn settle_timers(&self, arm: bool) {
        for (index, clock) in CLOCKS.into_iter().enumerate() {
            if self.timers.borrow()[index].quiet() {
                continue;
            }
            let (disarm, arm) = self.settle_clock(index, clock, arm);
            if let Some(armed) = disarm {
                self.disarm_timer(armed);
            }
            if let Some(at) = arm {
                let armed = self.arm_timer(clock, at);
                self.timers.borrow_mut()[index].armed = Some(armed);
            }
        }
    }

    /// [`settle_timers`](Self::settle_timers) for one clock: returns the ring timeout to
    /// remove and the deadline to arm one for, if any (never any unless `arm`).
    fn settle_clock(&self, index: usize, clock: Clock, arm: bool) -> (Option<Armed>, Option<u64>) {
        let mut fibers = self.fibers.borrow_mut();
        let mut timers = self.timers.borrow_mut();
        let timers = &mut timers[index];
        if timers.live() > 0 {
            let now = timers::nanos(clock.read());
            while let Some(entry) = timers.peek() {
                let live = is_live(&fibers, &entry);
                if live && entry.at > now {
                    break;
                }
                timers.pop(live);
                if !live {
                    continue;
                }
                let Some(Some(slot)) = fibers.get_mut(entry.fiber) else {
                    unreachable!("a live timer entry names a fiber")
                };
                slot.timers[index] -= 1;
                let parker = slot.parker;
                // SAFETY: the entry is live, so the fiber is still suspended in the park that
                // added it (its generation changes when it is resumed), and `parker` is the
                // parker of that park: it lives in the task the suspended fiber's stack holds.
                // `expire` only touches the parker and the ready queue, not the tables borrowed
                // here.
                unsafe { (*parker).expire() };
            }
            timers.compact(|entry| is_live(&fibers, entry));
        }
        if timers.live() == 0 {
            timers.clear();
        }
        if !arm {
            return (None, None);
        }
        if timers.live() == 0 {
            return (timers.armed.take(), None);
        }
        // Deadlines closer than `TIMER_SLACK` are served together: see there.
        let soonest = timers::nanos(clock.read()).saturating_add(TIMER_SLACK);
        let next = timers.peek().map(|entry| entry.at.max(soonest));
        match (timers.armed, next) {
            (Some(armed), Some(next)) if armed.at <= next => (None, None),
            (armed, next) => {
                timers.armed = None;
                (armed, next)
            }
        }
    }

    /// Arms a ring timeout at `at` (nanoseconds since `clock`'s epoch, absolute on that clock).
    fn arm_timer(&self, clock: Clock, at: u64) -> Armed {
        let flags = match clock {
            Clock::Awake => types::TimeoutFlags::ABS,
            Clock::Boot => types::TimeoutFlags::ABS | types::TimeoutFlags::BOOTTIME,
            Clock::Real => types::TimeoutFlags::ABS | types::TimeoutFlags::REALTIME,
        };
        let spec = types::Timespec::new()
            .sec(at / 1_000_000_000)
            .nsec((at % 1_000_000_000) as u32);
        let mut ops = self.ops.borrow_mut();
        let user_data = ops.insert(None, Purpose::Timer, Leftover::Nothing);
        let spec = ops.timespec(user_data, spec);
        drop(ops);
        let entry = opcode::Timeout::new(spec)
            .flags(flags)
            .build()
            .user_data(user_data);
        // SAFETY: the timespec lives in the op slot (boxed) until the completion is reaped.
        unsafe { self.push(&entry) };
        Armed { at, user_data }
    }

    /// Removes a ring timeout armed by [`arm_timer`](Self::arm_timer); its completion only
    /// frees its slot.
    fn disarm_timer(&self, armed: Armed) {
        self.ops.borrow_mut().orphan(armed.user_data);
        let entry = opcode::TimeoutRemove::new(armed.user_data)
            .build()
            .user_data(IGNORE);
        // SAFETY: a timeout removal refers to no memory.
        unsafe { self.push(&entry) };
    }

    /// Spawns `task` as a new fiber, per `kind` and the loop's limits.
    pub(crate) fn spawn(
        &self,
        task: TaskRef,
        kind: SpawnKind,
    ) -> Result<Dispatch, ConcurrencyUnavailable> {
        let (asynchronous, concurrent) = match &self.group {
            Some((group, _)) => (&*group.async_outstanding, &*group.concurrent_outstanding),
            None => (&self.async_outstanding, &self.concurrent_outstanding),
        };
        let (counter, limit) = match kind {
            SpawnKind::Async => (asynchronous, self.config.async_limit),
            SpawnKind::Concurrent => (concurrent, self.config.concurrent_limit),
        };
        let refuse = |task| match kind {
            SpawnKind::Async => Ok(Dispatch::RunInline(task)),
            SpawnKind::Concurrent => Err(ConcurrencyUnavailable),
        };
        // An unbounded limit (the default `async_limit`) is not counted: nothing would ever be
        // refused, and the count and its release would cost two read-modify-writes per task.
        let counted = limit != usize::MAX;
        if self.config.single_threaded || (counted && !claim(counter, limit)) {
            return refuse(task);
        }
        self.sweep_stale_starts();
        // The stack, and room in the loop's tables for every task that holds one (this one
        // included) to become a fiber, park and be woken: starting, waking and ending a task
        // then never allocate, even once the address space has run out. A task holds at most
        // one entry of the ready queue (its start, or the one wake of its current park) and one
        // slot of the fiber table; the free list of slots never outgrows the table. Amortized
        // (capacities double), and a comparison each when the room is there. The stack is a
        // promise of an idle one when the pool has one more idle than promised (see the module
        // docs); otherwise it is taken now (carved, or refused).
        let promised = self.promised.get();
        let stack = if self.pool.idle() > promised {
            Some(None)
        } else {
            self.take_stack().map(Some)
        };
        let holders = |stack: &Option<ReservedStack>| {
            self.pool.in_use() + promised + usize::from(stack.is_none())
        };
        match stack {
            Some(stack) if self.reserve(holders(&stack)) => {
                if stack.is_none() {
                    self.promised.set(promised + 1);
                }
                // Given back as the task finishes, wherever it runs (`TaskCtx::release_limit`).
                if counted {
                    task.ctx().hold_limit(counter);
                }
                // Other loops may take it while it waits here (see `group.rs`).
                if let Some((group, index)) = &self.group {
                    group.offer(*index, &task);
                }
                // The entry is written in place, after its room: built first and pushed, it is
                // staged on the stack and read back with wide loads across the narrow stores
                // that just wrote it, which stalls until they land.
                let mut ready = self.ready.borrow_mut();
                ready.push_back(Ready::Resume(0, 0)); // capacity reserved above
                if let Some(place) = ready.back_mut() {
                    // SAFETY: `place` is the entry just pushed, a `Resume`, which owns nothing:
                    // overwriting it without a drop leaks nothing.
                    unsafe { ptr::write(place, Ready::Start(task, stack)) };
                }
                Ok(Dispatch::Scheduled)
            }
            // No stack (the pool, the fiber limit or the address-space reserve ran out), or no
            // room for its entries: the stack, if any, goes back to the pool.
            _ => {
                if counted {
                    counter.fetch_sub(1, Ordering::AcqRel);
                }
                refuse(task)
            }
        }
    }
}
