// The task captures a receiver variable the way a closure would (that is what makes the call
// resolve as it does without the macro). A by-value method of a `Copy` type reads the variable
// through a borrow, so the variable must outlive the scope, and `i` dies with each iteration.
// The compiler's suggestion is the fix: `io_async!(move i.min(2))` copies `i` into the task.
use io::{io_async, scope, Io};

fn run(io: Io) {
    scope!(io, {
        for i in 0..3_u32 {
            let _least = io_async!(i.min(2));
        }
    });
}

fn main() {
    let _ = run;
}
