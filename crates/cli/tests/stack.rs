//! The operating commands on a deployed stack (`--stack NAME`), against moto's server: a
//! CloudFormation stack holding the registry table and two state machines, with the outputs of
//! infra/template.yaml; the `mdlc` binary finds them with DescribeStacks and uses the standard
//! AWS configuration (here `AWS_ENDPOINT_URL`, `AWS_REGION` and moto's test administrator keys).
//!
//! moto's shared server (scripts/with-servers.sh) does not execute state machines: an execution
//! stays RUNNING until stopped, and GetExecutionHistory answers moto's fixed history. So these
//! tests start executions, list and show them, and follow one until the test stops it (ABORTED,
//! exit 1). Every test is `#[ignore = "needs moto ..."]`: skipped by a plain run, failing (never
//! passing) without the server when run on purpose (docs/ARCHITECTURE.md, "Tests").

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use common::{assert_exit, output_of, tempdir, version};
use mdlc_aws::moto::{REGION, moto_admin_credentials, moto_endpoint, sdk_loader_as, unique};
use mdlc_core::ports::RegistryWrite;
use serde_json::{Value, json};

/// moto's test administrator (created by scripts/with-servers.sh, IAM enforced).
fn admin() -> Credentials {
    moto_admin_credentials().unwrap_or_else(|| {
        panic!("MDLC_TEST_MOTO_ACCESS_KEY_ID/MDLC_TEST_MOTO_SECRET_ACCESS_KEY are not set: run under scripts/with-servers.sh")
    })
}

async fn sdk() -> aws_config::SdkConfig {
    sdk_loader_as(admin())
        .endpoint_url(moto_endpoint())
        .load()
        .await
}

/// `mdlc` with the standard AWS variables pointing at moto (and no profile files).
fn mdlc_command(args: &[&str], home: &Path) -> Command {
    let admin = admin();
    let mut cmd = common::mdlc_command(args);
    cmd.env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", admin.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", admin.secret_access_key())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    cmd
}

#[track_caller]
fn mdlc_exits(args: &[&str], home: &Path, code: i32) -> Value {
    let out = output_of(&mut mdlc_command(args, home));
    check_exit(args, &out, code)
}

#[track_caller]
fn check_exit(args: &[&str], out: &Output, code: i32) -> Value {
    assert_exit(args, out, code);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout of mdlc {args:?} is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The stack: the registry table and two state machines, with infra/template.yaml's output
/// names. Returns (stack name, table name, training state machine ARN).
async fn create_stack(sdk: &aws_config::SdkConfig) -> (String, String, String) {
    let stack = unique("mdlc-cli");
    let table = unique("mdlc-cli-registry");
    let machine = |name: String| {
        json!({"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": name,
            "DefinitionString": json!({"StartAt": "Initialize", "States": {
                "Initialize": {"Type": "Pass", "End": true}}}).to_string(),
            "RoleArn": "arn:aws:iam::123456789012:role/mdlc-cli-test-states"
        }})
    };
    let template = json!({
        "Resources": {
            "RegistryTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "TableName": table,
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"}],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                "BillingMode": "PAY_PER_REQUEST"}},
            "TrainingStateMachine": machine(format!("{stack}-training")),
            "EvaluationStateMachine": machine(format!("{stack}-evaluation"))
        },
        "Outputs": {
            "RegistryTableName": {"Value": {"Ref": "RegistryTable"}},
            "TrainingStateMachineArn": {"Value": {"Ref": "TrainingStateMachine"}},
            "EvaluationStateMachineArn": {"Value": {"Ref": "EvaluationStateMachine"}}
        }
    });
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    cfn.create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateStack {stack}: {e:?}"));
    let described = cfn
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeStacks {stack}: {e:?}"));
    let outputs = described
        .stacks()
        .first()
        .map(|s| s.outputs().to_vec())
        .unwrap_or_default();
    let training = outputs
        .iter()
        .find(|o| o.output_key() == Some("TrainingStateMachineArn"))
        .and_then(|o| o.output_value())
        .unwrap_or_else(|| panic!("stack {stack} has no TrainingStateMachineArn: {outputs:?}"))
        .to_string();
    (stack, table, training)
}

#[tokio::test]
#[ignore = "needs moto: run under scripts/with-servers.sh (make test)"]
async fn a_stack_s_flows_start_list_show_and_end_through_the_cli() {
    let sdk = sdk().await;
    let (stack, table, training_arn) = create_stack(&sdk).await;
    let home = tempdir();
    let h = home.path();
    let model = unique("model");
    let input = h.join("input.json");
    std::fs::write(&input, json!({"modelName": model}).to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let input = input.display().to_string();
    let s = stack.as_str();

    // --no-wait: StartExecution, printed RUNNING, exit 0.
    let started = mdlc_exits(
        &[
            "train",
            "--stack",
            s,
            "--input",
            &input,
            "--name",
            "run-1",
            "--no-wait",
            "--json",
        ],
        h,
        0,
    );
    let run_1 = training_arn.replace(":stateMachine:", ":execution:") + ":run-1";
    assert_eq!(started["executionArn"], run_1.as_str(), "{started:#}");
    assert_eq!(started["status"], "RUNNING");
    assert_eq!(started["stateMachine"], "training");

    // The name again with another input: ExecutionAlreadyExists, exit 3.
    let other = h.join("other.json");
    std::fs::write(&other, json!({"modelName": "other"}).to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let taken = mdlc_exits(
        &[
            "train",
            "--stack",
            s,
            "--input",
            &other.display().to_string(),
            "--name",
            "run-1",
            "--no-wait",
            "--json",
        ],
        h,
        3,
    );
    assert_eq!(taken["error"], "ExecutionAlreadyExists");

    // list and show (by name and by ARN): status, and the path from GetExecutionHistory
    // (moto's fixed history of a non-executing server has one Pass state, "A State").
    let list = mdlc_exits(&["executions", "list", "--stack", s, "--json"], h, 0);
    let listed: Vec<(&str, &str, &str)> = list["executions"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    (
                        e["name"].as_str().unwrap_or(""),
                        e["stateMachine"].as_str().unwrap_or(""),
                        e["status"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(listed, vec![("run-1", "training", "RUNNING")]);
    let shown = mdlc_exits(
        &["executions", "show", "run-1", "--stack", s, "--json"],
        h,
        0,
    );
    assert_eq!(shown["executionArn"], run_1.as_str());
    assert_eq!(shown["status"], "RUNNING");
    assert_eq!(shown["path"], json!(["A State"]), "{shown:#}");
    assert_eq!(shown["states"][0]["visits"], 1);
    let by_arn = mdlc_exits(
        &["executions", "show", &run_1, "--stack", s, "--json"],
        h,
        0,
    );
    assert_eq!(by_arn["name"], "run-1");
    let missing = mdlc_exits(
        &["executions", "show", "no-such-run", "--stack", s, "--json"],
        h,
        4,
    );
    assert_eq!(missing["error"], "NotFound");

    // Waiting: the CLI follows run-2 until it ends; the test stops it (ABORTED → exit 1).
    let args = [
        "train",
        "--stack",
        s,
        "--input",
        &input,
        "--name",
        "run-2",
        "--poll-seconds",
        "1",
        "--json",
    ];
    let child = mdlc_command(&args, h)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run mdlc: {e}"));
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let run_2 = training_arn.replace(":stateMachine:", ":execution:") + ":run-2";
    let deadline = Instant::now() + Duration::from_secs(60);
    while sfn
        .describe_execution()
        .execution_arn(&run_2)
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "mdlc train never started run-2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sfn.stop_execution()
        .execution_arn(&run_2)
        .send()
        .await
        .unwrap_or_else(|e| panic!("StopExecution: {e:?}"));
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let ended = check_exit(&args, &out, 1);
    assert_eq!(ended["status"], "ABORTED", "{ended:#}");
    assert!(ended["stoppedAt"].is_string(), "{ended:#}");

    // report: the ended execution of the model and its versions from the stack's table.
    let registry = mdlc_aws::DynamoDbRegistry::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    registry
        .register(version(&model, 1))
        .await
        .unwrap_or_else(|e| panic!("register: {e}"));
    let out_file = h.join("report.html").display().to_string();
    let report = mdlc_exits(
        &[
            "report", "--stack", s, "--model", &model, "--out", &out_file, "--json",
        ],
        h,
        0,
    );
    assert_eq!(report["executions"], 1, "only run-2 has ended: {report:#}");
    assert_eq!(report["versions"], 1);
    let html = std::fs::read_to_string(&out_file).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("run-2") && html.contains(&format!("stack {stack}")));

    // A stack that does not exist: exit 4.
    let none = mdlc_exits(
        &[
            "executions",
            "list",
            "--stack",
            "no-such-stack-mdlc",
            "--json",
        ],
        h,
        4,
    );
    assert_eq!(none["error"], "NotFound");
}

#[tokio::test]
#[ignore = "needs moto: run under scripts/with-servers.sh (make test)"]
async fn registry_operations_on_a_stack_record_the_sts_caller_and_exit_with_meaningful_codes() {
    let sdk = sdk().await;
    let (stack, table, _) = create_stack(&sdk).await;
    let registry = mdlc_aws::DynamoDbRegistry::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let model = unique("model");
    for n in 1..=3 {
        registry
            .register(version(&model, n))
            .await
            .unwrap_or_else(|e| panic!("register {n}: {e}"));
    }
    let home = tempdir();
    let h = home.path();
    let s = stack.as_str();
    let m = model.as_str();
    let op = |args: &[&str], code: i32| {
        let mut all = vec!["registry"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--stack", s, "--json"]);
        mdlc_exits(&all, h, code)
    };

    let listed = op(&["list", m], 0);
    assert_eq!(listed["revision"], 0);
    assert_eq!(listed["versions"].as_array().map(Vec::len), Some(3));

    let approved = op(&["approve", m, "2", "--reason", "metrics ok"], 0);
    let actor = approved["changes"][0]["actor"].as_str().unwrap_or_default();
    assert_eq!(
        actor, "arn:aws:iam::123456789012:user/mdlc-test-admin",
        "the STS caller (GetCallerIdentity) is recorded"
    );
    assert_eq!(approved["changes"][0]["to"], "Approved");

    let again = op(&["approve", m, "2", "--reason", "again"], 3);
    assert_eq!(again["error"], "InvalidTransition");
    assert!(
        again["message"]
            .as_str()
            .unwrap_or_default()
            .contains("it is Approved"),
        "{again:#}"
    );
    let stale = op(
        &[
            "retire",
            m,
            "3",
            "--reason",
            "old",
            "--expected-revision",
            "0",
        ],
        3,
    );
    assert_eq!(stale["error"], "RegistryConflict");

    let rolled = op(&["rollback", m, "2", "--reason", "v3 regressed"], 0);
    assert_eq!(rolled["revision"], 2);
    assert_eq!(rolled["changes"][1]["version"], 3);
    assert_eq!(rolled["changes"][1]["to"], "Retired");

    let shown = op(&["show", m, "2"], 0);
    let actions: Vec<&str> = shown["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|c| c["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, vec!["Approve", "RollBack"]);
    assert_eq!(op(&["show", m, "9"], 4)["error"], "NotFound");
    let actor_refused = op(&["retire", m, "1", "--reason", "x", "--actor", "bob"], 2);
    assert!(
        actor_refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("STS identity"),
        "{actor_refused:#}"
    );
}
