// `tokio::join!` awaits inside its expansion: a scope cannot be suspended, so it is an error
// (the scope's closure is not async), even though scope! sees no `.await` token.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

async fn one() -> u32 {
    1
}

async fn run(io: Io) -> u32 {
    scope!(io, {
        let task = io_async!(work(io));
        let (a, b) = tokio::join!(one(), one());
        task.join(io) + a + b
    })
}

fn main() {
    let _ = run;
}
