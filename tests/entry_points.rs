//! The settings of `#[io::test(…)]` reach the runtime each generated test builds: limits on
//! concurrency and asynchrony, worker threads, and (on io_uring) the fibers' number and stack
//! size. `#[io::main(…)]` takes the same settings and goes through the same `Settings`; the
//! program `trybuild/pass/main_with_settings.rs` checks them at run time (tests/compile_fail.rs
//! runs it).
//!
//! Without `backend = …` each test runs once per backend (`name::threaded`, `name::uring`).

mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, ThreadId};

use io::{io_async, io_concurrent, scope, Clock, ConcurrencyUnavailable, Io};
use support::LONG;

/// The most `io_concurrent!` sleepers [`concurrent_until_refused`] starts.
const CAP: usize = 16;

/// Sleeps for [`LONG`] unless canceled.
fn sleeper(io: Io) {
    let _ = io.sleep(LONG, Clock::Awake);
}

/// How many `io_concurrent!` sleepers run at once before the runtime refuses one (at most
/// [`CAP`]); the scope cancels them all as it ends.
fn concurrent_until_refused(io: Io) -> usize {
    scope!(io, {
        let mut sleepers = Vec::new();
        while sleepers.len() < CAP {
            match io_concurrent!(sleeper(io)) {
                Ok(sleeping) => sleepers.push(sleeping),
                Err(ConcurrencyUnavailable) => break,
            }
        }
        sleepers.len()
    })
}

/// Whether an `io_async!` task ran inline, before the spawn returned: it sees the flag its
/// caller sets right after the spawn unset, and runs on the caller's thread.
fn async_runs_inline(io: Io) -> bool {
    fn task(_io: Io, returned: &AtomicBool) -> (bool, ThreadId) {
        (returned.load(Ordering::SeqCst), thread::current().id())
    }
    let returned = AtomicBool::new(false);
    let (saw_returned, ran_on) = scope!(io, {
        let spawned = io_async!(task(io, &returned));
        returned.store(true, Ordering::SeqCst);
        spawned.join(io)
    });
    !saw_returned && ran_on == thread::current().id()
}

#[io::test(concurrent_limit = 1)]
fn concurrent_limit_1_refuses_a_second_concurrent_task(io: Io) {
    scope!(io, {
        let first = io_concurrent!(sleeper(io));
        assert!(first.is_ok(), "the first concurrent task is refused");
        let second = io_concurrent!(sleeper(io));
        assert!(
            matches!(second, Err(ConcurrencyUnavailable)),
            "a second concurrent task started while the first runs"
        );
    });
    // The scope canceled and joined the first: its unit of the limit is free again.
    assert_eq!(concurrent_until_refused(io), 1);
}

#[io::test(concurrent_limit = 3)]
fn concurrent_limit_counts_the_tasks_running_at_once(io: Io) {
    assert_eq!(concurrent_until_refused(io), 3);
}

#[io::test]
fn without_settings_concurrency_is_not_limited_by_the_attribute(io: Io) {
    assert_eq!(concurrent_until_refused(io), CAP);
}

#[io::test(threads = 0)]
fn threads_0_is_single_threaded(io: Io) {
    assert_eq!(concurrent_until_refused(io), 0);
    assert!(async_runs_inline(io));
}

#[io::test(threads = 2)]
fn threads_2_has_concurrency(io: Io) {
    assert_eq!(concurrent_until_refused(io), CAP);
}

#[io::test(async_limit = 0)]
fn async_limit_0_runs_every_async_task_inline(io: Io) {
    for _ in 0..10 {
        assert!(async_runs_inline(io));
    }
    assert_eq!(
        concurrent_until_refused(io),
        CAP,
        "async_limit leaves concurrency alone"
    );
}

#[io::test(
    backend = "threaded",
    threads = 1,
    concurrent_limit = 2,
    deadlock = "off"
)]
fn a_test_pinned_to_threaded_runs_there_with_its_settings(io: Io) {
    assert_eq!(io.backend_name(), "threaded");
    assert_eq!(concurrent_until_refused(io), 2);
}

// On io_uring the root task is a fiber too: with at most 3 fibers, 2 concurrent tasks fit. The
// limit is per loop (each has its own stack pool): one loop here.
#[io::test(backend = "uring", threads = 1, fiber_limit = 3)]
fn fiber_limit_counts_the_root_fiber(io: Io) {
    assert_eq!(io.backend_name(), "uring");
    assert_eq!(concurrent_until_refused(io), 2);
}

/// Recurses `depth` times with 16 KiB of locals per frame; returns a value that depends on all
/// of them, so that no frame can be optimized away.
fn deep_stack(depth: u8) -> u64 {
    let frame = black_box([depth; 16 * 1024]);
    let below = if depth == 0 { 0 } else { deep_stack(depth - 1) };
    below + u64::from(frame[depth as usize * 64])
}

/// `deep_stack(63)`: over 1 MiB of stack (up to 3 MiB unoptimized, which copies each frame's
/// array), well past the default fiber stack (256 KiB), whose guard page would end the process.
fn a_mebibyte_of_stack(_io: Io) -> u64 {
    deep_stack(63)
}

#[io::test(backend = "uring", fiber_stack_size = 16_777_216)]
fn fiber_stack_size_reaches_every_fiber(io: Io) {
    let expected: u64 = (0..=63).sum();
    assert_eq!(a_mebibyte_of_stack(io), expected, "on the root fiber");
    let on_a_task = scope!(io, {
        let task = io_concurrent!(a_mebibyte_of_stack(io)).expect("a fiber is free");
        task.join(io)
    });
    assert_eq!(on_a_task, expected, "on a concurrent task's fiber");
}
