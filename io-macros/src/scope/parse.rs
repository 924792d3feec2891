//! Parsing `scope!(io, { … })`.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Token};

use crate::diag;

/// `scope!(io, { body })`, parsed.
pub(crate) struct ScopeInput {
    /// The `Io` handle expression; an error when it is missing (`scope!({ … })`), in which case the
    /// body is still expanded so its spawns do not report errors of their own.
    pub(crate) io: syn::Result<Expr>,
    /// The body block, unparsed: it is rewritten token by token.
    pub(crate) body: Group,
}

/// The error for a missing Io handle.
pub(crate) const NEEDS_IO: &str = "scope! needs the Io handle first: scope!(io, { … })";
/// The error for a second argument that is not a block.
pub(crate) const EXPECTED_BLOCK: &str = "expected a block: scope!(io, { … })";

/// Parses the user's tokens of a `scope!` call.
///
/// # Errors
///
/// When the Io handle and the block cannot both be found, spanned on what is wrong.
pub(crate) fn parse(tokens: TokenStream) -> syn::Result<ScopeInput> {
    parse_input.parse2(tokens)
}

/// The [`Parser`] behind [`parse`].
fn parse_input(input: ParseStream) -> syn::Result<ScopeInput> {
    if input.is_empty() {
        return Err(diag::error(Span::call_site(), NEEDS_IO));
    }
    if let Some(body) = lone_block(input)? {
        let io = Err(diag::error(body.span(), NEEDS_IO));
        return Ok(ScopeInput { io, body });
    }
    let io = Expr::parse_without_eager_brace(input)?;
    if input.is_empty() {
        return Err(diag::spanned(&io, EXPECTED_BLOCK));
    }
    input.parse::<Token![,]>().map_err(|e| {
        diag::error(
            e.span(),
            "expected `,` after the Io handle: scope!(io, { … })",
        )
    })?;
    let body = block(input)?;
    let _trailing: Option<Token![,]> = input.parse()?;
    if !input.is_empty() {
        let rest: TokenStream = input.parse()?;
        return Err(diag::spanned(
            rest,
            "unexpected tokens after the block: scope!(io, { … })",
        ));
    }
    Ok(ScopeInput { io: Ok(io), body })
}

/// The block of `scope!({ … })` (no Io handle, optional trailing comma), consumed; `None` (and
/// nothing consumed) when the input is anything else.
fn lone_block(input: ParseStream) -> syn::Result<Option<Group>> {
    let ahead = input.fork();
    let Some(body) = as_block(ahead.parse::<TokenTree>()?) else {
        return Ok(None);
    };
    let _trailing: Option<Token![,]> = ahead.parse()?;
    if !ahead.is_empty() {
        return Ok(None);
    }
    input.parse::<TokenStream>()?;
    Ok(Some(body))
}

/// The body block: a `{ … }` group, possibly inside an invisible group from `macro_rules!`.
fn block(input: ParseStream) -> syn::Result<Group> {
    if input.is_empty() {
        return Err(diag::error(input.span(), EXPECTED_BLOCK));
    }
    let tree: TokenTree = input.parse()?;
    as_block(tree.clone()).ok_or_else(|| diag::spanned(tree, EXPECTED_BLOCK))
}

/// `tree` as a brace group, looking through invisible groups.
fn as_block(tree: TokenTree) -> Option<Group> {
    let TokenTree::Group(group) = tree else {
        return None;
    };
    match group.delimiter() {
        Delimiter::Brace => Some(group),
        Delimiter::None => {
            let mut inner = group.stream().into_iter();
            let first = inner.next()?;
            inner.next().is_none().then_some(first).and_then(as_block)
        }
        _ => None,
    }
}
