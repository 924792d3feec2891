//! # io — structured concurrency and I/O, modelled on Zig's `std.Io`
//!
//! An [`Io`] handle is passed through the program the way an allocator is. Spawning a call with
//! `io_async!` expresses *asynchrony* (it may run at the same time as its caller, or inline);
//! `io_concurrent!` demands *concurrency* (it runs at the same time, or fails with
//! [`ConcurrencyUnavailable`]). A [`Future`]'s `join` (Zig's `await`) and `cancel` return the
//! same result, and blocking operations are cancellation points that return [`Canceled`].
//!
//! `scope!` owns the tasks spawned in its block: on every way out — the tail, `?`, `return`,
//! `break`, a panic — it cancels everything that still runs at once, waits for it (newest
//! first) and drops its result. The seed's leak-on-early-return bug cannot be written.
//!
//! ```
//! use std::time::Duration;
//! use io::{io_async, scope, Clock, Io};
//!
//! fn do_work(io: Io, flavor_text: &str) -> Result<String, io::Canceled> {
//!     io.sleep(Duration::from_millis(50), Clock::Awake)?;
//!     Ok(format!("finished {flavor_text}"))
//! }
//!
//! let runtime = io::Runtime::builder().threads(2).build().unwrap();
//! let lines = runtime.run(|io| -> Result<Vec<String>, io::Canceled> {
//!     scope!(io, {
//!         let a = io_async!(do_work(io, "hard"));
//!         let b = io_async!(do_work(io, "on an excuse not to drink Spezi"));
//!         Ok(vec![a.join(io)?, b.join(io)?])
//!     })
//! });
//! assert_eq!(lines.unwrap(), ["finished hard", "finished on an excuse not to drink Spezi"]);
//! ```
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]

mod alarm;
mod backend;
mod block;
mod cancel;
mod control_flow;
mod error;
mod fiber;
mod fork;
pub mod fs;
mod future;
mod group;
mod io;
mod join;
mod loom;
mod monitor;
pub mod net;
mod offload;
mod os;
mod park;
mod queue;
mod runtime;
mod scope;
mod select;
pub mod sync;
mod task;
#[cfg(all(test, not(loom)))]
mod testing;
mod time;

#[doc(hidden)]
pub mod __private;

pub use crate::error::{
    is_canceled, raw_os_error, Canceled, Closed, ConcurrencyUnavailable, Timeout,
};
pub use crate::future::Future;
pub use crate::group::Group;
pub use crate::io::Io;
pub use crate::queue::{PutError, Queue, QueueError, TryPutError};
pub use crate::runtime::{Backend, BuildError, Builder, Runtime};
pub use crate::scope::Scope;
pub use crate::select::Selectable;
pub use crate::sync::{Condition, Event, Mutex, MutexGuard};
pub use crate::time::Clock;

/// Marks `fn main(io: Io) -> T` as the program's entry point: builds a runtime and runs it.
///
/// Arguments: `backend = "threaded" | "uring" | "auto"`, `threads = N` (0: single-threaded),
/// `deadlock = "off" | "500ms" | "2s"` (the deadlock grace, see
/// [`Builder::deadlock_grace`]),
/// `crate = "path"` (for a renamed dependency). `IO_BACKEND` and `IO_THREADS` override the
/// defaults unless the attribute pins them.
pub use io_macros::main;

/// Turns `fn name(io: Io)` into one test per backend: `name::threaded`, ….
pub use io_macros::test;

/// A block that owns the tasks spawned in it: `scope!(io, { … })`.
///
/// Inside, `io_async!(call)`, `io_concurrent!(call)` and `io_group!()` spawn into the scope.
/// `?`, `return`, `break` and `continue` act on the enclosing function or loop; on every way
/// out the scope cancels everything that still runs at once, joins it (newest first) and drops
/// unclaimed results. Tasks may borrow locals declared before the scope.
///
/// The body runs in a closure that the library calls with a reference to the scope it owns,
/// so the scope cannot be forgotten, and the body cannot `.await` (a suspended scope could
/// be). Its `return`, `?` (on `Result` or `Option`), `break` and `continue` are carried out of
/// the closure and re-applied after the scope ended, also when written in the arguments of a
/// macro (`println!("{}", x?)`); one that a macro's own expansion contains would act on the
/// closure, and does not compile. As in any closure, a variable declared before the scope
/// without a value cannot be initialized inside it.
///
/// # Examples
/// ```
/// use io::{io_async, scope};
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let text = String::from("borrowed");
/// let len = runtime.run(|io| scope!(io, {
///     let a = io_async!(str::len(&text));
///     a.join(io)
/// }));
/// assert_eq!(len, 8);
/// ```
#[macro_export]
macro_rules! scope {
    ($($tokens:tt)*) => { $crate::__private::scope_impl!($crate; $($tokens)*) };
}

/// Spawns a call asynchronously inside `scope!`: `io_async!(do_work(io, "hard"))` returns a
/// [`Future`]. The arguments are evaluated now, on the caller; the call may run on another
/// worker or inline.
#[macro_export]
macro_rules! io_async {
    ($($tokens:tt)*) => { $crate::__private::io_async_impl!($crate; $($tokens)*) };
}

/// Spawns a call that must run concurrently with its caller, inside `scope!`: returns
/// `Result<Future<T>, ConcurrencyUnavailable>`.
#[macro_export]
macro_rules! io_concurrent {
    ($($tokens:tt)*) => { $crate::__private::io_concurrent_impl!($crate; $($tokens)*) };
}

/// A [`Group`] owned by the enclosing `scope!`: `let group = io_group!();`.
#[macro_export]
macro_rules! io_group {
    ($($tokens:tt)*) => { $crate::__private::io_group_impl!($crate; $($tokens)*) };
}
