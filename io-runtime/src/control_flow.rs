//! `?` inside `scope!`: stable stand-ins for the unstable `Try` and `FromResidual` traits.
//!
//! The body of `scope!` runs in a closure (so that the library, not user code, owns the
//! scope), yet its `?` must leave the *enclosing* function, as a native `?` would. The macro
//! therefore rewrites `e?` into
//!
//! ```text
//! match Branch::branch(e) {
//!     ControlFlow::Continue(v) => v,
//!     ControlFlow::Break(r) => return <out of the closure with> FromResidual::from_residual(r),
//! }
//! ```
//!
//! and returns the residual from the enclosing function after the scope has ended. The
//! function's return type fixes the target of `from_residual`, so the error is converted with
//! `From` exactly where a native `?` would convert it. Only `Result` and `Option` are
//! supported: the standard library's other `Try` types (`ControlFlow`, `Poll`) are rarely
//! used with `?` in synchronous code.

use std::convert::Infallible;
use std::ops::ControlFlow;

/// Splits the operand of a `?` written inside `scope!` into the value to go on with or the
/// residual to return (the stable stand-in of `core::ops::Try::branch`).
#[diagnostic::on_unimplemented(
    message = "`?` inside `scope!` applies to `Result` and `Option`, not to `{Self}`",
    label = "`?` on a `{Self}`",
    note = "inside `scope!`, `?` supports `Result<T, E>` (in a function returning \
            `Result<_, F>` with `F: From<E>`) and `Option<T>` (in a function returning `Option<_>`)"
)]
pub trait Branch {
    /// The value of `e?` when it does not return.
    type Output;
    /// What `e?` returns from the enclosing function, before conversion.
    type Residual;

    /// `Continue(value)` to go on, `Break(residual)` to return.
    fn branch(self) -> ControlFlow<Self::Residual, Self::Output>;
}

impl<T, E> Branch for Result<T, E> {
    type Output = T;
    type Residual = Result<Infallible, E>;

    fn branch(self) -> ControlFlow<Self::Residual, Self::Output> {
        match self {
            Ok(value) => ControlFlow::Continue(value),
            Err(error) => ControlFlow::Break(Err(error)),
        }
    }
}

impl<T> Branch for Option<T> {
    type Output = T;
    type Residual = Option<Infallible>;

    fn branch(self) -> ControlFlow<Self::Residual, Self::Output> {
        match self {
            Some(value) => ControlFlow::Continue(value),
            None => ControlFlow::Break(None),
        }
    }
}

/// Builds the return value of the enclosing function from the residual of a `?` written inside
/// `scope!` (the stable stand-in of `core::ops::FromResidual`).
#[diagnostic::on_unimplemented(
    message = "`?` inside `scope!` cannot return `{R}` from a function that returns `{Self}`",
    label = "this `?` returns `{R}`",
    note = "inside `scope!`, `?` supports `Result<T, E>` (in a function returning \
            `Result<_, F>` with `F: From<E>`) and `Option<T>` (in a function returning `Option<_>`)"
)]
pub trait FromResidual<R> {
    /// The return value for `residual`.
    fn from_residual(residual: R) -> Self;
}

impl<T, E, F: From<E>> FromResidual<Result<Infallible, E>> for Result<T, F> {
    fn from_residual(residual: Result<Infallible, E>) -> Self {
        match residual {
            Err(error) => Err(From::from(error)),
            Ok(never) => match never {},
        }
    }
}

impl<T> FromResidual<Option<Infallible>> for Option<T> {
    fn from_residual(residual: Option<Infallible>) -> Self {
        match residual {
            None => None,
            Some(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `e?` as `scope!` spells it, in a function returning `R`.
    fn question_mark<T: Branch, R: FromResidual<T::Residual>>(e: T) -> Result<T::Output, R> {
        match e.branch() {
            ControlFlow::Continue(value) => Ok(value),
            ControlFlow::Break(residual) => Err(R::from_residual(residual)),
        }
    }

    #[test]
    fn results_convert_their_error_with_from() {
        let ok: Result<u8, Result<(), String>> = question_mark(Ok::<u8, &str>(3));
        assert_eq!(ok, Ok(3));
        let err: Result<u8, Result<(), String>> = question_mark(Err::<u8, &str>("no"));
        assert_eq!(err, Err(Err("no".to_owned())));
    }

    #[test]
    fn options_return_none() {
        let some: Result<u8, Option<()>> = question_mark(Some(3));
        assert_eq!(some, Ok(3));
        let none: Result<u8, Option<()>> = question_mark(None::<u8>);
        assert_eq!(none, Err(None));
    }
}
