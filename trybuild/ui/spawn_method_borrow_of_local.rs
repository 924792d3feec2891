// A `&self` method borrows its receiver for the whole task, so the receiver must outlive the
// scope; `local` dies at the end of the block, before the scope has joined the task. (The
// suggested `io_async!(move local.len())` moves `local` into the task instead.)
use io::{io_async, scope, Io};

fn run(io: Io) {
    scope!(io, {
        let local = String::from("dies first");
        let _task = io_async!(local.len());
    });
}

fn main() {
    let _ = run;
}
