//! The Step Functions server benchmark's driver (`tests/sfn_clients/bench.py`, run by
//! `scripts/bench-sfn.sh` in `make bench`): its answer check and statistics (`test_bench.py`), and
//! a short run against `mdlc serve` (the debug build) and moto's server in which every third
//! execution of each client is given an input that must fail: the correct ones are counted, the
//! failing ones reported as errors, for both servers. Needs `.tools/venv` (boto3, moto), so the
//! tests are ignored in a plain run and run under `--run-ignored all` (`make test`).

use std::path::PathBuf;
use std::process::Command;

use mdlc_tests::{built_binary, workspace_root};
use serde_json::Value;

const NEEDS: &str = "needs boto3 and moto in .tools/venv: run scripts/tools.sh test";

fn venv(tool: &str) -> PathBuf {
    let path = workspace_root().join(".tools/venv/bin").join(tool);
    assert!(path.exists(), "{NEEDS} ({} is missing)", path.display());
    path
}

fn driver_dir() -> PathBuf {
    workspace_root().join("tests/sfn_clients")
}

#[test]
#[ignore = "needs .tools/venv (boto3): run with --run-ignored all (make test)"]
fn bench_driver_checks_answers_and_computes_percentiles() {
    let out = Command::new(venv("python"))
        .args(["-m", "unittest", "-v", "test_bench"])
        .current_dir(driver_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("{NEEDS}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "test_bench.py failed:\n{stderr}");
    assert!(
        stderr.contains("\nOK") && !stderr.contains("skipped"),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs .tools/venv (boto3, moto) and mdlc: run with --run-ignored all (make test)"]
fn bench_counts_correct_executions_and_reports_failing_ones_for_both_servers() {
    let mdlc = built_binary("mdlc-cli", "mdlc")
        .unwrap_or_else(|e| panic!("the mdlc binary is needed by this test: {e}"));
    let summary = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new(venv("python"))
        .arg("bench.py")
        .arg("--mdlc")
        .arg(&mdlc)
        .arg("--moto")
        .arg(venv("moto_server"))
        .args(["--levels", "2", "--seconds", "1", "--rounds", "1"])
        .args(["--break-every", "3", "--json"])
        .arg(summary.path())
        .current_dir(driver_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("{NEEDS}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let text = std::fs::read_to_string(summary.path()).expect("bench.py wrote no --json summary");
    let s: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    for server in ["mdlc", "moto"] {
        let level = &s[server]["2"];
        let correct = level["correct"].as_u64().unwrap_or(0);
        assert!(correct > 0, "{server}: no correct execution: {s}\n{stderr}");
        let errors = level["errors"]
            .as_object()
            .unwrap_or_else(|| panic!("{server}: no errors object: {s}"));
        // Both servers fail an input without `n` with States.Runtime (mdlc at the Choice, as
        // AWS does; moto at the Pass after it); any other kind of error is a broken run.
        let kinds: Vec<&String> = errors.keys().collect();
        assert_eq!(
            kinds,
            vec!["FAILED States.Runtime"],
            "{server}: {s}\n{stderr}"
        );
        let failed = errors["FAILED States.Runtime"].as_u64().unwrap_or(0);
        // Every third execution of each of the 2 clients is broken: a client that ran N
        // executions has N - N/3 correct and N/3 failed, so correct - 2 * failed is 0 to 2.
        assert!(
            failed > 0 && correct >= 2 * failed && correct - 2 * failed <= 4,
            "{server}: {failed} failed for {correct} correct: {s}"
        );
    }
    assert!(
        stdout.contains("| 2 | mdlc |") && stdout.contains("| 2 | moto |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Errors, by kind") && stdout.contains("FAILED States.Runtime"),
        "the Markdown does not report the failures:\n{stdout}"
    );
    assert!(stdout.contains("executions/s mdlc / moto"), "{stdout}");
}
