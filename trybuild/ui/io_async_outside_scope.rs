// Tasks are spawned inside `scope!`, which cancels and joins them on every way out.
use io::{io_async, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> u32 {
    let task = io_async!(work(io));
    task.join(io)
}

fn main() {
    let _ = run;
}
