// `cancel` behaves like `join` (it returns the result) and consumes the handle too.
use io::{io_async, scope, Canceled, Clock, Io};
use std::time::Duration;

fn work(io: Io) -> Result<u32, Canceled> {
    io.sleep(Duration::from_secs(1), Clock::Awake)?;
    Ok(1)
}

fn run(io: Io) -> Result<u32, Canceled> {
    scope!(io, {
        let task = io_async!(work(io));
        let _ = task.cancel(io);
        task.join(io)
    })
}

fn main() {
    let _ = run;
}
