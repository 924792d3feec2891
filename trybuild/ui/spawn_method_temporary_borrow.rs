// The receiver is evaluated at the spawn, like the arguments: an iterator over a temporary
// would outlive it, since the task runs after the spawn's statement has ended.
use io::{io_async, scope, Io};

fn run(io: Io) -> i32 {
    scope!(io, { io_async!(vec![1, 2].iter().sum::<i32>()).join(io) })
}

fn main() {
    let _ = run;
}
