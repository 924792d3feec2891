// The error lists every argument #[io::main] takes.
use io::Io;

#[io::main(flavor = "multi_thread", threads = 2)]
fn main(io: Io) {
    let _ = io;
}
