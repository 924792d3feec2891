// The scope spawns on a runtime: it needs the Io handle first.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> u32 {
    scope!({ io_async!(work(io)).join(io) })
}

fn main() {
    let _ = run;
}
