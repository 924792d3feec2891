// `scope_impl!` takes the path of the io crate first (`io::scope!` passes `$crate`). Called
// directly with another path, its expansion still contains no unsafe call: it calls the safe
// `<path>::__private::scope(io, |scope| …)`, which this fake module does not have, so the only
// way left to create a `Scope` (its `unsafe fn new`) is never reached.
use io::Io;

mod other {
    pub mod __private {
        pub struct Scope;

        impl Scope {
            pub unsafe fn new(_: io::Io) -> Self {
                Scope
            }
        }
    }
}

fn run(io: Io) -> u32 {
    io::__private::scope_impl!(other; io, { 1 })
}

fn main() {
    let _ = run;
}
