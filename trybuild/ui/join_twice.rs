// `join` consumes the handle: a task's result is taken once.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> u32 {
    scope!(io, {
        let task = io_async!(work(io));
        let first = task.join(io);
        let second = task.join(io);
        first + second
    })
}

fn main() {
    let _ = run;
}
