//! Tests of `#[io::main]` and `#[io::test]`: arguments, signatures, expansions.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use super::parse::{check_signature, parse_args, Args, Attr, Number, TEST_BACKENDS};
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
        assert_eq!(parsed.threads.unwrap().value, 0);
        assert!(parsed.krate.is_some());
    }
    let (parsed, errors) = args(Attr::Main, quote!());
    assert!(errors.is_empty() && parsed.backend.is_none() && parsed.threads.is_none());
    assert!(args(Attr::Main, quote!(crate = "my_io::rt")).1.is_empty());
}

/// The value of an integer argument, if it parsed.
fn value(number: Option<Number>) -> Option<u64> {
    number.map(|number| number.value)
}

#[test]
fn both_attributes_take_every_builder_setting() {
    for attr in [Attr::Main, Attr::Test] {
        let (parsed, errors) = args(
            attr,
            quote!(
                threads = 1,
                async_limit = 0,
                concurrent_limit = 3,
                fiber_stack_size = 1_048_576,
                fiber_limit = 10_000usize,
                deadlock = "2s",
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(value(parsed.threads), Some(1));
        assert_eq!(value(parsed.async_limit), Some(0));
        assert_eq!(value(parsed.concurrent_limit), Some(3));
        assert_eq!(value(parsed.fiber_stack_size), Some(1 << 20));
        assert_eq!(value(parsed.fiber_limit), Some(10_000));
        assert_eq!(value(parsed.deadlock), Some(2000));
        assert!(parsed.backend.is_none() && parsed.krate.is_none());
    }
    let (parsed, errors) = args(Attr::Main, quote!(async_limit = 18446744073709551615));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(value(parsed.async_limit), Some(u64::MAX));
}

#[test]
fn main_rejects_bad_arguments() {
    let too_large = format!("fiber_limit is too large: at most {}", usize::MAX);
    let cases = [
        (
            quote!(backend = "epoll"),
            "unknown backend \"epoll\": expected one of \"threaded\", \"uring\", \"auto\"",
        ),
        (
            quote!(backend = threaded),
            "backend takes a string, one of \"threaded\", \"uring\", \"auto\"",
        ),
        (
            quote!(flavor = "x"),
            "unknown argument `flavor`: #[io::main] takes backend, threads, async_limit, \
             concurrent_limit, fiber_stack_size, fiber_limit, deadlock, crate",
        ),
        (
            quote!(threads = "4"),
            "threads takes an integer literal, not a string: write threads = 4",
        ),
        (
            quote!(async_limit = "many"),
            "async_limit takes an integer literal: async_limit = N (async tasks",
        ),
        (
            quote!(threads = -1),
            "threads cannot be negative; write threads = N",
        ),
        (
            quote!(concurrent_limit = -0),
            "concurrent_limit cannot be negative",
        ),
        (quote!(threads = 1.5), "threads takes an integer literal"),
        (
            quote!(fiber_stack_size = 1 << 20),
            "fiber_stack_size takes an integer literal: fiber_stack_size = N (bytes",
        ),
        (quote!(threads = n), "threads takes an integer literal"),
        (quote!(fiber_limit = 18446744073709551616), &too_large),
        (
            quote!(fiber_limit = 0),
            "fiber_limit must be at least 1: the root task runs on a fiber",
        ),
        (quote!(threads), "expected a value: threads = N"),
        (quote!(async_limit), "expected a value: async_limit = N"),
        (
            quote!(crate = "not a path"),
            "crate takes a path in a string",
        ),
        (
            quote!(threads = 1, threads = 2),
            "duplicate argument `threads`",
        ),
        (
            quote!(fiber_limit = 1, fiber_limit = 2),
            "duplicate argument `fiber_limit`",
        ),
    ];
    for (tokens, expected) in cases {
        let (_, errors) = args(Attr::Main, tokens.clone());
        assert_eq!(errors.len(), 1, "{tokens}: {errors:?}");
        assert!(errors[0].starts_with(expected), "{tokens}: {errors:?}");
    }
}

#[test]
fn an_unknown_builder_spelling_names_the_argument_meant() {
    for (tokens, meant) in [
        (quote!(single_threaded = true), "threads = 0"),
        (quote!(deadlock_grace = "1s"), "deadlock = \"500ms\""),
        (quote!(stack_size = 4096), "fiber_stack_size = N"),
    ] {
        let (_, errors) = args(Attr::Test, tokens.clone());
        assert_eq!(errors.len(), 1, "{tokens}: {errors:?}");
        assert!(errors[0].starts_with("unknown argument `"), "{errors:?}");
        assert!(
            errors[0].contains("#[io::test] takes backend, threads"),
            "{errors:?}"
        );
        assert!(
            errors[0].ends_with(&format!(", write {meant})")),
            "{errors:?}"
        );
    }
    let (_, errors) = args(Attr::Main, quote!(single_threaded));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("unknown argument `single_threaded`"),
        "{errors:?}"
    );
}

#[test]
fn malformed_arguments_are_errors_not_panics() {
    for tokens in [
        quote!(threads = 2,,),
        quote!(= 3),
        quote!("threaded"),
        quote!(io::threads = 1),
        quote!(threads(2)),
        quote!(threads = ),
        quote!(threads = 1 2),
        quote!(backend = "uring" threads = 1),
        quote!(fiber_limit = 1e3),
        quote!(async_limit = '1'),
        quote!(async_limit = 1u8 + 1),
    ] {
        for attr in [Attr::Main, Attr::Test] {
            let (_, errors) = args(attr, tokens.clone());
            assert!(!errors.is_empty(), "{tokens}");
        }
    }
}

#[test]
fn main_reports_every_bad_argument() {
    let (parsed, errors) = args(
        Attr::Main,
        quote!(
            backend = "x",
            threads = "y",
            flavor = 1,
            fiber_limit = 0,
            crate = "io"
        ),
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        parsed.krate.is_some(),
        "good arguments are kept for the best-effort expansion"
    );
}

#[test]
fn test_takes_a_backend_of_its_own() {
    assert!(args(Attr::Test, quote!(crate = "io")).1.is_empty());
    for backend in TEST_BACKENDS {
        let (parsed, errors) = args(Attr::Test, quote!(backend = #backend));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(parsed.backend.unwrap().value(), backend);
    }
    let (_, errors) = args(Attr::Test, quote!(backend = "auto"));
    assert_eq!(
        errors,
        ["#[io::test] runs on each backend it names: write backend = \"threaded\" or \"uring\", \
          or leave backend out to run on both (\"auto\" would pick one per machine)"]
    );
    let (_, errors) = args(Attr::Test, quote!(backend = "epoll"));
    assert_eq!(
        errors,
        ["unknown backend \"epoll\": expected one of \"threaded\", \"uring\""]
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
                my_io::__private::Settings {
                    threads: ::core::option::Option::Some(2),
                    concurrent_limit: ::core::option::Option::Some(3),
                    ..::core::default::Default::default()
                },
                __io_main
            )
        }
    };
    let out = main(
        quote!(
            concurrent_limit = 3,
            backend = "uring",
            threads = 2,
            crate = "my_io"
        ),
        item,
    );
    assert_eq!(out.to_string(), expected.to_string());
}

#[test]
fn main_passes_every_setting_and_no_default_when_all_are_written() {
    let out = main(
        quote!(
            threads = 0,
            async_limit = 1_000,
            concurrent_limit = 2,
            fiber_stack_size = 65_536,
            fiber_limit = 9,
            deadlock = "off"
        ),
        quote!(
            fn main(io: Io) {}
        ),
    );
    let expected = quote! {
        ::io::__private::run_main(
            ::core::option::Option::None,
            ::io::__private::Settings {
                threads: ::core::option::Option::Some(0),
                async_limit: ::core::option::Option::Some(1000),
                concurrent_limit: ::core::option::Option::Some(2),
                fiber_stack_size: ::core::option::Option::Some(65536),
                fiber_limit: ::core::option::Option::Some(9),
                deadlock_millis: ::core::option::Option::Some(0),
            },
            __io_main
        )
    };
    let out = out.to_string();
    assert!(out.contains(&expected.to_string()), "{out}");
    let out = main(
        quote!(),
        quote!(
            fn main(io: Io) {}
        ),
    );
    let expected = quote! {
        ::io::__private::run_main(
            ::core::option::Option::None,
            ::io::__private::Settings { ..::core::default::Default::default() },
            __io_main
        )
    };
    let out = out.to_string();
    assert!(out.contains(&expected.to_string()), "{out}");
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
        let wanted = format!("deadlock_millis : :: core :: option :: Option :: Some ({millis}) ,");
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
                ::io::__private::run_test(
                    "threaded",
                    ::io::__private::Settings { ..::core::default::Default::default() },
                    __io_body
                )
            }
            #[test]
            #[should_panic]
            fn uring() -> Result<(), E> {
                ::io::__private::run_test(
                    "uring",
                    ::io::__private::Settings { ..::core::default::Default::default() },
                    __io_body
                )
            }
        }
    };
    assert_eq!(test(quote!(), item).to_string(), expected.to_string());
}

#[test]
fn test_with_a_backend_runs_only_there_with_its_settings() {
    let item = quote!(
        fn limited(io: Io) {}
    );
    let out = test(
        quote!(backend = "uring", fiber_limit = 2, crate = "my_io"),
        item,
    );
    let expected = quote! {
        mod limited {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            fn __io_body(io: Io) {}
            #[test]
            fn uring() {
                my_io::__private::run_test(
                    "uring",
                    my_io::__private::Settings {
                        fiber_limit: ::core::option::Option::Some(2),
                        ..::core::default::Default::default()
                    },
                    __io_body
                )
            }
        }
    };
    assert_eq!(out.to_string(), expected.to_string());
    let item = quote!(
        fn both(io: Io) {}
    );
    let out = test(quote!(threads = 1, concurrent_limit = 3), item).to_string();
    for backend in TEST_BACKENDS {
        let call = quote! {
            fn #backend() {
                ::io::__private::run_test(
                    #backend,
                    ::io::__private::Settings {
                        threads: ::core::option::Option::Some(1),
                        concurrent_limit: ::core::option::Option::Some(3),
                        ..::core::default::Default::default()
                    },
                    __io_body
                )
            }
        };
        let call = call
            .to_string()
            .replacen(&format!("\"{backend}\""), backend, 1);
        assert!(out.contains(&call), "{backend}: {out}");
    }
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
