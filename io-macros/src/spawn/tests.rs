//! Tests of classifying and expanding spawns.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::parse::{call_hint, classify, parse, Target, GROUP_HINT};
use super::{in_scope, spawn_macro, Kind};

/// The name of the scope's `&Scope` parameter ("guard") the tests expand against.
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
fn parse_takes_move_before_the_call() {
    let moves = |tokens| match parsed(Kind::Async, tokens) {
        Ok(super::parse::Spawn::Call(call)) => call.moves,
        _ => panic!("not a call"),
    };
    assert!(moves(quote!(move x.m(a))));
    assert!(moves(quote!(move f())));
    assert!(!moves(quote!(x.m(a))));
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
        quote!({ f() }),
        quote!(f(), g()),
        quote!(f(),),
        quote!(a + f()),
        quote!(f()?),
        quote!(move),
        quote!(move 42),
        quote!(move move f()),
        quote!(move move || f()),
        quote!(|| f(), g()),
        quote!((|| f())?),
    ] {
        let error = parsed(Kind::Async, tokens.clone()).err();
        let message = error
            .unwrap_or_else(|| panic!("{tokens} accepted"))
            .to_string();
        assert_eq!(message, call_hint(Kind::Async), "{tokens}");
    }
    assert_eq!(
        call_hint(Kind::Async),
        "io_async! takes a function call or a closure without arguments, \
         e.g. io_async!(do_work(io, \"hard\")) or io_async!(move || { … })"
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
fn a_method_on_a_place_is_written_in_a_capturing_closure() {
    // The closure has no `move`: the compiler captures `self.q` as `get` needs it. The
    // arguments move through a `Cell`, which a closure always captures by value.
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_concurrent({
                let __io_args = ::core::cell::Cell::new((io,));
                || { let (__a0,) = __io_args.into_inner(); self.q.get::<u8>(__a0) }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Concurrent, quote!(self.q.get::<u8>(io))),
        expected.to_string()
    );
    for place in [
        quote!(x),
        quote!(self.items),
        quote!((*p)),
        quote!(v[0]),
        quote!(t.0),
    ] {
        let expected = quote!(@__io_rewritten { (&__io_scope).spawn_async(|| #place.len()) });
        assert_eq!(
            expanded(Kind::Async, quote!(#place.len())),
            expected.to_string()
        );
    }
}

#[test]
fn index_operands_are_evaluated_first_in_order() {
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_async({
                let __io_args = ::core::cell::Cell::new((i(), j(), a(),));
                || {
                    let (__io_i0, __io_i1, __a0,) = __io_args.into_inner();
                    grid[__io_i0].rows[__io_i1].m(__a0)
                }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Async, quote!(grid[i()].rows[j()].m(a()))),
        expected.to_string()
    );
}

#[test]
fn a_receiver_that_is_a_value_is_evaluated_first_and_moved() {
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_async({
                let __io_args = (make(x), a,);
                move || { let (mut __io_recv, __a0,) = __io_args; __io_recv.field.m(__a0) }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Async, quote!(make(x).field.m(a))),
        expected.to_string()
    );
    for (call, value, task) in [
        (
            quote!(String::from("ab").len()),
            quote!(String::from("ab")),
            quote!(__io_recv.len()),
        ),
        (
            quote!(vec![1, 2].iter().sum::<i32>()),
            quote!(vec![1, 2].iter()),
            quote!(__io_recv.sum::<i32>()),
        ),
        (quote!({ x }.len()), quote!({ x }), quote!(__io_recv.len())),
        (
            quote!((&mut b).clear()),
            quote!(&mut b),
            quote!((__io_recv).clear()),
        ),
        (
            quote!((*make()).len()),
            quote!(make()),
            quote!((*__io_recv).len()),
        ),
    ] {
        let expected = quote! {
            @__io_rewritten {
                (&__io_scope).spawn_async({
                    let __io_args = (#value,);
                    move || { let (mut __io_recv,) = __io_args; #task }
                })
            }
        };
        assert_eq!(expanded(Kind::Async, call), expected.to_string());
    }
}

#[test]
fn a_literal_receiver_is_written_in_the_task() {
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_async({
                let __io_args = ();
                move || { let () = __io_args; "42".parse::<u8>() }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Async, quote!("42".parse::<u8>())),
        expected.to_string()
    );
}

#[test]
fn move_makes_the_task_take_its_receiver() {
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_async({
                let __io_args = (a,);
                move || { let (__a0,) = __io_args; x.push(__a0) }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Async, quote!(move x.push(a))),
        expected.to_string()
    );
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_async({
                let __io_args = ();
                move || { let () = __io_args; i.min() }
            })
        }
    };
    assert_eq!(
        expanded(Kind::Async, quote!(move i.min())),
        expected.to_string()
    );
    // Nothing to capture: the same as without `move`.
    assert_eq!(
        expanded(Kind::Async, quote!(move f(a))),
        expanded(Kind::Async, quote!(f(a)))
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

#[test]
fn a_closure_without_parameters_is_the_task_as_written() {
    for (kind, method) in [
        (Kind::Async, quote!(spawn_async)),
        (Kind::Concurrent, quote!(spawn_concurrent)),
    ] {
        for closure in [
            quote!(|| 40 + 2),
            quote!(move || {
                let v = vec![1, 2, 3];
                v.iter().sum::<i32>()
            }),
            quote!(|| -> Result<u8, E> { Ok(f()?) }),
            quote!(|| io_async!(@__io_rewritten { g() }).join(io)),
        ] {
            let expected = quote! {
                @__io_rewritten {
                    (&__io_scope).#method({
                        #[allow(clippy::redundant_closure)]
                        let __io_task = #closure;
                        __io_task
                    })
                }
            };
            assert_eq!(expanded(kind, closure.clone()), expected.to_string());
        }
    }
    // In parentheses too (written without them); a called closure is a call, evaluated as one.
    let expected = quote! {
        @__io_rewritten {
            (&__io_scope).spawn_async({
                #[allow(clippy::redundant_closure)]
                let __io_task = move || 1;
                __io_task
            })
        }
    };
    assert_eq!(
        expanded(Kind::Async, quote!((move || 1))),
        expected.to_string()
    );
    assert!(matches!(
        parsed(Kind::Async, quote!((|| 1)())),
        Ok(super::parse::Spawn::Call(_))
    ));
}

#[test]
fn a_closure_with_parameters_or_async_is_refused() {
    for (tokens, says) in [
        (quote!(|x| x + 1), "must take no arguments"),
        (quote!(move |a, b: u8| f(a, b)), "must take no arguments"),
        (quote!(|_| ()), "must take no arguments"),
        (quote!(async || f()), "not an `async` one"),
        (quote!(async move || f()), "not an `async` one"),
    ] {
        for kind in [Kind::Async, Kind::Concurrent] {
            let error = parsed(kind, tokens.clone())
                .err()
                .unwrap_or_else(|| panic!("{tokens} accepted"));
            let message = error.to_string();
            assert!(message.contains(says), "{tokens}: {message}");
            assert!(
                message.starts_with("the closure given to") || message.starts_with(kind.name()),
                "{message}"
            );
        }
    }
}
