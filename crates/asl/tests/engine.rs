//! Behaviour beyond single cases: task requests, history, observers, the item store of a
//! distributed Map, real-clock timeouts, nested executions, validation reporting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mdlc_asl::{
    ExecutionObserver, ExecutionOptions, ExecutionStatus, HistoryEvent, ItemStore, RealClock,
    StateMachine, TaskFailure, TaskInvoker, TaskRequest,
};
use serde_json::{Value, json};

mod support;
use support::{MemStore, distributed, machine};

#[derive(Default)]
struct Recorder {
    requests: Mutex<Vec<TaskRequest>>,
}

#[async_trait]
impl TaskInvoker for Recorder {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let out = json!({"echo": request.parameters.clone()});
        if let Ok(mut r) = self.requests.lock() {
            r.push(request);
        }
        Ok(out)
    }
}

#[tokio::test]
async fn given_a_task_when_executed_then_the_invoker_gets_parameters_and_context() {
    let sm = machine(json!({"StartAt":"T","States":{"T":{"Type":"Task",
        "Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters":{"token.$":"$$.Task.Token","v.$":"$.v"},"TimeoutSeconds":30,"HeartbeatSeconds":10,"End":true}}}));
    let rec = Arc::new(Recorder::default());
    let opts = ExecutionOptions {
        invoker: rec.clone(),
        state_machine_name: "Flow".into(),
        execution_name: "run-1".into(),
        ..Default::default()
    };
    let exec = sm.execute(json!({"v": 5}), opts).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    let reqs = rec.requests.lock().map(|r| r.clone()).unwrap_or_default();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        r.resource,
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    );
    assert_eq!(r.state_name, "T");
    assert_eq!(r.state_machine_name, "Flow");
    assert_eq!(r.timeout_seconds, Some(30));
    assert_eq!(r.heartbeat_seconds, Some(10));
    assert_eq!(r.parameters["v"], 5);
    let token = r.context["Task"]["Token"].as_str().unwrap_or("");
    assert!(!token.is_empty());
    assert_eq!(r.parameters["token"], token);
    assert_eq!(
        r.context["Execution"]["Id"],
        "arn:aws:states:us-east-1:123456789012:execution:Flow:run-1"
    );
    assert_eq!(r.context["Execution"]["Input"], json!({"v": 5}));
}

#[derive(Default)]
struct Events(Mutex<Vec<HistoryEvent>>);

impl ExecutionObserver for Events {
    fn on_event(&self, event: &HistoryEvent) {
        if let Ok(mut e) = self.0.lock() {
            e.push(event.clone());
        }
    }
}

#[tokio::test]
async fn given_a_task_that_reads_no_context_then_the_invoker_still_gets_the_context_object() {
    let sm = machine(json!({"StartAt":"T","States":{"T":{"Type":"Task",
        "Resource":"arn:aws:states:::lambda:invoke","Parameters":{"v.$":"$.v"},"End":true}}}));
    let rec = Arc::new(Recorder::default());
    let opts = ExecutionOptions {
        invoker: rec.clone(),
        execution_name: "run-2".into(),
        ..Default::default()
    };
    let exec = sm.execute(json!({"v": 1}), opts).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    let requests = rec.requests.lock().expect("lock");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].context["Execution"]["Name"], "run-2");
    assert_eq!(requests[0].context["State"]["Name"], "T");
}

#[tokio::test]
async fn given_history_and_an_observer_then_both_see_the_same_ordered_events() {
    let sm = machine(json!({"StartAt":"P","States":{
        "P":{"Type":"Parallel","Next":"M","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}]},
        "M":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}}}}));
    let obs = Arc::new(Events::default());
    let opts = ExecutionOptions {
        record_history: true,
        observer: Some(obs.clone()),
        ..Default::default()
    };
    let exec = sm.execute(json!({}), opts).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    assert_eq!(exec.output, Some(json!([{}])));
    let seen = obs.0.lock().map(|e| e.clone()).unwrap_or_default();
    assert_eq!(seen, exec.history);
    let types: Vec<&str> = exec.history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "PassStateEntered",
            "PassStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "MapStateEntered",
            "MapStateStarted",
            "MapIterationStarted",
            "PassStateEntered",
            "PassStateExited",
            "MapIterationSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, e) in exec.history.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1);
        assert!(e.previous_event_id < e.id);
        assert!(chrono::DateTime::parse_from_rfc3339(&e.timestamp).is_ok());
    }
    assert_eq!(exec.history[1].details["name"], "P");
}

#[tokio::test]
async fn given_no_history_then_none_is_kept() {
    let sm = machine(json!({"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}));
    let exec = sm.execute(json!(1), ExecutionOptions::default()).await;
    assert!(exec.history.is_empty());
    assert_eq!(exec.output, Some(json!(1)));
}

#[tokio::test]
async fn given_jsonata_item_reader_arguments_that_fail_then_the_error_names_the_arguments_field() {
    let store = Arc::new(MemStore::default());
    let sm = machine(
        json!({"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map","End":true,
        "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSON"},
            "Arguments":{"Bucket":"b","Key":"{% $states.input.missing %}"}},
        "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
            "StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}),
    );
    let opts = ExecutionOptions {
        item_store: Some(store),
        ..Default::default()
    };
    let e = sm.execute(json!({}), opts).await;
    assert_eq!(e.error.as_deref(), Some("States.QueryEvaluationError"));
    assert_eq!(
        e.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'M' (entered at the event id #2). The JSONata expression '$states.input.missing' specified for the field 'ItemReader/Arguments/Key' returned nothing (undefined)."
        )
    );
}

#[tokio::test]
async fn given_an_item_store_then_item_readers_read_json_csv_jsonl_and_listings() {
    let store = Arc::new(MemStore::default());
    store
        .put("s3://b/items.json", br#"[{"a":1},{"a":2}]"#.to_vec())
        .await
        .ok();
    store
        .put("s3://b/items.csv", b"name,n\nx,1\n\"y,z\",2\n".to_vec())
        .await
        .ok();
    store
        .put(
            "s3://b/items.jsonl",
            b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n".to_vec(),
        )
        .await
        .ok();
    let opts = || ExecutionOptions {
        item_store: Some(store.clone()),
        ..Default::default()
    };
    let json_sm = distributed(
        json!({"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSON"},"Parameters":{"Bucket":"b","Key":"items.json"}}),
        json!({}),
    );
    let e = json_sm.execute(json!({}), opts()).await;
    assert_eq!(e.output, Some(json!([{"a":1},{"a":2}])), "{:?}", e.cause);

    let csv_sm = distributed(
        json!({"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"CSV","CSVHeaderLocation":"FIRST_ROW"},"Parameters":{"Bucket":"b","Key":"items.csv"}}),
        json!({}),
    );
    let e = csv_sm.execute(json!({}), opts()).await;
    assert_eq!(
        e.output,
        Some(json!([{"name":"x","n":"1"},{"name":"y,z","n":"2"}])),
        "{:?}",
        e.cause
    );

    let jsonl_sm = distributed(
        json!({"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSONL","MaxItems":2},"Parameters":{"Bucket":"b","Key.$":"$.key"}}),
        json!({}),
    );
    let e = jsonl_sm
        .execute(json!({"key": "items.jsonl"}), opts())
        .await;
    assert_eq!(e.output, Some(json!([{"a":1},{"a":2}])), "{:?}", e.cause);

    let list_sm = distributed(
        json!({"Resource":"arn:aws:states:::s3:listObjectsV2","Parameters":{"Bucket":"b","Prefix":"items."}}),
        json!({"ItemSelector":{"k.$":"$$.Map.Item.Value.Key"}}),
    );
    let e = list_sm.execute(json!({}), opts()).await;
    assert_eq!(
        e.output,
        Some(json!([{"k":"items.csv"},{"k":"items.json"},{"k":"items.jsonl"}])),
        "{:?}",
        e.cause
    );

    let missing = distributed(
        json!({"Resource":"arn:aws:states:::s3:getObject","Parameters":{"Bucket":"b","Key":"nope.json"}}),
        json!({}),
    );
    let e = missing.execute(json!({}), opts()).await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert!(e.cause.unwrap_or_default().contains("s3://b/nope.json"));
}

#[tokio::test]
async fn given_each_csv_delimiter_and_given_headers_then_the_rows_are_read() {
    let store = Arc::new(MemStore::default());
    for (name, sep) in [
        ("COMMA", ','),
        ("PIPE", '|'),
        ("SEMICOLON", ';'),
        ("SPACE", ' '),
        ("TAB", '\t'),
    ] {
        let key = format!("rows-{name}.csv");
        let body = format!("x{sep}1\ny{sep}2\n");
        store
            .put(&format!("s3://b/{key}"), body.into_bytes())
            .await
            .ok();
        let sm = distributed(
            json!({"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"CSV",
                "CSVHeaderLocation":"GIVEN","CSVHeaders":["k","v"],"CSVDelimiter":name},
                "Parameters":{"Bucket":"b","Key":key}}),
            json!({}),
        );
        let opts = ExecutionOptions {
            item_store: Some(store.clone()),
            ..Default::default()
        };
        let e = sm.execute(json!({}), opts).await;
        assert_eq!(
            e.output,
            Some(json!([{"k":"x","v":"1"},{"k":"y","v":"2"}])),
            "{name}: {:?}",
            e.cause
        );
    }
}

#[tokio::test]
async fn given_an_items_pointer_then_the_array_inside_the_json_object_is_read() {
    let store = Arc::new(MemStore::default());
    store
        .put(
            "s3://b/doc.json",
            br#"{"data":{"items":[1,2,3]},"other":[9]}"#.to_vec(),
        )
        .await
        .ok();
    let sm = distributed(
        json!({"Resource":"arn:aws:states:::s3:getObject",
            "ReaderConfig":{"InputType":"JSON","ItemsPointer":"/data/items"},
            "Parameters":{"Bucket":"b","Key":"doc.json"}}),
        json!({}),
    );
    let opts = ExecutionOptions {
        item_store: Some(store.clone()),
        ..Default::default()
    };
    let e = sm.execute(json!({}), opts).await;
    assert_eq!(e.output, Some(json!([1, 2, 3])), "{:?}", e.cause);
}

/// A distributed Map over `$.xs` whose children pass their item through, with `writer`.
fn writer_map(writer: Value) -> StateMachine {
    machine(
        json!({"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemsPath":"$.xs",
        "ResultWriter": writer,
        "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
            "StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}),
    )
}

/// `Resource`, `Parameters` (bucket `out`, prefix `runs`) and the given `WriterConfig`.
fn export_with(config: Value) -> Value {
    json!({"Resource":"arn:aws:states:::s3:putObject",
        "Parameters":{"Bucket":"out","Prefix":"runs"},"WriterConfig":config})
}

/// Runs `writer` over two children whose outputs are `[1,2]` and `{"a":3}`; returns the
/// state output and every object written (URI to text).
async fn run_writer(writer: Value) -> (Value, BTreeMap<String, String>) {
    let store = Arc::new(MemStore::default());
    let opts = ExecutionOptions {
        item_store: Some(store.clone()),
        state_machine_name: "Flow".into(),
        ..Default::default()
    };
    let e = writer_map(writer)
        .execute(json!({"xs": [[1, 2], {"a": 3}]}), opts)
        .await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
    let objects = store
        .0
        .lock()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect()
        })
        .unwrap_or_default();
    (e.output.unwrap_or_default(), objects)
}

/// Runs a writer exporting with the given `Transformation` and `OutputType` and checks what
/// [`exported`] checks; returns the state output and the results text.
async fn export_as(transformation: &str, output_type: &str, ext: &str) -> (Value, String) {
    let (out, objects) = run_writer(export_with(
        json!({"Transformation": transformation, "OutputType": output_type}),
    ))
    .await;
    let body = exported(&out, &objects, ext);
    (out, body)
}

/// Asserts that exactly `runs/<map run id>/SUCCEEDED_0.<ext>` and the manifest listing it
/// were written and that the state output points at the manifest; returns the results text.
fn exported(out: &Value, objects: &BTreeMap<String, String>, ext: &str) -> String {
    let arn = out["MapRunArn"].as_str().unwrap_or_default();
    let id = arn.rsplit(':').next().unwrap_or_default();
    assert_eq!(id.len(), 36, "a UUID at the end of {arn}");
    let manifest_key = format!("runs/{id}/manifest.json");
    let results_key = format!("runs/{id}/SUCCEEDED_0.{ext}");
    let (manifest_uri, results_uri) = (
        format!("s3://out/{manifest_key}"),
        format!("s3://out/{results_key}"),
    );
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        [&results_uri, &manifest_uri]
    );
    assert_eq!(
        out["ResultWriterDetails"],
        json!({"Bucket": "out", "Key": manifest_key})
    );
    let body = objects.get(&results_uri).cloned().unwrap_or_default();
    let manifest: Value =
        serde_json::from_str(objects.get(&manifest_uri).map_or("", String::as_str))
            .unwrap_or_default();
    assert_eq!(
        manifest,
        json!({"DestinationBucket": "out", "MapRunArn": arn, "ResultFiles": {
            "FAILED": [], "PENDING": [],
            "SUCCEEDED": [{"Key": results_key, "Size": body.len()}]}})
    );
    body
}

/// The NONE records AWS writes for the two children: each output as a JSON string with its
/// execution's metadata.
fn none_records(out: &Value) -> Vec<Value> {
    let arn = out["MapRunArn"].as_str().unwrap_or_default();
    let id = arn.rsplit(':').next().unwrap_or_default();
    let sm = "arn:aws:states:us-east-1:123456789012:stateMachine:Flow";
    ["[1,2]", "{\"a\":3}"]
        .iter()
        .enumerate()
        .map(|(i, o)| {
            json!({"ExecutionArn": format!("{arn}:{i}"), "Name": format!("{id}-{i}"),
                "Output": o, "Status": "SUCCEEDED", "StateMachineArn": sm})
        })
        .collect()
}

fn json_lines(body: &str) -> Vec<Value> {
    body.split('\n')
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn given_writer_config_none_json_then_the_records_with_metadata_are_a_json_array() {
    let (out, body) = export_as("NONE", "JSON", "json").await;
    let records: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(records, Value::Array(none_records(&out)));
}

#[tokio::test]
async fn given_writer_config_none_jsonl_then_the_records_with_metadata_are_json_lines() {
    let (out, body) = export_as("NONE", "JSONL", "jsonl").await;
    assert_eq!(json_lines(&body), none_records(&out));
}

#[tokio::test]
async fn given_writer_config_compact_json_then_the_outputs_are_a_json_array() {
    let (_, body) = export_as("COMPACT", "JSON", "json").await;
    assert_eq!(body, "[[1,2],{\"a\":3}]");
}

#[tokio::test]
async fn given_a_compact_jsonl_writer_config_then_the_outputs_are_written_one_per_line() {
    let (_, body) = export_as("COMPACT", "JSONL", "jsonl").await;
    assert_eq!(body, "[1,2]\n{\"a\":3}");
}

#[tokio::test]
async fn given_writer_config_flatten_json_then_array_outputs_are_flattened_into_a_json_array() {
    let (_, body) = export_as("FLATTEN", "JSON", "json").await;
    assert_eq!(body, "[1,2,{\"a\":3}]");
}

#[tokio::test]
async fn given_writer_config_flatten_jsonl_then_array_outputs_are_flattened_one_per_line() {
    let (_, body) = export_as("FLATTEN", "JSONL", "jsonl").await;
    assert_eq!(body, "1\n2\n{\"a\":3}");
}

#[tokio::test]
async fn given_only_a_writer_config_then_the_transformed_results_are_the_output_and_nothing_is_written()
 {
    let (out, objects) =
        run_writer(json!({"WriterConfig":{"Transformation":"FLATTEN","OutputType":"JSON"}})).await;
    assert_eq!(out, json!([1, 2, {"a": 3}]));
    assert!(objects.is_empty(), "{objects:?}");
    let (out, _) =
        run_writer(json!({"WriterConfig":{"Transformation":"COMPACT","OutputType":"JSON"}})).await;
    assert_eq!(out, json!([[1, 2], {"a": 3}]));
}

#[tokio::test]
async fn given_only_a_writer_config_then_no_item_store_is_needed() {
    let e = writer_map(json!({"WriterConfig":{"Transformation":"FLATTEN","OutputType":"JSONL"}}))
        .execute(json!({"xs": [[1], [2]]}), ExecutionOptions::default())
        .await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
    assert_eq!(e.output, Some(json!([1, 2])));
}

#[tokio::test]
async fn given_resource_and_parameters_only_then_the_none_records_are_exported_as_json() {
    let (out, objects) = run_writer(json!({"Resource":"arn:aws:states:::s3:putObject",
        "Parameters":{"Bucket":"out","Prefix":"runs"}}))
    .await;
    let body = exported(&out, &objects, "json");
    let records: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(records, Value::Array(none_records(&out)));
}

#[tokio::test]
async fn given_a_result_writer_then_results_and_a_manifest_are_written() {
    let store = Arc::new(MemStore::default());
    let sm = machine(
        json!({"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemsPath":"$.xs",
        "ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"out","Prefix":"runs"}},
        "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}),
    );
    let e = sm
        .execute(
            json!({"xs": [1, 2]}),
            ExecutionOptions {
                item_store: Some(store.clone()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
    let out = e.output.unwrap_or_default();
    assert_eq!(out["ResultWriterDetails"]["Bucket"], "out");
    let key = out["ResultWriterDetails"]["Key"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        key.starts_with("runs/") && key.ends_with("/manifest.json"),
        "{key}"
    );
    let manifest: Value = serde_json::from_slice(
        &store
            .get(&format!("s3://out/{key}"))
            .await
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let results_key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let results: Value = serde_json::from_slice(
        &store
            .get(&format!("s3://out/{results_key}"))
            .await
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let outputs: Vec<&str> = results
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["Output"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(outputs, ["1", "2"]);
}

#[tokio::test]
async fn given_a_label_and_jsonata_arguments_then_the_map_run_arn_and_manifest_key_follow_aws() {
    let store = Arc::new(MemStore::default());
    let sm = machine(
        json!({"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map",
        "End":true,"Items":"{% $states.input.xs %}","Label":"Shipping",
        "ResultWriter":{"Resource":"arn:aws:states:::s3:putObject",
            "Arguments":{"Bucket":"{% 'out' %}","Prefix":"{% 'runs/' & $states.input.day %}"}},
        "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
            "StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}),
    );
    let opts = ExecutionOptions {
        item_store: Some(store.clone()),
        state_machine_name: "Flow".into(),
        ..Default::default()
    };
    let head = format!(
        "arn:aws:states:{}:{}:mapRun:Flow/Shipping:",
        opts.region, opts.account
    );
    let e = sm.execute(json!({"xs": [1, 2], "day": "d1"}), opts).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
    let out = e.output.unwrap_or_default();
    let arn = out["MapRunArn"].as_str().unwrap_or_default();
    let id = arn
        .strip_prefix(head.as_str())
        .unwrap_or_else(|| panic!("{arn}"));
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(out["ResultWriterDetails"]["Bucket"], "out");
    let key = format!("runs/d1/{id}/manifest.json");
    assert_eq!(out["ResultWriterDetails"]["Key"], json!(key));
    let manifest: Value = serde_json::from_slice(
        &store
            .get(&format!("s3://out/{key}"))
            .await
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(manifest["MapRunArn"], json!(arn));
}

struct Slow;

#[async_trait]
impl TaskInvoker for Slow {
    async fn invoke(&self, _request: TaskRequest) -> Result<Value, TaskFailure> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(json!("late"))
    }
}

#[tokio::test]
async fn given_a_real_clock_when_a_task_runs_past_its_timeout_then_states_timeout() {
    let sm = machine(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:x:slow","TimeoutSeconds":1,
        "Catch":[{"ErrorEquals":["States.Timeout"],"ResultPath":"$.e","Next":"Done"}],"End":true},"Done":{"Type":"Succeed"}}}),
    );
    let e = sm
        .execute(
            json!({}),
            ExecutionOptions {
                invoker: Arc::new(Slow),
                clock: Arc::new(RealClock),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    // AWS: the caught timeout's Cause is "" (its TaskTimedOut event has none)
    assert_eq!(
        e.output.unwrap_or_default()["e"],
        json!({"Error": "States.Timeout", "Cause": ""})
    );
}

#[tokio::test]
async fn a_sync_task_has_a_task_token_in_its_context_as_a_callback_task_does() {
    // AWS records `$$.Task.Token` resolved for `states:startExecution.sync` (recorded).
    let rec = Arc::new(Recorder::default());
    let sm = machine(json!({"StartAt":"T","States":{"T":{"Type":"Task",
        "Resource":"arn:aws:states:::states:startExecution.sync",
        "Parameters":{"StateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:child",
            "Input":{"TaskToken.$":"$$.Task.Token"}},"End":true}}}));
    let opts = ExecutionOptions {
        invoker: rec.clone(),
        ..Default::default()
    };
    let e = sm.execute(json!({}), opts).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
    let requests = rec.requests.lock().map(|r| r.clone()).unwrap_or_default();
    let token = requests[0].parameters["Input"]["TaskToken"]
        .as_str()
        .unwrap_or("");
    assert!(!token.is_empty(), "{requests:?}");
    assert_eq!(requests[0].context["Task"]["Token"], json!(token));
}

/// Fails every Task as a SendTaskFailure without error or cause does.
struct Unnamed;

#[async_trait]
impl TaskInvoker for Unnamed {
    async fn invoke(&self, _: TaskRequest) -> Result<Value, TaskFailure> {
        Err(TaskFailure::sent(None, None))
    }
}

#[tokio::test]
async fn a_failure_without_error_or_cause_is_caught_as_nulls() {
    let sm = machine(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:x:t",
        "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.e","Next":"Done"}],"End":true},
        "Done":{"Type":"Succeed"}}}),
    );
    let opts = ExecutionOptions {
        invoker: Arc::new(Unnamed),
        record_history: true,
        ..Default::default()
    };
    let e = sm.execute(json!({}), opts).await;
    assert_eq!(e.output, Some(json!({"e": {"Error": null, "Cause": null}})));
    let failed = e.history.iter().find(|h| h.event_type == "TaskFailed");
    assert_eq!(
        failed.map(|h| h.details.clone()),
        Some(json!({"resource": "arn:x:t", "resourceType": "t"}))
    );
}

#[tokio::test]
async fn a_timed_out_task_records_the_error_alone_as_aws_does() {
    // AWS: `TaskTimedOut {"error": "States.Timeout", "resource", "resourceType"}` and
    // `ExecutionFailed {"error": "States.Timeout"}`, neither with a cause.
    let sm = machine(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
        "Parameters":{"FunctionName":"f"},"TimeoutSeconds":1,"End":true}}}),
    );
    let opts = ExecutionOptions {
        invoker: Arc::new(Slow),
        clock: Arc::new(RealClock),
        record_history: true,
        ..Default::default()
    };
    let e = sm.execute(json!({}), opts).await;
    assert_eq!(
        (e.error.as_deref(), e.cause),
        (Some("States.Timeout"), None)
    );
    let details = |ty: &str| {
        e.history
            .iter()
            .find(|h| h.event_type == ty)
            .map(|h| h.details.clone())
    };
    assert_eq!(
        details("TaskTimedOut"),
        Some(json!({"error": "States.Timeout", "resource": "invoke", "resourceType": "lambda"}))
    );
    let last = e
        .history
        .last()
        .map(|h| mdlc_asl::aws_history::to_aws(h, true))
        .unwrap_or_default();
    assert_eq!(
        last["executionFailedEventDetails"],
        json!({"error": "States.Timeout"}),
        "{last}"
    );
}

/// Runs a task that never answers in time under a real clock; returns the execution (history
/// recorded) and the caught error's name.
async fn slow_task(limits: Value, input: Value) -> (mdlc_asl::Execution, Value) {
    let mut task = json!({"Type":"Task","Resource":"arn:x:slow",
        "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.e","Next":"Done"}],"End":true});
    if let (Some(t), Some(l)) = (task.as_object_mut(), limits.as_object()) {
        t.extend(l.clone());
    }
    let sm = machine(json!({"StartAt":"T","States":{"T": task,"Done":{"Type":"Succeed"}}}));
    let e = sm
        .execute(
            input,
            ExecutionOptions {
                invoker: Arc::new(Slow),
                clock: Arc::new(RealClock),
                record_history: true,
                ..Default::default()
            },
        )
        .await;
    let caught = e.output.clone().unwrap_or_default()["e"]["Error"].clone();
    (e, caught)
}

#[tokio::test]
async fn given_a_heartbeat_below_the_timeout_when_the_task_is_silent_then_heartbeat_timeout() {
    let (e, caught) = slow_task(
        json!({"TimeoutSeconds": 3, "HeartbeatSeconds": 1}),
        json!({}),
    )
    .await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
    assert_eq!(caught, "States.HeartbeatTimeout");
    let types: Vec<&str> = e.history.iter().map(|h| h.event_type.as_str()).collect();
    assert!(types.contains(&"TaskTimedOut"), "{types:?}");
    assert!(!types.contains(&"TaskFailed"), "{types:?}");
}

#[tokio::test]
async fn given_paths_with_a_heartbeat_equal_to_the_timeout_then_the_timeout_applies() {
    let limits = json!({"TimeoutSecondsPath": "$.t", "HeartbeatSecondsPath": "$.h"});
    let (e, caught) = slow_task(limits, json!({"t": 1, "h": 1})).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
    assert_eq!(caught, "States.Timeout");
    let types: Vec<&str> = e.history.iter().map(|h| h.event_type.as_str()).collect();
    assert!(
        types.contains(&"TaskTimedOut") && !types.contains(&"TaskFailed"),
        "{types:?}"
    );
}

/// Answers after 50 ms of real time.
struct Busy;

#[async_trait]
impl TaskInvoker for Busy {
    async fn invoke(&self, _request: TaskRequest) -> Result<Value, TaskFailure> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(json!("worked"))
    }
}

#[tokio::test]
async fn given_the_virtual_clock_then_real_work_is_not_cut_by_the_task_timeout() {
    let sm = machine(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:x:busy",
        "TimeoutSeconds":2,"HeartbeatSeconds":1,"End":true}}}),
    );
    let opts = ExecutionOptions {
        invoker: Arc::new(Busy),
        ..Default::default()
    };
    let e = sm.execute(json!({}), opts).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
    assert_eq!(e.output, Some(json!("worked")));
}

/// Counts the tasks running at once.
#[derive(Default)]
struct Overlap {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl TaskInvoker for Overlap {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        use std::sync::atomic::Ordering::SeqCst;
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(n, SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.now.fetch_sub(1, SeqCst);
        Ok(request.parameters)
    }
}

#[tokio::test]
async fn given_max_concurrency_then_at_most_that_many_iterations_run_at_once() {
    for limit in [1usize, 2, 3] {
        let sm = machine(json!({"StartAt":"M","States":{"M":{"Type":"Map","End":true,
            "MaxConcurrency": limit,
            "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:x:overlap","End":true}}}}}}));
        let probe = Arc::new(Overlap::default());
        let opts = ExecutionOptions {
            invoker: probe.clone(),
            ..Default::default()
        };
        let e = sm.execute(json!([1, 2, 3, 4, 5, 6, 7]), opts).await;
        assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.cause);
        assert_eq!(e.output, Some(json!([1, 2, 3, 4, 5, 6, 7])));
        let max = probe.max.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(max, limit, "MaxConcurrency {limit}");
    }
}

#[tokio::test]
async fn given_task_parameters_over_256_kib_then_data_limit_exceeded_before_the_task_runs() {
    let big = "x".repeat(150 * 1024);
    let sm = machine(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:x:overlap",
        "Parameters":{"a.$":"$.big","b.$":"$.big"},"End":true}}}),
    );
    let probe = Arc::new(Overlap::default());
    let opts = ExecutionOptions {
        invoker: probe.clone(),
        ..Default::default()
    };
    let e = sm.execute(json!({ "big": big }), opts).await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error.as_deref(), Some("States.DataLimitExceeded"));
    assert_eq!(
        probe.max.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the task never ran"
    );
}

/// Starts a nested execution of another machine, like `states:startExecution.sync:2`.
struct Nested {
    child: StateMachine,
}

#[async_trait]
impl TaskInvoker for Nested {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let exec = self
            .child
            .execute(
                request.parameters["Input"].clone(),
                ExecutionOptions::default(),
            )
            .await;
        match exec.status {
            ExecutionStatus::Succeeded => Ok(json!({"Output": exec.output, "Status": "SUCCEEDED"})),
            _ => Err(TaskFailure::new(
                "States.TaskFailed",
                exec.cause.unwrap_or_default(),
            )),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_an_invoker_that_starts_a_nested_execution_then_it_runs_on_another_thread() {
    let child = machine(
        json!({"StartAt":"C","States":{"C":{"Type":"Pass","Parameters":{"doubled.$":"States.MathAdd($.n, $.n)"},"End":true}}}),
    );
    let parent = machine(
        json!({"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
        "Parameters":{"Input.$":"$"},"OutputPath":"$.Output","End":true}}}),
    );
    let opts = ExecutionOptions {
        invoker: Arc::new(Nested { child }),
        ..Default::default()
    };
    let handle = tokio::spawn(async move { parent.execute(json!({"n": 21}), opts).await });
    let exec = handle.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exec.output, Some(json!({"doubled": 42})));
}

#[tokio::test]
async fn given_an_endless_loop_then_max_transitions_stops_it() {
    let no_end = json!({"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"A"}}});
    assert!(
        StateMachine::from_value(&no_end).is_err(),
        "a machine with no end is invalid"
    );
    let looping = StateMachine::from_value(&json!({"StartAt":"A","States":{
        "A":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"E"}],"Default":"A"},"E":{"Type":"Succeed"}}}));
    let looping = looping.unwrap_or_else(|e| panic!("{e}"));
    let e = looping
        .execute(
            json!({}),
            ExecutionOptions {
                max_transitions: Some(1000),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error.as_deref(), Some("States.Runtime"));
}

/// Fails its first `fails` calls with error `E`, then returns `"done"`; records the
/// `$$.State.RetryCount` each attempt saw.
struct Flaky {
    fails: usize,
    retry_counts: Mutex<Vec<Value>>,
}

#[async_trait]
impl TaskInvoker for Flaky {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let mut seen = self.retry_counts.lock().expect("lock");
        seen.push(request.parameters["rc"].clone());
        if seen.len() <= self.fails {
            Err(TaskFailure::new("E", "flaky"))
        } else {
            Ok(json!("done"))
        }
    }
}

/// Runs one Task under `retrier` against a [`Flaky`] invoker failing `fails` times; returns the
/// execution, the retry counts each attempt saw and the seconds between attempts (virtual clock).
async fn retried(retrier: Value, fails: usize) -> (mdlc_asl::Execution, Vec<Value>, Vec<f64>) {
    let sm = machine(json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"rc.$": "$$.State.RetryCount"}, "Retry": [retrier], "End": true}}}));
    let flaky = Arc::new(Flaky {
        fails,
        retry_counts: Mutex::new(Vec::new()),
    });
    let opts = ExecutionOptions {
        invoker: flaky.clone(),
        record_history: true,
        ..Default::default()
    };
    let exec = sm.execute(json!({}), opts).await;
    let starts: Vec<chrono::DateTime<chrono::FixedOffset>> = exec
        .history
        .iter()
        .filter(|e| e.event_type == "TaskScheduled")
        .map(|e| chrono::DateTime::parse_from_rfc3339(&e.timestamp).expect("RFC 3339"))
        .collect();
    let gaps = starts
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds() as f64 / 1000.0)
        .collect();
    let counts = flaky.retry_counts.lock().expect("lock").clone();
    (exec, counts, gaps)
}

#[tokio::test]
async fn given_a_backoff_rate_then_each_retry_waits_interval_times_rate_to_the_attempt() {
    let retrier =
        json!({"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3});
    let (exec, counts, gaps) = retried(retrier, 3).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(counts, vec![json!(0), json!(1), json!(2), json!(3)]);
    assert_eq!(gaps, vec![2.0, 6.0, 18.0]);
    let failed = |ty: &str| exec.history.iter().filter(|e| e.event_type == ty).count();
    assert_eq!((failed("TaskFailed"), failed("TaskTimedOut")), (3, 0));
}

#[tokio::test]
async fn given_max_delay_seconds_then_no_retry_waits_longer() {
    let retrier = json!({"ErrorEquals": ["E"], "IntervalSeconds": 5, "BackoffRate": 10,
        "MaxDelaySeconds": 7, "MaxAttempts": 3});
    let (exec, _, gaps) = retried(retrier, 3).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(gaps, vec![5.0, 7.0, 7.0]);
}

#[tokio::test]
async fn given_full_jitter_then_each_retry_waits_between_zero_and_the_backoff_delay() {
    let retrier = json!({"ErrorEquals": ["E"], "IntervalSeconds": 10, "BackoffRate": 1,
        "JitterStrategy": "FULL", "MaxAttempts": 6});
    let (exec, _, gaps) = retried(retrier, 6).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{:?}", exec.cause);
    assert_eq!(gaps.len(), 6);
    assert!(gaps.iter().all(|g| (0.0..=10.0).contains(g)), "{gaps:?}");
    // Six uniform draws all within 10 ms of the full delay: about 1e-12.
    assert!(gaps.iter().any(|g| *g < 9.99), "no jitter: {gaps:?}");
}

/// A chain of `n` Pass states: exactly `n` transitions.
fn chain(n: usize) -> StateMachine {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let st = if i + 1 == n {
            json!({"Type": "Pass", "End": true})
        } else {
            json!({"Type": "Pass", "Next": format!("S{}", i + 1)})
        };
        states.insert(format!("S{i}"), st);
    }
    machine(json!({"StartAt": "S0", "States": states}))
}

#[tokio::test]
async fn given_max_transitions_then_exactly_that_many_states_run_and_one_more_fails() {
    let limited = |max| ExecutionOptions {
        max_transitions: Some(max),
        record_history: true,
        ..Default::default()
    };
    let at_limit = chain(5).execute(json!(1), limited(5)).await;
    assert_eq!(
        at_limit.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        at_limit.cause
    );
    let over = chain(6).execute(json!(1), limited(5)).await;
    assert_eq!(over.status, ExecutionStatus::Failed);
    assert_eq!(over.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        over.cause.as_deref(),
        Some("the execution exceeded the limit of 5 state transitions")
    );
    let entered = over
        .history
        .iter()
        .filter(|e| e.event_type == "PassStateEntered")
        .count();
    assert_eq!(entered, 5, "the sixth state never starts");
}

#[test]
fn given_many_problems_then_validation_reports_all_with_pointers() {
    let errs = StateMachine::from_json_str(
        r#"{"StartAt":"A","States":{
            "A":{"Type":"Task","Resource":"arn:x","Next":"Missing","Retry":[{"ErrorEquals":["E"],"BackoffRate":0.5,"MaxAttempts":-1}]},
            "B":{"Type":"Pass","InputPath":"not a path","End":true},
            "C":{"Type":"Choice","Choices":[{"Variable":"$.x","Next":"A"}]}}}"#,
    )
    .err()
    .unwrap_or_else(|| panic!("expected problems"));
    let text = errs.to_string();
    for needle in [
        "/States/A/Next: refers to state 'Missing'",
        "/States/A/Retry/0/BackoffRate: must be >= 1.0",
        "/States/A/Retry/0/MaxAttempts",
        "/States/B/InputPath: invalid path",
        "/States/B: state 'B' is not reachable",
        "/States/C/Choices/0: a choice rule needs exactly one comparison operator",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(text.lines().count(), errs.len());
}

#[test]
fn given_non_json_text_then_one_clear_problem() {
    let errs = StateMachine::from_json_str("{nope").err();
    assert!(errs.is_some_and(|e| e.len() == 1 && e.to_string().contains("not valid JSON")));
}

#[test]
fn given_bad_mock_configs_then_errors_name_the_place() {
    use mdlc_asl::mock::{MockConfig, MockConfigError, MockInvoker};
    // An undefined response is an error of the test case that is run, not of the file.
    let bad = MockConfig::from_json_str(
        r#"{"StateMachines":{"M":{"TestCases":{"T":{"S":"Missing"}}}},"MockedResponses":{}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(MockInvoker::new(bad, "M", "T", None), Err(MockConfigError::Invalid { ref pointer, .. }) if pointer == "/StateMachines/M/TestCases/T/S")
    );
    let bad_index = MockConfig::from_json_str(r#"{"MockedResponses":{"R":{"x":{"Return":1}}}}"#);
    assert!(
        matches!(bad_index, Err(MockConfigError::Invalid { ref pointer, .. }) if pointer == "/MockedResponses/R/x")
    );
    let ok = MockConfig::from_json_str(
        r#"{"StateMachines":{"M":{"TestCases":{"T":{}}}},"MockedResponses":{}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        MockInvoker::new(ok.clone(), "Other", "T", None),
        Err(MockConfigError::UnknownStateMachine(_))
    ));
    assert!(matches!(
        MockInvoker::new(ok, "M", "Nope", None),
        Err(MockConfigError::UnknownTestCase { .. })
    ));
}

#[tokio::test]
async fn given_a_writer_field_that_cannot_be_evaluated_then_the_cause_names_it() {
    let store = Arc::new(MemStore::default());
    let opts = || ExecutionOptions {
        item_store: Some(store.clone()),
        ..Default::default()
    };
    let e = writer_map(json!({"Resource":"arn:aws:states:::s3:putObject",
        "Parameters":{"Bucket.$":"$.missing","Prefix":"runs"}}))
    .execute(json!({"xs": [1]}), opts())
    .await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    // a JSONPath error names the payload field, as AWS's does
    let cause = e.cause.unwrap_or_default();
    assert!(
        cause.ends_with("The JSONPath '$.missing' specified for the field 'Bucket.$' could not be found in the input '{\"xs\":[1]}'"),
        "{cause}"
    );
    let sm = machine(
        json!({"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map",
        "End":true,"Items":"{% $states.input.xs %}",
        "ResultWriter":{"Resource":"arn:aws:states:::s3:putObject",
            "Arguments":{"Bucket":"{% $number('x') %}","Prefix":"runs"}},
        "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
            "StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}}}}),
    );
    let e = sm.execute(json!({"xs": [1]}), opts()).await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    let cause = e.cause.unwrap_or_default();
    assert!(cause.contains("ResultWriter/Arguments"), "{cause}");
}
