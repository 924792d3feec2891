//! Queue ping-pong: one task puts a number into `ping`, a second task takes it and puts it
//! into `pong`, the first takes it back. Time per round trip, with capacity 0 (a rendezvous)
//! and 64. io's `Queue` (threaded backend, 2 workers; uring backend, two fibers) against crossbeam-channel and
//! `std::sync::mpsc::sync_channel` between two std threads, and `tokio::sync::mpsc` between two
//! tokio tasks (2 workers).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{measure_per_op, ops, reps, Table};

fn main() {
    let reps = reps(7);
    let trips = ops(20_000);
    let mut table = Table::new("queue ping-pong between two tasks (time per round trip)");
    let io_rt = io::Runtime::builder()
        .backend(io::Backend::Threaded)
        .threads(2)
        .build()
        .expect("io runtime");
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime");

    let uring_rt = io::Runtime::builder()
        .backend(io::Backend::Uring)
        // One loop: the single-loop runtime's figures (more loops are benches/multi_loop.rs).
        .threads(1)
        .build()
        .expect("io uring runtime");

    for capacity in [0, 64] {
        let crossbeam = measure_per_op(reps, trips, |n| crossbeam_pingpong(capacity, n));
        let std = measure_per_op(reps, trips, |n| std_pingpong(capacity, n));
        let (tokio, peer) = match capacity {
            0 => (
                measure_per_op(reps, trips, |n| tokio_pingpong(&tokio_rt, 1, n)),
                "tokio::sync::mpsc (capacity 1)",
            ),
            _ => (
                measure_per_op(reps, trips, |n| tokio_pingpong(&tokio_rt, capacity, n)),
                "tokio::sync::mpsc",
            ),
        };
        for (name, rt, spawn) in [
            ("io-threaded", &io_rt, Spawn::Async),
            ("io-uring", &uring_rt, Spawn::Concurrent),
        ] {
            let io = measure_per_op(reps, trips, |n| io_pingpong(rt, spawn, capacity, n));
            let op = format!("ping-pong, capacity {capacity} ({name})");
            table.row(&op, "crossbeam_channel::bounded", &io, crossbeam.clone());
            table.row(&op, "std::sync::mpsc::sync_channel", &io, std.clone());
            table.row(&op, peer, &io, tokio.clone());
        }
    }
    table.note(format!(
        "median of {reps} repetitions of {trips} round trips; io: two io::Queue; io-threaded: \
         the echoing task spawned with spawn_async on a pool of 2; io-uring: spawned with \
         spawn_concurrent, both tasks fibers on the loop thread; std peers: two std threads"
    ));
    table.note("tokio::sync::mpsc refuses capacity 0, so its rendezvous row uses capacity 1");
    table.print();
}

#[derive(Clone, Copy)]
enum Spawn {
    Async,
    Concurrent,
}

fn io_pingpong(rt: &io::Runtime, spawn: Spawn, capacity: usize, n: u64) -> Duration {
    let ping = io::Queue::new(capacity);
    let pong = io::Queue::new(capacity);
    rt.run(|io| {
        io.scope(|s| {
            let echo_loop = || {
                while let Ok(value) = ping.get_one(io) {
                    if pong.put_one(io, value).is_err() {
                        break;
                    }
                }
            };
            let echo = match spawn {
                Spawn::Async => s.spawn_async(echo_loop),
                Spawn::Concurrent => s.spawn_concurrent(echo_loop).expect("a fiber"),
            };
            let start = Instant::now();
            for i in 0..n {
                ping.put_one(io, i).expect("put");
                black_box(pong.get_one(io).expect("get"));
            }
            let elapsed = start.elapsed();
            ping.close();
            echo.join(io);
            elapsed
        })
    })
}

fn crossbeam_pingpong(capacity: usize, n: u64) -> Duration {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded(capacity);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded(capacity);
    std::thread::scope(|s| {
        s.spawn(move || {
            for value in ping_rx {
                if pong_tx.send(value).is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        for i in 0..n {
            ping_tx.send(i).expect("send");
            black_box(pong_rx.recv().expect("recv"));
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        elapsed
    })
}

fn std_pingpong(capacity: usize, n: u64) -> Duration {
    let (ping_tx, ping_rx) = std::sync::mpsc::sync_channel(capacity);
    let (pong_tx, pong_rx) = std::sync::mpsc::sync_channel(capacity);
    std::thread::scope(|s| {
        s.spawn(move || {
            for value in ping_rx {
                if pong_tx.send(value).is_err() {
                    break;
                }
            }
        });
        let start = Instant::now();
        for i in 0..n {
            ping_tx.send(i).expect("send");
            black_box(pong_rx.recv().expect("recv"));
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        elapsed
    })
}

fn tokio_pingpong(rt: &tokio::runtime::Runtime, capacity: usize, n: u64) -> Duration {
    rt.block_on(async move {
        let measured = tokio::spawn(async move {
            let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel(capacity);
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel(capacity);
            let echo = tokio::spawn(async move {
                while let Some(value) = ping_rx.recv().await {
                    if pong_tx.send(value).await.is_err() {
                        break;
                    }
                }
            });
            let start = Instant::now();
            for i in 0..n {
                ping_tx.send(i).await.expect("send");
                black_box(pong_rx.recv().await.expect("recv"));
            }
            let elapsed = start.elapsed();
            drop(ping_tx);
            echo.await.expect("echo");
            elapsed
        });
        measured.await.unwrap()
    })
}
