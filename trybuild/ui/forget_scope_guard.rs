// The scope's guard is hygienic: user code cannot name it, so it cannot be forgotten or moved.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) {
    scope!(io, {
        let _task = io_async!(work(io));
        std::mem::forget(__io_scope);
    });
}

fn main() {
    let _ = run;
}
