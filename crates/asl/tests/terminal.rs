//! Failures that end the execution whatever the state tolerates: a Distributed Map that tolerates
//! every failed item still ends on a terminal one (here the data limit).

use mdlc_asl::{ExecutionOptions, ExecutionStatus, StateMachine};
use serde_json::json;

#[tokio::test]
async fn given_a_tolerant_map_when_an_item_exceeds_the_data_limit_then_the_execution_fails() {
    let sm = StateMachine::from_value(&json!({"StartAt":"M","States":{"M":{"Type":"Map",
        "ToleratedFailurePercentage":100,"End":true,
        "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
            "StartAt":"Double","States":{"Double":{"Type":"Pass",
                "Parameters":{"a.$":"$","b.$":"$"},"End":true}}}}}}))
    .unwrap_or_else(|e| panic!("{e}"));
    // One item of 150 KiB: the item fits, its doubled output (300 KiB) does not.
    let item = "x".repeat(150 * 1024);
    let e = sm
        .execute(json!([item, "small"]), ExecutionOptions::default())
        .await;
    assert_eq!(
        e.status,
        ExecutionStatus::Failed,
        "{:?}",
        e.output.map(|_| "an output")
    );
    assert_eq!(e.error.as_deref(), Some("States.DataLimitExceeded"));
}

#[tokio::test]
async fn given_a_catcher_naming_data_limit_exceeded_then_the_terminal_error_still_ends_the_execution()
 {
    let sm = StateMachine::from_value(&json!({"StartAt":"Double","States":{
        "Double":{"Type":"Pass","Parameters":{"a.$":"$.s","b.$":"$.s"},"Next":"Done"},
        "Done":{"Type":"Succeed"}}}))
    .unwrap_or_else(|e| panic!("{e}"));
    let caught = StateMachine::from_value(&json!({"StartAt":"Double","States":{
        "Double":{"Type":"Parallel","Branches":[{"StartAt":"P","States":{"P":{"Type":"Pass",
            "Parameters":{"a.$":"$.s","b.$":"$.s"},"End":true}}}],
            "Retry":[{"ErrorEquals":["States.DataLimitExceeded"],"MaxAttempts":2}],
            "Catch":[{"ErrorEquals":["States.DataLimitExceeded"],"Next":"Done"}],"End":true},
        "Done":{"Type":"Succeed"}}}))
    .unwrap_or_else(|e| panic!("{e}"));
    let input = json!({"s": "x".repeat(150 * 1024)});
    for machine in [sm, caught] {
        let e = machine
            .execute(input.clone(), ExecutionOptions::default())
            .await;
        assert_eq!(e.status, ExecutionStatus::Failed);
        assert_eq!(e.error.as_deref(), Some("States.DataLimitExceeded"));
    }
}
