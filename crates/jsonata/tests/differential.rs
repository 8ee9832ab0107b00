//! Differential test: every expression of tests/corpus.json is evaluated by this crate and by
//! the reference implementation (npm `jsonata`, run once with node over the whole corpus);
//! results (value, `undefined`, or error code) must agree. Cases marked `"compare": "type"`
//! (non-deterministic functions) are compared by JSON type only.
//!
//! Ignored unless asked for (`--run-ignored all`, as `make test` does, after `scripts/tools.sh
//! test` installed the reference); when asked for, a missing `node` or module fails it.

use std::path::PathBuf;
use std::process::Command;

use mdlc_jsonata::{Environment, Expression};
use serde_json::Value;

fn reference_module() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(root) = std::env::var("MDLC_REPO_ROOT") {
        candidates.push(PathBuf::from(root).join("node_modules/jsonata"));
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/jsonata"));
    candidates
        .into_iter()
        .find(|p| p.join("package.json").exists())
}

fn outcome(case: &Value) -> Value {
    let expr = case["expr"].as_str().unwrap_or_default();
    let mut env = Environment::new();
    if let Some(b) = case.get("bindings").and_then(Value::as_object) {
        for (k, v) in b {
            env.bind(k, v.clone());
        }
    }
    let parsed = match Expression::parse(expr) {
        Ok(p) => p,
        Err(e) => return serde_json::json!({ "error": e.code }),
    };
    match parsed.evaluate(case.get("input"), &env) {
        Ok(Some(v)) => serde_json::json!({ "value": v }),
        Ok(None) => serde_json::json!({ "undefined": true }),
        Err(e) => serde_json::json!({ "error": e.code }),
    }
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_number(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same_number(v1, v2))
        }
        _ => a == b,
    }
}

fn type_of(v: &Value) -> &'static str {
    match v.get("value") {
        None => "none",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "bool",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

#[test]
#[ignore = "needs node and node_modules/jsonata: run with --run-ignored all (make test)"]
fn corpus_agrees_with_reference_implementation() {
    let corpus_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus.json");
    let corpus: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(&corpus_path).expect("corpus.json is readable"),
    )
    .expect("corpus.json is valid JSON");
    assert!(corpus.len() >= 250, "corpus has {} cases", corpus.len());

    let module = reference_module().unwrap_or_else(|| {
        panic!(
            "node_modules/jsonata not found (run `scripts/tools.sh test` or `npm install` at the repo root)"
        )
    });
    let driver = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference.js");
    let out = Command::new("node")
        .arg(&driver)
        .arg(&module)
        .arg(&corpus_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` from PATH: {e}"));
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Vec<Value> =
        serde_json::from_slice(&out.stdout).expect("driver prints a JSON array");
    assert_eq!(reference.len(), corpus.len());

    let mut mismatches = Vec::new();
    for (case, want) in corpus.iter().zip(&reference) {
        let got = outcome(case);
        let by_type = case.get("compare").and_then(Value::as_str) == Some("type");
        let ok = if by_type {
            type_of(&got) == type_of(want)
        } else {
            same_number(&got, want)
        };
        if !ok {
            mismatches.push(format!(
                "  {}\n    input: {}\n    ours:  {}\n    ref:   {}",
                case["expr"],
                case.get("input").map(Value::to_string).unwrap_or_default(),
                got,
                want
            ));
        }
    }
    let agree = corpus.len() - mismatches.len();
    println!(
        "differential: {agree}/{} agree ({:.1}%)",
        corpus.len(),
        100.0 * agree as f64 / corpus.len() as f64
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} cases disagree with the reference:\n{}",
        mismatches.len(),
        corpus.len(),
        mismatches.join("\n")
    );
}
