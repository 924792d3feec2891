//! Parsing the argument of a spawning macro: exactly one function or method call, or one
//! closure without parameters.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{AngleBracketedGenericArguments, Expr, ExprClosure, ExprPath, Ident, Token};

use super::Kind;
use crate::diag;

/// A well-formed spawn.
pub(crate) enum Spawn {
    /// `io_async!(call)` or `io_concurrent!(call)`.
    Call(Box<Call>),
    /// `io_async!(|| body)`, `io_async!(move || body)` (and the same for `io_concurrent!`): the
    /// closure is the task; these are its tokens as written.
    Closure(TokenStream),
    /// `io_group!()`.
    Group,
}

/// The call to run in a task.
pub(crate) struct Call {
    /// What is called.
    pub(crate) target: Target,
    /// The arguments, evaluated on the caller at the spawn.
    pub(crate) args: Vec<Expr>,
    /// Whether `move` was written before the call: the task then takes the variables it
    /// captures by value, as a `move` closure does (this matters only for a method's receiver).
    pub(crate) moves: bool,
    /// Where the call is written.
    pub(crate) span: CallSpan,
}

/// The callee of a [`Call`].
pub(crate) enum Target {
    /// `path::to::f::<T>(…)`: named in the task.
    Path(ExprPath),
    /// `(expr)(…)`: evaluated by value on the caller, before the arguments.
    Callee(Expr),
    /// `receiver.method::<T>(…)`: the task makes the call as written; what the receiver needs
    /// evaluated (see `expand`) is evaluated on the caller, before the arguments.
    Method {
        /// The receiver expression.
        receiver: Expr,
        /// The `.` before the method name.
        dot: Token![.],
        /// The method name.
        method: Ident,
        /// The method's `::<…>`, if written.
        turbofish: Option<AngleBracketedGenericArguments>,
    },
}

/// The first and last token of the user's call: generated code spans from one to the other, so
/// the compiler reports type and borrow errors on the call as written.
#[derive(Clone, Copy)]
pub(crate) struct CallSpan {
    /// The span of the first token.
    pub(crate) start: Span,
    /// The span of the last token (the closing parenthesis of the arguments).
    pub(crate) end: Span,
}

/// Parses the argument tokens of `kind!(…)`; `name_span` is where the macro name is written.
///
/// # Errors
///
/// When the tokens are not what `kind` takes, spanned on them (on the name when empty).
pub(crate) fn parse(kind: Kind, tokens: TokenStream, name_span: Span) -> syn::Result<Spawn> {
    if kind == Kind::Group {
        if !tokens.is_empty() {
            return Err(diag::spanned(tokens, GROUP_HINT));
        }
        return Ok(Spawn::Group);
    }
    let not_a_call = |tokens: TokenStream| {
        if tokens.is_empty() {
            diag::error(name_span, call_hint(kind))
        } else {
            diag::spanned(tokens, call_hint(kind))
        }
    };
    if let Ok(expr) = syn::parse2::<Expr>(tokens.clone()) {
        if let Expr::Closure(closure) = unparen(expr) {
            check_task_closure(kind, &closure)?;
            return Ok(Spawn::Closure(without_parens(tokens)));
        }
    }
    let (moves, call) = without_move(&tokens);
    let expr: Expr = syn::parse2(call).map_err(|_| not_a_call(tokens.clone()))?;
    let mut call = classify(expr).ok_or_else(|| not_a_call(tokens))?;
    call.moves = moves;
    Ok(Spawn::Call(Box::new(call)))
}

/// Whether `tokens` are a closure (in parentheses or not).
pub(crate) fn is_closure(tokens: &TokenStream) -> bool {
    syn::parse2(tokens.clone()).is_ok_and(|expr| matches!(unparen(expr), Expr::Closure(_)))
}

/// Checks that `closure` can be a task: it takes no arguments and is not `async` (a task is a
/// blocking call, not a future).
fn check_task_closure(kind: Kind, closure: &ExprClosure) -> syn::Result<()> {
    let name = kind.name();
    if !closure.inputs.is_empty() {
        return Err(diag::spanned(
            &closure.inputs,
            format!(
                "the closure given to {name}! must take no arguments: it is the task's body, \
                 and nothing calls it with any; use the values it needs from the enclosing \
                 code, e.g. {name}!(move || work(io, x))"
            ),
        ));
    }
    if let Some(asyncness) = &closure.asyncness {
        return Err(diag::spanned(
            asyncness,
            format!(
                "{name}! takes a blocking closure, not an `async` one: io tasks block their \
                 caller, they are not Rust futures; remove `async` and call io's blocking \
                 operations without `.await`"
            ),
        ));
    }
    Ok(())
}

/// `tokens` without the parentheses around them, if they are one parenthesized group.
fn without_parens(tokens: TokenStream) -> TokenStream {
    let mut trees = tokens.clone().into_iter();
    match (trees.next(), trees.next()) {
        (Some(TokenTree::Group(group)), None) if group.delimiter() == Delimiter::Parenthesis => {
            without_parens(group.stream())
        }
        _ => tokens,
    }
}

/// Whether `tokens` start with the keyword `move`, and the tokens after it.
fn without_move(tokens: &TokenStream) -> (bool, TokenStream) {
    let mut rest = tokens.clone().into_iter().peekable();
    let moves = matches!(rest.peek(), Some(TokenTree::Ident(ident)) if ident == "move");
    if moves {
        rest.next();
    }
    (moves, rest.collect())
}

/// The call `expr` is, looking through parentheses; `None` when it is no call.
pub(crate) fn classify(expr: Expr) -> Option<Call> {
    let expr = unparen(expr);
    let span = CallSpan::of(&expr);
    match expr {
        Expr::Call(call) => Some(Call {
            target: match unparen(*call.func) {
                Expr::Path(path) => Target::Path(path),
                callee => Target::Callee(callee),
            },
            args: call.args.into_iter().collect(),
            moves: false,
            span,
        }),
        Expr::MethodCall(call) => Some(Call {
            target: Target::Method {
                receiver: *call.receiver,
                dot: call.dot_token,
                method: call.method,
                turbofish: call.turbofish,
            },
            args: call.args.into_iter().collect(),
            moves: false,
            span,
        }),
        _ => None,
    }
}

/// `expr` without the parentheses (or invisible groups from `macro_rules!`) around it.
fn unparen(expr: Expr) -> Expr {
    match expr {
        Expr::Paren(inner) => unparen(*inner.expr),
        Expr::Group(inner) => unparen(*inner.expr),
        expr => expr,
    }
}

impl CallSpan {
    /// The span from the first to the last token of `expr`.
    fn of(expr: &Expr) -> CallSpan {
        let mut tokens = expr.to_token_stream().into_iter();
        let start = tokens.next().map_or_else(Span::call_site, |tt| tt.span());
        let end = tokens.last().map_or(start, |tt| match tt {
            TokenTree::Group(group) => group.span_close(),
            tt => tt.span(),
        });
        CallSpan { start, end }
    }
}

/// The error for anything but a call or a closure, e.g. "`io_async!` takes a function call or
/// a closure, e.g. …".
pub(crate) fn call_hint(kind: Kind) -> String {
    let name = kind.name();
    format!(
        "{name}! takes a function call or a closure without arguments, \
         e.g. {name}!(do_work(io, \"hard\")) or {name}!(move || {{ … }})"
    )
}

/// The error for arguments to `io_group!`.
pub(crate) const GROUP_HINT: &str =
    "io_group! takes no arguments: write `let group = io_group!();` and spawn into the group";

/// The error for a spawning macro outside `scope!`, at `span`.
pub(crate) fn outside_scope_error(kind: Kind, span: Span) -> syn::Error {
    let name = kind.name();
    let message = match kind {
        Kind::Group => format!(
            "{name}! must be used inside scope!(io, {{ … }}): the scope cancels and joins \
             the group's tasks on every way out"
        ),
        _ => format!(
            "{name}! must be used inside scope!(io, {{ … }}): the scope cancels and joins \
             the task on every way out. To spawn a dynamic number of tasks, use a Group \
             (io_group!() inside scope!)"
        ),
    };
    diag::error(span, message)
}
