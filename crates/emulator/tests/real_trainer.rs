//! The emulator with the workspace's real built-in trainer (`mdlc-trainer`, mapped from the
//! SageMaker XGBoost image URIs): training, tuning on `validation:rmse`, CreateModel and batch
//! transform by the serve contract. Ignored unless asked for (`--run-ignored all`, as `make test`
//! does, where the workspace build provides the binary); when asked for, a trainer that is not
//! built (`cargo build -p mdlc-trainer`) fails the test.

mod common;

use common::*;
use mdlc_core::ports::ObjectStore;
use serde_json::{Value, json};

const XGB: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

/// Fails the test when the built-in trainer is not built.
fn require_trainer() {
    if let Err(e) = mdlc_emulator::config::find_builtin_trainer() {
        panic!("{e} (build it: cargo build -p mdlc-trainer)");
    }
}

/// y = 3·a − 2·b + small deterministic noise; label first, no header.
fn rows(n: usize, offset: usize, with_label: bool) -> String {
    (offset..offset + n)
        .map(|i| {
            let a = ((i * 37) % 101) as f64 / 10.0;
            let b = ((i * 53) % 89) as f64 / 10.0;
            let noise = (((i * 7919) % 13) as f64 - 6.0) / 60.0;
            let y = 3.0 * a - 2.0 * b + noise;
            if with_label {
                format!("{y},{a},{b}\n")
            } else {
                format!("{a},{b}\n")
            }
        })
        .collect()
}

fn xgb_training(name: &str, hps: Value) -> Value {
    json!({
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": XGB, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": hps,
        "InputDataConfig": [
            {"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/xgb/train/"}}},
            {"ChannelName": "validation", "ContentType": "text/csv", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/xgb/validation/"}}}
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/xgb/out"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc-trainer binary: run with --run-ignored all (make test)"]
async fn given_the_builtin_trainer_when_training_tuning_and_transforming_then_the_life_cycle_works()
{
    require_trainer();
    let env = setup();
    put(
        &env.store,
        "s3://bucket/xgb/train/train.csv",
        &rows(400, 0, true),
    )
    .await;
    put(
        &env.store,
        "s3://bucket/xgb/validation/validation.csv",
        &rows(100, 400, true),
    )
    .await;
    let hps = json!({"num_round": "30", "max_depth": "3", "eta": "0.3", "objective": "reg:squarederror", "eval_metric": "rmse"});
    let d = env
        .emu
        .call("createTrainingJob", true, xgb_training("xgb-train", hps))
        .await
        .expect("training");
    let finals = d["FinalMetricDataList"].as_array().unwrap();
    let rmse = finals
        .iter()
        .find(|m| m["MetricName"] == "validation:rmse")
        .expect("validation:rmse")["Value"]
        .as_f64()
        .unwrap();
    // The label's standard deviation is about 10; the model must do far better than the mean.
    assert!(rmse < 3.0, "validation:rmse {rmse}");
    assert!(
        finals.iter().any(|m| m["MetricName"] == "train:rmse"),
        "{finals:?}"
    );

    let tuning = json!({
        "HyperParameterTuningJobName": "xgb-tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"}],
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "5"}]
            }
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"num_round": "20", "objective": "reg:squarederror", "eval_metric": "rmse"},
            "AlgorithmSpecification": {"TrainingImage": XGB, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": xgb_training("x", json!({}))["InputDataConfig"],
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/xgb/tuning"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}
        }
    });
    let t = env
        .emu
        .call("createHyperParameterTuningJob", true, tuning)
        .await
        .expect("tuning");
    assert_eq!(t["TrainingJobStatusCounters"]["Completed"], 4, "{t:#}");
    let best = t["BestTrainingJob"]["TrainingJobName"]
        .as_str()
        .unwrap()
        .to_string();
    let described = env
        .emu
        .describe(mdlc_emulator::JobKind::Training, &best)
        .unwrap();
    assert_eq!(
        described["HyperParameters"]["_tuning_objective_metric"],
        "validation:rmse"
    );
    let model_data = described["ModelArtifacts"]["S3ModelArtifacts"]
        .as_str()
        .unwrap()
        .to_string();

    env.emu
        .call("createModel", false, json!({"ModelName": "xgb-model", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": XGB, "ModelDataUrl": model_data}}))
        .await
        .unwrap();
    put(
        &env.store,
        "s3://bucket/xgb/holdout/holdout.csv",
        &rows(50, 1000, false),
    )
    .await;
    let transform = json!({
        "TransformJobName": "xgb-transform",
        "ModelName": "xgb-model",
        "MaxConcurrentTransforms": 2,
        "MaxPayloadInMB": 1,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/xgb/holdout/"}}, "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://bucket/xgb/predictions/", "AssembleWith": "Line"},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
    });
    let d = env
        .emu
        .call("createTransformJob", true, transform)
        .await
        .expect("transform");
    assert_eq!(d["TransformJobStatus"], "Completed");
    let out =
        String::from_utf8(get(&env.store, "s3://bucket/xgb/predictions/holdout.csv.out").await)
            .unwrap();
    let truth: Vec<f64> = rows(50, 1000, true)
        .lines()
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    let preds: Vec<f64> = out.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(preds.len(), truth.len());
    let mse = preds
        .iter()
        .zip(&truth)
        .map(|(p, t)| (p - t) * (p - t))
        .sum::<f64>()
        / truth.len() as f64;
    assert!(mse.sqrt() < 3.0, "holdout rmse {}", mse.sqrt());
}

fn processing_request(name: &str, raw: &str, args: Value) -> Value {
    let output = |name: &str| {
        json!({"OutputName": name, "S3Output": {
            "S3Uri": format!("s3://bucket/prep/{name}/"),
            "LocalPath": format!("/opt/ml/processing/output/{name}"),
            "S3UploadMode": "EndOfJob"}})
    };
    json!({
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        "AppSpecification": {"ImageUri": mdlc_emulator::config::PREPROCESS_IMAGE, "ContainerArguments": args},
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {"S3Uri": raw, "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [output("train"), output("validation"), output("profile")]},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc-trainer binary: run with --run-ignored all (make test)"]
async fn given_the_preprocess_image_when_processing_a_raw_csv_then_it_is_split_and_profiled() {
    require_trainer();
    let env = setup();
    // 200 rows, binary label (1 for every fourth row) first, two features.
    let raw: String = (0..200)
        .map(|i| {
            let label = u8::from(i % 4 == 0);
            format!("{label},{},{}\n", i as f64 / 10.0, (i % 7) as f64)
        })
        .collect();
    put(&env.store, "s3://bucket/raw/data.csv", &raw).await;
    let d = env
        .emu
        .call(
            "createProcessingJob",
            true,
            processing_request(
                "prep-ok",
                "s3://bucket/raw/",
                json!(["--train-ratio", "0.8", "--seed", "7"]),
            ),
        )
        .await
        .expect("processing");
    assert_eq!(d["ProcessingJobStatus"], "Completed", "{d:#}");
    let lines = |b: Vec<u8>| -> Vec<String> {
        String::from_utf8(b)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let train = lines(get(&env.store, "s3://bucket/prep/train/train.csv").await);
    let validation = lines(get(&env.store, "s3://bucket/prep/validation/validation.csv").await);
    assert_eq!((train.len(), validation.len()), (160, 40));
    // Stratified: the positives (50 of 200) keep their share on both sides.
    let positives = |rows: &[String]| {
        rows.iter()
            .filter(|r| r.split(',').next().and_then(|l| l.parse::<f64>().ok()) == Some(1.0))
            .count()
    };
    assert_eq!((positives(&train), positives(&validation)), (40, 10));
    let profile: Value =
        serde_json::from_slice(&get(&env.store, "s3://bucket/prep/profile/profile.json").await)
            .expect("profile JSON");
    assert_eq!(profile["rows"], 200);
    assert_eq!(profile["problem"], "binary");
    let f0 = &profile["features"][0];
    assert_eq!(f0["count"], 200);
    assert_eq!(f0["min"], 0.0);
    assert!((f0["max"].as_f64().unwrap() - 19.9).abs() < 1e-4, "{f0}");
    assert_eq!(f0["bins"]["shares"].as_array().unwrap().len(), 10);
    // The profile is what drift is measured against.
    let baseline: mdlc_core::drift::BaselineProfile =
        serde_json::from_value(profile.clone()).expect("drift baseline");
    assert_eq!(baseline.features.len(), 2);

    // A bad raw file fails the job with the program's reason.
    put(&env.store, "s3://bucket/bad/data.csv", "1,2\nx,3\n").await;
    let f = env
        .emu
        .call(
            "createProcessingJob",
            true,
            processing_request("prep-bad", "s3://bucket/bad/", json!([])),
        )
        .await
        .unwrap_err();
    let d: Value = serde_json::from_str(&f.cause).unwrap();
    assert_eq!(d["ProcessingJobStatus"], "Failed");
    assert!(
        d["FailureReason"].as_str().unwrap().contains("line 2"),
        "{d:#}"
    );

    // The preprocessing image runs processing jobs only.
    let mut req = xgb_training("prep-as-training", json!({}));
    req["AlgorithmSpecification"]["TrainingImage"] = json!("mdlc/preprocess");
    let f = env
        .emu
        .call("createTrainingJob", false, req)
        .await
        .unwrap_err();
    assert!(f.cause.contains("processing jobs only"), "{}", f.cause);
}

/// The final value of `metric` in a finished training job's Describe* output.
fn final_metric(d: &Value, metric: &str) -> f64 {
    d["FinalMetricDataList"]
        .as_array()
        .expect("FinalMetricDataList")
        .iter()
        .find(|m| m["MetricName"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {d:#}"))["Value"]
        .as_f64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc-trainer binary: run with --run-ignored all (make test)"]
async fn given_pipe_channels_when_the_builtin_trainer_trains_then_the_model_is_the_file_modes() {
    require_trainer();
    let env = setup();
    // the training data in two objects, so that the stream concatenates them
    put(
        &env.store,
        "s3://bucket/xgb/train/a.csv",
        &rows(250, 0, true),
    )
    .await;
    put(
        &env.store,
        "s3://bucket/xgb/train/b.csv",
        &rows(150, 250, true),
    )
    .await;
    put(
        &env.store,
        "s3://bucket/xgb/validation/validation.csv",
        &rows(100, 400, true),
    )
    .await;
    let hps = json!({"num_round": "25", "max_depth": "3", "eta": "0.3", "objective": "reg:squarederror", "eval_metric": "rmse"});
    let file = env
        .emu
        .call(
            "createTrainingJob",
            true,
            xgb_training("xgb-file", hps.clone()),
        )
        .await
        .expect("File mode training");
    let mut req = xgb_training("xgb-pipe", hps);
    req["AlgorithmSpecification"]["TrainingInputMode"] = json!("Pipe");
    let pipe = env
        .emu
        .call("createTrainingJob", true, req)
        .await
        .expect("Pipe mode training");
    assert_eq!(pipe["TrainingJobStatus"], "Completed", "{pipe:#}");
    // Same data, same seed: the same trees, so the same validation metric (tolerance 1e-9).
    let (f, p) = (
        final_metric(&file, "validation:rmse"),
        final_metric(&pipe, "validation:rmse"),
    );
    assert!((f - p).abs() < 1e-9, "File {f} vs Pipe {p}");
    assert!(p < 3.0, "validation:rmse {p}");
    let model = |d: &Value| {
        let uri = d["ModelArtifacts"]["S3ModelArtifacts"]
            .as_str()
            .unwrap()
            .to_string();
        let store = env.store.clone();
        async move {
            let tar = get(&store, &uri).await;
            let dir = tempfile::tempdir().unwrap();
            mdlc_emulator::files::unpack(&tar, dir.path()).unwrap();
            std::fs::read(dir.path().join("xgboost-model")).unwrap()
        }
    };
    assert_eq!(
        model(&pipe).await,
        model(&file).await,
        "the Pipe job's trees are the File job's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc-trainer binary: run with --run-ignored all (make test)"]
async fn given_a_libsvm_pipe_channel_when_the_builtin_trainer_starts_then_the_job_fails_with_sagemaker_xgboosts_message()
 {
    require_trainer();
    let env = setup();
    put(
        &env.store,
        "s3://bucket/xgb/train/a.csv",
        &rows(50, 0, true),
    )
    .await;
    put(
        &env.store,
        "s3://bucket/xgb/validation/validation.csv",
        &rows(20, 50, true),
    )
    .await;
    let mut req = xgb_training("xgb-pipe-libsvm", json!({"num_round": "5"}));
    req["AlgorithmSpecification"]["TrainingInputMode"] = json!("Pipe");
    req["InputDataConfig"][0]["ContentType"] = json!("text/libsvm");
    let f = env
        .emu
        .call("createTrainingJob", true, req)
        .await
        .expect_err("a LibSVM Pipe channel is refused");
    let d: Value = serde_json::from_str(&f.cause).unwrap();
    assert_eq!(d["TrainingJobStatus"], "Failed");
    let reason = d["FailureReason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "ClientError: Channel configuration for 'train' channel is not supported: {'ContentType': 'text/libsvm', 'TrainingInputMode': 'Pipe', 'S3DistributionType': 'FullyReplicated', 'RecordWrapperType': 'None', 'CompressionType': 'None'}"
        ),
        "{reason}"
    );
}

/// The built-in model server reads `text/csv` only: a RecordIO batch (SplitType RecordIO,
/// `application/x-recordio-protobuf`) is answered 415, and the job fails with it, naming the
/// object, as SageMaker's log does (`<bucket>/<key>: ClientError: 415`); nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built mdlc-trainer binary: run with --run-ignored all (make test)"]
async fn given_a_recordio_batch_when_the_builtin_model_server_cannot_read_it_then_the_job_fails_with_its_415()
 {
    require_trainer();
    let env = setup();
    put(
        &env.store,
        "s3://bucket/xgb/train/train.csv",
        &rows(200, 0, true),
    )
    .await;
    put(
        &env.store,
        "s3://bucket/xgb/validation/validation.csv",
        &rows(50, 200, true),
    )
    .await;
    let hps = json!({"num_round": "3", "max_depth": "2", "objective": "reg:squarederror"});
    let d = env
        .emu
        .call("createTrainingJob", true, xgb_training("xgb-rio", hps))
        .await
        .expect("training");
    let model_data = d["ModelArtifacts"]["S3ModelArtifacts"].as_str().unwrap();
    env.emu
        .call("createModel", false, json!({"ModelName": "xgb-rio-model", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": XGB, "ModelDataUrl": model_data}}))
        .await
        .unwrap();
    let body: Vec<u8> = rows(20, 0, false)
        .lines()
        .flat_map(|l| mdlc_emulator::records::encode_recordio(l.as_bytes()))
        .collect();
    let uri: mdlc_core::S3Uri = "s3://bucket/xgb/rio/in.rec".parse().unwrap();
    env.store.put(&uri, body).await.unwrap();
    let transform = json!({
        "TransformJobName": "xgb-rio-transform",
        "ModelName": "xgb-rio-model",
        "BatchStrategy": "MultiRecord",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/xgb/rio/"}}, "ContentType": "application/x-recordio-protobuf", "SplitType": "RecordIO"},
        "TransformOutput": {"S3OutputPath": "s3://bucket/xgb/rio-out/"},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
    });
    let f = env
        .emu
        .call("createTransformJob", true, transform)
        .await
        .expect_err("a RecordIO batch to a text/csv model server fails");
    let d = described(&f);
    assert_eq!(d["TransformJobStatus"], "Failed", "{d:#}");
    assert_eq!(
        d["FailureReason"],
        "ClientError: the model server answered POST /invocations for s3://bucket/xgb/rio/in.rec with HTTP 415: content type \"application/x-recordio-protobuf\" is not supported; use text/csv"
    );
    let log: Vec<String> = env
        .emu
        .log_events(mdlc_emulator::JobKind::Transform, "xgb-rio-transform")
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert!(
        log.iter()
            .any(|l| l == "[sagemaker logs]: bucket/xgb/rio/in.rec: ClientError: 415"),
        "{log:#?}"
    );
    assert!(
        env.store
            .list(&"s3://bucket/xgb/rio-out/".parse().unwrap())
            .await
            .unwrap()
            .is_empty(),
        "no output object"
    );
}
