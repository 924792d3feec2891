//! Expanding `scope!(io, { … })`.

use proc_macro2::{Group, Ident, Span, TokenStream};
use quote::{quote, ToTokens};

use super::parse::ScopeInput;
use super::rewrite::rewrite;

/// The name of the guard. Its span is `Span::mixed_site()`, so user code cannot name it.
const GUARD: &str = "__io_scope";

/// The expansion of a parsed `scope!`, with the runtime at `krate`:
///
/// ```text
/// {
///     let __io_handle = io;
///     #[allow(unused_unsafe)]
///     let __io_scope = unsafe { krate::__private::Scope::new(__io_handle) };
///     let __io_result = { body, rewritten };
///     #[allow(unreachable_code)]
///     let __io_result = __io_result;
///     __io_result
/// }
/// ```
///
/// The body's value goes through `__io_result` so that the temporaries of its tail expression
/// (for example the handle in `io_async!(f()).join(io)`) are dropped before the guard: in edition
/// 2021 the temporaries of a block's tail expression outlive the block's locals. When the body
/// always leaves early (`return`, `loop` without `break`), the compiler would report the second
/// `let` as unreachable; that warning is about generated code, hence the `allow` (the body's own
/// unreachable code is still reported).
///
/// The `unsafe` block is ready for a `Scope::new` that is an `unsafe fn` (its obligation: the
/// guard is dropped, never forgotten, before `'env` ends — what the hygienic name guarantees,
/// see the module documentation). While it is a safe fn the block is merely unused. The Io
/// expression is evaluated outside the block, so no user code runs in it. Lints of the user's
/// crate (`forbid(unsafe_code)`, clippy's `undocumented_unsafe_blocks`) do not apply to blocks
/// from an external macro.
pub(crate) fn expand(krate: &TokenStream, input: &ScopeInput) -> TokenStream {
    let guard = Ident::new(GUARD, Span::mixed_site());
    let handle = Ident::new("__io_handle", Span::mixed_site());
    let result = Ident::new("__io_result", Span::mixed_site());
    let (body, errors) = rewrite(input.body.stream(), &guard);
    let mut block = Group::new(input.body.delimiter(), body);
    block.set_span(input.body.span());
    let io = match &input.io {
        Ok(io) => io.to_token_stream(),
        Err(error) => crate::diag::error_expr(error),
    };
    let errors = errors.to_compile_errors();
    quote! {
        {
            #errors
            let #handle = #io;
            #[allow(unused_unsafe)]
            let #guard = unsafe { #krate::__private::Scope::new(#handle) };
            let #result = #block;
            #[allow(unreachable_code)]
            let #result = #result;
            #result
        }
    }
}
