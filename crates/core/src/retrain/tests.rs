use chrono::NaiveDate;
use serde_json::json;

use super::*;
use crate::contract::sample_version;
use crate::input::{Context, FileSystemSource, FileSystemType, validate};
use crate::memory::InMemoryStore;
use crate::registry::VersionStatus;

fn uri(s: &str) -> S3Uri {
    s.parse().unwrap()
}

fn resolved(raw: &Value) -> ExecutionInput {
    let ctx = Context {
        artifact_bucket: "mdlc-artifacts",
        region: "us-east-1",
        today: NaiveDate::from_ymd_opt(2024, 6, 8).unwrap(),
        account: Some("123456789012"),
    };
    validate(raw, &ctx).unwrap()
}

fn evaluation_output() -> S3Uri {
    uri("s3://mdlc-artifacts/evaluations/churn/2024-06-08/run1/")
}

/// Version 3, trained on the processing outputs of its run.
fn version() -> ModelVersion {
    ModelVersion {
        version: 3,
        status: VersionStatus::Registered,
        record: sample_version("churn", "t"),
    }
}

fn rule(raw: Value) -> (ExecutionInput, RetrainPlan) {
    let input = resolved(&raw);
    let plan = plan(&raw, &input, &evaluation_output());
    (input, plan)
}

const V_TRAIN: &str = "s3://mdlc-artifacts/models/churn/run/preprocessing/train/";
const V_VALIDATION: &str = "s3://mdlc-artifacts/models/churn/run/preprocessing/validation/";
const GROUND_TRUTH: &str = "s3://mdlc-artifacts/datasets/churn/2024-06-08/evaluation/labels/";

#[test]
fn given_no_named_data_and_preprocessing_then_version_data_plus_labelled_batch() {
    let (input, plan) = rule(json!({"modelName": "churn", "preprocessing": {"seed": 7}}));
    assert_eq!(plan.source, RetrainSource::Version);
    let batch = uri("s3://mdlc-artifacts/evaluations/churn/2024-06-08/run1/labelled/");
    assert_eq!(plan.labelled_batch.as_ref(), Some(&batch));
    let data = resolve(&input, &plan, &version()).unwrap();
    assert_eq!(
        data.raw,
        vec![uri(V_TRAIN), uri(V_VALIDATION), batch.clone()]
    );
    assert_eq!(
        data.required,
        vec![uri(V_TRAIN), uri(V_VALIDATION), uri(GROUND_TRUTH)],
        "the ground truth stands for the batch MonitorPerformance writes later"
    );
    // The training input: the processing job reads the three locations.
    let training = training_input(&input, &data);
    assert_eq!(training.preprocessing.unwrap().raw, data.raw);
    assert_eq!(training.data.train, DataSource::S3Uri(uri(V_TRAIN)));
}

/// An evaluation input carrying `split: false` (the block of a training input that profiled
/// its given channels): the retrain's processing job still splits the version's data plus the
/// batch, since the batch has to be divided between the channels.
#[test]
fn given_split_false_in_the_evaluation_input_then_the_retrain_splits_all_the_same() {
    let (input, plan) = rule(json!({"modelName": "churn", "preprocessing": {"split": false}}));
    assert!(!input.preprocessing.as_ref().unwrap().split);
    let data = resolve(&input, &plan, &version()).unwrap();
    let p = training_input(&input, &data).preprocessing.unwrap();
    assert!(p.split, "the retrain splits");
    assert_eq!(p.raw.len(), 3, "{:?}", p.raw);
}

#[test]
fn given_no_named_data_without_preprocessing_then_the_version_channels_unchanged() {
    let (input, plan) = rule(json!({"modelName": "churn"}));
    assert_eq!(plan.source, RetrainSource::Version);
    assert_eq!(
        plan.labelled_batch, None,
        "no processing job to add the batch"
    );
    let data = resolve(&input, &plan, &version()).unwrap();
    assert!(data.raw.is_empty());
    assert_eq!(data.required, vec![uri(V_TRAIN), uri(V_VALIDATION)]);
    let training = training_input(&input, &data);
    assert_eq!(training.data.train, DataSource::S3Uri(uri(V_TRAIN)));
    assert_eq!(
        training.data.validation,
        DataSource::S3Uri(uri(V_VALIDATION))
    );
    assert!(training.preprocessing.is_none());
}

#[test]
fn given_named_raw_then_it_wins_over_the_version_data() {
    let raw = "s3://data/churn/2024-06-08/raw/";
    let (input, plan) = rule(json!({"modelName": "churn", "preprocessing": {"raw": raw}}));
    assert_eq!(
        plan,
        RetrainPlan {
            source: RetrainSource::Input,
            labelled_batch: None
        }
    );
    let data = resolve(&input, &plan, &version()).unwrap();
    assert_eq!(
        (data.raw.clone(), data.required.clone()),
        (vec![uri(raw)], vec![uri(raw)])
    );
    assert_eq!(
        training_input(&input, &data).preprocessing.unwrap().raw,
        vec![uri(raw)]
    );
}

#[test]
fn given_named_channels_then_they_win_and_without_preprocessing_are_trained_on() {
    let (train, validation) = ("s3://data/new/train/", "s3://data/new/validation/");
    let (input, plan) = rule(json!({"modelName": "churn",
        "data": {"train": train, "validation": {"s3Uri": validation}}}));
    assert_eq!(plan.source, RetrainSource::Input);
    let data = resolve(&input, &plan, &version()).unwrap();
    assert_eq!(data.required, vec![uri(train), uri(validation)]);
    assert_eq!(
        training_input(&input, &data).data.train,
        DataSource::S3Uri(uri(train))
    );
    // With preprocessing (and no raw), the named channels are the processing job's inputs.
    let (input, plan) = rule(json!({"modelName": "churn", "preprocessing": {},
        "data": {"train": train, "validation": validation}}));
    let data = resolve(&input, &plan, &version()).unwrap();
    assert_eq!(data.raw, vec![uri(train), uri(validation)]);
}

#[test]
fn given_one_channel_named_then_the_other_is_required() {
    let problems = input_problems(&json!({"data": {"train": "s3://d/t/"}}));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "/data/validation");
    assert!(input_problems(&json!({"data": {"validation": "s3://d/v/"}}))[0].0 == "/data/train");
    assert!(
        input_problems(&json!({"data": {"train": "s3://d/t/", "validation": "s3://d/v/"}}))
            .is_empty()
    );
    assert!(input_problems(&json!({"modelName": "m"})).is_empty());
}

#[test]
fn given_a_version_without_lineage_then_retrain_data_missing_says_what_to_name() {
    let (input, plan) = rule(json!({"modelName": "churn"}));
    let mut v = version();
    v.record.training_data = None;
    let e = resolve(&input, &plan, &v).unwrap_err();
    assert_eq!(e.name().as_str(), "RetrainDataMissing");
    let text = e.to_string();
    assert!(
        text.contains("version 3") && text.contains("preprocessing.raw"),
        "{text}"
    );
}

#[test]
fn given_file_system_channels_then_unchecked_without_preprocessing_and_refused_with_it() {
    let mut v = version();
    let fs = DataSource::FileSystem(FileSystemSource {
        id: "fs-0123456789abcdef0".into(),
        kind: FileSystemType::FsxLustre,
        directory_path: "/fsx/churn/train".into(),
        read_only: true,
    });
    v.record.training_data = Some(TrainingData {
        train: fs.clone(),
        validation: DataSource::S3Uri(uri(V_VALIDATION)),
    });
    let (input, plan) = rule(json!({"modelName": "churn"}));
    let data = resolve(&input, &plan, &v).unwrap();
    assert_eq!(data.train, fs);
    assert_eq!(
        data.required,
        vec![uri(V_VALIDATION)],
        "S3 can only check S3"
    );
    let (input, plan) = rule(json!({"modelName": "churn", "preprocessing": {}}));
    let e = resolve(&input, &plan, &v).unwrap_err().to_string();
    assert!(
        e.contains("file system") && e.contains("preprocessing.raw"),
        "{e}"
    );
}

#[tokio::test]
async fn given_missing_locations_then_every_one_is_named_and_present_ones_pass() {
    let store = InMemoryStore::new();
    let (input, plan) = rule(json!({"modelName": "churn", "preprocessing": {}}));
    let e = resolve_and_check(&store, &input, &plan, &version())
        .await
        .unwrap_err();
    assert_eq!(e.name().as_str(), "RetrainDataMissing");
    let text = e.to_string();
    for location in [V_TRAIN, V_VALIDATION, GROUND_TRUTH] {
        assert!(text.contains(location), "{location} not in {text}");
    }
    for location in [V_TRAIN, V_VALIDATION, GROUND_TRUTH] {
        store
            .put(&uri(location).join("part.csv"), b"1,2\n".to_vec())
            .await
            .unwrap();
    }
    let data = resolve_and_check(&store, &input, &plan, &version())
        .await
        .unwrap();
    assert_eq!(data.source, RetrainSource::Version);
}

#[test]
fn given_features_and_labels_then_rows_are_joined_label_first() {
    assert_eq!(
        labelled_rows("2,3\n4,5\n", "1\n0\n").unwrap(),
        "1,2,3\n0,4,5\n"
    );
    // A full labelled CSV as ground truth: its first column is the label.
    assert_eq!(labelled_rows("2,3\n", "7.5,2,3\n\n").unwrap(), "7.5,2,3\n");
    let (line, message) = labelled_rows("2,3\n4,5\n", "1\n").unwrap_err();
    assert_eq!(line, 2);
    assert!(message.contains("2 feature rows but 1"), "{message}");
    assert_eq!(labelled_rows("2\n\n4\n", "1\n0\n1\n").unwrap_err().0, 2);
}

#[test]
fn given_raw_lists_then_one_serializes_as_a_string_and_many_as_an_array() {
    let input = resolved(
        &json!({"modelName": "churn", "preprocessing": {"raw": ["s3://aaa/x/", "s3://bbb/y.csv"]}}),
    );
    let p = input.preprocessing.as_ref().unwrap();
    assert_eq!(p.raw.len(), 2);
    let back = serde_json::to_value(&input).unwrap();
    assert_eq!(
        back["preprocessing"]["raw"],
        json!(["s3://aaa/x/", "s3://bbb/y.csv"])
    );
    assert_eq!(resolved(&back), input, "the resolved input round-trips");
    let one = resolved(&json!({"modelName": "churn", "preprocessing": {"raw": "s3://aaa/x/"}}));
    assert_eq!(
        serde_json::to_value(&one).unwrap()["preprocessing"]["raw"],
        "s3://aaa/x/"
    );
    let ctx = Context {
        artifact_bucket: "mdlc-artifacts",
        region: "us-east-1",
        today: NaiveDate::from_ymd_opt(2024, 6, 8).unwrap(),
        account: Some("123456789012"),
    };
    let too_many: Vec<String> = (0..11).map(|i| format!("s3://aaa/{i}/")).collect();
    let problems = validate(
        &json!({"modelName": "m", "preprocessing": {"raw": too_many}}),
        &ctx,
    )
    .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.pointer == "/preprocessing/raw" && p.message.contains("1 to 10")),
        "{problems:?}"
    );
    let problems = validate(
        &json!({"modelName": "m", "preprocessing": {"raw": ["s3://aaa/", "x"]}}),
        &ctx,
    )
    .unwrap_err();
    assert!(
        problems.iter().any(|p| p.pointer == "/preprocessing/raw/1"),
        "{problems:?}"
    );
}
