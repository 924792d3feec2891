// A closure without `move` borrows what it uses, and a task may borrow only what outlives the
// scope: `local` dies at the end of the block, before the scope has joined the task. The
// suggested `io_async!(move || local.len())` moves `local` into the task instead.
use io::{io_async, scope, Io};

fn run(io: Io) -> usize {
    scope!(io, {
        let local = String::from("dies first");
        io_async!(|| local.len()).join(io)
    })
}

fn main() {
    let _ = run;
}
