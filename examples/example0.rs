//! Example 0 of the seed: "Hello, World!" with a nap. Nothing asynchronous and no `Io` yet —
//! just a function that prints and sleeps the calling thread for one second.
//!
//! ```text
//! cargo run --example example0      # prints "working", exits after ~1 s
//! ```

use std::time::Duration;

/// The program: one piece of work, called directly.
fn main() {
    do_work();
}

/// Prints, then blocks the OS thread directly (the seed calls `nanosleep`).
fn do_work() {
    println!("working");
    std::thread::sleep(Duration::from_secs(1));
}
