//! Parsing `io, { pattern = operation => expression, … }`.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Pat, Token};

use crate::diag::{self, Errors};

/// What an arm looks like, for error messages.
pub(crate) const ARM_HINT: &str = "each arm of io_select! is `pattern = operation => expression`, \
     e.g. `item = queue.select_get() => item,` or `() = io::after(duration) => None,`";

/// One arm: `pattern = operation => expression`.
pub(crate) struct SelectArm {
    pub(crate) pat: Pat,
    pub(crate) operation: Expr,
    pub(crate) body: Expr,
}

/// A parsed invocation.
pub(crate) struct Select {
    pub(crate) io: Expr,
    pub(crate) arms: Vec<SelectArm>,
}

/// Parses the user's tokens; `None` with errors when not even `io, { … }` is there. Arms that
/// do not parse are reported and left out.
pub(crate) fn parse(tokens: TokenStream) -> (Option<Select>, Errors) {
    let mut errors = Errors::default();
    let all: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let usage = "io_select! takes the Io handle and a block of arms: \
                 `io_select!(io, { pattern = operation => expression, … })`";
    let Some(comma) = all
        .iter()
        .position(|tt| matches!(tt, TokenTree::Punct(p) if p.as_char() == ','))
    else {
        errors.push(diag::spanned(&tokens, usage));
        return (None, errors);
    };
    let io_tokens: TokenStream = all[..comma].iter().cloned().collect();
    let io = match syn::parse2::<Expr>(io_tokens.clone()) {
        Ok(io) => io,
        Err(_) => {
            errors.push(diag::spanned(&io_tokens, usage));
            return (None, errors);
        }
    };
    let rest = &all[comma + 1..];
    let block = match rest {
        [TokenTree::Group(block)] if block.delimiter() == Delimiter::Brace => block.clone(),
        [TokenTree::Group(block), TokenTree::Punct(p)]
            if block.delimiter() == Delimiter::Brace && p.as_char() == ',' =>
        {
            block.clone()
        }
        _ => {
            let found: TokenStream = rest.iter().cloned().collect();
            let span = if found.is_empty() {
                all[comma].span()
            } else {
                Span::call_site()
            };
            let error = if found.is_empty() {
                diag::error(span, usage)
            } else {
                diag::spanned(&found, format!("{usage}: put the arms in braces"))
            };
            errors.push(error);
            return (None, errors);
        }
    };
    let arms = parse_arms(block.stream(), block.span(), &mut errors);
    (Some(Select { io, arms }), errors)
}

/// Parses the arms, recording an error for each that does not parse and going on after the
/// next top-level `,`.
fn parse_arms(tokens: TokenStream, span: Span, errors: &mut Errors) -> Vec<SelectArm> {
    let mut arms = Vec::new();
    let parser = |input: ParseStream| -> syn::Result<()> {
        while !input.is_empty() {
            match parse_arm(input) {
                Ok(arm) => arms.push(arm),
                Err(error) => {
                    errors.push(syn::Error::new(
                        error.span(),
                        format!("{error}; {ARM_HINT}"),
                    ));
                    skip_past_comma(input);
                }
            }
        }
        Ok(())
    };
    let _ = parser.parse2(tokens);
    if arms.is_empty() && errors.is_empty() {
        errors.push(diag::error(
            span,
            format!("io_select! needs at least one arm (a select over nothing would wait forever); {ARM_HINT}"),
        ));
    }
    arms
}

fn parse_arm(input: ParseStream) -> syn::Result<SelectArm> {
    let pat = Pat::parse_single(input)?;
    if !input.peek(Token![=]) || input.peek(Token![=>]) || input.peek(Token![==]) {
        return Err(input.error("expected `=` and the operation after the pattern"));
    }
    input.parse::<Token![=]>()?;
    let operation = Expr::parse_without_eager_brace(input)?;
    if !input.peek(Token![=>]) {
        return Err(input.error("expected `=>` and an expression after the operation"));
    }
    input.parse::<Token![=>]>()?;
    let body: Expr = input.parse()?;
    let block_like = matches!(
        body,
        Expr::Block(_)
            | Expr::If(_)
            | Expr::Match(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
            | Expr::Unsafe(_)
    );
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
    } else if !input.is_empty() && !block_like {
        return Err(input.error("expected `,` after the arm's expression"));
    }
    Ok(SelectArm {
        pat,
        operation,
        body,
    })
}

/// Skips tokens up to and including the next `,` of this level (after a malformed arm).
fn skip_past_comma(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            rest = next;
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
        }
        Ok(((), rest))
    });
}
