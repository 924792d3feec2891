//! Expanding `#[io::main]` and `#[io::test]`.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::{Attribute, ItemFn, Path, Visibility};

use super::parse::Args;

/// The backends every `#[io::test]` runs on, one generated `#[test]` each, named after it.
pub(crate) const TEST_BACKENDS: &[&str] = &["threaded", "uring"];

/// The path of the io crate: `crate = "…"`, else `::io`.
fn krate(path: Option<&Path>) -> TokenStream {
    path.map_or_else(|| quote!(::io), ToTokens::to_token_stream)
}

/// `item` renamed to `name`, stripped of attributes and visibility: the user's body as an inner fn.
fn inner_fn(item: &ItemFn, name: &str) -> ItemFn {
    let mut inner = item.clone();
    inner.attrs.clear();
    inner.vis = Visibility::Inherited;
    inner.sig.ident = Ident::new(name, item.sig.ident.span());
    inner
}

/// The expansion of `#[io::main]` on `item`:
///
/// ```text
/// #attrs #vis fn main() -> R {
///     fn __io_main(io: Io) -> R { body }
///     krate::__private::run_main(backend, threads, deadlock, __io_main)
/// }
/// ```
///
/// With `valid == false` (errors are reported beside it) the call is replaced by
/// `unreachable!()`, so the body is still checked but nothing else is reported.
pub(crate) fn main(args: &Args, item: &ItemFn, valid: bool) -> TokenStream {
    let inner = inner_fn(item, "__io_main");
    let ItemFn {
        attrs, vis, sig, ..
    } = item;
    let (name, output) = (&sig.ident, &sig.output);
    let call = if valid {
        run_main(args)
    } else {
        quote!(::core::unreachable!())
    };
    quote! {
        #(#attrs)*
        #vis fn #name() #output {
            #inner
            #call
        }
    }
}

/// `krate::__private::run_main(backend, threads, deadlock, __io_main)`.
fn run_main(args: &Args) -> TokenStream {
    let krate = krate(args.krate.as_ref());
    let some = |value: TokenStream| quote!(::core::option::Option::Some(#value));
    let none = quote!(::core::option::Option::None);
    let backend = args
        .backend
        .as_ref()
        .map_or(none.clone(), |b| some(b.to_token_stream()));
    let threads = args.threads.as_ref().map_or(none.clone(), |n| {
        let mut value = Literal::usize_unsuffixed(n.base10_parse().unwrap_or_default());
        value.set_span(n.span());
        some(value.into_token_stream())
    });
    let deadlock = args.deadlock.map_or(none, |(millis, span)| {
        let mut value = Literal::u64_unsuffixed(millis);
        value.set_span(span);
        some(value.into_token_stream())
    });
    quote!(#krate::__private::run_main(#backend, #threads, #deadlock, __io_main))
}

pub(crate) fn test(args: &Args, item: &ItemFn, valid: bool) -> TokenStream {
    let body = inner_fn(item, "__io_body");
    let (module_attrs, test_attrs) = split_attrs(&item.attrs);
    let (vis, name) = (&item.vis, &item.sig.ident);
    let tests = TEST_BACKENDS
        .iter()
        .filter(|_| valid)
        .map(|backend| backend_test(args, item, backend, &test_attrs));
    quote! {
        #(#module_attrs)*
        #vis mod #name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            #body
            #(#tests)*
        }
    }
}

/// One generated test: `#[test] #attrs fn backend() -> R { run_test("backend", __io_body) }`.
fn backend_test(args: &Args, item: &ItemFn, backend: &str, attrs: &[&Attribute]) -> TokenStream {
    let krate = krate(args.krate.as_ref());
    let span = item.sig.ident.span();
    let name = Ident::new(backend, span);
    let output = &item.sig.output;
    quote_spanned! {span=>
        #[test]
        #(#attrs)*
        fn #name() #output {
            #krate::__private::run_test(#backend, __io_body)
        }
    }
}

/// Splits `attrs` into those for the generated module and those for each generated test; drops
/// a plain `#[test]`, which the expansion adds itself.
fn split_attrs(attrs: &[Attribute]) -> (Vec<&Attribute>, Vec<&Attribute>) {
    const MODULE: &[&str] = &["cfg", "doc", "allow", "warn", "deny", "forbid", "expect"];
    let for_module = |attr: &&Attribute| MODULE.iter().any(|name| attr.path().is_ident(name));
    let rest = attrs.iter().filter(|attr| !attr.path().is_ident("test"));
    rest.partition(for_module)
}
