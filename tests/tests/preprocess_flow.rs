//! The training flow with the optional preprocessing step on the local cloud, end to end: the
//! processing job (the real `mdlc-trainer preprocess` by the processing contract) splits a raw
//! labelled CSV, training reads its outputs, the registered version records the data profile,
//! and evaluations report feature drift against that profile without being given one: stable on
//! a fresh batch, significant on a shifted one.

use mdlc_asl::{Execution, ExecutionStatus};
use mdlc_core::S3Uri;
use mdlc_core::drift::DriftLevel;
use mdlc_core::names::{processing_job_name, short_hash};
use mdlc_core::ports::{ObjectStore, RegistryRead};
use mdlc_emulator::JobKind;
use mdlc_local::{LocalCloud, LocalCloudConfig};
use mdlc_tests::ensure_trainer;
use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use mdlc_trainer::dataset::Dataset;
use serde_json::{Value, json};

const MODEL: &str = "prep-model";
const DATE: &str = "2026-03-01";

async fn put(cloud: &LocalCloud, uri: &str, body: String) {
    let uri: S3Uri = uri.parse().unwrap();
    cloud.store().put(&uri, body.into_bytes()).await.unwrap();
}

async fn text(cloud: &LocalCloud, uri: &str) -> String {
    let uri: S3Uri = uri.parse().unwrap();
    String::from_utf8(cloud.store().get(&uri).await.unwrap()).unwrap()
}

fn features_only(csv: &str) -> String {
    csv.lines()
        .map(|l| format!("{}\n", l.split_once(',').map_or("", |x| x.1)))
        .collect()
}

fn positives(csv: &str) -> usize {
    csv.lines()
        .filter(|l| l.split(',').next().is_some_and(|y| y.trim() == "1"))
        .count()
}

async fn run(cloud: &LocalCloud, flow: &str, name: &str, input: Value) -> Execution {
    let machine = cloud.state_machine(flow).cloned().expect("state machine");
    let e = cloud
        .execute(flow, &machine, name, input, None)
        .await
        .unwrap();
    assert_eq!(
        e.status,
        ExecutionStatus::Succeeded,
        "{name}: {:?} {:?}",
        e.error,
        e.cause
    );
    e
}

/// Uploads an evaluation batch (features and labels) for `date`.
async fn batch(cloud: &LocalCloud, date: &str, rows: &Dataset) -> Value {
    let base = format!("s3://{}/datasets/{MODEL}/{date}/evaluation", cloud.bucket());
    let csv = rows.to_csv();
    put(
        cloud,
        &format!("{base}/features/batch.csv"),
        features_only(&csv),
    )
    .await;
    put(cloud, &format!("{base}/labels/batch.csv"), csv).await;
    // Lax monitoring: these evaluations are about drift, never about retraining.
    json!({"modelName": MODEL, "dataDate": date, "problemType": "binary",
           "monitoring": {"maxDegradation": 1000.0}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preprocessing_splits_the_raw_data_training_uses_it_and_evaluations_report_drift() {
    ensure_trainer();
    let dir = tempfile::tempdir().unwrap();
    let cloud = LocalCloud::new(LocalCloudConfig::new(dir.path().join(".mdlc"))).unwrap();
    let mut cfg = GenerateConfig::new(Problem::Binary, 600, 4, 5);
    cfg.validation_rows = Some(200);
    cfg.holdout_rows = Some(400);
    cfg.drift_rows = Some(400);
    let data = generate(&cfg).unwrap();
    let raw = format!("{}{}", data.train.to_csv(), data.validation.to_csv());
    let raw_rows = raw.lines().count();
    let raw_positives = positives(&raw);
    let raw_prefix = format!("s3://{}/datasets/{MODEL}/{DATE}/raw/", cloud.bucket());
    put(&cloud, &format!("{raw_prefix}all.csv"), raw).await;

    let training = run(
        &cloud,
        "training",
        "prep-train",
        json!({
            "modelName": MODEL, "dataDate": DATE, "problemType": "binary",
            "tuning": {"enabled": false, "staticHyperParameters": {"num_round": "20"}},
            "preprocessing": {"raw": raw_prefix, "validationRatio": 0.25, "seed": 9}
        }),
    )
    .await;
    let out = training.output.unwrap();
    assert_eq!(out["version"], 1, "{out}");

    // The processing job ran (first try: suffix 0) and completed.
    let execution_arn = out["executionArn"].as_str().unwrap();
    let job = format!(
        "{}-0",
        processing_job_name(MODEL, DATE, &short_hash(execution_arn))
    );
    let describe = cloud
        .emulator()
        .describe(JobKind::Processing, &job)
        .unwrap_or_else(|e| panic!("processing job {job}: {e:?}"));
    assert_eq!(describe["ProcessingJobStatus"], "Completed", "{describe:#}");
    let outputs = describe["ProcessingOutputConfig"]["Outputs"]
        .as_array()
        .unwrap();
    let output = |name: &str| {
        outputs
            .iter()
            .find(|o| o["OutputName"] == name)
            .and_then(|o| o["S3Output"]["S3Uri"].as_str())
            .unwrap_or_else(|| panic!("no {name} output"))
            .to_string()
    };

    // A stratified split of every raw row, by the requested ratio.
    let train_csv = text(&cloud, &format!("{}train.csv", output("train"))).await;
    let validation_csv = text(&cloud, &format!("{}validation.csv", output("validation"))).await;
    let (train_rows, validation_rows) = (train_csv.lines().count(), validation_csv.lines().count());
    assert_eq!(train_rows + validation_rows, raw_rows);
    assert!(
        (validation_rows as f64 / raw_rows as f64 - 0.25).abs() < 0.01,
        "{validation_rows} of {raw_rows}"
    );
    let share = |p: usize, n: usize| p as f64 / n as f64;
    assert!(
        (share(positives(&validation_csv), validation_rows) - share(raw_positives, raw_rows)).abs()
            < 0.01,
        "stratified by label"
    );

    // Training read the processing outputs.
    let version = cloud
        .registry()
        .get_version(MODEL, 1)
        .await
        .unwrap()
        .unwrap();
    let trained = cloud
        .emulator()
        .describe(JobKind::Training, &version.record.training_job_name)
        .unwrap();
    let channels: Vec<(String, String)> = trained["InputDataConfig"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["ChannelName"].as_str().unwrap().to_string(),
                c["DataSource"]["S3DataSource"]["S3Uri"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        vec![
            ("train".to_string(), output("train")),
            ("validation".to_string(), output("validation"))
        ]
    );

    // The version records the profile the processing job wrote (lineage).
    let profile_uri = version
        .record
        .profile_uri
        .clone()
        .expect("the version records its data profile");
    assert_eq!(profile_uri, format!("{}profile.json", output("profile")));
    assert_eq!(
        out["profileUri"],
        json!(profile_uri),
        "the training output names it"
    );
    let profile: Value = serde_json::from_str(&text(&cloud, &profile_uri).await).unwrap();
    assert_eq!(profile["rows"], raw_rows);
    assert_eq!(profile["features"].as_array().unwrap().len(), 4);

    // Evaluations without a profile in their input measure drift against the version's.
    let fresh = batch(&cloud, "2026-03-02", &data.holdout).await;
    let e = run(&cloud, "evaluation", "prep-eval-fresh", fresh).await;
    let fresh_out = e.output.unwrap();
    let drifted = batch(&cloud, "2026-03-03", &data.drifted).await;
    let e = run(&cloud, "evaluation", "prep-eval-drifted", drifted).await;
    let drifted_out = e.output.unwrap();
    let level = |out: &Value| {
        out["evaluation"]["drift"]["level"]
            .as_str()
            .map(String::from)
    };
    assert_eq!(
        level(&fresh_out).as_deref(),
        Some("stable"),
        "{fresh_out:#}"
    );
    assert_eq!(
        level(&drifted_out).as_deref(),
        Some("significant"),
        "{drifted_out:#}"
    );
    assert_eq!(
        drifted_out["evaluation"]["drift"]["features"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // The registry's evaluation records keep the drift.
    let records = cloud
        .registry()
        .list_evaluations(MODEL, None)
        .await
        .unwrap();
    let levels: Vec<Option<DriftLevel>> = records
        .iter()
        .map(|r| r.drift.as_ref().map(|d| d.level))
        .collect();
    assert_eq!(
        levels,
        vec![Some(DriftLevel::Stable), Some(DriftLevel::Significant)]
    );
}
