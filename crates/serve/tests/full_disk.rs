//! `mdlc serve` on a full disk: a StartExecution whose record cannot be written is answered with
//! a 500 `InternalFailure` naming the execution, its file and the OS error, leaves no execution
//! (listed or on disk) and no temp file, and succeeds once space is freed.

mod support;

use mdlc_trainer::tmpfs::Tmpfs;
use serde_json::json;
use support::{Options, TestServer, create, until_done};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: mounts a tmpfs"]
async fn a_start_whose_record_cannot_be_written_is_a_named_internal_failure_and_leaves_nothing() {
    let fs = Tmpfs::mount(1 << 20);
    let server = TestServer::start(fs.path(), Options::default());
    let client = server.client().await;
    let machine = create(
        &client,
        "full",
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    )
    .await;
    let machine_file = fs.path().join("serve/state-machines/full.json");
    let machine_before = std::fs::read(&machine_file).unwrap();
    fs.fill(0);

    let start = json!({"stateMachineArn": machine, "name": "e1", "input": "{}"}).to_string();
    let (status, body) = server
        .raw(Some("AWSStepFunctions.StartExecution"), &start)
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["__type"], "com.amazon.coral.service#InternalFailure");
    let message = body["message"].as_str().unwrap();
    let arn = machine.replace(":stateMachine:", ":execution:") + ":e1";
    assert!(
        message.starts_with(&format!("could not write execution {arn} to "))
            && message.contains("serve/executions/full/e1.json: writing ")
            && message.ends_with("No space left on device (os error 28)"),
        "{message}"
    );
    // no execution: not listed, no record, no temp file; the machine's record is whole
    let listed = client
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    assert!(listed.executions().is_empty(), "{listed:?}");
    assert_eq!(fs.files(), ["serve/state-machines/full.json"]);
    assert_eq!(std::fs::read(&machine_file).unwrap(), machine_before);

    fs.free();
    let (status, body) = server
        .raw(Some("AWSStepFunctions.StartExecution"), &start)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["executionArn"], arn.as_str());
    let done = until_done(&client, &arn).await;
    assert_eq!(done.status().as_str(), "SUCCEEDED");
    assert_eq!(
        fs.files(),
        [
            "serve/executions/full/e1.json",
            "serve/state-machines/full.json"
        ]
    );
    assert_eq!(std::fs::read(&machine_file).unwrap(), machine_before);
}
