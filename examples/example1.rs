//! Example 1 of the seed: the same program, with an [`Io`] set up once in `main` and passed
//! down, the way an allocator is. `#[io::main]` builds the runtime (`IO_BACKEND` picks it).
//!
//! ```text
//! IO_BACKEND=threaded cargo run --example example1   # "working", ~1 s
//! ```

use std::time::Duration;

use io::{Clock, Io};

/// Hands the runtime's `Io` to the work, as one would an allocator.
#[io::main]
fn main(io: Io) {
    do_work(io);
}

/// Reusable code takes an `Io` if it performs I/O; here the I/O is a sleep.
fn do_work(io: Io) {
    println!("working");
    // Like the seed's `catch {}`: a canceled sleep is not this function's concern.
    let _ = io.sleep(Duration::from_secs(1), Clock::Awake);
}
