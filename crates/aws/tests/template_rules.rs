//! Deployment rules of infra/template.yaml that no linter knows, read from the template itself with
//! its conditions resolved for the parameters a deployer gives:
//! - a fresh stack never starts evaluations of a model that does not exist (the schedule is
//!   DISABLED and sends no input until EvaluationModelName is set);
//! - track-experiment joins a VPC only when both FunctionSubnetIds and FunctionSecurityGroupIds
//!   are given, and only then may its role manage network interfaces;
//! - the SageMaker execution role may create the network interfaces of VPC jobs (FileSystem
//!   channels need a VpcConfig);
//! - only the publishers of docs/events.md may put events, and only on the stack's bus; the
//!   example approval rule exists only with an e-mail address and mails what the code publishes.

#[path = "common/template.rs"]
mod template;

use mdlc_core::contract::sample_version;
use mdlc_core::events;
use mdlc_core::registry::{ModelVersion, VersionStatus};
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

/// Every statement of the role `logical`.
fn statements(stack: &Stack, logical: &str) -> Vec<Json> {
    stack
        .role_policies(logical)
        .unwrap_or_else(|e| panic!("{logical}: {e}"))
        .into_iter()
        .flat_map(|(_, doc)| doc["Statement"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Whether a statement's actions include `action` (exactly, or by a wildcard).
fn grants(statement: &Json, action: &str) -> bool {
    let covers = |a: &str| {
        a == action || a == "*" || a.strip_suffix('*').is_some_and(|p| action.starts_with(p))
    };
    match &statement["Action"] {
        Json::String(a) => covers(a),
        Json::Array(list) => list.iter().filter_map(Json::as_str).any(covers),
        _ => false,
    }
}

/// Whether the resource `logical` is created with these parameters (its Condition, if any).
fn created(stack: &Stack, logical: &str) -> bool {
    let resource = stack.resource(logical).unwrap_or_else(|e| panic!("{e}"));
    match resource.get("Condition").and_then(|c| c.as_str()) {
        None => true,
        Some(name) => stack.condition(name).unwrap_or_else(|e| panic!("{e}")),
    }
}

const BUS: &str = "mdlc-events";
const BUS_ARN: &str = "arn:aws:events:us-east-1:123456789012:event-bus/mdlc-events";

#[test]
fn only_the_publishers_may_put_events_and_only_on_the_stack_bus() {
    let s = stack(&[("EventBusName", BUS)]);
    let mut publishers = Vec::new();
    for role in s.resources_of_type("AWS::IAM::Role").expect("roles") {
        for statement in statements(&s, &role) {
            if grants(&statement, "events:PutEvents") {
                assert_eq!(
                    statement["Action"],
                    json!("events:PutEvents"),
                    "{role}: {statement}"
                );
                assert_eq!(statement["Resource"], json!(BUS_ARN), "{role}: {statement}");
                assert_eq!(statement.get("Condition"), None, "{role}: {statement}");
                publishers.push(role.clone());
            }
        }
    }
    publishers.sort();
    assert_eq!(
        publishers,
        [
            "EvaluationStateMachineRole",
            "IsRetrainingNeededRole",
            "RegisterModelRole",
            "TrainingStateMachineRole"
        ]
    );
    for machine in ["TrainingStateMachine", "EvaluationStateMachine"] {
        let substitutions =
            property(&s, machine, "DefinitionSubstitutions").expect("substitutions");
        assert_eq!(substitutions["EventBusName"], json!(BUS), "{machine}");
    }
}

const APPROVAL_RESOURCES: [&str; 4] = [
    "ApprovalTopic",
    "ApprovalTopicPolicy",
    "ApprovalEmailSubscription",
    "ApprovalNotificationRule",
];

#[test]
fn without_an_approval_email_there_is_no_approval_rule_topic_or_subscription() {
    let fresh = stack(&[]);
    for logical in APPROVAL_RESOURCES {
        assert!(
            !created(&fresh, logical),
            "{logical} created without an e-mail"
        );
    }
    let mailed = stack(&[("ApprovalEmail", "ops@example.com")]);
    for logical in APPROVAL_RESOURCES {
        assert!(
            created(&mailed, logical),
            "{logical} missing with an e-mail"
        );
    }
}

/// EventBridge's matching for the patterns the template uses: a field's list of exact values
/// matches when the event's value is one of them; an object matches field by field.
fn matches(pattern: &Json, event: &Json) -> bool {
    pattern
        .as_object()
        .expect("a pattern is an object")
        .iter()
        .all(|(key, want)| {
            let got = &event[key.as_str()];
            match want {
                Json::Array(values) => values.contains(got),
                Json::Object(_) => matches(want, got),
                other => panic!("pattern value {other} is not a list or an object"),
            }
        })
}

fn registered(status: VersionStatus) -> Json {
    let event = events::version_registered(&ModelVersion {
        version: 4,
        status,
        record: sample_version("churn", "e4"),
    });
    json!({"source": event.source, "detail-type": event.detail_type, "detail": event.detail})
}

#[test]
fn the_approval_rule_mails_pending_registrations_of_the_stack_bus_through_its_topic() {
    let s = stack(&[("ApprovalEmail", "ops@example.com"), ("EventBusName", BUS)]);
    let rule = "ApprovalNotificationRule";
    assert_eq!(property(&s, rule, "EventBusName"), Some(json!(BUS)));
    assert_eq!(property(&s, rule, "State"), Some(json!("ENABLED")));
    let pattern = property(&s, rule, "EventPattern").expect("a pattern");
    assert!(matches(
        &pattern,
        &registered(VersionStatus::PendingApproval)
    ));
    assert!(!matches(&pattern, &registered(VersionStatus::Registered)));
    let targets = property(&s, rule, "Targets").expect("targets");
    let topic = targets[0]["Arn"].as_str().expect("the topic").to_string();
    assert_eq!(targets.as_array().map(Vec::len), Some(1));
    for path in [
        "$.detail.modelName",
        "$.detail.version",
        "$.detail.executionArn",
    ] {
        let paths = &targets[0]["InputTransformer"]["InputPathsMap"];
        assert!(
            paths.as_object().unwrap().values().any(|p| p == path),
            "{path} not in {paths}"
        );
    }
    assert_eq!(
        property(&s, "ApprovalEmailSubscription", "Endpoint"),
        Some(json!("ops@example.com"))
    );
    assert_eq!(
        property(&s, "ApprovalEmailSubscription", "TopicArn"),
        Some(json!(topic))
    );
    let policy = property(&s, "ApprovalTopicPolicy", "PolicyDocument").expect("a topic policy");
    let allow = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["Effect"] == "Allow")
        .expect("an Allow statement");
    assert_eq!(
        allow["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(allow["Action"], json!("sns:Publish"));
    assert_eq!(allow["Resource"], json!(topic));
    assert_eq!(
        allow["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!(s.get_att(rule, "Arn").unwrap()),
        "only this rule may publish"
    );
    assert_eq!(
        s.get_att(rule, "Arn").unwrap(),
        "arn:aws:events:us-east-1:123456789012:rule/mdlc-events/mdlc-ApprovalNotificationRule"
    );
}
