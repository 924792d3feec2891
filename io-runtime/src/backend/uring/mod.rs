//! The uring backend: an io_uring event loop running every task as a stackful fiber.
//!
//! Blocking never blocks the thread: the loop is the carrier of its thread (see
//! `backend::carrier`), so a task that waits on a runtime primitive suspends its fiber (see
//! `crate::park`), and a sleep or an operation of `backend::op` becomes a submission queue
//! entry whose completion the fiber waits for (see `ops.rs` and README.md). A loop runs on the
//! thread that calls `Runtime::run`, for the duration of that call, and with `threads = N`
//! N − 1 more on threads of their own, each with its own ring; idle loops take tasks not yet
//! started from busy ones (see `group.rs`). A fiber that computes for a long time holds its
//! loop, so long computations call [`Io::yield_now`](crate::Io::yield_now) now and then or
//! belong in [`Io::offload`](crate::Io::offload).
//!
//! Stacks come from a pool of slabs with guard pages (see the crate-internal `fiber::stack`); when the
//! pool or the configured fiber limit runs out, `io_concurrent!` returns
//! `ConcurrencyUnavailable` and `io_async!` runs inline.

mod group;
mod ops;
mod ring;
mod scheduler;
mod timers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_uring::{opcode, squeue};

use super::carrier::{Carrier, TakenBack};
use super::op::{Leftover, Op};
use super::own_thread;
use super::{Backend, Dispatch, SpawnKind, TaskRef};
use crate::block;
use crate::error::{canceled_io, Canceled, ConcurrencyUnavailable};
use crate::park::Suspend;
use crate::task::{current_arc, RawTask};
use crate::time::Clock;

use scheduler::Loop;
// The fork handler (`crate::fork`) resets the loop's thread-locals in the child.
pub(crate) use scheduler::reset_after_fork;

/// Limits and sizes of a uring backend.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// No concurrency at all: async runs inline, concurrent is refused.
    pub(crate) single_threaded: bool,
    pub(crate) async_limit: usize,
    pub(crate) concurrent_limit: usize,
    pub(crate) stack_size: usize,
    pub(crate) max_fibers: usize,
    /// Event loops per `Runtime::run`, each on its own thread with its own ring (1: the
    /// calling thread's loop only).
    pub(crate) loops: usize,
}

/// The uring backend.
pub(crate) struct Uring {
    config: Config,
    /// A ring made at build time (proving io_uring works here), used by the first `run`.
    spare_ring: Mutex<Option<io_uring::IoUring>>,
    /// How the helper loops' threads enter the runtime (set once the runtime exists).
    env: Option<crate::io::ThreadEnv>,
}

impl Uring {
    /// Sets up a ring, or says why io_uring cannot be used.
    pub(crate) fn new(config: Config) -> Result<Self, String> {
        let ring = ring::create()?;
        Ok(Self {
            config,
            spare_ring: Mutex::new(Some(ring)),
            env: None,
        })
    }

    /// The backend inside the runtime `env` enters.
    pub(crate) fn with_env(mut self, env: crate::io::ThreadEnv) -> Self {
        self.env = Some(env);
        self
    }

    /// Runs `root` on this thread's loop with `loops - 1` helper loops, each on a thread of
    /// its own for the duration of the call (see `group.rs`).
    fn block_on_loops(&self, ring: io_uring::IoUring, root: &mut dyn FnMut()) {
        let loops = self.config.loops;
        let group = group::Group::new(loops)
            .unwrap_or_else(|e| panic!("io: cannot start the uring loops: {e}"));
        // Every ring is made here, before the root runs: the descriptors a run holds exist
        // from its start to its end (a descriptor count taken inside the run stays put).
        let rings: Vec<_> = (1..loops).map(|_| ring::create()).collect();
        /// Stops the helpers however the root ends (a panic included).
        struct Stop<'a>(&'a group::Group);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        // The calling thread's loop, and the slab its root's stack comes from, before any
        // helper thread: where address space is short (a low RLIMIT_AS), the helpers' threads
        // and stacks must not take what the root needs. A helper that then finds none leaves
        // its work to the others.
        let lp = Loop::new(self.config.clone(), ring, Some((Arc::clone(&group), 0)))
            .unwrap_or_else(|e| panic!("io: cannot start the uring loop: {e}"));
        lp.map_first_slab();
        std::thread::scope(|s| {
            let mut helpers = Vec::with_capacity(loops - 1);
            for (index, ring) in (1..loops).zip(rings) {
                let (group, config) = (Arc::clone(&group), self.config.clone());
                let env = self.env.as_ref();
                let helper = move || {
                    let body = move || {
                        block_async_signals();
                        // A loop that cannot start leaves the work to the others: its peer
                        // never sleeps, so nobody rings it, and it offers nothing.
                        let lp = ring.map_err(std::io::Error::other).and_then(|ring| {
                            Loop::new(config, ring, Some((Arc::clone(&group), index)))
                        });
                        match lp {
                            Ok(lp) => lp.run_helper(),
                            Err(e) => eprintln!("io: uring loop {index} did not start: {e}"),
                        }
                        // The thread ends now: a spare stack pool kept for its next loop would
                        // only be unmapped by its thread-local destructor, after the run.
                        crate::fiber::drop_spare_pool();
                    };
                    match env {
                        Some(env) => env.run_thread(body),
                        None => body(),
                    }
                };
                let started = std::thread::Builder::new()
                    .name(format!("io-uring-loop-{index}"))
                    .spawn_scoped(s, helper);
                match started {
                    Ok(helper) => helpers.push(helper),
                    Err(e) => eprintln!("io: uring loop {index} did not start: {e}"),
                }
            }
            let stop = Stop(&group);
            lp.run(root);
            drop(lp);
            // Which tasks ran on this loop varies from run to run, and so would the size of a
            // pool kept for the next run: none is kept after a multi-loop run.
            crate::fiber::drop_spare_pool();
            drop(stop);
            // Joined one by one (the scope's own join only waits for the closures): the run
            // returns once each helper thread has exited, thread-locals freed.
            for helper in helpers {
                if let Err(panic) = helper.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }
}

/// Blocks the asynchronous signals on a helper loop's thread, so that a signal sent to the
/// process is handled by a thread the program runs (as with one loop), not by a loop thread
/// that happens to be eligible. The runtime's cancel signal and the synchronous fault signals
/// stay deliverable.
fn block_async_signals() {
    // SAFETY: a sigset_t is plain data, initialised by sigfillset before use; pthread_sigmask
    // only changes this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for keep in [
            crate::cancel::CANCEL_SIGNAL,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGABRT,
            libc::SIGTRAP,
        ] {
            libc::sigdelset(&mut set, keep);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

impl Backend for Uring {
    fn name(&self) -> &'static str {
        "uring"
    }

    fn start(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn spawn(&self, task: TaskRef, kind: SpawnKind) -> Result<Dispatch, ConcurrencyUnavailable> {
        Loop::current(|lp| match lp {
            Some(lp) => lp.spawn(task, kind),
            // A thread outside the loop (an offload helper, a thread the user started): it can
            // run asynchrony inline, but it cannot host concurrency.
            None => match kind {
                SpawnKind::Async => Ok(Dispatch::RunInline(task)),
                SpawnKind::Concurrent => Err(ConcurrencyUnavailable),
            },
        })
    }

    fn block_on(&self, root: &mut dyn FnMut()) {
        let ring = self
            .spare_ring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let ring = match ring {
            Some(ring) => ring,
            None => ring::create().unwrap_or_else(|e| panic!("io: {e}")),
        };
        // Under valgrind, one loop: valgrind runs one thread at a time and does not let go of
        // its lock while a thread blocks in `io_uring_enter`, so a second loop blocked there
        // would stop the whole process.
        if self.config.loops > 1
            && !self.config.single_threaded
            && !crate::fiber::running_on_valgrind()
        {
            return self.block_on_loops(ring, root);
        }
        let lp = Loop::new(self.config.clone(), ring, None)
            .unwrap_or_else(|e| panic!("io: cannot start the uring loop: {e}"));
        lp.run(root);
    }

    fn shutdown(&self) {}
}

/// The loop carries the tasks of its thread: a fiber suspends instead of blocking, and its
/// operations and sleeps go through the ring. Code the loop runs outside any fiber (its own
/// bookkeeping) blocks the thread as any thread does.
impl Carrier for Loop {
    fn suspension(&self) -> Option<&dyn Suspend> {
        self.on_fiber().then_some(self as &dyn Suspend)
    }

    fn perform(&self, op: &mut dyn Op) -> std::io::Result<usize> {
        if !self.on_fiber() {
            return op.run_on_thread();
        }
        // SAFETY: the op keeps what its entry points to alive while it is borrowed, and
        // `submit` returns only after the completion was reaped (`Op`'s contract).
        match unsafe { submit(self, op.entry(), op.leftover()) } {
            Err(Canceled) => Err(canceled_io()),
            Ok(rc) if rc < 0 => Err(std::io::Error::from_raw_os_error(-rc)),
            Ok(rc) => Ok(rc as usize),
        }
    }

    fn sleep_until(&self, deadline: Duration, clock: Clock) -> Result<(), Canceled> {
        if !self.on_fiber() {
            return own_thread::sleep_until(deadline, clock);
        }
        sleep_on_ring(self, deadline, clock)
    }

    fn owns_thread(&self) -> bool {
        false
    }

    fn yield_now(&self) {
        if self.on_fiber() {
            self.yield_fiber();
        } else {
            std::thread::yield_now();
        }
    }

    fn take_back_start(&self, task: &dyn RawTask) -> Option<TakenBack> {
        Loop::take_back_start(self, task)
    }
}

/// Submits `entry` for the current fiber and waits for its completion, as a cancellation
/// point: a cancel (or the deadline of an enclosing `Io::timeout`) submits an async-cancel for
/// exactly this operation and still waits for its completion, so buffers the entry points to
/// stay valid until the kernel is done.
///
/// Returns the raw result (negative errno on failure), or `Err(Canceled)` if a cancel came
/// first; a result that won the race against the cancel is returned when it holds data
/// (`leftover` is `Nothing`), and released (a descriptor closed) otherwise.
///
/// # Safety
/// Every buffer `entry` points to must stay valid until this function returns.
unsafe fn submit(lp: &Loop, entry: squeue::Entry, leftover: Leftover) -> Result<i32, Canceled> {
    let me = current_arc();
    block::check(&me)?;
    {
        let user_data = lp
            .ops()
            .insert(Some(me.clone()), ops::Purpose::Result, leftover);
        // SAFETY: the caller keeps the buffers alive until we return, and we return only
        // after the completion was reaped (take_result below).
        unsafe { lp.push(&entry.user_data(user_data)) };
        let mut canceled = false;
        let marks = crate::time::FiredMarks::take(&me);
        loop {
            // Until a cancel was sent, wake at an enclosing `Io::timeout`'s deadline too.
            let deadline = if canceled {
                None
            } else {
                crate::time::timer(&me)
            };
            let _ = me.parker.park(deadline);
            if let Some(result) = lp.ops().take_result(user_data) {
                let finished = finish(result, canceled, leftover);
                if canceled && finished.is_ok() {
                    // The result won the race against the cancel: the operation did not report
                    // a deadline, whose timeout must not drop what it read or wrote.
                    marks.restore();
                }
                return finished;
            }
            if !canceled && block::check(&me).is_err() {
                canceled = true;
                let cancel = opcode::AsyncCancel::new(user_data)
                    .build()
                    .user_data(ops::IGNORE);
                // SAFETY: an async-cancel refers to no memory.
                unsafe { lp.push(&cancel) };
            }
        }
    }
}

/// What `submit` returns for an operation's `result`, given whether a cancel was sent.
fn finish(result: i32, canceled: bool, leftover: Leftover) -> Result<i32, Canceled> {
    let interrupted = result == -libc::EINTR || is_restart(result);
    if !canceled {
        return Ok(if interrupted { -libc::EINTR } else { result });
    }
    if result == -libc::ECANCELED || interrupted {
        return Err(Canceled);
    }
    if leftover == Leftover::Descriptor && result >= 0 {
        // SAFETY: the kernel made this descriptor for the canceled caller, who never sees it.
        unsafe { libc::close(result) };
        return Err(Canceled);
    }
    Ok(result)
}

/// Whether `result` is one of the kernel's internal "restart the call" codes. An operation
/// that an io-wq worker ran blocking (an open waiting for a FIFO's peer, see `backend/op/open.rs`) and an
/// async-cancel interrupted completes with one of them (seen: `-ERESTARTSYS`, 512) instead of
/// `-EINTR`.
fn is_restart(result: i32) -> bool {
    /// `ERESTARTSYS`, `ERESTARTNOINTR`, `ERESTARTNOHAND` and `ERESTART_RESTARTBLOCK` of
    /// include/linux/errno.h (515 is `ENOIOCTLCMD`, not a restart).
    const RESTART: [i32; 4] = [512, 513, 514, 516];
    RESTART.contains(&-result)
}

/// Sleeps the current fiber until `deadline` on `clock` (an absolute time since the clock's
/// epoch), as a cancellation point: the loop keeps the deadline among its timers (`timers.rs`)
/// for the fiber's park, and a cancel (or an enclosing `Io::timeout`'s deadline) ends it at
/// once. A cancel that comes with the deadline reached wins, as on a thread
/// (`own_thread::sleep_until`).
fn sleep_on_ring(lp: &Loop, deadline: Duration, clock: Clock) -> Result<(), Canceled> {
    let me = current_arc();
    loop {
        block::check(&me)?;
        if clock.read() >= deadline {
            return Ok(());
        }
        // The park wakes at the sleep's deadline, or at an enclosing `Io::timeout`'s.
        lp.sleep_at_next_suspend(clock, deadline);
        let _ = me.parker.park(crate::time::timer(&me));
        lp.sleep_at_next_suspend_done();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use io_uring::types;
    use std::time::Instant;

    /// `-ERESTARTSYS`, as an io-wq worker's open interrupted by an async-cancel returns it.
    const ERESTARTSYS: i32 = 512;

    #[test]
    fn an_interrupted_operation_is_canceled_if_a_cancel_was_sent_and_eintr_otherwise() {
        for interrupted in [-libc::EINTR, -ERESTARTSYS] {
            assert_eq!(
                finish(interrupted, true, Leftover::Descriptor),
                Err(Canceled)
            );
            assert_eq!(
                finish(interrupted, false, Leftover::Nothing),
                Ok(-libc::EINTR)
            );
        }
        assert_eq!(
            finish(-libc::ENXIO, true, Leftover::Descriptor),
            Ok(-libc::ENXIO)
        );
        assert_eq!(finish(7, false, Leftover::Nothing), Ok(7));
    }

    /// Far more completions at once than the completion queue holds: 100 000 fibers each wait
    /// for an `IORING_OP_POLL_ADD` on one eventfd; then one more fiber makes the eventfd
    /// readable and holds the loop, so the kernel posts all 100 000 completions while nobody
    /// reaps, more than the ring's 65 536 entries. What does not fit goes to the kernel's
    /// overflow list (seen from the hog), and the loop must move it back and deliver it (see
    /// `ring.rs`): every fiber gets its own completion.
    #[test]
    fn a_hundred_thousand_operations_completing_at_once_each_reach_their_fiber() {
        const OPS: usize = 100_000;
        // One loop: the completions must pile up on one ring.
        let Ok(runtime) = crate::Runtime::builder()
            .backend(crate::Backend::Uring)
            .threads(1)
            .build()
        else {
            return;
        };
        // SAFETY: eventfd has no memory preconditions; the result is checked.
        let eventfd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(eventfd >= 0, "eventfd: {}", std::io::Error::last_os_error());
        let poll = move || {
            let entry = opcode::PollAdd::new(types::Fd(eventfd), libc::POLLIN as u32).build();
            Loop::current(|lp| {
                // SAFETY: a poll refers to no memory.
                unsafe { submit(lp.expect("on the loop"), entry, Leftover::Nothing) }
            })
        };
        let (results, overflowed) = runtime.run(|io| {
            io.scope(|s| {
                let futures: Vec<_> = (0..OPS)
                    .map(|_| s.spawn_concurrent(poll).expect("a fiber for every poll"))
                    .collect();
                // Started after every polling fiber (the ready queue is FIFO): one ring
                // operation of its own, so the loop submits every poll queued before it; then
                // it makes the eventfd readable and holds the loop while the kernel posts the
                // completions.
                let hog = s
                    .spawn_concurrent(move || {
                        let nop = opcode::Nop::new().build();
                        Loop::current(|lp| {
                            // SAFETY: a no-op refers to no memory.
                            unsafe { submit(lp.expect("on the loop"), nop, Leftover::Nothing) }
                        })
                        .expect("a no-op completes");
                        let one: u64 = 1;
                        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
                        let wrote = unsafe { libc::write(eventfd, (&one as *const u64).cast(), 8) };
                        assert_eq!(wrote, 8, "write: {}", std::io::Error::last_os_error());
                        let start = Instant::now();
                        let mut overflowed = false;
                        while !overflowed && start.elapsed() < Duration::from_secs(2) {
                            overflowed =
                                Loop::current(|lp| lp.expect("on the loop").cq_overflowed());
                        }
                        overflowed
                    })
                    .expect("a fiber for the hog");
                let results: Vec<_> = futures
                    .into_iter()
                    .map(|f| f.join(io).expect("not canceled"))
                    .collect();
                (results, hog.join(io))
            })
        });
        // SAFETY: the eventfd is ours, closed once, after every operation on it completed.
        unsafe { libc::close(eventfd) };
        assert!(overflowed, "the completions never overflowed the queue");
        assert_eq!(results.len(), OPS);
        for (i, result) in results.into_iter().enumerate() {
            assert_eq!(result, libc::POLLIN as i32, "poll {i}");
        }
    }
}
