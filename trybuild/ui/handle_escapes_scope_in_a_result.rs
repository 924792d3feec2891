// What `io_concurrent!` returns holds a handle too: it cannot leave its scope either, nor can a
// group.
use io::{io_concurrent, io_group, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) {
    let spawned = scope!(io, { io_concurrent!(work(io)) });
    let group = scope!(io, { io_group!() });
    let _ = (spawned, group);
}

fn main() {
    let _ = run;
}
