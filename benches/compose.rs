//! Composition: `io_select!` over a queue and a deadline (per item received), and a group's
//! results taken with `group.next` (per task spawned and collected), against tokio's
//! `select!` over `mpsc::Receiver::recv` and `time::sleep`, and `JoinSet::join_next`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{measure_per_op, ops, reps, Table};

fn main() {
    let reps = reps(7);
    let items = ops(20_000);
    let tasks = ops(10_000);
    let mut table = Table::new("composition (time per item received / per task collected)");
    let threaded = io::Runtime::builder()
        .backend(io::Backend::Threaded)
        .threads(2)
        .build()
        .expect("io runtime");
    let uring = io::Runtime::builder()
        .backend(io::Backend::Uring)
        // One loop: the single-loop runtime's figures (more loops are benches/multi_loop.rs).
        .threads(1)
        .build()
        .expect("io uring runtime");
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");

    let tokio_select = measure_per_op(reps, items, |n| tokio_select(&tokio_rt, n));
    let tokio_join_next = measure_per_op(reps, tasks, |n| tokio_join_next(&tokio_rt, n));
    for (name, rt) in [("io-threaded", &threaded), ("io-uring", &uring)] {
        let select = measure_per_op(reps, items, |n| io_select_queue(rt, n, true));
        let plain = measure_per_op(reps, items, |n| io_select_queue(rt, n, false));
        let op = format!("select {{queue get, 1 s deadline}} ({name})");
        table.row(
            &op,
            "tokio::select! {recv, sleep}",
            &select,
            tokio_select.clone(),
        );
        table.row(&op, "io Queue::get_one, no select", &select, plain);
        let next = measure_per_op(reps, tasks, |n| io_group_next(rt, n));
        let op = format!("spawn + group.next, {tasks} tasks ({name})");
        table.row(
            &op,
            "tokio JoinSet::join_next",
            &next,
            tokio_join_next.clone(),
        );
        let futures = measure_per_op(reps, tasks, |n| io_futures_join(rt, n));
        table.row(&op, "io spawn_async + join, same tasks", &next, futures);
    }
    table.note(format!(
        "median of {reps} repetitions; select: {items} items through a queue of capacity 64 \
         from a producer task, each taken by a select whose other arm is a deadline 1 s ahead \
         (re-armed per item, as tokio's sleep is); group: {tasks} tasks returning their index, \
         spawned with group.spawn (io) / JoinSet::spawn (tokio), all collected in completion \
         order; io-threaded and tokio: 2 workers; io-uring: one loop"
    ));
    table.print();
}

fn io_select_queue(rt: &io::Runtime, n: u64, select: bool) -> Duration {
    let queue = io::Queue::new(64);
    rt.run(|io| {
        io.scope(|s| {
            let producer = s
                .spawn_concurrent(|| {
                    for i in 0..n {
                        if queue.put_one(io, i).is_err() {
                            break;
                        }
                    }
                })
                .expect("a producer");
            let start = Instant::now();
            for _ in 0..n {
                if select {
                    let got = io::io_select!(io, {
                        item = queue.select_get() => item.ok(),
                        () = io::after(Duration::from_secs(1)) => None,
                    });
                    black_box(got.expect("not canceled").expect("an item"));
                } else {
                    black_box(queue.get_one(io).expect("an item"));
                }
            }
            let elapsed = start.elapsed();
            producer.join(io);
            elapsed
        })
    })
}

fn tokio_select(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(64);
            let producer = tokio::spawn(async move {
                for i in 0..n {
                    if tx.send(i).await.is_err() {
                        break;
                    }
                }
            });
            let start = Instant::now();
            for _ in 0..n {
                let got = tokio::select! {
                    item = rx.recv() => item,
                    () = tokio::time::sleep(Duration::from_secs(1)) => None,
                };
                black_box(got.expect("an item"));
            }
            let elapsed = start.elapsed();
            producer.await.expect("producer");
            elapsed
        })
        .await
        .expect("measured")
    })
}

fn io_group_next(rt: &io::Runtime, n: u64) -> Duration {
    rt.run(|io| {
        io.scope(|s| {
            let start = Instant::now();
            let group = s.group();
            for i in 0..n {
                group.spawn(io, move || black_box(i));
            }
            let mut sum = 0;
            while let Some(i) = group.next(io).expect("not canceled") {
                sum += i;
            }
            assert_eq!(sum, n * (n - 1) / 2);
            start.elapsed()
        })
    })
}

fn tokio_join_next(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            let mut set = tokio::task::JoinSet::new();
            for i in 0..n {
                set.spawn(async move { black_box(i) });
            }
            let mut sum = 0;
            while let Some(i) = set.join_next().await {
                sum += i.expect("joined");
            }
            assert_eq!(sum, n * (n - 1) / 2);
            start.elapsed()
        })
        .await
        .expect("measured")
    })
}

fn io_futures_join(rt: &io::Runtime, n: u64) -> Duration {
    rt.run(|io| {
        io.scope(|s| {
            let start = Instant::now();
            let futures: Vec<_> = (0..n)
                .map(|i| s.spawn_async(move || black_box(i)))
                .collect();
            let sum: u64 = futures.into_iter().map(|f| f.join(io)).sum();
            assert_eq!(sum, n * (n - 1) / 2);
            start.elapsed()
        })
    })
}
