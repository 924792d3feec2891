//! Spanned diagnostics.
//!
//! Every misuse becomes a [`syn::Error`] spanned on the user's tokens and rendered as
//! `compile_error!`, next to a best-effort expansion (as tokio's `entry.rs` and thiserror's
//! `fallback.rs` do) so that one mistake yields one error, not a cascade.

use std::fmt::Display;

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens;

/// Errors collected during one expansion, reported together.
#[derive(Default)]
pub(crate) struct Errors {
    /// All errors so far, combined into one (`syn::Error` holds several messages).
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records one more error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records every error of `other` too.
    pub(crate) fn extend(&mut self, other: Errors) {
        if let Some(error) = other.combined {
            self.push(error);
        }
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    /// The recorded errors as `compile_error!` statements (empty when there are none).
    pub(crate) fn to_compile_errors(&self) -> TokenStream {
        self.combined
            .as_ref()
            .map(syn::Error::to_compile_error)
            .unwrap_or_default()
    }

    /// The recorded errors, if any.
    #[cfg(test)]
    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.combined
    }
}

/// An error at `span`.
pub(crate) fn error(span: Span, message: impl Display) -> syn::Error {
    syn::Error::new(span, message)
}

/// An error covering `tokens` (first to last), or the macro call site when they are empty.
pub(crate) fn spanned(tokens: impl ToTokens, message: impl Display) -> syn::Error {
    syn::Error::new_spanned(tokens, message)
}

/// `error` as an expression: `(::core::compile_error! { … })`.
///
/// The parentheses make it usable anywhere an expression is, including as the receiver of a
/// method call at the start of a statement (`io_async!(3).join(io);`). A lone `compile_error!`
/// has the error type, which silences the type errors that would otherwise follow.
pub(crate) fn error_expr(error: &syn::Error) -> TokenStream {
    let mut messages = error.clone().into_iter();
    let first = messages.next().map(|e| e.to_compile_error());
    let rest: TokenStream = messages.map(|e| e.to_compile_error()).collect();
    let inner = match (first, rest.is_empty()) {
        (Some(first), true) => first,
        (first, _) => quote::quote! { { #rest #first } },
    };
    TokenTree::Group(Group::new(Delimiter::Parenthesis, inner)).into()
}
