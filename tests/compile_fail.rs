//! The compile-time half of the DSL's contract (README: "The DSL"): every misuse in
//! `trybuild/ui` is a compile error with the expected message (`*.stderr`), and the programs
//! in `trybuild/pass` compile and run.
//!
//! Regenerate the expected messages with `TRYBUILD=overwrite cargo test --test compile_fail`,
//! then review the diff: each message must point at the user's tokens and say what to write.

#[test]
fn misuses_are_compile_errors_and_natural_programs_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("trybuild/ui/*.rs");
    cases.pass("trybuild/pass/*.rs");
}
