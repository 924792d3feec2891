//! Expanding a spawn into a call on the scope's hidden guard.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote_spanned, ToTokens};

use super::parse::{Call, CallSpan, Spawn, Target};
use super::Kind;

/// The replacement of a parsed spawn of `kind` in the scope guarded by `guard`; `site` spans the
/// macro call as the user wrote it, from its name to its closing delimiter.
pub(crate) fn expand(kind: Kind, guard: &Ident, spawn: &Spawn, site: CallSpan) -> TokenStream {
    match spawn {
        Spawn::Group => on_guard(guard, "group", TokenStream::new(), site),
        Spawn::Call(call) => {
            let method = match kind {
                Kind::Concurrent => "spawn_concurrent",
                Kind::Async | Kind::Group => "spawn_async",
            };
            let closure = group(Delimiter::Brace, closure_block(call), call.span.end);
            on_guard(guard, method, closure.into(), site)
        }
    }
}

/// `(&guard).method(args)`, spanning the user's `io_async!(…)`.
///
/// The receiver's parentheses carry the span of the macro's name and the argument list that of
/// its closing delimiter, so the method call as a whole spans the macro call: a diagnostic about
/// the spawn's value (an unused `#[must_use]` result, a type mismatch) points there, and a fix
/// such as `let _ = …` goes before the macro. The guard keeps its mixed-site hygiene inside the
/// parentheses; `guard.method(…)` would span from a macro-generated token to a user token, which
/// the compiler widens to the whole `scope!` call.
fn on_guard(guard: &Ident, method: &str, args: TokenStream, site: CallSpan) -> TokenStream {
    let guard = relocated(guard, site.start);
    let borrow = quote_spanned!(guard.span()=> &#guard);
    let receiver = group(Delimiter::Parenthesis, borrow, site.start);
    let method = Ident::new(method, site.start);
    let args = group(Delimiter::Parenthesis, args, site.end);
    quote_spanned!(site.start=> #receiver.#method #args)
}

/// `let …; let __io_args = (a, b,); move || { let (__a0, __a1,) = __io_args; f(__a0, __a1) }`.
fn closure_block(call: &Call) -> TokenStream {
    let (start, end) = (call.span.start, call.span.end);
    let tuple = hidden("__io_args", start);
    let values = &call.args;
    let names: Vec<Ident> = (0..values.len())
        .map(|i| hidden(&format!("__a{i}"), start))
        .collect();
    let (setup, callee) = callee(&call.target, start);
    let call_args = group(
        Delimiter::Parenthesis,
        quote_spanned!(start=> #(#names),*),
        end,
    );
    let body = quote_spanned!(start=> let (#(#names,)*) = #tuple; #callee #call_args);
    let body = group(Delimiter::Brace, body, end);
    quote_spanned!(start=> #setup let #tuple = (#(#values,)*); move || #body)
}

/// What runs before the arguments are evaluated, and the callee as the task names it.
fn callee(target: &Target, start: Span) -> (TokenStream, TokenStream) {
    match target {
        Target::Path(path) => (TokenStream::new(), path.to_token_stream()),
        Target::Callee(expr) => {
            let var = hidden("__io_callee", start);
            (
                quote_spanned!(start=> let #var = #expr;),
                var.into_token_stream(),
            )
        }
        Target::Method {
            receiver,
            method,
            turbofish,
        } => {
            let var = hidden("__io_recv", start);
            let setup = quote_spanned!(start=> let #var = &#receiver;);
            (setup, quote_spanned!(start=> #var.#method #turbofish))
        }
    }
}

/// A macro-private identifier (mixed-site hygiene: user code cannot name it) located at `at`.
fn hidden(name: &str, at: Span) -> Ident {
    Ident::new(name, Span::mixed_site().located_at(at))
}

/// `ident` with its hygiene kept and its location moved to `at`.
fn relocated(ident: &Ident, at: Span) -> Ident {
    Ident::new(&ident.to_string(), ident.span().located_at(at))
}

/// A group of `stream` delimited by `delimiter`, at `span`.
fn group(delimiter: Delimiter, stream: TokenStream, span: Span) -> TokenTree {
    let mut group = Group::new(delimiter, stream);
    group.set_span(span);
    TokenTree::Group(group)
}
