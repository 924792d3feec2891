//! Example 5 of the seed: the Zig fix for example 4 — join both tasks first, then check the
//! results. Correct, but it waits for `b` to finish its second of work before reporting an
//! error that was known at once, and forgetting the pattern silently brings the bug back (in
//! Zig; here the scope would catch it, see example 4).
//!
//! ```text
//! cargo run --example example5      # "working on an excuse …", ~1 s, "Error: OutOfMemory", exit 1
//! ```

use std::error::Error;
use std::fmt;
use std::time::Duration;

use io::{io_async, scope, Clock, Io};

/// Joins both, then checks: correct, but reports the error only after `b`'s second.
#[io::main]
fn main(io: Io) -> Result<(), Box<dyn Error>> {
    scope!(io, {
        let a = io_async!(do_work(io, "hard"));
        let b = io_async!(do_work(io, "on an excuse not to drink Spezi"));

        let a_result = a.join(io);
        let b_result = b.join(io);

        a_result?;
        b_result?;
        Ok(())
    })
}

/// Zig's `error.OutOfMemory`: an allocation failed (here it is simulated).
#[derive(Debug)]
struct OutOfMemory;

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutOfMemory")
    }
}

impl Error for OutOfMemory {}

/// Works on a copy of `flavor_text`; fails for the "hard" work.
fn do_work(io: Io, flavor_text: &str) -> Result<(), OutOfMemory> {
    // Simulate an error occurring:
    if flavor_text.starts_with('h') {
        return Err(OutOfMemory);
    }

    let copied_string = dupe(flavor_text)?;
    println!("working {copied_string}");
    let _ = io.sleep(Duration::from_secs(1), Clock::Awake);
    Ok(())
}

/// Zig's `gpa.dupe`: a failed allocation is an error to return, not an abort.
fn dupe(text: &str) -> Result<String, OutOfMemory> {
    let mut copy = String::new();
    copy.try_reserve_exact(text.len())
        .map_err(|_| OutOfMemory)?;
    copy.push_str(text);
    Ok(copy)
}
