// A scope inside a scope: the inner one has its own tasks and may borrow the outer one's
// locals; an inner task may be spawned from a task of the outer scope too.
use io::{io_async, scope, Io};

fn add(_io: Io, a: u32, b: u32) -> u32 {
    a + b
}

fn inner_sum(io: Io, values: &[u32]) -> u32 {
    scope!(io, {
        let first = io_async!(add(io, values[0], values[1]));
        let second = io_async!(add(io, values[2], values[3]));
        first.join(io) + second.join(io)
    })
}

fn run(io: Io) -> u32 {
    let values = vec![1, 2, 3, 4];
    scope!(io, {
        let outer = io_async!(inner_sum(io, &values));
        let nested = scope!(io, {
            let task = io_async!(inner_sum(io, &values));
            task.join(io)
        });
        outer.join(io) + nested
    })
}

#[io::main]
fn main(io: Io) {
    assert_eq!(run(io), 20);
}
