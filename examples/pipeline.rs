//! A pipeline over queues with backpressure: a producer, a stage of workers, and a collector,
//! joined by bounded queues. A fast producer blocks on the full queue instead of buffering
//! everything; closing a queue ends the stage after it.
//!
//! ```text
//! cargo run --example pipeline -- [ITEMS] [WORKERS] [CAPACITY]
//! ```
//!
//! Squares the numbers 1..=ITEMS (default 10 000) in WORKERS tasks (default 4) between queues
//! of CAPACITY items (default 8), and prints `sum of squares: S` and `most ahead: A` — how far
//! the producer ever got ahead of the workers, at most CAPACITY + WORKERS (the queue's buffer
//! plus one number in each worker's hands): the backpressure — and exits 0.

use std::sync::atomic::{AtomicUsize, Ordering};

use io::{io_async, io_group, scope, Io, Queue, QueueError};

#[io::main]
fn main(io: Io) -> Result<(), QueueError> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().ok());
    let items = args.next().flatten().unwrap_or(10_000);
    let workers = args.next().flatten().unwrap_or(4);
    let capacity = args.next().flatten().unwrap_or(8) as usize;
    let (numbers, squares) = (Queue::new(capacity), Queue::new(capacity));
    // Numbers put, numbers taken, and the largest difference the producer saw.
    let (put, taken, most_ahead) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let sum = scope!(io, {
        // Producer: blocks whenever `numbers` is full.
        let producer = io_async!(|| -> Result<(), QueueError> {
            for n in 1..=items {
                numbers.put_one(io, n)?;
                let ahead = (put.fetch_add(1, Ordering::SeqCst) + 1)
                    .saturating_sub(taken.load(Ordering::SeqCst));
                most_ahead.fetch_max(ahead, Ordering::Relaxed);
            }
            numbers.close();
            Ok(())
        });
        // Workers: take a number, put its square; end when `numbers` is closed and drained.
        let stage = io_group!();
        for _ in 0..workers {
            stage.spawn(io, || -> Result<(), QueueError> {
                loop {
                    match numbers.get_one(io) {
                        Ok(n) => {
                            taken.fetch_add(1, Ordering::SeqCst);
                            squares.put_one(io, n * n)?;
                        }
                        Err(QueueError::Closed) => return Ok(()),
                        Err(error) => return Err(error),
                    }
                }
            });
        }
        // Collector: sums until `squares` is closed (by this body once the stage ended).
        let collector = io_async!(|| -> Result<u64, QueueError> {
            let mut sum = 0;
            let mut batch = Vec::with_capacity(capacity);
            loop {
                match squares.get(io, &mut batch, 1, capacity) {
                    Ok(_) => sum += batch.drain(..).sum::<u64>(),
                    Err(QueueError::Closed) => return Ok(sum),
                    Err(error) => return Err(error),
                }
            }
        });
        producer.join(io)?;
        stage.try_join_all(io)?;
        squares.close();
        collector.join(io)
    })?;
    println!("sum of squares: {sum}");
    println!("most ahead: {}", most_ahead.load(Ordering::Relaxed));
    Ok(())
}
