//! Example 7 of the seed: resource allocation. Each task returns an owned `String` that the
//! caller must free. The seed frees it in `defer if (x.cancel(io)) |s| gpa.free(s)`; here a
//! `String` frees itself when dropped, and the scope drops the result of any task that was
//! not joined (canceled on an early return). So `?` and `return` stay ordinary and nothing
//! leaks on any path.
//!
//! ```text
//! cargo run --example example7      # two "working …" lines, ~1 s, two "finished …" lines
//! ```

use std::error::Error;
use std::fmt;
use std::time::Duration;

use io::{io_async, scope, Clock, Io};

/// Both tasks return owned strings; the results are printed after ~1 s.
#[io::main]
fn main(io: Io) -> Result<(), Box<dyn Error>> {
    scope!(io, {
        let a = io_async!(do_work(io, "hard"));
        let b = io_async!(do_work(io, "on an excuse not to drink Spezi"));

        // Had `a` failed, `?` would return here and the scope would cancel `b` and drop its
        // String; had `b` failed, `a_string` would be dropped on the way out.
        let a_string = a.join(io)?;
        let b_string = b.join(io)?;
        println!("finished {a_string}");
        println!("finished {b_string}");
        Ok(())
    })
}

/// Zig's `error.OutOfMemory`: an allocation failed.
#[derive(Debug)]
struct OutOfMemory;

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutOfMemory")
    }
}

impl Error for OutOfMemory {}

/// Returns an owned copy of `flavor_text` after a second of work; the caller owns it.
fn do_work(io: Io, flavor_text: &str) -> Result<String, OutOfMemory> {
    let copied_string = dupe(flavor_text)?;
    println!("working {copied_string}");
    let _ = io.sleep(Duration::from_secs(1), Clock::Awake);
    Ok(copied_string)
}

/// Zig's `gpa.dupe`: a failed allocation is an error to return, not an abort.
fn dupe(text: &str) -> Result<String, OutOfMemory> {
    let mut copy = String::new();
    copy.try_reserve_exact(text.len())
        .map_err(|_| OutOfMemory)?;
    copy.push_str(text);
    Ok(copy)
}
