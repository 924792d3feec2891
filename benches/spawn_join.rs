//! Spawn and join a trivial task: one at a time, and in batches of 1000 (spawn all, then join
//! all). io's threaded backend (async spawns on a pool of 2 workers) and its uring backend (every
//! task a fiber on the loop thread) against std threads,
//! scoped std threads, rayon (2 threads) and tokio (multi-thread, 2 workers).
//!
//! Every peer is measured from where its own tasks run: io from its root task, rayon from inside
//! its pool (`install`), tokio from inside a spawned task; std from the main thread.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{measure_per_op, ops, reps, Table};

const BATCH: u64 = 1000;

fn main() {
    let reps = reps(7);
    let mut table = Table::new("spawn + join of a trivial task (time per task)");
    let io_rt = io::Runtime::builder()
        .backend(io::Backend::Threaded)
        .threads(2)
        .build()
        .expect("io runtime");
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime");
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("rayon pool");

    let uring_rt = io::Runtime::builder()
        .backend(io::Backend::Uring)
        .threads(1)
        .build()
        .expect("io uring runtime");
    let runtimes = [("io-threaded", &io_rt), ("io-uring", &uring_rt)];

    let one = ops(100_000);
    let std_one = measure_per_op(reps, ops(2_000), std_spawn_one);
    let scope_one = measure_per_op(reps, ops(2_000), std_scope_one);
    let rayon_one_v = measure_per_op(reps, one, |n| rayon_one(&rayon_pool, n));
    let tokio_one_v = measure_per_op(reps, one, |n| tokio_one(&tokio_rt, n));
    for (name, rt) in runtimes {
        let io = measure_per_op(reps, one, |n| common::spawn_join_one_at_a_time(rt, n));
        let op = format!("spawn+join, one at a time ({name})");
        table.row(&op, "std::thread::spawn", &io, std_one.clone());
        table.row(&op, "std::thread::scope", &io, scope_one.clone());
        table.row(&op, "rayon::scope", &io, rayon_one_v.clone());
        table.row(&op, "tokio::spawn", &io, tokio_one_v.clone());
    }

    let batched = ops(100 * BATCH);
    let threads = ops(2 * BATCH).max(BATCH);
    let std_batches = measure_per_op(reps, threads, std_spawn_batches);
    let scope_batches = measure_per_op(reps, threads, std_scope_batches);
    let rayon_batches_v = measure_per_op(reps, batched, |n| rayon_batches(&rayon_pool, n));
    let tokio_batches_v = measure_per_op(reps, batched, |n| tokio_batches(&tokio_rt, n));
    for (name, rt) in runtimes {
        let io = measure_per_op(reps, batched, |n| io_batches(rt, n));
        let op = format!("spawn 1000, then join 1000 ({name})");
        table.row(&op, "std::thread::spawn", &io, std_batches.clone());
        table.row(&op, "std::thread::scope", &io, scope_batches.clone());
        table.row(&op, "rayon::scope", &io, rayon_batches_v.clone());
        table.row(&op, "tokio::spawn", &io, tokio_batches_v.clone());
    }

    table.note(format!(
        "median of {reps} repetitions after a warm-up; io-threaded: \
         Runtime::builder().backend(Threaded).threads(2); io-uring: backend(Uring).threads(1) (one \
         loop; every task a fiber on the thread that calls run); both s.spawn_async(..) then join(io); batches \
         spawn {BATCH} handles, then join them in order"
    ));
    table.print();
}

fn io_batches(rt: &io::Runtime, n: u64) -> Duration {
    rt.run(|io| {
        io.scope(|s| {
            let mut futures = Vec::with_capacity(BATCH as usize);
            let start = Instant::now();
            for batch in 0..n / BATCH {
                futures.extend((0..BATCH).map(|i| s.spawn_async(move || black_box(batch + i))));
                for future in futures.drain(..) {
                    black_box(future.join(io));
                }
            }
            start.elapsed()
        })
    })
}

fn std_spawn_one(n: u64) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        black_box(std::thread::spawn(move || black_box(i)).join().unwrap());
    }
    start.elapsed()
}

fn std_spawn_batches(n: u64) -> Duration {
    let mut handles = Vec::with_capacity(BATCH as usize);
    let start = Instant::now();
    for batch in 0..n / BATCH {
        handles.extend((0..BATCH).map(|i| std::thread::spawn(move || black_box(batch + i))));
        for handle in handles.drain(..) {
            black_box(handle.join().unwrap());
        }
    }
    start.elapsed()
}

fn std_scope_one(n: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for i in 0..n {
            black_box(s.spawn(move || black_box(i)).join().unwrap());
        }
    });
    start.elapsed()
}

fn std_scope_batches(n: u64) -> Duration {
    let start = Instant::now();
    for batch in 0..n / BATCH {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..BATCH)
                .map(|i| s.spawn(move || black_box(batch + i)))
                .collect();
            for handle in handles {
                black_box(handle.join().unwrap());
            }
        });
    }
    start.elapsed()
}

fn rayon_one(pool: &rayon::ThreadPool, n: u64) -> Duration {
    pool.install(|| {
        let start = Instant::now();
        for i in 0..n {
            let mut out = 0;
            rayon::scope(|s| s.spawn(|_| out = black_box(i)));
            black_box(out);
        }
        start.elapsed()
    })
}

fn rayon_batches(pool: &rayon::ThreadPool, n: u64) -> Duration {
    pool.install(|| {
        let start = Instant::now();
        for batch in 0..n / BATCH {
            rayon::scope(|s| {
                for i in 0..BATCH {
                    s.spawn(move |_| {
                        black_box(batch + i);
                    });
                }
            });
        }
        start.elapsed()
    })
}

fn tokio_one(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        let measured = tokio::spawn(async move {
            let start = Instant::now();
            for i in 0..n {
                black_box(tokio::spawn(async move { black_box(i) }).await.unwrap());
            }
            start.elapsed()
        });
        measured.await.unwrap()
    })
}

fn tokio_batches(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        let measured = tokio::spawn(async move {
            let mut handles = Vec::with_capacity(BATCH as usize);
            let start = Instant::now();
            for batch in 0..n / BATCH {
                handles
                    .extend((0..BATCH).map(|i| tokio::spawn(async move { black_box(batch + i) })));
                for handle in handles.drain(..) {
                    black_box(handle.await.unwrap());
                }
            }
            start.elapsed()
        });
        measured.await.unwrap()
    })
}
