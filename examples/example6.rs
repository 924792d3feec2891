//! Example 6 of the seed: cancellation. The seed adds `defer x.cancel(io) catch {};` after
//! each spawn so that an early `try` cancels the other task instead of leaking or waiting for
//! it. `scope!` inserts exactly those deferred cancels (newest first) for every task it owns,
//! so the Rust code is example 4's — and, like the seed's example 6, it fails at once: the
//! moment `a`'s error is returned, `b` is canceled, its sleep returns, and it is joined.
//!
//! `cancel` has the same result as `join`; it only requests cancellation first. How a task
//! reacts is up to it: here `do_work` ignores the `Canceled` from its sleep, like the seed's
//! `catch {}`, and simply returns.
//!
//! ```text
//! cargo run --example example6      # "working on an excuse …", "Error: OutOfMemory" at once, exit 1
//! ```

use std::error::Error;
use std::fmt;
use std::time::Duration;

use io::{io_async, scope, Clock, Io};

/// Example 4's code: the scope's deferred cancels make it fail at once.
#[io::main]
fn main(io: Io) -> Result<(), Box<dyn Error>> {
    scope!(io, {
        let a = io_async!(do_work(io, "hard"));
        // (the seed: `defer a.cancel(io) catch {};` — the scope does it)
        let b = io_async!(do_work(io, "on an excuse not to drink Spezi"));
        // (the seed: `defer b.cancel(io) catch {};` — the scope does it)

        a.join(io)?;
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
