// A method that does not exist is reported on its name, in the call as written.
use io::{io_async, scope, Io};

fn run(io: Io, x: &String) -> usize {
    scope!(io, { io_async!(x.no_such_method()).join(io) })
}

fn main() {
    let _ = run;
}
