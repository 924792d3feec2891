// A task runs apart from the scope's body (possibly after the body has returned), so it
// cannot spawn into that scope; a scope of its own can: `io_async!(move || scope!(io, { … }))`.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> u32 {
    scope!(io, { io_async!(move || io_async!(work(io)).join(io) + 1).join(io) })
}

fn main() {
    let _ = run;
}
