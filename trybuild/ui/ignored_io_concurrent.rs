// `io_concurrent!` returns a `Result`: ignoring it ignores `ConcurrencyUnavailable` (and drops the
// handle, which cancels the task at once).
#![deny(unused_must_use)]
use io::{io_concurrent, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) {
    scope!(io, {
        io_concurrent!(work(io));
    });
}

fn main() {
    let _ = run;
}
