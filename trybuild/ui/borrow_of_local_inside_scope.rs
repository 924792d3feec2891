// A task may borrow what outlives the scope; `local` dies at the end of the block, before the
// scope has joined the task.
use io::{io_async, scope, Io};

fn count(_io: Io, text: &str) -> usize {
    text.len()
}

fn run(io: Io) {
    scope!(io, {
        let local = String::from("dies first");
        let _task = io_async!(count(io, &local));
    });
}

fn main() {
    let _ = run;
}
