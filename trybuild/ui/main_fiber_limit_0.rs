// The root task takes a fiber on io_uring: no fiber at all could not even start it.
use io::Io;

#[io::main(fiber_limit = 0)]
fn main(io: Io) {
    let _ = io;
}
