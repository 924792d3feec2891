// `#[io::test(backend = …)]` names the one backend the test runs on; "auto" would be a
// different one per machine.
use io::Io;

#[io::test(backend = "auto")]
fn sleeps(io: Io) {
    let _ = io;
}

fn main() {}
