// Every setting `#[io::main]` takes, checked at run time: the concurrency limit refuses a
// second concurrent task while the first runs, the async limit of 0 runs io_async! inline.
// (IO_BACKEND still picks the backend: the attribute does not pin it.)
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use io::{io_async, io_concurrent, scope, Clock, ConcurrencyUnavailable, Io};

fn sleeper(io: Io) {
    let _ = io.sleep(Duration::from_secs(10), Clock::Awake);
}

fn sees(_io: Io, flag: &AtomicBool) -> bool {
    flag.load(Ordering::SeqCst)
}

#[io::main(
    threads = 2,
    async_limit = 0,
    concurrent_limit = 1,
    fiber_stack_size = 1_048_576,
    fiber_limit = 64,
    deadlock = "2s"
)]
fn main(io: Io) {
    scope!(io, {
        let first = io_concurrent!(sleeper(io));
        assert!(first.is_ok(), "the first concurrent task is refused");
        let second = io_concurrent!(sleeper(io));
        assert!(
            matches!(second, Err(ConcurrencyUnavailable)),
            "concurrent_limit = 1 let a second concurrent task start"
        );
    }); // cancels and joins the first
    let returned = AtomicBool::new(false);
    let saw_returned = scope!(io, {
        let task = io_async!(sees(io, &returned));
        returned.store(true, Ordering::SeqCst);
        task.join(io)
    });
    assert!(
        !saw_returned,
        "async_limit = 0 runs the task inline, before the spawn returns"
    );
}
