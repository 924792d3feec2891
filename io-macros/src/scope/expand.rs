//! Expanding `scope!(io, { … })`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

use super::flow::{self, at, constructor, Exits, Jump, JumpKind, Names, Parsed, Value};
use super::parse::ScopeInput;
use super::rewrite::rewrite;
use crate::diag::Errors;

/// The name of the closure's `&Scope` parameter. Its span is `Span::mixed_site()`, so user code
/// cannot name it; the spawns that `scope!` writes into the body can.
const GUARD: &str = "__io_scope";

/// The expansion of a parsed `scope!`, with the runtime at `krate`:
///
/// ```text
/// {
///     enum __IoFlow<V, R, B0> { Value(V), Return(R), Break0(B0), Continue1(()) }
///     match krate::__private::scope(io, |__io_scope| {
///         let __io_as_return = __IoFlow::Return;     // one per variant the body uses
///         …
///         statements, exits rewritten (see `flow`), spawns rewritten (see `rewrite`)
///         let __io_value = tail;                   // or `{ last statement }`, or `()`
///         let __io_flow = { krate::__private::body_ends(__io_scope); __IoFlow::Value(__io_value) };
///         __io_flow
///     }) {
///         __IoFlow::Value(v) => v,
///         __IoFlow::Return(r) => return r,
///         __IoFlow::Break0(b) => break 'label b,
///         __IoFlow::Continue1(()) => continue,
///     }
/// }
/// ```
///
/// The enum has only the variants the body needs, so that no type parameter is left to infer.
/// The body's statements stay at the closure's top level (not in a block of their own), so
/// that its locals are dropped after `body_ends`: handles dropped then only request
/// cancellation, and the library joins all of them at once. The tail goes through
/// `__io_value` so that its temporaries (the handle in `io_async!(f()).join(io)`) are dropped
/// before. Without a tail, the last expression statement is evaluated as `{ statement }`, whose
/// type is `!` when it diverges: a body ending in `return x;` or `panic!();` then has any
/// type, as a block would. When the body always leaves early, the statements after its end are
/// unreachable; that warning would be about generated code, hence the `allow`.
///
/// The arms re-apply `return` and each `break`/`continue` outside the closure, spanned at the
/// user's first keyword of each kind, with the user's label.
///
/// A body with a visible `.await` is reported as such, and expanded without the closure (see
/// [`await_fallback`]) so that the user sees one error, not also rustc's E0728.
pub(crate) fn expand(krate: &TokenStream, input: &ScopeInput) -> TokenStream {
    let scope = Ident::new(GUARD, Span::mixed_site());
    let io = match &input.io {
        Ok(io) => io.to_token_stream(),
        Err(error) => crate::diag::error_expr(error),
    };
    let names = Names {
        krate,
        scope: &scope,
    };
    let body = flow::rewrite(&input.body, &names);
    let (stmts, mut errors) = rewrite(body.stmts, &scope);
    let mut rewritten = |tokens| {
        let (tokens, more) = rewrite(tokens, &scope);
        errors.extend(more);
        tokens
    };
    let value = match body.value {
        Value::Tail(tail) => Value::Tail(rewritten(tail)),
        Value::Statement(last) => Value::Statement(rewritten(last)),
        Value::Unit => Value::Unit,
    };
    if !errors.is_empty() {
        return await_fallback(krate, &io, input, &errors);
    }
    let body = Parsed {
        stmts,
        value,
        exits: body.exits,
    };
    in_closure(krate, &io, &scope, &body)
}

/// The expansion proper: the enum, the closure and the `match` that re-applies the exits.
fn in_closure(krate: &TokenStream, io: &TokenStream, scope: &Ident, body: &Parsed) -> TokenStream {
    let flow = Ident::new("__IoFlow", Span::mixed_site());
    let (value, result) = (hidden("__io_value"), hidden("__io_flow"));
    let variants = Variants::of(&flow, &body.exits);
    let (params, declared) = (&variants.params, &variants.declared);
    let constructors = variants
        .constructors
        .iter()
        .map(|(local, variant)| quote!(let #local = #flow::#variant;));
    let arms = &variants.arms;
    let stmts = &body.stmts;
    let tail = value_statement(krate, &value, &body.value);
    quote! {
        {
            enum #flow<#(#params),*> { #(#declared),* }
            match #krate::__private::scope(#io, |#scope| {
                #(#constructors)*
                #stmts
                #tail
                #[allow(unreachable_code)]
                let #result = {
                    #krate::__private::body_ends(#scope);
                    #flow::Value(#value)
                };
                #result
            }) {
                #(#arms),*
            }
        }
    }
}

/// `let __io_value = …;` for the end of the body.
///
/// Its `let` and `;` are located at the user's first and last token, so that when the code
/// before it diverges, "unreachable statement" points at the user's tail or statement.
fn value_statement(krate: &TokenStream, name: &Ident, value: &Value) -> TokenStream {
    let (tokens, init) = match value {
        // A task handle may not be the value: say so before rustc reports a lifetime error.
        Value::Tail(tail) => (tail, quote!(#krate::__private::may_leave_scope(#tail))),
        Value::Statement(last) => (last, quote!({ #last })),
        Value::Unit => return quote!(#[allow(unreachable_code)] let #name = ();),
    };
    let mut spans = tokens.clone().into_iter().map(|tree| tree.span());
    let first = spans.next().unwrap_or_else(Span::call_site);
    let last = spans.last().unwrap_or(first);
    let let_token = quote_spanned!(at(first)=> let);
    let semi = quote_spanned!(at(last)=> ;);
    // A body may end by diverging (`panic!()`, `return x;`), and clippy would report the
    // `let` of a diverging value as a diverging sub-expression of the user's (and rustc the
    // check of a diverging tail, such as an accept `loop`, as an unreachable call).
    quote!(#[allow(unreachable_code, clippy::diverging_sub_expression)] #let_token #name = #init #semi)
}

/// The parts of the expansion that depend on the body's exits.
struct Variants {
    /// The enum's name.
    flow: Ident,
    /// The enum's type parameters.
    params: Vec<Ident>,
    /// The enum's variants, declared.
    declared: Vec<TokenStream>,
    /// The local constructor variable of each variant the body's exits use, and the variant.
    constructors: Vec<(Ident, Ident)>,
    /// The `match` arms.
    arms: Vec<TokenStream>,
}

impl Variants {
    /// The variants for `exits`, `Value` first.
    fn of(flow: &Ident, exits: &Exits) -> Variants {
        let value_param = hidden("__IoV");
        let v = hidden("__io_v");
        let mut variants = Variants {
            flow: flow.clone(),
            params: vec![value_param.clone()],
            declared: vec![quote!(Value(#value_param))],
            constructors: Vec::new(),
            arms: vec![quote!(#flow::Value(#v) => #v)],
        };
        if let Some(site) = exits.returns {
            variants.push_return(site);
        }
        for (index, jump) in exits.jumps.iter().enumerate() {
            variants.push_jump(index, jump);
        }
        variants
    }

    /// `Return(R)`: the arm returns from the enclosing function, spanned at the first `return`
    /// or `?`, so a type mismatch with the function points there.
    fn push_return(&mut self, site: Span) {
        let (param, variant) = (hidden("__IoR"), flow::return_variant());
        let (r, flow) = (Ident::new("__io_r", at(site)), &self.flow);
        self.declared.push(quote!(#variant(#param)));
        self.params.push(param);
        self.arms
            .push(quote_spanned!(at(site)=> #flow::#variant(#r) => return #r));
        self.constructors
            .push((constructor(&variant, Span::call_site()), variant));
    }

    /// `Break{index}(B)`, `Break{index}(())` or `Continue{index}(())`: the arm re-applies the
    /// jump with the user's label, its keyword spanned at the user's first one.
    fn push_jump(&mut self, index: usize, jump: &Jump) {
        let (variant, flow) = (jump.variant(index), &self.flow);
        let span = at(jump.keyword);
        let label = &jump.label;
        let b = Ident::new("__io_b", span);
        let (payload, arm) = match jump.kind {
            JumpKind::Break if jump.carries_value => {
                let param = format_ident!("__IoB{}", index, span = Span::mixed_site());
                self.params.push(param.clone());
                (
                    param.into_token_stream(),
                    quote_spanned!(span=> #flow::#variant(#b) => break #label #b),
                )
            }
            JumpKind::Break => (
                quote!(()),
                quote_spanned!(span=> #flow::#variant(()) => break #label),
            ),
            // At the end of a loop's body the re-applied `continue` looks redundant to clippy,
            // unlike the user's in the middle of the scope's body.
            JumpKind::Continue => (
                quote!(()),
                quote_spanned! {span=>
                    #[allow(clippy::needless_continue)]
                    #flow::#variant(()) => continue #label
                },
            ),
        };
        self.declared.push(quote!(#variant(#payload)));
        self.arms.push(arm);
        self.constructors
            .push((constructor(&variant, Span::call_site()), variant));
    }
}

/// The expansion of a body with a visible `.await`: the errors, and the body as a plain block
/// (no closure, so rustc does not add its own "`await` outside of an async context"), after a
/// `&Scope` that is never created. It is never run: the errors fail the build.
fn await_fallback(
    krate: &TokenStream,
    io: &TokenStream,
    input: &ScopeInput,
    errors: &Errors,
) -> TokenStream {
    let scope = Ident::new(GUARD, Span::mixed_site());
    let (body, _) = rewrite(input.body.stream(), &scope);
    let value = hidden("__io_value");
    let errors = errors.to_compile_errors();
    quote! {
        {
            #errors
            let _ = #io;
            #[allow(unreachable_code)]
            let #value = {
                let #scope: &#krate::__private::Scope<'_> = loop {};
                #body
            };
            #value
        }
    }
}

/// A generated identifier with mixed-site hygiene.
fn hidden(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}
