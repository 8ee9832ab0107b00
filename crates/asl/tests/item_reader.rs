//! A Distributed Map's `ItemReader`, held to what AWS records: where the reading sits in the
//! history (inside the Map Run, `MapStateStarted` with `length` 0), `MaxItems` of 0 and below,
//! the causes AWS gives for unreadable objects, text delimited rows shorter or longer than the
//! header, an S3 inventory read row by row, and `ItemBatcher` limits of 0.
//!
//! The data are written here; the behaviours (event order, error names and causes) are those
//! of executions recorded on AWS Step Functions.

use std::io::Write;
use std::sync::Arc;

use mdlc_asl::{ExecutionOptions, ExecutionStatus, ItemStore, StateMachine};
use serde_json::{Value, json};

mod support;
use support::{MemStore, distributed};

const CSV: &str = "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n";

async fn store_with(objects: &[(&str, Vec<u8>)]) -> Arc<MemStore> {
    let store = Arc::new(MemStore::default());
    for (uri, body) in objects {
        store
            .put(uri, body.clone())
            .await
            .unwrap_or_else(|e| panic!("put {uri}: {e:?}"));
    }
    store
}

fn opts(store: &Arc<MemStore>) -> ExecutionOptions {
    ExecutionOptions {
        item_store: Some(store.clone()),
        record_history: true,
        ..Default::default()
    }
}

fn csv_reader(config: Value) -> Value {
    let mut rc = json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"});
    if let (Some(m), Some(extra)) = (rc.as_object_mut(), config.as_object()) {
        m.extend(extra.clone());
    }
    json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": rc,
        "Parameters": {"Bucket": "b", "Key": "file.csv"}})
}

/// The history up to the Map Run's start, when the Map reads its items.
const MAP_RUN_STARTED: [(&str, u64); 4] = [
    ("ExecutionStarted", 0),
    ("MapStateEntered", 0),
    ("MapStateStarted", 2),
    ("MapRunStarted", 3),
];

/// Each event's type and the event it follows.
fn shape(history: &[mdlc_asl::HistoryEvent]) -> Vec<(String, u64)> {
    history
        .iter()
        .map(|e| (e.event_type.clone(), e.previous_event_id))
        .collect()
}

fn events(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

/// The execution failed with `error` and exactly `cause`.
fn assert_fails(e: &mdlc_asl::Execution, error: &str, cause: &str) {
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(
        (e.error.as_deref(), e.cause.as_deref()),
        (Some(error), Some(cause))
    );
}

fn rows(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"Col1": format!("Value{}", 2 * i + 1), "Col2": format!("Value{}", 2 * i + 2)})
        })
        .collect()
}

async fn run(sm: &StateMachine, input: Value, store: &Arc<MemStore>) -> mdlc_asl::Execution {
    sm.execute(input, opts(store)).await
}

/// A Distributed Map of `reader` over `store`, with an empty input.
async fn read_all(reader: Value, store: &Arc<MemStore>) -> mdlc_asl::Execution {
    run(&distributed(reader, json!({})), json!({}), store).await
}

#[tokio::test]
async fn a_map_with_an_item_reader_starts_with_length_0_and_reads_inside_its_map_run() {
    let store = store_with(&[("s3://b/file.csv", CSV.into())]).await;
    let e = read_all(csv_reader(json!({})), &store).await;
    assert_eq!(e.output, Some(Value::Array(rows(4))), "{:?}", e.cause);
    assert_eq!(
        shape(&e.history),
        events(
            &[
                MAP_RUN_STARTED.as_slice(),
                &[
                    ("MapRunSucceeded", 4),
                    ("MapStateSucceeded", 5),
                    ("MapStateExited", 5),
                    ("ExecutionSucceeded", 7),
                ],
            ]
            .concat()
        )
    );
    assert_eq!(e.history[2].details, json!({"length": 0}));
}

#[tokio::test]
async fn max_items_of_0_reads_every_item_fixed_or_by_path_and_2_reads_two() {
    let store = store_with(&[("s3://b/file.csv", CSV.into())]).await;
    for (config, input, want) in [
        (json!({"MaxItems": 0}), json!({}), 4),
        (
            json!({"MaxItemsPath": "$.MaxItems"}),
            json!({"MaxItems": 0}),
            4,
        ),
        (json!({"MaxItems": 2}), json!({}), 2),
        (
            json!({"MaxItemsPath": "$.MaxItems"}),
            json!({"MaxItems": 2}),
            2,
        ),
        (
            json!({"MaxItemsPath": "$.MaxItems"}),
            json!({"MaxItems": 100_000_001}),
            4,
        ),
    ] {
        let sm = distributed(csv_reader(config.clone()), json!({}));
        let e = run(&sm, input, &store).await;
        assert_eq!(
            e.output,
            Some(Value::Array(rows(want))),
            "{config}: {:?}",
            e.cause
        );
    }
}

#[tokio::test]
async fn a_negative_max_items_path_fails_the_map_run_with_item_reader_failed() {
    let store = store_with(&[("s3://b/file.csv", CSV.into())]).await;
    let sm = distributed(csv_reader(json!({"MaxItemsPath": "$.MaxItems"})), json!({}));
    let e = run(&sm, json!({"MaxItems": -1}), &store).await;
    assert_fails(
        &e,
        "States.ItemReaderFailed",
        "field MaxItems must be positive",
    );
    assert_eq!(
        shape(&e.history),
        events(
            &[
                MAP_RUN_STARTED.as_slice(),
                &[
                    ("MapRunFailed", 4),
                    ("MapStateFailed", 5),
                    ("ExecutionFailed", 6),
                ],
            ]
            .concat()
        )
    );
    assert_eq!(
        e.history[4].details,
        json!({"error": "States.ItemReaderFailed", "cause": "field MaxItems must be positive"})
    );
}

#[tokio::test]
async fn a_max_items_path_that_is_no_integer_fails_before_the_map_run() {
    let store = store_with(&[("s3://b/file.csv", CSV.into())]).await;
    let sm = distributed(csv_reader(json!({"MaxItemsPath": "$.MaxItems"})), json!({}));
    let e = run(&sm, json!({"MaxItems": 1.5}), &store).await;
    assert_fails(
        &e,
        "States.Runtime",
        "An error occurred while executing the state 'M' (entered at the event id #2). The MaxItemsPath field refers to value \"1.5\" which is not a valid integer: $.MaxItems",
    );
    assert_eq!(
        shape(&e.history),
        events(&[
            ("ExecutionStarted", 0),
            ("MapStateEntered", 0),
            ("MapStateStarted", 2),
            ("ExecutionFailed", 3),
        ])
    );
}

/// The run of a reader that cannot read its object: the cause AWS gives, as the Map Run's.
async fn reader_failure(reader: Value, key: &str, body: &str) -> (Option<String>, Value) {
    let store = store_with(&[(&format!("s3://b/{key}"), body.into())]).await;
    let e = read_all(reader, &store).await;
    let run_failed = e
        .history
        .iter()
        .find(|ev| ev.event_type == "MapRunFailed")
        .map(|ev| ev.details.clone())
        .unwrap_or(Value::Null);
    assert_eq!(e.error.as_deref(), Some("States.ItemReaderFailed"));
    (e.cause, run_failed)
}

#[tokio::test]
async fn given_headers_with_a_duplicate_then_the_map_run_fails_as_aws_says() {
    let cause = "CSV headers cannot contain duplicates.";
    let given = csv_reader(json!({"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1", "H1"]}));
    let (got, event) = reader_failure(given, "file.csv", "a,b\n").await;
    assert_eq!(got.as_deref(), Some(cause));
    assert_eq!(
        event,
        json!({"error": "States.ItemReaderFailed", "cause": cause})
    );
    let (got, _) = reader_failure(csv_reader(json!({})), "file.csv", "H,H\n1,2\n").await;
    assert_eq!(got.as_deref(), Some(cause));
}

#[tokio::test]
async fn a_json_object_where_items_are_read_is_a_non_iterable_node() {
    let reader = json!({"Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Bucket": "b", "Key": "file.json"}});
    let (got, event) = reader_failure(reader, "file.json", r#"{"Hello": "world"}"#).await;
    let cause = "Attempting to map over non-iterable node.";
    assert_eq!(got.as_deref(), Some(cause));
    assert_eq!(
        event,
        json!({"error": "States.ItemReaderFailed", "cause": cause})
    );
}

#[tokio::test]
async fn rows_shorter_than_the_header_get_empty_strings_and_longer_ones_lose_the_rest() {
    let body = "H1,\nValue4,Value5,Value6\n,,,\ntrue,1,'x'\n   \n";
    let store = store_with(&[("s3://b/file.csv", body.into())]).await;
    let e = read_all(csv_reader(json!({})), &store).await;
    assert_eq!(
        e.output,
        Some(json!([
            {"H1": "Value4", "": "Value5"},
            {"H1": "", "": ""},
            {"H1": "true", "": "1"},
            {"H1": "   ", "": ""}
        ])),
        "{:?}",
        e.cause
    );
    let given = csv_reader(json!({"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["H1"]}));
    let e = read_all(given, &store).await;
    assert_eq!(
        e.output,
        Some(json!([{"H1": "H1"}, {"H1": "Value4"}, {"H1": ""}, {"H1": "true"}, {"H1": "   "}])),
        "{:?}",
        e.cause
    );
}

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("gzip: {e}"));
    enc.finish().unwrap_or_else(|e| panic!("gzip: {e}"))
}

fn manifest(format: &str, files: &[&str]) -> Vec<u8> {
    let files: Vec<Value> = files
        .iter()
        .map(|k| json!({"key": k, "size": 1, "MD5checksum": "0"}))
        .collect();
    json!({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::inv",
        "version": "2016-11-30", "creationTimestamp": "1668560400000",
        "fileFormat": format, "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": files
    })
    .to_string()
    .into_bytes()
}

fn manifest_reader(config: Value) -> Value {
    let mut rc = json!({"InputType": "MANIFEST"});
    if let (Some(m), Some(extra)) = (rc.as_object_mut(), config.as_object()) {
        m.extend(extra.clone());
    }
    json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": rc,
        "Parameters": {"Bucket": "inv", "Key": "src/cfg/2026-12-07T00-00Z/manifest.json"}})
}

fn inventory_row(i: usize) -> Value {
    json!({"Bucket": "src", "Key": format!("data/part-{i}.csv"), "Size": format!("{}", 100 + i),
        "LastModifiedDate": "2026-12-06T10:00:00.000Z"})
}

fn inventory_csv(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| {
            format!(
                "\"src\",\"data/part-{i}.csv\",\"{}\",\"2026-12-06T10:00:00.000Z\"\n",
                100 + i
            )
        })
        .collect()
}

#[tokio::test]
async fn an_s3_inventory_gives_one_item_per_row_of_its_files_keyed_by_the_file_schema() {
    let store = store_with(&[
        (
            "s3://inv/src/cfg/2026-12-07T00-00Z/manifest.json",
            manifest("CSV", &["src/cfg/data/a.csv.gz", "src/cfg/data/b.csv.gz"]),
        ),
        ("s3://inv/src/cfg/data/a.csv.gz", gzip(&inventory_csv(0..3))),
        (
            "s3://inv/src/cfg/data/b.csv.gz",
            gzip(&format!("\n{}\n", inventory_csv(3..5))),
        ),
    ])
    .await;
    let want = Value::Array((0..5).map(inventory_row).collect());
    let sm = distributed(manifest_reader(json!({})), json!({}));
    let e = run(&sm, json!({}), &store).await;
    assert_eq!(e.output.as_ref(), Some(&want), "{:?}", e.cause);
    // `ManifestType` S3_INVENTORY, without an `InputType`, reads the same inventory.
    let mut reader = manifest_reader(json!({}));
    reader["ReaderConfig"] = json!({"ManifestType": "S3_INVENTORY"});
    let e = read_all(reader, &store).await;
    assert_eq!(e.output, Some(want), "{:?}", e.cause);
}

#[tokio::test]
async fn an_inventory_stops_reading_its_files_at_max_items() {
    // The second file is not there: reading it would fail the run.
    let store = store_with(&[
        (
            "s3://inv/src/cfg/2026-12-07T00-00Z/manifest.json",
            manifest(
                "CSV",
                &["src/cfg/data/a.csv.gz", "src/cfg/data/gone.csv.gz"],
            ),
        ),
        ("s3://inv/src/cfg/data/a.csv.gz", gzip(&inventory_csv(0..3))),
    ])
    .await;
    let sm = distributed(manifest_reader(json!({"MaxItems": 2})), json!({}));
    let e = run(&sm, json!({}), &store).await;
    let want: Vec<Value> = (0..2).map(inventory_row).collect();
    assert_eq!(e.output, Some(Value::Array(want)), "{:?}", e.cause);

    let sm = distributed(manifest_reader(json!({})), json!({}));
    let e = run(&sm, json!({}), &store).await;
    assert_fails(
        &e,
        "States.ItemReaderFailed",
        "s3://inv/src/cfg/2026-12-07T00-00Z/manifest.json: inventory file s3://inv/src/cfg/data/gone.csv.gz: The specified key does not exist.",
    );
}

#[tokio::test]
async fn an_inventory_that_is_not_csv_fails_naming_its_format() {
    let store = store_with(&[(
        "s3://inv/src/cfg/2026-12-07T00-00Z/manifest.json",
        manifest("Parquet", &["src/cfg/data/a.parquet"]),
    )])
    .await;
    let e = read_all(manifest_reader(json!({})), &store).await;
    assert_fails(
        &e,
        "States.ItemReaderFailed",
        "s3://inv/src/cfg/2026-12-07T00-00Z/manifest.json: the inventory's fileFormat is Parquet; an S3 inventory read as items must be CSV",
    );
}

#[tokio::test]
async fn item_batcher_limits_of_0_are_no_limit_as_max_items_of_0_is() {
    let store = store_with(&[("s3://b/file.csv", CSV.into())]).await;
    for batcher in [
        json!({"MaxItemsPerBatch": 0}),
        json!({"MaxInputBytesPerBatch": 0}),
        json!({"MaxItemsPerBatchPath": "$.zero", "MaxInputBytesPerBatchPath": "$.zero"}),
    ] {
        let sm = distributed(csv_reader(json!({})), json!({"ItemBatcher": batcher}));
        let e = run(&sm, json!({"zero": 0}), &store).await;
        assert_eq!(
            e.output,
            Some(json!([{"Items": rows(4)}])),
            "{batcher}: {:?}",
            e.cause
        );
    }
    let sm = distributed(
        csv_reader(json!({})),
        json!({"ItemBatcher": {"MaxItemsPerBatch": 3}}),
    );
    let e = run(&sm, json!({}), &store).await;
    let all = rows(4);
    assert_eq!(
        e.output,
        Some(json!([{"Items": all[..3]}, {"Items": all[3..]}])),
        "{:?}",
        e.cause
    );
}
