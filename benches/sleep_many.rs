//! Many sleeping tasks: 10 000 and 100 000 tasks that each sleep 100 ms, then all are joined.
//! Wall time, peak RSS and peak threads.
//!
//! Each case runs in a child process of its own: this binary re-executes itself with
//! `--child <runner> <tasks>`, the child prints its wall time and the most threads it had at
//! once (sampled from `/proc/self/status` every [`SAMPLE`]), and the parent takes the child's
//! peak RSS (`ru_maxrss`) from `wait4`, which reports that one child only.
//!
//! io's threaded backend runs an async task on a pool thread, and a sleep blocks that thread;
//! while it sleeps the thread lends its place in the pool (one per core) to the queued tasks,
//! which other threads take up, up to io's cap of [`IO_MAX_THREADS`] pool threads. So at most
//! that many tasks sleep at once, and the wall time is bounded below by
//! `⌈tasks / IO_MAX_THREADS⌉ × 100 ms` (the "bound" row). A run that could not finish within
//! [`BUDGET`] is stopped, and its total is projected from the tasks done by then (marked `≈`).
//! The uring backend runs every task as a fiber whose sleep is a deadline in the loop's timers
//! (one ring timeout for the earliest).
//! `spawn_concurrent` gives every task a thread of its own instead (10 000 only: a
//! thread per task is bounded by the kernel's pid and map limits).
//!
//! Timer accuracy (a second table): 100 000 tasks that each sleep [`LATE_NAP`] (1 s), each
//! noting when it went to sleep and when it woke; the child reports how late (after its own
//! deadline) the first and the last of them woke, and the median, 99th percentile and maximum
//! lateness, io-uring against tokio in the same run. `cargo bench --bench sleep_many --
//! --uring` runs only the io-uring and tokio cases of both tables (io-threaded's take minutes).
//!
//! A last case puts 1 000 000 tasks to sleep at once, io-uring and tokio only, one child each
//! (with a budget of [`BUDGET_MILLION`]): time, peak RSS, peak RSS per task above the idle
//! child's, and the most kernel mappings the io-uring child had (sampled from `/proc/self/maps`),
//! against the default `vm.max_map_count` of 65 530.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{reps, Table, Value};

const NAP: Duration = Duration::from_millis(100);
/// The sleep of the timer-accuracy cases.
const LATE_NAP: Duration = Duration::from_secs(1);
/// Tasks of the timer-accuracy cases.
const LATE_TASKS: usize = 100_000;
/// How long a child may run before it stops and reports how far it got.
const BUDGET: Duration = Duration::from_secs(5);
/// The budget of a child with [`MILLION`] tasks.
const BUDGET_MILLION: Duration = Duration::from_secs(60);
/// The task count of the last case.
const MILLION: usize = 1_000_000;
/// How often a child samples its thread count.
const SAMPLE: Duration = Duration::from_millis(2);
/// The most pool threads of io's threaded backend (`MAX_THREADS` in
/// io-runtime/src/backend/threaded/pool.rs): how many tasks may sleep at once.
const IO_MAX_THREADS: usize = 1024;

/// Tasks finished so far, for a child stopped by its budget.
static DONE: AtomicUsize = AtomicUsize::new(0);
/// The most threads the child had at once (sampled).
static PEAK_THREADS: AtomicUsize = AtomicUsize::new(0);
/// The most kernel mappings the child had at once (sampled, io-uring children only).
static PEAK_MAPS: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let runner = Runner::from_name(&args[at + 1]);
        let tasks = args[at + 2].parse().expect("task count");
        child(runner, tasks);
        return;
    }
    let uring_only = args.iter().any(|a| a == "--uring");
    parent(reps(3), uring_only);
    lateness(reps(3));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    IoAsync,
    IoConcurrent,
    IoUring,
    /// io-uring on one loop (`threads(1)`); `IoUring` runs the default count (one per core).
    IoUringOneLoop,
    Tokio,
    StdThreads,
    Idle,
    /// Timer accuracy of io-uring's sleeps.
    IoUringLate,
    /// Timer accuracy of tokio's sleeps.
    TokioLate,
}

impl Runner {
    const ALL: [(Runner, &'static str); 9] = [
        (Runner::IoAsync, "io-async"),
        (Runner::IoConcurrent, "io-concurrent"),
        (Runner::IoUring, "io-uring"),
        (Runner::IoUringOneLoop, "io-uring-1loop"),
        (Runner::Tokio, "tokio"),
        (Runner::StdThreads, "std-threads"),
        (Runner::Idle, "idle"),
        (Runner::IoUringLate, "io-uring-late"),
        (Runner::TokioLate, "tokio-late"),
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
    /// The most threads the child had at once.
    threads: u64,
    /// The most kernel mappings it had at once (io-uring children; 0 where not sampled).
    maps: u64,
    /// For a run stopped by its budget: how far it got.
    stopped: Option<String>,
}

fn parent(reps: usize, uring_only: bool) {
    let mut table = Table::new(
        "tasks that each sleep 100 ms, all joined: wall time, peak RSS and peak threads",
    );
    let idle = run_child(Runner::Idle, 0);
    if uring_only {
        uring_rows(&mut table, 100_000, reps, &idle);
        if !common::quick() {
            one_million(&mut table, &idle);
        }
        add_notes(&mut table, &idle, reps);
        table.print();
        return;
    }
    for tasks in [10_000, 100_000] {
        one_size(&mut table, tasks, reps, &idle);
    }
    if !common::quick() {
        one_million(&mut table, &idle);
    }
    add_notes(&mut table, &idle, reps);
    table.print();
}

/// The io-uring rows of one task count against tokio only: io-uring with one loop per core
/// (the default) and with one loop; the three runners' children alternate, so all see the
/// same load.
fn uring_rows(table: &mut Table, tasks: usize, reps: usize, idle: &Outcome) {
    let runners = [Runner::Tokio, Runner::IoUring, Runner::IoUringOneLoop];
    let mut outcomes: [Vec<Outcome>; 3] = Default::default();
    for _ in 0..reps {
        for (runner, outcomes) in runners.iter().zip(&mut outcomes) {
            outcomes.push(run_child(*runner, tasks));
        }
    }
    let [tokio, uring, one_loop] = outcomes.map(|o| median_of(Runner::Tokio, tasks, o));
    let loops = std::thread::available_parallelism().map_or(1, usize::from);
    for (op, uring) in [
        (
            format!("{tasks} × sleep 100 ms (io-uring, {loops} loops)"),
            &uring,
        ),
        (
            format!("{tasks} × sleep 100 ms (io-uring, 1 loop)"),
            &one_loop,
        ),
    ] {
        wall_and_rss_rows(table, &op, "tokio::spawn", uring, &tokio);
        per_task_rss(table, &op, tasks, idle, uring, &tokio);
    }
}

/// The timer-accuracy table: the median over `reps` children of each figure.
fn lateness(reps: usize) {
    let mut table = Table::new(format!(
        "timer accuracy: {LATE_TASKS} tasks that each sleep {} s, how late they wake",
        LATE_NAP.as_secs()
    ));
    // Alternated, so both see the same load.
    let (mut uring, mut tokio) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        uring.push(late_child(Runner::IoUringLate));
        tokio.push(late_child(Runner::TokioLate));
    }
    let median_of = |lates: &[Late], pick: Pick| {
        let mut values: Vec<u64> = lates.iter().map(pick).collect();
        values.sort_unstable();
        Value::Time(values[values.len() / 2] as f64)
    };
    let figures: [(&str, Pick); 6] = [
        ("first to wake: lateness", |l| l.first),
        ("last to wake: lateness", |l| l.last),
        ("p50 lateness", |l| l.p50),
        ("p99 lateness", |l| l.p99),
        ("max lateness", |l| l.max),
        ("all asleep after (since the first spawn)", |l| l.asleep),
    ];
    for (name, pick) in figures {
        table.row(
            format!("{name} (io-uring)"),
            "tokio::spawn",
            &median_of(&uring, pick),
            median_of(&tokio, pick),
        );
    }
    table.note(format!(
        "each task notes the time before its sleep of {} s and after it; lateness = after − \
         before − {} s; the first/last to wake: the tasks with the earliest/latest wake time; \
         io-uring: s.spawn_async(|| io.sleep(1 s)) on one Runtime::run; tokio: 2 workers, \
         tokio::spawn(sleep(1 s)); median of {reps} children each, alternated",
        LATE_NAP.as_secs(),
        LATE_NAP.as_secs()
    ));
    table.print();
}

/// Which figure of a [`Late`] a row shows.
type Pick = fn(&Late) -> u64;

/// What a timer-accuracy child reported, in nanoseconds.
struct Late {
    first: u64,
    last: u64,
    p50: u64,
    p99: u64,
    max: u64,
    /// From the first spawn until the last task went to sleep.
    asleep: u64,
}

fn late_child(runner: Runner) -> Late {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args(["--child", runner.name(), &LATE_TASKS.to_string()])
        .output()
        .expect("spawn child");
    assert!(out.status.success(), "{}: child failed", runner.name());
    let text = String::from_utf8_lossy(&out.stdout);
    let numbers: Vec<u64> = text
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().expect("number"))
        .collect();
    match numbers.as_slice() {
        [first, last, p50, p99, max, asleep] => Late {
            first: *first,
            last: *last,
            p50: *p50,
            p99: *p99,
            max: *max,
            asleep: *asleep,
        },
        _ => panic!("unexpected child report {text:?}"),
    }
}

/// Reports the lateness of `naps` (each `(went to sleep, woke)`), measured from `start`.
fn report_lateness(start: Instant, naps: &[(Instant, Instant)]) {
    let late = |(before, after): &(Instant, Instant)| {
        after
            .duration_since(*before)
            .saturating_sub(LATE_NAP)
            .as_nanos() as u64
    };
    let first = naps.iter().min_by_key(|n| n.1).map(late).unwrap_or(0);
    let last = naps.iter().max_by_key(|n| n.1).map(late).unwrap_or(0);
    let asleep = naps
        .iter()
        .map(|n| n.0)
        .max()
        .map_or(0, |t| t.duration_since(start).as_nanos() as u64);
    let mut lates: Vec<u64> = naps.iter().map(late).collect();
    lates.sort_unstable();
    let at = |q: f64| lates[((lates.len() - 1) as f64 * q) as usize];
    report(&format!(
        "late {first} {last} {} {} {} {asleep}",
        at(0.5),
        at(0.99),
        at(1.0)
    ));
}

fn io_late(tasks: usize) -> Vec<(Instant, Instant)> {
    let rt = io::Runtime::builder()
        .backend(io::Backend::Uring)
        .build()
        .expect("io runtime");
    rt.run(|io| {
        io.scope(|s| {
            let futures: Vec<_> = (0..tasks)
                .map(|_| {
                    s.spawn_async(move || {
                        let before = Instant::now();
                        io.sleep(LATE_NAP, io::Clock::Awake)
                            .map(|()| (before, Instant::now()))
                    })
                })
                .collect();
            futures
                .into_iter()
                .map(|f| f.join(io).expect("not canceled"))
                .collect()
        })
    })
}

fn tokio_late(tasks: usize) -> Vec<(Instant, Instant)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                tokio::spawn(async {
                    let before = Instant::now();
                    tokio::time::sleep(LATE_NAP).await;
                    (before, Instant::now())
                })
            })
            .collect();
        let mut naps = Vec::with_capacity(tasks);
        for handle in handles {
            naps.push(handle.await.expect("task"));
        }
        naps
    })
}

/// The rows of one task count.
fn one_size(table: &mut Table, tasks: usize, reps: usize, idle: &Outcome) {
    let io = median_or_stopped(Runner::IoAsync, tasks, reps);
    if let Some(stopped) = &io.stopped {
        table.note(format!("io-threaded, {tasks} tasks: {stopped}"));
    }
    let tokio = median_child(Runner::Tokio, tasks, reps);
    let uring = median_child(Runner::IoUring, tasks, reps);
    let op = format!("{tasks} × sleep 100 ms");
    let op_uring = format!("{op} (io-uring)");
    let op_threaded = format!("{op} (io-threaded)");
    // What bounds each backend: every fiber sleeps at once; at most IO_MAX_THREADS threads do.
    let bound = |rounds: usize| Value::from_duration(NAP * rounds as u32);
    let threaded_rounds = tasks.div_ceil(IO_MAX_THREADS);
    table.row(
        format!("{op_uring}: wall"),
        "bound: one 100 ms sleep",
        &uring.wall,
        bound(1),
    );
    table.row(
        format!("{op_threaded}: wall"),
        format!("bound: ⌈{tasks} / {IO_MAX_THREADS} threads⌉ × 100 ms"),
        &io.wall,
        bound(threaded_rounds),
    );
    for (name, outcome) in [(&op_uring, &uring), (&op_threaded, &io)] {
        wall_and_rss_rows(table, name, "tokio::spawn", outcome, &tokio);
        table.row(
            format!("{name}: peak threads"),
            "tokio::spawn",
            &Value::Count(outcome.threads),
            Value::Count(tokio.threads),
        );
    }
    per_task_rss(table, &op_uring, tasks, idle, &uring, &tokio);
    if tasks == 10_000 {
        against_threads(
            table,
            tasks,
            reps,
            [(&op_uring, &uring), (&op_threaded, &io)],
        );
    }
}

/// The row of io-uring's peak RSS per task above the idle child's, against tokio's.
fn per_task_rss(
    table: &mut Table,
    op: &str,
    tasks: usize,
    idle: &Outcome,
    uring: &Outcome,
    tokio: &Outcome,
) {
    let per_task =
        |o: &Outcome| Value::Bytes(o.peak_rss.saturating_sub(idle.peak_rss) / tasks as u64);
    table.row(
        format!("{op}: peak RSS per task above idle"),
        "tokio::spawn",
        &per_task(uring),
        per_task(tokio),
    );
}

/// The rows of [`MILLION`] tasks sleeping at once: io-uring and tokio, one child each.
fn one_million(table: &mut Table, idle: &Outcome) {
    let uring = run_child(Runner::IoUring, MILLION);
    let tokio = run_child(Runner::Tokio, MILLION);
    let op = format!("{MILLION} × sleep 100 ms (io-uring)");
    if let Some(stopped) = &uring.stopped {
        table.note(format!("io-uring, {MILLION} tasks: {stopped}"));
    }
    wall_and_rss_rows(table, &op, "tokio::spawn", &uring, &tokio);
    per_task_rss(table, &op, MILLION, idle, &uring, &tokio);
    let max_map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map_or(Value::missing("unknown"), Value::Count);
    table.row(
        format!("{op}: peak kernel mappings"),
        "vm.max_map_count",
        &Value::Count(uring.maps),
        max_map_count,
    );
}

/// The rows against a std thread per task, and io's `spawn_concurrent` (10 000 tasks only:
/// a thread per task is bounded by the kernel's pid and map limits).
fn against_threads(
    table: &mut Table,
    tasks: usize,
    reps: usize,
    io_rows: [(&String, &Outcome); 2],
) {
    let threads = median_child(Runner::StdThreads, tasks, reps);
    for (name, outcome) in io_rows {
        wall_and_rss_rows(table, name, "std::thread::spawn", outcome, &threads);
    }
    let concurrent = median_child(Runner::IoConcurrent, tasks, reps);
    let op = format!("{tasks} × sleep 100 ms (io-threaded, spawn_concurrent)");
    wall_and_rss_rows(table, &op, "std::thread::spawn", &concurrent, &threads);
}

/// The rows "OP: wall" and "OP: peak RSS" of `io` against `peer`, named `peer_name`.
fn wall_and_rss_rows(table: &mut Table, op: &str, peer_name: &str, io: &Outcome, peer: &Outcome) {
    table.row(
        format!("{op}: wall"),
        peer_name,
        &io.wall,
        peer.wall.clone(),
    );
    table.row(
        format!("{op}: peak RSS"),
        peer_name,
        &Value::Bytes(io.peak_rss),
        Value::Bytes(peer.peak_rss),
    );
}

fn add_notes(table: &mut Table, idle: &Outcome, reps: usize) {
    table.note(
        "io-threaded: Runtime::builder().backend(Threaded).build() (default pool: one worker per \
         core, here 2), s.spawn_async(|| io.sleep(100 ms)) for every task, then join them in \
         order; tokio: 2 workers, tokio::spawn(sleep(100 ms)); std: one thread per task",
    );
    table.note(format!(
        "io-threaded's bound: a sleeping task lends its worker's place in the pool to the \
         queued tasks, and other threads take them up, at most {IO_MAX_THREADS} pool threads \
         in all (io's cap): at most {IO_MAX_THREADS} tasks sleep at once, so the wall time is \
         at least ⌈tasks / {IO_MAX_THREADS}⌉ × 100 ms (thread cap × sleep time); io-uring's is \
         one sleep (every fiber sleeps at once)"
    ));
    if !common::quick() {
        table.note(format!(
            "{MILLION} tasks: one child each, stopped after {} s at the latest; peak kernel \
             mappings: the most lines /proc/self/maps had, sampled every {} ms",
            BUDGET_MILLION.as_secs(),
            SAMPLE.as_millis()
        ));
    }
    table.note(format!(
        "≈: the run was stopped after {} s and its total projected from the tasks done by then",
        BUDGET.as_secs()
    ));
    table.note(format!(
        "each case runs in its own child process; RSS includes the child's baseline of {:.1} MiB \
         (the same binary, idle); peak threads: the child's thread count sampled every {} ms \
         (including the main thread and the sampler; {} when idle); median of {reps} children \
         unless stopped by the budget",
        idle.peak_rss as f64 / (1024.0 * 1024.0),
        SAMPLE.as_millis(),
        idle.threads,
    ));
    table.note(
        "io-uring: Runtime::builder().backend(Uring).fiber_limit(tasks + 1).build(), \
         s.spawn_async(|| io.sleep(100 ms)) for every task (each a fiber with a 256 KiB stack, \
         mapped lazily; the sleep a deadline in the loop's timer heap, one IORING_OP_TIMEOUT for \
         the earliest), then join them in order; peak RSS per task: (peak RSS − the idle \
         child's) / tasks; the floor for a stackful fiber with 4 KiB pages is one page of stack \
         plus its task record",
    );
}

/// The median of `reps` children, or the one child's projection if it was stopped by the
/// budget (a projection would not change when repeated).
fn median_or_stopped(runner: Runner, tasks: usize, reps: usize) -> Outcome {
    let first = run_child(runner, tasks);
    if first.stopped.is_some() || reps == 1 {
        return first;
    }
    median_child(runner, tasks, reps)
}

fn median_child(runner: Runner, tasks: usize, reps: usize) -> Outcome {
    let outcomes: Vec<Outcome> = (0..reps).map(|_| run_child(runner, tasks)).collect();
    median_of(runner, tasks, outcomes)
}

/// The median of each figure of `outcomes` (children of `runner` with `tasks` tasks).
fn median_of(runner: Runner, tasks: usize, outcomes: Vec<Outcome>) -> Outcome {
    let walls = outcomes
        .iter()
        .map(|o| match o.wall {
            Value::Time(ns) => Duration::from_nanos(ns as u64),
            ref other => panic!("{} {tasks}: {other}", runner.name()),
        })
        .collect();
    let middle = |mut values: Vec<u64>| {
        values.sort_unstable();
        values[values.len() / 2]
    };
    Outcome {
        wall: Value::from_duration(common::median(walls)),
        peak_rss: middle(outcomes.iter().map(|o| o.peak_rss).collect()),
        threads: middle(outcomes.iter().map(|o| o.threads).collect()),
        maps: middle(outcomes.iter().map(|o| o.maps).collect()),
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
    let (wall, stopped, threads, maps) = parse_report(&report, tasks);
    Outcome {
        wall,
        peak_rss,
        threads,
        maps,
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

/// `done <ns> <threads> <maps>`, `stopped <tasks done> <ns> <threads> <maps>` (projected to
/// all `tasks`, with a word on how far it got), or `unavailable <tasks spawned> <threads>`;
/// `<threads>` is the child's peak thread count, `<maps>` its peak mapping count (0 if not
/// sampled).
fn parse_report(report: &str, tasks: usize) -> (Value, Option<String>, u64, u64) {
    let words: Vec<&str> = report.split_whitespace().collect();
    let count = |word: &str| word.parse().expect("count");
    match words.as_slice() {
        ["done", ns, peak, maps] => (
            Value::Time(ns.parse().expect("ns")),
            None,
            count(peak),
            count(maps),
        ),
        ["stopped", done, ns, peak, maps] => {
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
            (wall, Some(progress), count(peak), count(maps))
        }
        ["unavailable", spawned, peak] => {
            let why = format!("ConcurrencyUnavailable after {spawned}");
            (Value::missing(why.clone()), Some(why), count(peak), 0)
        }
        _ => panic!("unexpected child report {report:?}"),
    }
}

fn child(runner: Runner, tasks: usize) {
    let start = Instant::now();
    match runner {
        Runner::IoUringLate => return report_lateness(start, &io_late(tasks)),
        Runner::TokioLate => return report_lateness(start, &tokio_late(tasks)),
        _ => {}
    }
    let budget = if tasks >= MILLION {
        BUDGET_MILLION
    } else {
        BUDGET
    };
    let maps = matches!(runner, Runner::IoUring | Runner::IoUringOneLoop);
    std::thread::spawn(move || watch(start, budget, maps));
    match runner {
        Runner::IoAsync => io_async(io::Backend::Threaded, tasks, None),
        Runner::IoConcurrent => io_concurrent(io::Backend::Threaded, tasks),
        Runner::IoUring => io_async(io::Backend::Uring, tasks, None),
        Runner::IoUringOneLoop => io_async(io::Backend::Uring, tasks, Some(1)),
        Runner::Tokio => tokio_tasks(tasks),
        Runner::StdThreads => std_threads(tasks),
        Runner::Idle | Runner::IoUringLate | Runner::TokioLate => {}
    }
    sample_threads();
    report(&format!(
        "done {} {} {}",
        start.elapsed().as_nanos(),
        PEAK_THREADS.load(Ordering::SeqCst),
        PEAK_MAPS.load(Ordering::SeqCst)
    ));
}

/// The child's sampler: records its thread count (and, if `maps`, its mapping count) every
/// [`SAMPLE`], and stops the child once it has run for `budget`, reporting how far it got.
fn watch(start: Instant, budget: Duration, maps: bool) {
    while start.elapsed() < budget {
        sample_threads();
        if maps {
            sample_maps();
        }
        std::thread::sleep(SAMPLE);
    }
    report(&format!(
        "stopped {} {} {} {}",
        DONE.load(Ordering::SeqCst),
        start.elapsed().as_nanos(),
        PEAK_THREADS.load(Ordering::SeqCst),
        PEAK_MAPS.load(Ordering::SeqCst)
    ));
    std::process::exit(0);
}

/// Records the process's current number of kernel mappings (lines of `/proc/self/maps`) in
/// [`PEAK_MAPS`].
fn sample_maps() {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    PEAK_MAPS.fetch_max(maps.lines().count(), Ordering::SeqCst);
}

/// Records the process's current thread count (`Threads:` in `/proc/self/status`) in
/// [`PEAK_THREADS`].
fn sample_threads() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    PEAK_THREADS.fetch_max(threads, Ordering::SeqCst);
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

/// `tasks` × `s.spawn_async(|| io.sleep(100 ms))` on `backend` with `threads` (`None`: the
/// default, one per core; on io-uring one loop each), then joins them in order.
fn io_async(backend: io::Backend, tasks: usize, threads: Option<usize>) {
    // Every task a fiber, plus the root's (the default limit is 1 000 000 fibers per loop).
    let builder = io::Runtime::builder()
        .backend(backend)
        .fiber_limit(tasks + 1);
    let builder = match threads {
        Some(threads) => builder.threads(threads),
        None => builder,
    };
    let rt = builder.build().expect("io runtime");
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
                        sample_threads();
                        report(&format!(
                            "unavailable {} {}",
                            futures.len(),
                            PEAK_THREADS.load(Ordering::SeqCst)
                        ));
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
