//! Each state machine's role grants what AWS documents for every Task integration it uses.
//!
//! The test reads infra/template.yaml (the state machines, their DefinitionSubstitutions and their
//! roles' inline policies, with every `!Sub`/`!GetAtt`/`!Ref`/`!If` resolved) and
//! statemachine/*.asl.json, finds every Task state (also inside Parallel and Map), derives from
//! [`documented`] the (action, resource, condition) requests Step Functions makes for that
//! integration with the Task's own values (function ARN, role ARN, state machine ARN; a job
//! name as initialize derives it where the name comes from the input), and has IAM's evaluation
//! (`@cloud-copilot/iam-simulate`) decide each against the role's policies. A request the role
//! does not allow fails the test, naming the action, resource and state.

#[path = "common/iam.rs"]
mod iam;
#[path = "common/template.rs"]
mod template;

use std::collections::BTreeSet;

use iam::Request;
use serde_json::Value as Json;
use template::{ACCOUNT, PARTITION, REGION, Stack, repo_root};

const SAGEMAKER: &str = "sagemaker.amazonaws.com";

fn arn(service: &str, rest: &str) -> String {
    format!("arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{rest}")
}

/// The EventBridge managed rule of a `.sync` integration: PutTargets, PutRule, DescribeRule.
fn managed_rule(rule: &str) -> Vec<Request> {
    let rule = arn("events", &format!("rule/{rule}"));
    ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
        .iter()
        .map(|a| Request::new(a, &rule))
        .collect()
}

/// A SageMaker `.sync` job integration: Create/Describe/Stop (and `extra`) on the job,
/// ListTags (granted on "*" by the docs; checked on the job), PassRole of `role` to SageMaker,
/// the managed rule.
fn sagemaker_job(
    kind: &str,
    verb: &str,
    job: &str,
    extra: &[&str],
    role: &str,
    rule: &str,
) -> Vec<Request> {
    let job_arn = arn("sagemaker", &format!("{kind}/{job}"));
    let mut out: Vec<Request> = ["Create", "Describe", "Stop"]
        .iter()
        .map(|op| format!("sagemaker:{op}{verb}"))
        .chain(extra.iter().map(|a| a.to_string()))
        .map(|a| Request::new(&a, &job_arn))
        .collect();
    out.push(Request::new("sagemaker:ListTags", &job_arn));
    out.push(Request::new("iam:PassRole", role).with("iam:PassedToService", SAGEMAKER));
    out.extend(managed_rule(rule));
    out
}

/// What the Task's values are, where the ASL fixes them.
struct Task<'a> {
    state: &'a str,
    resource: &'a str,
    args: &'a Json,
}

impl Task<'_> {
    /// A fixed (substituted) argument, e.g. FunctionName or RoleArn.
    fn fixed(&self, name: &str) -> Option<&str> {
        self.args.get(name).and_then(Json::as_str)
    }
}

/// The requests AWS documents for the integration of `task`; `Err` for an integration the table
/// does not know (add it, with its documentation page).
///
/// Sources (Step Functions developer guide, "IAM policies for integrated services"):
/// - lambda:invoke — "IAM policies for AWS Lambda" (lambda-iam.html): lambda:InvokeFunction on
///   each function the Tasks name (the flows name unqualified ARNs: no version, no alias).
/// - sagemaker:create{Training,HyperParameterTuning,Processing,Transform}Job.sync and
///   sagemaker:createModel — "IAM policies for Amazon SageMaker AI" (sagemaker-iam.html), Run a
///   Job (.sync): Create/Describe/Stop (tuning also ListTrainingJobsForHyperParameterTuningJob) on
///   the job, sagemaker:ListTags on "*", iam:PassRole with iam:PassedToService
///   sagemaker.amazonaws.com, events:PutTargets/PutRule/DescribeRule on the managed rule
///   StepFunctionsGetEventsForSageMaker{Training,Tuning,Processing,Transform}JobsRule.
/// - states:startExecution.sync:2 — "IAM policies for AWS Step Functions"
///   (stepfunctions-iam.html), Run a Job (.sync): states:StartExecution on the state machine,
///   states:DescribeExecution and states:StopExecution on its executions, the managed rule
///   StepFunctionsGetEventsForStepFunctionsExecutionRule.
/// - events:putEvents — "IAM policies for Amazon EventBridge" (eventbridge-iam.html):
///   events:PutEvents on the bus of each entry (`arn:aws:events:<region>:<account>:event-bus/<name>`,
///   the account's `default` bus when the entry names none).
fn documented(task: &Task, stack: &Stack) -> Result<Vec<Request>, String> {
    let sagemaker_role = stack.get_att("SageMakerExecutionRole", "Arn")?;
    let role = task.fixed("RoleArn").unwrap_or(&sagemaker_role).to_string();
    // Job names come from the input (initialize derives them, the ASL appends the retry count).
    let job = "churn-2024-06-01-r1";
    Ok(match task.resource {
        "arn:aws:states:::lambda:invoke" => {
            let function = task.fixed("FunctionName").ok_or_else(|| {
                format!("{}: lambda:invoke without a fixed FunctionName", task.state)
            })?;
            vec![Request::new("lambda:InvokeFunction", function)]
        }
        "arn:aws:states:::sagemaker:createTrainingJob.sync" => sagemaker_job(
            "training-job",
            "TrainingJob",
            &format!("{job}-t-0"),
            &[],
            &role,
            "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
        ),
        "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync" => sagemaker_job(
            "hyper-parameter-tuning-job",
            "HyperParameterTuningJob",
            &format!("{job}-h-0"),
            &["sagemaker:ListTrainingJobsForHyperParameterTuningJob"],
            &role,
            "StepFunctionsGetEventsForSageMakerTuningJobsRule",
        ),
        "arn:aws:states:::sagemaker:createProcessingJob.sync" => sagemaker_job(
            "processing-job",
            "ProcessingJob",
            &format!("{job}-p-0"),
            &[],
            &role,
            "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
        ),
        "arn:aws:states:::sagemaker:createTransformJob.sync" => sagemaker_job(
            "transform-job",
            "TransformJob",
            &format!("{job}-x-0"),
            &[],
            &role,
            "StepFunctionsGetEventsForSageMakerTransformJobsRule",
        ),
        "arn:aws:states:::sagemaker:createModel" => {
            let model = arn("sagemaker", &format!("model/{job}"));
            let role = task
                .fixed("ExecutionRoleArn")
                .unwrap_or(&sagemaker_role)
                .to_string();
            vec![
                Request::new("sagemaker:CreateModel", &model),
                Request::new("sagemaker:ListTags", &model),
                Request::new("iam:PassRole", &role).with("iam:PassedToService", SAGEMAKER),
            ]
        }
        "arn:aws:states:::states:startExecution.sync:2" => {
            let machine = task.fixed("StateMachineArn").ok_or_else(|| {
                format!(
                    "{}: startExecution without a fixed StateMachineArn",
                    task.state
                )
            })?;
            let name = machine
                .rsplit_once(":stateMachine:")
                .map(|(_, n)| n)
                .ok_or_else(|| format!("{}: {machine} is not a state machine ARN", task.state))?;
            let execution = arn("states", &format!("execution:{name}:retrain-{job}"));
            let mut out = vec![
                Request::new("states:StartExecution", machine),
                Request::new("states:DescribeExecution", &execution),
                Request::new("states:StopExecution", &execution),
            ];
            out.extend(managed_rule(
                "StepFunctionsGetEventsForStepFunctionsExecutionRule",
            ));
            out
        }
        "arn:aws:states:::events:putEvents" => {
            let entries = task
                .args
                .get("Entries")
                .and_then(Json::as_array)
                .ok_or_else(|| format!("{}: putEvents without fixed Entries", task.state))?;
            entries
                .iter()
                .map(|entry| {
                    let bus = entry
                        .get("EventBusName")
                        .map(|b| {
                            b.as_str()
                                .ok_or(format!("{}: EventBusName is not fixed", task.state))
                        })
                        .transpose()?
                        .unwrap_or("default");
                    Ok(Request::new(
                        "events:PutEvents",
                        &arn("events", &format!("event-bus/{bus}")),
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?
        }
        other => {
            return Err(format!(
                "{}: no documented IAM policy for the integration {other} in this test's table; add it with its source",
                task.state
            ));
        }
    })
}

/// Every Task state of a definition (also in Parallel branches and Map processors).
fn tasks(states: &Json, out: &mut Vec<(String, Json)>) {
    let Some(states) = states.as_object() else {
        return;
    };
    for (name, state) in states {
        if state["Type"] == "Task" {
            out.push((name.clone(), state.clone()));
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            tasks(&branch["States"], out);
        }
        for key in ["Iterator", "ItemProcessor"] {
            tasks(&state[key]["States"], out);
        }
    }
}

/// The definition of the state machine `logical` with its DefinitionSubstitutions applied.
fn definition(stack: &Stack, logical: &str) -> Json {
    let uri = stack
        .property(logical, "DefinitionUri")
        .expect("DefinitionUri")
        .and_then(|u| u.as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("{logical}: DefinitionUri must be a file"));
    let path = repo_root().join("infra").join(uri);
    let mut text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let substitutions = stack
        .property(logical, "DefinitionSubstitutions")
        .expect("DefinitionSubstitutions")
        .unwrap_or_default();
    for (name, value) in substitutions.as_object().into_iter().flatten() {
        let value = value
            .as_str()
            .unwrap_or_else(|| panic!("{logical}: {name} is not a string"));
        text = text.replace(&format!("${{{name}}}"), value);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The logical id of the role `!GetAtt <Role>.Arn` of a state machine.
fn role_of(stack: &Stack, logical: &str) -> String {
    let arn = stack
        .property(logical, "Role")
        .expect("Role")
        .and_then(|r| r.as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("{logical} has no Role"));
    let name = arn.rsplit('/').next().expect("role name");
    stack
        .resources_of_type("AWS::IAM::Role")
        .expect("roles")
        .into_iter()
        .find(|r| {
            stack
                .get_att(r, "Arn")
                .is_ok_and(|a| a.ends_with(&format!("/{name}")))
        })
        .unwrap_or_else(|| panic!("{logical}: its Role {arn} is not a role of the template"))
}

#[test]
#[ignore = "needs node_modules (@cloud-copilot/iam-simulate): run with --run-ignored all (make test)"]
fn each_state_machine_role_grants_the_documented_actions_of_its_integrations() {
    // A custom bus, so that a grant on the default bus (or none) would be denied.
    let stack = Stack::load(&[("EventBusName", "mdlc-events")], &[]).expect("infra/template.yaml");
    let machines = stack
        .resources_of_type("AWS::Serverless::StateMachine")
        .expect("state machines");
    assert!(
        machines.len() >= 2,
        "expected the training and evaluation state machines: {machines:?}"
    );
    let mut problems = Vec::new();
    let mut integrations = BTreeSet::new();
    for machine in &machines {
        let role = role_of(&stack, machine);
        let policies = stack.role_policies(&role).expect("role policies");
        let principal = format!("arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{role}/states");
        let mut found = Vec::new();
        tasks(&definition(&stack, machine)["States"], &mut found);
        assert!(!found.is_empty(), "{machine}: no Task state");
        for (state, body) in &found {
            let resource = body["Resource"].as_str().unwrap_or_default();
            integrations.insert(resource.to_string());
            let args = if body.get("Arguments").is_some() {
                &body["Arguments"]
            } else {
                &body["Parameters"]
            };
            let task = Task {
                state,
                resource,
                args,
            };
            match documented(&task, &stack) {
                Err(e) => problems.push(format!("{machine} ({role}): {e}")),
                Ok(requests) => {
                    for denial in iam::denied(&principal, &policies, &requests) {
                        problems.push(format!(
                            "{machine} ({role}), state {state} ({resource}): {denial}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "state machine roles miss documented permissions:\n  {}",
        problems.join("\n  ")
    );
    // The flows use these integrations; each was checked above.
    for expected in [
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
        "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "arn:aws:states:::sagemaker:createTransformJob.sync",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::events:putEvents",
    ] {
        assert!(
            integrations.contains(expected),
            "{expected} not found in the flows: {integrations:?}"
        );
    }
}

#[test]
fn the_template_resolver_applies_sub_getatt_ref_and_if() {
    let stack = Stack::load(
        &[
            ("DataBucketName", "my-data"),
            ("EvaluationModelName", "churn"),
        ],
        &[("RegistryTable", "t1"), ("ArtifactBucket", "b1")],
    )
    .expect("template");
    assert_eq!(
        stack.get_att("RegistryTable", "Arn").unwrap(),
        "arn:aws:dynamodb:us-east-1:123456789012:table/t1"
    );
    assert_eq!(
        stack.get_att("InitializeFunction", "Arn").unwrap(),
        "arn:aws:lambda:us-east-1:123456789012:function:mdlc-initialize"
    );
    assert!(stack.condition("HasDataBucket").unwrap());
    assert!(!stack.condition("HasFunctionVpc").unwrap());
    assert!(stack.condition("EvaluationScheduleOn").unwrap());
    let statements: Vec<Json> = stack
        .role_policies("MonitorPerformanceRole")
        .unwrap()
        .into_iter()
        .flat_map(|(_, doc)| doc["Statement"].as_array().cloned().unwrap_or_default())
        .collect();
    let read = statements
        .iter()
        .find(|s| s["Sid"] == "ReadData")
        .expect("ReadData");
    assert_eq!(
        read["Resource"],
        serde_json::json!(["arn:aws:s3:::b1/*", "arn:aws:s3:::my-data/*"])
    );
    // Without a data bucket the !If drops the second resource (AWS::NoValue).
    let plain = Stack::load(&[], &[("ArtifactBucket", "b1")]).unwrap();
    let statements: Vec<Json> = plain
        .role_policies("MonitorPerformanceRole")
        .unwrap()
        .into_iter()
        .flat_map(|(_, doc)| doc["Statement"].as_array().cloned().unwrap_or_default())
        .collect();
    let read = statements
        .iter()
        .find(|s| s["Sid"] == "ReadData")
        .expect("ReadData");
    assert_eq!(read["Resource"], serde_json::json!(["arn:aws:s3:::b1/*"]));
    assert!(
        !plain.condition("EvaluationScheduleOn").unwrap(),
        "no model: the schedule is off"
    );
}
