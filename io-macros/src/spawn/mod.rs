//! `io_async!(call)`, `io_async!(|| body)`, `io_concurrent!(…)` likewise, and `io_group!()`.
//!
//! These macros cannot expand on their own: only `scope!` knows its scope (the `&Scope` its body's
//! closure receives; called "guard" below). `scope!` finds them in its body and replaces the
//! *arguments* of each with the finished call on that reference, behind a marker: `io_async!(f(a))` becomes `io_async!(@__io_rewritten { __io_scope… })`
//! ([`in_scope`]). The macro is still invoked through the path the user wrote, so their
//! `use io::io_async;` counts as used and diagnostics name `io_async!`; its implementation
//! emits the marked tokens unchanged. An invocation without the marker was not rewritten: it is
//! outside any `scope!` (or inside a nested `fn`), and expands to a compile error saying to use
//! `scope!` ([`spawn_macro`]). Writing the marker by hand gains nothing, and neither does
//! capturing the rewritten tokens in a user macro: the only scope token in them is a `&Scope`,
//! whose loss or leak does nothing to the scope (the library's frame owns it).
//!
//! Inside a scope, `io_async!(f(a, b))` becomes
//!
//! ```text
//! (&__io_scope).spawn_async({
//!     let __io_args = (a, b,);
//!     move || { let (__a0, __a1,) = __io_args; f(__a0, __a1) }
//! })
//! ```
//!
//! - The arguments are evaluated on the caller, at the spawn, in the order written (Zig's
//!   semantics: `io.async(f, .{a, b})` copies its arguments), then moved into the task.
//! - Any other callee expression (`(self.handler)(req)`) is evaluated, by value, before the
//!   arguments.
//!
//! A method call `recv.m(a)` resolves in the task exactly as the same call written without the
//! macro: the task writes the call with the receiver as the user wrote it, and only how the
//! receiver reaches the task depends on its form ([`expand`] has the exact tokens).
//!
//! - **A place rooted at a variable** (`x`, `self.q`, `v[i]`, `(*p).f`): the task is a closure
//!   *without* `move` whose body is `recv.m(__a0)`, so the compiler's closure capture analysis
//!   takes the place by shared borrow, mutable borrow or value, as the resolved method needs:
//!   `x.clone()` with `x: &String` gives a `String`, `v.len()` borrows `v` (usable again after
//!   the scope), `buf.push_str(s)` borrows `buf` mutably until the scope ends, `s.into_bytes()`
//!   moves `s` into the task, `io.sleep(…)` reads the `Copy` `io` through a shared borrow. The
//!   arguments and the index operands (`v[i]`: `i`) are evaluated first, in order, and move in
//!   a `::core::cell::Cell` (never `Copy`, so captured by value even when its contents are).
//! - **A value** (a call, a macro, a block, `&x`, including a place projected from one such as
//!   `make().field`): evaluated first, before the arguments, and moved into a `move` closure
//!   that calls the method on it (a local of the same type: the same resolution). So
//!   `String::from("ab").len()` builds the string at the spawn; a receiver that borrows a
//!   temporary of the spawn's statement (`vec![1, 2].iter().sum()`) is a borrow error, since
//!   the task outlives that statement.
//! - **A literal** (`"42".parse::<u8>()`) is written in the task as is.
//!
//! The one difference from a plain call: a variable the task captures by borrow must outlive
//! the scope, including a `Copy` receiver of a by-value method (`i.min(2)` reads `i` through a
//! borrow). For a variable declared inside the scope the compiler reports E0373 ("closure may
//! outlive the current function") and suggests `move`; `io_async!(move i.min(2))` is accepted
//! and makes the task a `move` closure that takes the variables it captures by value (a no-op
//! for a function call, which captures nothing).
//!
//! - The guard and the temporaries are `Span::mixed_site()` identifiers: user code cannot name
//!   them. Each temporary is located at the first token of the expression it stands for, so a
//!   type mismatch on an argument points at the argument. The closure carries the span of the
//!   user's call, so a non-`Send` capture or a too-short borrow is reported on the call the user
//!   wrote; the spawn as a whole spans the macro call (`io_async!(…)`), so an unused result or a
//!   type mismatch is reported there.
//!
//! A closure without parameters (`io_async!(|| 40 + 2)`, `io_async!(move || { … })`) is the
//! task itself: nothing is evaluated at the spawn, and the compiler's closure rules decide what
//! it captures (borrows without `move`, so a borrowed variable must outlive the scope: E0373
//! suggests `move` otherwise; everything it uses by value with `move`). `?` and `return` in it
//! act on the closure, as in any closure: `scope`'s control-flow rewrite does not enter
//! closures. The closure becomes `{ #[allow(clippy::redundant_closure)] let __io_task = …;
//! __io_task }` (for `|| f()` clippy would suggest `f`, which the macro does not take). A
//! closure with parameters, or an `async` one, is an error at the parameters or at `async`. A
//! spawn written *inside* a task's closure cannot reach this scope (the task cannot hold the
//! body's `&Scope`): `scope!` replaces it by an error saying to open a scope in the task
//! ([`in_task`]).
//!
//! `io_concurrent!` is the same with `spawn_concurrent` (which returns a `Result`), and
//! `io_group!()` becomes `(&__io_scope).group()`.

mod expand;
mod parse;
#[cfg(test)]
mod tests;

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

use crate::{diag, input};

/// Which spawning macro.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `io_async!(call)`: the call may run on another worker or inline.
    Async,
    /// `io_concurrent!(call)`: the call must run at the same time as the caller.
    Concurrent,
    /// `io_group!()`: a group for a dynamic number of tasks.
    Group,
}

impl Kind {
    /// The kind of the macro named `name` (the last segment of its path), if it is one of ours.
    pub(crate) fn from_macro_name(name: &Ident) -> Option<Kind> {
        match name.to_string().as_str() {
            "io_async" => Some(Kind::Async),
            "io_concurrent" => Some(Kind::Concurrent),
            "io_group" => Some(Kind::Group),
            _ => None,
        }
    }

    /// The macro's name as users write it, without `!`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Async => "io_async",
            Kind::Concurrent => "io_concurrent",
            Kind::Group => "io_group",
        }
    }
}

/// The marker that opens the arguments of a spawning macro rewritten by `scope!`.
const REWRITTEN: &str = "__io_rewritten";

/// The expansion of a spawning macro: the finished call if `scope!` rewrote it, else a compile
/// error at the call saying to use `scope!`.
pub(crate) fn spawn_macro(kind: Kind, input: TokenStream) -> TokenStream {
    match input::split(input) {
        Ok(invocation) => match rewritten(&invocation.user) {
            Some(expansion) => expansion,
            None => diag::error_expr(&parse::outside_scope_error(kind, Span::call_site())),
        },
        Err(error) => diag::error_expr(&error),
    }
}

/// The expansion inside `@__io_rewritten { … }`, if `user` is exactly that.
fn rewritten(user: &TokenStream) -> Option<TokenStream> {
    let tokens: Vec<TokenTree> = user.clone().into_iter().collect();
    let [TokenTree::Punct(at), TokenTree::Ident(name), TokenTree::Group(expansion)] = &tokens[..]
    else {
        return None;
    };
    let is_marked = at.as_char() == '@' && name == REWRITTEN;
    (is_marked && expansion.delimiter() == Delimiter::Brace).then(|| expansion.stream())
}

/// Whether `args`, the arguments of a spawning macro, are a closure: the task's body, where a
/// spawn cannot reach the scope (see [`in_task`]).
pub(crate) fn is_task_closure(args: &TokenStream) -> bool {
    parse::is_closure(args)
}

/// The new arguments of `call` (`name ! args`), a spawning macro written inside the closure of
/// a task: the marker and an error at `call`. The task may run after the scope's body has
/// returned, so it cannot hold the body's `&Scope` (rustc would report that the hidden
/// reference "escapes the closure body"); a scope of the task's own can spawn.
pub(crate) fn in_task(kind: Kind, call: &[TokenTree], args: &Group) -> Group {
    let name = kind.name();
    let error = diag::spanned(
        call.iter().cloned().collect::<TokenStream>(),
        format!(
            "{name}! cannot be used in a task's closure: the task runs apart from the scope's \
             body, and only the body spawns into the scope. Open a scope in the task, \
             e.g. io_async!(move || scope!(io, {{ … {name}!(…) … }}))"
        ),
    );
    marked(&diag::error_expr(&error), args)
}

/// The new arguments of `name!args` inside the scope whose `&Scope` parameter is named `guard`:
/// the marker and the finished call. `rewritten` is the content of `args`, already rewritten
/// (spawns nested in the arguments use the same `&Scope`). A malformed call becomes an error
/// expression at the user's tokens.
pub(crate) fn in_scope(
    kind: Kind,
    guard: &Ident,
    name: &Ident,
    args: &Group,
    rewritten: TokenStream,
) -> Group {
    let expansion = match parse::parse(kind, rewritten, name.span()) {
        Ok(spawn) => {
            let site = parse::CallSpan {
                start: name.span(),
                end: args.span_close(),
            };
            expand::expand(kind, guard, &spawn, site)
        }
        Err(error) => diag::error_expr(&error),
    };
    marked(&expansion, args)
}

/// `@__io_rewritten { expansion }` in a group like `args`.
fn marked(expansion: &TokenStream, args: &Group) -> Group {
    let at = Punct::new('@', Spacing::Alone);
    let marker = Ident::new(REWRITTEN, Span::mixed_site());
    let expansion = Group::new(Delimiter::Brace, expansion.clone());
    let mut group = Group::new(args.delimiter(), quote::quote!(#at #marker #expansion));
    group.set_span(args.span());
    group
}
