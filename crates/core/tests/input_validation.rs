//! `input::validate`: every default, and every rejection with its exact JSON pointer and message.
//! (Mutation testing, issue #18: these are the checks of the execution input that core's own
//! tests must notice when they change.)

use chrono::NaiveDate;
use mdlc_core::input::{Checker, Context, ExecutionInput, validate};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";
const XGBOOST: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

fn ctx() -> Context<'static> {
    Context {
        artifact_bucket: "artifacts",
        region: REGION,
        today: NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
        account: Some("123456789012"),
    }
}

fn valid_in(input: Value, ctx: &Context<'_>) -> ExecutionInput {
    match validate(&input, ctx) {
        Ok(v) => v,
        Err(p) => panic!("expected {input} to be valid, got {p:?}"),
    }
}

fn valid(input: Value) -> ExecutionInput {
    valid_in(input, &ctx())
}

/// The resolved input as JSON (its own schema).
fn resolved(input: Value) -> Value {
    serde_json::to_value(valid(input)).unwrap()
}

fn problems_in(input: Value, ctx: &Context<'_>) -> Vec<(String, String)> {
    match validate(&input, ctx) {
        Ok(v) => panic!("expected {input} to be rejected, got {v:?}"),
        Err(p) => p.into_iter().map(|p| (p.pointer, p.message)).collect(),
    }
}

/// Asserts the exact list of problems (pointer, message) of `input`.
fn rejects(input: Value, expected: &[(&str, &str)]) {
    rejects_in(input, &ctx(), expected);
}

fn rejects_in(input: Value, ctx: &Context<'_>, expected: &[(&str, &str)]) {
    let got = problems_in(input.clone(), ctx);
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(got, expected, "problems of {input}");
}

/// `base` with `patch`'s top-level fields set.
fn with(patch: Value) -> Value {
    let mut base = json!({"modelName": "churn"});
    for (k, v) in patch.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

// ---------------------------------------------------------------------------------------------
// defaults and accepted values

#[test]
fn given_preprocessing_without_split_when_validated_then_split_defaults_to_true() {
    let r = resolved(json!({"modelName": "churn", "preprocessing": {"enabled": true}}));
    assert_eq!(r["preprocessing"]["split"], json!(true), "{r}");
    let r =
        resolved(json!({"modelName": "churn", "preprocessing": {"enabled": true, "split": false}}));
    assert_eq!(r["preprocessing"]["split"], json!(false), "{r}");
    // a resolved input written before `split` existed (a plan or a record) reads as splitting
    let mut older = resolved(json!({"modelName": "churn", "preprocessing": {"enabled": true}}));
    older["preprocessing"]
        .as_object_mut()
        .expect("preprocessing is an object")
        .remove("split");
    let read: mdlc_core::input::Preprocessing =
        serde_json::from_value(older["preprocessing"].clone()).expect("an older block reads");
    assert!(read.split);
}

#[test]
fn given_only_a_model_name_when_validated_then_every_default_is_filled() {
    assert_eq!(
        resolved(json!({"modelName": "churn"})),
        json!({
            "modelName": "churn",
            "dataDate": "2026-12-06",
            "problemType": "regression",
            "data": {
                "train": {"s3Uri": "s3://artifacts/datasets/churn/2026-12-06/train/"},
                "validation": {"s3Uri": "s3://artifacts/datasets/churn/2026-12-06/validation/"},
                "evaluation": {
                    "features": "s3://artifacts/datasets/churn/2026-12-06/evaluation/features/",
                    "groundTruth": "s3://artifacts/datasets/churn/2026-12-06/evaluation/labels/"
                },
                "contentType": "text/csv"
            },
            "algorithm": {
                "image": XGBOOST,
                "instanceType": "ml.m5.xlarge",
                "instanceCount": 1,
                "volumeSizeGb": 30,
                "maxRuntimeSeconds": 3600,
                "metricDefinitions": []
            },
            "tuning": {
                "enabled": true,
                "strategy": "Bayesian",
                "objective": {"metric": "validation:rmse", "type": "Minimize"},
                "ranges": [
                    {"name": "eta", "type": "Continuous", "minValue": 0.05, "maxValue": 0.5, "scalingType": "Auto"},
                    {"name": "max_depth", "type": "Integer", "minValue": 3.0, "maxValue": 8.0, "scalingType": "Auto"},
                    {"name": "min_child_weight", "type": "Continuous", "minValue": 1.0, "maxValue": 10.0, "scalingType": "Auto"},
                    {"name": "subsample", "type": "Continuous", "minValue": 0.5, "maxValue": 1.0, "scalingType": "Auto"}
                ],
                "staticHyperParameters": {
                    "eval_metric": "rmse",
                    "num_round": "100",
                    "objective": "reg:squarederror"
                },
                "maxJobs": 8,
                "maxParallelJobs": 2,
                "earlyStopping": "Off"
            },
            "monitoring": {
                "metric": "rmse",
                "direction": "LowerIsBetter",
                "maxDegradation": 0.1,
                "cooldownSeconds": 86400,
                "maxRetrainsPerWindow": 2,
                "windowSeconds": 604800
            },
            "transform": {
                "instanceType": "ml.m5.large",
                "instanceCount": 1,
                "maxPayloadMb": 6,
                "batchStrategy": "MultiRecord",
                "maxConcurrentTransforms": 1
            },
            "reason": "initial"
        })
    );
}

#[test]
fn given_a_binary_problem_when_validated_then_its_objective_metric_and_statics_are_the_binary_ones()
{
    let v = resolved(with(
        json!({"problemType": "binary", "tuning": {"maxJobs": 1}}),
    ));
    assert_eq!(v["problemType"], json!("binary"));
    assert_eq!(
        v["tuning"]["objective"],
        json!({"metric": "validation:auc", "type": "Maximize"})
    );
    assert_eq!(
        v["tuning"]["staticHyperParameters"],
        json!({"eval_metric": "auc", "num_round": "100", "objective": "binary:logistic"})
    );
    // maxParallelJobs defaults to 2, but never above maxJobs.
    assert_eq!(v["tuning"]["maxJobs"], json!(1));
    assert_eq!(v["tuning"]["maxParallelJobs"], json!(1));
    assert_eq!(v["monitoring"]["metric"], json!("auc"));
    assert_eq!(v["monitoring"]["direction"], json!("HigherIsBetter"));
}

#[test]
fn given_every_field_set_when_validated_then_each_value_is_kept_exactly() {
    let input = json!({
        "modelName": "a-1",
        "dataDate": "2026-02-28",
        "problemType": "binary",
        "data": {
            "train": {"fileSystem": {"id": "fs-0123abcd", "type": "EFS", "directoryPath": "/data/train"}},
            "validation": {"fileSystem": {"id": "fs-0123456789abcdef01", "type": "FSxLustre",
                                          "directoryPath": "/fsx/validation", "readOnly": false}},
            "evaluation": {"features": "s3://bkt/f/", "groundTruth": "s3://bkt", "profile": "s3://bkt/p/profile.json"},
            "contentType": "text/csv; label_size=1"
        },
        "algorithm": {
            "image": "123.dkr.ecr.us-east-1.amazonaws.com/mine:1",
            "instanceType": "ml.c5.2xlarge",
            "instanceCount": 100,
            "volumeSizeGb": 16384,
            "maxRuntimeSeconds": 2419200,
            "metricDefinitions": [{"name": "validation:f1", "regex": "f1=([0-9.]+)"}]
        },
        "tuning": {
            "enabled": true,
            "strategy": "Random",
            "objective": {"metric": "validation:f1"},
            "ranges": [
                {"name": "alpha", "type": "Continuous", "minValue": 0.001, "maxValue": 10, "scalingType": "Logarithmic"},
                {"name": "gamma", "type": "Continuous", "minValue": 0, "maxValue": 0.99, "scalingType": "ReverseLogarithmic"},
                {"name": "depth", "type": "Integer", "minValue": 1, "maxValue": 12, "scalingType": "Linear"},
                {"name": "booster", "type": "Categorical", "values": ["gbtree", 3, true]}
            ],
            "staticHyperParameters": {"rounds": 50, "verbose": false, "mode": "fast"},
            "maxJobs": 750,
            "maxParallelJobs": 100,
            "earlyStopping": "Auto"
        },
        "monitoring": {
            "metric": "f1",
            "threshold": 0.75,
            "direction": "LowerIsBetter",
            "maxDegradation": 0,
            "cooldownSeconds": 0,
            "maxRetrainsPerWindow": 1000,
            "windowSeconds": 31536000
        },
        "transform": {
            "instanceType": "ml.c5.large",
            "instanceCount": 100,
            "maxPayloadMb": 100,
            "batchStrategy": "SingleRecord",
            "maxConcurrentTransforms": 64
        },
        "modelVersion": 9999999999u64,
        "parentVersion": 1,
        "reason": "drift",
        "preprocessing": {
            "enabled": false,
            "split": false,
            "raw": ["s3://raw/a.csv", "s3://raw/b.csv"],
            "validationRatio": 0.5,
            "seed": 4294967295u64,
            "bins": 1000,
            "image": "img:2",
            "instanceType": "ml.t3.medium",
            "volumeSizeGb": 16384,
            "maxRuntimeSeconds": 777600
        },
        "tracking": {"uri": " https://mlflow.example.com:5000/x ", "experiment": "exp"},
        "vpcConfig": {"subnets": ["subnet-0a", "subnet-0b"], "securityGroupIds": ["sg-01"]}
    });
    let mut expected = input.clone();
    expected["data"]["train"]["fileSystem"]["readOnly"] = json!(true);
    expected["data"]["evaluation"]["groundTruth"] = json!("s3://bkt/");
    expected["tuning"]["objective"]["type"] = json!("Maximize");
    expected["tuning"]["ranges"] = json!([
        {"name": "alpha", "type": "Continuous", "minValue": 0.001, "maxValue": 10.0, "scalingType": "Logarithmic"},
        {"name": "gamma", "type": "Continuous", "minValue": 0.0, "maxValue": 0.99, "scalingType": "ReverseLogarithmic"},
        {"name": "depth", "type": "Integer", "minValue": 1.0, "maxValue": 12.0, "scalingType": "Linear"},
        {"name": "booster", "type": "Categorical", "values": ["gbtree", "3", "true"], "scalingType": "Auto"}
    ]);
    expected["tuning"]["staticHyperParameters"] =
        json!({"mode": "fast", "rounds": "50", "verbose": "false"});
    expected["monitoring"]["maxDegradation"] = json!(0.0);
    expected["tracking"]["uri"] = json!("https://mlflow.example.com:5000/x");
    assert_eq!(resolved(input), expected);
}

#[test]
fn given_a_model_name_without_tracking_experiment_when_validated_then_the_experiment_is_the_model_name()
 {
    let v = resolved(with(json!({"tracking": {"uri": "http://127.0.0.1"}})));
    assert_eq!(
        v["tracking"],
        json!({"uri": "http://127.0.0.1", "experiment": "churn"})
    );
}

#[test]
fn given_the_longest_accepted_values_when_validated_then_they_are_kept() {
    let name = "a".repeat(48);
    let reason = "é".repeat(256);
    let dir = format!("/{}", "d".repeat(4095));
    let experiment = "é".repeat(256);
    let v = valid(json!({
        "modelName": name,
        "reason": reason,
        "data": {"train": {"fileSystem": {"id": "fs-0123456789abcdef01", "type": "EFS", "directoryPath": dir}}},
        "vpcConfig": {"subnets": ["subnet-0123456789abcdef012345"], "securityGroupIds": ["sg-1"]},
        "tracking": {"uri": "https://h", "experiment": experiment}
    }));
    assert_eq!(v.model_name, name);
    assert_eq!(v.reason, reason);
    assert_eq!(v.tracking.unwrap().experiment, experiment);
    let train = serde_json::to_value(&v.data.train).unwrap();
    assert_eq!(train["fileSystem"]["directoryPath"], json!(dir));
    assert_eq!(
        v.vpc_config.unwrap().subnets,
        ["subnet-0123456789abcdef012345"]
    );
}

#[test]
fn given_default_ranges_and_a_static_of_one_of_them_when_validated_then_that_range_gives_way() {
    let v = valid(with(
        json!({"tuning": {"staticHyperParameters": {"eta": 0.3}}}),
    ));
    let names: Vec<&str> = v.tuning.ranges.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["max_depth", "min_child_weight", "subsample"]);
    assert_eq!(v.tuning.static_hyper_parameters["eta"], "0.3");
    assert_eq!(v.tuning.static_hyper_parameters.len(), 4);
}

#[test]
fn given_a_range_over_a_default_static_when_validated_then_the_static_gives_way() {
    let v = valid(with(json!({"tuning": {"ranges": [
        {"name": "num_round", "type": "Integer", "minValue": 50, "maxValue": 200}
    ]}})));
    let statics: Vec<&str> = v
        .tuning
        .static_hyper_parameters
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(statics, ["eval_metric", "objective"]);
}

#[test]
fn given_tuning_disabled_when_validated_then_the_tuned_defaults_stay_out_of_the_statics_only_when_enabled()
 {
    // Disabled: the ranges are not used, so nothing is removed from the statics.
    let v = valid(with(
        json!({"tuning": {"enabled": false, "staticHyperParameters": {"max_depth": 4}}}),
    ));
    assert!(!v.tuning.enabled);
    assert_eq!(v.tuning.static_hyper_parameters["max_depth"], "4");
    // A custom image with tuning disabled needs no ranges.
    let v = valid(with(json!({
        "algorithm": {"image": "mine:1"},
        "tuning": {"enabled": false, "objective": {"metric": "loss", "type": "Minimize"}}
    })));
    assert_eq!(v.tuning.ranges, []);
    assert!(v.tuning.static_hyper_parameters.is_empty());
    // Disabled tuning takes an empty list of ranges.
    let v = valid(with(json!({"tuning": {"enabled": false, "ranges": []}})));
    assert_eq!(v.tuning.ranges, []);
}

#[test]
fn given_objective_metrics_without_a_type_when_validated_then_the_type_follows_the_metric() {
    for (metric, kind) in [
        ("validation:error", "Minimize"),
        ("validation:mlogloss", "Minimize"),
        ("train:mape", "Minimize"),
        ("validation:logloss", "Minimize"),
        ("validation:aucpr", "Maximize"),
        ("validation:ndcg", "Maximize"),
        ("r2", "Maximize"),
    ] {
        let v = resolved(with(json!({"tuning": {"objective": {"metric": metric}}})));
        assert_eq!(
            v["tuning"]["objective"],
            json!({"metric": metric, "type": kind}),
            "{metric}"
        );
        let eval = metric.rsplit(':').next().unwrap();
        assert_eq!(
            v["tuning"]["staticHyperParameters"]["eval_metric"],
            json!(eval)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// rejections

#[test]
fn given_a_root_that_is_not_an_object_when_validated_then_only_that_is_reported() {
    rejects(json!([]), &[("", "must be an object, got an array")]);
    rejects(json!("x"), &[("", "must be an object, got a string")]);
}

#[test]
fn given_unknown_root_fields_when_validated_then_each_is_named_with_an_escaped_pointer() {
    rejects(
        with(json!({"a/b~c": 1})),
        &[(
            "/a~1b~0c",
            "unknown field (allowed: modelName, dataDate, problemType, data, algorithm, tuning, monitoring, transform, modelVersion, reason, parentVersion, preprocessing, tracking, vpcConfig, approvalRequired)",
        )],
    );
}

#[test]
fn given_a_bad_model_name_when_validated_then_model_name_is_named() {
    let rule = |got: &str| {
        format!(
            "must be 1-48 letters, digits and hyphens, starting and ending with a letter or digit, got {got:?}"
        )
    };
    rejects(json!({}), &[("/modelName", "is required")]);
    rejects(json!({"modelName": null}), &[("/modelName", "is required")]);
    rejects(
        json!({"modelName": 7}),
        &[("/modelName", "must be a string, got a number")],
    );
    rejects(
        json!({"modelName": " "}),
        &[("/modelName", "must not be empty")],
    );
    rejects(json!({"modelName": "-a"}), &[("/modelName", &rule("-a"))]);
    let long = "a".repeat(49);
    rejects(json!({"modelName": long}), &[("/modelName", &rule(&long))]);
}

#[test]
fn given_a_bad_data_date_when_validated_then_data_date_is_named() {
    for bad in ["2026-2-28", "2026-02-30", "06-12-2026", "2026-02-28x"] {
        rejects(
            with(json!({"dataDate": bad})),
            &[(
                "/dataDate",
                &format!("must be a date YYYY-MM-DD, got {bad:?}"),
            )],
        );
    }
}

#[test]
fn given_bad_top_level_fields_when_validated_then_each_is_named_in_field_order() {
    let got = problems_in(
        json!({
            "reason": "r".repeat(257),
            "approvalRequired": "yes",
            "parentVersion": 0,
            "modelVersion": 0,
            "problemType": "multiclass",
            "dataDate": "2026-2-28",
            "modelName": "-a"
        }),
        &ctx(),
    );
    let pointers: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "/modelName",
            "/dataDate",
            "/problemType",
            "/modelVersion",
            "/parentVersion",
            "/approvalRequired",
            "/reason"
        ],
        "{got:?}"
    );
    assert_eq!(got[6].1, "must be at most 256 characters");
}

#[test]
fn given_a_bad_problem_type_when_validated_then_problem_type_is_named() {
    rejects(
        with(json!({"problemType": "multiclass"})),
        &[(
            "/problemType",
            "must be one of regression, binary, got \"multiclass\"",
        )],
    );
}

#[test]
fn given_a_reason_over_256_characters_when_validated_then_reason_is_named() {
    rejects(
        with(json!({"reason": "é".repeat(257)})),
        &[("/reason", "must be at most 256 characters")],
    );
}

#[test]
fn given_versions_out_of_range_when_validated_then_each_is_named_with_its_bounds() {
    rejects(
        with(json!({"modelVersion": 0, "parentVersion": 10_000_000_000u64})),
        &[
            (
                "/modelVersion",
                "must be an integer from 1 to 9999999999, got 0",
            ),
            (
                "/parentVersion",
                "must be an integer from 1 to 9999999999, got 10000000000",
            ),
        ],
    );
    rejects(
        with(json!({"modelVersion": "3", "parentVersion": 1.5})),
        &[
            (
                "/modelVersion",
                "must be an integer from 1 to 9999999999, got \"3\"",
            ),
            (
                "/parentVersion",
                "must be an integer from 1 to 9999999999, got 1.5",
            ),
        ],
    );
    assert_eq!(
        valid(with(json!({"modelVersion": 1}))).model_version,
        Some(1)
    );
}

#[test]
fn given_bad_data_sources_when_validated_then_each_source_is_named() {
    rejects(
        with(json!({"data": {"train": "https://x/y", "validation": {"s3Uri": "s3://Bad/"}}})),
        &[
            (
                "/data/train",
                "invalid S3 URI \"https://x/y\": must start with s3://",
            ),
            (
                "/data/validation/s3Uri",
                "invalid S3 URI \"s3://Bad/\": bucket name must be 3-63 characters of lowercase letters, digits, '-' and '.'",
            ),
        ],
    );
    rejects(
        with(
            json!({"data": {"train": {"s3Uri": "s3://b/t/", "fileSystem": {}}, "validation": {}}}),
        ),
        &[
            ("/data/train", "give either s3Uri or fileSystem, not both"),
            ("/data/validation", "must have s3Uri or fileSystem"),
        ],
    );
    rejects(
        with(json!({"data": {"train": {"s3": "s3://b/t/"}}})),
        &[
            (
                "/data/train/s3",
                "unknown field (allowed: s3Uri, fileSystem)",
            ),
            ("/data/train", "must have s3Uri or fileSystem"),
        ],
    );
    let v = valid(with(
        json!({"data": {"train": {"s3Uri": "s3://bkt/t/"}, "validation": "s3://bkt/v"}}),
    ));
    assert_eq!(
        serde_json::to_value(&v.data).unwrap()["validation"],
        json!({"s3Uri": "s3://bkt/v"})
    );
    assert_eq!(
        serde_json::to_value(&v.data).unwrap()["train"],
        json!({"s3Uri": "s3://bkt/t/"})
    );
}

const VPC: &str = "vpcConfig";

fn with_train_fs(fs: Value) -> Value {
    with(json!({
        "data": {"train": {"fileSystem": fs}},
        VPC: {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    }))
}

#[test]
fn given_a_file_system_without_its_fields_when_validated_then_each_is_required() {
    rejects(
        with_train_fs(json!({})),
        &[
            ("/data/train/fileSystem/id", "is required"),
            (
                "/data/train/fileSystem/type",
                "is required (EFS or FSxLustre)",
            ),
            ("/data/train/fileSystem/directoryPath", "is required"),
        ],
    );
    rejects(
        with_train_fs(
            json!({"id": "fs-0123abcd", "type": "NFS", "directoryPath": "/d", "readOnly": "yes", "x": 1}),
        ),
        &[
            (
                "/data/train/fileSystem/x",
                "unknown field (allowed: id, type, directoryPath, readOnly)",
            ),
            (
                "/data/train/fileSystem/type",
                "must be one of EFS, FSxLustre, got \"NFS\"",
            ),
            (
                "/data/train/fileSystem/readOnly",
                "must be true or false, got a string",
            ),
        ],
    );
}

#[test]
fn given_a_bad_directory_path_when_validated_then_directory_path_is_named() {
    let fs = |dir: &str| json!({"id": "fs-0123abcd", "type": "EFS", "directoryPath": dir});
    rejects(
        with_train_fs(fs("data/train")),
        &[(
            "/data/train/fileSystem/directoryPath",
            "must be an absolute path",
        )],
    );
    rejects(
        with_train_fs(fs(&format!("/{}", "d".repeat(4096)))),
        &[(
            "/data/train/fileSystem/directoryPath",
            "must be at most 4096 characters",
        )],
    );
    rejects(
        with_train_fs(json!({"id": "fs-0123abcd", "type": "EFS", "directoryPath": 1})),
        &[(
            "/data/train/fileSystem/directoryPath",
            "must be a string, got a number",
        )],
    );
    let v = valid(with_train_fs(fs("/")));
    assert_eq!(
        serde_json::to_value(&v.data.train).unwrap(),
        json!({"fileSystem": {"id": "fs-0123abcd", "type": "EFS", "directoryPath": "/", "readOnly": true}})
    );
}

#[test]
fn given_bad_file_system_ids_when_validated_then_the_id_is_named() {
    let rule = |id: &str| {
        format!(
            "must be a file system ID like fs-0123456789abcdef0 (fs- and 8 to 18 lowercase hex digits), got {id:?}"
        )
    };
    for bad in [
        "fs-0123abc",             // 10 characters
        "fs-0123456789abcdef012", // 22 characters
        "fs-0123ABCD",            // upper case
        "fx-0123abcd",            // prefix
        "fs-0123abcg",            // not hex
        "fs-0123abc/",            // not hex, just above '9'... and '/' just below '0'
    ] {
        rejects(
            with_train_fs(json!({"id": bad, "type": "EFS", "directoryPath": "/d"})),
            &[("/data/train/fileSystem/id", &rule(bad))],
        );
    }
    for good in ["fs-0123abcd", "fs-9876543210fedcba98"] {
        valid(with_train_fs(
            json!({"id": good, "type": "FSxLustre", "directoryPath": "/d"}),
        ));
    }
}

#[test]
fn given_file_system_channels_without_a_vpc_when_validated_then_vpc_config_is_required_naming_them()
{
    let fs = json!({"fileSystem": {"id": "fs-0123abcd", "type": "EFS", "directoryPath": "/d"}});
    let msg = |channels: &str| {
        format!(
            "is required with a file-system channel ({channels}): SageMaker mounts EFS and FSx for Lustre only from a VPC; give {{\"subnets\": [\"subnet-...\"], \"securityGroupIds\": [\"sg-...\"]}} that reach the file system"
        )
    };
    rejects(
        with(json!({"data": {"validation": fs}})),
        &[("/vpcConfig", &msg("/data/validation/fileSystem"))],
    );
    rejects(
        with(json!({"data": {"train": fs, "validation": fs}})),
        &[(
            "/vpcConfig",
            &msg("/data/train/fileSystem, /data/validation/fileSystem"),
        )],
    );
}

/// The VPC is required from the raw input: a file-system channel that is itself invalid still
/// needs one, and both problems are reported at once.
#[test]
fn given_an_invalid_file_system_channel_without_a_vpc_when_validated_then_both_are_reported() {
    let vpc = r#"is required with a file-system channel (/data/train/fileSystem): SageMaker mounts EFS and FSx for Lustre only from a VPC; give {"subnets": ["subnet-..."], "securityGroupIds": ["sg-..."]} that reach the file system"#;
    rejects(
        with(
            json!({"data": {"train": {"fileSystem": {"id": "fs-0123abcd", "type": "EFS", "directoryPath": "d"}}}}),
        ),
        &[
            (
                "/data/train/fileSystem/directoryPath",
                "must be an absolute path",
            ),
            ("/vpcConfig", vpc),
        ],
    );
}

#[test]
fn given_bad_vpc_configs_when_validated_then_each_list_and_id_is_named() {
    rejects(
        with(json!({VPC: {}})),
        &[
            ("/vpcConfig/subnets", "is required"),
            ("/vpcConfig/securityGroupIds", "is required"),
        ],
    );
    rejects(
        with(json!({VPC: {"subnets": "subnet-1", "securityGroupIds": []}})),
        &[
            (
                "/vpcConfig/subnets",
                "must be an array of IDs, got a string",
            ),
            (
                "/vpcConfig/securityGroupIds",
                "must have 1 to 5 items, got 0",
            ),
        ],
    );
    let subnets: Vec<String> = (0..17).map(|i| format!("subnet-{i}")).collect();
    let groups: Vec<String> = (0..6).map(|i| format!("sg-{i}")).collect();
    rejects(
        with(json!({VPC: {"subnets": subnets, "securityGroupIds": groups}})),
        &[
            ("/vpcConfig/subnets", "must have 1 to 16 items, got 17"),
            (
                "/vpcConfig/securityGroupIds",
                "must have 1 to 5 items, got 6",
            ),
        ],
    );
    let id_rule = |prefix: &str, id: &str| {
        format!(
            "must be an ID like {prefix}0123456789abcdef0 (at most 32 letters, digits and hyphens), got {id:?}"
        )
    };
    let long = format!("subnet-{}", "a".repeat(26)); // 33 characters
    rejects(
        with(json!({VPC: {
            "subnets": ["subnet-", "sg-1", "subnet-a_b", long, "subnet-1", "subnet-1", 5],
            "securityGroupIds": ["sg-1"]
        }})),
        &[
            ("/vpcConfig/subnets/0", &id_rule("subnet-", "subnet-")),
            ("/vpcConfig/subnets/1", &id_rule("subnet-", "sg-1")),
            ("/vpcConfig/subnets/2", &id_rule("subnet-", "subnet-a_b")),
            ("/vpcConfig/subnets/3", &id_rule("subnet-", &long)),
            ("/vpcConfig/subnets/5", "duplicate ID \"subnet-1\""),
            ("/vpcConfig/subnets/6", "must be a string, got a number"),
        ],
    );
    let v = valid(with(json!({VPC: {
        "subnets": (1..=16).map(|i| format!("subnet-{i}")).collect::<Vec<_>>(),
        "securityGroupIds": (1..=5).map(|i| format!("sg-{i}")).collect::<Vec<_>>()
    }})));
    let vpc = v.vpc_config.unwrap();
    assert_eq!((vpc.subnets.len(), vpc.security_group_ids.len()), (16, 5));
}

#[test]
fn given_bad_evaluation_data_when_validated_then_each_field_is_named() {
    rejects(
        with(json!({"data": {"evaluation": {"features": "s3://bkt/f", "profile": "s3://bkt/p/"}}})),
        &[
            (
                "/data/evaluation/features",
                "must be an S3 prefix ending with '/', got \"s3://bkt/f\"",
            ),
            (
                "/data/evaluation/profile",
                "must be the URI of a profile object, got \"s3://bkt/p/\"",
            ),
            ("/data/evaluation/groundTruth", "is required"),
        ],
    );
    rejects(
        with(
            json!({"data": {"evaluation": {"features": "s3://bkt/f/", "groundTruth": "s3://bkt/g/", "profile": "s3://bkt"}}}),
        ),
        &[(
            "/data/evaluation/profile",
            "must be the URI of a profile object, got \"s3://bkt/\"",
        )],
    );
    rejects(
        with(
            json!({"data": {"evaluation": {"features": "s3://bkt/f/", "groundTruth": "s3://bkt/g/", "profile": "x"}}}),
        ),
        &[(
            "/data/evaluation/profile",
            "invalid S3 URI \"x\": must start with s3://",
        )],
    );
    rejects(
        with(json!({"data": {"evaluation": 3}})),
        &[("/data/evaluation", "must be an object, got a number")],
    );
}

#[test]
fn given_an_unsupported_content_type_when_validated_then_content_type_is_named() {
    rejects(
        with(json!({"data": {"contentType": "application/json"}})),
        &[(
            "/data/contentType",
            "only text/csv is supported, got \"application/json\"",
        )],
    );
    rejects(
        with(json!({"data": {"x": 1}})),
        &[(
            "/data/x",
            "unknown field (allowed: train, validation, evaluation, contentType)",
        )],
    );
}

#[test]
fn given_bad_algorithm_fields_when_validated_then_each_is_named_with_its_bounds() {
    rejects(
        with(json!({"tuning": {"enabled": false}, "algorithm": {
            "instanceType": "m5.large",
            "instanceCount": 0,
            "volumeSizeGb": 16385,
            "maxRuntimeSeconds": 2419201
        }})),
        &[
            (
                "/algorithm/instanceType",
                "must be a SageMaker instance type like ml.m5.xlarge, got \"m5.large\"",
            ),
            (
                "/algorithm/instanceCount",
                "must be an integer from 1 to 100, got 0",
            ),
            (
                "/algorithm/volumeSizeGb",
                "must be an integer from 1 to 16384, got 16385",
            ),
            (
                "/algorithm/maxRuntimeSeconds",
                "must be an integer from 1 to 2419200, got 2419201",
            ),
        ],
    );
    for (field, bad) in [
        ("instanceCount", 101),
        ("volumeSizeGb", 0),
        ("maxRuntimeSeconds", 0),
    ] {
        let input = with(json!({"tuning": {"enabled": false}, "algorithm": {field: bad}}));
        let problems = problems_in(input, &ctx());
        assert_eq!(problems.len(), 1, "{field}: {problems:?}");
        assert_eq!(problems[0].0, format!("/algorithm/{field}"));
    }
    rejects(
        with(json!({"algorithm": {"instanceType": "ml."}})),
        &[(
            "/algorithm/instanceType",
            "must be a SageMaker instance type like ml.m5.xlarge, got \"ml.\"",
        )],
    );
    rejects(
        with(json!({"tuning": {"enabled": false}, "algorithm": {"image": ""}})),
        &[("/algorithm/image", "must not be empty")],
    );
}

#[test]
fn given_a_region_without_xgboost_when_no_image_is_given_then_the_image_is_required() {
    let ctx = Context {
        region: "xx-nowhere-1",
        ..ctx()
    };
    rejects_in(
        json!({"modelName": "churn", "tuning": {"enabled": false}}),
        &ctx,
        &[(
            "/algorithm/image",
            "is required: there is no built-in XGBoost image in region xx-nowhere-1",
        )],
    );
    // A given but bad image is that problem only, not also a missing built-in image.
    rejects_in(
        json!({"modelName": "churn", "algorithm": {"image": 7}}),
        &ctx,
        &[("/algorithm/image", "must be a string, got a number")],
    );
}

#[test]
fn given_bad_metric_definitions_when_validated_then_each_is_named() {
    rejects(
        with(
            json!({"tuning": {"enabled": false}, "algorithm": {"metricDefinitions": {"name": "a"}}}),
        ),
        &[(
            "/algorithm/metricDefinitions",
            "must be an array of {name, regex}",
        )],
    );
    rejects(
        with(
            json!({"tuning": {"enabled": false}, "algorithm": {"metricDefinitions": [
                {"name": "a", "regex": "a=(.*)"},
                {"name": "b"},
                {"regex": 1},
                7
            ]}}),
        ),
        &[
            ("/algorithm/metricDefinitions/1", "needs a name and a regex"),
            (
                "/algorithm/metricDefinitions/2/regex",
                "must be a string, got a number",
            ),
            ("/algorithm/metricDefinitions/2", "needs a name and a regex"),
            (
                "/algorithm/metricDefinitions/3",
                "must be an object, got a number",
            ),
        ],
    );
}

#[test]
fn given_bad_preprocessing_fields_when_validated_then_each_is_named_with_its_bounds() {
    rejects(
        with(json!({"preprocessing": {
            "enabled": 1,
            "validationRatio": 1,
            "seed": 4294967296u64,
            "bins": 1,
            "image": "",
            "instanceType": "c5",
            "volumeSizeGb": 0,
            "maxRuntimeSeconds": 777601
        }})),
        &[
            (
                "/preprocessing/enabled",
                "must be true or false, got a number",
            ),
            (
                "/preprocessing/validationRatio",
                "must be strictly between 0 and 1 (0.2 = 20% of the rows), got 1",
            ),
            (
                "/preprocessing/seed",
                "must be an integer from 0 to 4294967295, got 4294967296",
            ),
            (
                "/preprocessing/bins",
                "must be an integer from 2 to 1000, got 1",
            ),
            ("/preprocessing/image", "must not be empty"),
            (
                "/preprocessing/instanceType",
                "must be a SageMaker instance type like ml.m5.xlarge, got \"c5\"",
            ),
            (
                "/preprocessing/volumeSizeGb",
                "must be an integer from 1 to 16384, got 0",
            ),
            (
                "/preprocessing/maxRuntimeSeconds",
                "must be an integer from 1 to 777600, got 777601",
            ),
        ],
    );
    rejects(
        with(json!({"preprocessing": {"validationRatio": 0, "bins": 1001}})),
        &[
            (
                "/preprocessing/validationRatio",
                "must be strictly between 0 and 1 (0.2 = 20% of the rows), got 0",
            ),
            (
                "/preprocessing/bins",
                "must be an integer from 2 to 1000, got 1001",
            ),
        ],
    );
    rejects(
        with(json!({"preprocessing": {"validationRatio": "0.2"}})),
        &[(
            "/preprocessing/validationRatio",
            "must be a finite number, got a string",
        )],
    );
}

#[test]
fn given_preprocessing_with_defaults_when_validated_then_each_default_is_filled() {
    let v = resolved(with(json!({"preprocessing": {"raw": "s3://raw/all.csv"}})));
    assert_eq!(
        v["preprocessing"],
        json!({
            "enabled": true,
            "split": true,
            "raw": "s3://raw/all.csv",
            "validationRatio": 0.2,
            "seed": 42,
            "bins": 10,
            "image": format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/mdlc-preprocess:{}", env!("CARGO_PKG_VERSION")),
            "instanceType": "ml.m5.large",
            "volumeSizeGb": 30,
            "maxRuntimeSeconds": 3600
        })
    );
    let v = valid(with(json!({"preprocessing": {}})));
    assert_eq!(v.preprocessing.unwrap().raw, []);
}

#[test]
fn given_an_unknown_account_when_preprocessing_has_no_image_then_the_image_is_required() {
    let ctx = Context {
        account: None,
        ..ctx()
    };
    rejects_in(
        with(json!({"preprocessing": {}})),
        &ctx,
        &[(
            "/preprocessing/image",
            "is required: the account of the default preprocessing image is unknown",
        )],
    );
    // A given but bad image is that problem only, not also a missing default.
    rejects_in(
        with(json!({"preprocessing": {"image": ""}})),
        &ctx,
        &[("/preprocessing/image", "must not be empty")],
    );
}

#[test]
fn given_bad_raw_inputs_when_validated_then_raw_is_named() {
    let count = |n: usize| {
        format!(
            "must be an S3 URI or an array of 1 to 10 S3 URIs (one processing input each), got {n} items"
        )
    };
    rejects(
        with(json!({"preprocessing": {"raw": []}})),
        &[("/preprocessing/raw", &count(0))],
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("s3://raw/{i}.csv")).collect();
    rejects(
        with(json!({"preprocessing": {"raw": eleven}})),
        &[("/preprocessing/raw", &count(11))],
    );
    let ten: Vec<String> = (0..10).map(|i| format!("s3://raw/{i}.csv")).collect();
    assert_eq!(
        valid(with(json!({"preprocessing": {"raw": ten}})))
            .preprocessing
            .unwrap()
            .raw
            .len(),
        10
    );
    rejects(
        with(json!({"preprocessing": {"raw": ["s3://raw/a", "raw/b"]}})),
        &[(
            "/preprocessing/raw/1",
            "invalid S3 URI \"raw/b\": must start with s3://",
        )],
    );
    rejects(
        with(json!({"preprocessing": {"raw": 3}})),
        &[("/preprocessing/raw", "must be a string, got a number")],
    );
}

fn with_ranges(ranges: Value) -> Value {
    with(json!({"tuning": {"ranges": ranges}}))
}

#[test]
fn given_ranges_without_name_or_type_when_validated_then_each_is_required() {
    rejects(
        with_ranges(json!([{}])),
        &[
            ("/tuning/ranges/0/name", "is required"),
            (
                "/tuning/ranges/0/type",
                "is required (Continuous, Integer or Categorical)",
            ),
        ],
    );
    rejects(
        with_ranges(json!([{"name": "a", "type": "Float", "scalingType": "Cubic"}])),
        &[
            (
                "/tuning/ranges/0/type",
                "must be one of Continuous, Integer, Categorical, got \"Float\"",
            ),
            (
                "/tuning/ranges/0/scalingType",
                "must be one of Auto, Linear, Logarithmic, ReverseLogarithmic, got \"Cubic\"",
            ),
        ],
    );
}

#[test]
fn given_bad_numeric_ranges_when_validated_then_each_bound_is_named() {
    rejects(
        with_ranges(json!([{"name": "a", "type": "Continuous", "values": [1]}])),
        &[
            (
                "/tuning/ranges/0/values",
                "only Categorical ranges take values",
            ),
            ("/tuning/ranges/0/minValue", "is required"),
            ("/tuning/ranges/0/maxValue", "is required"),
        ],
    );
    rejects(
        with_ranges(json!([{"name": "a", "type": "Integer", "minValue": 1.5, "maxValue": 2.5}])),
        &[
            (
                "/tuning/ranges/0/minValue",
                "must be an integer for an Integer range",
            ),
            (
                "/tuning/ranges/0/maxValue",
                "must be an integer for an Integer range",
            ),
        ],
    );
    rejects(
        with_ranges(json!([{"name": "a", "type": "Continuous", "minValue": 2, "maxValue": 2}])),
        &[("/tuning/ranges/0/maxValue", "must be greater than minValue")],
    );
    rejects(
        with_ranges(
            json!([{"name": "a", "type": "Continuous", "minValue": 0, "maxValue": 1, "scalingType": "Logarithmic"}]),
        ),
        &[(
            "/tuning/ranges/0/minValue",
            "must be greater than 0 for Logarithmic scaling",
        )],
    );
    rejects(
        with_ranges(
            json!([{"name": "a", "type": "Integer", "minValue": 0, "maxValue": 1, "scalingType": "ReverseLogarithmic"}]),
        ),
        &[(
            "/tuning/ranges/0/scalingType",
            "ReverseLogarithmic applies only to Continuous ranges",
        )],
    );
    for (lo, hi) in [(-0.1, 0.5), (0.5, 1.0)] {
        rejects(
            with_ranges(
                json!([{"name": "a", "type": "Continuous", "minValue": lo, "maxValue": hi, "scalingType": "ReverseLogarithmic"}]),
            ),
            &[(
                "/tuning/ranges/0/minValue",
                "ReverseLogarithmic scaling needs 0 <= minValue < maxValue < 1",
            )],
        );
    }
    rejects(
        with_ranges(json!([{"name": "a", "type": "Continuous", "minValue": "0", "maxValue": 1}])),
        &[(
            "/tuning/ranges/0/minValue",
            "must be a finite number, got a string",
        )],
    );
}

#[test]
fn given_bad_categorical_ranges_when_validated_then_each_field_is_named() {
    rejects(
        with_ranges(
            json!([{"name": "a", "type": "Categorical", "minValue": 0, "maxValue": 1, "scalingType": "Linear"}]),
        ),
        &[
            (
                "/tuning/ranges/0/minValue",
                "Categorical ranges take values, not bounds",
            ),
            (
                "/tuning/ranges/0/maxValue",
                "Categorical ranges take values, not bounds",
            ),
            (
                "/tuning/ranges/0/scalingType",
                "Categorical ranges take no scaling type",
            ),
            (
                "/tuning/ranges/0/values",
                "must be an array of 1 to 30 values",
            ),
        ],
    );
    let thirty: Vec<u32> = (0..30).collect();
    let v = valid(with_ranges(
        json!([{"name": "a", "type": "Categorical", "values": thirty}]),
    ));
    assert_eq!(v.tuning.ranges[0].values.len(), 30);
    let thirty_one: Vec<u32> = (0..31).collect();
    for values in [json!([]), json!(thirty_one), json!("a")] {
        rejects(
            with_ranges(json!([{"name": "a", "type": "Categorical", "values": values}])),
            &[(
                "/tuning/ranges/0/values",
                "must be an array of 1 to 30 values",
            )],
        );
    }
    rejects(
        with_ranges(json!([{"name": "a", "type": "Categorical", "values": ["x", null, [1]]}])),
        &[
            (
                "/tuning/ranges/0/values/1",
                "must be a string, number or boolean, got null",
            ),
            (
                "/tuning/ranges/0/values/2",
                "must be a string, number or boolean, got an array",
            ),
        ],
    );
}

#[test]
fn given_ranges_of_the_wrong_shape_or_valid_when_validated_then_named_or_read_as_given() {
    rejects(
        with_ranges(json!([3, {"name": "a", "type": "Categorical", "values": ["x"], "min": 1}])),
        &[
            ("/tuning/ranges/0", "must be an object, got a number"),
            (
                "/tuning/ranges/1/min",
                "unknown field (allowed: name, type, minValue, maxValue, values, scalingType)",
            ),
        ],
    );
    // A bad name is reported with the range's other problems.
    rejects(
        with_ranges(json!([{"name": 7, "type": "Integer", "minValue": 1, "maxValue": 0.5}])),
        &[
            ("/tuning/ranges/0/name", "must be a string, got a number"),
            (
                "/tuning/ranges/0/maxValue",
                "must be an integer for an Integer range",
            ),
            ("/tuning/ranges/0/maxValue", "must be greater than minValue"),
        ],
    );
    let v = valid(with_ranges(json!([
        {"name": "a", "type": "Integer", "minValue": 1, "maxValue": 100, "scalingType": "Logarithmic"},
        {"name": "b", "type": "Continuous", "minValue": 0.1, "maxValue": 0.9, "scalingType": "ReverseLogarithmic"},
        {"name": "c", "type": "Categorical", "values": ["x", 2, true], "scalingType": "Auto"}
    ])));
    assert_eq!(
        serde_json::to_value(&v.tuning.ranges).unwrap(),
        json!([
            {"name": "a", "type": "Integer", "minValue": 1.0, "maxValue": 100.0, "scalingType": "Logarithmic"},
            {"name": "b", "type": "Continuous", "minValue": 0.1, "maxValue": 0.9, "scalingType": "ReverseLogarithmic"},
            {"name": "c", "type": "Categorical", "values": ["x", "2", "true"], "scalingType": "Auto"}
        ])
    );
}

#[test]
fn given_bad_range_lists_when_validated_then_the_list_is_named() {
    let cat = |name: &str| json!({"name": name, "type": "Categorical", "values": ["x"]});
    rejects(
        with_ranges(json!([cat("a"), cat("b"), cat("a")])),
        &[("/tuning/ranges/2/name", "duplicate range \"a\"")],
    );
    rejects(
        with_ranges(json!([])),
        &[("/tuning/ranges", "must not be empty when tuning is enabled")],
    );
    rejects(
        with_ranges(json!({"eta": 1})),
        &[("/tuning/ranges", "must be an array, got an object")],
    );
    rejects(
        with(json!({
            "algorithm": {"image": "mine:1", "metricDefinitions": [{"name": "loss", "regex": "l=(.*)"}]},
            "tuning": {"objective": {"metric": "loss", "type": "Minimize"}}
        })),
        &[(
            "/tuning/ranges",
            "is required when tuning is enabled with a custom algorithm image",
        )],
    );
}

#[test]
fn given_bad_static_hyperparameters_when_validated_then_each_is_named() {
    let long_name = "n".repeat(257);
    let ok_name = "n".repeat(256);
    rejects(
        with(json!({"tuning": {"staticHyperParameters": {
            "": 1,
            long_name.clone(): 1,
            ok_name: "v".repeat(2500),
            "big": "v".repeat(2501),
            "obj": {}
        }}})),
        &[
            (
                "/tuning/staticHyperParameters/",
                "hyperparameter names must be 1-256 characters",
            ),
            (
                &format!("/tuning/staticHyperParameters/{long_name}"),
                "hyperparameter names must be 1-256 characters",
            ),
            (
                "/tuning/staticHyperParameters/big",
                "values must be at most 2500 characters",
            ),
            (
                "/tuning/staticHyperParameters/obj",
                "must be a string, number or boolean, got an object",
            ),
        ],
    );
    rejects(
        with(json!({"tuning": {"staticHyperParameters": [1]}})),
        &[(
            "/tuning/staticHyperParameters",
            "must be an object of name → value, got an array",
        )],
    );
    rejects(
        with(json!({"tuning": {
            "ranges": [{"name": "eta", "type": "Continuous", "minValue": 0.1, "maxValue": 0.2}],
            "staticHyperParameters": {"eta": 0.3}
        }})),
        &[("/tuning/ranges/0/name", "\"eta\" is both tuned and static")],
    );
}

#[test]
fn given_a_tuning_block_of_the_wrong_shape_when_validated_then_each_field_is_named() {
    rejects(
        with(json!({"tuning": 3})),
        &[("/tuning", "must be an object, got a number")],
    );
    rejects(
        with(json!({"tuning": {"maxjobs": 3}})),
        &[(
            "/tuning/maxjobs",
            "unknown field (allowed: enabled, strategy, objective, ranges, staticHyperParameters, maxJobs, maxParallelJobs, earlyStopping)",
        )],
    );
    rejects(
        with(json!({"tuning": {"objective": "validation:auc"}})),
        &[("/tuning/objective", "must be an object, got a string")],
    );
    rejects(
        with(json!({"tuning": {"objective": {"metric": "validation:auc", "kind": "Maximize"}}})),
        &[(
            "/tuning/objective/kind",
            "unknown field (allowed: metric, type)",
        )],
    );
}

#[test]
fn given_problems_in_every_part_of_tuning_when_validated_then_they_are_reported_in_field_order() {
    rejects(
        with(json!({"tuning": {
            "enabled": 1,
            "strategy": "Genetic",
            "objective": {"metric": "validation:auc", "type": "Up"},
            "ranges": [
                {"name": "a", "type": "Categorical", "values": [1]},
                {"name": "a", "type": "Categorical", "values": [2]}
            ],
            "staticHyperParameters": {"": 1, "a": 2},
            "maxJobs": 0,
            "maxParallelJobs": 9,
            "earlyStopping": "On"
        }})),
        &[
            ("/tuning/enabled", "must be true or false, got a number"),
            (
                "/tuning/strategy",
                "must be one of Bayesian, Random, Grid, Hyperband, got \"Genetic\"",
            ),
            (
                "/tuning/objective/type",
                "must be one of Minimize, Maximize, got \"Up\"",
            ),
            ("/tuning/ranges/1/name", "duplicate range \"a\""),
            (
                "/tuning/staticHyperParameters/",
                "hyperparameter names must be 1-256 characters",
            ),
            // by the raw ranges: each range named "a" clashes, duplicate or not
            ("/tuning/ranges/0/name", "\"a\" is both tuned and static"),
            ("/tuning/ranges/1/name", "\"a\" is both tuned and static"),
            ("/tuning/maxJobs", "must be an integer from 1 to 750, got 0"),
            // An invalid maxJobs leaves the default of 8 to compare maxParallelJobs with.
            ("/tuning/maxParallelJobs", "must not exceed maxJobs (8)"),
            (
                "/tuning/earlyStopping",
                "must be one of Off, Auto, got \"On\"",
            ),
        ],
    );
    // With tuning enabled, the same ranges and statics also clash, and the limits are compared.
    rejects(
        with(json!({"tuning": {
            "ranges": [{"name": "a", "type": "Categorical", "values": [1]}],
            "staticHyperParameters": {"a": 2},
            "maxJobs": 2,
            "maxParallelJobs": 3,
            "strategy": "Hyperband",
            "earlyStopping": "Auto"
        }})),
        &[
            ("/tuning/ranges/0/name", "\"a\" is both tuned and static"),
            ("/tuning/maxParallelJobs", "must not exceed maxJobs (2)"),
            (
                "/tuning/earlyStopping",
                "must be Off with the Hyperband strategy (it stops jobs itself)",
            ),
        ],
    );
}

#[test]
fn given_bad_tuning_limits_and_strategies_when_validated_then_each_is_named() {
    rejects(
        with(
            json!({"tuning": {"maxJobs": 751, "maxParallelJobs": 0, "strategy": "Genetic", "earlyStopping": "On", "enabled": "yes"}}),
        ),
        &[
            ("/tuning/enabled", "must be true or false, got a string"),
            (
                "/tuning/strategy",
                "must be one of Bayesian, Random, Grid, Hyperband, got \"Genetic\"",
            ),
            (
                "/tuning/maxJobs",
                "must be an integer from 1 to 750, got 751",
            ),
            (
                "/tuning/maxParallelJobs",
                "must be an integer from 1 to 100, got 0",
            ),
            (
                "/tuning/earlyStopping",
                "must be one of Off, Auto, got \"On\"",
            ),
        ],
    );
    rejects(
        with(json!({"tuning": {"maxJobs": 3, "maxParallelJobs": 4}})),
        &[("/tuning/maxParallelJobs", "must not exceed maxJobs (3)")],
    );
    assert_eq!(
        valid(with(
            json!({"tuning": {"maxJobs": 3, "maxParallelJobs": 3}})
        ))
        .tuning
        .max_parallel_jobs,
        3
    );
    rejects(
        with(json!({"tuning": {"strategy": "Hyperband", "earlyStopping": "Auto"}})),
        &[(
            "/tuning/earlyStopping",
            "must be Off with the Hyperband strategy (it stops jobs itself)",
        )],
    );
    // Disabled tuning is not checked for what only a tuning job would reject.
    valid(with(
        json!({"tuning": {"enabled": false, "strategy": "Hyperband", "earlyStopping": "Auto"}}),
    ));
    valid(with(json!({"tuning": {"strategy": "Hyperband"}})));
    valid(with(
        json!({"tuning": {"strategy": "Random", "earlyStopping": "Auto"}}),
    ));
}

/// A Grid tuning block over `ranges`, with `extra` fields.
fn grid(ranges: Value, extra: Value) -> Value {
    let mut tuning = json!({"strategy": "Grid", "ranges": ranges});
    for (k, v) in extra.as_object().unwrap() {
        tuning[k] = v.clone();
    }
    with(json!({ "tuning": tuning }))
}

fn categorical(name: &str, values: &[&str]) -> Value {
    json!({"name": name, "type": "Categorical", "values": values})
}

#[test]
fn given_grid_with_categorical_ranges_when_validated_then_max_jobs_is_the_number_of_combinations() {
    let ranges = json!([
        categorical("booster", &["gbtree", "dart"]),
        categorical("max_depth", &["3", "5", "7"])
    ]);
    // Without maxJobs, the job count is the number of combinations (2 x 3).
    let t = valid(grid(ranges.clone(), json!({}))).tuning;
    assert_eq!((t.max_jobs, t.max_parallel_jobs), (6, 2));
    // maxJobs equal to the number of combinations is accepted.
    let t = valid(grid(ranges, json!({"maxJobs": 6, "maxParallelJobs": 6}))).tuning;
    assert_eq!((t.max_jobs, t.max_parallel_jobs), (6, 6));
}

/// The Grid strategy's range types and the range names' uniqueness are checked on the raw
/// ranges: a range that is also invalid in another way gets every problem at once.
#[test]
fn given_invalid_ranges_under_grid_when_validated_then_their_type_and_name_problems_are_reported_too()
 {
    rejects(
        grid(
            json!([
                {"name": "eta", "type": "Continuous", "minValue": 0.3, "maxValue": 0.1},
                categorical("booster", &["gbtree", "dart"]),
                {"name": "booster", "type": "Categorical", "values": []}
            ]),
            json!({}),
        ),
        &[
            ("/tuning/ranges/0/maxValue", "must be greater than minValue"),
            (
                "/tuning/ranges/2/values",
                "must be an array of 1 to 30 values",
            ),
            ("/tuning/ranges/2/name", "duplicate range \"booster\""),
            (
                "/tuning/ranges/0/type",
                "range \"eta\" is Continuous: the Grid strategy takes only Categorical ranges",
            ),
        ],
    );
}

#[test]
fn given_grid_with_integer_or_continuous_ranges_when_validated_then_each_is_refused_by_name() {
    rejects(
        grid(
            json!([
                {"name": "eta", "type": "Continuous", "minValue": 0.1, "maxValue": 0.3},
                categorical("booster", &["gbtree", "dart"]),
                {"name": "max_depth", "type": "Integer", "minValue": 3, "maxValue": 5}
            ]),
            json!({}),
        ),
        &[
            (
                "/tuning/ranges/0/type",
                "range \"eta\" is Continuous: the Grid strategy takes only Categorical ranges",
            ),
            (
                "/tuning/ranges/2/type",
                "range \"max_depth\" is Integer: the Grid strategy takes only Categorical ranges",
            ),
        ],
    );
    // The built-in algorithm's default ranges are Integer and Continuous: Grid needs its own.
    rejects(
        with(json!({"tuning": {"strategy": "Grid"}})),
        &[(
            "/tuning/ranges",
            "is required with the Grid strategy: it takes only Categorical ranges, and the default ranges are Integer and Continuous",
        )],
    );
    // Disabled tuning runs no Grid job, so its ranges are not checked against Grid.
    valid(with(
        json!({"tuning": {"enabled": false, "strategy": "Grid"}}),
    ));
}

#[test]
fn given_grid_with_max_jobs_other_than_the_number_of_combinations_when_validated_then_both_numbers_are_named()
 {
    let ranges = json!([
        categorical("booster", &["gbtree", "dart"]),
        categorical("max_depth", &["3", "5", "7"])
    ]);
    for given in [1, 5, 7, 750] {
        let message = format!(
            "is {given}, but the Grid strategy runs one training job per combination and the ranges give 6 combinations; give 6 or omit maxJobs"
        );
        rejects(
            grid(ranges.clone(), json!({ "maxJobs": given })),
            &[("/tuning/maxJobs", message.as_str())],
        );
    }
}

#[test]
fn given_grid_over_more_than_750_combinations_when_validated_then_it_is_refused() {
    let values: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    // 25 x 30 = 750, SageMaker's quota of training jobs per Grid tuning job, is accepted.
    let t = valid(grid(
        json!([categorical("a", &values[..25]), categorical("b", &values)]),
        json!({}),
    ))
    .tuning;
    assert_eq!(t.max_jobs, 750);
    rejects(
        grid(
            json!([categorical("a", &values[..26]), categorical("b", &values)]),
            json!({}),
        ),
        &[(
            "/tuning/ranges",
            "give 780 combinations of values; the Grid strategy runs one training job per combination and allows at most 750",
        )],
    );
    // Thirty ranges of thirty values: the product does not even fit in a u128.
    let ranges: Vec<Value> = (0..30)
        .map(|i| categorical(&format!("h{i}"), &values))
        .collect();
    rejects(
        grid(json!(ranges), json!({})),
        &[(
            "/tuning/ranges",
            "give more than 340282366920938463463374607431768211455 combinations of values; the Grid strategy runs one training job per combination and allows at most 750",
        )],
    );
}

#[test]
fn given_grid_with_more_parallel_jobs_than_combinations_when_validated_then_the_job_count_is_named()
{
    rejects(
        grid(
            json!([categorical("booster", &["gbtree", "dart"])]),
            json!({"maxParallelJobs": 3}),
        ),
        &[(
            "/tuning/maxParallelJobs",
            "must not exceed the 2 training jobs of the Grid strategy (one per combination)",
        )],
    );
}

#[test]
fn given_bad_objectives_when_validated_then_each_field_is_named() {
    rejects(
        with(json!({"tuning": {"objective": {}}})),
        &[("/tuning/objective/metric", "is required")],
    );
    rejects(
        with(json!({"tuning": {"objective": {"metric": "validation:custom"}}})),
        &[(
            "/tuning/objective/type",
            "is required for this metric (Minimize or Maximize)",
        )],
    );
    rejects(
        with(json!({"tuning": {"objective": {"metric": "validation:rmse", "type": "Lower"}}})),
        &[(
            "/tuning/objective/type",
            "must be one of Minimize, Maximize, got \"Lower\"",
        )],
    );
    rejects(
        with(json!({
            "algorithm": {"image": "mine:1", "metricDefinitions": [{"name": "loss", "regex": "l=(.*)"}]},
            "tuning": {
                "objective": {"metric": "acc", "type": "Maximize"},
                "ranges": [{"name": "a", "type": "Categorical", "values": [1]}]
            }
        })),
        &[(
            "/tuning/objective/metric",
            "\"acc\" is not among /algorithm/metricDefinitions (a custom image must define its objective metric)",
        )],
    );
    let v = valid(with(
        json!({"tuning": {"objective": {"metric": "validation:rmse", "type": "Maximize"}}}),
    ));
    assert_eq!(
        serde_json::to_value(&v.tuning.objective).unwrap(),
        json!({"metric": "validation:rmse", "type": "Maximize"})
    );
}

#[test]
fn given_bad_monitoring_fields_when_validated_then_each_is_named_with_its_bounds() {
    rejects(
        with(json!({"monitoring": {
            "metric": "auc",
            "threshold": "high",
            "direction": "Up",
            "maxDegradation": -0.01,
            "cooldownSeconds": 31536001,
            "maxRetrainsPerWindow": 1001,
            "windowSeconds": 0
        }})),
        &[
            (
                "/monitoring/metric",
                "must be one of rmse, mae, r2, got \"auc\"",
            ),
            (
                "/monitoring/threshold",
                "must be a finite number, got a string",
            ),
            (
                "/monitoring/direction",
                "must be one of LowerIsBetter, HigherIsBetter, got \"Up\"",
            ),
            (
                "/monitoring/maxDegradation",
                "must be at least 0 (a fraction, 0.1 = 10%)",
            ),
            (
                "/monitoring/cooldownSeconds",
                "must be an integer from 0 to 31536000, got 31536001",
            ),
            (
                "/monitoring/maxRetrainsPerWindow",
                "must be an integer from 0 to 1000, got 1001",
            ),
            (
                "/monitoring/windowSeconds",
                "must be an integer from 1 to 31536000, got 0",
            ),
        ],
    );
    rejects(
        with(json!({"monitoring": {"maxDegradation": "x"}})),
        &[(
            "/monitoring/maxDegradation",
            "must be a finite number, got a string",
        )],
    );
    let m = resolved(with(
        json!({"monitoring": {"metric": "mae", "maxRetrainsPerWindow": 0, "windowSeconds": 1}}),
    ));
    assert_eq!(
        m["monitoring"],
        json!({
            "metric": "mae",
            "direction": "LowerIsBetter",
            "maxDegradation": 0.1,
            "cooldownSeconds": 86400,
            "maxRetrainsPerWindow": 0,
            "windowSeconds": 1
        })
    );
}

#[test]
fn given_bad_tracking_when_validated_then_uri_and_experiment_are_named() {
    rejects(
        with(json!({"tracking": {}})),
        &[(
            "/tracking/uri",
            "is required (an http(s):// URI or a SageMaker tracking server ARN)",
        )],
    );
    rejects(
        with(json!({"tracking": {"uri": "ftp://h", "experiment": "é".repeat(257)}})),
        &[
            (
                "/tracking/uri",
                "expected an http(s):// URI or a SageMaker tracking server ARN, got \"ftp://h\"",
            ),
            ("/tracking/experiment", "must be at most 256 characters"),
        ],
    );
    // Without a valid model name there is no default experiment: only the name is reported.
    rejects(
        json!({"modelName": "-", "tracking": {"uri": "http://h"}}),
        &[(
            "/modelName",
            "must be 1-48 letters, digits and hyphens, starting and ending with a letter or digit, got \"-\"",
        )],
    );
}

#[test]
fn given_tracking_uris_when_checked_then_each_rule_has_its_message() {
    use mdlc_core::input::check_tracking_uri;
    let arn_form =
        "an ARN has the form arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME";
    let long = format!("http://{}", "h".repeat(2042)); // 2049 characters
    for (uri, why) in [
        ("", "must be 1-2048 characters"),
        (long.as_str(), "must be 1-2048 characters"),
        (
            "http://a b",
            "must not contain spaces or control characters",
        ),
        (
            "http://a\u{7}",
            "must not contain spaces or control characters",
        ),
        ("arn:aws:sagemaker:eu-west-1", arn_form),
        (
            "arn:aws-cn:sagemaker:r:1:mlflow-tracking-server/n",
            "the ARN's partition must be aws or aws-us-gov",
        ),
        (
            "arn:aws:s3:r:1:mlflow-tracking-server/n",
            "the ARN's service must be sagemaker",
        ),
        (
            "arn:aws:sagemaker::1:mlflow-tracking-server/n",
            "the ARN needs a region and an account",
        ),
        (
            "arn:aws:sagemaker:r::mlflow-tracking-server/n",
            "the ARN needs a region and an account",
        ),
        (
            "arn:aws:sagemaker:r:1:mlflow-tracking-server/",
            "the ARN's resource must be mlflow-tracking-server/NAME",
        ),
        (
            "arn:aws:sagemaker:r:1:tracking-server/n",
            "the ARN's resource must be mlflow-tracking-server/NAME",
        ),
        (
            "arn:aws:sagemaker:r:1:mlflow-tracking-server",
            "the ARN's resource must be mlflow-tracking-server/NAME",
        ),
        (
            "mlflow:5000",
            "expected an http(s):// URI or a SageMaker tracking server ARN",
        ),
        ("http://[::1", "an IPv6 host must be closed with ']'"),
        ("http:///path", "the URI has no host"),
        ("https://user@:80", "the URI has no host"),
        ("http://[]:80", "the URI has no host"),
        (
            "http://h:http",
            "the port \"http\" is not a number from 0 to 65535",
        ),
        (
            "http://h:65536/x",
            "the port \"65536\" is not a number from 0 to 65535",
        ),
        (
            "http://[::1]:x",
            "the port \"x\" is not a number from 0 to 65535",
        ),
    ] {
        assert_eq!(check_tracking_uri(uri), Err(why.to_string()), "{uri:?}");
    }
    let max = format!("http://{}", "h".repeat(2041)); // 2048 characters
    for uri in [
        max.as_str(),
        "http://h",
        "https://user:pw@h:65535/p?q#f",
        "http://[::1]:5000",
        "http://[::1]",
        "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/prod",
        "arn:aws-us-gov:sagemaker:us-gov-west-1:1:mlflow-tracking-server/a/b",
    ] {
        assert_eq!(check_tracking_uri(uri), Ok(()), "{uri:?}");
    }
}

#[test]
fn given_bad_transform_fields_when_validated_then_each_is_named_with_its_bounds() {
    rejects(
        with(json!({"transform": {
            "instanceType": "large",
            "instanceCount": 101,
            "maxPayloadMb": 0,
            "batchStrategy": "Batch",
            "maxConcurrentTransforms": 65
        }})),
        &[
            (
                "/transform/instanceType",
                "must be a SageMaker instance type like ml.m5.xlarge, got \"large\"",
            ),
            (
                "/transform/instanceCount",
                "must be an integer from 1 to 100, got 101",
            ),
            (
                "/transform/maxPayloadMb",
                "must be an integer from 1 to 100, got 0",
            ),
            (
                "/transform/batchStrategy",
                "must be one of MultiRecord, SingleRecord, got \"Batch\"",
            ),
            (
                "/transform/maxConcurrentTransforms",
                "must be an integer from 1 to 64, got 65",
            ),
        ],
    );
    rejects(
        with(json!({"transform": {"maxPayloadMb": 101, "maxConcurrentTransforms": 0}})),
        &[
            (
                "/transform/maxPayloadMb",
                "must be an integer from 1 to 100, got 101",
            ),
            (
                "/transform/maxConcurrentTransforms",
                "must be an integer from 1 to 64, got 0",
            ),
        ],
    );
}

#[test]
fn given_a_checker_when_a_number_or_integer_is_absent_then_nothing_is_reported() {
    let mut c = Checker::default();
    assert_eq!(c.number(None, "/n"), None);
    assert_eq!(c.integer(None, "/i", 1, 2), None);
    assert_eq!(c.integer(Some(&json!(2)), "/i", 1, 2), Some(2));
    assert_eq!(c.integer(Some(&json!(1)), "/i", 1, 2), Some(1));
    assert_eq!(c.number(Some(&json!(-2.5)), "/n"), Some(-2.5));
    assert!(c.problems.is_empty());
}

#[test]
fn given_an_invalid_algorithm_when_tuning_is_on_then_only_the_algorithm_is_reported() {
    // No custom image was given: the default ranges' absence is not a second problem.
    rejects(
        with(json!({"algorithm": {"instanceCount": 0}})),
        &[(
            "/algorithm/instanceCount",
            "must be an integer from 1 to 100, got 0",
        )],
    );
    rejects(
        with(json!({"algorithm": {"image": 7}})),
        &[("/algorithm/image", "must be a string, got a number")],
    );
    // A custom image with one bad limit: only the limit, not the custom image's tuning rules.
    for (field, bad, message) in [
        (
            "instanceCount",
            0,
            "must be an integer from 1 to 100, got 0",
        ),
        (
            "volumeSizeGb",
            0,
            "must be an integer from 1 to 16384, got 0",
        ),
        (
            "maxRuntimeSeconds",
            0,
            "must be an integer from 1 to 2419200, got 0",
        ),
    ] {
        rejects(
            with(json!({"algorithm": {"image": "mine:1", field: bad}})),
            &[(&format!("/algorithm/{field}"), message)],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// the approval gate

#[test]
fn given_no_approval_field_then_the_gate_is_off_and_not_written() {
    let input = valid(json!({"modelName": "churn"}));
    assert!(!input.approval_required);
    assert!(
        resolved(json!({"modelName": "churn"}))
            .get("approvalRequired")
            .is_none()
    );
}

#[test]
fn given_approval_required_then_the_resolved_input_carries_the_gate() {
    assert!(valid(with(json!({"approvalRequired": true}))).approval_required);
    assert_eq!(
        resolved(with(json!({"approvalRequired": true})))["approvalRequired"],
        json!(true)
    );
    assert!(!valid(with(json!({"approvalRequired": false}))).approval_required);
}

#[test]
fn given_an_approval_flag_that_is_not_a_boolean_then_its_pointer_is_named() {
    rejects(
        with(json!({"approvalRequired": "yes"})),
        &[("/approvalRequired", "must be true or false, got a string")],
    );
}
