//! Example 3 of the seed: two things at the same time. Two seconds of work take one second of
//! wall time, because the asynchrony we expressed lets the backend overlap them.
//!
//! ```text
//! cargo run --example example3      # both "working …" lines at once, exits after ~1 s (not 2)
//! ```

use std::time::Duration;

use io::{io_async, scope, Clock, Io};

/// Two pieces of work at the same time: ~1 s in all.
#[io::main]
fn main(io: Io) {
    scope!(io, {
        let a = io_async!(do_work(io, "hard"));
        let b = io_async!(do_work(io, "on an excuse not to drink Spezi"));

        a.join(io);
        b.join(io);
    });
}

/// Prints which work it does, then sleeps one second.
fn do_work(io: Io, flavor_text: &str) {
    println!("working {flavor_text}");
    let _ = io.sleep(Duration::from_secs(1), Clock::Awake);
}
