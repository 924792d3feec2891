// A task runs a call; a value has nothing to run.
use io::{io_async, scope, Io};

fn run(io: Io) -> u32 {
    scope!(io, { io_async!(42).join(io) })
}

fn main() {
    let _ = run;
}
