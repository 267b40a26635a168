//! What must not compile: the soundness claims of the crate docs, checked by the compiler.
//! Each case in `tests/compile_fail/` carries the expected error in its `.stderr` file.

#[test]
fn soundness_rules_are_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
