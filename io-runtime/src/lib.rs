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
mod descriptor;
mod error;
mod fiber;
mod fork;
pub mod fs;
mod future;
mod group;
mod interval;
mod io;
mod join;
mod loom;
mod monitor;
pub mod net;
mod offload;
mod os;
mod park;
pub mod process;
mod queue;
mod runtime;
mod scope;
mod select;
pub mod signal;
mod spin_lock;
pub mod stdio;
pub mod sync;
mod task;
mod task_cell;
#[cfg(test)]
mod testing;
mod time;

#[doc(hidden)]
pub mod __private;

pub use crate::error::{
    is_canceled, raw_os_error, Canceled, Closed, ConcurrencyUnavailable, Timeout,
};
pub use crate::future::Future;
pub use crate::group::{Group, NextResult};
pub use crate::interval::{Interval, MissedTickBehavior};
pub use crate::io::Io;
pub use crate::queue::{PutError, Queue, QueueError, QueueGet, QueuePut, TryPutError};
pub use crate::runtime::{Backend, BuildError, Builder, Runtime};
pub use crate::scope::Scope;
pub use crate::select::{
    after, at, cancel_requested, CancelRequest, Deadline, Finished, IntoSelectArm, Joined,
    SelectArm, Selectable,
};
pub use crate::sync::{
    Condition, Event, EventSet, Mutex, MutexGuard, Permit, RwLock, RwLockReadGuard,
    RwLockWriteGuard, Semaphore,
};
pub use crate::time::Clock;

/// Marks `fn main(io: Io) -> T` as the program's entry point: builds a runtime and runs it.
///
/// The arguments, all optional, set the [`Builder`] the runtime is built from:
///
/// | argument | sets | default |
/// |---|---|---|
/// | `backend = "threaded" \| "uring" \| "auto"` | [`Builder::backend`] | `IO_BACKEND`, else `"auto"` |
/// | `threads = N` | [`Builder::threads`]; `0`: [`Builder::single_threaded`] | `IO_THREADS`, else one per CPU |
/// | `async_limit = N` | [`Builder::async_limit`] (`0`: every `io_async!` runs inline) | no limit |
/// | `concurrent_limit = N` | [`Builder::concurrent_limit`] (`0`: `io_concurrent!` always refused) | no limit |
/// | `fiber_stack_size = N` | [`Builder::fiber_stack_size`], in bytes (uring) | 256 KiB |
/// | `fiber_limit = N` | [`Builder::fiber_limit`], at least 1: the root is a fiber too (uring) | 1 000 000 |
/// | `deadlock = "off" \| "500ms" \| "2s"` | [`Builder::deadlock_grace`] (`"off"`: `None`) | 500 ms |
/// | `crate = "path"` | the path of this crate, for a renamed dependency | `::io` |
///
/// Numbers are integer literals, `_` separators allowed (`fiber_stack_size = 1_048_576`). The
/// environment variables `IO_BACKEND` and `IO_THREADS` apply unless the attribute pins
/// `backend` and `threads`. A misspelled argument or a value of the wrong kind is a compile
/// error on it, listing the arguments; a runtime that cannot start ends the program with a
/// message naming why (exit status 1).
///
/// # Examples
/// ```
/// use io::{io_concurrent, scope, Canceled, ConcurrencyUnavailable, Io};
///
/// fn wait(io: Io) -> Result<(), Canceled> {
///     io.sleep(std::time::Duration::from_millis(20), io::Clock::Awake)
/// }
///
/// #[io::main(concurrent_limit = 1, deadlock = "2s")]
/// fn main(io: Io) -> Result<(), Canceled> {
///     scope!(io, {
///         let first = io_concurrent!(wait(io)).expect("one concurrent task may run");
///         // The limit is reached while the first one runs.
///         assert!(matches!(io_concurrent!(wait(io)), Err(ConcurrencyUnavailable)));
///         first.join(io)
///     })
/// }
/// ```
pub use io_macros::main;

/// Turns `fn name(io: Io) -> T` into a module `name` with one `#[test]` per backend:
/// `name::threaded` and `name::uring` (which passes as skipped, saying why, where the kernel
/// refuses io_uring).
///
/// Takes the arguments of [`main`](macro@main), where `backend = "threaded" | "uring"` keeps
/// only that backend's test (`"auto"`, a different backend per machine, is refused). The
/// environment plays no part: `IO_BACKEND` and `IO_THREADS` are for programs. Other attributes
/// (`#[should_panic]`, `#[ignore]`) apply to each generated test; `#[cfg]`, `#[allow]` and doc
/// comments to the module.
///
/// # Examples
/// ```
/// use io::{io_concurrent, scope, ConcurrencyUnavailable, Io};
///
/// fn idle(_io: Io) {}
///
/// // Runs as `single_threaded::threaded` and `single_threaded::uring`.
/// #[io::test(threads = 0)]
/// fn single_threaded(io: Io) {
///     scope!(io, {
///         assert!(matches!(io_concurrent!(idle(io)), Err(ConcurrencyUnavailable)));
///     });
/// }
///
/// // Runs as `big_stacks::uring` only.
/// #[io::test(backend = "uring", fiber_stack_size = 4_194_304, fiber_limit = 16)]
/// fn big_stacks(io: Io) {
///     assert_eq!(io.backend_name(), "uring");
/// }
/// # fn main() {}
/// ```
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
///
/// A closure without parameters is a task too: `io_async!(|| 40 + 2)`,
/// `io_async!(move || { … })`. It captures as any closure does: without `move` it borrows, and
/// what it borrows must outlive the scope (a local declared before it); with `move` it takes
/// what it uses. `?` and `return` in it leave the closure, as in any closure, and give the
/// task's value. A spawn inside the closure needs a scope of the task's own:
/// `io_async!(move || scope!(io, { … }))`.
///
/// # Examples
/// ```
/// use io::{io_async, scope};
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let words = vec!["a", "bc"];
/// let (count, parsed) = runtime.run(|io| scope!(io, {
///     let count = io_async!(|| words.iter().map(|w| w.len()).sum::<usize>());
///     let parsed = io_async!(move || -> Result<u32, std::num::ParseIntError> {
///         let n: u32 = "41".parse()?;
///         Ok(n + 1)
///     });
///     (count.join(io), parsed.join(io))
/// }));
/// assert_eq!((count, parsed), (3, Ok(42)));
/// ```
#[macro_export]
macro_rules! io_async {
    ($($tokens:tt)*) => { $crate::__private::io_async_impl!($crate; $($tokens)*) };
}

/// Spawns a call that must run concurrently with its caller, inside `scope!`: returns
/// `Result<Future<T>, ConcurrencyUnavailable>`. Takes what [`io_async!`] takes: a call, whose
/// arguments are evaluated now, or a closure without parameters
/// (`io_concurrent!(|| io.sleep(d, Clock::Awake))`).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use io::{io_concurrent, scope, Clock, ConcurrencyUnavailable, Event};
///
/// fn wait_for(io: io::Io, event: &Event) -> Result<(), io::Canceled> {
///     event.wait(io)
/// }
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let event = Event::new();
/// let waited = runtime.run(|io| -> Result<(), io::Canceled> {
///     scope!(io, {
///         // The waiter must run beside the caller: the caller is the one who sets the event.
///         let waiter = io_concurrent!(wait_for(io, &event)).expect("a worker is free");
///         io.sleep(Duration::from_millis(2), Clock::Awake)?;
///         event.set();
///         waiter.join(io)
///     })
/// });
/// assert_eq!(waited, Ok(()));
///
/// let single = io::Runtime::builder().single_threaded().build().unwrap();
/// let refused = single.run(|io| scope!(io, { io_concurrent!(|| 1).map(|f| f.join(io)) }));
/// assert_eq!(refused, Err(ConcurrencyUnavailable));
/// ```
#[macro_export]
macro_rules! io_concurrent {
    ($($tokens:tt)*) => { $crate::__private::io_concurrent_impl!($crate; $($tokens)*) };
}

/// A [`Group`] owned by the enclosing `scope!`: `let group = io_group!();`. Its result type is
/// inferred from its spawns: `Group<'_, '_, ()>` for tasks run for their effect, `Group<'_, '_,
/// T>` for tasks whose results [`Group::next`] hands out in completion order.
///
/// # Examples
/// ```
/// use io::{io_group, scope};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let lengths = runtime.run(|io| scope!(io, {
///     let group = io_group!();
///     for word in ["io", "group"] {
///         group.spawn(io, move || word.len());
///     }
///     let mut lengths = Vec::new();
///     while let Some(len) = group.next(io).unwrap() {
///         lengths.push(len);
///     }
///     lengths.sort();
///     lengths
/// }));
/// assert_eq!(lengths, [2, 5]);
/// ```
#[macro_export]
macro_rules! io_group {
    ($($tokens:tt)*) => { $crate::__private::io_group_impl!($crate; $($tokens)*) };
}

/// Waits for the first of several blocking operations and runs the expression of the one that
/// completed: `io_select!(io, { pattern = operation => expression, … })`.
///
/// Evaluates to `Result<R, Canceled>`, `R` being the arms' expressions' type: `Err(Canceled)`
/// if the task is canceled (or its [`timeout`](Io::timeout) expires) while no operation is
/// ready — unless an arm waits for exactly that ([`cancel_requested`]).
///
/// | operation | ready when | binds |
/// |---|---|---|
/// | `future` (a [`Future`], by value) | the task finished | its result; if another arm wins, the future is canceled and joined |
/// | `&future` | the task finished | `()`; the handle stays joinable (`join` returns at once) |
/// | `queue.select_get()` ([`Queue::select_get`]) | an item is there, or the queue is closed and drained | `Result<T, Closed>` (the item is taken) |
/// | `queue.select_put(item)` ([`Queue::select_put`]), or `&mut put` to keep a lost item | the buffer has room or a getter waits | `Result<(), PutError<T>>` (`Closed` only) |
/// | `event.select_wait()` ([`Event::select_wait`]) | the event is set | `()` |
/// | `group.select_next()` ([`Group::select_next`]) | a task of the group finished, or none is left | `Option<T>` (the result is taken) |
/// | [`after(duration)`](after), [`at(instant)`](at) | the deadline passed | `()` |
/// | [`cancel_requested()`](cancel_requested) | the task is canceled or its timeout expired | [`Canceled`] (the request stays pending) |
///
/// The operations are evaluated in order, then the select waits — registered with every
/// operation's primitive at once, as one waiter: on uring no fiber per arm, on threaded no
/// thread per arm. The first arm *in order* that is ready when it looks wins (readiness before
/// cancellation: a ready operation wins over a pending cancel, so a zero timeout polls). Only
/// the winner completes: an item not taken stays in its queue, an item not put stays with its
/// arm, a result not taken stays in its group. The losers are dropped, then the winner's
/// expression runs, outside any closure: `?`, `return`, `break` and `continue` in it act on
/// the enclosing function or loop.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use io::{io_select, Queue};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let (jobs, stop) = (Queue::new(8), io::Event::new());
/// let sum = runtime.run(|io| {
///     io.scope(|s| {
///         let worker = s.spawn_concurrent(|| -> Result<u32, io::Canceled> {
///             let mut sum = 0;
///             loop {
///                 io_select!(io, {
///                     job = jobs.select_get() => sum += job.unwrap_or(0),
///                     // Jobs first: a job that is there wins over the stop.
///                     () = stop.select_wait() => return Ok(sum),
///                     () = io::after(Duration::from_secs(10)) => return Ok(sum),
///                 })?;
///             }
///         });
///         for job in 1..=3 {
///             jobs.put_one(io, job).unwrap();
///         }
///         stop.set();
///         worker.unwrap().join(io)
///     })
/// });
/// assert_eq!(sum, Ok(6));
/// ```
#[macro_export]
macro_rules! io_select {
    ($($tokens:tt)*) => { $crate::__private::io_select_impl!($crate; $($tokens)*) };
}
