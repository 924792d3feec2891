//! Example 4 of the seed: failure. The first task fails with `OutOfMemory`; `?` on its join
//! leaves `main` before `b` is joined.
//!
//! In Zig this was the bug: the early `try` skipped `b.await`, leaking `b`'s closure, and the
//! program only ended after `b` had slept its full second. Written the same natural way here,
//! it is correct and fails at once: `b` belongs to the `scope!`, and every way out of the
//! scope — `?` included — cancels what still runs (so `b`'s sleep returns at once), joins it,
//! and drops its result. There is no leak to write.
//!
//! ```text
//! cargo run --example example4      # "working on an excuse …", then "Error: OutOfMemory", exit 1
//! ```

use std::error::Error;
use std::fmt;
use std::time::Duration;

use io::{io_async, scope, Clock, Io};

/// The natural way: `?` after each join. Fails at once with `OutOfMemory`.
#[io::main]
fn main(io: Io) -> Result<(), Box<dyn Error>> {
    scope!(io, {
        let a = io_async!(do_work(io, "hard"));
        let b = io_async!(do_work(io, "on an excuse not to drink Spezi"));

        a.join(io)?; // returns early: the scope cancels and joins `b` on the way out
        b.join(io)?;
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

    let copied_string = dupe(flavor_text)?; // freed when it goes out of scope (Zig's defer)
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
