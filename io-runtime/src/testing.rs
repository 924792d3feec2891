//! What the unit tests of the runtime share: a small threaded runtime and a sleep in
//! milliseconds.

use std::time::Duration;

use crate::{Canceled, Clock, Io, Runtime};

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
