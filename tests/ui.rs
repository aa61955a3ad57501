//! Every mistake in a `#[monitored]` attribute is a compile error that points
//! at the offending token and says what to write instead.

#[test]
fn attribute_mistakes_are_clear_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
