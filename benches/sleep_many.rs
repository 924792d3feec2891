//! Many sleeping tasks: 10 000 and 100 000 tasks that each sleep 100 ms, then all are joined.
//! Wall time and peak RSS.
//!
//! Each case runs in a child process of its own: this binary re-executes itself with
//! `--child <runner> <tasks>`, the child prints its wall time, and the parent takes the child's
//! peak RSS (`ru_maxrss`) from `wait4`, which reports that one child only.
//!
//! io's threaded backend runs an async task on a pool thread, and a sleep blocks that thread,
//! so with the default pool (one worker per core) the sleeps queue: a run that could not finish
//! within [`BUDGET`] is stopped, and its total is projected from the tasks done by then (marked
//! `≈`). The uring backend runs every task as a fiber whose sleep is a timeout on the ring.
//! `spawn_concurrent` gives every task a thread of its own instead (10 000 only: a
//! thread per task is bounded by the kernel's pid and map limits).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{reps, Table, Value};

const NAP: Duration = Duration::from_millis(100);
/// How long a child may run before it stops and reports how far it got.
const BUDGET: Duration = Duration::from_secs(5);

/// Tasks finished so far, for a child stopped by its budget.
static DONE: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let runner = Runner::from_name(&args[at + 1]);
        let tasks = args[at + 2].parse().expect("task count");
        child(runner, tasks);
        return;
    }
    parent(reps(3));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    IoAsync,
    IoConcurrent,
    IoUring,
    Tokio,
    StdThreads,
    Idle,
}

impl Runner {
    const ALL: [(Runner, &'static str); 6] = [
        (Runner::IoAsync, "io-async"),
        (Runner::IoConcurrent, "io-concurrent"),
        (Runner::IoUring, "io-uring"),
        (Runner::Tokio, "tokio"),
        (Runner::StdThreads, "std-threads"),
        (Runner::Idle, "idle"),
    ];

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, n)| *n)
            .unwrap()
    }

    fn from_name(name: &str) -> Self {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(r, _)| *r)
            .unwrap_or_else(|| panic!("unknown runner {name}"))
    }
}

/// What one child reported.
struct Outcome {
    wall: Value,
    peak_rss: u64,
    /// For a run stopped by its budget: how far it got.
    stopped: Option<String>,
}

fn parent(reps: usize) {
    let mut table = Table::new("tasks that each sleep 100 ms, all joined: wall time and peak RSS");
    let idle = run_child(Runner::Idle, 0);
    for tasks in [10_000, 100_000] {
        // A run stopped by its budget is not repeated: its projection would not change.
        let io = run_child(Runner::IoAsync, tasks);
        let io_reps = if matches!(io.wall, Value::Estimate(_)) {
            1
        } else {
            reps
        };
        let io = if io_reps == 1 {
            io
        } else {
            median_child(Runner::IoAsync, tasks, reps)
        };
        if let Some(stopped) = &io.stopped {
            table.note(format!("io-threaded, {tasks} tasks: {stopped}"));
        }
        let tokio = median_child(Runner::Tokio, tasks, reps);
        let op = format!("{tasks} × sleep 100 ms");
        let uring = median_child(Runner::IoUring, tasks, reps);
        let op_uring = format!("{op} (io-uring)");
        table.row(
            format!("{op_uring}: wall"),
            "tokio::spawn",
            &uring.wall,
            tokio.wall.clone(),
        );
        table.row(
            format!("{op_uring}: peak RSS"),
            "tokio::spawn",
            &Value::Bytes(uring.peak_rss),
            Value::Bytes(tokio.peak_rss),
        );
        let op = format!("{op} (io-threaded)");
        table.row(format!("{op}: wall"), "tokio::spawn", &io.wall, tokio.wall);
        table.row(
            format!("{op}: peak RSS"),
            "tokio::spawn",
            &Value::Bytes(io.peak_rss),
            Value::Bytes(tokio.peak_rss),
        );
        if tasks == 10_000 {
            let threads = median_child(Runner::StdThreads, tasks, reps);
            table.row(
                format!("{op_uring}: wall"),
                "std::thread::spawn",
                &uring.wall,
                threads.wall.clone(),
            );
            table.row(
                format!("{op_uring}: peak RSS"),
                "std::thread::spawn",
                &Value::Bytes(uring.peak_rss),
                Value::Bytes(threads.peak_rss),
            );
            table.row(
                format!("{op}: wall"),
                "std::thread::spawn",
                &io.wall,
                threads.wall.clone(),
            );
            let rss = Value::Bytes(threads.peak_rss);
            table.row(
                format!("{op}: peak RSS"),
                "std::thread::spawn",
                &Value::Bytes(io.peak_rss),
                rss.clone(),
            );
            let concurrent = median_child(Runner::IoConcurrent, tasks, reps);
            let op = format!("{tasks} × sleep 100 ms (io-threaded, spawn_concurrent)");
            table.row(
                format!("{op}: wall"),
                "std::thread::spawn",
                &concurrent.wall,
                threads.wall,
            );
            table.row(
                format!("{op}: peak RSS"),
                "std::thread::spawn",
                &Value::Bytes(concurrent.peak_rss),
                rss,
            );
        }
    }
    table.note(
        "io-threaded: Runtime::builder().backend(Threaded).build() (default pool: one worker per core, \
         here 2), s.spawn_async(|| io.sleep(100 ms)) for every task, then join them in order; \
         tokio: 2 workers, tokio::spawn(sleep(100 ms)); std: one thread per task",
    );
    table.note(format!(
        "≈: the run was stopped after {} s and its total projected from the tasks done by \
         then: io's async tasks block their pool thread while they sleep, so the sleeps run \
         one per worker at a time (the root's in-order join finds the next task already \
         claimed by a worker, so it rarely runs one inline)",
        BUDGET.as_secs()
    ));
    table.note(format!(
        "each case runs in its own child process; RSS includes the child's baseline of {:.1} MiB \
         (the same binary, idle); median of {reps} children unless stopped by the budget",
        idle.peak_rss as f64 / (1024.0 * 1024.0)
    ));
    table.note(
        "io-uring: Runtime::builder().backend(Uring).build(), s.spawn_async(|| io.sleep(100 ms)) \
         for every task (each a fiber with a 256 KiB stack, mapped lazily; the sleep an \
         IORING_OP_TIMEOUT), then join them in order",
    );
    table.print();
}

fn median_child(runner: Runner, tasks: usize, reps: usize) -> Outcome {
    let outcomes: Vec<Outcome> = (0..reps).map(|_| run_child(runner, tasks)).collect();
    let walls = outcomes
        .iter()
        .map(|o| match o.wall {
            Value::Time(ns) => Duration::from_nanos(ns as u64),
            ref other => panic!("{} {tasks}: {other}", runner.name()),
        })
        .collect();
    let mut rss: Vec<u64> = outcomes.iter().map(|o| o.peak_rss).collect();
    rss.sort_unstable();
    Outcome {
        wall: Value::from_duration(common::median(walls)),
        peak_rss: rss[rss.len() / 2],
        stopped: None,
    }
}

/// Runs one child and reads its report and its peak RSS.
// The child is reaped by `wait4` (which also yields its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_child(runner: Runner, tasks: usize) -> Outcome {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(["--child", runner.name(), &tasks.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let mut report = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut report)
        .expect("child report");
    let (status, peak_rss) = wait4(child.id() as libc::pid_t);
    assert!(
        status == 0,
        "{} {tasks}: child failed with status {status}",
        runner.name()
    );
    let (wall, stopped) = parse_report(&report, tasks);
    Outcome {
        wall,
        peak_rss,
        stopped,
    }
}

/// Waits for `pid` and returns its wait status and peak RSS in bytes.
fn wait4(pid: libc::pid_t) -> (libc::c_int, u64) {
    let mut status = 0;
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for (std's Child never waited); status and
    // usage are valid for writes.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    (status, usage.ru_maxrss as u64 * 1024)
}

/// `done <ns>`, `stopped <tasks done> <ns>` (projected to all `tasks`, with a word on how far
/// it got), or `unavailable <tasks spawned>`.
fn parse_report(report: &str, tasks: usize) -> (Value, Option<String>) {
    let words: Vec<&str> = report.split_whitespace().collect();
    match words.as_slice() {
        ["done", ns] => (Value::Time(ns.parse().expect("ns")), None),
        ["stopped", done, ns] => {
            let done: usize = done.parse().expect("done");
            let secs = ns.parse::<f64>().expect("ns") / 1e9;
            let progress = format!(
                "stopped after {secs:.1} s with {done} of {tasks} done ({:.1} per second)",
                done as f64 / secs
            );
            let wall = match done {
                0 => Value::missing("none done"),
                _ => Value::Estimate(secs * 1e9 * tasks as f64 / done as f64),
            };
            (wall, Some(progress))
        }
        ["unavailable", spawned] => {
            let why = format!("ConcurrencyUnavailable after {spawned}");
            (Value::missing(why.clone()), Some(why))
        }
        _ => panic!("unexpected child report {report:?}"),
    }
}

fn child(runner: Runner, tasks: usize) {
    let start = Instant::now();
    std::thread::spawn(move || {
        std::thread::sleep(BUDGET);
        report(&format!(
            "stopped {} {}",
            DONE.load(Ordering::SeqCst),
            start.elapsed().as_nanos()
        ));
        std::process::exit(0);
    });
    match runner {
        Runner::IoAsync => io_async(io::Backend::Threaded, tasks),
        Runner::IoConcurrent => io_concurrent(io::Backend::Threaded, tasks),
        Runner::IoUring => io_async(io::Backend::Uring, tasks),
        Runner::Tokio => tokio_tasks(tasks),
        Runner::StdThreads => std_threads(tasks),
        Runner::Idle => {}
    }
    report(&format!("done {}", start.elapsed().as_nanos()));
}

fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .expect("report");
}

fn nap_io(io: io::Io) -> Result<(), io::Canceled> {
    let slept = io.sleep(NAP, io::Clock::Awake);
    DONE.fetch_add(1, Ordering::SeqCst);
    slept
}

fn io_async(backend: io::Backend, tasks: usize) {
    let rt = io::Runtime::builder()
        .backend(backend)
        .build()
        .expect("io runtime");
    rt.run(|io| {
        io.scope(|s| {
            let futures: Vec<_> = (0..tasks)
                .map(|_| s.spawn_async(move || nap_io(io)))
                .collect();
            for future in futures {
                future.join(io).expect("not canceled");
            }
        })
    });
}

fn io_concurrent(backend: io::Backend, tasks: usize) {
    let rt = io::Runtime::builder()
        .backend(backend)
        .build()
        .expect("io runtime");
    rt.run(|io| {
        io.scope(|s| {
            let mut futures = Vec::with_capacity(tasks);
            for _ in 0..tasks {
                match s.spawn_concurrent(move || nap_io(io)) {
                    Ok(future) => futures.push(future),
                    Err(io::ConcurrencyUnavailable) => {
                        report(&format!("unavailable {}", futures.len()));
                        std::process::exit(0);
                    }
                }
            }
            for future in futures {
                future.join(io).expect("not canceled");
            }
        })
    });
}

fn tokio_tasks(tasks: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                tokio::spawn(async {
                    tokio::time::sleep(NAP).await;
                    DONE.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("task");
        }
    });
}

fn std_threads(tasks: usize) {
    let threads: Vec<_> = (0..tasks)
        .map(|_| {
            std::thread::spawn(|| {
                std::thread::sleep(NAP);
                DONE.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
}
