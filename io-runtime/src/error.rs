//! The runtime's error types: [`Canceled`], [`ConcurrencyUnavailable`], [`Closed`] and
//! [`Timeout`], and the questions to ask of a returned `std::io::Error`: [`is_canceled`] and
//! [`raw_os_error`].
//!
//! Each type is a distinct zero-sized type implementing [`std::error::Error`], so `?` converts it
//! into the caller's error type (`Box<dyn Error>`, `std::io::Error`, or a user enum with `From`).

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
    /// the runtime is single-threaded, its `concurrent_limit` or fiber stacks ran out, or a new
    /// fiber stack or thread would not leave headroom under the process's address-space limit
    /// (`RLIMIT_AS`).
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

/// The operating system's error number (errno) behind a [`std::io::Error`] that a file or
/// socket operation of this crate returned, or `None` for an error that did not come from the
/// kernel (a cancel, `WriteZero`, an invalid argument).
///
/// The errors of `io::fs` and `io::net` name their operation and target ("accept
/// 127.0.0.1:7878: Too many open files (os error 24)"), so they wrap the kernel's error, and
/// their own [`raw_os_error`](std::io::Error::raw_os_error) is `None`; their
/// [`kind`](std::io::Error::kind) is the kernel error's, but std has no stable kind for many
/// errnos (`EMFILE`, `ENFILE`, `ENOBUFS`…). This function answers for both: the error's own
/// errno, or else the first one found in what it wraps (through
/// [`get_ref`](std::io::Error::get_ref) of wrapped `std::io::Error`s and
/// [`source`](std::error::Error::source) of other errors). The kernel's error is also the
/// `source()` of the annotated one, for code that walks error chains.
///
/// # Examples
/// Telling "out of descriptors" (retry later) from other errors:
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let error = runtime.run(|io| io::fs::File::open(io, "/no/such/file")).unwrap_err();
/// assert_eq!(error.raw_os_error(), None); // the error is annotated…
/// assert_eq!(io::raw_os_error(&error), Some(libc::ENOENT)); // …and still has its errno,
/// assert!(error.to_string().starts_with("open /no/such/file: ")); // and its message the path.
///
/// // std's own errors answer too:
/// let too_many = std::io::Error::from_raw_os_error(libc::EMFILE);
/// assert_eq!(io::raw_os_error(&too_many), Some(libc::EMFILE));
/// assert_eq!(io::raw_os_error(&std::io::Error::other("no errno")), None);
/// ```
pub fn raw_os_error(error: &std::io::Error) -> Option<i32> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io_error) => {
                if let Some(errno) = io_error.raw_os_error() {
                    return Some(errno);
                }
                // `io::Error::source` skips the wrapped error (it returns the wrapped error's
                // source), so the wrapped error itself is taken from `get_ref`.
                io_error
                    .get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static))
            }
            None => current.source(),
        };
    }
    None
}

/// The error a canceled file or socket operation returns: not `ErrorKind::Interrupted`,
/// because `std::io::copy`, `read_exact`, `write_all`, `read_to_end` and `BufReader` retry
/// `Interrupted` forever, and a canceled task must get out of them.
pub(crate) fn canceled_io() -> std::io::Error {
    std::io::Error::other(Canceled)
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::io;

    use super::*;

    /// An error type of someone else's that wraps an `io::Error` as its source.
    #[derive(Debug)]
    struct Wrapper(io::Error);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "wrapped: {}", self.0)
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_os_error_answers_its_own_errno() {
        let error = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(raw_os_error(&error), Some(libc::EMFILE));
    }

    #[test]
    fn errors_without_an_errno_answer_none() {
        assert_eq!(raw_os_error(&io::Error::other("message")), None);
        assert_eq!(raw_os_error(&io::ErrorKind::WriteZero.into()), None);
        assert_eq!(raw_os_error(&canceled_io()), None);
        let wrapped_message = io::Error::other(io::Error::other("inner message"));
        assert_eq!(raw_os_error(&wrapped_message), None);
    }

    #[test]
    fn a_wrapped_errno_is_found_at_any_depth() {
        let direct = io::Error::other(io::Error::from_raw_os_error(libc::ENFILE));
        assert_eq!(raw_os_error(&direct), Some(libc::ENFILE));

        let through_source = io::Error::other(Wrapper(io::Error::from_raw_os_error(libc::ENOMEM)));
        assert_eq!(raw_os_error(&through_source), Some(libc::ENOMEM));

        let nested = io::Error::other(Wrapper(io::Error::other(Wrapper(
            io::Error::from_raw_os_error(libc::ENOBUFS),
        ))));
        assert_eq!(raw_os_error(&nested), Some(libc::ENOBUFS));
    }
}
