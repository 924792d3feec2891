// The seed's example 4, written the natural way: `?` after each join. In Zig the early `try`
// skipped the second await and leaked its task; here the scope cancels and joins it, and the
// error comes back at once instead of after the other task's 1 s sleep.
use std::fmt;
use std::time::{Duration, Instant};

use io::{io_async, scope, Clock, Io};

#[derive(Debug, PartialEq)]
struct OutOfMemory;

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutOfMemory")
    }
}

impl std::error::Error for OutOfMemory {}

fn do_work(io: Io, flavor_text: &str) -> Result<(), OutOfMemory> {
    // Simulate an error occurring:
    if flavor_text.starts_with('h') {
        return Err(OutOfMemory);
    }
    let copied_string = flavor_text.to_owned();
    println!("working {copied_string}");
    let _ = io.sleep(Duration::from_secs(1), Clock::Awake);
    Ok(())
}

fn juicy_main(io: Io) -> Result<(), OutOfMemory> {
    scope!(io, {
        let a = io_async!(do_work(io, "hard"));
        let b = io_async!(do_work(io, "on an excuse not to drink Spezi"));
        a.join(io)?;
        b.join(io)?;
        Ok(())
    })
}

#[io::main]
fn main(io: Io) {
    let start = Instant::now();
    assert_eq!(juicy_main(io), Err(OutOfMemory));
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_millis(900), "took {elapsed:?}");
}
