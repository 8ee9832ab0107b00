//! Runs every execution recorded on AWS in `../shared/conformance/asl-aws-recorded/cases`
//! (never copied into this repository) and requires all of them to match.

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
fn aws_recorded_executions_match() {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty())
            || std::env::var("MDLC_REQUIRE_SERVERS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "the AWS-recorded corpus is missing at {}",
            dir.display()
        );
        eprintln!("skipped: no AWS-recorded corpus at {}", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let only = std::env::var("MDLC_CASE").ok();
    let mut matched = 0;
    let mut total = 0;
    let mut failures = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        total += 1;
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let case: serde_json::Value = match serde_json::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: unreadable: {e}"));
                continue;
            }
        };
        match common::run_case(&case) {
            Ok(()) => matched += 1,
            Err(m) => failures.push(format!("{name}: {m}")),
        }
    }
    for m in &failures {
        eprintln!("MISMATCH {m}");
    }
    println!("{matched}/{total} matched");
    eprintln!("{matched}/{total} matched");
    assert!(
        failures.is_empty(),
        "{} of {total} cases do not match",
        failures.len()
    );
}
