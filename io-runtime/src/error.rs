//! The runtime's error types: [`Canceled`], [`ConcurrencyUnavailable`], [`Closed`] and
//! [`Timeout`], and the questions to ask of a returned `std::io::Error`: [`is_canceled`] and
//! [`raw_os_error`].
//!
//! Each type is a distinct zero-sized type implementing [`std::error::Error`], so `?` converts it
//! into the caller's error type (`Box<dyn Error>`, `std::io::Error`, or a user enum with `From`).
//!
//! # Into `std::io::Error`
//! Every error type of the crate converts into a [`std::io::Error`] whose
//! [`get_ref`](std::io::Error::get_ref) is the original error (so
//! `error.get_ref().and_then(|e| e.downcast_ref::<Timeout>())` finds it), with a kind that
//! tells the reasons apart:
//!
//! | error | kind | |
//! |---|---|---|
//! | [`Canceled`] | `Other` | [`is_canceled`] is true; not `Interrupted`, which std retries |
//! | [`Timeout`] | `TimedOut` | [`is_canceled`] is false |
//! | [`ConcurrencyUnavailable`] | `ResourceBusy` | |
//! | [`Closed`] | `BrokenPipe` | |
//! | [`QueueError`](crate::QueueError) | as `Canceled` / `Closed` | |
//! | [`PutError`](crate::PutError) | as `Canceled` / `Closed` | the item is dropped |
//! | [`TryPutError`](crate::TryPutError) | `WouldBlock` (`Full`) / `BrokenPipe` (`Closed`) | the item is dropped |
//! | [`BuildError`](crate::BuildError) | `Other` | |
//!
//! Every one of them is also `Send + Sync + 'static` (the item errors when their item is), so `?`
//! converts it into `Box<dyn Error + Send + Sync>` as well.

use std::fmt;
use std::io::ErrorKind;

use crate::queue::{PutError, QueueError};
use crate::runtime::BuildError;

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
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let slept = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let sleeper = s
    ///             .spawn_concurrent(|| io.sleep(Duration::from_secs(10), io::Clock::Awake))
    ///             .unwrap();
    ///         sleeper.cancel(io) // the sleep returns at once
    ///     })
    /// });
    /// assert_eq!(slept, Err(io::Canceled));
    /// ```
    Canceled,
    "canceled"
);

unit_error!(
    /// `io_concurrent!` could not guarantee that the call runs at the same time as its caller:
    /// the runtime is single-threaded, its `concurrent_limit` or fiber stacks ran out, or a new
    /// fiber stack or thread would not leave headroom under the process's address-space limit
    /// (`RLIMIT_AS`).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().single_threaded().build().unwrap();
    /// let refused = runtime.run(|io| io.scope(|s| s.spawn_concurrent(|| 42).map(|f| f.join(io))));
    /// assert_eq!(refused, Err(io::ConcurrencyUnavailable));
    /// ```
    ConcurrencyUnavailable,
    "ConcurrencyUnavailable"
);

unit_error!(
    /// The [`Queue`](crate::Queue) was closed: puts fail at once, gets fail once it is drained.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let queue = io::Queue::new(4);
    /// let result = runtime.run(|io| {
    ///     queue.put_one(io, "last").unwrap();
    ///     queue.close();
    ///     // What was put before the close is still there; then the queue is drained.
    ///     (queue.try_get_one(), queue.try_get_one())
    /// });
    /// assert_eq!(result, (Ok(Some("last")), Err(io::Closed)));
    /// ```
    Closed,
    "closed"
);

unit_error!(
    /// A [`timeout`](crate::Io::timeout) expired before its call finished.
    ///
    /// As a `std::io::Error` its kind is `TimedOut`; [`try_timeout`](crate::Io::try_timeout)
    /// returns it in the call's own error type.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let result = runtime.run(|io| {
    ///     let nap = || io.sleep(Duration::from_secs(10), io::Clock::Awake);
    ///     io.timeout(Duration::from_millis(5), nap)
    /// });
    /// assert_eq!(result, Err(io::Timeout));
    /// ```
    Timeout,
    "timed out"
);

/// The error a canceled file or socket operation returns: kind `Other` with a [`Canceled`]
/// payload, for which [`is_canceled`] is true.
///
/// Not `ErrorKind::Interrupted`: `std::io::copy`, `read_exact`, `write_all` and `BufReader`
/// retry `Interrupted` forever, and a canceled task must get out of them.
///
/// # Examples
/// ```
/// let error = std::io::Error::from(io::Canceled);
/// assert!(io::is_canceled(&error));
/// assert_eq!(error.kind(), std::io::ErrorKind::Other);
/// assert!(error.get_ref().unwrap().is::<io::Canceled>());
/// ```
impl From<Canceled> for std::io::Error {
    fn from(_: Canceled) -> Self {
        canceled_io()
    }
}

/// An expired [`timeout`](crate::Io::timeout) as an I/O error: kind `TimedOut` (std's "the I/O
/// operation's timeout expired"), with the [`Timeout`] as payload. [`is_canceled`] is false, so
/// a caller tells a deadline from a cancel of its task.
///
/// # Examples
/// ```
/// let error = std::io::Error::from(io::Timeout);
/// assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
/// assert!(!io::is_canceled(&error));
/// assert_eq!(error.get_ref().unwrap().downcast_ref::<io::Timeout>(), Some(&io::Timeout));
/// ```
impl From<Timeout> for std::io::Error {
    fn from(error: Timeout) -> Self {
        std::io::Error::new(ErrorKind::TimedOut, error)
    }
}

/// [`ConcurrencyUnavailable`] as an I/O error: kind `ResourceBusy` (`EBUSY`, stable since Rust
/// 1.83), with the error as payload.
///
/// The runtime's means of concurrency (workers, `concurrent_limit`, fiber stacks, address
/// space) are all taken: the call could run later, or inline, but not now beside its caller.
/// Not `WouldBlock`, which non-blocking I/O code takes for "wait for readiness and retry" and
/// would spin on; not `OutOfMemory`, which only one of the causes is.
///
/// # Examples
/// ```
/// let error = std::io::Error::from(io::ConcurrencyUnavailable);
/// assert_eq!(error.kind(), std::io::ErrorKind::ResourceBusy);
/// assert!(error.get_ref().unwrap().is::<io::ConcurrencyUnavailable>());
/// ```
impl From<ConcurrencyUnavailable> for std::io::Error {
    fn from(error: ConcurrencyUnavailable) -> Self {
        std::io::Error::new(ErrorKind::ResourceBusy, error)
    }
}

/// A closed [`Queue`](crate::Queue) as an I/O error: kind `BrokenPipe` (std's "a pipe was
/// closed"; a queue is the runtime's pipe), with the [`Closed`] as payload.
///
/// # Examples
/// ```
/// let error = std::io::Error::from(io::Closed);
/// assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
/// assert!(error.get_ref().unwrap().is::<io::Closed>());
/// ```
impl From<Closed> for std::io::Error {
    fn from(error: Closed) -> Self {
        std::io::Error::new(ErrorKind::BrokenPipe, error)
    }
}

/// A [`BuildError`] as an I/O error: kind `Other`, with the error (and its message) as payload.
///
/// # Examples
/// ```
/// fn start(backend: &str) -> std::io::Result<io::Runtime> {
///     let backend = io::Backend::from_name(backend)?;
///     Ok(io::Runtime::builder().backend(backend).threads(1).build()?)
/// }
/// assert!(start("threaded").is_ok());
/// assert_eq!(start("fibers").unwrap_err().kind(), std::io::ErrorKind::Other);
///
/// let error = std::io::Error::from(io::Backend::from_name("fibers").unwrap_err());
/// assert_eq!(error.kind(), std::io::ErrorKind::Other);
/// assert!(error.get_ref().unwrap().is::<io::BuildError>());
/// ```
impl From<BuildError> for std::io::Error {
    fn from(error: BuildError) -> Self {
        std::io::Error::other(error)
    }
}

/// Whether a [`std::io::Error`] means "canceled": returned by a canceled file or socket
/// operation, or converted from [`Canceled`], [`QueueError::Canceled`] or
/// [`PutError::Canceled`].
///
/// Cancellation surfaces as an error carrying one of those as payload. Its kind is
/// `ErrorKind::Other`, not `Interrupted`: `std::io::copy`, `read_exact`, `write_all` and
/// `BufReader` retry `Interrupted` forever, and a canceled task must get out of them. An
/// expired [`timeout`](crate::Io::timeout) converted from [`Timeout`] is not a cancel: its
/// kind is `TimedOut`.
///
/// # Examples
/// ```
/// assert!(io::is_canceled(&io::Canceled.into()));
/// assert!(io::is_canceled(&io::QueueError::Canceled.into()));
/// assert!(!io::is_canceled(&io::Timeout.into()));
/// assert!(!io::is_canceled(&std::io::ErrorKind::Interrupted.into()));
/// ```
pub fn is_canceled(error: &std::io::Error) -> bool {
    error.get_ref().is_some_and(|inner| {
        inner.is::<Canceled>()
            || inner
                .downcast_ref::<QueueError>()
                .is_some_and(|queue| queue.is_canceled())
            || matches!(
                inner.downcast_ref::<PutError<()>>(),
                Some(PutError::Canceled(()))
            )
    })
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
    std::io::Error::new(CANCELED_KIND, Canceled)
}

/// The kind of every canceled I/O error, also those converted from the queue's errors.
pub(crate) const CANCELED_KIND: ErrorKind = ErrorKind::Other;

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
