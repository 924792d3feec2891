// Numbers are integer literals, not strings.
use io::Io;

#[io::main(concurrent_limit = "8")]
fn main(io: Io) {
    let _ = io;
}
