//! The SQS stand-in through a local execution (what `mdlc execute --local` and `mdlc serve` run):
//! `arn:aws:states:::sqs:sendMessage` Tasks write to the state directory's queues, and SQS's
//! refusals are Task failures that `Catch` matches by Step Functions' error name.

use mdlc_asl::{ExecutionStatus, StateMachine};
use mdlc_local::sqs::{SqsQueues, md5_hex};
use mdlc_local::{LocalCloud, LocalCloudConfig};
use serde_json::json;

const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/mdlc-local-jobs";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_execution_sends_to_the_state_directorys_queue_and_catches_sqs_errors() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join(".mdlc");
    let cloud = LocalCloud::new(LocalCloudConfig::new(&state_dir)).expect("local cloud");
    let machine = StateMachine::from_value(&json!({
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": QUEUE, "MessageBody.$": "$.job"},
                "ResultPath": "$.sent", "Next": "SendNowhere"
            },
            "SendNowhere": {
                "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": "not a queue", "MessageBody": "lost"},
                "Catch": [{"ErrorEquals": ["SQS.AmazonSQSException"], "ResultPath": "$.refused", "Next": "Done"}],
                "End": true
            },
            "Done": {"Type": "Pass", "End": true}
        }
    }))
    .expect("definition");
    let execution = cloud
        .execute(
            "jobs",
            &machine,
            "e1",
            json!({"job": {"id": 7, "kind": "train"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        execution.cause
    );
    let output = execution.output.expect("output");
    let body = r#"{"id":7,"kind":"train"}"#;
    let sent = &output["sent"];
    assert_eq!(sent["MD5OfMessageBody"], md5_hex(body), "{output}");
    assert_eq!(sent.as_object().unwrap().len(), 2, "{output}");
    assert!(
        output["refused"]["Cause"]
            .as_str()
            .unwrap()
            .contains("Error Code: AWS.SimpleQueueService.NonExistentQueue;"),
        "{output}"
    );
    let queues = SqsQueues::new(state_dir.join("sqs"));
    let messages = queues.messages(QUEUE).unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["Body"], body);
    assert_eq!(messages[0]["MessageId"], sent["MessageId"]);
    assert!(
        state_dir
            .join("sqs/123456789012/mdlc-local-jobs.json")
            .is_file()
    );
}
