// Tasks may run on another thread, so what a closure captures must be `Send`; `Rc` is not.
use io::{io_async, scope, Io};
use std::rc::Rc;

fn run(io: Io) -> u32 {
    let shared = Rc::new(7);
    scope!(io, { io_async!(move || *shared + 1).join(io) })
}

fn main() {
    let _ = run;
}
