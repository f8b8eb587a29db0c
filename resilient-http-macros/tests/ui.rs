//! Compile-time checks of `#[resilient]`: every mistake is a precise error (`tests/ui`), and
//! every supported shape of function compiles without a warning (`tests/ui-pass`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui-pass/*.rs");
}
