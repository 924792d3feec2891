//! Tests of `#[io::main]` and `#[io::test]`: arguments, signatures, expansions.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use super::expand::TEST_BACKENDS;
use super::parse::{check_signature, parse_args, Args, Attr};
use super::{main, test};
use crate::diag::Errors;

/// The arguments `tokens` of `attr`, and the error messages.
fn args(attr: Attr, tokens: TokenStream) -> (Args, Vec<String>) {
    let mut errors = Errors::default();
    let args = parse_args(attr, tokens, &mut errors);
    (args, messages(errors))
}

/// The messages recorded in `errors`.
fn messages(errors: Errors) -> Vec<String> {
    errors
        .into_error()
        .into_iter()
        .flatten()
        .map(|e| e.to_string())
        .collect()
}

/// The error messages for the signature of `item` under `attr`.
fn signature_errors(attr: Attr, item: TokenStream) -> Vec<String> {
    let item: ItemFn = syn::parse2(item).unwrap();
    let mut errors = Errors::default();
    check_signature(attr, &item.sig, &mut errors);
    messages(errors)
}

#[test]
fn main_accepts_its_arguments() {
    for backend in ["threaded", "uring", "auto"] {
        let (parsed, errors) = args(
            Attr::Main,
            quote!(backend = #backend, threads = 0, crate = "::io"),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(parsed.backend.unwrap().value(), backend);
        assert_eq!(parsed.threads.unwrap().base10_digits(), "0");
        assert!(parsed.krate.is_some());
    }
    let (parsed, errors) = args(Attr::Main, quote!());
    assert!(errors.is_empty() && parsed.backend.is_none() && parsed.threads.is_none());
    assert!(args(Attr::Main, quote!(crate = "my_io::rt")).1.is_empty());
}

#[test]
fn main_rejects_bad_arguments() {
    let cases = [
        (
            quote!(backend = "epoll"),
            "unknown backend \"epoll\": expected one of \"threaded\", \"uring\", \"auto\"",
        ),
        (
            quote!(backend = threaded),
            "backend takes a string, one of \"threaded\", \"uring\", \"auto\"",
        ),
        (quote!(flavor = "x"), "unknown argument `flavor`"),
        (quote!(threads = "4"), "threads takes an integer literal"),
        (quote!(threads = -1), "threads takes an integer literal"),
        (quote!(threads = 1.5), "threads takes an integer literal"),
        (quote!(threads = n), "threads takes an integer literal"),
        (quote!(threads), "expected a value: threads = N"),
        (
            quote!(crate = "not a path"),
            "crate takes a path in a string",
        ),
        (
            quote!(threads = 1, threads = 2),
            "duplicate argument `threads`",
        ),
    ];
    for (tokens, expected) in cases {
        let (_, errors) = args(Attr::Main, tokens.clone());
        assert_eq!(errors.len(), 1, "{tokens}: {errors:?}");
        assert!(errors[0].starts_with(expected), "{tokens}: {errors:?}");
    }
}

#[test]
fn main_reports_every_bad_argument() {
    let (parsed, errors) = args(
        Attr::Main,
        quote!(backend = "x", threads = "y", crate = "io"),
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        parsed.krate.is_some(),
        "good arguments are kept for the best-effort expansion"
    );
}

#[test]
fn test_takes_only_crate() {
    assert!(args(Attr::Test, quote!(crate = "io")).1.is_empty());
    let (_, errors) = args(Attr::Test, quote!(backend = "uring"));
    assert!(
        errors[0].starts_with("unknown argument `backend`: #[io::test] takes only crate"),
        "{errors:?}"
    );
}

#[test]
fn signatures_need_one_io_parameter_and_a_plain_fn() {
    let needs_io = "#[io::main] needs `fn main(io: Io)`: the runtime passes the Io handle";
    let cases = [
        (
            quote!(
                fn main() {}
            ),
            needs_io,
        ),
        (
            quote!(
                fn main(io: Io, x: u32) {}
            ),
            needs_io,
        ),
        (
            quote!(
                fn main(&self) {}
            ),
            needs_io,
        ),
        (
            quote!(
                async fn main(io: Io) {}
            ),
            "#[io::main] takes a plain fn: remove `async`; io tasks block instead of awaiting",
        ),
        (
            quote!(
                unsafe fn main(io: Io) {}
            ),
            "#[io::main] takes a plain fn: remove `unsafe`",
        ),
        (
            quote!(
                fn main<T>(io: Io) {}
            ),
            "#[io::main] takes no generic parameters: write `fn main(io: Io)`",
        ),
        (
            quote!(
                fn main(io: Io)
                where
                    u8: Copy,
                {
                }
            ),
            "#[io::main] takes no generic parameters: write `fn main(io: Io)`",
        ),
    ];
    for (item, expected) in cases {
        assert_eq!(
            signature_errors(Attr::Main, item.clone()),
            [expected],
            "{item}"
        );
    }
    assert!(signature_errors(
        Attr::Main,
        quote!(
            fn main(_io: io::Io) -> Result<(), E> {}
        )
    )
    .is_empty());
    let test_errors = signature_errors(
        Attr::Test,
        quote!(
            fn t() {}
        ),
    );
    assert_eq!(
        test_errors,
        ["#[io::test] needs `fn name(io: Io)`: the runtime passes the Io handle"]
    );
}

#[test]
fn main_expands_to_a_fn_that_runs_the_runtime() {
    let item = quote! {
        #[allow(unused)]
        fn main(io: Io) -> Result<(), Error> { work(io)?; Ok(()) }
    };
    let expected = quote! {
        #[allow(unused)]
        fn main() -> Result<(), Error> {
            fn __io_main(io: Io) -> Result<(), Error> { work(io)?; Ok(()) }
            my_io::__private::run_main(
                ::core::option::Option::Some("uring"),
                ::core::option::Option::Some(2),
                ::core::option::Option::None,
                __io_main
            )
        }
    };
    let out = main(
        quote!(backend = "uring", threads = 2, crate = "my_io"),
        item,
    );
    assert_eq!(out.to_string(), expected.to_string());
}

#[test]
fn main_takes_a_deadlock_grace_or_off() {
    let item = quote!(
        fn main(io: Io) {}
    );
    for (arg, millis) in [
        ("off", "0"),
        ("500ms", "500"),
        ("2s", "2000"),
        (" 20 ms", "20"),
    ] {
        let out = main(quote!(deadlock = #arg), item.clone()).to_string();
        let wanted = format!("Some ({millis}) , __io_main");
        assert!(out.contains(&wanted), "{arg}: {out}");
    }
    for bad in [
        quote!(deadlock = "0ms"),
        quote!(deadlock = "soon"),
        quote!(deadlock = 5),
    ] {
        let out = main(bad.clone(), item.clone()).to_string();
        assert!(out.contains("deadlock takes"), "{bad}: {out}");
    }
}

#[test]
fn main_with_errors_still_defines_main() {
    let out = main(
        quote!(),
        quote!(
            async fn main(io: Io) {
                f(io).await
            }
        ),
    )
    .to_string();
    assert!(out.contains("compile_error"), "{out}");
    assert!(
        out.contains("fn main () { async fn __io_main (io : Io)"),
        "{out}"
    );
    assert!(out.contains("unreachable"), "{out}");
    let out = main(
        quote!(),
        quote!(
            struct S;
        ),
    )
    .to_string();
    assert!(
        out.contains("applies to a function") && out.contains("struct S"),
        "{out}"
    );
}

#[test]
fn test_expands_to_a_module_with_one_test_per_backend() {
    assert_eq!(TEST_BACKENDS, ["threaded", "uring"]);
    let item = quote! {
        /// Docs.
        #[should_panic]
        #[cfg(unix)]
        fn cancels(io: Io) -> Result<(), E> { Ok(()) }
    };
    let expected = quote! {
        /// Docs.
        #[cfg(unix)]
        mod cancels {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            fn __io_body(io: Io) -> Result<(), E> { Ok(()) }
            #[test]
            #[should_panic]
            fn threaded() -> Result<(), E> {
                ::io::__private::run_test("threaded", __io_body)
            }
            #[test]
            #[should_panic]
            fn uring() -> Result<(), E> {
                ::io::__private::run_test("uring", __io_body)
            }
        }
    };
    assert_eq!(test(quote!(), item).to_string(), expected.to_string());
}

#[test]
fn test_with_errors_defines_no_test() {
    let out = test(
        quote!(),
        quote!(
            fn t() {}
        ),
    )
    .to_string();
    assert!(
        out.contains("compile_error") && !out.contains("# [test]"),
        "{out}"
    );
}
