// A closure given to `io_async!` is the task's body: nothing calls it with arguments.
use io::{io_async, scope, Io};

fn run(io: Io) -> u32 {
    scope!(io, { io_async!(|n: u32, _io: Io| n + 1).join(io) })
}

fn main() {
    let _ = run;
}
