// A hand-made scope could be forgotten with its tasks still running: creating one is unsafe.
use io::Io;

fn run(io: Io) {
    let scope = io::Scope::new(io);
    drop(scope);
}

fn main() {
    let _ = run;
}
