// A handle cannot leave the scope that owns its task: the scope joins every task when it ends.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> u32 {
    let handle = scope!(io, { io_async!(work(io)) });
    handle.join(io)
}

fn main() {
    let _ = run;
}
