//! Expanding a spawn into a call on the scope (the `&Scope` of `scope!`'s closure).

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::{Expr, ExprPath, UnOp};

use super::parse::{Call, CallSpan, Spawn, Target};
use super::Kind;

/// The replacement of a parsed spawn of `kind` in the scope whose `&Scope` parameter is named
/// `guard`; `site` spans the macro call as the user wrote it, from its name to its closing
/// delimiter.
pub(crate) fn expand(kind: Kind, guard: &Ident, spawn: &Spawn, site: CallSpan) -> TokenStream {
    match spawn {
        Spawn::Group => on_guard(guard, "group", TokenStream::new(), site),
        Spawn::Call(call) => on_guard(guard, spawn_method(kind), task(call), site),
        Spawn::Closure(closure) => on_guard(guard, spawn_method(kind), task_closure(closure), site),
    }
}

/// The argument of the spawning method for a closure: the closure as written, so its captures
/// (by borrow, or by value after `move`) are the compiler's and its errors point at the user's
/// tokens.
///
/// ```text
/// { #[allow(clippy::redundant_closure)] let __io_task = || f(); __io_task }
/// ```
///
/// The `let` carries the `allow`: for `io_async!(|| f())`, clippy would suggest passing `f`
/// itself, which is no call and no closure (the fix is `io_async!(f())`).
fn task_closure(closure: &TokenStream) -> TokenStream {
    let at = closure
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |tt| tt.span());
    let task = hidden("__io_task", at);
    quote_spanned! {at=>
        { #[allow(clippy::redundant_closure)] let #task = #closure; #task }
    }
}

/// The method of the scope that spawns a task of `kind`.
fn spawn_method(kind: Kind) -> &'static str {
    match kind {
        Kind::Concurrent => "spawn_concurrent",
        Kind::Async | Kind::Group => "spawn_async",
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

/// The argument of the spawning method: the task's closure, after the values it takes from the
/// caller have been evaluated there, in the order written.
///
/// A function or callee call, a method call whose receiver is a value (not a place rooted at a
/// variable), and any call written after `move` move everything into the task:
///
/// ```text
/// { let __io_args = (recv, a, b,); move || { let (mut __io_recv, __a0, __a1,) = __io_args; __io_recv.m(__a0, __a1) } }
/// ```
///
/// A method call on a place rooted at a variable (`x`, `self.q`, `v[i]`, `*p`) leaves the
/// receiver in the call, in a closure without `move`, so the compiler captures the place by
/// shared borrow, mutable borrow or value as the resolved method needs, exactly as for the
/// call written outside the macro. The arguments (and index operands) still move, through a
/// `Cell`: it is never `Copy`, so the closure captures it by value even when the values are
/// `Copy`:
///
/// ```text
/// { let __io_args = ::core::cell::Cell::new((i, a,)); || { let (__io_i0, __a0,) = __io_args.into_inner(); v[__io_i0].m(__a0) } }
/// ```
///
/// or `|| x.m()` when there is nothing to take from the caller. (A `move` closure always has
/// its block: `move || f()` would draw clippy's `redundant_closure` on the user's call.)
fn task(call: &Call) -> TokenStream {
    let (start, end) = (call.span.start, call.span.end);
    let mut moved = Moved::default();
    let (setup, callee, root) = callee(&call.target, &mut moved, start);
    let root = if call.moves { Root::Owned } else { root };
    let args: Vec<Ident> = call
        .args
        .iter()
        .enumerate()
        .map(|(i, arg)| moved.push(&format!("__a{i}"), false, arg.clone(), first_span(arg)))
        .collect();
    let args = group(
        Delimiter::Parenthesis,
        quote_spanned!(start=> #(#args),*),
        end,
    );
    let invocation = quote_spanned!(start=> #callee #args);
    let tuple = hidden("__io_args", start);
    let (patterns, values) = (&moved.patterns, &moved.values);
    let block = match root {
        Root::Captured if values.is_empty() => return quote_spanned!(start=> || #invocation),
        Root::Captured => {
            let take = quote_spanned!(start=> let (#(#patterns,)*) = #tuple.into_inner(););
            let body = group(Delimiter::Brace, quote!(#take #invocation), end);
            quote_spanned!(start=>
                let #tuple = ::core::cell::Cell::new((#(#values,)*));
                || #body
            )
        }
        Root::Owned => {
            let take = quote_spanned!(start=> let (#(#patterns,)*) = #tuple;);
            let body = group(Delimiter::Brace, quote!(#take #invocation), end);
            quote_spanned!(start=> #setup let #tuple = (#(#values,)*); move || #body)
        }
    };
    group(Delimiter::Brace, block, end).into()
}

/// What runs before the arguments are evaluated, the callee as the task writes it (values it
/// takes from the caller go to `moved`), and where a method's receiver comes from.
fn callee(target: &Target, moved: &mut Moved, start: Span) -> (TokenStream, TokenStream, Root) {
    match target {
        Target::Path(path) => (TokenStream::new(), path.to_token_stream(), Root::Owned),
        Target::Callee(expr) => {
            let var = hidden("__io_callee", start);
            let setup = quote_spanned!(start=> let #var = #expr;);
            (setup, var.into_token_stream(), Root::Owned)
        }
        Target::Method {
            receiver,
            dot,
            method,
            turbofish,
        } => {
            let mut receiver = receiver.clone();
            let root = split(&mut receiver, moved);
            let callee = quote_spanned!(start=> #receiver #dot #method #turbofish);
            (TokenStream::new(), callee, root)
        }
    }
}

/// Where the task's receiver comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Root {
    /// A place rooted at a variable (or a static, or a constant): the closure captures it.
    Captured,
    /// A value: evaluated on the caller and moved into the task, or a literal written in it.
    Owned,
}

/// What a task takes from the caller: the values, in evaluation order, and the tuple patterns
/// that bind them in the task.
#[derive(Default)]
struct Moved {
    /// `__io_recv`, `__io_i0`, `__a0`, …, with `mut` where the task may need it.
    patterns: Vec<TokenStream>,
    /// The expressions the user wrote, evaluated on the caller.
    values: Vec<Expr>,
    /// How many index operands are taken so far.
    indices: usize,
}

impl Moved {
    /// Takes `value` under the hidden name `name` (mutable if `mutable`); returns the name.
    fn push(&mut self, name: &str, mutable: bool, value: Expr, at: Span) -> Ident {
        let var = hidden(name, at);
        let pattern = if mutable {
            quote_spanned!(at=> mut #var)
        } else {
            var.to_token_stream()
        };
        self.patterns.push(pattern);
        self.values.push(value);
        var
    }

    /// Replaces `expr` by a hidden name bound to its value, taken from the caller.
    fn take(&mut self, expr: &mut Expr, name: &str, mutable: bool) {
        let at = first_span(expr);
        let var = hidden(name, at);
        let path = Expr::Path(ExprPath {
            attrs: Vec::new(),
            qself: None,
            path: var.clone().into(),
        });
        let value = std::mem::replace(expr, path);
        self.push(name, mutable, value, at);
    }
}

/// Rewrites the receiver `expr` into what the task writes, taking what the caller evaluates into
/// `moved`: index operands that are not literals, and the receiver's root if it is a value
/// (a call, a macro, a block, a reference…) rather than a variable.
///
/// Place projections (field, index, deref, parentheses) stay in the task, so the task's call
/// resolves on a place of the same type through the same projections as the plain call. A
/// variable at the root is left to the closure's capture analysis; a literal is written in the
/// task as is (it evaluates to the same value there).
fn split(expr: &mut Expr, moved: &mut Moved) -> Root {
    match expr {
        Expr::Path(_) => Root::Captured,
        Expr::Lit(_) => Root::Owned,
        Expr::Field(field) => split(&mut field.base, moved),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Deref(_)) => split(&mut unary.expr, moved),
        Expr::Paren(paren) => split(&mut paren.expr, moved),
        Expr::Group(group) => split(&mut group.expr, moved),
        Expr::Index(index) => {
            let root = split(&mut index.expr, moved);
            if !matches!(*index.index, Expr::Lit(_)) {
                let name = format!("__io_i{}", moved.indices);
                moved.indices += 1;
                moved.take(&mut index.index, &name, false);
            }
            root
        }
        _ => {
            moved.take(expr, "__io_recv", true);
            Root::Owned
        }
    }
}

/// The span of the first token of `expr`: where a hidden name standing for it is located, so
/// that a diagnostic about the value (a type mismatch) points at what the user wrote.
fn first_span(expr: &Expr) -> Span {
    let first = expr.to_token_stream().into_iter().next();
    first.map_or_else(Span::call_site, |tt| tt.span())
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
