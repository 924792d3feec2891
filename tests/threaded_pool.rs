//! The threaded backend's pool when its tasks block: a task that sleeps or waits in a runtime
//! primitive lends its worker's running slot to the queued tasks, and one that sits in a system
//! call has it taken by the retaker, so a pool of 2 does not run blocking tasks two at a time;
//! the threads it adds retire once idle; tasks that compute still run at most `threads` at a
//! time.
//!
//! The tests count the process's pool threads (`io-worker-…` in `/proc/self/task`), so they run
//! one at a time (`SERIAL`), each with its own runtime, dropped (threads joined) before the next.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use io::net::TcpListener;
use io::{Backend, Clock, Event, Io, Runtime};

/// The pool size of every test.
const THREADS: usize = 2;
/// How many tasks wait at once.
const WAITERS: usize = 200;
/// The bound of every wait in this file.
const BOUND: Duration = Duration::from_secs(10);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn pool_of_two() -> Runtime {
    Runtime::builder()
        .backend(Backend::Threaded)
        .threads(THREADS)
        .build()
        .expect("threaded runtime")
}

/// How many pool threads the process has now.
fn pool_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("io-worker"))
        .count()
}

/// Polls (sleeping 1 ms between looks) until `done` holds, for at most [`BOUND`]: `Ok` when it
/// held, `Err` at the bound. The root is not a pool thread, so its sleeps run no task inline.
fn poll_until(io: Io, done: impl Fn() -> bool) -> Result<(), String> {
    io.timeout(BOUND, || {
        while !done() {
            io.sleep(Duration::from_millis(1), Clock::Awake)
                .map_err(|_| "canceled".to_string())?;
        }
        Ok(())
    })
    .map_err(|_| format!("not within {BOUND:?}"))?
}

/// 200 tasks on a pool of 2 that each wait on one `Event` all reach their wait before the root
/// sets it (before, only 2 did: the other 198 stayed queued behind the two waiters).
#[test]
fn two_hundred_waiters_all_reach_their_wait_on_a_pool_of_two() {
    let _serial = serial();
    let runtime = pool_of_two();
    let (all, arrived, peak) = runtime.run(|io| {
        let event = Event::new();
        let arrived = AtomicUsize::new(0);
        io.scope(|s| {
            let waiters: Vec<_> = (0..WAITERS)
                .map(|_| {
                    s.spawn_async(|| {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        event.wait(io)
                    })
                })
                .collect();
            let all = poll_until(io, || arrived.load(Ordering::SeqCst) == WAITERS);
            let (before_set, peak) = (arrived.load(Ordering::SeqCst), pool_threads());
            // Set in any case, so that a failure ends the test instead of hanging it.
            event.set();
            for waiter in waiters {
                waiter.join(io).expect("not canceled");
            }
            (all, before_set, peak)
        })
    });
    assert!(
        all.is_ok(),
        "{arrived} of {WAITERS} waiters reached their wait"
    );
    assert_eq!(arrived, WAITERS);
    assert!(
        peak > THREADS && peak <= WAITERS + THREADS,
        "pool threads while {WAITERS} tasks wait: {peak}"
    );
}

/// Tasks that block in a system call (a read of an idle socket) hold their slots until the
/// retaker takes them: 20 readers on a pool of 2 all reach their read before any data comes.
#[test]
fn readers_blocked_in_a_system_call_all_reach_their_read_on_a_pool_of_two() {
    const READERS: usize = 20;
    let _serial = serial();
    let runtime = pool_of_two();
    let (all, arrived) = runtime.run(|io| {
        let listener = TcpListener::bind(io, SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..READERS)
            .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
            .collect();
        let servers: Vec<_> = (0..READERS)
            .map(|_| listener.accept(io).expect("accept").0)
            .collect();
        let arrived = AtomicUsize::new(0);
        io.scope(|s| {
            let readers: Vec<_> = servers
                .iter()
                .map(|stream| {
                    let arrived = &arrived;
                    s.spawn_async(move || {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        stream.read(io, &mut [0; 1])
                    })
                })
                .collect();
            let all = poll_until(io, || arrived.load(Ordering::SeqCst) == READERS);
            let before_data = arrived.load(Ordering::SeqCst);
            // Send in any case, so that a failure ends the test instead of hanging it.
            for mut client in &clients {
                client.write_all(b"x").expect("write");
            }
            for reader in readers {
                assert_eq!(reader.join(io).expect("read"), 1);
            }
            (all, before_data)
        })
    });
    assert!(
        all.is_ok(),
        "{arrived} of {READERS} readers reached their read"
    );
}

/// After a burst of blocking tasks the pool shrinks back to its size (the added threads retire
/// once idle for the linger time, 1 s).
#[test]
fn added_threads_retire_after_a_burst() {
    let _serial = serial();
    let runtime = pool_of_two();
    let (peak, settled) = runtime.run(|io| {
        io.scope(|s| {
            let sleepers: Vec<_> = (0..WAITERS)
                .map(|_| s.spawn_async(move || io.sleep(Duration::from_millis(50), Clock::Awake)))
                .collect();
            let peak = pool_threads();
            for sleeper in sleepers {
                sleeper.join(io).expect("not canceled");
            }
            let peak = peak.max(pool_threads());
            let settled = poll_until(io, || pool_threads() <= THREADS);
            (peak, settled)
        })
    });
    assert!(peak > THREADS, "the burst added no thread: {peak}");
    settled.unwrap_or_else(|why| {
        panic!(
            "pool threads did not return to {THREADS} ({} left): {why}",
            pool_threads()
        )
    });
}

/// Tasks that never block hold their running slots: at most `THREADS` of them compute at once,
/// however many are queued.
#[test]
fn computing_tasks_run_at_most_threads_at_a_time() {
    let _serial = serial();
    let runtime = pool_of_two();
    let peak = runtime.run(|io| {
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        io.scope(|s| {
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    s.spawn_async(|| {
                        let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(running, Ordering::SeqCst);
                        spin_for(Duration::from_millis(2));
                        now.fetch_sub(1, Ordering::SeqCst);
                        finished.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            // Wait without joining: a join would run a queued task inline on the root.
            let all = poll_until(io, || finished.load(Ordering::SeqCst) == tasks.len());
            for task in tasks {
                task.join(io);
            }
            all.expect("every task finished");
        });
        peak.load(Ordering::SeqCst)
    });
    assert!(
        peak <= THREADS,
        "{peak} tasks computed at once on a pool of {THREADS}"
    );
}

/// A task that wakes from a block continues at once, even when the tasks that took over its
/// slot compute until it continues (it does not wait for a slot).
#[test]
fn a_woken_task_does_not_wait_for_a_slot() {
    let _serial = serial();
    let runtime = pool_of_two();
    let spun_out = runtime.run(|io| {
        let go = AtomicBool::new(false);
        io.scope(|s| {
            let sleeper = s.spawn_async(|| {
                let slept = io.sleep(Duration::from_millis(20), Clock::Awake);
                go.store(true, Ordering::SeqCst);
                slept
            });
            // These take the free slots (the sleeper's, lent while it sleeps, and the other)
            // and compute until the sleeper has continued; bounded, in case it never does.
            let spinners: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn_async(|| {
                        let start = Instant::now();
                        while !go.load(Ordering::SeqCst) && start.elapsed() < BOUND {
                            std::hint::spin_loop();
                        }
                        !go.load(Ordering::SeqCst)
                    })
                })
                .collect();
            // Wait without joining, so that the spinners run on pool threads, not inline here.
            poll_until(io, || go.load(Ordering::SeqCst)).expect("the sleeper continued");
            let spun_out = spinners
                .into_iter()
                .map(|spinner| spinner.join(io))
                .filter(|&spun_out| spun_out)
                .count();
            sleeper.join(io).expect("not canceled");
            spun_out
        })
    });
    assert_eq!(spun_out, 0, "spinners that never saw the sleeper continue");
}

/// Computes (without blocking) for `duration`.
fn spin_for(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}
