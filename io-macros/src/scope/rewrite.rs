//! The token-level rewrite of a scope's body.
//!
//! Walks the body's token trees recursively, so it also reaches spawns written inside other macro
//! calls (`println!("{}", io_async!(f()).join(io))`), and:
//! - replaces the arguments of `io_async!(…)`, `io_concurrent!(…)` and `io_group!()` (whatever
//!   path they are called through: `io_async!`, `io::io_async!`, `::io::io_async!`) by the
//!   finished call on the scope's hidden `&Scope` (see `spawn`), marked as such;
//! - leaves a nested `scope!(…)` untouched: it expands later, with its own scope (its control
//!   flow, though, was already rewritten as part of this body's: see `flow`);
//! - leaves nested `fn` items untouched: a spawn there would outlive this scope's borrow, so it
//!   stays unrewritten and reports "outside scope!";
//! - replaces a spawn inside the closure of a task (`io_async!(move || io_async!(f()))`) by an
//!   error saying to open a scope in the task: the task cannot hold this scope's `&Scope`;
//! - reports every `.await` it sees (see the module documentation of `scope` for why). The
//!   closure around the body rejects every `.await` anyway, including those produced by macros;
//!   this check only gives the visible ones a message that says what to do instead.

use proc_macro2::{Delimiter, Group, Ident, TokenStream, TokenTree};

use crate::diag::{self, Errors};
use crate::spawn::{self, Kind};

/// The error for `.await` in a scope body.
pub(crate) const AWAIT: &str = "scope! cannot contain `.await`: io tasks block their caller, \
     they are not Rust futures; a suspended scope could be forgotten with its tasks still running. \
     Call io's blocking operations without `.await`, or move the `.await` out of the scope";

/// Rewrites `body` for the scope named `guard` (the closure's hidden `&Scope` parameter); returns
/// the new tokens and the errors found.
pub(crate) fn rewrite(body: TokenStream, guard: &Ident) -> (TokenStream, Errors) {
    let mut rewriter = Rewriter {
        guard,
        errors: Errors::default(),
        in_task: false,
    };
    let tokens = rewriter.stream(body);
    (tokens, rewriter.errors)
}

/// The state of one rewrite.
struct Rewriter<'a> {
    /// The scope's hidden `&Scope` parameter.
    guard: &'a Ident,
    /// The `.await`s found so far.
    errors: Errors,
    /// Whether the tokens being rewritten are inside the closure of a task.
    in_task: bool,
}

impl Rewriter<'_> {
    /// Rewrites one token stream (the body, or the inside of a group).
    fn stream(&mut self, stream: TokenStream) -> TokenStream {
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        let mut out = Vec::with_capacity(tokens.len());
        let mut at = 0;
        while at < tokens.len() {
            at = self.step(&tokens, at, &mut out);
        }
        out.into_iter().collect()
    }

    /// Rewrites the construct starting at `tokens[at]` into `out`; returns where the next starts.
    fn step(&mut self, tokens: &[TokenTree], at: usize, out: &mut Vec<TokenTree>) -> usize {
        if let Some((name, args)) = macro_call(tokens, at) {
            self.macro_call(&tokens[at..at + 3], name, args, out);
            return at + 3;
        }
        match &tokens[at] {
            TokenTree::Group(group) => out.push(self.group(group)),
            TokenTree::Ident(ident) if ident == "fn" && is_ident(tokens.get(at + 1)) => {
                let end = item_end(tokens, at);
                out.extend_from_slice(&tokens[at..end]);
                return end;
            }
            TokenTree::Punct(dot) if dot.as_char() == '.' && is_await(tokens.get(at + 1)) => {
                self.errors.push(diag::spanned(
                    tokens[at..at + 2].iter().cloned().collect::<TokenStream>(),
                    AWAIT,
                ));
                out.push(tokens[at].clone());
            }
            tree => out.push(tree.clone()),
        }
        at + 1
    }

    /// Handles the macro call `name ! args`, whose three tokens are `call`.
    fn macro_call(
        &mut self,
        call: &[TokenTree],
        name: &Ident,
        args: &Group,
        out: &mut Vec<TokenTree>,
    ) {
        match Kind::from_macro_name(name) {
            Some(kind) if self.in_task => {
                out.extend_from_slice(&call[..2]);
                out.push(spawn::in_task(kind, call, args).into());
            }
            Some(kind) => {
                let in_task = kind != Kind::Group && spawn::is_task_closure(&args.stream());
                let outer = std::mem::replace(&mut self.in_task, in_task);
                let rewritten = self.stream(args.stream());
                self.in_task = outer;
                out.extend_from_slice(&call[..2]);
                out.push(spawn::in_scope(kind, self.guard, name, args, rewritten).into());
            }
            None => out.extend_from_slice(call),
        }
    }

    /// `group` with its contents rewritten and its delimiters and span kept.
    fn group(&mut self, group: &Group) -> TokenTree {
        let mut rewritten = Group::new(group.delimiter(), self.stream(group.stream()));
        rewritten.set_span(group.span());
        TokenTree::Group(rewritten)
    }
}

/// The macro call `name ! (args)` at `tokens[at]`, if `name` is `scope` or a spawning macro.
fn macro_call(tokens: &[TokenTree], at: usize) -> Option<(&Ident, &Group)> {
    let [TokenTree::Ident(name), TokenTree::Punct(bang), TokenTree::Group(args)] =
        tokens.get(at..at + 3)?
    else {
        return None;
    };
    let ours = name == "scope" || Kind::from_macro_name(name).is_some();
    (ours && bang.as_char() == '!').then_some((name, args))
}

/// The index just past the `fn` item starting at `tokens[at]`: after its body, or after the `;`
/// of a bodiless declaration.
fn item_end(tokens: &[TokenTree], at: usize) -> usize {
    let end = tokens[at..].iter().position(|tree| match tree {
        TokenTree::Group(group) => group.delimiter() == Delimiter::Brace,
        TokenTree::Punct(punct) => punct.as_char() == ';',
        _ => false,
    });
    end.map_or(tokens.len(), |end| at + end + 1)
}

/// Whether `tree` is an identifier.
fn is_ident(tree: Option<&TokenTree>) -> bool {
    matches!(tree, Some(TokenTree::Ident(_)))
}

/// Whether `tree` is the keyword `await`.
fn is_await(tree: Option<&TokenTree>) -> bool {
    matches!(tree, Some(TokenTree::Ident(ident)) if ident == "await")
}
