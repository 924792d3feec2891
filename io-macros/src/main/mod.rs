//! `#[io::main]` and `#[io::test]`: entry points that build a runtime and pass its `Io`.
//!
//! ```text
//! #[io::main(backend = "threaded", threads = 4, concurrent_limit = 64)]
//! fn main(io: Io) -> Result<(), Error> { … }
//! ```
//!
//! becomes a `fn main() -> Result<(), Error>` whose body is the user's, moved into an inner
//! `fn __io_main(io: Io)`, and a call to the runtime's `run_main(backend, Settings { … })`, which
//! builds the backend (the environment variables `IO_BACKEND` and `IO_THREADS` override what the
//! attribute does not pin) and calls it. `#[io::test]` makes a module of the same name holding
//! one `#[test]` per backend, so the tests are named `name::threaded`, `name::uring` (only the
//! one of `backend = …` if written), each calling `run_test(backend, Settings { … })`.
//!
//! Both take the same arguments (`parse::Key`): `backend`, `threads`, `async_limit`,
//! `concurrent_limit`, `fiber_stack_size`, `fiber_limit` (named after the runtime's `Builder`
//! methods; integer literals), `deadlock` and `crate`.
//!
//! Mistakes (an `async fn`, a missing `io` parameter, generics, an unknown argument, a value of
//! the wrong kind) are reported on the offending tokens, beside an expansion that still
//! type-checks the body but reports nothing else.

mod expand;
mod parse;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::diag::{self, Errors};
use parse::Attr;

/// The expansion of `#[io::main(args)] item`.
pub(crate) fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_attr(Attr::Main, args, item)
}

/// The expansion of `#[io::test(args)] item`.
pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_attr(Attr::Test, args, item)
}

/// Parses and checks the arguments and the function, then expands; errors go beside the expansion.
fn expand_attr(attr: Attr, args: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(error) => {
            let message = format!(
                "{} applies to a function: `{}`",
                attr.name(),
                attr.signature()
            );
            let error = diag::error(error.span(), message).to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut errors = Errors::default();
    let args = parse::parse_args(attr, args, &mut errors);
    parse::check_signature(attr, &item.sig, &mut errors);
    let expansion = match attr {
        Attr::Main => expand::main(&args, &item, errors.is_empty()),
        Attr::Test => expand::test(&args, &item, errors.is_empty()),
    };
    let errors = errors.to_compile_errors();
    quote!(#errors #expansion)
}
