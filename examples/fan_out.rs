//! Fan-out with first-error cancel: counts the bytes of every path given, one task per path.
//! The first error cancels every other task; they are joined before the error is printed.
//!
//! ```text
//! cargo run --example fan_out -- PATH...
//! ```
//!
//! The path `slow` stands for a source that takes 10 s to answer (only a cancel ends it early).
//! Prints `N paths, B bytes` and exits 0 once every path was read, or
//! `first error: open P: No such file or directory (os error 2)` and `canceled: K` (the tasks
//! that a cancel ended) and exits 1.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use io::fs::File;
use io::{io_group, is_canceled, scope, Clock, Io};

/// Reads `path` to its end through the runtime; each read is a cancellation point.
fn count_bytes(io: Io, path: &str) -> std::io::Result<u64> {
    if path == "slow" {
        io.sleep(Duration::from_secs(10), Clock::Awake)?;
        return Ok(0);
    }
    let file = File::open(io, path)?;
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        match file.read(io, &mut buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

#[io::main]
fn main(io: Io) -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    let canceled = AtomicUsize::new(0);
    let counted = scope!(io, {
        let group = io_group!();
        for path in &paths {
            let canceled = &canceled;
            group.spawn(io, move || {
                count_bytes(io, path).inspect_err(|error| {
                    if is_canceled(error) {
                        canceled.fetch_add(1, Ordering::SeqCst);
                    }
                })
            });
        }
        // Every value in spawn order, or the first error after the others were canceled
        // and joined.
        group.try_join_all(io)
    });
    match counted {
        Ok(sizes) => {
            println!("{} paths, {} bytes", sizes.len(), sizes.iter().sum::<u64>());
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("first error: {error}");
            println!("canceled: {}", canceled.load(Ordering::SeqCst));
            ExitCode::FAILURE
        }
    }
}
