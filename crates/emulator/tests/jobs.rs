//! Tuning, transform and processing jobs end to end with the fake container.

mod common;

use common::*;
use mdlc_emulator::JobKind;
use serde_json::{Value, json};

fn tuning_request(
    name: &str,
    strategy: &str,
    max_jobs: u64,
    parallel: u64,
    ranges: Value,
    static_hps: Value,
) -> Value {
    let def = training_request("unused", json!({}));
    json!({
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": ranges,
            "RandomSeed": 7
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": static_hps,
            "AlgorithmSpecification": def["AlgorithmSpecification"],
            "RoleArn": ROLE,
            "InputDataConfig": def["InputDataConfig"],
            "OutputDataConfig": def["OutputDataConfig"],
            "ResourceConfig": def["ResourceConfig"],
            "StoppingCondition": def["StoppingCondition"]
        }
    })
}

fn max_overlap(log: &str) -> usize {
    let (mut now, mut max) = (0usize, 0usize);
    for l in log.lines() {
        if l.starts_with("start ") {
            now += 1;
            max = max.max(now);
        } else if l.starts_with("end ") {
            now = now.saturating_sub(1);
        }
    }
    max
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_random_tuning_when_run_sync_then_jobs_run_two_at_a_time_and_the_best_is_reported() {
    let env = setup();
    env.put_train_data().await;
    let log = env.dir.path().join("concurrency.log");
    let req = tuning_request(
        "rnd-tune",
        "Random",
        5,
        2,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}]}),
        json!({"epochs": "2", "epoch_ms": "150", "concurrency_log": log.display().to_string()}),
    );
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    assert_eq!(d["HyperParameterTuningJobStatus"], "Completed", "{d:#}");
    assert_eq!(
        d["TrainingJobStatusCounters"],
        json!({"Completed": 5, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0})
    );
    assert_eq!(
        d["ObjectiveStatusCounters"],
        json!({"Succeeded": 5, "Pending": 0, "Failed": 0})
    );
    assert_eq!(max_overlap(&std::fs::read_to_string(&log).unwrap()), 2);
    let jobs = env.tuned_jobs("rnd-tune").await;
    assert_eq!(jobs.len(), 5);
    let re = regex::Regex::new(r"^rnd-tune-00[1-5]-[0-9a-f]{8}$").unwrap();
    let mut best: Option<(f64, String)> = None;
    for j in &jobs {
        let name = text(j, "TrainingJobName");
        assert!(re.is_match(name), "{name}");
        let v = j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            .as_f64()
            .unwrap();
        let x: f64 = j["TunedHyperParameters"]["x"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((v - ((x - 0.3).powi(2) + 0.5)).abs() < 1e-9, "{j}");
        if best.as_ref().is_none_or(|(b, _)| v < *b) {
            best = Some((v, name.to_string()));
        }
        // Tuned training jobs carry the tuning job's ARN and the static hyperparameters.
        let t = env.emu.describe(JobKind::Training, name).unwrap();
        assert_eq!(
            t["TuningJobArn"],
            "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/rnd-tune"
        );
        assert_eq!(t["HyperParameters"]["epochs"], "2");
    }
    let (bv, bn) = best.unwrap();
    assert_eq!(d["BestTrainingJob"]["TrainingJobName"], json!(bn));
    assert_eq!(
        d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"],
        json!({"Type": "Minimize", "MetricName": "loss", "Value": bv})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_grid_tuning_when_run_then_every_combination_is_trained_once() {
    let env = setup();
    env.put_train_data().await;
    let mut req = tuning_request(
        "grid-tune",
        "Grid",
        100,
        3,
        json!({
            "IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": "2"}],
            "CategoricalParameterRanges": [{"Name": "x", "Values": ["0.1", "0.3", "0.9"]}]
        }),
        json!({}),
    );
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]
        .as_object_mut()
        .unwrap()
        .remove("MaxNumberOfTrainingJobs");
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    assert_eq!(d["TrainingJobStatusCounters"]["Completed"], 6);
    let mut combos: Vec<String> = env
        .tuned_jobs("grid-tune")
        .await
        .iter()
        .map(|j| j["TunedHyperParameters"].to_string())
        .collect();
    combos.sort();
    combos.dedup();
    assert_eq!(combos.len(), 6, "{combos:?}");
    assert_eq!(
        d["BestTrainingJob"]["TunedHyperParameters"],
        json!({"epochs": "2", "x": "0.3"})
    );
    // Continuous ranges are refused for Grid, like AWS.
    let bad = tuning_request(
        "grid-bad",
        "Grid",
        4,
        1,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
        json!({}),
    );
    let f = env.fail("createHyperParameterTuningJob", false, bad).await;
    assert_contains(
        &f.cause,
        "ContinuousParameterRanges' is not supported by the Grid strategy",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_bayesian_tuning_with_a_log_range_when_run_then_values_respect_the_range() {
    let env = setup();
    env.put_train_data().await;
    let req = tuning_request(
        "bayes-tune",
        "Bayesian",
        6,
        2,
        json!({
            "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}],
            "CategoricalParameterRanges": [{"Name": "y", "Values": ["0", "1"]}]
        }),
        json!({"epochs": "1"}),
    );
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    assert_eq!(d["TrainingJobStatusCounters"]["Completed"], 6);
    for j in env.tuned_jobs("bayes-tune").await {
        let x: f64 = j["TunedHyperParameters"]["x"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.001..=1.0).contains(&x), "{x}");
    }
    let best = &d["BestTrainingJob"]["TunedHyperParameters"];
    assert_eq!(best["y"], "0", "{d:#}");
    // Log scaling needs MinValue > 0.
    let bad = tuning_request(
        "bayes-bad",
        "Bayesian",
        6,
        2,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]}),
        json!({}),
    );
    let f = env.fail("createHyperParameterTuningJob", false, bad).await;
    assert_contains(&f.cause, "Logarithmic requires MinValue greater than 0");
    let bad = tuning_request(
        "bayes-metric",
        "Bayesian",
        6,
        2,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
        json!({}),
    );
    let mut bad = bad;
    bad["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] =
        json!("validation:auc");
    let f = env.fail("createHyperParameterTuningJob", false, bad).await;
    assert_contains(&f.cause, "is not among the metric definitions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_early_stopping_when_a_job_is_worse_than_the_median_then_it_is_stopped() {
    let env = setup();
    env.put_train_data().await;
    let mut req = tuning_request(
        "early-tune",
        "Grid",
        4,
        1,
        json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["0.3", "0.31", "0.32", "4"]}]}),
        json!({"epochs": "40", "epoch_ms": "20"}),
    );
    // The first three are good and run to the end; the fourth is far worse and is stopped early.
    req["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = json!("Auto");
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    assert_eq!(d["TrainingJobStatusCounters"]["Completed"], 3, "{d:#}");
    assert_eq!(d["TrainingJobStatusCounters"]["Stopped"], 1, "{d:#}");
    let stopped = env
        .tuned_jobs("early-tune")
        .await
        .into_iter()
        .find(|j| j["TrainingJobStatus"] == "Stopped")
        .unwrap();
    assert_eq!(stopped["TunedHyperParameters"]["x"], "4");
    let epochs = env.epochs_logged(text(&stopped, "TrainingJobName"));
    assert!(epochs < 40, "{epochs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_hyperband_when_run_then_no_job_goes_past_max_resource_and_weak_jobs_stop_early() {
    let env = setup();
    env.put_train_data().await;
    let mut req = tuning_request(
        "hb-tune",
        "Hyperband",
        9,
        1,
        json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["0.3", "1", "2", "3", "4", "5"]}]}),
        json!({"epochs": "200", "epoch_ms": "40"}),
    );
    req["HyperParameterTuningJobConfig"]["StrategyConfig"] =
        json!({"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}});
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    let counters = &d["TrainingJobStatusCounters"];
    assert_eq!(
        counters["Completed"].as_u64().unwrap() + counters["Stopped"].as_u64().unwrap(),
        9,
        "{d:#}"
    );
    assert!(counters["Stopped"].as_u64().unwrap() >= 1, "{d:#}");
    assert!(counters["Completed"].as_u64().unwrap() >= 1, "{d:#}");
    for j in env.tuned_jobs("hb-tune").await {
        let name = text(&j, "TrainingJobName");
        let epochs = env.epochs_logged(name);
        // MaxResource is 9 epochs; the program would run 200 (a few lines may follow the stop).
        assert!(epochs <= 30, "{name} ran {epochs} epochs");
    }
    // Early stopping Auto is refused with Hyperband.
    let mut bad = tuning_request(
        "hb-bad",
        "Hyperband",
        3,
        1,
        json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["1"]}]}),
        json!({"epochs": "3"}),
    );
    bad["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = json!("Auto");
    env.fail("createHyperParameterTuningJob", false, bad).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_all_training_jobs_fail_when_tuning_then_the_tuning_job_fails() {
    let env = setup();
    env.put_train_data().await;
    let req = tuning_request(
        "fail-tune",
        "Random",
        2,
        2,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
        json!({"mode": "fail"}),
    );
    let f = env.fail("createHyperParameterTuningJob", true, req).await;
    assert_eq!(f.error, "States.TaskFailed");
    let d = described(&f);
    assert_eq!(d["HyperParameterTuningJobStatus"], "Failed");
    assert_eq!(d["TrainingJobStatusCounters"]["NonRetryableError"], 2);
    assert_eq!(d["ObjectiveStatusCounters"]["Failed"], 2);
    assert_contains(text(&d, "FailureReason"), "mode=fail");
}

async fn trained_model(env: &Env, x: &str, extra: Value) -> String {
    env.put_train_data().await;
    let mut hps = json!({"x": x, "epochs": "1"});
    if let (Value::Object(h), Value::Object(e)) = (&mut hps, extra) {
        h.extend(e);
    }
    let job = format!("train-for-{}", x.replace('.', "-"));
    let d = env
        .ok("createTrainingJob", true, training_request(&job, hps))
        .await;
    let url = text(&d["ModelArtifacts"], "S3ModelArtifacts");
    let model = format!("model-{job}");
    env.ok("createModel", false, json!({"ModelName": model, "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url}}))
        .await;
    model
}

fn transform_request(name: &str, model: &str, strategy: &str, concurrent: u64) -> Value {
    json!({
        "TransformJobName": name,
        "ModelName": model,
        "MaxConcurrentTransforms": concurrent,
        "MaxPayloadInMB": 1,
        "BatchStrategy": strategy,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/batch/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line"
        },
        "TransformOutput": {"S3OutputPath": "s3://bucket/batch/out/", "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_model_when_batch_transforming_then_each_input_gets_an_out_object_in_order() {
    let env = setup();
    let model = trained_model(&env, "0.5", json!({})).await;
    let rows: String = (0..200).map(|i| format!("{i},1\n")).collect();
    put(&env.store, "s3://bucket/batch/in/part-1.csv", &rows).await;
    put(
        &env.store,
        "s3://bucket/batch/in/sub/part-2.csv",
        "10,10\n20,20\n",
    )
    .await;
    for (i, (strategy, n)) in [("MultiRecord", 1), ("SingleRecord", 4)].iter().enumerate() {
        let name = format!("batch-{i}");
        let d = env
            .ok(
                "createTransformJob",
                true,
                transform_request(&name, &model, strategy, *n),
            )
            .await;
        assert_eq!(d["TransformJobStatus"], "Completed", "{d:#}");
        assert_eq!(d["BatchStrategy"], json!(strategy));
        let out = String::from_utf8(get(&env.store, "s3://bucket/batch/out/part-1.csv.out").await)
            .unwrap();
        let expected: String = (0..200)
            .map(|i| format!("{}\n", i as f64 + 1.0 + 0.5))
            .collect();
        assert_eq!(out, expected);
        let out2 =
            String::from_utf8(get(&env.store, "s3://bucket/batch/out/sub/part-2.csv.out").await)
                .unwrap();
        assert_eq!(out2, "20.5\n40.5\n");
    }
    let missing = env
        .fail(
            "createTransformJob",
            false,
            transform_request("batch-x", "no-such-model", "MultiRecord", 1),
        )
        .await;
    assert_contains(&missing.cause, "Could not find model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_model_server_that_errors_when_transforming_then_the_job_fails_with_the_reason() {
    let env = setup();
    let model = trained_model(&env, "0.25", json!({"serve_fail": "1"})).await;
    put(&env.store, "s3://bucket/batch/in/part-1.csv", "1,2\n").await;
    let f = env
        .fail(
            "createTransformJob",
            true,
            transform_request("batch-bad", &model, "MultiRecord", 1),
        )
        .await;
    assert_eq!(f.error, "States.TaskFailed");
    let d = described(&f);
    assert_eq!(d["TransformJobStatus"], "Failed");
    assert_contains(text(&d, "FailureReason"), "HTTP 500");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_processing_inputs_when_processing_then_outputs_are_uploaded() {
    let env = setup();
    put(&env.store, "s3://bucket/raw/a.txt", "hello").await;
    put(&env.store, "s3://bucket/raw/d/b.txt", "world").await;
    let req = |name: &str, entry: Value| {
        json!({
            "ProcessingJobName": name,
            "RoleArn": ROLE,
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
            "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": entry, "ContainerArguments": ["/opt/ml/processing/input", "/opt/ml/processing/output"]},
            "ProcessingInputs": [{"InputName": "raw", "S3Input": {"S3Uri": "s3://bucket/raw/", "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "clean", "S3Output": {"S3Uri": "s3://bucket/clean/", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]}
        })
    };
    let d = env
        .ok("createProcessingJob", true, req("proc-ok", json!(["copy"])))
        .await;
    assert_eq!(d["ProcessingJobStatus"], "Completed");
    assert_eq!(get(&env.store, "s3://bucket/clean/a.txt").await, b"HELLO");
    assert_eq!(get(&env.store, "s3://bucket/clean/d/b.txt").await, b"WORLD");
    let f = env
        .fail(
            "createProcessingJob",
            true,
            req("proc-bad", json!(["fail"])),
        )
        .await;
    let d = described(&f);
    assert_eq!(d["ProcessingJobStatus"], "Failed");
    assert_contains(text(&d, "ExitMessage"), "processing failed on purpose");
    let mut bad = req("proc-path", json!(["copy"]));
    bad["ProcessingInputs"][0]["S3Input"]["LocalPath"] = json!("/tmp/x");
    let f = env.fail("createProcessingJob", false, bad).await;
    assert_contains(&f.cause, "ProcessingInputs[0].S3Input.LocalPath");
}
