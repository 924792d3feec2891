//! The input of the function-like macros: `<crate path> ; <user tokens>`.
//!
//! `io`'s `macro_rules!` wrappers call `scope_impl!($crate; …)`, so the expansions can name the
//! runtime even when the user renamed the dependency. The crate path is every token before the
//! first top-level `;` (normally the single identifier `$crate`), emitted back verbatim.

use proc_macro2::{Span, TokenStream, TokenTree};

use crate::diag;

/// A function-like macro call split into the runtime's path and the user's tokens.
pub(crate) struct Invocation {
    /// The path of the `io` crate, e.g. `$crate`.
    pub(crate) krate: TokenStream,
    /// What the user wrote between the macro's delimiters.
    pub(crate) user: TokenStream,
}

/// Splits `input` at its first top-level `;`.
///
/// # Errors
///
/// When there is no `;` or nothing before it: the macro was called directly rather than through
/// `io`'s wrapper.
pub(crate) fn split(input: TokenStream) -> syn::Result<Invocation> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    match tokens.iter().position(is_semi) {
        Some(semi) if semi > 0 => Ok(Invocation {
            krate: tokens[..semi].iter().cloned().collect(),
            user: tokens[semi + 1..].iter().cloned().collect(),
        }),
        _ => Err(diag::error(
            Span::call_site(),
            "this macro is internal to the io crate: use io::scope!, io::io_async!, \
             io::io_concurrent! or io::io_group! instead",
        )),
    }
}

/// Whether `tt` is a `;` punctuation token.
fn is_semi(tt: &TokenTree) -> bool {
    matches!(tt, TokenTree::Punct(p) if p.as_char() == ';')
}
