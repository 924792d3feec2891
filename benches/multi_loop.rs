//! Every core on the uring backend (issue 15): `threads = 2` runs two event loops.
//!
//! - CPU-bound fan-out: 64 tasks, each hashing 4 MiB with SHA-256, spawned from the root and
//!   joined; uring with 2 loops against uring with 1 loop and the threaded backend (2 workers).
//! - Cross-loop queue ping-pong: the root and a task on the other loop hand a token back and
//!   forth through two rendezvous queues; against the same on one loop and on threaded.
//! - `spawn-join` (argument): spawn + join of a trivial task one at a time on a single loop,
//!   printed as one number, so that a build of the previous commit can be run alternately
//!   with this one (BENCHMARKS.md says how).
//!
//! `cargo bench --bench multi_loop` (`IO_BENCH_QUICK=1` for a smoke run).

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{measure, measure_per_op, ops, reps, Table, Value};
use sha2::{Digest, Sha256};

const TASKS: usize = 64;
const HASHED: usize = 4 << 20;

fn runtime(backend: io::Backend, threads: usize) -> io::Runtime {
    io::Runtime::builder()
        .backend(backend)
        .threads(threads)
        .build()
        .expect("io runtime")
}

fn main() {
    if std::env::args().any(|a| a == "spawn-join") {
        let rt = runtime(io::Backend::Uring, 1);
        let per_task = measure_per_op(reps(7), ops(200_000), |n| {
            common::spawn_join_one_at_a_time(&rt, n)
        });
        println!("{per_task}");
        return;
    }
    if std::env::args().any(|a| a == "fan-out-threads") {
        // How the 64 tasks of one fan-out spread over the loops' threads.
        let rt = runtime(io::Backend::Uring, 2);
        let data = vec![0x5au8; HASHED];
        let threads = std::sync::Mutex::new(std::collections::HashMap::new());
        let start = Instant::now();
        rt.run(|io| {
            io.scope(|s| {
                let futures: Vec<_> = (0..TASKS)
                    .map(|_| {
                        s.spawn_async(|| {
                            black_box(Sha256::digest(&data));
                            *threads
                                .lock()
                                .unwrap()
                                .entry(std::thread::current().id())
                                .or_insert(0usize) += 1;
                        })
                    })
                    .collect();
                futures.into_iter().for_each(|f| f.join(io));
            })
        });
        println!(
            "{:?} in {:?}",
            threads.into_inner().unwrap().values(),
            start.elapsed()
        );
        return;
    }
    let reps = reps(5);
    let uring2 = runtime(io::Backend::Uring, 2);
    let uring1 = runtime(io::Backend::Uring, 1);
    let threaded = runtime(io::Backend::Threaded, 2);

    let mut table = Table::new("multi-loop uring (issue 15)");
    let data = vec![0x5au8; HASHED];
    let fan_out =
        |rt: &io::Runtime| Value::from_duration(measure(reps, || hash_fan_out(rt, &data)));
    let two = fan_out(&uring2);
    let one = fan_out(&uring1);
    let thr = fan_out(&threaded);
    let op = format!("{TASKS} tasks × SHA-256 of 4 MiB (io-uring, 2 loops)");
    table.row(&op, "io-uring, 1 loop", &two, one);
    table.row(&op, "io-threaded, 2 workers", &two, thr);

    let trips = ops(20_000);
    let cross = measure_per_op(reps, trips, |n| ping_pong(&uring2, n, true));
    let same = measure_per_op(reps, trips, |n| ping_pong(&uring1, n, false));
    let thr = measure_per_op(reps, trips, |n| ping_pong(&threaded, n, false));
    let op = "queue ping-pong round trip (io-uring, across 2 loops)";
    table.row(op, "io-uring, both on 1 loop", &cross, same);
    table.row(op, "io-threaded, 2 workers", &cross, thr);
    table.note(
        "fan-out: the root spawns 64 io_async! tasks and joins them in order (a joiner runs a \
         task not yet started inline); ping-pong: two rendezvous Queues, the other side a \
         concurrent task (on 2 loops: placed on the other loop, checked by thread id)",
    );
    table.print();
}

/// The root spawns the 64 hashing tasks and joins them; the time of the whole fan-out.
fn hash_fan_out(rt: &io::Runtime, data: &[u8]) -> Duration {
    rt.run(|io| {
        io.scope(|s| {
            let start = Instant::now();
            let futures: Vec<_> = (0..TASKS)
                .map(|i| {
                    s.spawn_async(move || {
                        let mut hasher = Sha256::new();
                        hasher.update([i as u8]);
                        hasher.update(data);
                        hasher.finalize()
                    })
                })
                .collect();
            for future in futures {
                black_box(future.join(io));
            }
            start.elapsed()
        })
    })
}

/// `n` round trips of a token between the root and a concurrent task; with `across`, the
/// task is first seen running on another thread (the other loop) than the root.
fn ping_pong(rt: &io::Runtime, n: u64, across: bool) -> Duration {
    rt.run(|io| {
        let (ping, pong) = (io::Queue::new(0), io::Queue::new(0));
        let started = AtomicBool::new(false);
        let root = std::thread::current().id();
        io.scope(|s| {
            let other = s
                .spawn_concurrent(|| {
                    started.store(true, Ordering::SeqCst);
                    let thread = std::thread::current().id();
                    while let Ok(token) = ping.get_one(io) {
                        if pong.put_one(io, token).is_err() {
                            break;
                        }
                    }
                    thread
                })
                .expect("concurrency");
            if across {
                // Hold this loop until the other one took the task.
                while !started.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            }
            let start = Instant::now();
            for i in 0..n {
                ping.put_one(io, i).expect("open");
                black_box(pong.get_one(io).expect("open"));
            }
            let elapsed = start.elapsed();
            ping.close();
            let thread = other.join(io);
            assert!(
                !across || thread != root,
                "the other side ran on the root's loop"
            );
            elapsed
        })
    })
}
