//! Runs every execution recorded on AWS in `../shared/conformance/asl-aws-recorded/cases`
//! (beside the repository, never copied into it) and requires all of them to match.
//!
//! Ignored unless asked for (`--run-ignored all`, as `make test` and `make conformance` do);
//! when asked for, a missing or empty corpus fails the test.

mod common;

use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    match std::env::var("MDLC_REPO_ROOT") {
        Ok(root) if !root.is_empty() => {
            PathBuf::from(root).join("../shared/conformance/asl-aws-recorded/cases")
        }
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/asl-aws-recorded/cases"),
    }
}

#[test]
#[ignore = "needs ../shared/conformance beside the repository: make conformance / make test run it"]
fn aws_recorded_executions_match() {
    let dir = corpus_dir();
    let files = common::case_files(&dir)
        .unwrap_or_else(|e| panic!("the AWS-recorded corpus is missing: {e}"));
    common::run_case_files(&dir, &files);
}
