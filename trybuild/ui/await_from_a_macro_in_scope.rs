// An `.await` written by a macro is invisible to scope!'s own check, which only sees the macro
// call; the body runs in a plain (not async) closure, so the compiler rejects it anyway and the
// scope never lives inside a Rust future that could be forgotten.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

async fn other() {}

macro_rules! wait {
    ($e:expr) => {
        $e.await
    };
}

async fn run(io: Io) -> u32 {
    scope!(io, {
        let task = io_async!(work(io));
        wait!(other());
        task.join(io)
    })
}

fn main() {
    let _ = run;
}
