//! Support for the macros. Not a public API: names here change without notice.

pub use crate::scope::Scope;
pub use io_macros::{io_async_impl, io_concurrent_impl, io_group_impl, scope_impl};

use crate::runtime::{Backend, Builder};
use crate::Io;

/// Builds the runtime of `#[io::main]` and runs `f` on it. `IO_BACKEND` and `IO_THREADS`
/// apply unless the attribute pinned them. A runtime that cannot start ends the process with
/// a message naming why (exit status 1).
pub fn run_main<R>(backend: Option<&'static str>, threads: Option<usize>, f: fn(Io) -> R) -> R {
    match main_builder(backend, threads) {
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
    match threads {
        Some(0) => builder = builder.single_threaded(),
        Some(n) => builder = builder.threads(n),
        None => {}
    }
    Ok(builder)
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

/// Runs one `#[io::test]` body on the named backend; a backend the kernel refuses (io_uring
/// disabled) skips the test with the reason on stderr.
pub fn run_test<R: Skippable>(backend: &'static str, f: fn(Io) -> R) -> R {
    let backend = Backend::from_name(backend).unwrap_or_else(|e| panic!("io::test: {e}"));
    match crate::Runtime::builder().backend(backend).build() {
        Ok(runtime) => runtime.run(f),
        Err(reason) => {
            eprintln!("io::test: skipped on {backend:?}: {reason}");
            R::skipped()
        }
    }
}
