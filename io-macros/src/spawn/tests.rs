//! Tests of classifying and expanding spawns.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::parse::{call_hint, classify, parse, Target, GROUP_HINT};
use super::{in_scope, spawn_macro, Kind};

/// The guard the tests expand against.
fn guard() -> Ident {
    Ident::new("__io_scope", Span::mixed_site())
}

/// `tokens` parsed as the argument of `kind!`.
fn parsed(kind: Kind, tokens: TokenStream) -> syn::Result<super::parse::Spawn> {
    parse(kind, tokens, Span::call_site())
}

/// The expansion of `kind!(tokens)` inside a scope, as a string.
fn expanded(kind: Kind, tokens: TokenStream) -> String {
    let name = Ident::new(kind.name(), Span::call_site());
    let args = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, tokens.clone());
    in_scope(kind, &guard(), &name, &args, tokens)
        .stream()
        .to_string()
}

#[test]
fn classify_accepts_path_and_method_calls() {
    for call in [
        quote!(f()),
        quote!(do_work(io, "hard")),
        quote!(path::to::f::<u8, String>(a, b)),
        quote!(<T as Trait>::f(a)),
        quote!((f(x))),
        quote!(io.sleep(d, Clock::Awake)),
        quote!(self.server.handle::<Req>(req)),
        quote!(make().m()),
    ] {
        let expr = syn::parse2(call.clone()).unwrap();
        assert!(classify(expr).is_some(), "{call}");
    }
}

#[test]
fn classify_sorts_callees() {
    let target = |tokens| classify(syn::parse2(tokens).unwrap()).unwrap().target;
    assert!(matches!(target(quote!(f::<u8>(x))), Target::Path(_)));
    assert!(matches!(
        target(quote!((self.handler)(x))),
        Target::Callee(_)
    ));
    let Target::Method {
        method, turbofish, ..
    } = target(quote!(q.get::<u8>(io)))
    else {
        panic!("not a method");
    };
    assert_eq!(method, "get");
    assert!(turbofish.is_some());
}

#[test]
fn parse_rejects_anything_but_one_call() {
    for tokens in [
        quote!(),
        quote!(42),
        quote!("s"),
        quote!(x),
        quote!(io.field),
        quote!(|| f()),
        quote!(move || f(x)),
        quote!({ f() }),
        quote!(f(), g()),
        quote!(f(),),
        quote!(a + f()),
        quote!(f()?),
    ] {
        let error = parsed(Kind::Async, tokens.clone()).err();
        let message = error
            .unwrap_or_else(|| panic!("{tokens} accepted"))
            .to_string();
        assert_eq!(message, call_hint(Kind::Async), "{tokens}");
    }
    assert_eq!(
        call_hint(Kind::Async),
        "io_async! takes a function call, e.g. io_async!(do_work(io, \"hard\"))"
    );
}

#[test]
fn io_group_takes_no_arguments() {
    assert!(parsed(Kind::Group, quote!()).is_ok());
    let error = parsed(Kind::Group, quote!(io)).err().unwrap();
    assert_eq!(error.to_string(), GROUP_HINT);
}

#[test]
fn io_async_evaluates_arguments_then_moves_them_into_the_task() {
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_async({
                let __io_args = (io, "hard",);
                move || { let (__a0, __a1,) = __io_args; do_work(__a0, __a1) }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Async, quote!(do_work(io, "hard"))),
        expected.to_string()
    );
}

#[test]
fn io_concurrent_borrows_the_receiver_first() {
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_concurrent({
                let __io_recv = &self.q;
                let __io_args = (io,);
                move || { let (__a0,) = __io_args; __io_recv.get::<u8>(__a0) }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Concurrent, quote!(self.q.get::<u8>(io))),
        expected.to_string()
    );
}

#[test]
fn a_callee_expression_is_evaluated_first() {
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_async({
                let __io_callee = self.handler;
                let __io_args = ();
                move || { let () = __io_args; __io_callee() }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Async, quote!((self.handler)())),
        expected.to_string()
    );
}

#[test]
fn io_group_asks_the_guard() {
    let expected = quote!(@__io_rewritten { (&__io_scope).group() });
    assert_eq!(expanded(Kind::Group, quote!()), expected.to_string());
}

#[test]
fn a_bad_spawn_expands_to_an_error_expression() {
    let out = expanded(Kind::Async, quote!(42));
    assert!(
        out.starts_with("@ __io_rewritten { (:: core :: compile_error !"),
        "{out}"
    );
}

#[test]
fn unrewritten_spawns_are_errors_and_rewritten_ones_pass_through() {
    let outside = spawn_macro(Kind::Async, quote!($crate; f(x))).to_string();
    assert!(outside.contains("must be used inside scope!"), "{outside}");
    let inside = spawn_macro(Kind::Async, quote!($crate; @__io_rewritten { a.b() })).to_string();
    assert_eq!(inside, quote!(a.b()).to_string());
    let forged = spawn_macro(Kind::Group, quote!($crate; @__io_rewritten (x))).to_string();
    assert!(forged.contains("compile_error"), "{forged}");
}
