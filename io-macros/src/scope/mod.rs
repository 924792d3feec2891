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
//! expands to (see [`expand`] for the exact tokens)
//!
//! ```text
//! {
//!     let __io_handle = io;
//!     let __io_scope = unsafe { io::__private::Scope::new(__io_handle) }; // mixed-site names
//!     let __io_result = {
//!         let a = io_async!(@__io_rewritten {
//!             (&__io_scope).spawn_async({ let __io_args = (io, "a",); move || … })
//!         });
//!         …
//!     };
//!     __io_result
//! }
//! ```
//!
//! The body stays a plain block of the enclosing function, so `?`, `return`, `break` and
//! `continue` mean what they mean there, and control leaves through the guard's `Drop`.
//!
//! # Soundness
//!
//! Claim: no task spawned in a scope runs after control has left the scope, and no task can
//! observe a borrow that has ended. The runtime's `Scope<'env>` erases task lifetimes (its one
//! `unsafe`); this argument is what makes that erasure sound.
//!
//! 1. **The guard cannot be moved, forgotten or dropped early.** It is a local declared under an
//!    identifier with `Span::mixed_site()` hygiene, which user tokens (call-site hygiene) cannot
//!    resolve to. Only macro-generated code mentions it, and only through `&` (the spawning
//!    methods take `&self`). So no `mem::forget(guard)`, `Box::leak`, `drop(guard)`, move into a
//!    struct or `mem::swap` can be written against it.
//! 2. **So the guard is dropped exactly when control leaves the block**, whichever way: falling
//!    off the end, `?`, `return`, `break`, `continue` (all of which drop the block's locals), or
//!    an unwinding panic. The only ways a local escapes its destructor are that its stack frame
//!    never unwinds (the thread blocks forever, the process exits or aborts) — then everything
//!    the tasks borrow from that frame or its callers also lives forever — or that the frame is
//!    an `async` state machine forgotten while suspended, which point 5 excludes.
//! 3. **The guard's `Drop` cancels and joins every task still running**, in reverse spawn order.
//!    With 2, no task outlives the block.
//! 4. **Borrows outlive the guard.** Tasks are bounded by `F: 'env` and `T: 'env`, and
//!    `Scope<'env>` is *invariant* in `'env` and has a `Drop` impl. Dropck therefore requires
//!    `'env` to strictly outlive the guard, so a task may borrow locals declared before the scope
//!    and not locals declared inside it (those die first: compile error). Invariance matters:
//!    with a covariant `'env`, `&Scope<'long>` could be used as `&Scope<'short>` for a single
//!    spawn, `'short` would only have to cover the borrow of the returned handle, and a
//!    `mem::forget` of that handle would let the task run on past `'short`. Handles
//!    (`Future<'_, T>`, `Group<'_, 'env>`) borrow the guard, so they cannot leave the block
//!    either, and forgetting one leaks nothing: the guard, not the handle, owns the task.
//! 5. **No `.await` inside.** If the body could suspend, the guard would live in a `Future`'s
//!    state machine, and a suspended future can be forgotten without running any destructor
//!    (`mem::forget(Box::pin(fut))`). Data borrowed by the async fn (its `&'a` arguments) may
//!    then die while the tasks still run: the "scoped task trilemma". io tasks block their
//!    caller instead of being awaited, so the body has no reason to await, and the rewrite
//!    rejects every `.await` token in it. (An `.await` inside a nested `fn` item is fine: that
//!    body does not hold the guard.)
//!
//! Residual assumptions, not checked by this macro:
//! - An `.await` produced by a user's own macro invoked in the body (expanded after `scope!`)
//!   is invisible to the token check of 5.
//! - User code does not create a `Scope` by hand: a guard with a name can be forgotten. While
//!   `Scope::new` is a safe (if hidden) fn, this rests on convention; once it is an `unsafe fn`
//!   whose obligation is "drop the guard before `'env` ends, never forget it", it rests on the
//!   type system. The expansion already calls it inside an `unsafe` block (see `expand`).
//!
//! Spawning macros outside a scope are compile errors (see `spawn`), so there is no other way
//! to start a task that borrows.

mod expand;
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
