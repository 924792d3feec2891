//! `Io::offload` runs closures on a bounded pool of reused threads (uring; inline on the
//! threaded backend), and the caller's cancel and deadlines reach the closure's own
//! cancellation points.
//!
//! Every test takes `SERIAL` (it counts the process's offload threads) and runs under a
//! watchdog that aborts the process if it still runs after `WATCHDOG`.

mod support;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use io::{is_canceled, Canceled, Clock, Io, Timeout};
use support::{each_backend, timed, watched, LONG, PROMPT};

/// How long a test may run before the process is aborted.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Held by every test: the offload threads counted are then the running test's.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` on every backend, alone among these tests and under the watchdog.
fn run(name: &'static str, f: impl Fn(Io)) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watched(name, WATCHDOG, || each_backend(f));
}

/// The pool's documented bound: `max(4, 2 × CPUs)`.
fn bound() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (2 * cores).max(4)
}

/// The kernel id of the calling thread.
fn tid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// The threads of this process named `io-offload` right now.
fn offload_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == "io-offload")
        .count()
}

#[test]
fn a_thousand_offloads_use_at_most_the_pools_bound_of_threads() {
    run("thousand", |io| {
        let caller = tid();
        let mut seen = HashSet::new();
        let (_, elapsed) = timed(|| {
            for i in 0..1000u64 {
                let (thread, doubled) = io.offload(|| (tid(), i * 2));
                assert_eq!(doubled, i * 2);
                seen.insert(thread);
            }
        });
        let live = offload_threads();
        eprintln!(
            "{}: 1000 offloads in {elapsed:?} ran on {} distinct threads; {live} io-offload \
             threads alive (bound {})",
            io.backend_name(),
            seen.len(),
            bound()
        );
        assert!(seen.len() <= bound(), "{} threads", seen.len());
        assert!(live <= bound(), "{live} offload threads alive");
        if io.backend_name() == "threaded" {
            assert_eq!(
                seen,
                HashSet::from([caller]),
                "threaded: inline on the caller"
            );
        } else {
            assert!(!seen.contains(&caller), "uring: off the loop's thread");
        }
    });
}

#[test]
fn concurrent_offloads_beyond_the_bound_queue_and_all_finish() {
    run("queue", |io| {
        let seen = Mutex::new(HashSet::new());
        let calls = 3 * bound();
        io.scope(|s| {
            let group = s.group();
            for _ in 0..calls {
                group.spawn(io, || {
                    let thread = io.offload(|| {
                        std::thread::sleep(Duration::from_millis(20));
                        tid()
                    });
                    seen.lock().unwrap().insert(thread);
                });
            }
            group.wait(io).unwrap();
        });
        let seen = seen.lock().unwrap().len();
        eprintln!(
            "{}: {calls} concurrent offloads ran on {seen} threads",
            io.backend_name()
        );
        if io.backend_name() == "uring" {
            assert!(seen <= bound(), "{seen} threads for {calls} calls");
            assert!(offload_threads() <= bound());
        }
    });
}

#[test]
fn a_canceled_task_whose_offloaded_closure_sleeps_returns_canceled_within_2s() {
    run("cancel sleep", |io| {
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| io.offload(|| io.sleep(LONG, Clock::Awake)))
                .unwrap();
            io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| task.cancel(io));
            assert_eq!(result, Err(Canceled));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
        // A cancel that comes before the closure starts reaches it too.
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| io.offload(|| io.sleep(LONG, Clock::Awake)))
                .unwrap();
            let (result, elapsed) = timed(|| task.cancel(io));
            assert_eq!(result, Err(Canceled));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
    });
}

#[test]
fn a_canceled_task_whose_offloaded_closure_blocks_in_a_read_returns_within_2s() {
    run("cancel read", |io| {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| io.offload(|| io.read_fd(socket.as_fd(), &mut [0u8; 16])))
                .unwrap();
            io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| task.cancel(io));
            let error = result.expect_err("an idle socket returned data");
            assert!(is_canceled(&error), "got {error:?}");
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        });
    });
}

#[test]
fn a_timeout_around_an_offloaded_read_of_an_idle_socket_returns_timeout_within_2s() {
    run("timeout read", |io| {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 16];
        let (result, elapsed) = timed(|| {
            io.timeout(Duration::from_millis(100), || {
                io.offload(|| io.read_fd(socket.as_fd(), &mut buf))
            })
        });
        assert!(matches!(result, Err(Timeout)), "got {result:?}");
        assert!(elapsed < PROMPT, "took {elapsed:?}");
        let (slept, elapsed) = timed(|| {
            io.timeout(Duration::from_millis(100), || {
                io.offload(|| io.sleep(LONG, Clock::Awake))
            })
        });
        assert_eq!(slept, Err(Timeout));
        assert!(elapsed < PROMPT, "took {elapsed:?}");
    });
}

#[test]
fn arbitrary_code_in_an_offloaded_closure_runs_to_its_end() {
    run("arbitrary", |io| {
        let finished = AtomicBool::new(false);
        let result = io.timeout(Duration::from_millis(20), || {
            io.offload(|| {
                std::thread::sleep(Duration::from_millis(150));
                finished.store(true, Ordering::SeqCst);
                7
            })
        });
        assert!(
            finished.load(Ordering::SeqCst),
            "offload returned before its closure"
        );
        // Nothing in the closure met the deadline: the result is kept.
        assert_eq!(result, Ok(7));
    });
}

#[test]
fn an_offloaded_closure_of_protected_code_is_protected() {
    run("protected", |io| {
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| {
                    io.uncancelable(|| {
                        io.offload(|| io.sleep(Duration::from_millis(150), Clock::Awake))
                    })
                })
                .unwrap();
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            assert_eq!(
                task.cancel(io),
                Ok(()),
                "the protected sleep ran to its end"
            );
        });
    });
}

#[test]
fn a_panic_in_an_offloaded_closure_is_resumed_on_the_caller() {
    run("panic", |io| {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            io.offload(|| -> u32 { std::panic::panic_any(String::from("offloaded boom")) })
        }));
        let payload = caught.expect_err("the panic was lost");
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "offloaded boom");
    });
}

#[test]
fn offload_keeps_working_after_ten_panics() {
    run("ten panics", |io| {
        let mut seen = HashSet::new();
        for round in 0..10 {
            let caught = catch_unwind(AssertUnwindSafe(|| {
                io.offload(|| -> u32 { std::panic::panic_any(round) })
            }));
            assert_eq!(*caught.unwrap_err().downcast_ref::<i32>().unwrap(), round);
        }
        for i in 0..20 {
            let (thread, value) = io.offload(|| (tid(), i + 1));
            assert_eq!(value, i + 1);
            seen.insert(thread);
        }
        assert!(seen.len() <= bound(), "{} threads", seen.len());
        assert!(offload_threads() <= bound());
    });
}
