//! Cancel latency: the time from the cancel call until it returned with the task finished.
//!
//! Two blocked tasks: one in a 10 s sleep, one in a read on an idle socket. Each is spawned,
//! reaches its blocking call (it raises a flag just before, then we wait 1 ms more), and only
//! the cancel is timed. io's threaded backend (2 workers) against tokio (2 workers,
//! `JoinHandle::abort` then `.await`) and, for the read, a std thread unblocked the classic way
//! (`shutdown(2)` of the socket, then `join`).

mod common;

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{measure, reps, Table, Value};

const LONG: Duration = Duration::from_secs(10);
const SETTLE: Duration = Duration::from_millis(1);

fn main() {
    let reps = reps(51);
    let mut table = Table::new("cancel latency of a blocked task (cancel call until it returned)");
    let io_rt = io::Runtime::builder()
        .backend(io::Backend::Threaded)
        .threads(2)
        .build()
        .expect("io runtime");
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let uring_rt = io::Runtime::builder()
        .backend(io::Backend::Uring)
        // One loop: the single-loop runtime's figures (more loops are benches/multi_loop.rs).
        .threads(1)
        .build()
        .expect("io uring runtime");

    let sample = |spawn| Value::from_duration(measure(reps, || io_cancel_sleep(&io_rt, spawn)));
    let op = "cancel a task in a 10 s sleep (io-threaded)";
    let io_async = sample(Spawn::Async);
    table.row(
        op,
        "tokio abort+await (from a task)",
        &io_async,
        tokio_sleep(&tokio_rt, reps, true),
    );
    table.row(
        op,
        "tokio abort+await (block_on)",
        &io_async,
        tokio_sleep(&tokio_rt, reps, false),
    );
    let io_concurrent = sample(Spawn::Concurrent);
    let op = "cancel a task in a 10 s sleep (io-threaded, spawn_concurrent)";
    table.row(
        op,
        "tokio abort+await (block_on)",
        &io_concurrent,
        tokio_sleep(&tokio_rt, reps, false),
    );
    let io_uring =
        Value::from_duration(measure(reps, || io_uring_cancel(&uring_rt, Blocked::Sleep)));
    let op = "cancel a task in a 10 s sleep (io-uring)";
    table.row(
        op,
        "tokio abort+await (from a task)",
        &io_uring,
        tokio_sleep(&tokio_rt, reps, true),
    );
    table.row(
        op,
        "tokio abort+await (block_on)",
        &io_uring,
        tokio_sleep(&tokio_rt, reps, false),
    );

    let io_read = Value::from_duration(measure(reps, || io_cancel_read(&io_rt)));
    let op = "cancel a task in read(idle socket) (io-threaded)";
    table.row(
        op,
        "tokio abort+await (from a task)",
        &io_read,
        tokio_read(&tokio_rt, reps, true),
    );
    table.row(
        op,
        "tokio abort+await (block_on)",
        &io_read,
        tokio_read(&tokio_rt, reps, false),
    );
    table.row(
        op,
        "std thread: shutdown(2)+join",
        &io_read,
        Value::from_duration(measure(reps, std_shutdown_read)),
    );
    let io_uring =
        Value::from_duration(measure(reps, || io_uring_cancel(&uring_rt, Blocked::Read)));
    let op = "cancel a task in read(idle socket) (io-uring)";
    table.row(
        op,
        "tokio abort+await (from a task)",
        &io_uring,
        tokio_read(&tokio_rt, reps, true),
    );
    table.row(
        op,
        "tokio abort+await (block_on)",
        &io_uring,
        tokio_read(&tokio_rt, reps, false),
    );
    table.row(
        op,
        "std thread: shutdown(2)+join",
        &io_uring,
        Value::from_duration(measure(reps, std_shutdown_read)),
    );

    table.note(format!(
        "median of {reps} repetitions; io-threaded: f.cancel(io) on a task spawned with \
         spawn_async (pool of 2) unless noted; the read is io.read_fd on a UnixStream pair, \
         interrupted by the cancel signal (SIGURG, tgkill)"
    ));
    table.note(
        "io-uring: the task is a fiber (spawn_concurrent) on the loop thread, and the root waits \
         for it with io.sleep(1 ms) (a std sleep would hold the loop); the cancel unparks the \
         fiber, which pushes IORING_OP_ASYNC_CANCEL for its sleep or read and waits for the CQE",
    );
    table.note(
        "tokio's read waits in its reactor (readable().await on tokio::net::UnixStream); \
         'from a task' measures inside a spawned task, 'block_on' from the main thread like \
         io's root task",
    );
    table.print();
}

#[derive(Clone, Copy)]
enum Spawn {
    Async,
    Concurrent,
}

fn wait_for_flag(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    std::thread::sleep(SETTLE);
}

fn io_cancel_sleep(rt: &io::Runtime, spawn: Spawn) -> Duration {
    rt.run(|io| {
        let asleep = AtomicBool::new(false);
        io.scope(|s| {
            let nap = || {
                asleep.store(true, Ordering::Release);
                io.sleep(LONG, io::Clock::Awake)
            };
            let future = match spawn {
                Spawn::Async => s.spawn_async(nap),
                Spawn::Concurrent => s.spawn_concurrent(nap).expect("concurrency"),
            };
            wait_for_flag(&asleep);
            let start = Instant::now();
            let outcome = future.cancel(io);
            let elapsed = start.elapsed();
            assert!(outcome.is_err(), "the sleep must end canceled");
            elapsed
        })
    })
}

#[derive(Clone, Copy)]
enum Blocked {
    Sleep,
    Read,
}

/// On the uring backend: a fiber blocked in a sleep or a read, canceled from the root fiber.
fn io_uring_cancel(rt: &io::Runtime, blocked: Blocked) -> Duration {
    let (idle, _peer) = UnixStream::pair().expect("socketpair");
    rt.run(|io| {
        let ready = AtomicBool::new(false);
        io.scope(|s| {
            let future = s
                .spawn_concurrent(|| {
                    ready.store(true, Ordering::Release);
                    match blocked {
                        Blocked::Sleep => io.sleep(LONG, io::Clock::Awake).map(|()| 0),
                        Blocked::Read => {
                            let mut buf = [0u8; 64];
                            io.read_fd(idle.as_fd(), &mut buf).map_err(|e| {
                                assert!(io::is_canceled(&e), "read must end canceled: {e:?}");
                                io::Canceled
                            })
                        }
                    }
                })
                .expect("a fiber");
            // The fiber runs only when the root parks: sleep on the ring, not on the thread.
            while !ready.load(Ordering::Acquire) {
                io.sleep(SETTLE, io::Clock::Awake).expect("not canceled");
            }
            io.sleep(SETTLE, io::Clock::Awake).expect("not canceled");
            let start = Instant::now();
            let outcome = future.cancel(io);
            let elapsed = start.elapsed();
            assert!(outcome.is_err(), "the task must end canceled");
            elapsed
        })
    })
}

fn io_cancel_read(rt: &io::Runtime) -> Duration {
    let (idle, _peer) = UnixStream::pair().expect("socketpair");
    rt.run(|io| {
        let reading = AtomicBool::new(false);
        io.scope(|s| {
            let future = s.spawn_async(|| {
                let mut buf = [0u8; 64];
                reading.store(true, Ordering::Release);
                io.read_fd(idle.as_fd(), &mut buf)
            });
            wait_for_flag(&reading);
            let start = Instant::now();
            let outcome = future.cancel(io);
            let elapsed = start.elapsed();
            assert!(
                outcome.as_ref().is_err_and(io::is_canceled),
                "read must end canceled: {outcome:?}"
            );
            elapsed
        })
    })
}

/// Runs `abort_one` `reps` times (after a warm-up) from inside a spawned task or from
/// `block_on`, and returns the median.
fn tokio_median<F, Fut>(
    rt: &tokio::runtime::Runtime,
    reps: usize,
    in_task: bool,
    abort_one: F,
) -> Value
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Duration> + Send,
{
    let run = async move {
        let mut samples = Vec::with_capacity(reps);
        let _warm_up = abort_one().await;
        for _ in 0..reps {
            samples.push(abort_one().await);
        }
        common::median(samples)
    };
    let median = if in_task {
        rt.block_on(async move { tokio::spawn(run).await.unwrap() })
    } else {
        rt.block_on(run)
    };
    Value::from_duration(median)
}

/// Spawns `blocked` (which raises its flag just before blocking), waits until it blocks, and
/// times `abort` + `.await`.
async fn tokio_abort<Fut>(blocked: impl FnOnce(Arc<AtomicBool>) -> Fut) -> Duration
where
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let flag = Arc::new(AtomicBool::new(false));
    let handle = tokio::spawn(blocked(Arc::clone(&flag)));
    while !flag.load(Ordering::Acquire) {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(SETTLE).await;
    let start = Instant::now();
    handle.abort();
    let outcome = handle.await;
    let elapsed = start.elapsed();
    assert!(
        outcome.is_err_and(|e| e.is_cancelled()),
        "the task must end aborted"
    );
    elapsed
}

fn tokio_sleep(rt: &tokio::runtime::Runtime, reps: usize, in_task: bool) -> Value {
    tokio_median(rt, reps, in_task, || {
        tokio_abort(|asleep| async move {
            asleep.store(true, Ordering::Release);
            tokio::time::sleep(LONG).await;
        })
    })
}

fn tokio_read(rt: &tokio::runtime::Runtime, reps: usize, in_task: bool) -> Value {
    tokio_median(rt, reps, in_task, || async {
        let (idle, peer) = tokio::net::UnixStream::pair().expect("socketpair");
        let elapsed = tokio_abort(|reading| async move {
            let mut buf = [0u8; 64];
            reading.store(true, Ordering::Release);
            loop {
                idle.readable().await.expect("readable");
                if idle.try_read(&mut buf).is_ok() {
                    return;
                }
            }
        })
        .await;
        drop(peer);
        elapsed
    })
}

fn std_shutdown_read() -> Duration {
    let (idle, _peer) = UnixStream::pair().expect("socketpair");
    let reader = idle.try_clone().expect("dup");
    let reading = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&reading);
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        flag.store(true, Ordering::Release);
        (&reader).read(&mut buf)
    });
    wait_for_flag(&reading);
    let start = Instant::now();
    idle.shutdown(std::net::Shutdown::Read).expect("shutdown");
    let read = thread.join().unwrap();
    let elapsed = start.elapsed();
    assert!(
        matches!(read, Ok(0)),
        "shutdown ends the read with end of file: {read:?}"
    );
    elapsed
}
