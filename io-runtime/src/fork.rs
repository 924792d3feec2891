//! `fork()` called from a task: the child is a plain thread outside any runtime.
//!
//! The child of a `fork` has one thread — the one that forked — and a copy of the parent's
//! memory, thread-locals included. Those still say what the thread was doing in the parent:
//! which runtime it belongs to, which task it runs, which event loop carries it, which fiber of
//! that loop is running. On the uring backend that copy has teeth: the loop's ring is memory the
//! kernel maps `MAP_SHARED`, so a child that believed it ran on a fiber would submit to the
//! parent's submission queue and reap the parent's completions, and the parent would hang
//! waiting for them.
//!
//! So building the first runtime registers [`reset_child`] with `pthread_atfork`. In every child,
//! before `fork` returns there, it makes the forking thread one that no runtime ever entered:
//! - no backend state (`backend::reset_after_fork`): no carrier, so the thread blocks itself
//!   when it waits, as any thread; no event loop and no running fiber, so nothing reaches a
//!   ring, and `Runtime::run` no longer refuses to run (it refuses only on a loop's thread);
//! - no runtime (`io`): an `Io` no longer takes the fast path meant for the runtime's own
//!   threads;
//! - no task (`task`): code on the thread runs as on a thread the user started;
//! - no alarm timer (`alarm`): POSIX timers are not inherited, so the id the thread kept names
//!   nothing of the child (or, later, another thread's timer); the next deadline that must
//!   interrupt a system call creates a timer of the child's own, sent to the child's thread.
//!
//! Each reset is a store of a constant into a `const` thread-local without destructor: no
//! allocation, no lock, nothing that is not async-signal-safe — all that the child of a
//! multi-threaded process may rely on before it execs. Kept as they are: the thread's own task
//! context for code outside tasks (`task`'s `FOREIGN`; it holds no resource of the process, and
//! replacing it would allocate), the label of the fiber whose stack the thread runs on and its
//! alternate signal stack (`fiber::overflow`; both still true in the child, whose memory, guard
//! pages and signal stack are copies). The deadlock monitor keeps no per-thread state.
//!
//! # What a child forked from a task may do
//! - Exec, or end with `libc::_exit` or `std::process::exit`: none of it touches the parent's
//!   ring. Exiting runs no destructor of the runtime but this thread's thread-locals' (the
//!   alarm deletes no timer it did not create; the others free memory of the child's own), and
//!   the child's copy of the ring's descriptor closes with the process, which leaves the
//!   parent's ring as it is.
//! - Build a runtime of its own and run it, also on what was a fiber of the parent's loop.
//!
//! # What it must not do
//! - Return (or unwind) out of the task that forked. On the uring backend the child runs on its
//!   copy of the fiber's stack, and below the task's frames lies the copy of the parent's event
//!   loop, whose ring is the parent's: returning into it would run a second loop on the
//!   parent's queues. The child ends with an exec or an exit, and catches its panics before they
//!   leave the task. (On the threaded backend, returning would run the rest of the parent's
//!   program in the child, just as wrong.)
//! - Use the parent's `Io`, or anything its tasks wait on: the child has a copy of the runtime
//!   but none of its threads, so a spawn or a wake there reaches nobody.
//! - Rely on a lock that another thread of the parent held at the fork (as anywhere after a fork
//!   of a multi-threaded process).

use std::sync::Once;

/// Registers [`reset_child`] to run in the child of every later `fork`, once per process.
/// Called when a runtime is built: until then, no thread holds state of a runtime.
pub(crate) fn reset_in_children() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        let child: unsafe extern "C" fn() = reset_child;
        // SAFETY: registers a handler that lives as long as the process (a function) and does
        // only what the child of a fork may do: stores to `const` thread-locals.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(child)) };
        if rc != 0 {
            eprintln!(
                "io: cannot register the fork handler ({}); a child forked from a task must \
                 not use the io runtime",
                std::io::Error::from_raw_os_error(rc)
            );
        }
    });
}

/// Runs in the child of a `fork`, on its only thread: makes it a thread outside any runtime
/// (see the module documentation). Async-signal-safe: plain stores, no allocation, no lock.
extern "C" fn reset_child() {
    crate::backend::reset_after_fork();
    crate::io::reset_after_fork();
    crate::task::reset_after_fork();
    crate::alarm::reset_after_fork();
    crate::cancel::reset_after_fork();
}
