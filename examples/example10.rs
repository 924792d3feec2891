//! Example 10 of the seed: the fix for example 9 is to say what we need. `io_concurrent!`
//! demands that the call run at the same time as its caller; the threaded backend
//! oversubscribes (a thread beyond the pool) and the uring backend starts a fiber, rather than
//! run it inline. Where concurrency truly is impossible — a single-threaded runtime — it fails
//! with `ConcurrencyUnavailable` instead of deadlocking.
//!
//! ```text
//! cargo run --example example10                  # "message received: never gonna give you up"
//! IO_THREADS=0 cargo run --example example10     # "Error: ConcurrencyUnavailable", exit 1
//! ```

use std::error::Error;

use io::{io_concurrent, scope, Io, PutError, Queue, QueueError};

/// Producer and consumer as concurrent tasks: works, or fails with `ConcurrencyUnavailable`.
#[io::main]
fn main(io: Io) -> Result<(), Box<dyn Error>> {
    let queue = Queue::<&str>::new(0);

    scope!(io, {
        let _producer_task = io_concurrent!(producer(io, &queue, "never gonna give you up"))?;
        let consumer_task = io_concurrent!(consumer(io, &queue))?;

        let result = consumer_task.join(io)?;
        println!("message received: {result}");
        Ok(())
    })
}

/// Puts one item; waits for a getter to take it.
fn producer(
    io: Io,
    queue: &Queue<&'static str>,
    flavor_text: &'static str,
) -> Result<(), PutError<&'static str>> {
    queue.put_one(io, flavor_text)
}

/// Takes one item; waits for a putter.
fn consumer(io: Io, queue: &Queue<&'static str>) -> Result<&'static str, QueueError> {
    queue.get_one(io)
}
