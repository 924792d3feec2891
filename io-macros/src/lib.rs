//! Procedural macros of the io runtime. Re-exported by `io`; see its documentation.
//!
//! Users never name this crate: `io` wraps each function-like macro in a `macro_rules!` that passes
//! `$crate` first (`scope_impl!($crate; io, { … })`), so the expansions reach the runtime through
//! whatever name the user gave the dependency. The attribute macros take `crate = "path"` instead.
//!
//! Every entry point below only converts token streams; the work lives in one module per macro
//! (`scope`, `spawn`, `main`), each split into parsing and expansion. No macro panics: every
//! error is a spanned `compile_error!` emitted beside a best-effort expansion (`diag`).
#![deny(missing_docs)]
// `main/` holds `#[io::main]` and `#[io::test]` (the layout names modules after their macro); it
// is a directory module, not a binary's `main.rs`. The lint ignores an allow on the `mod` item.
#![allow(special_module_name)]

mod diag;
mod input;
mod main;
mod scope;
mod select;
mod spawn;

use proc_macro::TokenStream;

/// `scope!(io, { … })`: a block whose `io_async!`/`io_concurrent!`/`io_group!` tasks are canceled and
/// joined on every way out. Called as `scope_impl!($crate; io, { … })` by `io::scope!`.
#[proc_macro]
pub fn scope_impl(input: TokenStream) -> TokenStream {
    scope::scope(input.into()).into()
}

/// `io_async!(call)`: inside `scope!`, which has rewritten the call, the spawn; anywhere else a
/// compile error saying to use `scope!`.
#[proc_macro]
pub fn io_async_impl(input: TokenStream) -> TokenStream {
    spawn::spawn_macro(spawn::Kind::Async, input.into()).into()
}

/// `io_concurrent!(call)`: inside `scope!`, the spawn; anywhere else a compile error.
#[proc_macro]
pub fn io_concurrent_impl(input: TokenStream) -> TokenStream {
    spawn::spawn_macro(spawn::Kind::Concurrent, input.into()).into()
}

/// `io_group!()`: inside `scope!`, a new group; anywhere else a compile error.
#[proc_macro]
pub fn io_group_impl(input: TokenStream) -> TokenStream {
    spawn::spawn_macro(spawn::Kind::Group, input.into()).into()
}

/// `io_select!(io, { pattern = operation => expression, … })`: waits for the first of several
/// blocking operations. Called as `io_select_impl!($crate; …)` by `io::io_select!`.
#[proc_macro]
pub fn io_select_impl(input: TokenStream) -> TokenStream {
    select::select(input.into()).into()
}

/// `#[io::main]`: turns `fn main(io: Io) -> R` into a `fn main() -> R` that builds the runtime.
/// Arguments: `backend`, `threads`, `async_limit`, `concurrent_limit`, `fiber_stack_size`,
/// `fiber_limit`, `deadlock`, `crate` (see `io::main`).
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main::main(args.into(), item.into()).into()
}

/// `#[io::test]`: turns `fn name(io: Io) -> R` into a module `name` with one `#[test]` per backend
/// (`name::threaded`, …). Takes the arguments of `#[io::main]`; `backend` keeps one test.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    main::test(args.into(), item.into()).into()
}
