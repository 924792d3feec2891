//! What the unit tests of the runtime share: a small threaded runtime, a sleep in
//! milliseconds, and the grant-versus-cancel race of the sync primitives.

use std::time::{Duration, Instant};

use crate::{Canceled, Clock, Io, Runtime, Timeout};

/// Longer than any test waits for a cancel or a deadline to end it (they bound with 2 s).
pub(crate) const LONG: Duration = Duration::from_secs(10);

/// A threaded runtime with two workers.
pub(crate) fn runtime() -> Runtime {
    Runtime::builder().threads(2).build().unwrap()
}

/// Sleeps `millis` milliseconds on the monotonic clock.
pub(crate) fn sleep(io: Io, millis: u64) -> Result<(), Canceled> {
    io.sleep(Duration::from_millis(millis), Clock::Awake)
}

/// Races a grant against a cancel, 50 rounds on a fresh [`runtime`], for the hand-off of the
/// sync primitives. Each round `hold` takes the primitive, then a `waiter` and a `next` task
/// queue behind it (each bounded by [`LONG`]); the holder lets go and the waiter is canceled at
/// once, so the grant and the cancel race. `got_in` checks what `next` returned, the round must
/// take under 2 s, then `settled` checks the primitive.
pub(crate) fn race_grant_and_cancel<H, W: Send, N: Send>(
    hold: impl Fn(Io) -> H,
    waiter: impl Fn(Io) -> W + Sync,
    next: impl Fn(Io) -> N + Sync,
    got_in: impl Fn(Result<N, Timeout>),
    settled: impl Fn(),
) {
    runtime().run(|io| {
        io.scope(|s| {
            for _ in 0..50 {
                let held = hold(io);
                let waiting = s
                    .spawn_concurrent(|| io.timeout(LONG, || waiter(io)))
                    .unwrap();
                let queued = s
                    .spawn_concurrent(|| io.timeout(LONG, || next(io)))
                    .unwrap();
                sleep(io, 1).unwrap();
                drop(held);
                let start = Instant::now();
                let _ = waiting.cancel(io);
                got_in(queued.join(io));
                assert!(start.elapsed() < Duration::from_secs(2));
                settled();
            }
        })
    });
}
