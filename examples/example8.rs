//! Example 8 of the seed: asynchrony is not concurrency. A producer sends one item through an
//! unbuffered queue (capacity 0: a put waits for a getter) to a consumer. Both are spawned
//! with `io_async!`, which only *allows* them to run at the same time.
//!
//! This succeeds — "lucky" or "unlucky", depending on the view: the runtime happened to have
//! a spare worker for the producer. Example 9 takes that luck away.
//!
//! ```text
//! cargo run --example example8      # "message received: never gonna give you up", at once
//! ```

use std::error::Error;

use io::{io_async, scope, Io, PutError, Queue, QueueError};

/// Producer and consumer as async tasks; a spare worker makes it work.
#[io::main]
fn main(io: Io) -> Result<(), Box<dyn Error>> {
    let queue = Queue::<&str>::new(0);

    scope!(io, {
        // Named, not `_`: the handle lives to the end of the scope, which then cancels and
        // joins it (the seed's `defer producer_task.cancel(io)`).
        let _producer_task = io_async!(producer(io, &queue, "never gonna give you up"));
        let consumer_task = io_async!(consumer(io, &queue));

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
