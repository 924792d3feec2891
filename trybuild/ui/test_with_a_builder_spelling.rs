// The attributes spell a single-threaded runtime `threads = 0`; the error lists the arguments
// and says so.
use io::Io;

#[io::test(single_threaded = true)]
fn alone(io: Io) {
    let _ = io;
}

fn main() {}
