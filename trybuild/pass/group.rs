// A dynamic number of tasks: a Group owned by the scope.
use std::sync::atomic::{AtomicUsize, Ordering};

use io::{io_group, scope, Canceled, Io};

fn run(io: Io) -> Result<usize, Canceled> {
    let done = AtomicUsize::new(0);
    scope!(io, {
        let group = io_group!();
        for _ in 0..100 {
            group.spawn(io, || {
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        group.wait(io)?;
    });
    Ok(done.load(Ordering::Relaxed))
}

#[io::main]
fn main(io: Io) -> Result<(), Canceled> {
    assert_eq!(run(io)?, 100);
    Ok(())
}
