//! Helpers shared by the behaviour tests: one runtime per backend, and bounded waits.
#![allow(dead_code)]

pub mod counting;

use std::time::{Duration, Instant};

use io::{Io, Runtime};

/// The backends every behaviour test runs on.
pub const BACKENDS: &[io::Backend] = &[io::Backend::Threaded, io::Backend::Uring];

/// Runs `f` once per backend (2 workers each), naming the backend on failure.
pub fn each_backend(f: impl Fn(Io)) {
    for &backend in BACKENDS {
        let runtime = match Runtime::builder().backend(backend).threads(2).build() {
            Ok(runtime) => runtime,
            // A kernel that refuses io_uring: skip that backend, saying why.
            Err(reason) if backend == io::Backend::Uring => {
                eprintln!("skipped on {backend:?}: {reason}");
                continue;
            }
            Err(reason) => panic!("cannot build {backend:?}: {reason}"),
        };
        runtime.run(&f);
    }
}

/// Measures how long `f` takes.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let result = f();
    (result, start.elapsed())
}

/// A bound generous enough for a loaded 2-core CI machine, far below a 10 s block.
pub const PROMPT: Duration = Duration::from_secs(2);

/// What tasks block on when a test expects them to be canceled.
pub const LONG: Duration = Duration::from_secs(10);
