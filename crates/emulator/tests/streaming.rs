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
use serde_json::{Value, json};

/// Objects larger than this may only be read in ranges.
const WHOLE_READ_LIMIT: usize = 1 << 20;

/// An in-memory store that refuses a whole `get` of an object over [`WHOLE_READ_LIMIT`] and
/// records the largest range read and how many ranges were read.
struct RangesOnly {
    inner: Arc<InMemoryStore>,
    largest_range: AtomicU64,
    ranged_reads: AtomicU64,
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
        self.ranged_reads.fetch_add(1, Ordering::Relaxed);
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
            ranged_reads: AtomicU64::new(0),
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

/// A transform job whose input is a `ManifestFile`: only the objects the manifest lists are
/// transformed, each to `<output>/<its key relative to the manifest's prefix>.out`; a manifest
/// naming an object that is not there fails the job, naming both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_file_transform_input_transforms_the_listed_objects_only() {
    let (env, _) = setup_ranges_only();
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
    let d = env
        .ok(
            "createTrainingJob",
            true,
            training_request("for-manifest", json!({"epochs": "1", "x": "0"})),
        )
        .await;
    let url = text(&d["ModelArtifacts"], "S3ModelArtifacts").to_string();
    env.ok(
        "createModel",
        false,
        json!({"ModelName": "m-manifest", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url}}),
    )
    .await;
    put(&env.store, "s3://bucket/mf-in/a.csv", "1\n2\n").await;
    put(&env.store, "s3://bucket/mf-in/sub/b.csv", "3\n").await;
    put(&env.store, "s3://bucket/mf-in/skip.csv", "9\n").await;
    let manifest = json!([{"prefix": "s3://bucket/mf-in/"}, "sub/b.csv", "a.csv"]).to_string();
    put(&env.store, "s3://bucket/mf/list.manifest", &manifest).await;
    let job = |name: &str, manifest: &str| {
        json!({
            "TransformJobName": name,
            "ModelName": "m-manifest",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": manifest}},
                "ContentType": "text/csv",
                "SplitType": "Line"
            },
            "TransformOutput": {"S3OutputPath": format!("s3://bucket/mf-out/{name}/"), "AssembleWith": "Line"},
            "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
        })
    };
    let d = env
        .ok(
            "createTransformJob",
            true,
            job("listed", "s3://bucket/mf/list.manifest"),
        )
        .await;
    assert_eq!(d["TransformJobStatus"], "Completed", "{d:#}");
    let answers = |body: Vec<u8>| -> Vec<f64> {
        String::from_utf8(body)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect()
    };
    let a = get(&env.store, "s3://bucket/mf-out/listed/a.csv.out").await;
    let b = get(&env.store, "s3://bucket/mf-out/listed/sub/b.csv.out").await;
    assert_eq!((answers(a), answers(b)), (vec![1.0, 2.0], vec![3.0]));
    let skipped: Result<Vec<u8>, _> = env
        .store
        .get(
            &"s3://bucket/mf-out/listed/skip.csv.out"
                .parse::<S3Uri>()
                .unwrap(),
        )
        .await;
    assert!(
        skipped.is_err(),
        "an object the manifest does not list is not transformed"
    );

    let gone = json!([{"prefix": "s3://bucket/mf-in/"}, "gone.csv"]).to_string();
    put(&env.store, "s3://bucket/mf/gone.manifest", &gone).await;
    let f = env
        .fail(
            "createTransformJob",
            true,
            job("gone", "s3://bucket/mf/gone.manifest"),
        )
        .await;
    let d = described(&f);
    assert_eq!(d["TransformJobStatus"], "Failed", "{d:#}");
    assert_eq!(
        text(&d, "FailureReason"),
        "ClientError: the manifest file s3://bucket/mf/gone.manifest lists s3://bucket/mf-in/gone.csv, which does not exist"
    );
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

/// `n` records of generated text data (seeded): `r<i>:` and 0 to 399 random letters and digits.
fn generated_records(seed: u64, n: usize) -> Vec<Vec<u8>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let len = rng.random_range(0..400);
            let mut r = format!("r{i}:").into_bytes();
            r.extend((0..len).map(|_| rng.sample(rand::distr::Alphanumeric)));
            r
        })
        .collect()
}

/// How many records each MultiRecord request holds when `sizes` are packed greedily into
/// payloads of at most `max` bytes (a record never split).
fn greedy_counts(sizes: &[usize], max: usize) -> Vec<usize> {
    let mut counts = Vec::new();
    let (mut bytes, mut n) = (0, 0);
    for s in sizes {
        if n > 0 && bytes + s > max {
            counts.push(n);
            (bytes, n) = (0, 0);
        }
        bytes += s;
        n += 1;
    }
    if n > 0 {
        counts.push(n);
    }
    counts
}

/// A model of the fake container (it answers framed requests with `k/n data` per record).
async fn framed_model(env: &Env, name: &str) -> String {
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
    let d = env
        .ok(
            "createTrainingJob",
            true,
            training_request(&format!("{name}-train"), json!({"epochs": "1"})),
        )
        .await;
    let url = text(&d["ModelArtifacts"], "S3ModelArtifacts").to_string();
    env.ok(
        "createModel",
        false,
        json!({"ModelName": name, "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url}}),
    )
    .await;
    name.to_string()
}

fn framed_transform(name: &str, model: &str, split: &str, strategy: &str, input: &str) -> Value {
    let content_type = match split {
        "RecordIO" => "application/x-recordio-protobuf",
        _ => "application/x-tfrecord",
    };
    json!({
        "TransformJobName": name,
        "ModelName": model,
        "MaxPayloadInMB": 1,
        "MaxConcurrentTransforms": 2,
        "BatchStrategy": strategy,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input}},
            "ContentType": content_type,
            "SplitType": split
        },
        "TransformOutput": {"S3OutputPath": format!("s3://bucket/framed/out/{name}/")},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
    })
}

/// The answers of a framed transform (`k/n data` lines) as the requests' record counts and the
/// records' data in order; a request whose lines do not run 1/n … n/n fails the test.
fn requests_and_records(out: &[u8]) -> (Vec<usize>, Vec<Vec<u8>>) {
    let (mut counts, mut data) = (Vec::new(), Vec::new());
    let mut expect_k = 1;
    for line in String::from_utf8(out.to_vec()).unwrap().lines() {
        let (kn, d) = line.split_once(' ').unwrap_or((line, ""));
        let (k, n) = kn.split_once('/').expect("k/n");
        let (k, n): (usize, usize) = (k.parse().unwrap(), n.parse().unwrap());
        assert_eq!(k, expect_k, "line {line:?}");
        if k == n {
            counts.push(n);
            expect_k = 1;
        } else {
            expect_k += 1;
        }
        data.push(d.as_bytes().to_vec());
    }
    assert_eq!(expect_k, 1, "the last request's lines are all there");
    (counts, data)
}

/// SplitType TFRecord and RecordIO over seeded generated objects of about 6.5 MB (so records
/// straddle the 4 MiB input ranges): MultiRecord requests hold exactly the records that fit in
/// MaxPayloadInMB (1 MiB) with their framing, in order; SingleRecord sends one record a request;
/// the objects are read in ranges, never whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_objects_are_split_into_records_and_batched_by_the_payload_limit() {
    let (env, store) = setup_ranges_only();
    let model = framed_model(&env, "framed").await;
    let records = generated_records(17, 30_000);
    for (split, encode) in [
        (
            "TFRecord",
            mdlc_emulator::records::encode_tfrecord as fn(&[u8]) -> Vec<u8>,
        ),
        ("RecordIO", mdlc_emulator::records::encode_recordio),
    ] {
        let framed: Vec<Vec<u8>> = records.iter().map(|r| encode(r)).collect();
        let body = framed.concat();
        assert!(body.len() > 6 << 20, "{split}: {} bytes", body.len());
        let input = format!("s3://bucket/framed/in-{split}/");
        let uri: S3Uri = format!("{input}part.bin").parse().unwrap();
        env.store.put(&uri, body).await.unwrap();
        store.largest_range.store(0, Ordering::Relaxed);
        let name = format!("framed-multi-{}", split.to_lowercase());
        let d = env
            .ok(
                "createTransformJob",
                true,
                framed_transform(&name, &model, split, "MultiRecord", &input),
            )
            .await;
        assert_eq!(d["TransformJobStatus"], "Completed", "{d:#}");
        let out = get(
            &env.store,
            &format!("s3://bucket/framed/out/{name}/part.bin.out"),
        )
        .await;
        let (counts, data) = requests_and_records(&out);
        assert_eq!(data, records, "{split}: every record's data, in order");
        let sizes: Vec<usize> = framed.iter().map(Vec::len).collect();
        assert_eq!(counts, greedy_counts(&sizes, 1 << 20), "{split}");
        assert!(counts.len() > 6, "{split}: {counts:?}");
        let largest = store.largest_range.load(Ordering::Relaxed);
        assert!(
            largest > 0 && largest <= 4 << 20,
            "{split}: read in ranges of at most 4 MiB ({largest})"
        );
    }
    // SingleRecord: one record a request
    let few: Vec<Vec<u8>> = records[..300].to_vec();
    let body: Vec<u8> = few
        .iter()
        .flat_map(|r| mdlc_emulator::records::encode_recordio(r))
        .collect();
    put_bytes(&env, "s3://bucket/framed/single/part.rec", body).await;
    let d = env
        .ok(
            "createTransformJob",
            true,
            framed_transform(
                "framed-single",
                &model,
                "RecordIO",
                "SingleRecord",
                "s3://bucket/framed/single/",
            ),
        )
        .await;
    assert_eq!(d["TransformJobStatus"], "Completed", "{d:#}");
    let out = get(
        &env.store,
        "s3://bucket/framed/out/framed-single/part.rec.out",
    )
    .await;
    let (counts, data) = requests_and_records(&out);
    assert_eq!(counts, vec![1; 300]);
    assert_eq!(data, few);
}

async fn put_bytes(env: &Env, uri: &str, body: Vec<u8>) {
    let u: S3Uri = uri.parse().unwrap();
    env.store.put(&u, body).await.unwrap();
}

/// A corrupt TFRecord (a data byte changed), a RecordIO record without its magic number, a
/// truncated object and a record over MaxPayloadInMB each fail the job with a FailureReason
/// naming the object and the record's byte offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_oversized_framed_record_fails_the_job_naming_the_object_and_offset() {
    use mdlc_emulator::records::{encode_recordio, encode_tfrecord};
    let env = setup();
    let model = framed_model(&env, "corrupt").await;
    let records = generated_records(5, 2_000);
    let offset_of = |framed: &[Vec<u8>], i: usize| framed[..i].iter().map(Vec::len).sum::<usize>();
    let cases: Vec<(&str, &str, Vec<u8>, String)> = {
        let tf: Vec<Vec<u8>> = records.iter().map(|r| encode_tfrecord(r)).collect();
        let at = offset_of(&tf, 1_234);
        let mut bad_crc = tf.concat();
        bad_crc[at + 12] ^= 0x20;
        let rio: Vec<Vec<u8>> = records.iter().map(|r| encode_recordio(r)).collect();
        let at_rio = offset_of(&rio, 777);
        let mut bad_magic = rio.concat();
        bad_magic[at_rio] = 0x0b;
        let whole = tf.concat();
        let cut = whole.len() - 2;
        let mut oversized = tf[..3].concat();
        let big_at = oversized.len();
        oversized.extend(encode_tfrecord(&vec![b'x'; 1 << 20]));
        vec![
            (
                "crc",
                "TFRecord",
                bad_crc,
                format!("has a TFRecord at byte offset {at} whose data CRC does not match"),
            ),
            (
                "magic",
                "RecordIO",
                bad_magic,
                format!(
                    "is not RecordIO at byte offset {at_rio}: expected the magic number 0xced7230a"
                ),
            ),
            (
                "cut",
                "TFRecord",
                whole[..cut].to_vec(),
                format!(
                    "ends inside the TFRecord record at byte offset {}: the record needs 2 more bytes",
                    offset_of(&tf, 1_999)
                ),
            ),
            (
                "big",
                "TFRecord",
                oversized,
                format!(
                    "has a record of {} bytes at byte offset {big_at}, larger than MaxPayloadInMB (1048576 bytes)",
                    (1 << 20) + 16
                ),
            ),
        ]
    };
    for (case, split, body, expected) in cases {
        let object = format!("s3://bucket/framed/bad-{case}/x.{case}");
        put_bytes(&env, &object, body).await;
        let f = env
            .fail(
                "createTransformJob",
                true,
                framed_transform(
                    &format!("framed-{case}"),
                    &model,
                    split,
                    "MultiRecord",
                    &format!("s3://bucket/framed/bad-{case}/"),
                ),
            )
            .await;
        let d = described(&f);
        assert_eq!(d["TransformJobStatus"], "Failed", "{case}: {d:#}");
        let reason = text(&d, "FailureReason");
        assert!(
            reason.starts_with(&format!("ClientError: {object} {expected}")),
            "{case}: {reason}"
        );
    }
}

/// With MaxPayloadInMB 0 (no limit) a framed record's header that puts its end past the
/// object's (a TFRecord length of 1 TiB; a RecordIO part of 2^29 - 1 bytes) in an object of
/// 20 MiB fails the job as cut short, naming the object and offset, after one range of the
/// object is read: the rest is not read into memory first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framed_header_past_the_objects_end_fails_after_one_range_without_a_payload_limit() {
    let (env, store) = setup_ranges_only();
    let model = framed_model(&env, "past-end").await;
    let size: u64 = 20 << 20;
    let tf_len = 1u64 << 40;
    let mut tf = tf_len.to_le_bytes().to_vec();
    tf.extend_from_slice(
        &mdlc_emulator::records::masked_crc32c(&tf_len.to_le_bytes()).to_le_bytes(),
    );
    let part_len = (1u64 << 29) - 1;
    let mut rio = mdlc_emulator::records::RECORDIO_MAGIC
        .to_le_bytes()
        .to_vec();
    rio.extend_from_slice(&(part_len as u32).to_le_bytes());
    for (split, header, needed) in [
        ("TFRecord", tf, 12 + tf_len + 4 - size),
        ("RecordIO", rio, 8 + part_len + 1 - size),
    ] {
        let mut body = header;
        body.resize(size as usize, 7);
        let object = format!("s3://bucket/past-end/{split}/x.bin");
        put_bytes(&env, &object, body).await;
        store.ranged_reads.store(0, Ordering::Relaxed);
        let mut request = framed_transform(
            &format!("past-end-{}", split.to_lowercase()),
            &model,
            split,
            "MultiRecord",
            &format!("s3://bucket/past-end/{split}/"),
        );
        request["MaxPayloadInMB"] = json!(0);
        let f = env.fail("createTransformJob", true, request).await;
        let d = described(&f);
        assert_eq!(d["TransformJobStatus"], "Failed", "{split}: {d:#}");
        assert_eq!(
            text(&d, "FailureReason"),
            format!(
                "ClientError: {object} ends inside the {split} record at byte offset 0: the record needs {needed} more bytes than the object has"
            ),
            "{split}"
        );
        assert_eq!(
            store.ranged_reads.load(Ordering::Relaxed),
            1,
            "{split}: one range of the object read"
        );
    }
}

/// A ManifestFile channel of four objects, one over a download range (8 MiB), in File mode and
/// in FastFile mode on a store without local files (a copy): each listed object is downloaded in
/// ranges, never read whole, and the job reads every one byte for byte under its manifest path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_channels_objects_are_downloaded_in_ranges_and_read_exactly() {
    let (env, store) = setup_ranges_only();
    let big = lines(1_300_000);
    assert!(big.len() as u64 > mdlc_emulator::files::DOWNLOAD_RANGE);
    let objects = [
        ("big.csv", big.clone()),
        ("sub/b.csv", lines(10)),
        ("c.csv", "7,7\n".to_string()),
        ("sub/deeper/d.csv", lines(3)),
    ];
    for (key, body) in &objects {
        put(&env.store, &format!("s3://bucket/mf/data/{key}"), body).await;
    }
    // an object under the prefix that the manifest does not list
    put(&env.store, "s3://bucket/mf/data/unlisted.csv", "0\n").await;
    put(
        &env.store,
        "s3://bucket/mf/list.manifest",
        r#"[{"prefix": "s3://bucket/mf/data/"}, "sub/b.csv", "big.csv", "sub/deeper/d.csv", "c.csv"]"#,
    )
    .await;
    for mode in ["File", "FastFile"] {
        store.largest_range.store(0, Ordering::Relaxed);
        let mut req = training_request(
            &format!("manifest-{}", mode.to_lowercase()),
            json!({"epochs": "1"}),
        );
        req["InputDataConfig"][0]["InputMode"] = json!(mode);
        req["InputDataConfig"][0]["DataSource"]["S3DataSource"] =
            json!({"S3DataType": "ManifestFile", "S3Uri": "s3://bucket/mf/list.manifest"});
        let d = env.ok("createTrainingJob", true, req).await;
        assert_eq!(d["TrainingJobStatus"], "Completed", "{mode}: {d:#}");
        let model = env
            .model_json(text(&d["ModelArtifacts"], "S3ModelArtifacts"))
            .await;
        let channel = &model["channels"]["train"];
        // the fake container lists the channel's files sorted, with their contents
        let mut expected: Vec<(&str, &String)> = objects.iter().map(|(k, b)| (*k, b)).collect();
        expected.sort();
        let files: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
        assert_eq!(channel["files"], json!(files), "{mode}");
        for (i, (key, body)) in expected.iter().enumerate() {
            assert!(
                channel["contents"][i] == json!(body),
                "{mode}: {key} was read exactly"
            );
        }
        assert_eq!(
            store.largest_range.load(Ordering::Relaxed),
            mdlc_emulator::files::DOWNLOAD_RANGE,
            "{mode}: downloaded in ranges"
        );
    }
}
