//! Deployment rules of infra/template.yaml that no linter knows, read from the template itself with
//! its conditions resolved for the parameters a deployer gives:
//! - a fresh stack never starts evaluations of a model that does not exist (the schedule is
//!   DISABLED and sends no input until EvaluationModelName is set);
//! - track-experiment joins a VPC only when both FunctionSubnetIds and FunctionSecurityGroupIds
//!   are given, and only then may its role manage network interfaces;
//! - the SageMaker execution role may create the network interfaces of VPC jobs (FileSystem
//!   channels need a VpcConfig).

#[path = "common/template.rs"]
mod template;

use serde_json::{Value as Json, json};
use template::Stack;

fn stack(parameters: &[(&str, &str)]) -> Stack {
    Stack::load(parameters, &[]).unwrap_or_else(|e| panic!("infra/template.yaml: {e}"))
}

fn property(stack: &Stack, logical: &str, name: &str) -> Option<Json> {
    stack
        .property(logical, name)
        .unwrap_or_else(|e| panic!("{logical}.{name}: {e}"))
}

/// Every action the role `logical` allows, over all its inline policies.
fn allowed_actions(stack: &Stack, logical: &str) -> Vec<String> {
    let policies = stack
        .role_policies(logical)
        .unwrap_or_else(|e| panic!("{logical}: {e}"));
    let mut actions = Vec::new();
    for (_, document) in policies {
        for statement in document["Statement"].as_array().into_iter().flatten() {
            assert_eq!(statement["Effect"], "Allow", "{logical}: {statement}");
            match &statement["Action"] {
                Json::String(a) => actions.push(a.clone()),
                Json::Array(list) => actions.extend(
                    list.iter()
                        .map(|a| a.as_str().expect("action is a string").to_string()),
                ),
                other => panic!("{logical}: Action {other}"),
            }
        }
    }
    actions
}

const LAMBDA_VPC_ACTIONS: [&str; 6] = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
];

#[test]
fn a_fresh_stack_creates_the_evaluation_schedule_disabled_and_without_input() {
    let fresh = stack(&[]);
    assert_eq!(
        property(&fresh, "EvaluationSchedule", "State"),
        Some(json!("DISABLED"))
    );
    let target = property(&fresh, "EvaluationSchedule", "Target").expect("a target");
    assert_eq!(target.get("Input"), None, "no placeholder input: {target}");
}

#[test]
fn naming_a_model_enables_the_schedule_with_that_model_as_input() {
    let named = stack(&[("EvaluationModelName", "churn")]);
    assert_eq!(
        property(&named, "EvaluationSchedule", "State"),
        Some(json!("ENABLED"))
    );
    let target = property(&named, "EvaluationSchedule", "Target").expect("a target");
    let input: Json = serde_json::from_str(target["Input"].as_str().expect("input text"))
        .expect("the input is JSON");
    assert_eq!(input, json!({"modelName": "churn"}));
}

#[test]
fn a_named_model_with_the_schedule_state_disabled_stays_disabled() {
    let paused = stack(&[
        ("EvaluationModelName", "churn"),
        ("EvaluationScheduleState", "DISABLED"),
    ]);
    assert_eq!(
        property(&paused, "EvaluationSchedule", "State"),
        Some(json!("DISABLED"))
    );
}

#[test]
fn an_explicit_evaluation_input_is_sent_as_given() {
    let given = r#"{"modelName": "churn", "evaluation": {"date": "2026-12-01"}}"#;
    let custom = stack(&[("EvaluationModelName", "churn"), ("EvaluationInput", given)]);
    let target = property(&custom, "EvaluationSchedule", "Target").expect("a target");
    assert_eq!(target["Input"], json!(given));
}

#[test]
fn without_vpc_parameters_track_experiment_has_no_vpc_and_no_network_interface_rights() {
    let plain = stack(&[]);
    assert_eq!(
        property(&plain, "TrackExperimentFunction", "VpcConfig"),
        None
    );
    let actions = allowed_actions(&plain, "TrackExperimentRole");
    for action in LAMBDA_VPC_ACTIONS {
        assert!(
            !actions.iter().any(|a| a == action),
            "{action} granted without a VPC"
        );
    }
}

#[test]
fn subnets_without_security_groups_do_not_put_track_experiment_in_a_vpc() {
    let half = stack(&[("FunctionSubnetIds", "subnet-0abc")]);
    assert_eq!(
        property(&half, "TrackExperimentFunction", "VpcConfig"),
        None
    );
}

#[test]
fn with_vpc_parameters_track_experiment_joins_the_vpc_with_the_lambda_vpc_actions() {
    let private = stack(&[
        ("FunctionSubnetIds", "subnet-0abc,subnet-0def"),
        ("FunctionSecurityGroupIds", "sg-0123"),
    ]);
    assert_eq!(
        property(&private, "TrackExperimentFunction", "VpcConfig"),
        Some(json!({
            "SubnetIds": ["subnet-0abc", "subnet-0def"],
            "SecurityGroupIds": ["sg-0123"]
        }))
    );
    let actions = allowed_actions(&private, "TrackExperimentRole");
    for action in LAMBDA_VPC_ACTIONS {
        assert!(actions.iter().any(|a| a == action), "{action} missing");
    }
}

#[test]
fn the_sagemaker_execution_role_may_manage_the_network_interfaces_of_vpc_jobs() {
    // "Give SageMaker AI training jobs access to resources in your Amazon VPC": the permissions a
    // job with a VpcConfig needs on its execution role.
    let actions = allowed_actions(&stack(&[]), "SageMakerExecutionRole");
    for action in [
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} missing");
    }
}
