//! Example 9 of the seed: example 8 without the luck — a deadlock. The seed limits its thread
//! pool to one thread; Zig 0.17 makes this deterministic with an async limit of 0, and so
//! does this runtime: `async_limit(0)` runs every `io_async!` task inline on its caller.
//!
//! So the producer runs first, inline, and blocks in `put_one` waiting for a getter — but the
//! consumer has not been spawned yet, and never will be. We needed concurrency and asked for
//! asynchrony. Where Zig hangs, the runtime's deadlock detector sees that no task can ever be
//! woken and panics with a report naming the blocked `Queue::put_one` (after ~0.5 s).
//!
//! ```text
//! IO_BACKEND=uring cargo run --example example9   # "io: deadlock detected …", exit 101
//! ```

use std::error::Error;

use io::{io_async, scope, Io, PutError, Queue, QueueError};

/// No asynchrony (`async_limit = 0`): every async task runs inline, deterministically.
#[io::main(async_limit = 0)]
fn main(io: Io) -> Result<(), Box<dyn Error>> {
    juicy_main(io)
}

fn juicy_main(io: Io) -> Result<(), Box<dyn Error>> {
    let queue = Queue::<&str>::new(0);

    scope!(io, {
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
