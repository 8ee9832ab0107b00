//! The engine's own data-driven suite: every `tests/cases/<category>/<name>.json` holds a
//! definition, an input and the expected output, error (and cause) or validation problem. Each
//! case is reported by name; `MDLC_CASE=<part of a name>` runs only the matching ones.

mod common;

use std::path::PathBuf;

#[test]
fn own_conformance_cases() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let files = common::case_files(&root).unwrap_or_else(|e| panic!("{e}"));
    common::run_case_files(&root, &files);
}

fn fail_case(cause_contains: &str) -> serde_json::Value {
    serde_json::json!({
        "definition": {"StartAt": "S", "States": {"S": {"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"}}},
        "input": {},
        "expect": {"status": "FAILED", "error": "ErrorA", "cause_contains": cause_contains}
    })
}

#[test]
fn a_case_whose_cause_does_not_contain_the_expected_text_fails() {
    assert_eq!(common::run_case(&fail_case("Kaiju attack")), Ok(()));
    let err = common::run_case(&fail_case("Godzilla")).unwrap_err();
    assert!(
        err.contains(r#"cause "Kaiju attack" does not contain "Godzilla""#),
        "{err}"
    );
}

#[test]
#[should_panic(expected = "no case ran")]
fn a_run_over_no_case_files_fails() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    common::run_case_files(&root, &[]);
}
