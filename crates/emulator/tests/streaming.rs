//! The emulator streams what it moves between the object store and jobs: a File channel is
//! downloaded in ranges (or copied as a file from a store that keeps files), a transform job's
//! input is read in ranges and its answers go to a file, so neither holds an object whole. The
//! store here refuses whole reads of the large objects and records the largest range asked for.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use common::*;
use mdlc_core::memory::InMemoryStore;
use mdlc_core::ports::{ObjectInfo, ObjectStore};
use mdlc_core::{PortError, S3Uri};
use serde_json::json;

/// Objects larger than this may only be read in ranges.
const WHOLE_READ_LIMIT: usize = 1 << 20;

/// An in-memory store that refuses a whole `get` of an object over [`WHOLE_READ_LIMIT`] and
/// records the largest range read.
struct RangesOnly {
    inner: Arc<InMemoryStore>,
    largest_range: AtomicU64,
}

#[async_trait]
impl ObjectStore for RangesOnly {
    async fn get(&self, uri: &S3Uri) -> Result<Vec<u8>, PortError> {
        let body = self.inner.get(uri).await?;
        if body.len() > WHOLE_READ_LIMIT {
            return Err(PortError::Rejected {
                message: format!("{uri} ({} bytes) was read whole", body.len()),
            });
        }
        Ok(body)
    }

    async fn get_range(&self, uri: &S3Uri, offset: u64, len: u64) -> Result<Vec<u8>, PortError> {
        self.largest_range.fetch_max(len, Ordering::Relaxed);
        let body = self.inner.get(uri).await?;
        let start = (offset as usize).min(body.len());
        let end = start.saturating_add(len as usize).min(body.len());
        Ok(body[start..end].to_vec())
    }

    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), PortError> {
        self.inner.put(uri, body).await
    }

    async fn list(&self, prefix: &S3Uri) -> Result<Vec<ObjectInfo>, PortError> {
        self.inner.list(prefix).await
    }

    async fn exists(&self, uri: &S3Uri) -> Result<bool, PortError> {
        self.inner.exists(uri).await
    }
}

fn setup_ranges_only() -> (Env, Arc<RangesOnly>) {
    let mut made = None;
    let env = setup_with("", |c| {
        let store = Arc::new(RangesOnly {
            inner: Arc::new(InMemoryStore::new()),
            largest_range: AtomicU64::new(0),
        });
        c.store = store.clone();
        made = Some(store);
    });
    let store = made.unwrap();
    // the tests' helpers put and get through env.store: make it the wrapped store
    let env = Env {
        store: store.inner.clone(),
        ..env
    };
    (env, store)
}

/// `n` lines `i,1` (i = 0..n): about 7 bytes a line.
fn lines(n: usize) -> String {
    (0..n).map(|i| format!("{i},1\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_channel_larger_than_a_range_is_downloaded_in_ranges_whole_and_exact() {
    let (env, store) = setup_ranges_only();
    // over one download range (8 MiB), so it takes two and a short one
    let body = lines(1_400_000);
    assert!(body.len() as u64 > mdlc_emulator::files::DOWNLOAD_RANGE);
    put(&env.store, "s3://bucket/data/train/a.csv", &body).await;
    let d = env
        .ok(
            "createTrainingJob",
            true,
            training_request("ranged-channel", json!({"epochs": "1"})),
        )
        .await;
    assert_eq!(d["TrainingJobStatus"], "Completed", "{d:#}");
    let model = env
        .model_json(text(&d["ModelArtifacts"], "S3ModelArtifacts"))
        .await;
    assert_eq!(model["channels"]["train"]["files"], json!(["a.csv"]));
    assert!(
        model["channels"]["train"]["contents"][0] == json!(body),
        "the job read the object exactly"
    );
    assert_eq!(
        store.largest_range.load(Ordering::Relaxed),
        mdlc_emulator::files::DOWNLOAD_RANGE
    );
}

/// A transform job over an object of 1,000,000 records (about 6.9 MB) with MultiRecord payloads
/// of at most 1 MB: the input is read in ranges, never whole, records split across ranges come
/// out whole, and the output has one answer per record in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_job_streams_an_object_larger_than_its_ranges_in_order() {
    let (env, store) = setup_ranges_only();
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
    let d = env
        .ok(
            "createTrainingJob",
            true,
            training_request("for-stream", json!({"epochs": "1", "x": "0"})),
        )
        .await;
    let url = text(&d["ModelArtifacts"], "S3ModelArtifacts").to_string();
    env.ok(
        "createModel",
        false,
        json!({"ModelName": "m-stream", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url}}),
    )
    .await;
    let n = 1_000_000;
    put(&env.store, "s3://bucket/stream/in/part-1.csv", &lines(n)).await;
    // the training job's channel was downloaded in ranges of its own size
    store.largest_range.store(0, Ordering::Relaxed);
    let d = env
        .ok(
            "createTransformJob",
            true,
            json!({
                "TransformJobName": "stream-batch",
                "ModelName": "m-stream",
                "MaxPayloadInMB": 1,
                "MaxConcurrentTransforms": 2,
                "BatchStrategy": "MultiRecord",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/stream/in/"}},
                    "ContentType": "text/csv",
                    "SplitType": "Line"
                },
                "TransformOutput": {"S3OutputPath": "s3://bucket/stream/out/", "AssembleWith": "Line"},
                "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
            }),
        )
        .await;
    assert_eq!(d["TransformJobStatus"], "Completed", "{d:#}");
    let out =
        String::from_utf8(get(&env.store, "s3://bucket/stream/out/part-1.csv.out").await).unwrap();
    let answers: Vec<&str> = out.lines().collect();
    assert_eq!(answers.len(), n, "one answer per record");
    for (i, a) in answers.iter().enumerate().step_by(9973) {
        let v: f64 = a.parse().unwrap_or_else(|_| panic!("answer {i}: {a:?}"));
        assert_eq!(v, i as f64 + 1.0, "answer {i} is record {i}'s");
    }
    assert_eq!(answers[n - 1].parse::<f64>().unwrap(), n as f64);
    let largest = store.largest_range.load(Ordering::Relaxed);
    assert!(
        largest > 0 && largest <= 4 << 20,
        "the input was read in ranges of at most 4 MiB ({largest})"
    );
    // the answers went through a file of the job's scratch, which is gone with the job
    let dir = env
        .emu
        .job_dir(mdlc_emulator::JobKind::Transform, "stream-batch");
    assert!(!dir.join("transform-output.part").exists());
}

/// CreateTransformJob's limits on payloads (API reference): MaxPayloadInMB at most 100, and
/// MaxConcurrentTransforms * MaxPayloadInMB at most 100 when MaxConcurrentTransforms is given
/// (MaxPayloadInMB defaulting to 6); both are ValidationExceptions naming the fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_limits_over_100_mb_are_refused_naming_the_fields() {
    let env = setup();
    let request = |extra: serde_json::Value| {
        let mut r = json!({
            "TransformJobName": "limits",
            "ModelName": "none",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
                "SplitType": "Line"
            },
            "TransformOutput": {"S3OutputPath": "s3://bucket/out/"},
            "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
        });
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let f = env
        .fail(
            "createTransformJob",
            false,
            request(json!({"MaxConcurrentTransforms": 5, "MaxPayloadInMB": 30})),
        )
        .await;
    assert!(
        f.cause.contains("ValidationException")
            && f.cause
                .contains("MaxConcurrentTransforms (5) * MaxPayloadInMB (30) is 150 MB"),
        "{}",
        f.cause
    );
    // the default of 6 MB counts: 17 * 6 = 102
    let f = env
        .fail(
            "createTransformJob",
            false,
            request(json!({"MaxConcurrentTransforms": 17})),
        )
        .await;
    assert!(f.cause.contains("is 102 MB"), "{}", f.cause);
    let f = env
        .fail(
            "createTransformJob",
            false,
            request(json!({"MaxPayloadInMB": 101})),
        )
        .await;
    assert!(f.cause.contains("MaxPayloadInMB"), "{}", f.cause);
    // within the limits, only the missing model is wrong
    let f = env
        .fail(
            "createTransformJob",
            false,
            request(json!({"MaxConcurrentTransforms": 16, "MaxPayloadInMB": 6})),
        )
        .await;
    assert!(!f.cause.contains("cannot exceed 100 MB"), "{}", f.cause);
    assert!(f.cause.contains("Could not find model"), "{}", f.cause);
}
