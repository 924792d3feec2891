// One spawn, one call.
use io::{io_concurrent, scope, ConcurrencyUnavailable, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> Result<u32, ConcurrencyUnavailable> {
    scope!(io, { Ok(io_concurrent!(work(io), work(io))?.join(io)) })
}

fn main() {
    let _ = run;
}
