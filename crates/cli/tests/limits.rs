//! `mdlc validate` and `mdlc execute` on definitions and inputs a user may get wrong: each ends
//! in a named error, and a runaway expression is stopped while the process stays under a memory
//! bound (its peak resident set size, read with `getrusage(RUSAGE_CHILDREN)`).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

/// Peak memory the runaway cases may use: far below what they would take unbounded (the
/// nested `States.JsonToString` doubles a string a hundred times).
const MEMORY_BOUND_BYTES: u64 = 256 * 1024 * 1024;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
    p.display().to_string()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"))
}

fn mdlc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mdlc"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run mdlc: {e}"))
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The largest peak resident set size of the children this process has waited for.
fn children_peak_rss_bytes() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage =
        getrusage(UsageWho::RUSAGE_CHILDREN).unwrap_or_else(|e| panic!("getrusage failed: {e}"));
    // ru_maxrss is in KiB on Linux
    u64::try_from(usage.max_rss()).unwrap_or(0) * 1024
}

/// Runs `mdlc execute` on a definition and input; returns the printed result and checks the
/// peak memory of the process.
fn execute_bounded(def: &Value, input: &Value) -> Value {
    let dir = tempdir();
    let d = write(dir.path(), "sm.json", &def.to_string());
    let i = write(dir.path(), "in.json", &input.to_string());
    let out = mdlc(&["execute", &d, "--input-file", &i]);
    let peak = children_peak_rss_bytes();
    assert!(peak > 0, "no peak memory was measured");
    assert!(
        peak < MEMORY_BOUND_BYTES,
        "mdlc execute peaked at {} MiB (bound {} MiB)",
        peak / (1024 * 1024),
        MEMORY_BOUND_BYTES / (1024 * 1024)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

#[test]
fn nested_json_to_string_100_deep_stops_with_data_limit_exceeded_under_the_memory_bound() {
    let mut e = "$.s".to_string();
    for _ in 0..100 {
        e = format!("States.JsonToString({e})");
    }
    let def =
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"v.$": e},"End":true}}});
    let r = execute_bounded(&def, &json!({"s": "\"\\\"\\"}));
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["error"], "States.DataLimitExceeded");
    assert_eq!(
        r["cause"],
        "The state/task 'P' returned a result with a size exceeding the maximum number of bytes service limit."
    );
}

#[test]
fn a_jsonata_string_doubled_without_end_stops_with_d2014_under_the_memory_bound() {
    let def = json!({"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass",
        "Output":"{% ($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $f('ab', 60)) %}",
        "End":true}}});
    let r = execute_bounded(&def, &json!({}));
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["error"], "States.QueryEvaluationError");
    assert!(
        r["cause"].as_str().is_some_and(|c| c.contains("D2014")),
        "{r}"
    );
}

#[test]
fn validate_rejects_a_top_level_timeout_of_1e14_naming_the_pointer() {
    let dir = tempdir();
    let d = write(
        dir.path(),
        "sm.json",
        r#"{"TimeoutSeconds": 100000000000000, "StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#,
    );
    let out = mdlc(&["validate", &d]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/TimeoutSeconds: Maximum value is 99999999"),
        "{err}"
    );
}

#[test]
fn validate_rejects_a_definition_over_1_mb() {
    let dir = tempdir();
    let big = "x".repeat(1_048_577);
    let def = json!({"Comment": big, "StartAt":"A","States":{"A":{"Type":"Succeed"}}});
    let d = write(dir.path(), "sm.json", &def.to_string());
    let out = mdlc(&["validate", &d]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Member must have length less than or equal to 1048576"),
        "{err}"
    );
}

#[test]
fn execute_wait_seconds_path_1e13_times_out_instead_of_panicking() {
    let dir = tempdir();
    let d = write(
        dir.path(),
        "sm.json",
        r#"{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}"#,
    );
    let out = mdlc(&["execute", &d, "--input", r#"{"s": 1e13}"#]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = stdout_json(&out);
    assert_eq!(r["status"], "TIMED_OUT");
    assert_eq!(r["error"], "States.Timeout");
}

#[test]
fn execute_refuses_an_input_over_256_kib_as_start_execution_does() {
    let dir = tempdir();
    let d = write(
        dir.path(),
        "sm.json",
        r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#,
    );
    let i = write(
        dir.path(),
        "in.json",
        &json!({"k": "a".repeat(262_144)}).to_string(),
    );
    let out = mdlc(&["execute", &d, "--input-file", &i]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing runs, nothing is printed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144"),
        "{err}"
    );
}

#[test]
fn execute_refuses_deeply_nested_input_with_a_clear_error() {
    let dir = tempdir();
    let d = write(
        dir.path(),
        "sm.json",
        r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#,
    );
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let i = write(dir.path(), "in.json", &deep);
    let out = mdlc(&["execute", &d, "--input-file", &i]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not valid JSON") && err.contains("recursion limit exceeded"),
        "{err}"
    );
}

#[test]
fn execute_ends_an_endless_loop_at_the_history_limit() {
    let dir = tempdir();
    let d = write(
        dir.path(),
        "sm.json",
        r#"{"StartAt":"L","States":{"L":{"Type":"Choice","Choices":[{"Variable":"$.spin","IsPresent":false,"Next":"L"}],"Default":"Done"},"Done":{"Type":"Succeed"}}}"#,
    );
    let out = mdlc(&["execute", &d]);
    assert_eq!(out.status.code(), Some(1));
    let r = stdout_json(&out);
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["error"], "States.Runtime");
    assert_eq!(
        r["cause"],
        "The execution reached the maximum number of history events (25000)."
    );
}
