//! The runtime's error types: [`Canceled`], [`ConcurrencyUnavailable`], [`Closed`] and
//! [`Timeout`].
//!
//! Each is a distinct zero-sized type implementing [`std::error::Error`], so `?` converts it into
//! the caller's error type (`Box<dyn Error>`, `std::io::Error`, or a user enum with `From`).

use std::fmt;

macro_rules! unit_error {
    ($(#[$doc:meta])* $name:ident, $message:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($message)
            }
        }

        impl std::error::Error for $name {}
    };
}

unit_error!(
    /// A cancellation point observed a cancel request for the current task.
    ///
    /// Returned by every blocking operation of the runtime (sleep, queue, mutex, join…) once the
    /// task that runs it has been canceled. Return it upwards: the canceler is waiting for the
    /// task to finish.
    Canceled,
    "canceled"
);

unit_error!(
    /// `io_concurrent!` could not guarantee that the call runs at the same time as its caller:
    /// the runtime is single-threaded, or its `concurrent_limit` (or fiber stacks) ran out.
    ConcurrencyUnavailable,
    "ConcurrencyUnavailable"
);

unit_error!(
    /// The [`Queue`](crate::Queue) was closed: puts fail at once, gets fail once it is drained.
    Closed,
    "closed"
);

unit_error!(
    /// A [`timeout`](crate::Io::timeout) expired before its call finished.
    Timeout,
    "timed out"
);

impl From<Canceled> for std::io::Error {
    fn from(_: Canceled) -> Self {
        std::io::Error::other(Canceled)
    }
}

/// Whether a [`std::io::Error`] returned by a file or socket operation means "canceled".
///
/// Cancellation surfaces as an error carrying a [`Canceled`] payload. Its kind is
/// `ErrorKind::Other`, not `Interrupted`: `std::io::copy`, `read_exact`, `write_all` and
/// `BufReader` retry `Interrupted` forever, and a canceled task must get out of them.
pub fn is_canceled(error: &std::io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<Canceled>())
}

/// The error a canceled file or socket operation returns: not `ErrorKind::Interrupted`,
/// because `std::io::copy`, `read_exact`, `write_all`, `read_to_end` and `BufReader` retry
/// `Interrupted` forever, and a canceled task must get out of them.
pub(crate) fn canceled_io() -> std::io::Error {
    std::io::Error::other(Canceled)
}
