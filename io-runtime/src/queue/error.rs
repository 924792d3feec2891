//! The errors of [`Queue`](super::Queue) operations.
//!
//! [`QueueError`] tells [`Canceled`] from [`Closed`]. The errors of single-item puts also hand
//! the item back, so a failed put loses nothing. Each implements [`std::error::Error`] and
//! converts with `?` into `Box<dyn Error>`, into [`QueueError`], or into `std::io::Error` (which
//! drops the item: see the `From` impls).

use std::fmt;
use std::io::ErrorKind;

use crate::error::{Canceled, Closed, CANCELED_KIND};

/// Why a blocking [`Queue`](super::Queue) operation failed.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use io::QueueError;
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let queue: io::Queue<u8> = io::Queue::new(1);
/// let (waited, drained) = runtime.run(|io| {
///     // A deadline cancels the wait for an item: Canceled.
///     let get = || queue.get_one(io).map_err(QueueError::is_canceled);
///     let waited = io.timeout(Duration::from_millis(5), get);
///     queue.close();
///     (waited, queue.get_one(io))
/// });
/// assert_eq!(waited, Err(io::Timeout));
/// let drained = drained.unwrap_err();
/// assert!(drained.is_closed() && !drained.is_canceled());
/// assert_eq!(drained, QueueError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueError {
    /// The task was canceled (or its [`timeout`](crate::Io::timeout) expired).
    Canceled,
    /// The queue was closed (and, for gets, drained).
    Closed,
}

impl QueueError {
    /// Whether the operation was canceled.
    pub fn is_canceled(self) -> bool {
        self == Self::Canceled
    }

    /// Whether the queue was closed.
    pub fn is_closed(self) -> bool {
        self == Self::Closed
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Canceled => fmt::Display::fmt(&Canceled, f),
            Self::Closed => fmt::Display::fmt(&Closed, f),
        }
    }
}

impl std::error::Error for QueueError {}

impl From<Canceled> for QueueError {
    fn from(_: Canceled) -> Self {
        Self::Canceled
    }
}

impl From<Closed> for QueueError {
    fn from(_: Closed) -> Self {
        Self::Closed
    }
}

/// Why [`Queue::put_one`](super::Queue::put_one) failed; holds the item that was not put.
///
/// # Examples
/// ```
/// use io::{PutError, QueueError};
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let queue = io::Queue::new(1);
/// queue.close();
/// let error = runtime.run(|io| queue.put_one(io, String::from("kept"))).unwrap_err();
/// assert_eq!(error.kind(), QueueError::Closed);
/// assert!(matches!(&error, PutError::Closed(item) if item == "kept"));
/// assert_eq!(error.into_inner(), "kept"); // nothing is lost
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum PutError<T> {
    /// The task was canceled (or its [`timeout`](crate::Io::timeout) expired) before a getter
    /// or the buffer took the item.
    Canceled(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            Self::Canceled(item) | Self::Closed(item) => item,
        }
    }

    /// The reason, without the item.
    pub fn kind(&self) -> QueueError {
        match self {
            Self::Canceled(_) => QueueError::Canceled,
            Self::Closed(_) => QueueError::Closed,
        }
    }
}

/// Why [`Queue::try_put_one`](super::Queue::try_put_one) failed; holds the item that was not
/// put.
///
/// # Examples
/// ```
/// use io::TryPutError;
///
/// let queue = io::Queue::new(1);
/// queue.try_put_one(vec![1]).unwrap();
/// let full = queue.try_put_one(vec![2]).unwrap_err();
/// assert!(matches!(full, TryPutError::Full(_)));
/// queue.close();
/// assert_eq!(queue.try_put_one(vec![3]), Err(TryPutError::Closed(vec![3])));
/// assert_eq!(full.into_inner(), [2]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum TryPutError<T> {
    /// The buffer is full and no getter waits (for capacity 0: no getter waits).
    Full(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(item) | Self::Closed(item) => item,
        }
    }
}

/// `Debug`, `Display`, `Error` and `From<…> for QueueError` of an error that holds an item,
/// without requiring anything of the item (like std's `SendError`).
macro_rules! item_error {
    ($name:ident { $($variant:ident => $message:literal),* }) => {
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant(_) => f.write_str(concat!(stringify!($name), "::", stringify!($variant), "(..)")),)*
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant(_) => f.write_str($message),)*
                }
            }
        }

        impl<T> std::error::Error for $name<T> {}
    };
}

item_error!(PutError { Canceled => "canceled", Closed => "closed" });
item_error!(TryPutError { Full => "queue full", Closed => "closed" });

impl<T> From<PutError<T>> for QueueError {
    fn from(error: PutError<T>) -> Self {
        error.kind()
    }
}

/// A queue error as an I/O error, with the `QueueError` as payload: `Canceled` like
/// [`Canceled`] (kind `Other`, [`is_canceled`](crate::is_canceled) true), `Closed` like
/// [`Closed`] (kind `BrokenPipe`).
///
/// # Examples
/// ```
/// use std::io::ErrorKind;
///
/// fn next_line(io: io::Io, lines: &io::Queue<String>) -> std::io::Result<String> {
///     Ok(lines.get_one(io)?)
/// }
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| {
///     let lines = io::Queue::new(1);
///     lines.close();
///     let error = next_line(io, &lines).unwrap_err();
///     assert_eq!(error.kind(), ErrorKind::BrokenPipe);
///     assert_eq!(error.get_ref().unwrap().downcast_ref(), Some(&io::QueueError::Closed));
/// });
/// let canceled = std::io::Error::from(io::QueueError::Canceled);
/// assert!(io::is_canceled(&canceled));
/// ```
impl From<QueueError> for std::io::Error {
    fn from(error: QueueError) -> Self {
        let kind = match error {
            QueueError::Canceled => CANCELED_KIND,
            QueueError::Closed => ErrorKind::BrokenPipe,
        };
        std::io::Error::new(kind, error)
    }
}

/// A failed [`put_one`](super::Queue::put_one) as an I/O error, **dropping the item**: the
/// payload is the same variant holding `()` (downcast to `PutError<()>`), so the conversion
/// asks nothing of `T`. Kinds as for [`QueueError`]: `Canceled` is `Other` with
/// [`is_canceled`](crate::is_canceled) true, `Closed` is `BrokenPipe`. To keep the item, match
/// the error (or call [`into_inner`](PutError::into_inner)) before converting.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| {
///     let queue = io::Queue::new(1);
///     queue.close();
///     let put = || -> std::io::Result<()> { Ok(queue.put_one(io, String::from("lost"))?) };
///     let error = put().unwrap_err();
///     assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
///     let payload = error.get_ref().unwrap().downcast_ref::<io::PutError<()>>();
///     assert_eq!(payload, Some(&io::PutError::Closed(())));
/// });
/// ```
impl<T> From<PutError<T>> for std::io::Error {
    fn from(error: PutError<T>) -> Self {
        let (kind, payload) = match error {
            PutError::Canceled(_) => (CANCELED_KIND, PutError::Canceled(())),
            PutError::Closed(_) => (ErrorKind::BrokenPipe, PutError::Closed(())),
        };
        std::io::Error::new(kind, payload)
    }
}

/// A failed [`try_put_one`](super::Queue::try_put_one) as an I/O error, **dropping the item**:
/// the payload is the same variant holding `()` (downcast to `TryPutError<()>`), so the
/// conversion asks nothing of `T`. `Full` is `WouldBlock` (std's "the operation needs to block
/// to complete, but the blocking operation was requested to not occur": exactly a full
/// `try_` put); `Closed` is `BrokenPipe`. To keep the item, match the error (or call
/// [`into_inner`](TryPutError::into_inner)) before converting.
///
/// # Examples
/// ```
/// use std::io::ErrorKind;
///
/// let queue = io::Queue::new(1);
/// queue.try_put_one(1).unwrap();
/// let full = std::io::Error::from(queue.try_put_one(2).unwrap_err());
/// assert_eq!(full.kind(), ErrorKind::WouldBlock);
/// let payload = full.get_ref().unwrap().downcast_ref::<io::TryPutError<()>>();
/// assert_eq!(payload, Some(&io::TryPutError::Full(())));
///
/// queue.close();
/// let closed = std::io::Error::from(queue.try_put_one(3).unwrap_err());
/// assert_eq!(closed.kind(), ErrorKind::BrokenPipe);
/// ```
impl<T> From<TryPutError<T>> for std::io::Error {
    fn from(error: TryPutError<T>) -> Self {
        let (kind, payload) = match error {
            TryPutError::Full(_) => (ErrorKind::WouldBlock, TryPutError::Full(())),
            TryPutError::Closed(_) => (ErrorKind::BrokenPipe, TryPutError::Closed(())),
        };
        std::io::Error::new(kind, payload)
    }
}
