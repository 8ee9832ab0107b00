//! IAM evaluation of (action, resource, context) requests against the template's policies, by
//! `@cloud-copilot/iam-simulate` (node_modules) through `iam_simulate.mjs`: the policies are
//! evaluated as IAM does (actions, wildcards, resources, conditions), where moto checks only some.

#![allow(dead_code)] // shared by several test binaries, each using a part

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value as Json, json};

use super::template::{ACCOUNT, repo_root};

/// One request to authorise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    pub action: String,
    pub resource: String,
    /// Condition keys of the request (e.g. `iam:PassedToService`).
    pub context: Vec<(String, String)>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Request {
        Request {
            action: action.to_string(),
            resource: resource.to_string(),
            context: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: &str) -> Request {
        self.context.push((key.to_string(), value.to_string()));
        self
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)?;
        for (k, v) in &self.context {
            write!(f, " [{k}={v}]")?;
        }
        Ok(())
    }
}

/// The requests `policies` (name, document) do not allow, each with IAM's answer
/// (`ImplicitlyDenied`, `ExplicitlyDenied`, or the simulator's validation errors).
///
/// # Panics
/// When node or `@cloud-copilot/iam-simulate` is missing (install with `scripts/tools.sh test`).
pub fn denied(principal: &str, policies: &[(String, Json)], requests: &[Request]) -> Vec<String> {
    let input = json!({
        "principal": principal,
        "account": ACCOUNT,
        "policies": policies.iter().map(|(name, policy)| json!({"name": name, "policy": policy})).collect::<Vec<_>>(),
        "requests": requests.iter().map(|r| json!({
            "action": r.action,
            "resource": r.resource,
            "context": r.context.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    });
    let root = repo_root();
    assert!(
        root.join("node_modules/@cloud-copilot/iam-simulate")
            .is_dir(),
        "node_modules/@cloud-copilot/iam-simulate is missing: run scripts/tools.sh test"
    );
    let script = root.join("crates/aws/tests/common/iam_simulate.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (needed for iam-simulate): {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to node");
    let out = child.wait_with_output().expect("node");
    assert!(
        out.status.success(),
        "iam_simulate.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Json> = serde_json::from_slice(&out.stdout).expect("iam_simulate.mjs answer");
    assert_eq!(answers.len(), requests.len(), "one answer per request");
    requests
        .iter()
        .zip(answers)
        .filter(|(_, a)| a["result"] != "Allowed")
        .map(|(r, a)| match a.get("errors") {
            Some(errors) => format!("{r}: {} ({errors})", a["result"]),
            None => format!("{r}: {}", a["result"]),
        })
        .collect()
}
