//! AWS's limits on one execution and the engine's own bounds: each case ends in the error AWS
//! gives (or, where AWS has no such case, a named error), never in a panic, a hang or unbounded
//! memory. Time is virtual, so a year passes at once.

use std::sync::Arc;

use async_trait::async_trait;
use mdlc_asl::limits::{HISTORY_LIMIT_CAUSE, MAX_HISTORY_EVENTS, MAX_PAYLOAD_BYTES};
use mdlc_asl::{
    Clock, Execution, ExecutionOptions, ExecutionStatus, StateMachine, TaskFailure, TaskInvoker,
    TaskRequest, VirtualClock,
};
use serde_json::{Value, json};

fn machine(def: Value) -> StateMachine {
    StateMachine::from_value(&def).unwrap_or_else(|e| panic!("invalid definition: {e}"))
}

/// The problems `mdlc validate` reports for a definition, as (pointer, message).
fn problems(def: Value) -> Vec<(String, String)> {
    match StateMachine::from_value(&def) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .iter()
            .map(|p| (p.pointer.clone(), p.message.clone()))
            .collect(),
    }
}

fn has_problem(def: Value, pointer: &str, message: &str) {
    let found = problems(def);
    assert!(
        found.iter().any(|(p, m)| p == pointer && m == message),
        "expected '{message}' at {pointer}, got {found:?}"
    );
}

async fn run(sm: &StateMachine, input: Value, opts: ExecutionOptions) -> Execution {
    sm.execute(input, opts).await
}

fn with_history() -> ExecutionOptions {
    ExecutionOptions {
        record_history: true,
        ..Default::default()
    }
}

const ONE_YEAR: i64 = 365 * 24 * 3600;

// ----------------------------------------------------------------------------- time

#[tokio::test]
async fn wait_seconds_path_of_1e13_times_out_after_one_year_without_a_panic() {
    let sm = machine(
        json!({"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}),
    );
    let clock = Arc::new(VirtualClock::new());
    let t0 = clock.now();
    let opts = ExecutionOptions {
        clock: clock.clone(),
        ..Default::default()
    };
    let exec = run(&sm, json!({"s": 1e13}), opts).await;
    assert_eq!(exec.status, ExecutionStatus::TimedOut);
    assert_eq!(exec.error.as_deref(), Some("States.Timeout"));
    let waited = (clock.now() - t0).num_seconds();
    assert!(
        (ONE_YEAR..=ONE_YEAR + 1).contains(&waited),
        "the clock moved {waited} s, expected one year"
    );
}

#[tokio::test]
async fn wait_seconds_path_beyond_a_date_times_out_after_one_year() {
    let sm = machine(
        json!({"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}),
    );
    let exec = run(&sm, json!({"s": i64::MAX}), ExecutionOptions::default()).await;
    assert_eq!(exec.status, ExecutionStatus::TimedOut);
    assert_eq!(exec.error.as_deref(), Some("States.Timeout"));
}

/// A Wait until `days` days after a fixed start, on a virtual clock there.
async fn wait_days_ahead(days: i64) -> Execution {
    wait_seconds_ahead(days * 86_400).await
}

/// A Wait until `seconds` after a fixed start, on a virtual clock there.
async fn wait_seconds_ahead(seconds: i64) -> Execution {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    let until = (start + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sm = machine(
        json!({"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.t","End":true}}}),
    );
    let opts = ExecutionOptions {
        clock: std::sync::Arc::new(mdlc_asl::VirtualClock::starting_at(start)),
        ..with_history()
    };
    run(&sm, json!({"t": until}), opts).await
}

#[tokio::test]
async fn a_wait_more_than_2_pow_31_seconds_away_fails_at_once_as_aws_s_does() {
    // 24,856 days are 2,147,558,400 s, past i32::MAX: AWS fails the state at once (recorded).
    let e = wait_days_ahead(24_856).await;
    assert_eq!(e.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        e.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'W' (entered at the event id #2). Wait state delay is too long."
        )
    );
    let types: Vec<&str> = e.history.iter().map(|h| h.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["ExecutionStarted", "WaitStateEntered", "ExecutionFailed"]
    );
    // 24,855 days (2,147,472,000 s) is waited for: the execution's year runs out first.
    let e = wait_days_ahead(24_855).await;
    assert_eq!(e.status, ExecutionStatus::TimedOut);
    // Between the two recorded points, the limit is read as i32::MAX seconds, accepted.
    let e = wait_seconds_ahead(i64::from(i32::MAX)).await;
    assert_eq!(e.status, ExecutionStatus::TimedOut);
    let e = wait_seconds_ahead(i64::from(i32::MAX) + 1).await;
    assert_eq!(e.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn an_unparseable_jsonata_timestamp_records_an_evaluation_failed_event() {
    let sm = machine(
        json!({"QueryLanguage":"JSONata","StartAt":"W","States":{"W":{"Type":"Wait",
        "Timestamp":"{% $states.input.t %}","End":true}}}),
    );
    let e = run(&sm, json!({"t": "2016-12-05 21:29:29Z"}), with_history()).await;
    let cause = "An error occurred while executing the state 'W' (entered at the event id #2). The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: 2016-12-05 21:29:29Z";
    assert_eq!(e.error.as_deref(), Some("States.QueryEvaluationError"));
    assert_eq!(e.cause.as_deref(), Some(cause));
    let failed = e
        .history
        .iter()
        .find(|h| h.event_type == "EvaluationFailed");
    assert_eq!(
        failed.map(|h| (h.previous_event_id, h.details.clone())),
        Some((
            2,
            json!({"error": "States.QueryEvaluationError", "cause": cause, "location": "Timestamp", "state": "W"})
        ))
    );
}

#[tokio::test]
async fn top_level_timeout_of_1e14_is_invalid_with_aws_maximum_message() {
    has_problem(
        json!({"TimeoutSeconds": 100_000_000_000_000u64, "StartAt":"A","States":{"A":{"Type":"Succeed"}}}),
        "/TimeoutSeconds",
        "Maximum value is 99999999",
    );
    has_problem(
        json!({"TimeoutSeconds": 1e14, "StartAt":"A","States":{"A":{"Type":"Succeed"}}}),
        "/TimeoutSeconds",
        "Maximum value is 99999999",
    );
    has_problem(
        json!({"TimeoutSeconds": 0, "StartAt":"A","States":{"A":{"Type":"Succeed"}}}),
        "/TimeoutSeconds",
        "Minimum value is 1",
    );
}

#[tokio::test]
async fn top_level_timeout_at_its_maximum_is_capped_by_the_one_year_execution_limit() {
    let sm = machine(
        json!({"TimeoutSeconds": 99_999_999, "StartAt":"W","States":{"W":{"Type":"Wait","Seconds":99_999_999,"End":true}}}),
    );
    let clock = Arc::new(VirtualClock::new());
    let t0 = clock.now();
    let opts = ExecutionOptions {
        clock: clock.clone(),
        ..Default::default()
    };
    let exec = run(&sm, json!({}), opts).await;
    assert_eq!(exec.status, ExecutionStatus::TimedOut);
    assert_eq!(exec.error.as_deref(), Some("States.Timeout"));
    let waited = (clock.now() - t0).num_seconds();
    assert!((ONE_YEAR..=ONE_YEAR + 1).contains(&waited), "{waited}");
}

/// A Parallel whose only branch fails, retried `MaxAttempts` times.
fn retried_failure(interval: u64, max_attempts: u64, backoff: f64) -> StateMachine {
    machine(
        json!({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,
        "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":interval,"MaxAttempts":max_attempts,"BackoffRate":backoff}],
        "Branches":[{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Boom","Cause":"always"}}}]}}}),
    )
}

#[tokio::test]
async fn retry_with_huge_interval_and_attempts_ends_at_the_one_year_limit() {
    let sm = retried_failure(99_999_999, 99_999_999, 2.0);
    let exec = run(&sm, json!({}), ExecutionOptions::default()).await;
    assert_eq!(exec.status, ExecutionStatus::TimedOut);
    assert_eq!(exec.error.as_deref(), Some("States.Timeout"));
}

#[tokio::test]
async fn retry_with_max_attempts_99999999_ends_at_the_history_limit() {
    let sm = retried_failure(1, 99_999_999, 1.0);
    let exec = run(&sm, json!({}), with_history()).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
    assert_eq!(exec.cause.as_deref(), Some(HISTORY_LIMIT_CAUSE));
    assert_eq!(exec.history.len() as u64, MAX_HISTORY_EVENTS);
}

// ----------------------------------------------------------------------------- history

#[tokio::test]
async fn an_endless_choice_loop_fails_at_event_25000_as_aws_records_it() {
    let sm = machine(json!({"StartAt":"Loop","States":{
        "Loop":{"Type":"Choice","Choices":[{"Variable":"$.spin","BooleanEquals":true,"Next":"Loop"}],"Default":"Done"},
        "Done":{"Type":"Succeed"}}}));
    let exec = run(&sm, json!({"spin": true}), with_history()).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        exec.cause.as_deref(),
        Some("The execution reached the maximum number of history events (25000).")
    );
    let last = exec
        .history
        .last()
        .map(|e| (e.id, e.event_type.clone(), e.previous_event_id));
    assert_eq!(last, Some((25_000, "ExecutionFailed".to_string(), 24_999)));
    let ids: Vec<u64> = exec.history.iter().map(|e| e.id).collect();
    assert!(
        ids.iter().copied().eq(1..=25_000),
        "event ids are not 1..=25000"
    );
}

#[tokio::test]
async fn an_execution_whose_event_25000_is_execution_succeeded_succeeds() {
    // ExecutionStarted + 12,499 Pass states (entered + exited) = 24,999 events, then
    // ExecutionSucceeded is event 25,000.
    let mut states = serde_json::Map::new();
    let n = 12_499;
    for i in 0..n {
        let mut s = json!({"Type":"Pass"});
        if i + 1 < n {
            s["Next"] = json!(format!("S{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("S{i}"), s);
    }
    let sm = machine(json!({"StartAt":"S0","States": states}));
    let exec = run(&sm, json!({}), with_history()).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(
        exec.history.last().map(|e| (e.id, e.event_type.as_str())),
        Some((25_000, "ExecutionSucceeded"))
    );
}

// ----------------------------------------------------------------------------- payloads

#[tokio::test]
async fn a_state_output_over_256_kib_fails_the_execution_as_aws_records_it() {
    // AWS (LocalStack's test_start_large_input snapshot): PassStateEntered, then ExecutionFailed
    let big = "a".repeat(257 * 1024);
    let sm = machine(
        json!({"StartAt":"State_1","States":{"State_1":{"Type":"Pass","Result":{"Arg1": big},"End":true}}}),
    );
    let exec = run(&sm, json!({}), with_history()).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.DataLimitExceeded"));
    assert_eq!(
        exec.cause.as_deref(),
        Some(
            "The state/task 'State_1' returned a result with a size exceeding the maximum number of bytes service limit."
        )
    );
    let types: Vec<&str> = exec.history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["ExecutionStarted", "PassStateEntered", "ExecutionFailed"]
    );
}

#[tokio::test]
async fn a_state_output_of_exactly_256_kib_passes() {
    // {"Arg1":"..."} is 11 bytes around the string
    let s = "a".repeat(MAX_PAYLOAD_BYTES - 11);
    let sm = machine(
        json!({"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"Arg1": s},"End":true}}}),
    );
    let exec = run(&sm, json!({}), ExecutionOptions::default()).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
}

// A state that passes its input on unchanged (Choice, Pass without Parameters, Wait, Succeed)
// skips the payload check only when its input was itself a checked output: the first state of
// a graph still measures what it passes on.

#[tokio::test]
async fn a_first_state_passing_an_oversized_execution_input_on_fails_with_the_data_limit() {
    let big = json!({"k": "a".repeat(MAX_PAYLOAD_BYTES)});
    for first in [
        json!({"Type":"Choice","Choices":[{"Variable":"$.k","IsPresent":true,"Next":"Done"}],"Default":"Done"}),
        json!({"Type":"Pass","Next":"Done"}),
        json!({"Type":"Pass","ResultPath":null,"Next":"Done"}),
        json!({"Type":"Wait","Seconds":0,"Next":"Done"}),
        json!({"Type":"Pass","QueryLanguage":"JSONata","Next":"Done"}),
    ] {
        let sm =
            machine(json!({"StartAt":"First","States":{"First": first,"Done":{"Type":"Succeed"}}}));
        let exec = run(&sm, big.clone(), ExecutionOptions::default()).await;
        assert_eq!(
            exec.error.as_deref(),
            Some("States.DataLimitExceeded"),
            "{first}"
        );
        assert_eq!(
            exec.cause.as_deref(),
            Some(limits_cause("First").as_str()),
            "{first}"
        );
    }
}

#[tokio::test]
async fn a_map_iteration_passing_an_oversized_item_on_fails_with_the_data_limit() {
    // the Map's input is the unchecked execution input; the iteration's Pass passes the item on
    let sm = machine(
        json!({"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items",
        "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}),
    );
    let item = "a".repeat(MAX_PAYLOAD_BYTES);
    let exec = run(&sm, json!({"items": [item]}), ExecutionOptions::default()).await;
    assert_eq!(exec.error.as_deref(), Some("States.DataLimitExceeded"));
    assert_eq!(exec.cause.as_deref(), Some(limits_cause("P").as_str()));
}

#[tokio::test]
async fn a_choice_after_a_checked_state_passes_a_value_of_exactly_256_kib_on() {
    // {"Arg1":"..."} is 11 bytes around the string: the Pass's output is checked and fits, the
    // Choice and Succeed after it pass it on
    let s = "a".repeat(MAX_PAYLOAD_BYTES - 11);
    let sm = machine(json!({"StartAt":"P","States":{
        "P":{"Type":"Pass","Result":{"Arg1": s},"Next":"C"},
        "C":{"Type":"Choice","Choices":[{"Variable":"$.Arg1","IsPresent":true,"Next":"Done"}]},
        "Done":{"Type":"Succeed"}}}));
    let exec = run(&sm, json!({}), ExecutionOptions::default()).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(
        exec.output.map(|o| o.to_string().len()),
        Some(MAX_PAYLOAD_BYTES)
    );
}

#[tokio::test]
async fn a_later_state_that_reshapes_its_checked_input_over_256_kib_fails_with_the_data_limit() {
    // the input (150,000 bytes) fits; each second state makes it larger than the quota
    let half = "a".repeat(150_000);
    for second in [
        json!({"Type":"Pass","Result":{"a": half, "b": half},"End":true}),
        json!({"Type":"Pass","ResultPath":"$.copy","End":true}),
        json!({"Type":"Pass","QueryLanguage":"JSONata","Output":"{% $states.input.s & $states.input.s %}","End":true}),
    ] {
        let sm = machine(json!({"StartAt":"First","States":{
            "First":{"Type":"Pass","Next":"Second"},"Second": second}}));
        let exec = run(&sm, json!({"s": half}), ExecutionOptions::default()).await;
        assert_eq!(
            exec.error.as_deref(),
            Some("States.DataLimitExceeded"),
            "{second}"
        );
        assert_eq!(
            exec.cause.as_deref(),
            Some(limits_cause("Second").as_str()),
            "{second}"
        );
    }
}

fn limits_cause(state: &str) -> String {
    mdlc_asl::limits::data_limit_cause(state)
}

/// Returns a string of `size` bytes for every task.
struct Big {
    size: usize,
}

#[async_trait]
impl TaskInvoker for Big {
    async fn invoke(&self, _: TaskRequest) -> Result<Value, TaskFailure> {
        Ok(Value::String("x".repeat(self.size)))
    }
}

fn big_result_machine(resource: &str, catch: &str) -> StateMachine {
    machine(json!({"StartAt":"InvokeLambda","States":{
        "InvokeLambda":{"Type":"Task","Resource":resource,"Next":"ProcessResult",
            "Catch":[{"ErrorEquals":[catch],"Next":"Handle"}]},
        "ProcessResult":{"Type":"Pass","End":true},
        "Handle":{"Type":"Pass","End":true}}}))
}

#[tokio::test]
async fn a_task_result_over_256_kib_is_a_catchable_data_limit_failure_naming_the_integration() {
    for catch in ["States.DataLimitExceeded", "States.ALL"] {
        let sm = big_result_machine("arn:aws:states:::lambda:invoke", catch);
        let opts = ExecutionOptions {
            invoker: Arc::new(Big { size: 300_000 }),
            ..Default::default()
        };
        let exec = run(&sm, json!({}), opts).await;
        assert_eq!(exec.status, ExecutionStatus::Succeeded, "{catch}");
        assert_eq!(
            exec.output,
            Some(json!({"Error":"States.DataLimitExceeded",
                "Cause":"The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit."})),
            "{catch}"
        );
    }
}

#[tokio::test]
async fn a_lambda_function_result_over_256_kib_names_the_function_arn() {
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:big";
    let sm = big_result_machine(arn, "States.DataLimitExceeded");
    let opts = ExecutionOptions {
        invoker: Arc::new(Big { size: 300_000 }),
        ..Default::default()
    };
    let exec = run(&sm, json!({}), opts).await;
    assert_eq!(
        exec.output.as_ref().and_then(|o| o["Cause"].as_str()),
        Some(
            format!("The state/task '{arn}' returned a result with a size exceeding the maximum number of bytes service limit.")
                .as_str()
        )
    );
}

// ----------------------------------------------------------------------------- intrinsics

fn nested_json_to_string(depth: usize) -> String {
    let mut e = "$.s".to_string();
    for _ in 0..depth {
        e = format!("States.JsonToString({e})");
    }
    e
}

#[tokio::test]
async fn nested_json_to_string_100_deep_stops_at_the_payload_quota() {
    let sm = machine(json!({"StartAt":"P","States":{"P":{"Type":"Pass",
        "Parameters":{"v.$": nested_json_to_string(100)},"End":true}}}));
    let exec = run(&sm, json!({"s": "\"\\\"\\"}), ExecutionOptions::default()).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.DataLimitExceeded"));
    assert_eq!(
        exec.cause.as_deref(),
        Some(
            "The state/task 'P' returned a result with a size exceeding the maximum number of bytes service limit."
        )
    );
}

#[tokio::test]
async fn intrinsics_nested_more_than_100_deep_are_invalid() {
    let def = json!({"StartAt":"P","States":{"P":{"Type":"Pass",
        "Parameters":{"v.$": nested_json_to_string(101)},"End":true}}});
    let found = problems(def);
    assert!(
        found.iter().any(|(p, m)| p == "/States/P/Parameters/v.$"
            && m.contains("nested more than 100 levels deep")),
        "{found:?}"
    );
}

#[tokio::test]
async fn math_add_of_huge_numbers_is_an_intrinsic_failure_not_an_overflow() {
    let sm = machine(json!({"StartAt":"P","States":{"P":{"Type":"Pass",
        "Parameters":{"v.$":"States.MathAdd($.a, $.b)"},"End":true}}}));
    let exec = run(
        &sm,
        json!({"a": 9_223_372_036_854_775_807i64, "b": 9_223_372_036_854_775_807i64}),
        ExecutionOptions::default(),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.IntrinsicFailure"));
}

#[tokio::test]
async fn array_range_near_the_integer_limit_ends() {
    let sm = machine(json!({"StartAt":"P","States":{"P":{"Type":"Pass",
        "Parameters":{"v.$":"States.ArrayRange($.a, $.b, $.c)"},"End":true}}}));
    let exec = run(
        &sm,
        json!({"a": i64::MAX - 1, "b": i64::MAX, "c": 1000}),
        ExecutionOptions::default(),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(exec.output, Some(json!({"v": [i64::MAX - 1]})));
}

#[tokio::test]
async fn format_with_many_copies_of_a_big_argument_stops_at_the_payload_quota() {
    let n = 50;
    let template = "{}".repeat(n);
    let args = vec!["$.s"; n].join(", ");
    let sm = machine(json!({"StartAt":"P","States":{"P":{"Type":"Pass",
        "Parameters":{"v.$": format!("States.Format('{template}', {args})")},"End":true}}}));
    let exec = run(
        &sm,
        json!({"s": "y".repeat(100_000)}),
        ExecutionOptions::default(),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.DataLimitExceeded"));
}

// ----------------------------------------------------------------------------- paths

#[tokio::test]
async fn deeply_nested_jsonpath_filters_are_invalid_with_the_pointer() {
    let mut filter = "@.a == 1".to_string();
    for _ in 0..300 {
        filter = format!("({filter})");
    }
    let def = json!({"StartAt":"P","States":{"P":{"Type":"Pass","InputPath": format!("$.x[?({filter})]"),"End":true}}});
    let found = problems(def);
    assert!(
        found
            .iter()
            .any(|(p, m)| p == "/States/P/InputPath" && m.contains("more than 32 levels deep")),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_path_with_thousands_of_segments_is_invalid() {
    let path = format!("${}", ".a".repeat(5000));
    let def = json!({"StartAt":"P","States":{"P":{"Type":"Pass","InputPath": path,"End":true}}});
    let found = problems(def);
    assert!(
        found
            .iter()
            .any(|(p, m)| p == "/States/P/InputPath" && m.contains("more than 256 segments")),
        "{found:?}"
    );
}

// ----------------------------------------------------------------------------- validator maxima

#[tokio::test]
async fn numeric_fields_over_their_maximum_are_invalid_with_aws_wording() {
    // AWS: "SCHEMA_VALIDATION_FAILED: Maximum value is 99999999 at /States/Wait/Seconds"
    has_problem(
        json!({"StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":10_000_000_000_000_000u64,"End":true}}}),
        "/States/Wait/Seconds",
        "Maximum value is 99999999",
    );
    let task = |extra: Value| {
        let mut t = json!({"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true});
        if let (Some(t), Some(e)) = (t.as_object_mut(), extra.as_object()) {
            t.extend(e.clone());
        }
        json!({"StartAt":"T","States":{"T": t}})
    };
    has_problem(
        task(json!({"TimeoutSeconds": 100_000_000})),
        "/States/T/TimeoutSeconds",
        "Maximum value is 99999999",
    );
    has_problem(
        task(json!({"HeartbeatSeconds": 100_000_000})),
        "/States/T/HeartbeatSeconds",
        "Maximum value is 99999999",
    );
    let retrier = |r: Value| {
        let mut base = json!({"ErrorEquals":["States.ALL"]});
        if let (Some(b), Some(e)) = (base.as_object_mut(), r.as_object()) {
            b.extend(e.clone());
        }
        task(json!({ "Retry": [base] }))
    };
    has_problem(
        retrier(json!({"MaxAttempts": 100_000_000})),
        "/States/T/Retry/0/MaxAttempts",
        "Maximum value is 99999999",
    );
    has_problem(
        retrier(json!({"IntervalSeconds": 100_000_000})),
        "/States/T/Retry/0/IntervalSeconds",
        "Maximum value is 99999999",
    );
    has_problem(
        retrier(json!({"MaxDelaySeconds": 31_622_401})),
        "/States/T/Retry/0/MaxDelaySeconds",
        "Maximum value is 31622400",
    );
    has_problem(
        retrier(json!({"MaxAttempts": -1})),
        "/States/T/Retry/0/MaxAttempts",
        "Minimum value is 0",
    );
    has_problem(
        retrier(json!({"MaxAttempts": 2.5})),
        "/States/T/Retry/0/MaxAttempts",
        "must be an integer between 0 and 99999999",
    );
    has_problem(
        retrier(json!({"BackoffRate": 0.5})),
        "/States/T/Retry/0/BackoffRate",
        "must be >= 1.0",
    );
    // the maxima themselves are valid
    assert_eq!(
        problems(retrier(
            json!({"MaxAttempts": 99_999_999, "IntervalSeconds": 99_999_999, "MaxDelaySeconds": 31_622_400})
        )),
        Vec::<(String, String)>::new()
    );
}

#[tokio::test]
async fn timeout_seconds_path_over_the_maximum_is_a_runtime_error() {
    let sm = machine(json!({"StartAt":"T","States":{"T":{"Type":"Task",
        "Resource":"arn:aws:states:::lambda:invoke","TimeoutSecondsPath":"$.t","End":true}}}));
    let exec = run(
        &sm,
        json!({"t": 10_000_000_000u64}),
        ExecutionOptions::default(),
    )
    .await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
    assert!(
        exec.cause
            .as_deref()
            .is_some_and(|c| c.contains("Maximum value is 99999999")),
        "{:?}",
        exec.cause
    );
}
