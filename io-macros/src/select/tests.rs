//! Parsing and expansion of `io_select!`.

use quote::quote;

use super::parse::parse;

#[test]
fn arms_parse_with_and_without_trailing_commas() {
    let (select, errors) = parse(quote!(io, {
        item = queue.select_get() => item,
        () = io::after(d) => { None }
        _ = io::cancel_requested() => None
    }));
    assert!(errors.is_empty());
    assert_eq!(select.unwrap().arms.len(), 3);
}

#[test]
fn a_malformed_arm_is_reported_and_the_others_kept() {
    let (select, errors) = parse(quote!(io, {
        item queue.select_get() => item,
        () = io::after(d) => None,
    }));
    let error = errors.into_error().unwrap().to_string();
    assert!(
        error.contains("pattern = operation => expression"),
        "{error}"
    );
    assert_eq!(select.unwrap().arms.len(), 1);
}

#[test]
fn missing_braces_and_no_arms_are_errors() {
    let (_, errors) = parse(quote!(io, item = q.select_get() => item));
    assert!(errors.into_error().unwrap().to_string().contains("braces"));
    let (_, errors) = parse(quote!(io, {}));
    assert!(errors
        .into_error()
        .unwrap()
        .to_string()
        .contains("at least one arm"));
    let (_, errors) = parse(quote!({ x = y => z }));
    assert!(errors
        .into_error()
        .unwrap()
        .to_string()
        .contains("the Io handle"));
}
