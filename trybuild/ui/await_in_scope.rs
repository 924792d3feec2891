// A scope inside a suspended Rust future could be forgotten with its tasks still running.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

async fn other() {}

async fn run(io: Io) -> u32 {
    scope!(io, {
        let task = io_async!(work(io));
        other().await;
        task.join(io)
    })
}

fn main() {
    let _ = run;
}
