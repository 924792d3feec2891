// A limit cannot be negative.
use io::Io;

#[io::main(async_limit = -1)]
fn main(io: Io) {
    let _ = io;
}
