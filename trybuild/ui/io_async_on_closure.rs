// `io_async!` takes the call itself (its arguments are evaluated now), not a closure.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> u32 {
    scope!(io, { io_async!(|| work(io)).join(io) })
}

fn main() {
    let _ = run;
}
