//! Tests of parsing and rewriting `scope!`.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream};
use quote::quote;

use super::flow::{self, JumpKind, Names, Parsed, Value};
use super::parse::{parse, EXPECTED_BLOCK, NEEDS_IO};
use super::rewrite::{rewrite, AWAIT};
use super::scope;

/// The name of the scope's `&Scope` parameter ("guard") the tests rewrite against.
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
fn scope_without_crate_path_is_an_error() {
    let out = scope(quote!(io, {})).to_string();
    assert!(out.contains("compile_error"), "{out}");
}

/// `body` with its exits rewritten (`krate` being `io`).
fn flowed(body: TokenStream) -> Parsed {
    let krate = quote!(io);
    let names = Names {
        krate: &krate,
        scope: &guard(),
    };
    flow::rewrite(&Group::new(Delimiter::Brace, body), &names)
}

/// The statements and the value of `parsed`, as one string.
fn flowed_text(parsed: &Parsed) -> String {
    let value = match &parsed.value {
        Value::Tail(tokens) | Value::Statement(tokens) => tokens.clone(),
        Value::Unit => TokenStream::new(),
    };
    let stmts = &parsed.stmts;
    quote!(#stmts #value).to_string()
}

/// `body` with its exits rewritten, as a string.
fn flowed_str(body: TokenStream) -> String {
    flowed_text(&flowed(body))
}

/// The rewrite of one exit that carries `value` with the constructor `variant`.
fn leave(value: TokenStream, variant: &str) -> String {
    let constructor = Ident::new(&format!("__io_as_{variant}"), Span::call_site());
    quote! {
        return {
            let __io_v = #value;
            io::__private::body_ends(__io_scope);
            #constructor(__io_v)
        }
    }
    .to_string()
}

#[test]
fn return_leaves_the_closure_with_its_value() {
    let parsed = flowed(quote! { if a { return 5; } if b { return; } 6 });
    let out = flowed_text(&parsed);
    assert!(out.contains(&leave(quote!(5), "return")), "{out}");
    assert!(out.contains(&leave(quote!(()), "return")), "{out}");
    assert!(parsed.exits.returns.is_some());
    assert!(parsed.exits.jumps.is_empty());
    assert!(matches!(parsed.value, Value::Tail(_)));
}

#[test]
fn question_mark_branches_and_returns_the_residual() {
    let out = flowed_str(quote! { let a = f(x?)?; });
    let inner = quote! {
        (match io::__private::Branch::branch(x) {
            ::core::ops::ControlFlow::Continue(__io_v) => __io_v,
            ::core::ops::ControlFlow::Break(__io_r) => return {
                let __io_v = io::__private::FromResidual::from_residual(__io_r);
                io::__private::body_ends(__io_scope);
                __io_as_return(__io_v)
            },
        })
    };
    let expected = format!("let a = (match io :: __private :: Branch :: branch (f ({inner}))");
    assert!(out.starts_with(&expected), "{out}");
    assert_eq!(out.matches("Branch :: branch").count(), 2);
}

#[test]
fn jumps_out_of_the_body_are_carried_and_deduplicated() {
    let parsed = flowed(quote! {
        if a { break; }
        if b { continue; }
        if c { break 'outer 3; }
        if d { break 'outer; }
        continue 'outer;
    });
    let out = flowed_text(&parsed);
    let kinds: Vec<(JumpKind, Option<String>, bool)> = parsed
        .exits
        .jumps
        .iter()
        .map(|j| {
            (
                j.kind,
                j.label.as_ref().map(ToString::to_string),
                j.carries_value,
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (JumpKind::Break, None, false),
            (JumpKind::Continue, None, false),
            (JumpKind::Break, Some("'outer".into()), true),
            (JumpKind::Continue, Some("'outer".into()), false),
        ]
    );
    assert!(out.contains(&leave(quote!(()), "break0")), "{out}");
    assert!(out.contains(&leave(quote!(()), "continue1")), "{out}");
    assert!(out.contains(&leave(quote!(3), "break2")), "{out}");
    assert!(out.contains(&leave(quote!(()), "continue3")), "{out}");
    assert!(matches!(parsed.value, Value::Statement(_)));
    assert!(parsed.exits.returns.is_none());
}

#[test]
fn jumps_to_loops_and_labels_of_the_body_stay() {
    let body = quote! {
        loop { break; }
        while a { continue; }
        for x in xs { if x { break } }
        'inner: loop { loop { break 'inner; } }
        'block: { break 'block 1; }
    };
    let parsed = flowed(body.clone());
    assert_eq!(flowed_text(&parsed), body.to_string());
    assert!(parsed.exits.jumps.is_empty());
}

#[test]
fn jumps_past_the_body_from_inside_its_loops_are_carried() {
    let parsed = flowed(quote! {
        loop { break 'outer; }
        for x in { if a { break; } xs } { continue 'outer; }
    });
    let labels: Vec<_> = parsed
        .exits
        .jumps
        .iter()
        .map(|j| j.label.is_some())
        .collect();
    assert_eq!(
        labels,
        [true, false, true],
        "the iterator is outside the `for` loop"
    );
}

#[test]
fn closures_async_const_blocks_and_items_keep_their_control_flow() {
    let body = quote! {
        let f = |x: Option<u8>| { let y = x?; return Some(y); };
        let g = async move { x?; break; };
        let h = const { loop { break 3 } };
        let a: [u8; { 3 }] = [0; 3];
        fn item(x: Option<u8>) -> Option<u8> { return Some(x?); }
        impl T { fn m() { return; } }
    };
    let parsed = flowed(body.clone());
    assert_eq!(flowed_text(&parsed), body.to_string());
    assert!(parsed.exits.returns.is_none() && parsed.exits.jumps.is_empty());
}

#[test]
fn nested_scope_bodies_are_rewritten_as_part_of_this_one() {
    let parsed = flowed(quote! {
        loop { scope!(io, { break; }); }
        let v = scope!(io, { let a = x?; io_async!(f(a)).join(io) });
        scope!(io, { continue; })
    });
    let out = flowed_text(&parsed);
    assert!(
        out.starts_with("loop { scope ! (io , { break ; }) ; }"),
        "a loop of this body encloses the nested scope: {out}"
    );
    assert!(out.contains("Branch :: branch (x)"), "{out}");
    assert!(
        out.contains("io_async ! (f (a))"),
        "spawns belong to the nested scope: {out}"
    );
    assert!(out.contains(&leave(quote!(()), "continue0")), "{out}");
}

#[test]
fn macro_arguments_that_are_expressions_are_rewritten() {
    let out = flowed_str(quote! {
        println!("{} {x}", a?);
        assert_eq!(b?, 1, "{}", c);
        let v = vec![d?; 3];
        let w = format!("{}", if e { return 1; } else { 2 },);
    });
    for operand in ["(a)", "(b)", "(d)"] {
        assert!(
            out.contains(&format!("Branch :: branch {operand}")),
            "{out}"
        );
    }
    assert!(out.starts_with("println ! (\"{} {x}\" , (match"), "{out}");
    assert!(out.contains("vec ! [(match"), "{out}");
    assert!(out.contains(&leave(quote!(1), "return")), "{out}");
}

#[test]
fn other_macro_arguments_are_left_as_written() {
    let body = quote! {
        println!("{}", a);
        m!(x? y);
        m! { let a = b?; }
        let t = n!(=> return);
    };
    let parsed = flowed(body.clone());
    assert_eq!(flowed_text(&parsed), body.to_string());
    assert!(parsed.exits.returns.is_none());
}

#[test]
fn the_value_is_the_tail_or_a_last_statement_that_may_diverge() {
    let tail = |body: TokenStream| match flowed(body).value {
        Value::Tail(t) => format!("tail {t}"),
        Value::Statement(s) => format!("statement {s}"),
        Value::Unit => "unit".into(),
    };
    assert_eq!(tail(quote! { a; b }), "tail b");
    assert_eq!(tail(quote! { a; m![b] }), "tail m ! [b]");
    assert_eq!(tail(quote! { a; m! { b } }), "statement m ! { b }");
    assert_eq!(
        tail(quote! { a; panic!("x");; }),
        "statement panic ! (\"x\") ;"
    );
    assert_eq!(tail(quote! { a; let b = 1; }), "unit");
    assert_eq!(tail(quote! { a; fn f() {} }), "unit");
    assert_eq!(tail(quote! {}), "unit");
}

#[test]
fn a_body_that_does_not_parse_is_kept_whole_as_the_value() {
    let parsed = flowed(quote! { let = ; return 1 });
    match parsed.value {
        Value::Tail(tail) => assert_eq!(tail.to_string(), "{ let = ; return 1 }"),
        _ => panic!("the body should be the value"),
    }
    assert!(parsed.stmts.is_empty());
}

#[test]
fn scope_runs_the_body_in_a_closure_of_the_library() {
    let out = scope(quote!(krate; io, { let a = io_async!(f(x?)); a.join(io) })).to_string();
    let expected = quote! {
        {
            enum __IoFlow<__IoV, __IoR> { Value(__IoV), Return(__IoR) }
            match krate::__private::scope(io, |__io_scope| {
                let __io_as_return = __IoFlow::Return;
                let a = io_async!(@__io_rewritten {
                    (&__io_scope).spawn_async({ SPAWN })
                });
                #[allow(unreachable_code, clippy::diverging_sub_expression)]
                let __io_value = krate::__private::may_leave_scope(a.join(io));
                #[allow(unreachable_code)]
                let __io_flow = {
                    krate::__private::body_ends(__io_scope);
                    __IoFlow::Value(__io_value)
                };
                __io_flow
            }) {
                __IoFlow::Value(__io_v) => __io_v,
                __IoFlow::Return(__io_r) => return __io_r
            }
        }
    }
    .to_string();
    // The spawn's own expansion belongs to `spawn`; only its place is checked here.
    let start = out.find("spawn_async ({").expect("a spawn") + "spawn_async ({".len();
    let end = out[start..].find("}) }) ;").expect("the spawn's end") + start;
    let spawn = &out[start..end];
    assert!(
        spawn.contains("Branch :: branch (x)"),
        "the argument's `?` is rewritten: {spawn}"
    );
    assert_eq!(out.replace(spawn, " SPAWN "), expected);
}

#[test]
fn scope_reapplies_jumps_with_the_users_labels() {
    let out = scope(quote!(krate; io, { if a { break 'l 1; } continue; })).to_string();
    assert!(
        out.contains(
            "enum __IoFlow < __IoV , __IoB0 > { Value (__IoV) , Break0 (__IoB0) , Continue1 (()) }"
        ),
        "{out}"
    );
    assert!(
        out.contains("__IoFlow :: Break0 (__io_b) => break 'l __io_b"),
        "{out}"
    );
    assert!(
        out.contains("__IoFlow :: Continue1 (()) => continue"),
        "{out}"
    );
    assert!(
        out.contains("let __io_value = { return {"),
        "the last statement diverges: {out}"
    );
}

#[test]
fn no_expansion_contains_unsafe() {
    for body in [
        quote!(krate; io, { a }),
        quote!(krate; io, { return io_async!(f(x?)).join(io)?; }),
        quote!(krate; io, { x.await }),
        quote!(krate; io, { let = ; }),
        quote!(krate; { a }),
    ] {
        let out = scope(body.clone()).to_string();
        assert!(!out.contains("unsafe"), "{body}: {out}");
    }
}

#[test]
fn a_visible_await_is_one_error_and_no_closure() {
    let out =
        scope(quote!(krate; io, { let t = io_async!(f()); other().await; t.join(io) })).to_string();
    assert_eq!(out.matches("compile_error").count(), 1, "{out}");
    assert!(!out.contains("__private :: scope"), "{out}");
    assert!(
        out.contains("(& __io_scope) . spawn_async"),
        "spawns still resolve: {out}"
    );
}

#[test]
fn rewrite_refuses_spawns_in_a_tasks_closure() {
    let (out, failed) = rewritten(quote! {
        let a = io_async!(move || io_async!(f()).join(io) + g(io_group!()));
        let b = io_concurrent!(|| (0..2).map(|i| io_async!(h(i))).count());
        let c = io_async!(|| scope!(io, { io_async!(f()).join(io) }));
        let d = io_async!(f((0..2).map(|i| io_async!(h(i))).count()));
    });
    assert!(
        !failed,
        "a refused spawn is an error expression, not a scope error"
    );
    // The three spawns in tasks' closures are errors; the nested scope is left as written.
    assert_eq!(
        count(&out, "cannot be used in a task's closure"),
        3,
        "{out}"
    );
    assert!(out.contains("io_async ! (f ()) . join (io) })"), "{out}");
    // Four tasks, and the spawn in a closure that the caller calls when it evaluates the
    // arguments (`map` then `count`), at the spawn.
    assert_eq!(count(&out, "spawn_async"), 4, "{out}");
    assert_eq!(count(&out, "spawn_concurrent"), 1, "{out}");
}

#[test]
fn a_tasks_closure_keeps_its_control_flow() {
    // `?` and `return` in a task's closure act on the closure; `?` in a call's arguments is
    // evaluated on the caller, at the spawn, and leaves the body.
    let body = quote! {
        let a = io_async!(|| { let n: u8 = s.parse()?; return Ok(n); });
        let b = io_concurrent!(move || -> Option<u8> { Some(x?) });
    };
    let parsed = flowed(body.clone());
    assert_eq!(flowed_text(&parsed), body.to_string());
    assert!(parsed.exits.returns.is_none());
    let parsed = flowed(quote! { let c = io_async!(f(x?)); });
    assert!(parsed.exits.returns.is_some());
}
