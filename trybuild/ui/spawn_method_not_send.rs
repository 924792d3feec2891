// A task may run on another thread: a `&self` method shares its receiver, which must be `Sync`
// (a `Cell` is not), and the arguments move, so they must be `Send` (an `Rc` is not).
use io::{io_async, scope, Io};
use std::cell::Cell;
use std::rc::Rc;

fn run(io: Io) {
    let counter = Cell::new(0);
    let mut list = Vec::new();
    scope!(io, {
        let _get = io_async!(counter.get());
        let _push = io_async!(list.push(Rc::new(1)));
    });
}

fn main() {
    let _ = run;
}
