//! Pipe input mode end to end with the fake container: one FIFO per channel and epoch
//! (`<channel>_0`, `_1`, …), each epoch streaming the channel's objects in order, the next FIFO
//! made only once the previous one was closed; and the combinations SageMaker refuses.

mod common;

use common::*;
use serde_json::{Value, json};

fn pipe_request(name: &str, hps: Value, channels: Value) -> Value {
    let mut req = training_request(name, hps);
    req["AlgorithmSpecification"]["TrainingInputMode"] = json!("Pipe");
    req["InputDataConfig"] = channels;
    req
}

fn s3_channel(name: &str, uri: &str) -> Value {
    json!({"ChannelName": name, "ContentType": "text/csv",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}})
}

async fn finished_model(env: &Env, req: Value) -> Value {
    let d = env.ok("createTrainingJob", true, req).await;
    assert_eq!(status(&d, "TrainingJobStatus"), "Completed", "{d:#}");
    let artifacts = d["ModelArtifacts"]["S3ModelArtifacts"].as_str().unwrap();
    env.model_json(artifacts).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_channel_is_a_fifo_per_epoch_streaming_its_objects_in_key_order() {
    let env = setup();
    put(&env.store, "s3://bucket/p/train/b.csv", "3,4\n").await;
    put(&env.store, "s3://bucket/p/train/a.csv", "1,2\n").await;
    put(&env.store, "s3://bucket/p/train/sub/c.csv", "5,6\n").await;
    put(&env.store, "s3://bucket/p/validation/v.csv", "7,8\n").await;
    let req = pipe_request(
        "pipe-epochs",
        json!({"pipe_epochs": "3"}),
        json!([
            s3_channel("train", "s3://bucket/p/train/"),
            s3_channel("validation", "s3://bucket/p/validation/")
        ]),
    );
    let model = finished_model(&env, req).await;
    let train = &model["pipes"]["train"];
    assert_eq!(train["epoch0"], "1,2\n3,4\n5,6\n", "{model:#}");
    assert_eq!(train["bytes"], json!([12, 12, 12]));
    assert_eq!(train["is_fifo"], true);
    assert_eq!(
        train["dir_exists"], false,
        "a Pipe channel has no directory"
    );
    assert_eq!(
        train["next_before_close"],
        json!([false, false, false]),
        "the next epoch's FIFO appears only after the previous one is closed"
    );
    assert_eq!(model["pipes"]["validation"]["bytes"], json!([4, 4, 4]));
    assert_eq!(
        model["input_config"]["inputdataconfig"]["train"]["TrainingInputMode"],
        "Pipe"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_closed_early_ends_and_the_next_streams_from_the_start() {
    let env = setup();
    let big: String = (0..20_000).map(|i| format!("{i},{}\n", i * 2)).collect();
    put(&env.store, "s3://bucket/e/train/a.csv", &big).await;
    let req = pipe_request(
        "pipe-early",
        json!({"pipe_epochs": "3", "pipe_read_bytes": "10"}),
        json!([s3_channel("train", "s3://bucket/e/train/")]),
    );
    let model = finished_model(&env, req).await;
    assert_eq!(model["pipes"]["train"]["bytes"], json!([10, 10, 10]));
    assert_eq!(model["pipes"]["train"]["epoch0"], big[..10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_and_a_gzip_pipe_channel_stream_in_the_manifests_order_decompressed() {
    use std::io::Write;
    let env = setup();
    put(&env.store, "s3://bucket/m/x.csv", "x\n").await;
    put(&env.store, "s3://bucket/m/y.csv", "y\n").await;
    put(
        &env.store,
        "s3://bucket/m/list.manifest",
        r#"[{"prefix": "s3://bucket/m/"}, "y.csv", "x.csv"]"#,
    )
    .await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"1,2\n3,4\n").unwrap();
    let u: mdlc_core::S3Uri = "s3://bucket/g/train.csv.gz".parse().unwrap();
    mdlc_core::ports::ObjectStore::put(env.store.as_ref(), &u, gz.finish().unwrap())
        .await
        .unwrap();
    let mut gz_channel = s3_channel("train", "s3://bucket/g/");
    gz_channel["CompressionType"] = json!("Gzip");
    let req = pipe_request(
        "pipe-manifest",
        json!({}),
        json!([
            gz_channel,
            {"ChannelName": "validation", "ContentType": "text/csv",
             "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://bucket/m/list.manifest"}}}
        ]),
    );
    let model = finished_model(&env, req).await;
    assert_eq!(model["pipes"]["train"]["epoch0"], "1,2\n3,4\n");
    assert_eq!(model["pipes"]["validation"]["epoch0"], "y\nx\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pipe_channel_beside_a_file_channel_each_as_its_mode_says() {
    let env = setup();
    put(&env.store, "s3://bucket/mix/train/a.csv", "1\n").await;
    put(&env.store, "s3://bucket/mix/validation/v.csv", "2\n").await;
    let mut piped = s3_channel("validation", "s3://bucket/mix/validation/");
    piped["InputMode"] = json!("Pipe");
    let mut req = training_request("pipe-mixed", json!({}));
    req["InputDataConfig"] = json!([s3_channel("train", "s3://bucket/mix/train/"), piped]);
    let model = finished_model(&env, req).await;
    assert_eq!(model["channels"]["train"]["contents"], json!(["1\n"]));
    assert_eq!(model["pipes"]["validation"]["epoch0"], "2\n");
    assert!(model["pipes"].get("train").is_none());
}

#[tokio::test]
async fn gzip_in_file_mode_is_refused_with_sagemakers_message() {
    let env = setup();
    let mut req = training_request("file-gzip", json!({}));
    req["InputDataConfig"][0]["CompressionType"] = json!("Gzip");
    let f = env.fail("createTrainingJob", false, req).await;
    assert_eq!(f.error, "SageMaker.AmazonSageMakerException");
    assert!(
        f.cause.starts_with(
            "Invalid compression type for channel train: File mode only supports NONE, got Gzip instead (Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException;"
        ),
        "{}",
        f.cause
    );
}

#[tokio::test]
async fn pipe_for_a_file_system_channel_is_refused() {
    let fs_root = tempfile::tempdir().unwrap();
    let root = fs_root.path().to_path_buf();
    let env = setup_with("", |c| {
        c.file_systems.insert("*".into(), root);
    });
    let mut req = pipe_request(
        "pipe-efs",
        json!({}),
        json!([{"ChannelName": "train", "ContentType": "text/csv",
            "DataSource": {"FileSystemDataSource": {"FileSystemId": "fs-0123456789abcdef0",
                "FileSystemAccessMode": "ro", "FileSystemType": "EFS", "DirectoryPath": "/data"}}}]),
    );
    req["VpcConfig"] = json!({"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]});
    let f = env.fail("createTrainingJob", false, req).await;
    assert!(
        f.cause.contains(
            "Channel train: a FileSystemDataSource channel must use File input mode, got Pipe"
        ),
        "{}",
        f.cause
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_channel_without_objects_fails_the_job_as_sagemaker_does() {
    let env = setup();
    let req = pipe_request(
        "pipe-empty",
        json!({}),
        json!([s3_channel("train", "s3://bucket/none/")]),
    );
    let f = env.fail("createTrainingJob", true, req).await;
    let d: Value = serde_json::from_str(&f.cause).unwrap();
    assert_eq!(status(&d, "TrainingJobStatus"), "Failed");
    assert!(
        status(&d, "FailureReason")
            .starts_with("ClientError: No S3 objects found under S3 URL \"s3://bucket/none/\""),
        "{d:#}"
    );
}

/// ShuffleConfig in Pipe mode: an S3Prefix channel's keys and a ManifestFile channel's object
/// references stream in the order the Seed draws (the emulator's ChaCha8 shuffle, fixed for a
/// seed), another seed gives another order, and without ShuffleConfig the order is key order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuffle_config_orders_a_pipe_channels_objects_by_its_seed() {
    let env = setup();
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}.csv")).collect();
    for (i, k) in keys.iter().enumerate() {
        put(
            &env.store,
            &format!("s3://bucket/sh/data/{k}"),
            &format!("{i}\n"),
        )
        .await;
    }
    let manifest = json!([{"prefix": "s3://bucket/sh/data/"}])
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .chain(keys.iter().map(|k| json!(k)))
        .collect::<Vec<Value>>();
    put(
        &env.store,
        "s3://bucket/sh/list.manifest",
        &Value::Array(manifest).to_string(),
    )
    .await;
    let epoch0 = |seed: Option<i64>, name: &str| {
        let mut prefix = s3_channel("train", "s3://bucket/sh/data/");
        let mut listed = json!({"ChannelName": "validation", "ContentType": "text/csv",
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://bucket/sh/list.manifest"}}});
        if let Some(seed) = seed {
            prefix["ShuffleConfig"] = json!({"Seed": seed});
            listed["ShuffleConfig"] = json!({"Seed": seed});
        }
        let req = pipe_request(name, json!({}), json!([prefix, listed]));
        let env = &env;
        async move {
            let model = finished_model(env, req).await;
            (
                model["pipes"]["train"]["epoch0"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                model["pipes"]["validation"]["epoch0"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        }
    };
    let (plain, plain_manifest) = epoch0(None, "shuffle-none").await;
    assert_eq!(plain, "0\n1\n2\n3\n4\n5\n6\n7\n");
    assert_eq!(plain_manifest, plain);
    let (seeded, seeded_manifest) = epoch0(Some(7), "shuffle-7").await;
    assert_eq!(seeded, "0\n7\n5\n2\n4\n1\n6\n3\n", "seed 7's order");
    assert_eq!(seeded_manifest, seeded, "the manifest's references alike");
    let (again, _) = epoch0(Some(7), "shuffle-7-again").await;
    assert_eq!(again, seeded, "the same seed, the same order");
    let (other, _) = epoch0(Some(8), "shuffle-8").await;
    assert_ne!(other, seeded, "another seed, another order");
    let mut lines: Vec<&str> = other.lines().collect();
    lines.sort();
    assert_eq!(lines, ["0", "1", "2", "3", "4", "5", "6", "7"]);
}

/// ShuffleConfig's Seed is required and a Long (API reference); a missing or malformed one is a
/// ValidationException naming the field.
#[tokio::test]
async fn shuffle_config_without_a_long_seed_is_refused_naming_the_field() {
    let env = setup();
    for (config, expected) in [
        (
            json!({}),
            "1 validation error detected: 'InputDataConfig[0].ShuffleConfig.Seed' is required",
        ),
        (
            json!({"Seed": "7"}),
            "1 validation error detected: 'InputDataConfig[0].ShuffleConfig.Seed' must be a Long (a whole number from -2^63 to 2^63-1), got \"7\"",
        ),
        (
            json!({"Seed": 1.5}),
            "'InputDataConfig[0].ShuffleConfig.Seed' must be a Long",
        ),
    ] {
        let mut req = training_request("shuffle-bad", json!({}));
        req["InputDataConfig"][0]["ShuffleConfig"] = config;
        let f = env.fail("createTrainingJob", false, req).await;
        assert_eq!(f.error, "SageMaker.AmazonSageMakerException");
        assert!(f.cause.contains(expected), "{}", f.cause);
    }
    // a negative Long is a seed
    env.put_train_data().await;
    let mut req = training_request("shuffle-negative", json!({}));
    req["InputDataConfig"][0]["ShuffleConfig"] = json!({"Seed": -9_000_000_000_i64});
    let d = env.ok("createTrainingJob", true, req).await;
    assert_eq!(status(&d, "TrainingJobStatus"), "Completed", "{d:#}");
    assert_eq!(
        d["InputDataConfig"][0]["ShuffleConfig"]["Seed"],
        json!(-9_000_000_000_i64)
    );
}
