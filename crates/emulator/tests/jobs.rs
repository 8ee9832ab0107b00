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

/// A Grid tuning request over `ranges`, without MaxNumberOfTrainingJobs (SageMaker computes it).
fn grid_request(name: &str, ranges: Value) -> Value {
    let mut req = tuning_request(name, "Grid", 1, 3, ranges, json!({}));
    req["HyperParameterTuningJobConfig"]["ResourceLimits"]
        .as_object_mut()
        .unwrap()
        .remove("MaxNumberOfTrainingJobs");
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_grid_tuning_when_run_then_every_combination_is_trained_once() {
    let env = setup();
    env.put_train_data().await;
    let req = grid_request(
        "grid-tune",
        json!({"CategoricalParameterRanges": [
            {"Name": "epochs", "Values": ["1", "2"]},
            {"Name": "x", "Values": ["0.1", "0.3", "0.9"]}
        ]}),
    );
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
}

/// Asserts that `req` is refused with `message` and that no tuning job `name` was created.
async fn assert_refused(env: &Env, name: &str, req: Value, message: &str) {
    let f = env.fail("createHyperParameterTuningJob", false, req).await;
    assert_validation(&f, message);
    let missing = env
        .emu
        .describe(JobKind::Tuning, name)
        .expect_err("a refused tuning job must not exist");
    assert_eq!(
        missing.error, "SageMaker.ResourceNotFoundException",
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_grid_tuning_with_integer_or_continuous_ranges_when_created_then_each_is_refused() {
    let env = setup();
    // "Only categorical parameters are supported when using the grid search strategy."
    let req = grid_request(
        "grid-int",
        json!({
            "IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": "2"}],
            "CategoricalParameterRanges": [{"Name": "x", "Values": ["0.1", "0.3"]}]
        }),
    );
    assert_refused(
        &env,
        "grid-int",
        req,
        "1 validation error detected: 'HyperParameterTuningJobConfig.ParameterRanges.IntegerParameterRanges[0]' \"epochs\": the Grid strategy supports only categorical parameters (CategoricalParameterRanges), not IntegerParameterRanges",
    )
    .await;
    let req = grid_request(
        "grid-cont",
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
    );
    assert_refused(
        &env,
        "grid-cont",
        req,
        "1 validation error detected: 'HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0]' \"x\": the Grid strategy supports only categorical parameters (CategoricalParameterRanges), not ContinuousParameterRanges",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_grid_tuning_whose_job_count_is_not_the_number_of_combinations_when_created_then_it_is_refused()
 {
    let env = setup();
    let ranges = json!({"CategoricalParameterRanges": [
        {"Name": "epochs", "Values": ["1", "2"]},
        {"Name": "x", "Values": ["0.1", "0.3", "0.9"]}
    ]});
    // Fewer and more than the 6 combinations are both refused; nothing is clipped.
    for (name, given) in [("grid-fewer", 4), ("grid-more", 7)] {
        let mut req = grid_request(name, ranges.clone());
        req["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] =
            json!(given);
        assert_refused(
            &env,
            name,
            req,
            &format!("1 validation error detected: 'HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs' is {given}, but the Grid strategy runs one training job per combination and the ParameterRanges give 6 distinct categorical combinations; give 6 or omit MaxNumberOfTrainingJobs"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_grid_tuning_over_more_than_750_combinations_when_created_then_it_is_refused() {
    let env = setup();
    // SageMaker's quota of 750 training jobs per Grid tuning job, checked before anything is
    // enumerated: three ranges of 30 values give 27000 combinations.
    let values: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    let req = grid_request(
        "grid-huge",
        json!({"CategoricalParameterRanges": [
            {"Name": "a", "Values": values},
            {"Name": "b", "Values": values},
            {"Name": "c", "Values": values}
        ]}),
    );
    assert_refused(
        &env,
        "grid-huge",
        req,
        "1 validation error detected: 'HyperParameterTuningJobConfig.ParameterRanges' gives 27000 hyperparameter combinations; the Grid strategy runs one training job per combination and allows at most 750 training jobs per hyperparameter tuning job",
    )
    .await;
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
    assert_validation(
        &f,
        "1 validation error detected: 'HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].ScalingType' Logarithmic requires MinValue greater than 0",
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
    let f = env.fail("createHyperParameterTuningJob", false, bad).await;
    assert_validation(
        &f,
        "'HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName' \"validation:auc\" is not among the metric definitions of the training job definition [loss]",
    );
}

/// Epochs a training job may still log after the emulator decided to stop it: the decision is
/// taken on the line that reports the epoch, then SIGTERM has to reach the program. At
/// `STOP_EPOCH_MS` per epoch this allows 0.8 s for that on a loaded machine.
const STOP_SLACK_EPOCHS: usize = 4;
const STOP_EPOCH_MS: &str = "200";

/// The `loss=` the fake container reports at epoch `e` for hyperparameter `x` (`y` = 0).
fn fake_loss(x: f64, e: usize) -> f64 {
    (x - 0.3).powi(2) + 1.0 / e as f64
}

/// Asserts that a training job logged its epochs up to `stop_epoch` and at most
/// `STOP_SLACK_EPOCHS` more, and that its final objective is the loss of the last epoch logged
/// (so the log lines counted are the ones the metric regex read).
fn assert_stopped_at(env: &Env, job: &Value, x: f64, stop_epoch: usize) {
    let name = text(job, "TrainingJobName");
    let logged = env.epochs_logged(name);
    assert!(
        (stop_epoch..=stop_epoch + STOP_SLACK_EPOCHS).contains(&logged),
        "{name} (x={x}) should stop at epoch {stop_epoch} (+{STOP_SLACK_EPOCHS}) but logged {logged}"
    );
    let final_loss = job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} has no final objective: {job:#}"));
    assert!(
        (final_loss - fake_loss(x, logged)).abs() < 1e-9,
        "{name}: final loss {final_loss} is not the loss of epoch {logged}"
    );
}

/// The tuned value `x` of a training job summary.
fn tuned_x(job: &Value) -> f64 {
    text(&job["TunedHyperParameters"], "x")
        .parse()
        .unwrap_or_else(|e| panic!("x is not a number ({e}): {job:#}"))
}

/// A validation error of a CreateHyperParameterTuningJob call: the Step Functions error name,
/// the SageMaker error code and the message.
fn assert_validation(f: &mdlc_emulator::EmulatorFailure, message: &str) {
    assert_eq!(f.error, "SageMaker.AmazonSageMakerException", "{f}");
    assert_contains(
        &f.cause,
        "Status Code: 400; Error Code: ValidationException",
    );
    assert_contains(&f.cause, message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_early_stopping_when_a_job_is_worse_than_the_median_then_it_is_stopped() {
    let env = setup();
    env.put_train_data().await;
    let epochs = 12;
    // MaxNumberOfTrainingJobs 4 equals the 4 combinations, so Grid accepts it.
    let mut req = tuning_request(
        "early-tune",
        "Grid",
        4,
        1,
        json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["0.3", "0.31", "0.32", "4"]}]}),
        json!({"epochs": epochs.to_string(), "epoch_ms": STOP_EPOCH_MS}),
    );
    // The first three are good and run to the end; the fourth is far worse: the median rule
    // (three earlier jobs with a value at the same epoch, judged from epoch 2 on) stops it at
    // epoch 2.
    req["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = json!("Auto");
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    assert_eq!(d["HyperParameterTuningJobStatus"], "Completed", "{d:#}");
    assert_eq!(
        d["TrainingJobStatusCounters"],
        json!({"Completed": 3, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 1}),
        "{d:#}"
    );
    assert_eq!(
        d["ObjectiveStatusCounters"],
        json!({"Succeeded": 4, "Pending": 0, "Failed": 0})
    );
    let mut jobs = env.tuned_jobs("early-tune").await;
    jobs.sort_by(|a, b| text(a, "TrainingJobName").cmp(text(b, "TrainingJobName")));
    let xs: Vec<f64> = jobs.iter().map(tuned_x).collect();
    assert_eq!(xs, vec![0.3, 0.31, 0.32, 4.0]);
    for (job, x) in jobs.iter().zip(&xs) {
        if *x == 4.0 {
            assert_eq!(job["TrainingJobStatus"], "Stopped", "{job:#}");
            assert_stopped_at(&env, job, *x, 2);
        } else {
            assert_eq!(job["TrainingJobStatus"], "Completed", "{job:#}");
            let name = text(job, "TrainingJobName");
            assert_eq!(env.epochs_logged(name), epochs, "{name}");
            assert_stopped_at(&env, job, *x, epochs);
        }
    }
    assert_eq!(
        d["BestTrainingJob"]["TunedHyperParameters"],
        json!({"x": "0.3"})
    );
}

/// Hyperband with η = 3, MinResource 1 and MaxResource 9 has rungs at epochs 1 and 3. A job
/// reaching a rung is stopped once at least 3 jobs have reached it and at least
/// max(n/3, 1) of those n did strictly better; a job that passes every rung is stopped at
/// MaxResource and counts as Completed. Jobs run one at a time, in the order of their names.
fn hyperband_stop_epochs(xs: &[f64]) -> Vec<usize> {
    let mut rungs: Vec<(usize, Vec<f64>)> = vec![(1, Vec::new()), (3, Vec::new())];
    xs.iter()
        .map(|&x| {
            for (epoch, values) in rungs.iter_mut() {
                let v = fake_loss(x, *epoch);
                values.push(v);
                let better = values.iter().filter(|w| **w < v).count();
                if values.len() >= 3 && better >= (values.len() / 3).max(1) {
                    return *epoch;
                }
            }
            9
        })
        .collect()
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
        json!({"epochs": "200", "epoch_ms": STOP_EPOCH_MS}),
    );
    req["HyperParameterTuningJobConfig"]["StrategyConfig"] =
        json!({"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}});
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    assert_eq!(d["HyperParameterTuningJobStatus"], "Completed", "{d:#}");
    let mut jobs = env.tuned_jobs("hb-tune").await;
    jobs.sort_by(|a, b| text(a, "TrainingJobName").cmp(text(b, "TrainingJobName")));
    assert_eq!(jobs.len(), 9, "{d:#}");
    let xs: Vec<f64> = jobs.iter().map(tuned_x).collect();
    let expected = hyperband_stop_epochs(&xs);
    let stopped = expected.iter().filter(|e| **e < 9).count() as u64;
    // The seed gives both outcomes, so the test sees early stops and MaxResource completions.
    assert!(
        (1..9).contains(&stopped),
        "x = {xs:?}, stops at {expected:?}"
    );
    assert_eq!(
        d["TrainingJobStatusCounters"],
        json!({"Completed": 9 - stopped, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": stopped}),
        "x = {xs:?}, stops at {expected:?}"
    );
    for ((job, x), stop_epoch) in jobs.iter().zip(&xs).zip(&expected) {
        let status = if *stop_epoch < 9 {
            "Stopped"
        } else {
            "Completed"
        };
        assert_eq!(job["TrainingJobStatus"], status, "x={x}: {job:#}");
        assert_stopped_at(&env, job, *x, *stop_epoch);
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
    let f = env.fail("createHyperParameterTuningJob", false, bad).await;
    assert_validation(
        &f,
        "1 validation error detected: 'HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType' must be Off with the Hyperband strategy",
    );
}

/// SageMaker reads a missing `MaxResource` from the static hyperparameters epochs, numepochs,
/// n-epochs, n_epochs or num_epochs only (not from XGBoost's num_round), and allows at most
/// 20,000 epochs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_hyperband_without_max_resource_then_only_sagemakers_epoch_keys_stand_in() {
    let env = setup();
    env.put_train_data().await;
    let ranges = json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["1"]}]});
    let no_max = |name: &str, statics: Value| {
        let mut r = tuning_request(name, "Hyperband", 1, 1, ranges.clone(), statics);
        r["HyperParameterTuningJobConfig"]
            .as_object_mut()
            .unwrap()
            .remove("StrategyConfig");
        r
    };
    let f = env
        .fail(
            "createHyperParameterTuningJob",
            false,
            no_max("hb-rounds", json!({"num_round": "9"})),
        )
        .await;
    assert_validation(
        &f,
        "1 validation error detected: 'HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource' is required unless a static hyperparameter (epochs, numepochs, n-epochs, n_epochs or num_epochs) gives the number of epochs",
    );
    let mut too_many = no_max("hb-max", json!({"epochs": "3"}));
    too_many["HyperParameterTuningJobConfig"]["StrategyConfig"] =
        json!({"HyperbandStrategyConfig": {"MaxResource": 20_001}});
    let f = env
        .fail("createHyperParameterTuningJob", false, too_many)
        .await;
    assert!(
        f.cause.contains("MaxResource"),
        "20,001 epochs are refused: {}",
        f.cause
    );
    for (i, key) in ["epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"]
        .iter()
        .enumerate()
    {
        let mut statics = serde_json::Map::new();
        statics.insert(key.to_string(), json!("2"));
        let req = no_max(&format!("hb-key-{i}"), Value::Object(statics));
        let done = env.ok("createHyperParameterTuningJob", true, req).await;
        assert_eq!(
            done["HyperParameterTuningJobStatus"], "Completed",
            "{key} gives MaxResource: {done:#}"
        );
    }
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
    assert_validation(
        &missing,
        "Could not find model \"arn:aws:sagemaker:us-east-1:123456789012:model/no-such-model\".",
    );
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
    assert_eq!(f.error, "States.TaskFailed", "{f}");
    let d = described(&f);
    assert_eq!(d["ProcessingJobStatus"], "Failed");
    assert_contains(text(&d, "ExitMessage"), "processing failed on purpose");
    let mut bad = req("proc-path", json!(["copy"]));
    bad["ProcessingInputs"][0]["S3Input"]["LocalPath"] = json!("/tmp/x");
    let f = env.fail("createProcessingJob", false, bad).await;
    assert_validation(
        &f,
        "1 validation error detected: 'ProcessingInputs[0].S3Input.LocalPath' has value \"/tmp/x\", which must be a path under /opt/ml/processing/",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_file_processing_input_brings_the_listed_objects_only() {
    let env = setup();
    put(&env.store, "s3://bucket/mraw/a.txt", "hello").await;
    put(&env.store, "s3://bucket/mraw/d/b.txt", "world").await;
    put(&env.store, "s3://bucket/mraw/skip.txt", "skipped").await;
    let manifest = json!([{"prefix": "s3://bucket/mraw/"}, "d/b.txt", "a.txt"]).to_string();
    put(&env.store, "s3://bucket/m/raw.manifest", &manifest).await;
    let d = env
        .ok(
            "createProcessingJob",
            true,
            json!({
                "ProcessingJobName": "proc-manifest",
                "RoleArn": ROLE,
                "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
                "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["copy"], "ContainerArguments": ["/opt/ml/processing/input", "/opt/ml/processing/output"]},
                "ProcessingInputs": [{"InputName": "raw", "S3Input": {"S3Uri": "s3://bucket/m/raw.manifest", "LocalPath": "/opt/ml/processing/input", "S3DataType": "ManifestFile", "S3InputMode": "File"}}],
                "ProcessingOutputConfig": {"Outputs": [{"OutputName": "clean", "S3Output": {"S3Uri": "s3://bucket/mclean/", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]}
            }),
        )
        .await;
    assert_eq!(d["ProcessingJobStatus"], "Completed", "{d:#}");
    assert_eq!(get(&env.store, "s3://bucket/mclean/a.txt").await, b"HELLO");
    assert_eq!(
        get(&env.store, "s3://bucket/mclean/d/b.txt").await,
        b"WORLD"
    );
    let skip: mdlc_core::S3Uri = "s3://bucket/mclean/skip.txt".parse().unwrap();
    let skipped = mdlc_core::ports::ObjectStore::get(env.store.as_ref(), &skip).await;
    assert!(
        skipped.is_err(),
        "an object the manifest does not list is not brought in"
    );
}

/// Issue 19: a job whose emulator process is gone (a crash, `kill -9`) reads as SageMaker
/// fails a job whose instance was lost; while that process runs, another reader of the same
/// work directory sees the job as it is.
///
/// The lost job is a copy of the running job's records (its Describe* document, its owner record
/// naming a process that does not exist, a scratch file) in a second work directory: a reader
/// that finds a job lost releases its scratch space, and done on the running job's own
/// directory that would delete what the job, still running here, is writing (under load, its
/// `input/config`, and the job failed with "could not prepare the job directory").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_reads_as_running_elsewhere_and_as_failed_once_its_process_is_gone() {
    let env = setup();
    env.put_train_data().await;
    let req = training_request("lost-job", json!({"epochs": "400", "epoch_ms": "50"}));
    env.ok("createTrainingJob", false, req).await;
    let other = mdlc_emulator::SageMakerEmulator::new(env.emu.config().clone());
    let d = other.describe(JobKind::Training, "lost-job").unwrap();
    assert_eq!(d["TrainingJobStatus"], "InProgress", "{d:#}");

    // The same job's records in another work directory, the owner record naming a process
    // that does not exist: the job was lost with it.
    let dir = env.emu.job_dir(JobKind::Training, "lost-job");
    let copy_root = tempfile::tempdir().unwrap();
    let mut config = env.emu.config().clone();
    config.work_dir = copy_root.path().to_path_buf();
    let elsewhere = mdlc_emulator::SageMakerEmulator::new(config);
    let copy = elsewhere.job_dir(JobKind::Training, "lost-job");
    std::fs::create_dir_all(copy.join("input/config")).unwrap();
    std::fs::copy(dir.join("describe.json"), copy.join("describe.json")).unwrap();
    std::fs::write(copy.join("input/config/hyperparameters.json"), "{}").unwrap();
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join(".owner.json")).unwrap()).unwrap();
    assert_eq!(doc["pid"], std::process::id());
    doc["pid"] = json!(u32::MAX);
    std::fs::write(copy.join(".owner.json"), doc.to_string()).unwrap();
    let d = elsewhere.describe(JobKind::Training, "lost-job").unwrap();
    assert_eq!(d["TrainingJobStatus"], "Failed", "{d:#}");
    assert_eq!(d["SecondaryStatus"], "Failed", "{d:#}");
    assert_eq!(
        d["FailureReason"],
        "InternalServerError: We encountered an internal error. Please try again."
    );
    assert_eq!(d["FailureReason"], mdlc_emulator::INTERNAL_FAILURE_REASON);
    // a lost job has ended: its scratch space is released, its records kept
    let mut left: Vec<String> = std::fs::read_dir(&copy)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec![".owner.json", "describe.json"]);
    // The process that runs it still knows better, and so does a reader of its own records.
    let mine = env.emu.describe(JobKind::Training, "lost-job").unwrap();
    assert_eq!(mine["TrainingJobStatus"], "InProgress", "{mine:#}");
    let d = other.describe(JobKind::Training, "lost-job").unwrap();
    assert_eq!(d["TrainingJobStatus"], "InProgress", "{d:#}");
    env.emu.stop(JobKind::Training, "lost-job").unwrap();
}

/// The message of a refused CreateHyperParameterTuningJob: a ValidationException's cause
/// without the SDK's `(Service: …)` suffix.
async fn refusal(env: &Env, req: Value) -> String {
    let f = env.fail("createHyperParameterTuningJob", false, req).await;
    assert_validation(&f, "");
    match f.cause.split_once(" (Service: AmazonSageMaker;") {
        Some((message, _)) => message.to_string(),
        None => panic!("no SDK suffix in {:?}", f.cause),
    }
}

/// Every problem of a CreateHyperParameterTuningJob request, each naming its field, in the order
/// the request is read: the job name and what the emulator does not support, the tuning
/// configuration field by field, the training job definition, then the definition as its first
/// training job would be validated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_malformed_tuning_requests_when_created_then_every_problem_names_its_field_in_order()
{
    let env = setup();
    let ranges = json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["1", "2"]}]});
    let good = || tuning_request("t-bad", "Random", 2, 1, ranges.clone(), json!({}));
    let config = |config: Value| {
        let mut r = good();
        r["HyperParameterTuningJobConfig"] = config;
        r
    };
    let mut cases: Vec<(Value, &str)> = vec![(
        json!({}),
        "3 validation errors detected: 'HyperParameterTuningJobName' is required; 'HyperParameterTuningJobConfig' is required; 'TrainingJobDefinition' is required",
    )];
    let mut r = good();
    r["HyperParameterTuningJobName"] = json!("bad_name!");
    r["TrainingJobDefinitions"] = json!([{}]);
    r["WarmStartConfig"] = json!({});
    cases.push((
        r,
        "3 validation errors detected: 'HyperParameterTuningJobName' has value \"bad_name!\", which failed to satisfy constraint: Member must have length less than or equal to 32 and match ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}; 'TrainingJobDefinitions' is not supported by the local emulator; give one TrainingJobDefinition; 'WarmStartConfig' is not supported by the local emulator",
    ));
    cases.push((
        config(json!({
            "HyperParameterTuningJobObjective": {"MetricName": "loss"},
            "ResourceLimits": {"MaxRuntimeInSeconds": 5},
            "TrainingJobEarlyStoppingType": "Sometimes",
            "ParameterRanges": ranges,
            "RandomSeed": -1,
            "TuningJobCompletionCriteria": 3,
            "StrategyConfig": {"HyperbandStrategyConfig": {}}
        })),
        "9 validation errors detected: 'HyperParameterTuningJobConfig.Strategy' is required; 'HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type' is required; 'HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs' is required (except for the Grid strategy); 'HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs' is required; 'HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds' has value 5, which must be between 120 and 15768000; 'HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType' has value \"Sometimes\", which failed to satisfy constraint: Member must satisfy enum value set: [Off, Auto]; 'HyperParameterTuningJobConfig.RandomSeed' must be an integer, got -1; 'HyperParameterTuningJobConfig.TuningJobCompletionCriteria' must be an object, got 3; 'HyperParameterTuningJobConfig.StrategyConfig' is only valid with the Hyperband strategy",
    ));
    cases.push((
        config(json!({"Strategy": "Genetic"})),
        "3 validation errors detected: 'HyperParameterTuningJobConfig.Strategy' has value \"Genetic\", which failed to satisfy constraint: Member must satisfy enum value set: [Bayesian, Random, Hyperband, Grid]; 'HyperParameterTuningJobConfig.HyperParameterTuningJobObjective' is required; 'HyperParameterTuningJobConfig.ResourceLimits' is required",
    ));
    cases.push((
        config(json!({
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Up"},
            "ResourceLimits": {}
        })),
        "3 validation errors detected: 'HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type' has value \"Up\", which failed to satisfy constraint: Member must satisfy enum value set: [Maximize, Minimize]; 'HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName' is required; 'HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs' is required",
    ));
    cases.push((
        config(json!(3)),
        "1 validation error detected: 'HyperParameterTuningJobConfig' must be an object, got 3",
    ));
    cases.push((
        tuning_request("t-bad", "Random", 2, 1, ranges.clone(), json!({"x": "1"})),
        "1 validation error detected: 'TrainingJobDefinition.StaticHyperParameters' \"x\" is both static and tuned",
    ));
    let mut r = tuning_request("t-bad", "Hyperband", 2, 1, ranges.clone(), json!({}));
    r["HyperParameterTuningJobConfig"]["StrategyConfig"] =
        json!({"HyperbandStrategyConfig": {"MinResource": 5, "MaxResource": 3}});
    r["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = json!("Auto");
    cases.push((
        r,
        "2 validation errors detected: 'HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType' must be Off with the Hyperband strategy (Hyperband stops jobs itself); 'HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource' must not be less than MinResource",
    ));
    // A Grid job's combinations are counted only once nothing else is wrong.
    let mut r = grid_request(
        "t-bad",
        json!({"CategoricalParameterRanges": [{"Name": "x", "Values": ["1", "2"]}]}),
    );
    r["TrainingJobDefinitions"] = json!([{}]);
    r["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = json!(5);
    cases.push((
        r,
        "1 validation error detected: 'TrainingJobDefinitions' is not supported by the local emulator; give one TrainingJobDefinition",
    ));
    let mut r = good();
    r["TrainingJobDefinition"] = json!(3);
    cases.push((
        r,
        "1 validation error detected: 'TrainingJobDefinition' must be an object, got 3",
    ));
    let mut r = good();
    r["TrainingJobDefinition"]
        .as_object_mut()
        .unwrap()
        .remove("RoleArn");
    cases.push((
        r,
        "TrainingJobDefinition: 1 validation error detected: 'RoleArn' is required",
    ));
    for (req, message) in cases {
        assert_eq!(refusal(&env, req.clone()).await, message, "{req:#}");
    }
}

/// StopHyperParameterTuningJob: the running training jobs are stopped, no further one is
/// launched, and the tuning job ends Stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_running_tuning_job_when_stopped_then_its_training_jobs_stop_and_no_more_start() {
    let env = setup();
    env.put_train_data().await;
    let req = tuning_request(
        "stop-tune",
        "Random",
        4,
        2,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
        json!({"mode": "sleep"}),
    );
    env.ok("createHyperParameterTuningJob", false, req).await;
    // Both parallel training jobs are running (a generous deadline, not a timing assertion).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let d = env.emu.describe(JobKind::Tuning, "stop-tune").unwrap();
        if d["TrainingJobStatusCounters"]["InProgress"] == json!(2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "two training jobs never ran: {d:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    env.ok(
        "stopHyperParameterTuningJob",
        false,
        json!({"HyperParameterTuningJobName": "stop-tune"}),
    )
    .await;
    let d = env.emu.wait(JobKind::Tuning, "stop-tune").await.unwrap();
    assert_eq!(d["HyperParameterTuningJobStatus"], "Stopped", "{d:#}");
    assert_eq!(
        d["TrainingJobStatusCounters"],
        json!({"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 2})
    );
    assert!(d.get("BestTrainingJob").is_none(), "{d:#}");
    let jobs = env.tuned_jobs("stop-tune").await;
    assert_eq!(
        jobs.len(),
        2,
        "no training job starts after the stop: {jobs:#?}"
    );
    for j in &jobs {
        assert_eq!(j["TrainingJobStatus"], "Stopped", "{j:#}");
    }
}

/// TuningJobCompletionCriteria.TargetObjectiveMetricValue: once a training job reaches the
/// target, no further one is launched and the tuning job completes with it as the best.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_target_objective_value_when_a_job_reaches_it_then_tuning_launches_no_more() {
    let env = setup();
    env.put_train_data().await;
    let mut req = tuning_request(
        "target-tune",
        "Random",
        5,
        1,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
        json!({"epochs": "2"}),
    );
    // Every job's final loss, (x - 0.3)² + 1/2, is at most 0.99: the first one reaches it.
    req["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] =
        json!({"TargetObjectiveMetricValue": 1.0});
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    assert_eq!(d["HyperParameterTuningJobStatus"], "Completed", "{d:#}");
    assert_eq!(
        d["TuningJobCompletionDetails"],
        json!({"NumberOfTrainingJobsObjectiveNotImproving": 0})
    );
    let jobs = env.tuned_jobs("target-tune").await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(
        d["BestTrainingJob"]["TrainingJobName"],
        jobs[0]["TrainingJobName"]
    );
    // Without the target, all five run and no completion details are reported.
    let req = tuning_request(
        "no-target-tune",
        "Random",
        5,
        1,
        json!({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}),
        json!({"epochs": "2"}),
    );
    let d = env.ok("createHyperParameterTuningJob", true, req).await;
    assert!(d.get("TuningJobCompletionDetails").is_none(), "{d:#}");
    assert_eq!(env.tuned_jobs("no-target-tune").await.len(), 5);
}
