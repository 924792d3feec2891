// Tasks are spawned inside `scope!`, which cancels and joins them on every way out.
use io::{io_concurrent, ConcurrencyUnavailable, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> Result<u32, ConcurrencyUnavailable> {
    let task = io_concurrent!(work(io))?;
    Ok(task.join(io))
}

fn main() {
    let _ = run;
}
