//! `scope!(io, { … })`: structured concurrency as a block.
//!
//! ```text
//! scope!(io, {
//!     let a = io_async!(fetch(io, "a"));
//!     let b = io_async!(fetch(io, "b"));
//!     let a = a.join(io)?;          // `?` leaves the enclosing fn; b is canceled and joined first
//!     (a, b.join(io)?)
//! })
//! ```
//!
//! expands to (see [`expand`] for the exact tokens; `__…` names have mixed-site hygiene)
//!
//! ```text
//! {
//!     enum __IoFlow<V, R> { Value(V), Return(R) }   // only the variants the body needs
//!     match io::__private::scope(io, |__io_scope| {  // __io_scope: &Scope
//!         let __io_as_return = __IoFlow::Return;
//!         let a = io_async!(@__io_rewritten { (&__io_scope).spawn_async(…) });
//!         let b = …;
//!         let a = (match io::__private::Branch::branch(a.join(io)) {
//!             ControlFlow::Continue(v) => v,
//!             ControlFlow::Break(r) => return {
//!                 let v = io::__private::FromResidual::from_residual(r);
//!                 io::__private::body_ends(__io_scope);
//!                 __io_as_return(v)
//!             },
//!         });
//!         let __io_value = (a, …);
//!         let __io_flow = { io::__private::body_ends(__io_scope); __IoFlow::Value(__io_value) };
//!         __io_flow
//!     }) {
//!         __IoFlow::Value(v) => v,
//!         __IoFlow::Return(r) => return r,
//!     }
//! }
//! ```
//!
//! The body runs in a closure that the library calls with a *reference* to a scope it owns.
//! Its `return`, `?`, `break` and `continue` are carried out of the closure as a value and
//! re-applied after the scope ended (see `flow`), so they mean what they mean in the enclosing
//! function or loop; the spawns are rewritten to use the reference (see `rewrite`).
//!
//! # Soundness
//!
//! Claim: no task spawned in a scope runs after control has left the scope, and no task can
//! observe a borrow that has ended. The runtime's `Scope<'env>` erases task lifetimes (with an
//! `unsafe` transmute, in `io-runtime/src/scope.rs`); this argument is what makes that erasure
//! sound.
//!
//! 1. **The owner lives in the library's frame.** `io::__private::scope` creates the `Scope`
//!    in its own stack frame, calls the body with `&Scope`, and drops the `Scope` (cancel and
//!    join every task still running) when the body returns or unwinds. No token of the user's
//!    is in that frame, so nothing can move, forget or leak the owner. The expansion contains
//!    no `unsafe`, whatever crate path it is given.
//! 2. **Only a `&Scope` reaches user tokens.** The closure's parameter has mixed-site hygiene,
//!    so user code cannot name it; a user macro can still capture it from the tokens `scope!`
//!    writes into a spawn (`(&__io_scope).spawn_async(…)`), but all it then holds is a shared
//!    reference: forgetting or leaking that ends nothing, and nothing can be moved out of it.
//! 3. **The body cannot suspend.** It is a plain, non-`async` closure, so every `.await` in it
//!    is a compile error (E0728), including one produced by a macro (`tokio::join!`, a user's
//!    `macro_rules!`). A Rust future that holds the scope across a suspension, and could be
//!    forgotten while suspended (the "scoped task trilemma"), cannot be written. A visible
//!    `.await` gets a message of its own (see `rewrite`).
//! 4. **Borrows outlive the scope.** Tasks are bounded by `F: 'env` and `T: 'env`, `Scope<'env>`
//!    is invariant in `'env`, and `'env` is fixed outside the closure, so a task may borrow
//!    locals declared before the scope and not locals of the body (those die when the closure
//!    returns, before the scope joins). Invariance matters: with a covariant `'env`, a
//!    `&Scope<'long>` could be used as `&Scope<'short>` for a single spawn and a forgotten
//!    handle would let the task run past `'short`. Handles (`Future<'_, T>`, `Group<'_, 'env>`)
//!    borrow the scope, so they cannot leave the closure, and forgetting one leaks nothing: the
//!    scope, not the handle, owns the task.
//!
//! Before the body is left, by its tail or by a carried exit, it calls `body_ends`: the
//! handles dropped with the body's locals then only request cancellation, and the scope joins
//! all of them at once.
//!
//! Spawning macros outside a scope are compile errors (see `spawn`). The only other way to
//! start a task that borrows is the closure form `Io::scope`, which `io::__private::scope` calls:
//! it hands out the same `&Scope`, and `Scope::new` is private to the runtime.
//!
//! # Limits of the control-flow rewrite
//!
//! The rewrite sees tokens, not expansions. A `return`, `?`, `break` or `continue` produced by
//! a macro (a user's `macro_rules!`, or written in a macro call whose arguments are not
//! comma-separated expressions) acts on the closure: `?` and `return` are then type errors
//! (the closure returns `__IoFlow`), `break` and `continue` are "inside of a closure" errors.
//! None of them compiles into a different meaning.

mod expand;
mod flow;
mod parse;
mod rewrite;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

use crate::{diag, input};

/// The expansion of `scope_impl!(<crate path>; io, { … })`.
pub(crate) fn scope(input: TokenStream) -> TokenStream {
    let invocation = match input::split(input) {
        Ok(invocation) => invocation,
        Err(error) => return diag::error_expr(&error),
    };
    match parse::parse(invocation.user) {
        Ok(scope) => expand::expand(&invocation.krate, &scope),
        Err(error) => diag::error_expr(&error),
    }
}
