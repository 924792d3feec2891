//! Tests of parsing and rewriting `scope!`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::parse::{parse, EXPECTED_BLOCK, NEEDS_IO};
use super::rewrite::{rewrite, AWAIT};
use super::scope;

/// The guard the tests rewrite against.
fn guard() -> Ident {
    Ident::new("__io_scope", Span::mixed_site())
}

/// `body` rewritten, as a string, and whether it had errors.
fn rewritten(body: TokenStream) -> (String, bool) {
    let (tokens, errors) = rewrite(body, &guard());
    (tokens.to_string(), !errors.is_empty())
}

/// How many times `needle` occurs in `haystack`.
fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn rewrite_replaces_spawns_in_nested_groups() {
    let (out, failed) = rewritten(quote! {
        let a = (io_async!(f(x)), [io_concurrent!(g())]);
        if c { let b = io_async!(h(&y)); }
    });
    assert!(!failed);
    assert_eq!(count(&out, "__io_rewritten"), 3);
    assert_eq!(count(&out, "spawn_async"), 2);
    assert_eq!(count(&out, "spawn_concurrent"), 1);
}

#[test]
fn rewrite_reaches_inside_other_macro_calls() {
    let (out, _) = rewritten(quote! { println!("{}", io_async!(f(io)).join(io)); });
    assert!(
        out.starts_with("println ! (\"{}\" , io_async ! (@ __io_rewritten {"),
        "{out}"
    );
    assert!(out.contains("(& __io_scope) . spawn_async"), "{out}");
}

#[test]
fn rewrite_keeps_the_path_the_user_wrote() {
    let (out, _) = rewritten(quote! { ::io::io_async!(f()); io::io_group!() });
    assert!(
        out.starts_with(":: io :: io_async ! (@ __io_rewritten"),
        "{out}"
    );
    assert!(
        out.contains("io :: io_group ! (@ __io_rewritten { (& __io_scope) . group () })"),
        "{out}"
    );
}

#[test]
fn rewrite_leaves_nested_scope_alone() {
    let body = quote! { let v = scope!(io, { io_async!(f()).join(io) }); v };
    let (out, failed) = rewritten(body.clone());
    assert!(!failed);
    assert_eq!(out, body.to_string());
}

#[test]
fn rewrite_leaves_nested_fn_items_alone() {
    let (out, _) = rewritten(quote! {
        fn helper(io: Io) -> u32 { io_async!(f(io)).join(io) }
        let x: fn(u32) -> u32 = |x| x;
        io_async!(g())
    });
    assert!(out.starts_with("fn helper (io : Io) -> u32 { io_async ! (f (io)) . join (io) }"));
    assert_eq!(count(&out, "spawn_async"), 1);
}

#[test]
fn rewrite_rejects_await() {
    let (_, failed) = rewritten(quote! { let x = other().await; });
    assert!(failed);
    let (_, failed) = rewritten(quote! { let x = async { (other().await, io_async!(f())) }; });
    assert!(failed);
    let (_, errors) = rewrite(quote! { a.await; b.await }, &guard());
    let messages: Vec<String> = errors
        .into_error()
        .into_iter()
        .flatten()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(messages, [AWAIT, AWAIT]);
}

#[test]
fn rewrite_allows_await_where_the_guard_is_not_held() {
    let (_, failed) = rewritten(quote! {
        async fn later() { other().await }
        scope!(io, { x.await })
    });
    assert!(!failed, "nested fn and nested scope report for themselves");
}

#[test]
fn rewrite_ignores_lookalikes() {
    let body =
        quote! { if scope != 3 { io_async = 1; x.io_async; } macro_rules! io_async { () => {} } };
    let (out, failed) = rewritten(body.clone());
    assert!(!failed);
    assert_eq!(out, body.to_string());
}

#[test]
fn rewrite_reports_bad_spawns_in_place() {
    let (out, failed) = rewritten(quote! { let x = io_async!(42).join(io); });
    assert!(
        !failed,
        "a bad spawn is an error expression, not a scope error"
    );
    assert!(out.contains("compile_error"), "{out}");
}

#[test]
fn parse_accepts_io_and_block() {
    for input in [
        quote!(io, {
            a;
            b
        }),
        quote!(io, { a },),
        quote!(self.io, {}),
        quote!(get::<A, B>(x), { a }),
        quote!({ io }, { a }),
    ] {
        let parsed = parse(input.clone()).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert!(parsed.io.is_ok(), "{input}");
    }
}

#[test]
fn parse_reports_missing_io_and_keeps_the_body() {
    let parsed = parse(quote!({ io_async!(f()) })).expect("body kept");
    assert_eq!(
        parsed.io.err().map(|e| e.to_string()).as_deref(),
        Some(NEEDS_IO)
    );
    assert_eq!(
        parse(quote!()).err().map(|e| e.to_string()).as_deref(),
        Some(NEEDS_IO)
    );
}

#[test]
fn parse_rejects_a_second_argument_that_is_no_block() {
    for input in [quote!(io, 3), quote!(io, (a)), quote!(io), quote!(io,)] {
        let error = parse(input.clone())
            .err()
            .unwrap_or_else(|| panic!("{input} accepted"));
        assert_eq!(error.to_string(), EXPECTED_BLOCK, "{input}");
    }
    assert!(parse(quote!(io { a })).is_err());
    assert!(parse(quote!(io, { a }, b)).is_err());
}

#[test]
fn scope_expands_to_guard_body_and_result() {
    let out = scope(quote!($crate; io, { io_async!(f(a)).join(io) })).to_string();
    let expected = quote! {
        {
            let __io_handle = io;
            #[allow(unused_unsafe)]
            let __io_scope = unsafe { $crate::__private::Scope::new(__io_handle) };
            let __io_result = {
                io_async!(@__io_rewritten {
                    (&__io_scope).spawn_async({
                        let __io_args = (a,);
                        move || { let (__a0,) = __io_args; f(__a0) }
                    })
                }).join(io)
            };
            #[allow(unreachable_code)]
            let __io_result = __io_result;
            __io_result
        }
    };
    assert_eq!(out, expected.to_string());
}

#[test]
fn scope_without_crate_path_is_an_error() {
    let out = scope(quote!(io, {})).to_string();
    assert!(out.contains("compile_error"), "{out}");
}
