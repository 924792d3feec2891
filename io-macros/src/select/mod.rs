//! `io_select!(io, { pattern = operation => expression, … })`: waits for the first of several
//! blocking operations and runs the expression of the arm that won.
//!
//! ```text
//! io_select!(io, { item = queue.select_get() => item, () = io::after(d) => None, })
//! ```
//! becomes
//!
//! ```text
//! {
//!     let __io_select_io: $crate::Io = io;
//!     let mut __io_arm0 = $crate::__private::into_arm(queue.select_get());
//!     let mut __io_arm1 = $crate::__private::into_arm(io::after(d));
//!     match $crate::__private::select_arms(__io_select_io, &mut [
//!         &mut __io_arm0 as &mut dyn $crate::__private::Arm,
//!         &mut __io_arm1 as &mut dyn $crate::__private::Arm,
//!     ]) {
//!         Ok(0) => { let item = take_output(&mut __io_arm0); drop_losers((__io_arm1,)); Ok({ item }) }
//!         Ok(1) => { let () = take_output(&mut __io_arm1); drop_losers((__io_arm0,)); Ok({ None }) }
//!         Ok(_) => unreachable!(),
//!         Err(canceled) => Err(canceled),
//!     }
//! }
//! ```
//!
//! - The operations are evaluated in order, before the select waits. The losers are dropped
//!   before the winner's expression runs (a `Future` given by value is canceled and joined).
//! - The expressions are written as the user wrote them, outside any closure: `?`, `return`,
//!   `break` and `continue` act on the enclosing function or loop.
//! - The temporaries are `Span::mixed_site()` identifiers; each operation keeps its own span,
//!   so "not an operation `io_select!` can wait on" points at it.
//! - Malformed input is a spanned error saying what an arm looks like, with a best-effort
//!   expansion of the arms that did parse (of type `Result<_, Canceled>`), never a panic.

mod expand;
mod parse;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

use crate::{diag, input};

/// Expands one `io_select!` invocation (`<crate>; <user tokens>`).
pub(crate) fn select(input: TokenStream) -> TokenStream {
    let invocation = match input::split(input) {
        Ok(invocation) => invocation,
        Err(error) => return diag::error_expr(&error),
    };
    let (parsed, errors) = parse::parse(invocation.user);
    expand::expand(&invocation.krate, parsed.as_ref(), &errors)
}
