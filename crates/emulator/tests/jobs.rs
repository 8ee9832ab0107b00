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
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
    let log = env.dir.path().join("concurrency.log");
    let req = tuning_request(
        "rnd-tune",
        "Random",
        5,
        2,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}]}),
        json!({"epochs": "2", "epoch_ms": "150", "concurrency_log": log.display().to_string()}),
    );
    let d = env
        .emu
        .call("createHyperParameterTuningJob", true, req)
        .await
        .expect("tuning");
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
    let list = env
        .emu
        .call(
            "listTrainingJobsForHyperParameterTuningJob",
            false,
            json!({"HyperParameterTuningJobName": "rnd-tune"}),
        )
        .await
        .unwrap();
    let jobs = list["TrainingJobSummaries"].as_array().unwrap();
    assert_eq!(jobs.len(), 5);
    let re = regex::Regex::new(r"^rnd-tune-00[1-5]-[0-9a-f]{8}$").unwrap();
    let mut best: Option<(f64, String)> = None;
    for j in jobs {
        let name = j["TrainingJobName"].as_str().unwrap();
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
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
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
    let d = env
        .emu
        .call("createHyperParameterTuningJob", true, req)
        .await
        .expect("grid");
    assert_eq!(d["TrainingJobStatusCounters"]["Completed"], 6);
    let list = env
        .emu
        .call(
            "listTrainingJobsForHyperParameterTuningJob",
            false,
            json!({"HyperParameterTuningJobName": "grid-tune"}),
        )
        .await
        .unwrap();
    let mut combos: Vec<String> = list["TrainingJobSummaries"]
        .as_array()
        .unwrap()
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
    let f = env
        .emu
        .call("createHyperParameterTuningJob", false, bad)
        .await
        .unwrap_err();
    assert!(
        f.cause
            .contains("ContinuousParameterRanges' is not supported by the Grid strategy"),
        "{}",
        f.cause
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_bayesian_tuning_with_a_log_range_when_run_then_values_respect_the_range() {
    let env = setup();
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
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
    let d = env
        .emu
        .call("createHyperParameterTuningJob", true, req)
        .await
        .expect("bayes");
    assert_eq!(d["TrainingJobStatusCounters"]["Completed"], 6);
    let list = env
        .emu
        .call(
            "listTrainingJobsForHyperParameterTuningJob",
            false,
            json!({"HyperParameterTuningJobName": "bayes-tune"}),
        )
        .await
        .unwrap();
    for j in list["TrainingJobSummaries"].as_array().unwrap() {
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
    let f = env
        .emu
        .call("createHyperParameterTuningJob", false, bad)
        .await
        .unwrap_err();
    assert!(
        f.cause
            .contains("Logarithmic requires MinValue greater than 0"),
        "{}",
        f.cause
    );
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
    let f = env
        .emu
        .call("createHyperParameterTuningJob", false, bad)
        .await
        .unwrap_err();
    assert!(
        f.cause.contains("is not among the metric definitions"),
        "{}",
        f.cause
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_early_stopping_when_a_job_is_worse_than_the_median_then_it_is_stopped() {
    let env = setup();
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
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
    let d = env
        .emu
        .call("createHyperParameterTuningJob", true, req)
        .await
        .expect("tuning");
    assert_eq!(d["TrainingJobStatusCounters"]["Completed"], 3, "{d:#}");
    assert_eq!(d["TrainingJobStatusCounters"]["Stopped"], 1, "{d:#}");
    let list = env
        .emu
        .call(
            "listTrainingJobsForHyperParameterTuningJob",
            false,
            json!({"HyperParameterTuningJobName": "early-tune"}),
        )
        .await
        .unwrap();
    let stopped = list["TrainingJobSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["TrainingJobStatus"] == "Stopped")
        .unwrap()
        .clone();
    assert_eq!(stopped["TunedHyperParameters"]["x"], "4");
    let name = stopped["TrainingJobName"].as_str().unwrap();
    let epochs = env
        .emu
        .log_events(JobKind::Training, name)
        .unwrap()
        .iter()
        .filter(|l| l.message.starts_with("epoch="))
        .count();
    assert!(epochs < 40, "{epochs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_hyperband_when_run_then_no_job_goes_past_max_resource_and_weak_jobs_stop_early() {
    let env = setup();
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
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
    let d = env
        .emu
        .call("createHyperParameterTuningJob", true, req)
        .await
        .expect("hyperband");
    let counters = &d["TrainingJobStatusCounters"];
    assert_eq!(
        counters["Completed"].as_u64().unwrap() + counters["Stopped"].as_u64().unwrap(),
        9,
        "{d:#}"
    );
    assert!(counters["Stopped"].as_u64().unwrap() >= 1, "{d:#}");
    assert!(counters["Completed"].as_u64().unwrap() >= 1, "{d:#}");
    let list = env
        .emu
        .call(
            "listTrainingJobsForHyperParameterTuningJob",
            false,
            json!({"HyperParameterTuningJobName": "hb-tune"}),
        )
        .await
        .unwrap();
    for j in list["TrainingJobSummaries"].as_array().unwrap() {
        let name = j["TrainingJobName"].as_str().unwrap();
        let epochs = env
            .emu
            .log_events(JobKind::Training, name)
            .unwrap()
            .iter()
            .filter(|l| l.message.starts_with("epoch="))
            .count();
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
    assert!(
        env.emu
            .call("createHyperParameterTuningJob", false, bad)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_all_training_jobs_fail_when_tuning_then_the_tuning_job_fails() {
    let env = setup();
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
    let req = tuning_request(
        "fail-tune",
        "Random",
        2,
        2,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
        json!({"mode": "fail"}),
    );
    let f = env
        .emu
        .call("createHyperParameterTuningJob", true, req)
        .await
        .unwrap_err();
    assert_eq!(f.error, "States.TaskFailed");
    let d: Value = serde_json::from_str(&f.cause).unwrap();
    assert_eq!(d["HyperParameterTuningJobStatus"], "Failed");
    assert_eq!(d["TrainingJobStatusCounters"]["NonRetryableError"], 2);
    assert_eq!(d["ObjectiveStatusCounters"]["Failed"], 2);
    assert!(
        d["FailureReason"].as_str().unwrap().contains("mode=fail"),
        "{d:#}"
    );
}

async fn trained_model(env: &Env, x: &str, extra: Value) -> String {
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
    let mut hps = json!({"x": x, "epochs": "1"});
    if let (Value::Object(h), Value::Object(e)) = (&mut hps, extra) {
        h.extend(e);
    }
    let job = format!("train-for-{}", x.replace('.', "-"));
    let d = env
        .emu
        .call("createTrainingJob", true, training_request(&job, hps))
        .await
        .unwrap();
    let url = d["ModelArtifacts"]["S3ModelArtifacts"]
        .as_str()
        .unwrap()
        .to_string();
    let model = format!("model-{job}");
    env.emu
        .call("createModel", false, json!({"ModelName": model, "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url}}))
        .await
        .unwrap();
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
            .emu
            .call(
                "createTransformJob",
                true,
                transform_request(&name, &model, strategy, *n),
            )
            .await
            .expect("transform");
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
        .emu
        .call(
            "createTransformJob",
            false,
            transform_request("batch-x", "no-such-model", "MultiRecord", 1),
        )
        .await
        .unwrap_err();
    assert!(
        missing.cause.contains("Could not find model"),
        "{}",
        missing.cause
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_model_server_that_errors_when_transforming_then_the_job_fails_with_the_reason() {
    let env = setup();
    let model = trained_model(&env, "0.25", json!({"serve_fail": "1"})).await;
    put(&env.store, "s3://bucket/batch/in/part-1.csv", "1,2\n").await;
    let f = env
        .emu
        .call(
            "createTransformJob",
            true,
            transform_request("batch-bad", &model, "MultiRecord", 1),
        )
        .await
        .unwrap_err();
    assert_eq!(f.error, "States.TaskFailed");
    let d: Value = serde_json::from_str(&f.cause).unwrap();
    assert_eq!(d["TransformJobStatus"], "Failed");
    assert!(
        d["FailureReason"].as_str().unwrap().contains("HTTP 500"),
        "{d:#}"
    );
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
        .emu
        .call("createProcessingJob", true, req("proc-ok", json!(["copy"])))
        .await
        .expect("processing");
    assert_eq!(d["ProcessingJobStatus"], "Completed");
    assert_eq!(get(&env.store, "s3://bucket/clean/a.txt").await, b"HELLO");
    assert_eq!(get(&env.store, "s3://bucket/clean/d/b.txt").await, b"WORLD");
    let f = env
        .emu
        .call(
            "createProcessingJob",
            true,
            req("proc-bad", json!(["fail"])),
        )
        .await
        .unwrap_err();
    let d: Value = serde_json::from_str(&f.cause).unwrap();
    assert_eq!(d["ProcessingJobStatus"], "Failed");
    assert!(
        d["ExitMessage"]
            .as_str()
            .unwrap()
            .contains("processing failed on purpose"),
        "{d:#}"
    );
    let mut bad = req("proc-path", json!(["copy"]));
    bad["ProcessingInputs"][0]["S3Input"]["LocalPath"] = json!("/tmp/x");
    let f = env
        .emu
        .call("createProcessingJob", false, bad)
        .await
        .unwrap_err();
    assert!(
        f.cause.contains("ProcessingInputs[0].S3Input.LocalPath"),
        "{}",
        f.cause
    );
}
