//! Example 2 of the seed: `io_async!` decouples calling a function from its returning. With
//! nothing between the spawn and the join, this is still example 1: ~1 s.
//!
//! ```text
//! IO_BACKEND=uring cargo run --example example2      # "working", ~1 s
//! ```

use std::time::Duration;

use io::{io_async, scope, Clock, Io};

/// Spawns the work and joins it at once: the same as calling it.
#[io::main]
fn main(io: Io) {
    // A task lives in a scope: whatever the block does, the scope joins what it spawned.
    scope!(io, {
        let future = io_async!(do_work(io));
        // Zig's `await` is idempotent; here `join` consumes the handle, so awaiting twice
        // does not compile at all.
        future.join(io);
    });
}

/// Prints, then sleeps one second through the `Io`.
fn do_work(io: Io) {
    println!("working");
    let _ = io.sleep(Duration::from_secs(1), Clock::Awake);
}
