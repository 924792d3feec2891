//! The expansion of `io_select!` (see the parent module for its shape).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::parse::Select;
use crate::diag::Errors;

/// The expansion: the select if `parsed` is there (with the arms that parsed), preceded by
/// the errors; otherwise the errors as an expression.
pub(crate) fn expand(krate: &TokenStream, parsed: Option<&Select>, errors: &Errors) -> TokenStream {
    let compile_errors = errors.to_compile_errors();
    let Some(select) = parsed.filter(|select| !select.arms.is_empty()) else {
        return quote! { { #compile_errors } };
    };
    let site = Span::mixed_site();
    let io_var = Ident::new("__io_select_io", site);
    let names: Vec<Ident> = (0..select.arms.len())
        .map(|i| Ident::new(&format!("__io_arm{i}"), site))
        .collect();
    let io = &select.io;
    let io_span = io.span();
    let lets = select.arms.iter().zip(&names).map(|(arm, name)| {
        let operation = &arm.operation;
        let span = operation.span();
        let into = quote_spanned!(span=> #krate::__private::into_arm);
        quote! { let mut #name = #into(#operation); }
    });
    let refs = names
        .iter()
        .map(|name| quote! { &mut #name as &mut dyn #krate::__private::Arm });
    let branches = select.arms.iter().enumerate().map(|(i, arm)| {
        let name = &names[i];
        let losers = names
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| n);
        let pat = &arm.pat;
        let body = &arm.body;
        // `return`, `break` or a panic in the expression would make the `Ok` around it an
        // "unreachable call" in the user's code.
        quote! {
            #[allow(unreachable_code)]
            ::core::result::Result::Ok(#i) => {
                let #pat = #krate::__private::take_output(&mut #name);
                #krate::__private::drop_losers((#(#losers,)*));
                ::core::result::Result::Ok(#body)
            }
        }
    });
    let io_binding = quote_spanned!(io_span=> let #io_var: #krate::Io = #io;);
    quote! {
        {
            #compile_errors
            #io_binding
            #(#lets)*
            match #krate::__private::select_arms(#io_var, &mut [#(#refs),*]) {
                #(#branches)*
                ::core::result::Result::Ok(_) => ::core::unreachable!(),
                ::core::result::Result::Err(canceled) => ::core::result::Result::Err(canceled),
            }
        }
    }
}
