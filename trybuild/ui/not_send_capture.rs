// Tasks may run on another thread, so what they capture must be `Send`; `Rc` is not.
use io::{io_async, scope, Io};
use std::rc::Rc;

fn read(_io: Io, shared: Rc<u32>) -> u32 {
    *shared
}

fn run(io: Io) -> u32 {
    let shared = Rc::new(7);
    scope!(io, { io_async!(read(io, shared)).join(io) })
}

fn main() {
    let _ = run;
}
