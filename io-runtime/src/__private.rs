//! Support for the macros. Not a public API: names here change without notice.

pub use crate::control_flow::{Branch, FromResidual};
pub use crate::scope::Scope;
pub use crate::select::{select_arms, Arm, IntoSelectArm, SelectArm};

/// `io_select!`'s conversion of an arm's operation ([`IntoSelectArm`]).
pub fn into_arm<A: IntoSelectArm>(operation: A) -> A::Arm {
    operation.into_select_arm()
}

/// `io_select!` drops the arms that lost before the winner's expression runs (a `Future`
/// given by value is canceled and joined there).
pub fn drop_losers<L>(losers: L) {
    drop(losers);
}

/// `io_select!`'s extraction of the winner's value.
pub fn take_output<A: SelectArm>(arm: &mut A) -> A::Output {
    arm.take()
}
pub use io_macros::{io_async_impl, io_concurrent_impl, io_group_impl, io_select_impl, scope_impl};

/// The body of `scope!`: runs `body` with a scope that the library owns, in this frame, where no
/// token of the user's can reach it; every task is canceled and joined before this returns.
pub fn scope<'env, R>(io: Io, body: impl for<'s> FnOnce(&'s Scope<'env>) -> R) -> R {
    io.scope(body)
}

/// What a `scope!` body may give back: anything but a task handle ([`crate::Future`],
/// [`crate::Group`]), which would outlive the scope that joins its task. Checked as a trait bound
/// so that the first error says so (instead of a lifetime error about a temporary).
///
/// It rests on `Unpin`: the handles are the only `!Unpin` types of this crate, and a value that
/// is not `Unpin` (in practice a Rust future, which a `scope!` body has no use for) cannot be
/// returned either; `Box::pin` it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot leave the `scope!` that owns its task",
    label = "a task handle here would outlive its scope",
    note = "the scope cancels and joins every task when it ends: join (or cancel) the handle \
            inside the scope and return its result",
    note = "a value that is not `Unpin` cannot leave a `scope!` either: `Box::pin` it"
)]
pub trait MayLeaveScope {}

#[diagnostic::do_not_recommend]
impl<V: Unpin> MayLeaveScope for V {}

/// The value of a `scope!` body, checked by [`MayLeaveScope`].
pub fn may_leave_scope<V: MayLeaveScope>(value: V) -> V {
    value
}

/// Called by `scope!` as its body is left (tail, `return`, `?`, `break`, `continue`): from now
/// on, handles dropped with the body's locals only request cancellation, and the scope joins
/// them all at once (one cancel latency, not one per handle).
pub fn body_ends(scope: &Scope<'_>) {
    scope.body_ends();
}

use crate::runtime::{Backend, Builder};
use crate::Io;

/// The numeric arguments of `#[io::main]` and `#[io::test]`; `None` leaves the builder's
/// default (for `threads` under `#[io::main]`: `IO_THREADS`, then the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// `threads = N`: worker threads, `0` for [`Builder::single_threaded`].
    pub threads: Option<usize>,
    /// `async_limit = N`: [`Builder::async_limit`].
    pub async_limit: Option<usize>,
    /// `concurrent_limit = N`: [`Builder::concurrent_limit`].
    pub concurrent_limit: Option<usize>,
    /// `fiber_stack_size = N`: [`Builder::fiber_stack_size`], in bytes.
    pub fiber_stack_size: Option<usize>,
    /// `fiber_limit = N`: [`Builder::fiber_limit`].
    pub fiber_limit: Option<usize>,
    /// `deadlock = "…"`: the grace of [`Builder::deadlock_grace`] in milliseconds, `0` for off.
    pub deadlock_millis: Option<u64>,
}

impl Settings {
    /// `builder` with every setting but `threads` applied (each caller resolves those).
    fn limits(self, mut builder: Builder) -> Builder {
        if let Some(limit) = self.async_limit {
            builder = builder.async_limit(limit);
        }
        if let Some(limit) = self.concurrent_limit {
            builder = builder.concurrent_limit(limit);
        }
        if let Some(bytes) = self.fiber_stack_size {
            builder = builder.fiber_stack_size(bytes);
        }
        if let Some(fibers) = self.fiber_limit {
            builder = builder.fiber_limit(fibers);
        }
        match self.deadlock_millis {
            Some(0) => builder.deadlock_grace(None),
            Some(millis) => builder.deadlock_grace(Some(std::time::Duration::from_millis(millis))),
            None => builder,
        }
    }
}

/// `builder` with `threads` worker threads (`0`: single-threaded; `None`: the default).
fn with_threads(builder: Builder, threads: Option<usize>) -> Builder {
    match threads {
        Some(0) => builder.single_threaded(),
        Some(n) => builder.threads(n),
        None => builder,
    }
}

/// Builds the runtime of `#[io::main]` and runs `f` on it. `IO_BACKEND` and `IO_THREADS`
/// apply unless the attribute pinned them; the other settings are the attribute's. A runtime
/// that cannot start ends the process with a message naming why (exit status 1). The root task
/// is reported as spawned where the attribute stands.
#[track_caller]
pub fn run_main<R>(backend: Option<&'static str>, settings: Settings, f: fn(Io) -> R) -> R {
    let builder = main_builder(backend, settings.threads).map(|builder| settings.limits(builder));
    match builder {
        Ok(builder) => match builder.build() {
            Ok(runtime) => runtime.run(f),
            Err(error) => exit_with(&error),
        },
        Err(error) => exit_with(&error),
    }
}

fn exit_with(error: &dyn std::fmt::Display) -> ! {
    eprintln!("io: cannot start the runtime: {error}");
    std::process::exit(1)
}

/// The builder `#[io::main]` uses: pinned values first, then the environment, then defaults.
pub fn main_builder(
    backend: Option<&'static str>,
    threads: Option<usize>,
) -> Result<Builder, crate::BuildError> {
    let env_backend = std::env::var("IO_BACKEND").ok();
    let name = backend.map(str::to_owned).or(env_backend);
    let mut builder = crate::Runtime::builder();
    if let Some(name) = name {
        builder = builder.backend(Backend::from_name(&name)?);
    }
    let threads = match threads {
        Some(n) => Some(n),
        None => env_threads()?,
    };
    Ok(with_threads(builder, threads))
}

fn env_threads() -> Result<Option<usize>, crate::BuildError> {
    match std::env::var("IO_THREADS") {
        Err(_) => Ok(None),
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            crate::BuildError::new(format!(
                "IO_THREADS={text:?} is not a number (0 = single-threaded)"
            ))
        }),
    }
}

/// What a `#[io::test]` body returns when its backend cannot run here: the test passes as
/// skipped (with the reason printed), as `()` or `Ok(())`.
pub trait Skippable {
    /// The value of a skipped test.
    fn skipped() -> Self;
}

impl Skippable for () {
    fn skipped() -> Self {}
}

impl<E> Skippable for Result<(), E> {
    fn skipped() -> Self {
        Ok(())
    }
}

/// Runs one `#[io::test]` body on the named backend with the attribute's settings (the
/// environment plays no part); a backend the kernel refuses (io_uring disabled) skips the test
/// with the reason on stderr.
#[track_caller]
pub fn run_test<R: Skippable>(backend: &'static str, settings: Settings, f: fn(Io) -> R) -> R {
    let backend = Backend::from_name(backend).unwrap_or_else(|e| panic!("io::test: {e}"));
    let builder = crate::Runtime::builder().backend(backend);
    let builder = settings.limits(with_threads(builder, settings.threads));
    match builder.build() {
        Ok(runtime) => runtime.run(f),
        Err(reason) => {
            eprintln!("io::test: skipped on {backend:?}: {reason}");
            R::skipped()
        }
    }
}
