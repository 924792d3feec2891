// A number must fit in a usize.
use io::Io;

#[io::main(fiber_stack_size = 100_000_000_000_000_000_000)]
fn main(io: Io) {
    let _ = io;
}
