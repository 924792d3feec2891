// io's entry point blocks; it is not a Rust future.
use io::Io;

#[io::main]
async fn main(io: Io) {
    let _ = io;
}
