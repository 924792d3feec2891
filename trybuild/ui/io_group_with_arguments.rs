// A group is created empty; tasks are spawned into it afterwards.
use io::{io_group, scope, Io};

fn run(io: Io) {
    scope!(io, {
        let _group = io_group!(io);
    });
}

fn main() {
    let _ = run;
}
