//! Parsing the arguments and the function of `#[io::main]` and `#[io::test]`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprLit, ExprUnary, Lit, LitStr, Path, Signature, UnOp};

use crate::diag::{self, Errors};

/// The backends `#[io::main(backend = …)]` accepts.
pub(crate) const BACKENDS: [&str; 3] = ["threaded", "uring", "auto"];

/// The backends every `#[io::test]` runs on, one generated `#[test]` each, named after it;
/// `backend = …` keeps one of them.
pub(crate) const TEST_BACKENDS: [&str; 2] = ["threaded", "uring"];

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

    /// The values `backend = …` takes.
    fn backends(self) -> &'static [&'static str] {
        match self {
            Attr::Main => &BACKENDS,
            Attr::Test => &TEST_BACKENDS,
        }
    }
}

/// An argument of the attributes; `#[io::main]` and `#[io::test]` take the same ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Backend,
    Threads,
    AsyncLimit,
    ConcurrentLimit,
    FiberStackSize,
    FiberLimit,
    Deadlock,
    Crate,
}

impl Key {
    /// Every argument, in the order the documentation lists them.
    const ALL: [Key; 8] = [
        Key::Backend,
        Key::Threads,
        Key::AsyncLimit,
        Key::ConcurrentLimit,
        Key::FiberStackSize,
        Key::FiberLimit,
        Key::Deadlock,
        Key::Crate,
    ];

    /// The argument as written; the integer ones are named after their `Builder` method.
    fn name(self) -> &'static str {
        match self {
            Key::Backend => "backend",
            Key::Threads => "threads",
            Key::AsyncLimit => "async_limit",
            Key::ConcurrentLimit => "concurrent_limit",
            Key::FiberStackSize => "fiber_stack_size",
            Key::FiberLimit => "fiber_limit",
            Key::Deadlock => "deadlock",
            Key::Crate => "crate",
        }
    }

    /// The argument called `name`, if any.
    fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    /// How to write the argument for `attr`.
    fn usage(self, attr: Attr) -> &'static str {
        match (self, attr) {
            (Key::Backend, Attr::Main) => "backend = \"threaded\" | \"uring\" | \"auto\"",
            (Key::Backend, Attr::Test) => {
                "backend = \"threaded\" | \"uring\" (the only backend the test runs on; \
                 default: both)"
            }
            (Key::Threads, _) => "threads = N (worker threads; 0 = single-threaded)",
            (Key::AsyncLimit, _) => {
                "async_limit = N (async tasks queued or running at once; 0 = every io_async! \
                 runs inline)"
            }
            (Key::ConcurrentLimit, _) => {
                "concurrent_limit = N (concurrent tasks at once; 0 = io_concurrent! is always \
                 refused)"
            }
            (Key::FiberStackSize, _) => {
                "fiber_stack_size = N (bytes per fiber stack on uring, e.g. 1_048_576)"
            }
            (Key::FiberLimit, _) => {
                "fiber_limit = N (fibers at once on uring, the root's included; at least 1)"
            }
            (Key::Deadlock, _) => DEADLOCK_USAGE,
            (Key::Crate, _) => "crate = \"path\"",
        }
    }
}

/// The message for an argument `name` that `attr` does not take: lists the ones it does, and
/// names the one meant when `name` is a `Builder` spelling.
fn unknown_argument(attr: Attr, name: &str) -> String {
    let keys = Key::ALL.map(Key::name).join(", ");
    let meant = match name {
        "single_threaded" => Some("threads = 0"),
        "deadlock_grace" => Some("deadlock = \"500ms\""),
        "worker_threads" => Some("threads = N"),
        "stack_size" => Some("fiber_stack_size = N"),
        "max_fibers" => Some("fiber_limit = N"),
        _ => None,
    };
    let hint = meant.map_or_else(String::new, |meant| {
        format!(" (for `{name}`, write {meant})")
    });
    format!(
        "unknown argument `{name}`: {} takes {keys}{hint}",
        attr.name()
    )
}

/// An integer argument: its value and the literal's span, which the expansion gives the value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Number {
    pub(crate) value: u64,
    pub(crate) span: Span,
}

/// The arguments of `#[io::main]` or `#[io::test]`; `None` when not written.
#[derive(Default)]
pub(crate) struct Args {
    /// `backend = "…"`, checked against [`Attr::backends`].
    pub(crate) backend: Option<LitStr>,
    /// `threads = N` (0 = single-threaded).
    pub(crate) threads: Option<Number>,
    /// `async_limit = N`.
    pub(crate) async_limit: Option<Number>,
    /// `concurrent_limit = N`.
    pub(crate) concurrent_limit: Option<Number>,
    /// `fiber_stack_size = N`, in bytes.
    pub(crate) fiber_stack_size: Option<Number>,
    /// `fiber_limit = N`, at least 1.
    pub(crate) fiber_limit: Option<Number>,
    /// `deadlock = "off" | "<N>ms" | "<N>s"`: the deadlock grace in milliseconds, `0` for off.
    pub(crate) deadlock: Option<Number>,
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
///
/// A bad value, a duplicate or an unknown `name = value` is recorded and parsing goes on with
/// the next argument; only what cannot be skipped (no `= value`) stops it.
fn parse_arg(
    attr: Attr,
    args: &mut Args,
    errors: &mut Errors,
    meta: &ParseNestedMeta,
) -> syn::Result<()> {
    let name = meta.path.to_token_stream().to_string().replace(' ', "");
    let key = Key::from_name(&name);
    if !meta.input.peek(syn::Token![=]) {
        let message = match key {
            Some(key) => format!("expected a value: {}", key.usage(attr)),
            None => unknown_argument(attr, &name),
        };
        return Err(diag::spanned(&meta.path, message));
    }
    let value: Expr = meta.value()?.parse()?;
    let Some(key) = key else {
        errors.push(diag::spanned(&meta.path, unknown_argument(attr, &name)));
        return Ok(());
    };
    let duplicate = match key {
        Key::Backend => set(&mut args.backend, backend(attr, &value), errors),
        Key::Threads => set(&mut args.threads, number(attr, key, &value), errors),
        Key::AsyncLimit => set(&mut args.async_limit, number(attr, key, &value), errors),
        Key::ConcurrentLimit => set(
            &mut args.concurrent_limit,
            number(attr, key, &value),
            errors,
        ),
        Key::FiberStackSize => set(
            &mut args.fiber_stack_size,
            number(attr, key, &value),
            errors,
        ),
        Key::FiberLimit => set(&mut args.fiber_limit, number(attr, key, &value), errors),
        Key::Deadlock => set(&mut args.deadlock, deadlock(&value), errors),
        Key::Crate => set(&mut args.krate, krate(&value), errors),
    };
    if duplicate {
        errors.push(diag::spanned(
            &meta.path,
            format!("duplicate argument `{name}`"),
        ));
    }
    Ok(())
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

/// `backend = "…"`, one of [`Attr::backends`].
fn backend(attr: Attr, value: &Expr) -> syn::Result<LitStr> {
    let allowed = attr.backends();
    let expected = allowed
        .iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(name) = string(value) else {
        let message = format!("backend takes a string, one of {expected}");
        return Err(diag::spanned(value, message));
    };
    let text = name.value();
    if allowed.contains(&text.as_str()) {
        return Ok(name.clone());
    }
    let message = if attr == Attr::Test && BACKENDS.contains(&text.as_str()) {
        format!(
            "#[io::test] runs on each backend it names: write backend = \"threaded\" or \
             \"uring\", or leave backend out to run on both (\"{text}\" would pick one per machine)"
        )
    } else {
        format!("unknown backend \"{text}\": expected one of {expected}")
    };
    Err(diag::spanned(name, message))
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

/// An integer argument `key = N`: a literal (`_` separators and a suffix allowed) that fits in
/// a `usize` of the host; `fiber_limit` is at least 1 (the root task takes a fiber).
fn number(attr: Attr, key: Key, value: &Expr) -> syn::Result<Number> {
    let (name, usage) = (key.name(), key.usage(attr));
    let literal = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(literal),
            ..
        }) => literal,
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => {
            let message = format!("{name} cannot be negative; write {usage}");
            return Err(diag::spanned(value, message));
        }
        _ => {
            let quoted = string(value).filter(|text| text.value().trim().parse::<u64>().is_ok());
            let message = match quoted {
                Some(text) => format!(
                    "{name} takes an integer literal, not a string: write {name} = {}",
                    text.value().trim()
                ),
                None => format!("{name} takes an integer literal: {usage}"),
            };
            return Err(diag::spanned(value, message));
        }
    };
    if literal.base10_digits().starts_with('-') {
        let message = format!("{name} cannot be negative; write {usage}");
        return Err(diag::spanned(literal, message));
    }
    let parsed = literal
        .base10_parse::<usize>()
        .ok()
        .and_then(|n| u64::try_from(n).ok());
    match parsed {
        None => {
            let message = format!("{name} is too large: at most {} (usize::MAX)", usize::MAX);
            Err(diag::spanned(literal, message))
        }
        Some(0) if key == Key::FiberLimit => {
            let message = "fiber_limit must be at least 1: the root task runs on a fiber";
            Err(diag::spanned(literal, message))
        }
        Some(value) => Ok(Number {
            value,
            span: literal.span(),
        }),
    }
}

/// How to write `deadlock = …`.
const DEADLOCK_USAGE: &str =
    "deadlock = \"off\" (no diagnosis) or a grace such as \"500ms\" or \"2s\" (default 500ms)";

/// `deadlock = "off" | "<N>ms" | "<N>s"`: the grace in milliseconds (`0`: off) and where.
fn deadlock(value: &Expr) -> syn::Result<Number> {
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
        .map(|value| Number {
            value,
            span: text.span(),
        })
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
