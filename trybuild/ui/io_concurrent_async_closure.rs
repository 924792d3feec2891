// io tasks block their caller: a task is a plain closure, not an `async` one.
use io::{io_concurrent, scope, ConcurrencyUnavailable, Io};

fn run(io: Io) -> Result<u32, ConcurrencyUnavailable> {
    scope!(io, { Ok(io_concurrent!(async move || 1)?.join(io)) })
}

fn main() {
    let _ = run;
}
