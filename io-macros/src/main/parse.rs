//! Parsing the arguments and the function of `#[io::main]` and `#[io::test]`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprLit, Lit, LitInt, LitStr, Path, Signature};

use crate::diag::{self, Errors};

/// The backends `#[io::main(backend = …)]` accepts.
pub(crate) const BACKENDS: [&str; 3] = ["threaded", "uring", "auto"];

/// Which attribute is being expanded; selects the wording of errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attr {
    /// `#[io::main]`.
    Main,
    /// `#[io::test]`.
    Test,
}

impl Attr {
    /// The attribute as users write it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Attr::Main => "#[io::main]",
            Attr::Test => "#[io::test]",
        }
    }

    /// The signature the attribute needs, as users should write it.
    pub(crate) fn signature(self) -> &'static str {
        match self {
            Attr::Main => "fn main(io: Io)",
            Attr::Test => "fn name(io: Io)",
        }
    }

    /// The arguments the attribute takes, for the "unknown argument" error.
    fn arguments(self) -> &'static str {
        match self {
            Attr::Main => {
                "backend = \"threaded\" | \"uring\" | \"auto\", threads = N, \
                 deadlock = \"off\" | \"500ms\" | \"2s\", crate = \"path\""
            }
            Attr::Test => "only crate = \"path\" (the test runs once per backend)",
        }
    }
}

/// The arguments of `#[io::main]` or `#[io::test]`; `None` when not written.
#[derive(Default)]
pub(crate) struct Args {
    /// `backend = "…"`, checked against [`BACKENDS`].
    pub(crate) backend: Option<LitStr>,
    /// `threads = N`.
    pub(crate) threads: Option<LitInt>,
    /// `deadlock = "off" | "<N>ms" | "<N>s"`: the deadlock grace in milliseconds, `0` for off.
    pub(crate) deadlock: Option<(u64, Span)>,
    /// `crate = "path"`, parsed.
    pub(crate) krate: Option<Path>,
}

/// Parses `tokens` as the arguments of `attr`, recording every mistake in `errors`.
///
/// Returns what was understood, so the expansion can go on despite the errors.
pub(crate) fn parse_args(attr: Attr, tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| parse_arg(attr, &mut args, errors, &meta));
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    args
}

/// Parses one `name = value` argument into `args`.
fn parse_arg(
    attr: Attr,
    args: &mut Args,
    errors: &mut Errors,
    meta: &ParseNestedMeta,
) -> syn::Result<()> {
    let name = meta.path.to_token_stream().to_string().replace(' ', "");
    let known = match attr {
        Attr::Main => matches!(name.as_str(), "backend" | "threads" | "deadlock" | "crate"),
        Attr::Test => name == "crate",
    };
    if !known {
        let message = format!(
            "unknown argument `{name}`: {} takes {}",
            attr.name(),
            attr.arguments()
        );
        return Err(diag::spanned(&meta.path, message));
    }
    if !meta.input.peek(syn::Token![=]) {
        let message = format!("expected a value: {}", usage(&name));
        return Err(diag::spanned(&meta.path, message));
    }
    let value: Expr = meta.value()?.parse()?;
    let duplicate = match name.as_str() {
        "backend" => set(&mut args.backend, backend(&value), errors),
        "threads" => set(&mut args.threads, threads(&value), errors),
        "deadlock" => set(&mut args.deadlock, deadlock(&value), errors),
        _ => set(&mut args.krate, krate(&value), errors),
    };
    if duplicate {
        errors.push(diag::spanned(
            &meta.path,
            format!("duplicate argument `{name}`"),
        ));
    }
    Ok(())
}

/// How to write the argument `name`.
fn usage(name: &str) -> &'static str {
    match name {
        "backend" => "backend = \"threaded\" | \"uring\" | \"auto\"",
        "threads" => "threads = N (0 = single-threaded)",
        "deadlock" => DEADLOCK_USAGE,
        _ => "crate = \"path\"",
    }
}

/// Stores `value` in `slot`, or records its error; returns whether `slot` was already set.
fn set<T>(slot: &mut Option<T>, value: syn::Result<T>, errors: &mut Errors) -> bool {
    let duplicate = slot.is_some();
    match value {
        Ok(value) => *slot = Some(value),
        Err(error) => errors.push(error),
    }
    duplicate
}

/// `backend = "threaded" | "uring" | "auto"`.
fn backend(value: &Expr) -> syn::Result<LitStr> {
    let expected = BACKENDS.map(|name| format!("\"{name}\"")).join(", ");
    let Some(name) = string(value) else {
        let message = format!("backend takes a string, one of {expected}");
        return Err(diag::spanned(value, message));
    };
    if !BACKENDS.contains(&name.value().as_str()) {
        let message = format!(
            "unknown backend \"{}\": expected one of {expected}",
            name.value()
        );
        return Err(diag::spanned(name, message));
    }
    Ok(name.clone())
}

/// `value` if it is a string literal.
fn string(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(string),
            ..
        }) => Some(string),
        _ => None,
    }
}

/// `threads = N`, an integer literal (0 = single-threaded).
fn threads(value: &Expr) -> syn::Result<LitInt> {
    let message = "threads takes an integer literal, e.g. threads = 4 (0 = single-threaded)";
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(n), ..
        }) if n.base10_parse::<usize>().is_ok() => Ok(n.clone()),
        _ => Err(diag::spanned(value, message)),
    }
}

/// How to write `deadlock = …`.
const DEADLOCK_USAGE: &str =
    "deadlock = \"off\" (no diagnosis) or a grace such as \"500ms\" or \"2s\" (default 500ms)";

/// `deadlock = "off" | "<N>ms" | "<N>s"`: the grace in milliseconds (`0`: off) and where.
fn deadlock(value: &Expr) -> syn::Result<(u64, Span)> {
    let message = || format!("deadlock takes {DEADLOCK_USAGE}");
    let Some(text) = string(value) else {
        return Err(diag::spanned(value, message()));
    };
    let millis = match text.value().trim() {
        "off" => Some(0),
        grace => grace
            .strip_suffix("ms")
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .or_else(|| {
                let secs = grace.strip_suffix('s')?.trim().parse::<u64>().ok()?;
                secs.checked_mul(1000)
            })
            .filter(|&millis| millis > 0),
    };
    millis
        .map(|millis| (millis, text.span()))
        .ok_or_else(|| diag::spanned(text, message()))
}

/// `crate = "path"`: the path of the io crate, for renamed dependencies.
fn krate(value: &Expr) -> syn::Result<Path> {
    let message = "crate takes a path in a string, e.g. crate = \"io\"";
    match string(value) {
        Some(path) => path.parse().map_err(|_| diag::spanned(path, message)),
        None => Err(diag::spanned(value, message)),
    }
}

/// Records in `errors` everything in `sig` that `attr` cannot wrap.
pub(crate) fn check_signature(attr: Attr, sig: &Signature, errors: &mut Errors) {
    let plain = format!("{} takes a plain fn", attr.name());
    if let Some(token) = &sig.asyncness {
        let message = format!("{plain}: remove `async`; io tasks block instead of awaiting");
        errors.push(diag::spanned(token, message));
    }
    for (span, word) in qualifiers(sig) {
        errors.push(diag::error(span, format!("{plain}: remove `{word}`")));
    }
    let wanted = format!("write `{}`", attr.signature());
    if let Some(generics) = generics(sig) {
        let message = format!("{} takes no generic parameters: {wanted}", attr.name());
        errors.push(diag::spanned(generics, message));
    }
    if let Some(inputs) = bad_inputs(sig) {
        let message = format!(
            "{} needs `{}`: the runtime passes the Io handle",
            attr.name(),
            attr.signature()
        );
        errors.push(diag::spanned(inputs, message));
    }
}

/// The `const`, `unsafe` and `extern` qualifiers of `sig`, with their spans.
fn qualifiers(sig: &Signature) -> Vec<(Span, &'static str)> {
    let constness = sig.constness.map(|token| (token.span, "const"));
    let unsafety = sig.unsafety.map(|token| (token.span, "unsafe"));
    let abi = sig
        .abi
        .as_ref()
        .map(|abi| (abi.extern_token.span, "extern"));
    [constness, unsafety, abi].into_iter().flatten().collect()
}

/// The generic parameters and `where` clause of `sig`, if it has any.
fn generics(sig: &Signature) -> Option<TokenStream> {
    let mut tokens = sig.generics.to_token_stream();
    sig.generics.where_clause.to_tokens(&mut tokens);
    (!tokens.is_empty()).then_some(tokens)
}

/// The parameter list of `sig` (or the part of it to point at) unless it is exactly one
/// `pattern: Type`.
fn bad_inputs(sig: &Signature) -> Option<TokenStream> {
    if let Some(variadic) = &sig.variadic {
        return Some(variadic.to_token_stream());
    }
    match sig.inputs.first() {
        Some(syn::FnArg::Typed(_)) if sig.inputs.len() == 1 => None,
        Some(_) => Some(sig.inputs.to_token_stream()),
        None => {
            let mut parens =
                proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, TokenStream::new());
            parens.set_span(sig.paren_token.span.join());
            Some(proc_macro2::TokenTree::Group(parens).into())
        }
    }
}
