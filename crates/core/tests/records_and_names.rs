//! Exact values of the small vocabulary of core: the wire names of input enums, the SageMaker
//! shape of a VPC, the registry's keys, statuses and timestamps, resource names of long models,
//! and which inputs name a retrain's data.

use chrono::{NaiveDate, TimeZone, Utc};
use mdlc_core::S3Uri;
use mdlc_core::input::{
    Context, EarlyStopping, ExecutionInput, FileSystemType, Preprocessing, ProblemType, VpcConfig,
    validate,
};
use mdlc_core::names::{RunNames, processing_job_name};
use mdlc_core::registry::{
    VersionStatus, execution_marker_key, format_timestamp, version_sort_key,
};
use mdlc_core::retrain::{RetrainSource, plan};
use serde_json::{Value, json};

#[test]
fn given_input_enums_when_named_then_each_has_its_wire_name() {
    assert_eq!(ProblemType::Regression.as_str(), "regression");
    assert_eq!(ProblemType::Binary.as_str(), "binary");
    assert_eq!(FileSystemType::Efs.as_str(), "EFS");
    assert_eq!(FileSystemType::FsxLustre.as_str(), "FSxLustre");
    assert_eq!(EarlyStopping::Off.sagemaker(), "Off");
    assert_eq!(EarlyStopping::Auto.sagemaker(), "Auto");
}

#[test]
fn given_a_vpc_config_when_given_to_sagemaker_then_it_is_its_vpc_config_shape() {
    let vpc = VpcConfig {
        subnets: vec!["subnet-1".into(), "subnet-2".into()],
        security_group_ids: vec!["sg-1".into()],
    };
    assert_eq!(
        vpc.sagemaker(),
        json!({"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]})
    );
}

#[test]
fn given_raw_inputs_in_json_when_deserialized_then_one_uri_or_a_list_is_read() {
    let p = |raw: Value| -> Preprocessing {
        serde_json::from_value(json!({
            "enabled": true, "raw": raw, "validationRatio": 0.2, "seed": 1, "bins": 10,
            "image": "i", "instanceType": "ml.m5.large", "volumeSizeGb": 30, "maxRuntimeSeconds": 60
        }))
        .unwrap()
    };
    assert_eq!(p(json!("s3://raw/a.csv")).raw, [S3Uri::new("raw", "a.csv")]);
    assert_eq!(
        p(json!(["s3://raw/a.csv", "s3://raw/b.csv"])).raw,
        [S3Uri::new("raw", "a.csv"), S3Uri::new("raw", "b.csv")]
    );
}

#[test]
fn given_each_version_status_when_named_and_parsed_then_it_round_trips() {
    for (status, name) in [
        (VersionStatus::Registered, "Registered"),
        (VersionStatus::Approved, "Approved"),
        (VersionStatus::Rejected, "Rejected"),
        (VersionStatus::Retired, "Retired"),
    ] {
        assert_eq!(status.as_str(), name);
        assert_eq!(VersionStatus::parse(name), Some(status));
    }
    assert_eq!(VersionStatus::parse("registered"), None);
}

#[test]
fn given_registry_keys_and_times_when_formatted_then_they_are_exact() {
    assert_eq!(version_sort_key(42), "V#0000000042");
    assert_eq!(execution_marker_key("arn:x"), "X#arn:x");
    let at = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 5).unwrap();
    assert_eq!(format_timestamp(at), "2024-06-01T12:00:05.000Z");
}

#[test]
fn given_a_48_character_model_when_names_are_derived_then_each_is_cut_to_its_limit() {
    let model = "m".repeat(48);
    let n = RunNames::derive(
        &model,
        "2026-12-06",
        "arn:aws:states:eu-west-1:1:execution:sm:e",
    );
    let id = &n.run_id;
    assert_eq!(id.len(), 8);
    // Jobs: at most 63 - 2 (room for a retry suffix) = 61 characters.
    assert_eq!(n.training_job, format!("{}-20261206-{id}-t", &model[..41]));
    assert_eq!(n.model, format!("{}-20261206-{id}-m", &model[..41]));
    assert_eq!(n.transform_job, format!("{}-20261206-{id}-x", &model[..41]));
    assert_eq!(n.training_job.len(), 61);
    // Tuning jobs: at most 32 - 2 = 30.
    assert_eq!(n.tuning_job, format!("{}-20261206-{id}", &model[..12]));
    assert_eq!(
        n.retrain_execution,
        format!("{model}-retrain-20261206-{id}")
    );
    assert_eq!(
        processing_job_name(&model, "2026-12-06", id),
        format!("{}-20261206-{id}-p", &model[..41])
    );
}

fn input(raw: &Value) -> ExecutionInput {
    let ctx = Context {
        artifact_bucket: "artifacts",
        region: "us-east-1",
        today: NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
        account: Some("123456789012"),
    };
    validate(raw, &ctx).unwrap()
}

#[test]
fn given_an_evaluation_input_naming_one_channel_when_planned_then_the_retrain_data_is_the_input() {
    let out = S3Uri::new("artifacts", "evaluations/e/");
    for raw in [
        json!({"modelName": "m", "data": {"train": "s3://bkt/t/"}}),
        json!({"modelName": "m", "data": {"validation": "s3://bkt/v/"}}),
    ] {
        let p = plan(&raw, &input(&raw), &out);
        assert_eq!(p.source, RetrainSource::Input, "{raw}");
        assert_eq!(p.labelled_batch, None);
    }
    let raw = json!({"modelName": "m"});
    assert_eq!(
        plan(&raw, &input(&raw), &out).source,
        RetrainSource::Version
    );
}
