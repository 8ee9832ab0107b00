//! Distributed Map: ItemBatcher, ResultWriter and the Map Run's ARNs, over the
//! [`crate::ItemStore`] of the execution options (the ItemReader is [`crate::reader`]).

use serde_json::{Map, Value, json};

use crate::api::{ExecutionOptions, ItemStore};
use crate::exec::eval::{FieldInput, dyn_u64, eval_ja, eval_jp};
use crate::exec::failure::{Failure, runtime};
use crate::exec::types::StateRun;
use crate::model::{ItemBatcher, Kind, OutputType, Ql, ResultWriter, Transformation, WriterConfig};
use crate::template::Template;

/// `Parameters` (JSONPath) or `Arguments` (JSONata) of a reader, batcher or writer; `{}`
/// without them. `field` names the template in a JSONata error (`ItemReader/Arguments`); a
/// JSONPath error names the payload field itself, as AWS's does.
pub(crate) fn eval_params(
    sr: &StateRun<'_>,
    t: Option<&Template>,
    field: &str,
    at: &FieldInput<'_, '_>,
) -> Result<Value, Failure> {
    match (t, sr.st.ql, at.jenv) {
        (None, _, _) => Ok(Value::Object(Map::new())),
        (Some(t), Ql::Jsonata, Some(e)) => eval_ja(sr, t, field, e),
        (Some(t), _, _) => eval_jp(sr, t, at.input, at.env),
    }
}

/// The label of a Map Run's ARN: the state's `Label`, or a UUID without one.
fn map_run_label(sr: &StateRun<'_>) -> String {
    let label = match &sr.st.kind {
        Kind::Map(m) => m.label.clone(),
        _ => None,
    };
    label.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The items in batches of at most `MaxItemsPerBatch` items and `MaxInputBytesPerBatch`
/// bytes, each `{"BatchInput": …, "Items": […]}`. A limit of 0 is no limit, as AWS reads a
/// `MaxItems` of 0 (recorded, for a fixed value and a path); what AWS does with a batcher's 0
/// is not documented.
pub(crate) fn batch(
    sr: &StateRun<'_>,
    b: &ItemBatcher,
    items: Vec<Value>,
    at: &FieldInput<'_, '_>,
) -> Result<Vec<Value>, Failure> {
    let max_items = dyn_u64(sr, b.max_items.as_ref(), "MaxItemsPerBatch", at)?
        .filter(|n| *n > 0)
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let max_bytes = dyn_u64(sr, b.max_bytes.as_ref(), "MaxInputBytesPerBatch", at)?
        .filter(|n| *n > 0)
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let batch_input = match &b.batch_input {
        Some(t) => Some(eval_params(sr, Some(t), "ItemBatcher/BatchInput", at)?),
        None => None,
    };
    let mut out = Vec::new();
    let mut cur: Vec<Value> = Vec::new();
    let mut cur_bytes = 0usize;
    let finish = |cur: Vec<Value>, out: &mut Vec<Value>| {
        let mut m = Map::new();
        if let Some(bi) = &batch_input {
            m.insert("BatchInput".into(), bi.clone());
        }
        m.insert("Items".into(), Value::Array(cur));
        out.push(Value::Object(m));
    };
    for item in items {
        let size = serde_json::to_string(&item).map(|s| s.len()).unwrap_or(0);
        let full_items = max_items.is_some_and(|m| cur.len() >= m);
        let full_bytes = max_bytes.is_some_and(|m| !cur.is_empty() && cur_bytes + size > m);
        if full_items || full_bytes {
            finish(std::mem::take(&mut cur), &mut out);
            cur_bytes = 0;
        }
        cur_bytes += size;
        cur.push(item);
    }
    if !cur.is_empty() {
        finish(cur, &mut out);
    }
    Ok(out)
}

/// A Distributed Map's results as its `ResultWriter` says. With `WriterConfig` alone (AWS:
/// "preview the formatted output without saving the results to Amazon S3") the state's
/// result is the transformed results; with `Resource` and `Parameters` they are exported as
/// a manifest and a SUCCEEDED file (`Transformation` NONE and `OutputType` JSON unless a
/// `WriterConfig` says otherwise), and the result is the `MapRunArn` and the manifest's
/// location.
pub(crate) async fn write_results(
    opts: &ExecutionOptions,
    sr: &StateRun<'_>,
    w: &ResultWriter,
    results: Value,
    run: &MapRun,
    at: &FieldInput<'_, '_>,
) -> Result<Value, Failure> {
    let items = match results {
        Value::Array(a) => a,
        other => vec![other],
    };
    if w.parameters.is_none() {
        let t = w
            .config
            .map_or(Transformation::Compact, |c| c.transformation);
        return Ok(Value::Array(transform(t, run, items)));
    }
    let config = w.config.unwrap_or(WriterConfig {
        transformation: Transformation::None,
        output_type: OutputType::Json,
    });
    let dest = destination(opts, sr, w, at)?;
    let records = transform(config.transformation, run, items);
    let key = write_manifest(&dest, run, config.output_type, &records).await?;
    Ok(
        json!({"MapRunArn": run.map_run_arn, "ResultWriterDetails": {"Bucket": dest.bucket, "Key": key}}),
    )
}

/// A Distributed Map's Map Run (its ARN is in the parent's `MapRunStarted` event and in the
/// results written): `arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>`, as AWS
/// names it, and its children's names: state machine `...:stateMachine:<machine>/<label>`,
/// executions `...:execution:<machine>/<label>:<name>`.
pub(crate) struct MapRun {
    map_run_id: String,
    map_run_arn: String,
    state_machine_arn: String,
    /// `<machine>/<label>`.
    labelled: String,
    region: String,
    account: String,
}

impl MapRun {
    pub(crate) fn new(opts: &ExecutionOptions, sr: &StateRun<'_>) -> MapRun {
        let map_run_id = uuid::Uuid::new_v4().to_string();
        let labelled = format!("{}/{}", opts.state_machine_name, map_run_label(sr));
        MapRun {
            map_run_arn: format!(
                "arn:aws:states:{}:{}:mapRun:{labelled}:{map_run_id}",
                opts.region, opts.account
            ),
            map_run_id,
            state_machine_arn: opts.state_machine_arn(),
            labelled,
            region: opts.region.clone(),
            account: opts.account.clone(),
        }
    }

    pub(crate) fn arn(&self) -> &str {
        &self.map_run_arn
    }

    /// The children's state machine ARN.
    pub(crate) fn child_machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.region, self.account, self.labelled
        )
    }

    /// The ARN of the child execution `name`.
    pub(crate) fn child_execution_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:execution:{}:{name}",
            self.region, self.account, self.labelled
        )
    }
}

/// The results as `Transformation` says: NONE, each output as a JSON string with its child
/// execution's metadata; COMPACT, the outputs; FLATTEN, the outputs with each array output's
/// elements in its place (a failed child's error output is an object, so it stays as it is).
fn transform(t: Transformation, run: &MapRun, items: Vec<Value>) -> Vec<Value> {
    match t {
        Transformation::None => execution_records(run, &items),
        Transformation::Compact => items,
        Transformation::Flatten => items
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(a) => a,
                other => vec![other],
            })
            .collect(),
    }
}

/// One child execution record per output, as in AWS's SUCCEEDED files.
fn execution_records(run: &MapRun, items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .enumerate()
        .map(|(i, out)| {
            json!({
                "ExecutionArn": format!("{}:{i}", run.map_run_arn),
                "Name": format!("{}-{i}", run.map_run_id),
                "Output": serde_json::to_string(out).unwrap_or_default(),
                "Status": "SUCCEEDED",
                "StateMachineArn": run.state_machine_arn,
            })
        })
        .collect()
}

/// The bucket and prefix of the writer's `Parameters` (`Arguments`), and the item store.
fn destination<'a>(
    opts: &'a ExecutionOptions,
    sr: &StateRun<'_>,
    w: &ResultWriter,
    at: &FieldInput<'_, '_>,
) -> Result<Destination<'a>, Failure> {
    let params = eval_params(sr, w.parameters.as_ref(), "ResultWriter/Arguments", at)?;
    let Some(store) = opts.item_store.as_deref() else {
        return Err(Failure::new(
            "States.ResultWriterFailed",
            format!(
                "state '{}' writes its results to S3, but no item store is configured for this execution",
                sr.st.name
            ),
        ));
    };
    let text = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let bucket = text("Bucket");
    if bucket.is_empty() {
        return Err(runtime(sr, "ResultWriter parameters need a 'Bucket'"));
    }
    Ok(Destination {
        store,
        bucket,
        prefix: text("Prefix"),
    })
}

/// Where a Map Run writes its results.
struct Destination<'a> {
    store: &'a dyn ItemStore,
    bucket: String,
    prefix: String,
}

impl Destination<'_> {
    /// `<prefix>/<map run id>/<name>`.
    fn key(&self, run: &MapRun, name: &str) -> String {
        join_key(&self.prefix, &format!("{}/{name}", run.map_run_id))
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), Failure> {
        self.store
            .put(&format!("s3://{}/{key}", self.bucket), body)
            .await
            .map_err(|e| Failure::new("States.ResultWriterFailed", e.to_string()))
    }
}

/// The records as a JSON array or as JSON lines.
fn serialize(records: &[Value], output_type: OutputType) -> Vec<u8> {
    match output_type {
        OutputType::Json => serde_json::to_vec(records).unwrap_or_default(),
        OutputType::Jsonl => records
            .iter()
            .map(|v| serde_json::to_string(v).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
    }
}

/// AWS's layout: a SUCCEEDED file (`SUCCEEDED_0.json`, or `.jsonl` for JSON lines) with the
/// records, and the manifest that lists it; returns the manifest's key.
async fn write_manifest(
    dest: &Destination<'_>,
    run: &MapRun,
    output_type: OutputType,
    records: &[Value],
) -> Result<String, Failure> {
    let ext = match output_type {
        OutputType::Json => "json",
        OutputType::Jsonl => "jsonl",
    };
    let results_key = dest.key(run, &format!("SUCCEEDED_0.{ext}"));
    let manifest_key = dest.key(run, "manifest.json");
    let body = serialize(records, output_type);
    let manifest = json!({
        "DestinationBucket": dest.bucket,
        "MapRunArn": run.map_run_arn,
        "ResultFiles": {
            "FAILED": [],
            "PENDING": [],
            "SUCCEEDED": [{"Key": results_key, "Size": body.len()}],
        }
    });
    dest.put(&results_key, body).await?;
    let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
    dest.put(&manifest_key, manifest).await?;
    Ok(manifest_key)
}

fn join_key(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_string()
    } else if prefix.ends_with('/') {
        format!("{prefix}{rest}")
    } else {
        format!("{prefix}/{rest}")
    }
}
