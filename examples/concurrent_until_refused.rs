//! Spawns `io_concurrent!` sleepers until the runtime refuses one, then lets the scope cancel
//! them all. Under a limit on address space (`ulimit -v`), running out must be
//! `ConcurrencyUnavailable` and a clean exit, never an abort: `tests/fault_address_space.rs`
//! runs this program under limits from 128 MiB to 8 GiB, on each backend.
//!
//! ```text
//! (ulimit -v 1048576; IO_BACKEND=uring cargo run --example concurrent_until_refused)
//! ```
//!
//! Prints `spawned N refused` (or `spawned N cap` after [`CAP`] sleepers), then, once the
//! runtime is gone, `exited cleanly`. Exit status 0; 1 if the runtime cannot start.
#![forbid(unsafe_code)]

use std::time::Duration;

use io::{io_concurrent, scope, Backend, Clock, ConcurrencyUnavailable, Io, Runtime};

/// The most sleepers spawned.
const CAP: usize = 1_000_000;

/// How many spawns go by between two short naps of the spawner (see `main`).
const NAP_EVERY: usize = 64;

/// A sleeper: sleeps 10 s, or until canceled.
fn sleeper(io: Io) {
    let _ = io.sleep(Duration::from_secs(10), Clock::Awake);
}

fn main() {
    let backend = std::env::var("IO_BACKEND").unwrap_or_else(|_| "auto".to_owned());
    // The first line also allocates standard output's buffer while memory is plentiful.
    println!("backend {backend}");
    let runtime =
        Backend::from_name(&backend).and_then(|kind| Runtime::builder().backend(kind).build());
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            std::process::exit(1);
        }
    };
    runtime.run(|io| {
        scope!(io, {
            let mut sleepers = Vec::new();
            let how = loop {
                if sleepers.len() == CAP {
                    break "cap";
                }
                match io_concurrent!(sleeper(io)) {
                    Ok(sleeping) => sleepers.push(sleeping),
                    Err(ConcurrencyUnavailable) => break "refused",
                }
                // On io_uring a spawned task starts once the spawner parks: nap now and then,
                // so that the sleepers hold their timers while the spawning goes on.
                if sleepers.len() % NAP_EVERY == 0 {
                    let _ = io.sleep(Duration::from_millis(1), Clock::Awake);
                }
            };
            println!("spawned {} {how}", sleepers.len());
            // The sleepers are canceled and joined as the scope ends.
        });
    });
    drop(runtime);
    println!("exited cleanly");
}
