// A hand-made scope could be forgotten with its tasks still running: user code cannot make one
// (only `Io::scope`, which keeps it in its own frame, can).
use io::Io;

fn run(io: Io) {
    let scope = io::Scope::new(io);
    drop(scope);
}

fn main() {
    let _ = run;
}
