// The backends are "threaded", "uring" and "auto".
use io::Io;

#[io::main(backend = "epoll")]
fn main(io: Io) {
    let _ = io;
}
