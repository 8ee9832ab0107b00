//! Shared helpers of the data-driven suites.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// JSON deep equality where numbers compare by value (`1` equals `1.0`) and key order is ignored.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Runs one case (`definition`, `input`, `expect`) and returns a mismatch description.
pub fn run_case(case: &Value) -> Result<(), String> {
    let def = case.get("definition").ok_or("case has no 'definition'")?;
    let input = case.get("input").cloned().unwrap_or(Value::Null);
    let expect = case.get("expect").ok_or("case has no 'expect'")?;
    let sm = match mdlc_asl::StateMachine::from_value(def) {
        Ok(sm) => sm,
        Err(e) => {
            if expect.get("status").and_then(Value::as_str) == Some("INVALID") {
                let want = expect.get("pointer").and_then(Value::as_str).unwrap_or("");
                // `message`, when given, is the exact text of the problem at that pointer.
                let message = expect.get("message").and_then(Value::as_str);
                if e.iter()
                    .any(|x| x.pointer == want && message.is_none_or(|m| x.message == m))
                {
                    return Ok(());
                }
                return Err(format!(
                    "invalid as expected, but no problem at {want}{}: {e}",
                    message
                        .map(|m| format!(" saying {m:?}"))
                        .unwrap_or_default()
                ));
            }
            return Err(format!("definition rejected:\n{e}"));
        }
    };
    if expect.get("status").and_then(Value::as_str) == Some("INVALID") {
        return Err("definition accepted, but the case expects it to be invalid".to_string());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut opts = mdlc_asl::ExecutionOptions::default();
    if let Some(o) = case.get("options") {
        if let Some(n) = o.get("execution_name").and_then(Value::as_str) {
            opts.execution_name = n.to_string();
        }
        if let Some(n) = o.get("state_machine_name").and_then(Value::as_str) {
            opts.state_machine_name = n.to_string();
        }
    }
    if let Some(mc) = case.get("mock_config") {
        let cfg = mdlc_asl::mock::MockConfig::from_value(mc).map_err(|e| e.to_string())?;
        let tc = case.get("test_case").and_then(Value::as_str).unwrap_or("");
        let inv = mdlc_asl::mock::MockInvoker::new(cfg, &opts.state_machine_name, tc, None)
            .map_err(|e| e.to_string())?;
        opts.invoker = std::sync::Arc::new(inv);
    }
    let exec = rt.block_on(sm.execute(input, opts));
    let status = exec.status.as_str();
    let want_status = expect.get("status").and_then(Value::as_str).unwrap_or("");
    if status != want_status {
        return Err(format!(
            "status {status} (error {:?}, cause {:?}, output {}), expected {want_status}",
            exec.error,
            exec.cause,
            exec.output.map(|o| o.to_string()).unwrap_or_default()
        ));
    }
    if status == "SUCCEEDED" {
        let want = expect.get("output").cloned().unwrap_or(Value::Null);
        let got = exec.output.unwrap_or(Value::Null);
        if !json_equal(&got, &want) {
            return Err(format!("output {got}\n  expected {want}"));
        }
    } else {
        let want = expect.get("error").cloned().unwrap_or(Value::Null);
        let got = exec.error.map(Value::String).unwrap_or(Value::Null);
        if got != want {
            return Err(format!(
                "error {got} (cause {:?}), expected {want}",
                exec.cause
            ));
        }
        if let Some(c) = expect.get("cause_contains").and_then(Value::as_str) {
            let cause = exec.cause.unwrap_or_default();
            if !cause.contains(c) {
                return Err(format!(
                    "error {got} as expected, but its cause {cause:?} does not contain {c:?}"
                ));
            }
        }
    }
    Ok(())
}

/// Runs every case file of `files` (named relative to `root`; only those whose name contains
/// `MDLC_CASE` when it is set) and panics when one does not match, or when no case ran at all:
/// a data-driven suite that compared nothing never passes.
pub fn run_case_files(root: &Path, files: &[PathBuf]) {
    let only = std::env::var("MDLC_CASE").ok();
    let mut failures = Vec::new();
    let mut passed = 0usize;
    for f in files {
        let name = f
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| f.display().to_string());
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let outcome = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("unreadable: {e}")))
            .and_then(|case: Value| run_case(&case));
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("ok   {name}");
            }
            Err(m) => {
                println!("FAIL {name}: {m}");
                failures.push(format!("{name}: {m}"));
            }
        }
    }
    let total = passed + failures.len();
    println!("{passed}/{total} matched");
    assert!(
        total > 0,
        "no case ran from {} ({} files, MDLC_CASE={only:?})",
        root.display(),
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} cases do not match:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every `*.json` file under `dir`, recursively, sorted; an unreadable directory is an error.
pub fn case_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect(&p, out)?;
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    Ok(files)
}
