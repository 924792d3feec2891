// `#[io::test]` runs the test once per backend; it takes no backend.
use io::Io;

#[io::test(backend = "uring")]
fn sleeps(io: Io) {
    let _ = io;
}

fn main() {}
