// A fn item inside a scope is not part of it: its body cannot spawn into the scope.
use io::{io_async, scope, Io};

fn work(_io: Io) -> u32 {
    1
}

fn run(io: Io) -> u32 {
    scope!(io, {
        fn helper(io: Io) -> u32 {
            io_async!(work(io)).join(io)
        }
        helper(io)
    })
}

fn main() {
    let _ = run;
}
