//! Carrying control flow out of the scope's closure.
//!
//! The body of `scope!` runs in a closure, so a `return`, `?`, `break` or `continue` written in
//! it must not act on that closure but on the enclosing function or loop. This module rewrites
//! each such exit into a `return` out of the closure that carries what happened (a variant of
//! the expansion's local `__IoFlow` enum); `expand` then re-applies it after the scope ended:
//!
//! | written                    | becomes (inside the closure)                                 |
//! |----------------------------|--------------------------------------------------------------|
//! | `return e` / `return`      | `return { let v = e; body_ends(s); __io_as_return(v) }`      |
//! | `e?`                       | `(match Branch::branch(e) { Continue(v) => v, Break(r) => …` |
//! |                            | `… return { let v = FromResidual::from_residual(r); … } })`  |
//! | `break 'l v` / `break` / … | `return { let v = v; body_ends(s); __io_as_break0(v) }`      |
//! | `continue 'l` / `continue` | `return { let v = (); body_ends(s); __io_as_continue1(v) }`  |
//!
//! Each value is evaluated before `body_ends` marks the scope as ending; `expand` then
//! re-applies `return r`, `break 'l v`, `continue 'l` outside the closure.
//!
//! A `break`/`continue` is rewritten only when it leaves the body: unlabeled inside no loop of
//! the body, or labeled with a label the body does not declare. Closures, `async` blocks,
//! `const` blocks and items have control flow of their own and are not entered. A nested
//! `scope!` is entered: its exits are this scope's exits too (the nested expansion re-applies
//! the `return` as a return out of its own closure, which is this closure's body). Other macro
//! calls are entered when their arguments parse as comma-separated
//! expressions (or as `value; count`, for `vec!`), and re-emitted only if something in them
//! changed.
//!
//! The rewritten exits name the variants through local constructor variables (`as_return`, …)
//! with mixed-site hygiene rather than through the enum's path: an item name is not hygienic,
//! so inside a nested `scope!` the path `__IoFlow` would mean the nested expansion's enum.

use std::collections::HashMap;

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote_spanned, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Block, Expr, GenericArgument, Item, Label, Lifetime, Macro, Stmt, StmtMacro, Token, Type,
};

/// A body with its exits rewritten.
pub(crate) struct Parsed {
    /// The statements before [`Parsed::value`].
    pub(crate) stmts: TokenStream,
    /// What gives the body its value.
    pub(crate) value: Value,
    /// The exits the rewrite carried out of the body.
    pub(crate) exits: Exits,
}

/// The end of a body, which gives it its value.
pub(crate) enum Value {
    /// The tail expression.
    Tail(TokenStream),
    /// The last statement, an expression statement (`e;`) or a macro call in statement
    /// position (`m! { … }`), to be evaluated as the only statement of a block: the value is
    /// `()`, or `!` when the statement diverges (`return x;`, `panic!();`), or the value of the
    /// expansion of a brace macro without `;` (which may also be items or statements), as
    /// for a block ending with it.
    Statement(TokenStream),
    /// Nothing that can diverge (a `let`, an item, or no statement at all): the value is `()`.
    Unit,
}

/// The ways the rewritten body leaves the closure besides its value.
#[derive(Default)]
pub(crate) struct Exits {
    /// The first `return` or `?` that leaves the enclosing function, if any.
    pub(crate) returns: Option<Span>,
    /// The loops and labeled blocks outside the body that it breaks or continues, in order of
    /// first appearance.
    pub(crate) jumps: Vec<Jump>,
}

/// `break` or `continue` to one target outside the body.
pub(crate) struct Jump {
    /// Which of the two.
    pub(crate) kind: JumpKind,
    /// The label, as first written (`None` for the innermost enclosing loop).
    pub(crate) label: Option<Lifetime>,
    /// The first `break`/`continue` keyword for this target, where the re-applied one is
    /// spanned, so errors about it (`break` inside a closure…) point at the user's token.
    pub(crate) keyword: Span,
    /// Whether some `break` to this target carries a value (then all of them do; a bare
    /// `break 'l` carries `()`).
    pub(crate) carries_value: bool,
}

/// `break` or `continue`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum JumpKind {
    /// `break`.
    Break,
    /// `continue`.
    Continue,
}

impl Jump {
    /// The name of this jump's variant of `__IoFlow`, `index` being its place in
    /// [`Exits::jumps`].
    pub(crate) fn variant(&self, index: usize) -> Ident {
        match self.kind {
            JumpKind::Break => format_ident!("Break{}", index, span = Span::mixed_site()),
            JumpKind::Continue => format_ident!("Continue{}", index, span = Span::mixed_site()),
        }
    }
}

/// The local variable holding the constructor of the variant `variant` (`__io_as_return`, …),
/// spanned at `site`.
pub(crate) fn constructor(variant: &Ident, site: Span) -> Ident {
    let name = variant.to_string().to_lowercase();
    format_ident!("__io_as_{}", name, span = at(site))
}

/// The name of the `Return` variant.
pub(crate) fn return_variant() -> Ident {
    Ident::new("Return", Span::mixed_site())
}

/// A span resolving like the expansion's own identifiers (mixed-site hygiene) but located at
/// `site`, so that diagnostics point at the user's token.
pub(crate) fn at(site: Span) -> Span {
    Span::mixed_site().located_at(site)
}

/// `value; count`, as in `vec![value; count]`.
fn repeat(input: ParseStream) -> syn::Result<(Expr, Token![;], Expr)> {
    Ok((input.parse()?, input.parse()?, input.parse()?))
}

/// `tokens`, each token located at `site` (resolving as before).
fn relocate(tokens: &TokenStream, site: Span) -> TokenStream {
    let located = |mut tree: TokenTree| {
        tree.set_span(tree.span().located_at(site));
        tree
    };
    tokens.clone().into_iter().map(located).collect()
}

/// The names the rewritten exits use.
pub(crate) struct Names<'a> {
    /// The path of the `io` crate.
    pub(crate) krate: &'a TokenStream,
    /// The closure's `&Scope` parameter.
    pub(crate) scope: &'a Ident,
}

/// Rewrites the exits of the block `body`.
///
/// A body that does not parse becomes the tail, unchanged and with its braces, so that the
/// compiler reports the syntax error at the user's tokens. Should the compiler accept what syn
/// rejects, the body still cannot exit: its `return`, `?`, `break` or `continue` would act on
/// the closure, whose return type (`__IoFlow`) makes every one of them a compile error rather
/// than a silent change of meaning.
pub(crate) fn rewrite(body: &Group, names: &Names) -> Parsed {
    let Ok(mut stmts) = Block::parse_within.parse2(body.stream()) else {
        return Parsed {
            stmts: TokenStream::new(),
            value: Value::Tail(TokenTree::Group(body.clone()).into()),
            exits: Exits::default(),
        };
    };
    let mut rewriter = Rewriter::new(names);
    for stmt in &mut stmts {
        rewriter.visit_stmt_mut(stmt);
    }
    let value = take_value(&mut stmts);
    Parsed {
        stmts: stmts.iter().map(ToTokens::to_token_stream).collect(),
        value,
        exits: rewriter.exits,
    }
}

/// Removes and returns what gives `stmts` its value: a last expression without `;`, else the
/// last expression or macro statement (stray `;` after it skipped).
fn take_value(stmts: &mut Vec<Stmt>) -> Value {
    if matches!(stmts.last(), Some(Stmt::Expr(_, None))) {
        return stmts
            .pop()
            .map_or(Value::Unit, |tail| Value::Tail(tail.into_token_stream()));
    }
    let is_empty =
        |stmt: &Stmt| matches!(stmt, Stmt::Expr(Expr::Verbatim(v), Some(_)) if v.is_empty());
    let Some(last) = stmts.iter().rposition(|stmt| !is_empty(stmt)) else {
        return Value::Unit;
    };
    if matches!(stmts[last], Stmt::Expr(..) | Stmt::Macro(..)) {
        Value::Statement(stmts.remove(last).into_token_stream())
    } else {
        Value::Unit
    }
}

/// The state of one rewrite.
struct Rewriter<'a> {
    /// The names the generated code uses.
    names: &'a Names<'a>,
    /// How many loops of the body enclose the current expression (unlabeled `break` and
    /// `continue` stay inside when this is not zero).
    loops: usize,
    /// The labels the body declares around the current expression.
    labels: Vec<String>,
    /// The exits found so far.
    exits: Exits,
    /// Where each jump target is in `exits.jumps`.
    targets: HashMap<(JumpKind, Option<String>), usize>,
    /// How many exits were rewritten so far (to know whether a macro call changed).
    rewrites: usize,
}

impl<'a> Rewriter<'a> {
    /// A rewriter at the top of a body.
    fn new(names: &'a Names<'a>) -> Self {
        Rewriter {
            names,
            loops: 0,
            labels: Vec::new(),
            exits: Exits::default(),
            targets: HashMap::new(),
            rewrites: 0,
        }
    }

    /// Runs `walk` inside a loop (`is_loop`) or a labeled block of the body.
    fn inside(&mut self, label: Option<&Label>, is_loop: bool, walk: impl FnOnce(&mut Self)) {
        let labeled = label.is_some();
        if let Some(label) = label {
            self.labels.push(label.name.ident.to_string());
        }
        self.loops += usize::from(is_loop);
        walk(self);
        self.loops -= usize::from(is_loop);
        if labeled {
            self.labels.pop();
        }
    }

    /// Rewrites inside the arguments of a macro call if they parse as comma-separated
    /// expressions (`println!`, `assert_eq!`, `io_async!`, a nested `scope!`) or as
    /// `value; count` (`vec![x; n]`); the tokens are replaced only if an exit in them was
    /// rewritten, so other macros see exactly what the user wrote.
    fn macro_args(&mut self, mac: &mut Macro) {
        let before = self.rewrites;
        let list = Punctuated::<Expr, Token![,]>::parse_terminated;
        let rewritten = if let Ok(mut args) = list.parse2(mac.tokens.clone()) {
            args.iter_mut().for_each(|arg| self.visit_expr_mut(arg));
            args.into_token_stream()
        } else if let Ok((mut value, semi, mut count)) = repeat.parse2(mac.tokens.clone()) {
            self.visit_expr_mut(&mut value);
            self.visit_expr_mut(&mut count);
            quote::quote!(#value #semi #count)
        } else {
            return;
        };
        if self.rewrites != before {
            mac.tokens = rewritten;
        }
    }

    /// The replacement of the exit `expr` (its operands already rewritten), if it leaves the
    /// body.
    fn exit(&mut self, expr: &Expr) -> Option<TokenStream> {
        match expr {
            Expr::Return(ret) => {
                let site = ret.return_token.span;
                self.exits.returns.get_or_insert(site);
                let value = ret.expr.as_deref().map(ToTokens::to_token_stream);
                Some(self.leave(site, &return_variant(), value))
            }
            Expr::Try(question) => Some(self.question_mark(question)),
            Expr::Break(brk) => {
                let site = brk.break_token.span;
                let variant = self.jump(
                    JumpKind::Break,
                    brk.label.as_ref(),
                    site,
                    brk.expr.is_some(),
                )?;
                let value = brk.expr.as_deref().map(ToTokens::to_token_stream);
                Some(self.leave(site, &variant, value))
            }
            Expr::Continue(cont) => {
                let site = cont.continue_token.span;
                let variant = self.jump(JumpKind::Continue, cont.label.as_ref(), site, false)?;
                Some(self.leave(site, &variant, None))
            }
            _ => None,
        }
    }

    /// `(match Branch::branch(e) { Continue(v) => v, Break(r) => return … })` for `e?`.
    fn question_mark(&mut self, question: &syn::ExprTry) -> TokenStream {
        let site = question.question_token.span;
        self.exits.returns.get_or_insert(site);
        let span = at(site);
        // Relocated so that the generated calls span the `?` alone: a call whose first token
        // is `$crate` would span the whole `scope!`.
        let krate = &relocate(self.names.krate, site);
        let expr = &question.expr;
        let (value, residual) = (Ident::new("__io_v", span), Ident::new("__io_r", span));
        let converted =
            quote_spanned!(span=> #krate::__private::FromResidual::from_residual(#residual));
        let leave = self.leave(site, &return_variant(), Some(converted));
        quote_spanned! {span=>
            (match #krate::__private::Branch::branch(#expr) {
                ::core::ops::ControlFlow::Continue(#value) => #value,
                ::core::ops::ControlFlow::Break(#residual) => #leave,
            })
        }
    }

    /// The variant for a `break`/`continue` to `label` written at `site`, registering its
    /// target; `None` when the target is inside the body.
    fn jump(
        &mut self,
        kind: JumpKind,
        label: Option<&Lifetime>,
        site: Span,
        carries_value: bool,
    ) -> Option<Ident> {
        let name = label.map(|label| label.ident.to_string());
        let inside = match &name {
            Some(name) => self.labels.contains(name),
            None => self.loops > 0,
        };
        if inside {
            return None;
        }
        let jumps = &mut self.exits.jumps;
        let index = *self.targets.entry((kind, name)).or_insert_with(|| {
            jumps.push(Jump {
                kind,
                label: label.cloned(),
                keyword: site,
                carries_value: false,
            });
            jumps.len() - 1
        });
        jumps[index].carries_value |= carries_value;
        Some(jumps[index].variant(index))
    }

    /// `return { let v = value; body_ends(scope); as_variant(v) }` at `site` (the value is
    /// evaluated before the scope is marked as ending; no value carries `()`).
    fn leave(&mut self, site: Span, variant: &Ident, value: Option<TokenStream>) -> TokenStream {
        self.rewrites += 1;
        let span = at(site);
        let krate = self.names.krate;
        let scope = Ident::new(&self.names.scope.to_string(), span);
        let constructor = constructor(variant, site);
        let value = value.unwrap_or_else(|| quote_spanned!(span=> ()));
        let v = Ident::new("__io_v", span);
        quote_spanned! {span=>
            return {
                let #v = #value;
                #krate::__private::body_ends(#scope);
                #constructor(#v)
            }
        }
    }
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // Their own control flow: `return`/`?` there leave them, not the body.
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Loop(lp) => {
                self.inside(lp.label.as_ref(), true, |v| v.visit_block_mut(&mut lp.body))
            }
            Expr::While(wh) => self.inside(wh.label.as_ref(), true, |v| {
                v.visit_expr_mut(&mut wh.cond);
                v.visit_block_mut(&mut wh.body);
            }),
            Expr::ForLoop(for_loop) => {
                // The iterator is evaluated before the loop starts.
                self.visit_expr_mut(&mut for_loop.expr);
                self.inside(for_loop.label.as_ref(), true, |v| {
                    v.visit_block_mut(&mut for_loop.body);
                });
            }
            Expr::Block(block) if block.label.is_some() => {
                self.inside(block.label.as_ref(), false, |v| {
                    v.visit_block_mut(&mut block.block)
                });
            }
            Expr::Macro(call) => self.macro_args(&mut call.mac),
            Expr::Return(_) | Expr::Try(_) | Expr::Break(_) | Expr::Continue(_) => {
                visit_mut::visit_expr_mut(self, expr);
                if let Some(exit) = self.exit(expr) {
                    *expr = Expr::Verbatim(exit);
                }
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_stmt_macro_mut(&mut self, stmt: &mut StmtMacro) {
        self.macro_args(&mut stmt.mac);
    }

    // Items (nested `fn`s, `impl`s, `const`s) have control flow of their own.
    fn visit_item_mut(&mut self, _: &mut Item) {}

    // Array lengths and const generic arguments are const contexts.
    fn visit_type_mut(&mut self, _: &mut Type) {}

    fn visit_generic_argument_mut(&mut self, argument: &mut GenericArgument) {
        if !matches!(argument, GenericArgument::Const(_)) {
            visit_mut::visit_generic_argument_mut(self, argument);
        }
    }
}
