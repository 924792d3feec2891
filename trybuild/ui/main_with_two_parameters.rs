// The runtime passes exactly one argument: the Io handle.
use io::Io;

#[io::main]
fn main(io: Io, verbose: bool) {
    let _ = (io, verbose);
}
