//! `mdlc demo --dataset` on a labelled data set whose FIRST evaluation already retrains: the
//! retrain names no data of that date, so it trains on version 1's own training data plus the
//! evaluated batch with its ground truth (the retrain-data rule), and the demo completes.

use mdlc_core::input::DataSource;
use mdlc_core::ports::RegistryRead;
use mdlc_local::FsRegistry;
use mdlc_local::demo::{DemoOptions, Problem, run_demo};
use mdlc_tests::ensure_trainer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_dataset_whose_first_evaluation_retrains_trains_on_v1_data_plus_the_batch() {
    ensure_trainer();
    let dir = tempfile::tempdir().unwrap();
    // The user's data set: seeded generated data whose holdout is the generator's DRIFTED rows,
    // so the very first evaluation (of a date with no raw data) finds the model degraded.
    let mut cfg = mdlc_trainer::data::GenerateConfig::new(Problem::Regression, 600, 5, 7);
    cfg.drift_rows = Some(300);
    let data = mdlc_trainer::data::generate(&cfg).unwrap();
    let user = dir.path().join("mydata");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("train.csv"), data.train.to_csv()).unwrap();
    std::fs::write(user.join("validation.csv"), data.validation.to_csv()).unwrap();
    std::fs::write(user.join("holdout.csv"), data.drifted.to_csv()).unwrap();

    let state = dir.path().join(".mdlc");
    let mut opts = DemoOptions::new(&state);
    opts.dataset = Some(user);
    opts.problem = Problem::Regression;
    opts.num_round = 30;
    opts.max_jobs = 4;
    opts.real_time = false;
    let summary = run_demo(&opts, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("demo failed: {e}"));

    let first = &summary.evaluations[0];
    assert!(first.retrain, "the first evaluation retrains: {first:?}");
    assert_eq!(first.new_version, Some(2), "{first:?}");
    assert_eq!(summary.evaluations.len(), 3, "every evaluation ran");

    // Version 2 was trained on version 1's channels plus the labelled batch of that evaluation.
    let registry = FsRegistry::new(state.join("registry"));
    let v1 = registry
        .get_version("demo-model", 1)
        .await
        .unwrap()
        .unwrap();
    let v2 = registry
        .get_version("demo-model", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2.record.parent_version, Some(1));
    assert_eq!(v2.record.data_date, first.data_date);
    let s3 = |d: &DataSource| match d {
        DataSource::S3Uri(u) => u.clone(),
        other => panic!("unexpected channel {other:?}"),
    };
    let v1_data = v1.record.training_data.expect("v1 records its channels");
    let v2_data = v2.record.training_data.expect("v2 records its channels");
    assert_ne!(s3(&v1_data.train), s3(&v2_data.train));
    let processing_jobs = state.join("sagemaker/processing-jobs");
    let retrain_job = std::fs::read_dir(&processing_jobs)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(&first.data_date.replace('-', "")))
        })
        .expect("the retrain's processing job");
    let describe: serde_json::Value =
        serde_json::from_slice(&std::fs::read(retrain_job.join("describe.json")).unwrap()).unwrap();
    let inputs: Vec<&str> = describe["ProcessingInputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["S3Input"]["S3Uri"].as_str().unwrap())
        .collect();
    assert_eq!(inputs.len(), 3, "{inputs:?}");
    assert_eq!(inputs[0], s3(&v1_data.train).to_string());
    assert_eq!(inputs[1], s3(&v1_data.validation).to_string());
    assert!(inputs[2].ends_with("/labelled/"), "{inputs:?}");
    // The processing job split all of it: v2's channels hold more rows than v1's.
    let rows = |uri: &mdlc_core::S3Uri| {
        let dir = state.join("s3").join(&uri.bucket).join(&uri.key);
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            n += std::fs::read_to_string(e.path()).unwrap().lines().count();
        }
        n
    };
    let (v1_rows, v2_rows) = (
        rows(&s3(&v1_data.train)) + rows(&s3(&v1_data.validation)),
        rows(&s3(&v2_data.train)) + rows(&s3(&v2_data.validation)),
    );
    assert!(
        v2_rows > v1_rows,
        "v2 trained on v1's {v1_rows} rows plus the batch, got {v2_rows}"
    );
}
