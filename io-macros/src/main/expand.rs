//! Expanding `#[io::main]` and `#[io::test]`.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::{Attribute, ItemFn, LitStr, Path, Visibility};

use super::parse::{Args, Number, TEST_BACKENDS};

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
///     krate::__private::run_main(backend, Settings { threads, …, ..Default::default() }, __io_main)
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

/// `krate::__private::run_main(backend, Settings { … }, __io_main)`.
fn run_main(args: &Args) -> TokenStream {
    let krate = krate(args.krate.as_ref());
    let backend = option(args.backend.as_ref().map(ToTokens::to_token_stream));
    let settings = settings(&krate, args);
    quote!(#krate::__private::run_main(#backend, #settings, __io_main))
}

/// `Some(value)` or `None`, spelled out in full.
fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// `krate::__private::Settings { field: Some(N), …, ..Default::default() }` with a field for each
/// number written, in the user's span (so that a literal too large for the target's `usize` is
/// reported on it).
fn settings(krate: &TokenStream, args: &Args) -> TokenStream {
    let fields = [
        ("threads", args.threads),
        ("async_limit", args.async_limit),
        ("concurrent_limit", args.concurrent_limit),
        ("fiber_stack_size", args.fiber_stack_size),
        ("fiber_limit", args.fiber_limit),
        ("deadlock_millis", args.deadlock),
    ];
    let written: Vec<TokenStream> = fields
        .iter()
        .filter_map(|(name, number)| {
            let Number { value, span } = (*number)?;
            let name = Ident::new(name, Span::call_site());
            let mut value = Literal::u64_unsuffixed(value);
            value.set_span(span);
            let value = option(Some(value.into_token_stream()));
            Some(quote!(#name: #value))
        })
        .collect();
    let rest =
        (written.len() < fields.len()).then(|| quote!(..::core::default::Default::default()));
    quote!(#krate::__private::Settings { #(#written,)* #rest })
}

/// The expansion of `#[io::test]` on `item`: a module named after it, holding the body as an
/// inner fn and one `#[test]` per backend (only the one of `backend = …`, if written).
///
/// With `valid == false` (errors are reported beside it) the module holds no test.
pub(crate) fn test(args: &Args, item: &ItemFn, valid: bool) -> TokenStream {
    let body = inner_fn(item, "__io_body");
    let (module_attrs, test_attrs) = split_attrs(&item.attrs);
    let (vis, name) = (&item.vis, &item.sig.ident);
    let pinned = args.backend.as_ref().map(LitStr::value);
    let tests = TEST_BACKENDS
        .iter()
        .filter(|backend| valid && pinned.as_deref().is_none_or(|pinned| pinned == **backend))
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

/// One generated test:
/// `#[test] #attrs fn backend() -> R { run_test("backend", Settings { … }, __io_body) }`.
fn backend_test(args: &Args, item: &ItemFn, backend: &str, attrs: &[&Attribute]) -> TokenStream {
    let krate = krate(args.krate.as_ref());
    let settings = settings(&krate, args);
    let span = item.sig.ident.span();
    let name = Ident::new(backend, span);
    let output = &item.sig.output;
    quote_spanned! {span=>
        #[test]
        #(#attrs)*
        fn #name() #output {
            #krate::__private::run_test(#backend, #settings, __io_body)
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
