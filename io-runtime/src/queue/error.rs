//! The errors of [`Queue`](super::Queue) operations.
//!
//! [`QueueError`] tells [`Canceled`] from [`Closed`]. The errors of single-item puts also hand
//! the item back, so a failed put loses nothing. Each implements [`std::error::Error`] and
//! converts with `?` into `Box<dyn Error>` or into [`QueueError`].

use std::fmt;

use crate::error::{Canceled, Closed};

/// Why a blocking [`Queue`](super::Queue) operation failed.
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
