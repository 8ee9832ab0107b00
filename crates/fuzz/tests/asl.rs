//! Fuzz targets of the ASL engine: definitions (parse → validate → execute on the virtual
//! clock), definition text, JSONPath, intrinsic functions, and execution inputs of the
//! project's own state machines. Properties: no panic, no hang (a bounded number of
//! transitions), every validation problem has a JSON pointer and a message, and every failed
//! execution ends in a named error.

use std::sync::Arc;

use async_trait::async_trait;
use mdlc_asl::{
    Execution, ExecutionOptions, ExecutionStatus, StateMachine, TaskFailure, TaskInvoker,
    TaskRequest, ValidationErrors,
};
use mdlc_fuzz::{fuzz, generators as g};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Answers a Task with its parameters, except the generators' `broken` function, which fails.
struct EchoInvoker;

#[async_trait]
impl TaskInvoker for EchoInvoker {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        if request.resource == g::task_resources().1 {
            return Err(TaskFailure::new(
                "Lambda.ServiceException",
                "broken on purpose",
            ));
        }
        Ok(request.parameters)
    }
}

/// Runs the project's state machines: the Initialize Lambda is the real handler (on in-memory
/// ports), so an execution input is validated and resolved as on AWS; other tasks echo.
struct ProjectInvoker {
    world: mdlc_core::memory::InMemoryWorld,
}

#[async_trait]
impl TaskInvoker for ProjectInvoker {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let function = request
            .parameters
            .get("FunctionName")
            .and_then(Value::as_str);
        if function != Some("${InitializeFunctionArn}") {
            return Ok(request.parameters);
        }
        let payload = request
            .parameters
            .get("Payload")
            .cloned()
            .unwrap_or(Value::Null);
        match initialize::invoke(payload, &self.world.dependencies()).await {
            Ok(plan) => Ok(json!({"StatusCode": 200, "Payload": plan})),
            Err(f) => Err(TaskFailure::new(f.error_type, f.message)),
        }
    }
}

/// Transitions an execution may make before it is stopped (`States.Runtime`).
const MAX_TRANSITIONS: u64 = 120;

fn options() -> ExecutionOptions {
    ExecutionOptions {
        invoker: Arc::new(EchoInvoker),
        execution_name: "fuzz".into(),
        max_transitions: Some(MAX_TRANSITIONS),
        ..ExecutionOptions::default()
    }
}

fn check_problems(errs: &ValidationErrors) -> Result<&'static str, String> {
    if errs.is_empty() {
        return Err("validation failed without a problem".into());
    }
    for e in errs.iter() {
        if !(e.pointer.is_empty() || e.pointer.starts_with('/')) {
            return Err(format!(
                "problem pointer {:?} is not a JSON pointer",
                e.pointer
            ));
        }
        if e.message.trim().is_empty() {
            return Err(format!("problem at {:?} has no message", e.pointer));
        }
    }
    Ok("invalid")
}

/// True when a Fail state of the definition names no error (`Error` and `ErrorPath` are
/// optional): an execution ending there has no error name.
fn has_fail_without_error(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            let bare_fail = m.get("Type").and_then(Value::as_str) == Some("Fail")
                && !m.contains_key("Error")
                && !m.contains_key("ErrorPath");
            bare_fail || m.values().any(has_fail_without_error)
        }
        Value::Array(a) => a.iter().any(has_fail_without_error),
        _ => false,
    }
}

fn mentions(v: &Value, s: &str) -> bool {
    match v {
        Value::String(t) => t == s,
        Value::Array(a) => a.iter().any(|x| mentions(x, s)),
        Value::Object(m) => m.values().any(|x| mentions(x, s)),
        _ => false,
    }
}

/// A failed execution names its error: an engine error (`States.*`), the invoker's, or one the
/// definition itself raises (a Fail state's `Error`).
fn check_execution(def: &Value, exec: &Execution) -> Result<&'static str, String> {
    check_execution_with(def, exec, |_| false)
}

/// [`check_execution`], where `also_named` accepts the error names of the task handlers.
fn check_execution_with(
    def: &Value,
    exec: &Execution,
    also_named: impl Fn(&str) -> bool,
) -> Result<&'static str, String> {
    match exec.status {
        ExecutionStatus::Succeeded => {
            if exec.output.is_none() {
                return Err("succeeded without an output".into());
            }
            Ok("succeeded")
        }
        ExecutionStatus::Failed | ExecutionStatus::TimedOut => {
            let error = exec.error.as_deref().unwrap_or("");
            let named = error.starts_with("States.")
                || error == "Lambda.ServiceException"
                || mentions(def, error)
                || (error.is_empty() && has_fail_without_error(def))
                || also_named(error);
            if !named {
                return Err(format!(
                    "execution ended {} with error {error:?} (cause {:?})",
                    exec.status, exec.cause
                ));
            }
            if exec.status == ExecutionStatus::TimedOut && error != "States.Timeout" {
                return Err(format!("timed out with error {error:?}"));
            }
            Ok(match (exec.status, error) {
                (ExecutionStatus::TimedOut, _) => "timed_out",
                (_, "States.Runtime") => "failed_runtime",
                _ => "failed",
            })
        }
        ExecutionStatus::Aborted => Err("aborted without being asked to".into()),
    }
}

fn run_machine(def: &Value, input: &Value) -> Result<&'static str, String> {
    match StateMachine::from_value(def) {
        Err(errs) => check_problems(&errs),
        Ok(sm) => {
            let exec = mdlc_fuzz::block_on(sm.execute(input.clone(), options()));
            check_execution(def, &exec)
        }
    }
}

#[test]
fn fuzz_asl_definitions() {
    let stats = fuzz(
        "asl_definitions",
        (g::asl_definition(), g::execution_input()),
        |(def, input): &(Value, Value)| run_machine(def, input),
    );
    stats.assert_no_crash();
    // Most generated machines are valid and run to an end of their own (not the transition cap).
    stats.assert_share(
        &["succeeded", "failed", "timed_out", "failed_runtime"],
        0.55,
    );
    stats.assert_share(&["succeeded"], 0.12);
    stats.assert_share(&["invalid"], 0.05);
}

#[test]
fn fuzz_asl_definition_text() {
    let text = prop_oneof![
        (g::asl_definition(), g::text_edits())
            .prop_map(|(d, e)| g::mutate_text(&d.to_string(), &e)),
        "\\PC{0,64}",
        (1usize..400).prop_map(|n| format!("{}1{}", "[".repeat(n * 10), "]".repeat(n * 10))),
    ];
    let stats = fuzz(
        "asl_definition_text",
        text,
        |src: &String| match StateMachine::from_json_str(src) {
            Ok(_) => Ok("valid"),
            Err(errs) => check_problems(&errs),
        },
    );
    stats.assert_no_crash();
    stats.assert_share(&["valid"], 0.15);
}

/// A Pass state whose parameter `v.$` is `expr`.
fn pass_with(expr: &str) -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": expr}, "End": true}}})
}

#[test]
fn fuzz_jsonpath() {
    let stats = fuzz(
        "jsonpath",
        (g::jsonpath(), g::execution_input()),
        |(path, input): &(String, Value)| run_machine(&pass_with(path), input),
    );
    stats.assert_no_crash();
    stats.assert_share(&["succeeded"], 0.3);
    stats.assert_share(&["invalid", "failed", "failed_runtime"], 0.05);
}

#[test]
fn fuzz_intrinsic_functions() {
    let stats = fuzz(
        "intrinsic_functions",
        (g::intrinsic(), g::execution_input()),
        |(expr, input): &(String, Value)| run_machine(&pass_with(expr), input),
    );
    stats.assert_no_crash();
    stats.assert_share(&["succeeded"], 0.05);
    stats.assert_share(&["invalid"], 0.05);
}

fn project_machine(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../statemachine")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

#[test]
fn fuzz_execution_inputs_of_the_project_state_machines() {
    let machines = [
        project_machine("training.asl.json"),
        project_machine("evaluation.asl.json"),
    ];
    for m in &machines {
        assert!(
            StateMachine::from_value(m).is_ok(),
            "the project's machine must validate"
        );
    }
    let input = prop_oneof![
        3 => g::pipeline_input(),
        1 => g::execution_input(),
    ];
    let invoker = Arc::new(ProjectInvoker {
        world: mdlc_core::memory::InMemoryWorld::new(),
    });
    let stats = fuzz(
        "execution_inputs",
        (0usize..2, input),
        |(which, input): &(usize, Value)| {
            let def = &machines[*which % 2];
            let sm = StateMachine::from_value(def).map_err(|e| e.to_string())?;
            let opts = ExecutionOptions {
                invoker: invoker.clone(),
                ..options()
            };
            let exec = mdlc_fuzz::block_on(sm.execute(input.clone(), opts));
            // The handlers' errors are stable names such as InvalidInput.
            let outcome = check_execution_with(def, &exec, |e| {
                e.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            })?;
            Ok(match exec.error.as_deref() {
                Some("InvalidInput") => "input_refused",
                _ if outcome == "failed" => "failed_after_initialize",
                _ => outcome,
            })
        },
    );
    stats.assert_no_crash();
    // Valid inputs get past Initialize (to the echoing SageMaker and Lambda tasks, where the
    // echoed results end most runs), invalid ones end in InvalidInput.
    stats.assert_share(
        &["succeeded", "failed_after_initialize", "failed_runtime"],
        0.1,
    );
    stats.assert_share(&["input_refused"], 0.15);
}
