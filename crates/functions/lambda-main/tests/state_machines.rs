//! The two state machines (statemachine/*.asl.json, unchanged but for the placeholders) run on
//! the project's ASL engine with the seven real handlers over in-memory ports and a fake
//! SageMaker behind the `.sync` integrations: the paths between states, the Choice branches,
//! Retry on `DependencyUnavailable`, the failure path, and the nested retrain execution.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use mdlc_asl::{
    ExecutionOptions, ExecutionStatus, StateMachine, TaskFailure, TaskInvoker, TaskRequest,
};
use mdlc_core::memory::InMemoryWorld;
use mdlc_core::ports::{Clock, EventPublisher, ObjectStore, RegistryRead, TrainingJobInfo};
use mdlc_core::{Dependencies, HandlerFailure, PortError, S3Uri};
use serde_json::{Value, json};

const ACCOUNT: &str = "000000000000";
const TRAINING_ARN: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:training";

fn definition(name: &str) -> String {
    let path = format!(
        "{}/../../../statemachine/{name}.asl.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (placeholder, function) in mdlc_core::names::FUNCTIONS {
        text = text.replace(
            &format!("${{{placeholder}}}"),
            &format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"),
        );
    }
    text = text.replace(
        "${SageMakerExecutionRoleArn}",
        "arn:aws:iam::000000000000:role/sm",
    );
    text = text.replace("${ArtifactBucket}", "mdlc-artifacts");
    text = text.replace("${TrainingStateMachineArn}", TRAINING_ARN);
    text = text.replace("${EventBusName}", "mdlc-events");
    assert!(!text.contains("${"), "unsubstituted placeholder in {name}");
    text
}

/// What the fake track-experiment function does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tracker {
    /// Validates the event with the real parser and answers like a logged call.
    Logs,
    /// Fails every call with this error type (after the state's retries, the Catch path).
    Throws(&'static str),
}

/// Routes Tasks like the local runtime does, with a fake SageMaker.
struct Cloud {
    tracker: Mutex<Tracker>,
    /// The events track-experiment received.
    tracked: Mutex<Vec<Value>>,
    world: InMemoryWorld,
    deps: Dependencies,
    /// Added to every label to make predictions (0 = perfect model).
    prediction_error: Mutex<f64>,
    /// (resource, parameters) of every SageMaker / Step Functions call.
    calls: Mutex<Vec<(String, Value)>>,
    /// Errors the next processing jobs fail with, one per call, before they succeed.
    processing_errors: Mutex<Vec<&'static str>>,
    training: Arc<StateMachine>,
    /// This cloud, for the nested executions it starts.
    me: Weak<Cloud>,
}

fn failure(f: HandlerFailure) -> TaskFailure {
    TaskFailure::new(
        f.error_type.clone(),
        json!({"errorType": f.error_type, "errorMessage": f.message}).to_string(),
    )
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} missing in {v}"))
}

impl Cloud {
    fn new() -> Arc<Cloud> {
        let world = InMemoryWorld::new();
        let deps = world.dependencies();
        Arc::new_cyclic(|me| Cloud {
            me: me.clone(),
            tracker: Mutex::new(Tracker::Logs),
            tracked: Mutex::new(vec![]),
            world,
            deps,
            prediction_error: Mutex::new(0.1),
            calls: Mutex::new(vec![]),
            processing_errors: Mutex::new(vec![]),
            training: Arc::new(
                StateMachine::from_json_str(&definition("training")).expect("valid training ASL"),
            ),
        })
    }

    fn calls(&self, resource_suffix: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r.ends_with(resource_suffix))
            .map(|(_, p)| p.clone())
            .collect()
    }

    async fn finish_training_job(&self, job: &str, output_path: &str) -> String {
        let artifacts = format!("{output_path}{job}/output/model.tar.gz");
        self.world.store.insert(&artifacts, "model");
        self.world.sagemaker.insert_training_job(TrainingJobInfo {
            name: job.to_string(),
            status: "Completed".into(),
            failure_reason: None,
            model_artifacts: Some(artifacts.clone()),
            image: None,
            hyperparameters: BTreeMap::from([("eta".to_string(), "0.3".to_string())]),
            final_metrics: BTreeMap::from([("validation:rmse".to_string(), 1.0)]),
        });
        artifacts
    }

    async fn transform(&self, p: &Value) -> Value {
        let model = str_at(p, "/ModelName");
        assert!(
            self.world.sagemaker.models().contains_key(model),
            "transform of unknown model {model}"
        );
        let input: S3Uri = str_at(p, "/TransformInput/DataSource/S3DataSource/S3Uri")
            .parse()
            .unwrap();
        let output: S3Uri = str_at(p, "/TransformOutput/S3OutputPath").parse().unwrap();
        let error = *self.prediction_error.lock().unwrap();
        for object in self.world.store.list(&input).await.unwrap() {
            let rel = object.uri.key.strip_prefix(&input.key).unwrap().to_string();
            // The fake model "predicts" from the ground truth kept beside the features.
            let truth_uri = S3Uri::new(
                &input.bucket,
                object.uri.key.replace("/features/", "/labels/"),
            );
            let truth = String::from_utf8(self.world.store.get(&truth_uri).await.unwrap()).unwrap();
            let preds: String = truth
                .lines()
                .map(|l| {
                    format!(
                        "{}\n",
                        l.split(',').next().unwrap().parse::<f64>().unwrap() + error
                    )
                })
                .collect();
            self.world
                .store
                .put(&output.join(&format!("{rel}.out")), preds.into_bytes())
                .await
                .unwrap();
        }
        json!({"TransformJobName": str_at(p, "/TransformJobName"), "TransformJobStatus": "Completed"})
    }
}

/// The data profile the fake processing job writes: two features, tercile bins on the values of
/// `seed_evaluation_data` (f0: 1, 3, 5; f1: 2, 4, 6), so that batch is stable against it.
const PROFILE: &str = r#"{"rows": 3, "problem": "regression", "features": [
    {"name": "f0", "index": 0, "bins": {"edges": [2.0, 4.0], "shares": [0.3333333333333333, 0.3333333333333333, 0.3333333333333334], "missing_share": 0.0}},
    {"name": "f1", "index": 1, "bins": {"edges": [3.0, 5.0], "shares": [0.3333333333333333, 0.3333333333333333, 0.3333333333333334], "missing_share": 0.0}}]}"#;

impl Cloud {
    /// Step Functions' events:putEvents integration over the world's in-memory bus.
    async fn put_events(&self, p: &Value, context: &Value) -> Result<Value, TaskFailure> {
        let failed = |cause: String| TaskFailure::new("EventBridge.FailedEntry", cause);
        let time = mdlc_core::registry::format_timestamp(self.world.clock.now());
        let events = mdlc_core::events::put_events_entries(p, context, &time).map_err(failed)?;
        self.world
            .events
            .publish(&events)
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(
            json!({"Entries": events.iter().map(|_| json!({"EventId": "id"})).collect::<Vec<_>>(),
                  "FailedEntryCount": 0}),
        )
    }

    /// A fake processing job: checks the request, writes the three outputs, answers like
    /// DescribeProcessingJob (or fails with the next queued error).
    async fn process(&self, p: &Value) -> Result<Value, TaskFailure> {
        let name = str_at(p, "/ProcessingJobName");
        assert!(name.len() <= 63, "processing job name {name} too long");
        if let Some(error) = self.processing_errors.lock().unwrap().pop() {
            return Err(TaskFailure::new(error, format!("{name}: injected {error}")));
        }
        assert_eq!(str_at(p, "/RoleArn"), "arn:aws:iam::000000000000:role/sm");
        str_at(p, "/AppSpecification/ImageUri");
        str_at(p, "/ProcessingInputs/0/S3Input/S3Uri");
        let outputs = p["ProcessingOutputConfig"]["Outputs"].as_array().unwrap();
        for o in outputs {
            let uri: S3Uri = str_at(o, "/S3Output/S3Uri").parse().unwrap();
            let (file, body) = match str_at(o, "/OutputName") {
                "train" => (
                    "train.csv",
                    "1,1,2
2,3,4
",
                ),
                "validation" => (
                    "validation.csv",
                    "3,5,6
",
                ),
                "profile" => ("profile.json", PROFILE),
                other => panic!("unexpected processing output {other}"),
            };
            self.world.store.insert(&uri.join(file).to_string(), body);
        }
        Ok(
            json!({"ProcessingJobName": name, "ProcessingJobStatus": "Completed",
                  "ProcessingOutputConfig": p["ProcessingOutputConfig"]}),
        )
    }

    fn track(&self, event: Value) -> Result<Value, HandlerFailure> {
        self.tracked.lock().unwrap().push(event.clone());
        let mode = *self.tracker.lock().unwrap();
        if let Tracker::Throws(name) = mode {
            return Err(HandlerFailure {
                error_type: name.to_string(),
                message: "the tracker is down".into(),
            });
        }
        let parsed = track_experiment::parse_event(&event).unwrap_or_else(|e| {
            panic!("the flow sent an invalid track-experiment event: {e}\n{event}")
        });
        let kind = parsed.request.kind();
        Ok(json!({"tracking": {
            "status": "logged", "kind": kind, "error": null, "experimentId": "1",
            "parentRunId": (kind == "tuning" || kind == "training").then_some("parent-run"),
            "bestRunId": "best-run", "runId": "run", "runUrl": "http://mlflow/#/experiments/1/runs/run",
            "childRuns": {}, "modelVersion": (kind == "registration").then_some("3")}}))
    }
}

#[async_trait]
impl TaskInvoker for Cloud {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskFailure> {
        let p = request.parameters.clone();
        // jobs and executions; published events are in the world's bus
        if request.resource != "arn:aws:states:::lambda:invoke"
            && request.resource != "arn:aws:states:::events:putEvents"
        {
            self.calls
                .lock()
                .unwrap()
                .push((request.resource.clone(), p.clone()));
        }
        match request.resource.as_str() {
            "arn:aws:states:::lambda:invoke" => {
                let function = str_at(&p, "/FunctionName")
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .to_string();
                let event = p.get("Payload").cloned().unwrap_or(Value::Null);
                let d = &self.deps;
                let out = match function.as_str() {
                    "initialize" => initialize::invoke(event, d).await,
                    "train" => train::invoke(event, d).await,
                    "create-model" => create_model::invoke(event, d).await,
                    "register-model" => register_model::invoke(event, d).await,
                    "find-model" => find_model::invoke(event, d).await,
                    "monitor-performance" => monitor_performance::invoke(event, d).await,
                    "is-retraining-needed" => is_retraining_needed::invoke(event, d).await,
                    "track-experiment" => self.track(event),
                    other => panic!("unknown function {other}"),
                };
                out.map(|payload| json!({"Payload": payload, "StatusCode": 200}))
                    .map_err(failure)
            }
            "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync" => {
                let name = str_at(&p, "/HyperParameterTuningJobName");
                assert!(name.len() <= 32, "tuning job name {name} too long");
                let best = format!("{name}-001-0a1b2c3d");
                let out = str_at(&p, "/TrainingJobDefinition/OutputDataConfig/S3OutputPath");
                self.finish_training_job(&best, out).await;
                Ok(
                    json!({"HyperParameterTuningJobName": name, "HyperParameterTuningJobStatus": "Completed",
                          "BestTrainingJob": {"TrainingJobName": best,
                              "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:rmse", "Value": 1.0}}}),
                )
            }
            "arn:aws:states:::sagemaker:createTrainingJob.sync" => {
                let name = str_at(&p, "/TrainingJobName");
                let out = str_at(&p, "/OutputDataConfig/S3OutputPath");
                let artifacts = self.finish_training_job(name, out).await;
                Ok(
                    json!({"TrainingJobName": name, "TrainingJobStatus": "Completed",
                          "ModelArtifacts": {"S3ModelArtifacts": artifacts}}),
                )
            }
            "arn:aws:states:::sagemaker:createTransformJob.sync" => Ok(self.transform(&p).await),
            "arn:aws:states:::sagemaker:createProcessingJob.sync" => self.process(&p).await,
            "arn:aws:states:::states:startExecution.sync:2" => {
                assert_eq!(str_at(&p, "/StateMachineArn"), TRAINING_ARN);
                let name = str_at(&p, "/Name").to_string();
                let input = p.get("Input").cloned().unwrap_or(Value::Null);
                let options = ExecutionOptions {
                    invoker: self
                        .me
                        .upgrade()
                        .expect("the cloud outlives its executions"),
                    state_machine_name: "training".into(),
                    execution_name: name.clone(),
                    account: ACCOUNT.into(),
                    ..ExecutionOptions::default()
                };
                let execution = self.training.execute(input, options).await;
                match execution.status {
                    ExecutionStatus::Succeeded => Ok(json!({
                        "ExecutionArn": format!("arn:aws:states:us-east-1:{ACCOUNT}:execution:training:{name}"),
                        "Status": "SUCCEEDED", "Output": execution.output})),
                    _ => Err(TaskFailure::new(
                        "States.TaskFailed",
                        format!("{:?}: {:?}", execution.error, execution.cause),
                    )),
                }
            }
            "arn:aws:states:::events:putEvents" => self.put_events(&p, &request.context).await,
            other => Err(TaskFailure::new(
                "States.TaskFailed",
                format!("unroutable resource {other}"),
            )),
        }
    }
}

async fn run(cloud: &Arc<Cloud>, flow: &str, execution: &str, input: Value) -> mdlc_asl::Execution {
    let machine = StateMachine::from_json_str(&definition(flow)).expect("valid ASL");
    let options = ExecutionOptions {
        invoker: cloud.clone(),
        state_machine_name: flow.into(),
        execution_name: execution.into(),
        account: ACCOUNT.into(),
        ..ExecutionOptions::default()
    };
    machine.execute(input, options).await
}

/// [`run`], asserting that the execution succeeded (the failure shows its error and cause).
async fn run_ok(
    cloud: &Arc<Cloud>,
    flow: &str,
    execution: &str,
    input: Value,
) -> mdlc_asl::Execution {
    let e = run(cloud, flow, execution, input).await;
    assert_eq!(
        e.status,
        ExecutionStatus::Succeeded,
        "{flow} {execution}: {:?} {:?}",
        e.error,
        e.cause
    );
    e
}

/// The training channels a version trained with the default locations of 2024-06-01 (the
/// world's today) read: what a retrain of it trains on unless the evaluation names newer data.
fn seed_training_data(cloud: &Cloud) {
    for part in ["train", "validation"] {
        cloud.world.store.insert(
            &format!("s3://mdlc-artifacts/datasets/churn/2024-06-01/{part}/part-1.csv"),
            "1,1,2\n2,3,4\n",
        );
    }
}

fn seed_evaluation_data(cloud: &Cloud, date: &str) {
    seed_training_data(cloud);
    seed_evaluation_batch(cloud, date, "1,2\n3,4\n5,6\n", "1.0\n2.0\n3.0\n");
}

/// The evaluation batch of `date` (features and ground truth), without training data.
fn seed_evaluation_batch(cloud: &Cloud, date: &str, features: &str, labels: &str) {
    let base = format!("s3://mdlc-artifacts/datasets/churn/{date}/evaluation");
    let store = &cloud.world.store;
    store.insert(&format!("{base}/features/part-1.csv"), features);
    store.insert(&format!("{base}/labels/part-1.csv"), labels);
}

#[tokio::test]
async fn training_flow_tunes_creates_and_registers_version_1() {
    let cloud = Cloud::new();
    let e = run_ok(&cloud, "training", "t1", json!({"modelName": "churn"})).await;
    let out = e.output.unwrap();
    assert_eq!(out["version"], 1, "{out}");
    assert_eq!(out["objectiveValue"], 1.0);
    let tuning = cloud.calls("createHyperParameterTuningJob.sync");
    assert_eq!(tuning.len(), 1);
    assert!(
        str_at(&tuning[0], "/HyperParameterTuningJobName").ends_with("-0"),
        "retry-count suffix"
    );
    let v = cloud
        .world
        .registry
        .get_version("churn", 1)
        .await
        .unwrap()
        .unwrap();
    assert!(v.record.tuning_job_name.is_some());
    assert!(
        v.record.execution_arn.ends_with(":training:t1"),
        "{}",
        v.record.execution_arn
    );
}

#[tokio::test]
async fn training_flow_without_tuning_runs_one_job_and_retries_dependency_unavailable() {
    let cloud = Cloud::new();
    cloud
        .world
        .registry
        .fail_next(PortError::unavailable("throttled"));
    run_ok(
        &cloud,
        "training",
        "t1",
        json!({"modelName": "churn", "tuning": {"enabled": false}}),
    )
    .await;
    let jobs = cloud.calls("createTrainingJob.sync");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["RoleArn"], "arn:aws:iam::000000000000:role/sm");
    assert!(cloud.calls("createHyperParameterTuningJob.sync").is_empty());
    let v = cloud
        .world
        .registry
        .get_version("churn", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.record.tuning_job_name, None);
}

#[tokio::test]
async fn invalid_input_fails_the_execution_with_the_original_error_and_cause() {
    let cloud = Cloud::new();
    let e = run(&cloud, "training", "t1", json!({"tuning": {"maxJobs": 0}})).await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error.as_deref(), Some("InvalidInput"));
    let cause = e.cause.unwrap();
    assert!(cause.contains("/modelName: is required"), "{cause}");
    assert!(cause.contains("/tuning/maxJobs"), "{cause}");
}

#[tokio::test]
async fn training_flow_with_grid_sends_only_categorical_ranges_and_no_job_count() {
    let cloud = Cloud::new();
    let ranges = json!([
        {"name": "max_depth", "type": "Categorical", "values": ["3", "5"]},
        {"name": "eta", "type": "Categorical", "values": ["0.1", "0.2", "0.3"]}
    ]);
    let input = json!({"modelName": "churn", "tuning": {"strategy": "Grid", "ranges": ranges, "maxJobs": 6}});
    run_ok(&cloud, "training", "g1", input).await;
    let tuning = cloud.calls("createHyperParameterTuningJob.sync");
    assert_eq!(tuning.len(), 1);
    let cfg = &tuning[0]["HyperParameterTuningJobConfig"];
    assert_eq!(cfg["Strategy"], "Grid");
    // SageMaker computes a Grid job's count (2 x 3) itself: MaxNumberOfTrainingJobs is not sent.
    assert_eq!(cfg["ResourceLimits"], json!({"MaxParallelTrainingJobs": 2}));
    assert_eq!(
        cfg["ParameterRanges"],
        json!({
            "ContinuousParameterRanges": [],
            "IntegerParameterRanges": [],
            "CategoricalParameterRanges": [
                {"Name": "max_depth", "Values": ["3", "5"]},
                {"Name": "eta", "Values": ["0.1", "0.2", "0.3"]}
            ]
        })
    );
}

#[tokio::test]
async fn training_flow_with_grid_over_an_integer_range_or_a_wrong_job_count_fails_before_any_job() {
    for (tuning, expected) in [
        (
            json!({"strategy": "Grid", "ranges": [
                {"name": "max_depth", "type": "Integer", "minValue": 3, "maxValue": 5}]}),
            "/tuning/ranges/0/type: range \"max_depth\" is Integer: the Grid strategy takes only Categorical ranges",
        ),
        (
            json!({"strategy": "Grid", "maxJobs": 8, "ranges": [
                {"name": "max_depth", "type": "Categorical", "values": ["3", "5"]}]}),
            "/tuning/maxJobs: is 8, but the Grid strategy runs one training job per combination and the ranges give 2 combinations; give 2 or omit maxJobs",
        ),
    ] {
        let cloud = Cloud::new();
        let input = json!({"modelName": "churn", "tuning": tuning});
        let e = run(&cloud, "training", "g1", input).await;
        assert_eq!(e.status, ExecutionStatus::Failed);
        assert_eq!(e.error.as_deref(), Some("InvalidInput"));
        let cause: Value = serde_json::from_str(&e.cause.unwrap()).unwrap();
        assert!(
            str_at(&cause, "/errorMessage").contains(expected),
            "{cause}"
        );
        let calls = cloud.calls("");
        assert!(calls.is_empty(), "no job may start: {calls:?}");
    }
}

#[tokio::test]
async fn evaluation_flow_keeps_a_good_model_and_retrains_a_degraded_one() {
    let cloud = Cloud::new();
    let e = run(&cloud, "training", "t1", json!({"modelName": "churn"})).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded);

    seed_evaluation_data(&cloud, "2024-06-01");
    let eval_input =
        json!({"modelName": "churn", "dataDate": "2024-06-01", "monitoring": {"threshold": 1.0}});
    let e = run_ok(&cloud, "evaluation", "e1", eval_input.clone()).await;
    let out = e.output.unwrap();
    assert_eq!(out["retrain"], false, "{out}");
    assert!(cloud.calls("startExecution.sync:2").is_empty());

    *cloud.prediction_error.lock().unwrap() = 3.0;
    let e = run_ok(&cloud, "evaluation", "e2", eval_input.clone()).await;
    let out = e.output.unwrap();
    assert_eq!(out["retrain"], true, "{out}");
    assert_eq!(out["newVersion"], 2, "{out}");
    let v2 = cloud
        .world
        .registry
        .get_version("churn", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v2.record.parent_version, Some(1));
    assert!(
        v2.record.reason.contains("threshold"),
        "{}",
        v2.record.reason
    );

    // Within the cooldown a degraded model is not retrained again.
    let e = run(&cloud, "evaluation", "e3", eval_input).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    let out = e.output.unwrap();
    assert_eq!(out["version"], 2);
    assert_eq!(out["retrain"], false, "{out}");
    assert!(
        out["reason"].as_str().unwrap().contains("cooldown"),
        "{out}"
    );
}

#[tokio::test]
async fn missing_retrain_data_fails_the_evaluation_before_the_transform_job_is_created() {
    let cloud = Cloud::new();
    run_ok(&cloud, "training", "t1", json!({"modelName": "churn"})).await;
    seed_evaluation_batch(&cloud, "2024-06-08", "1,2\n", "1.0\n");
    // The version's own training data was never uploaded (nor deleted later): a retrain
    // could not train; the evaluation must fail before any job starts.
    let e = run(
        &cloud,
        "evaluation",
        "e1",
        json!({"modelName": "churn", "dataDate": "2024-06-08"}),
    )
    .await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error.as_deref(), Some("RetrainDataMissing"));
    let cause = e.cause.unwrap();
    assert!(
        cause.contains("s3://mdlc-artifacts/datasets/churn/2024-06-01/train/")
            && cause.contains("s3://mdlc-artifacts/datasets/churn/2024-06-01/validation/"),
        "{cause}"
    );
    assert!(
        cloud.calls("createTransformJob.sync").is_empty(),
        "no transform job may be created"
    );
    // Named newer data that does not exist: the same, naming it.
    seed_training_data(&cloud);
    let e = run(
        &cloud,
        "evaluation",
        "e2",
        json!({"modelName": "churn", "dataDate": "2024-06-08",
               "preprocessing": {"raw": "s3://raw-data/churn/2024-06-08/", "image": "mdlc/preprocess"}}),
    )
    .await;
    assert_eq!(e.error.as_deref(), Some("RetrainDataMissing"));
    assert!(
        e.cause.unwrap().contains("s3://raw-data/churn/2024-06-08/"),
        "the named raw data"
    );
    assert!(cloud.calls("createTransformJob.sync").is_empty());
    // With the data in place the same evaluation runs.
    cloud
        .world
        .store
        .insert("s3://raw-data/churn/2024-06-08/raw.csv", "1,1,2\n");
    run_ok(
        &cloud,
        "evaluation",
        "e3",
        json!({"modelName": "churn", "dataDate": "2024-06-08",
               "preprocessing": {"raw": "s3://raw-data/churn/2024-06-08/", "image": "mdlc/preprocess"}}),
    )
    .await;
    assert_eq!(cloud.calls("createTransformJob.sync").len(), 1);
}

#[tokio::test]
async fn a_retrain_preprocesses_the_version_data_plus_the_labelled_batch() {
    let cloud = Cloud::new();
    let preprocessing = json!({"image": "mdlc/preprocess", "seed": 7});
    let mut input = json!({"modelName": "churn", "dataDate": "2024-06-01",
        "tuning": {"enabled": false}, "preprocessing": preprocessing.clone()});
    input["preprocessing"]["raw"] = json!("s3://raw-data/churn/all.csv");
    run_ok(&cloud, "training", "t1", input).await;
    let v1 = cloud
        .world
        .registry
        .get_version("churn", 1)
        .await
        .unwrap()
        .unwrap();
    let lineage = v1
        .record
        .training_data
        .expect("the version records its channels");
    let outputs =
        cloud.calls("createProcessingJob.sync")[0]["ProcessingOutputConfig"]["Outputs"].clone();
    assert_eq!(
        serde_json::to_value(&lineage.train).unwrap()["s3Uri"],
        outputs[0]["S3Output"]["S3Uri"]
    );

    // The first evaluation of a later date retrains; its input names no raw data.
    seed_evaluation_batch(&cloud, "2024-06-08", "1,2\n3,4\n5,6\n", "1.0\n2.0\n3.0\n");
    *cloud.prediction_error.lock().unwrap() = 3.0;
    let e = run_ok(
        &cloud,
        "evaluation",
        "e1",
        json!({"modelName": "churn", "dataDate": "2024-06-08", "tuning": {"enabled": false},
               "monitoring": {"threshold": 1.0}, "preprocessing": preprocessing}),
    )
    .await;
    let out = e.output.unwrap();
    assert_eq!(out["newVersion"], 2, "{out}");
    let processing = cloud.calls("createProcessingJob.sync");
    assert_eq!(processing.len(), 2);
    let inputs = processing[1]["ProcessingInputs"].as_array().unwrap();
    let uris: Vec<&str> = inputs.iter().map(|i| str_at(i, "/S3Input/S3Uri")).collect();
    assert_eq!(uris.len(), 3, "{uris:?}");
    assert_eq!(uris[0], outputs[0]["S3Output"]["S3Uri"].as_str().unwrap());
    assert_eq!(uris[1], outputs[1]["S3Output"]["S3Uri"].as_str().unwrap());
    assert!(uris[2].ends_with("/labelled/"), "{uris:?}");
    for (i, input) in inputs.iter().enumerate() {
        assert_eq!(
            str_at(input, "/S3Input/LocalPath"),
            format!("/opt/ml/processing/input/raw-{i}")
        );
    }
    // The labelled batch MonitorPerformance wrote: label first, then the features.
    let batch: S3Uri = uris[2].parse().unwrap();
    let rows = cloud
        .world
        .store
        .get(&batch.join("part-1.csv"))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(rows).unwrap(),
        "1.0,1,2\n2.0,3,4\n3.0,5,6\n"
    );
}

#[tokio::test]
async fn evaluation_without_a_model_fails_with_model_not_found() {
    let cloud = Cloud::new();
    let e = run(&cloud, "evaluation", "e1", json!({"modelName": "churn"})).await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error.as_deref(), Some("ModelNotFound"));
}

/// (detail-type, the detail's `decision` or `status` or `error`) of every published event.
fn published(cloud: &Cloud) -> Vec<(String, String)> {
    cloud
        .world
        .events
        .published()
        .iter()
        .map(|e| {
            let d = &e.detail;
            let what = ["decision", "status", "error"]
                .iter()
                .find_map(|k| d.get(*k).and_then(Value::as_str))
                .unwrap_or("-");
            (e.detail_type.clone(), what.to_string())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn the_flows_publish_registrations_decisions_and_retraining_in_order() {
    let cloud = Cloud::new();
    run_ok(&cloud, "training", "t1", json!({"modelName": "churn"})).await;
    seed_evaluation_data(&cloud, "2024-06-01");
    let eval_input =
        json!({"modelName": "churn", "dataDate": "2024-06-01", "monitoring": {"threshold": 1.0}});
    run_ok(&cloud, "evaluation", "e1", eval_input.clone()).await;
    *cloud.prediction_error.lock().unwrap() = 3.0;
    run_ok(&cloud, "evaluation", "e2", eval_input).await;
    assert_eq!(
        published(&cloud),
        pairs(&[
            ("Model Version Registered", "Registered"),
            ("Evaluation Completed", "Keep"),
            ("Evaluation Completed", "Retrain"),
            ("Retraining Started", "-"),
            ("Model Version Registered", "Registered"),
        ])
    );
    let events = cloud.world.events.published();
    assert_eq!(events[4].detail["version"], 2);
    assert_eq!(events[4].detail["parentVersion"], 1);
    assert_eq!(
        events[3].detail["trainingExecutionName"].as_str(),
        events[4].detail["executionArn"]
            .as_str()
            .and_then(|arn| arn.rsplit(':').next()),
        "the retraining started is the execution that registered version 2"
    );
}

#[tokio::test]
async fn a_failed_execution_publishes_pipeline_failed_with_its_error_and_arns() {
    let cloud = Cloud::new();
    let e = run(&cloud, "training", "t1", json!({"tuning": {"maxJobs": 0}})).await;
    assert_eq!(e.error.as_deref(), Some("InvalidInput"));
    let e = run(&cloud, "evaluation", "e1", json!({"modelName": "churn"})).await;
    assert_eq!(e.error.as_deref(), Some("ModelNotFound"));
    assert_eq!(
        published(&cloud),
        pairs(&[
            ("Pipeline Failed", "InvalidInput"),
            ("Pipeline Failed", "ModelNotFound"),
        ])
    );
    let events = cloud.world.events.published();
    let (training, evaluation) = (&events[0], &events[1]);
    assert_eq!(training.source, "mdlc.pipeline");
    assert_eq!(training.detail["flow"], "training");
    assert_eq!(training.detail["executionName"], "t1");
    assert!(
        training.detail["cause"]
            .as_str()
            .unwrap()
            .contains("/modelName: is required"),
        "{}",
        training.detail
    );
    assert_eq!(evaluation.detail["flow"], "evaluation");
    let arn = evaluation.detail["executionArn"].as_str().unwrap();
    let machine = evaluation.detail["stateMachineArn"].as_str().unwrap();
    assert!(arn.ends_with(":execution:evaluation:e1"), "{arn}");
    assert_eq!(
        evaluation.resources,
        [arn, machine],
        "Step Functions appends both ARNs"
    );
}

#[tokio::test]
async fn an_unpublishable_failure_event_is_retried_and_the_execution_keeps_its_own_error() {
    let cloud = Cloud::new();
    cloud
        .world
        .events
        .fail_next(PortError::unavailable("PutEvents: InternalFailure"));
    let e = run(&cloud, "evaluation", "e1", json!({"modelName": "churn"})).await;
    assert_eq!(e.error.as_deref(), Some("ModelNotFound"));
    assert_eq!(
        published(&cloud),
        pairs(&[("Pipeline Failed", "ModelNotFound")])
    );
    for _ in 0..4 {
        cloud
            .world
            .events
            .fail_next(PortError::unavailable("PutEvents: InternalFailure"));
    }
    let e = run(&cloud, "evaluation", "e2", json!({"modelName": "churn"})).await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(
        e.error.as_deref(),
        Some("ModelNotFound"),
        "a bus that stays down never hides the flow's own error"
    );
    assert_eq!(published(&cloud).len(), 1, "nothing more was published");
}

#[test]
fn definitions_match_only_documented_error_names_and_every_name_is_documented() {
    let readme_path = format!(
        "{}/../../../statemachine/README.md",
        env!("CARGO_MANIFEST_DIR")
    );
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let vocabulary = &readme[readme
        .find("## Error vocabulary")
        .expect("vocabulary section")..];
    for name in mdlc_core::ErrorName::ALL {
        assert!(
            vocabulary.contains(&format!("| `{name}` |")),
            "{name} is not documented"
        );
    }
    for flow in ["training", "evaluation"] {
        let def: Value = serde_json::from_str(&definition(flow)).unwrap();
        let states = def["States"].as_object().unwrap();
        for (state, body) in states {
            if body["Type"] == "Task" {
                assert!(body.get("Retry").is_some(), "{flow}/{state} has no Retry");
                assert!(body.get("Catch").is_some(), "{flow}/{state} has no Catch");
            }
            for key in ["Retry", "Catch"] {
                for rule in body
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    for name in rule["ErrorEquals"].as_array().unwrap() {
                        let name = name.as_str().unwrap();
                        assert!(
                            name == "States.ALL" || vocabulary.contains(&format!("`{name}`")),
                            "{flow}/{state} matches undocumented error {name}"
                        );
                    }
                }
            }
        }
    }
}

const TRACKED: &str = "http://127.0.0.1:5000";

#[tokio::test]
async fn tracking_on_logs_the_tuning_the_registration_and_the_evaluation() {
    let cloud = Cloud::new();
    let input = json!({"modelName": "churn", "dataDate": "2024-06-01",
        "tracking": {"uri": TRACKED, "experiment": "churn-exp"}, "monitoring": {"threshold": 1.0}});
    let e = run_ok(&cloud, "training", "t1", input.clone()).await;
    let out = e.output.unwrap();
    assert_eq!(out["version"], 1, "{out}");
    assert_eq!(out["tracking"]["status"], "logged", "{out}");
    assert_eq!(out["tracking"]["kind"], "tuning", "{out}");
    assert_eq!(out["tracking"]["parentRunId"], "parent-run", "{out}");
    assert_eq!(out["tracking"]["registration"]["status"], "logged", "{out}");
    assert_eq!(
        out["tracking"]["registration"]["modelVersion"], "3",
        "{out}"
    );

    let tracked = cloud.tracked.lock().unwrap().clone();
    assert_eq!(tracked.len(), 2, "{tracked:?}");
    let tuning = &tracked[0];
    assert_eq!(tuning["kind"], "tuning");
    assert_eq!(tuning["trackingUri"], TRACKED);
    assert_eq!(tuning["experimentName"], "churn-exp");
    let tuning_job = str_at(
        &cloud.calls("createHyperParameterTuningJob.sync")[0],
        "/HyperParameterTuningJobName",
    )
    .to_string();
    assert_eq!(tuning["tuningJobName"], tuning_job.as_str());
    assert!(str_at(tuning, "/executionArn").ends_with(":training:t1"));
    let registration = &tracked[1];
    assert_eq!(registration["kind"], "registration");
    assert_eq!(registration["registryVersion"], 1);
    assert_eq!(
        registration["trainingJobName"],
        format!("{tuning_job}-001-0a1b2c3d")
    );
    assert!(str_at(registration, "/modelDataUrl").ends_with("model.tar.gz"));

    // Without tuning: kind "training".
    let mut one = input.clone();
    one["tuning"] = json!({"enabled": false});
    run_ok(&cloud, "training", "t2", one).await;
    let tracked = cloud.tracked.lock().unwrap().clone();
    assert_eq!(tracked[2]["kind"], "training");
    assert_eq!(
        tracked[2]["trainingJobName"],
        str_at(
            &cloud.calls("createTrainingJob.sync")[0],
            "/TrainingJobName"
        )
    );

    // The evaluation flow logs its evaluation before the retrain choice.
    seed_evaluation_data(&cloud, "2024-06-01");
    let e = run_ok(&cloud, "evaluation", "e1", input).await;
    let out = e.output.unwrap();
    assert_eq!(out["tracking"]["status"], "logged", "{out}");
    assert_eq!(out["tracking"]["kind"], "evaluation", "{out}");
    let tracked = cloud.tracked.lock().unwrap().clone();
    let evaluation = tracked.last().unwrap();
    assert_eq!(evaluation["kind"], "evaluation");
    assert_eq!(evaluation["monitor"]["version"], 2, "the latest version");
    assert_eq!(evaluation["decision"]["retrain"], false);
}

#[tokio::test]
async fn a_failing_tracker_never_fails_the_flows_and_the_error_is_in_the_output() {
    let cloud = Cloud::new();
    *cloud.tracker.lock().unwrap() = Tracker::Throws("DependencyUnavailable");
    let input = json!({"modelName": "churn", "dataDate": "2024-06-01",
        "tracking": {"uri": TRACKED}, "monitoring": {"threshold": 1.0}});
    let e = run_ok(&cloud, "training", "t1", input.clone()).await;
    let out = e.output.unwrap();
    assert_eq!(out["version"], 1, "registered all the same: {out}");
    assert_eq!(out["tracking"]["status"], "failed", "{out}");
    assert_eq!(out["tracking"]["kind"], "tuning", "{out}");
    assert_eq!(
        out["tracking"]["error"]["name"], "DependencyUnavailable",
        "{out}"
    );
    assert!(
        str_at(&out, "/tracking/error/message").contains("the tracker is down"),
        "{out}"
    );
    assert!(
        out["tracking"].get("registration").is_none(),
        "no registration link without runs: {out}"
    );
    // 1 try + 3 retries of TrackExperiment, no registration attempt.
    assert_eq!(cloud.tracked.lock().unwrap().len(), 4);

    // An error that is not retried (a bug, a crash) is caught at once.
    *cloud.tracker.lock().unwrap() = Tracker::Throws("Lambda.Unknown");
    seed_evaluation_data(&cloud, "2024-06-01");
    let e = run_ok(&cloud, "evaluation", "e1", input).await;
    let out = e.output.unwrap();
    assert_eq!(out["retrain"], false, "{out}");
    assert_eq!(out["tracking"]["status"], "failed", "{out}");
    assert_eq!(out["tracking"]["error"]["name"], "Lambda.Unknown", "{out}");
    assert_eq!(cloud.tracked.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn tracking_off_skips_every_tracking_step() {
    let cloud = Cloud::new();
    let e = run_ok(
        &cloud,
        "training",
        "t1",
        json!({"modelName": "churn", "dataDate": "2024-06-01"}),
    )
    .await;
    let out = e.output.unwrap();
    assert_eq!(out["tracking"], json!({"status": "disabled"}), "{out}");
    seed_evaluation_data(&cloud, "2024-06-01");
    let e = run_ok(
        &cloud,
        "evaluation",
        "e1",
        json!({"modelName": "churn", "dataDate": "2024-06-01"}),
    )
    .await;
    assert_eq!(e.output.unwrap()["tracking"], json!({"status": "disabled"}));
    assert!(
        cloud.tracked.lock().unwrap().is_empty(),
        "track-experiment never called"
    );
}

#[tokio::test]
async fn preprocessing_on_runs_the_processing_job_trains_on_its_outputs_and_records_the_profile() {
    let cloud = Cloud::new();
    let input = json!({"modelName": "churn", "dataDate": "2024-06-01",
        "tuning": {"enabled": false},
        "preprocessing": {"raw": "s3://raw-data/churn/all.csv", "image": "mdlc/preprocess"}});
    let e = run_ok(&cloud, "training", "t1", input).await;
    let processing = cloud.calls("createProcessingJob.sync");
    assert_eq!(processing.len(), 1);
    let job = str_at(&processing[0], "/ProcessingJobName");
    assert!(
        job.starts_with("churn-20240601-") && job.ends_with("-p-0"),
        "{job}"
    );
    assert_eq!(
        str_at(&processing[0], "/ProcessingInputs/0/S3Input/S3Uri"),
        "s3://raw-data/churn/all.csv"
    );
    // The training job reads the processing outputs.
    let training = cloud.calls("createTrainingJob.sync");
    assert_eq!(training.len(), 1);
    let outputs = &processing[0]["ProcessingOutputConfig"]["Outputs"];
    for (i, channel) in ["train", "validation"].iter().enumerate() {
        assert_eq!(
            str_at(&training[0], &format!("/InputDataConfig/{i}/ChannelName")),
            *channel
        );
        assert_eq!(
            str_at(
                &training[0],
                &format!("/InputDataConfig/{i}/DataSource/S3DataSource/S3Uri")
            ),
            str_at(&outputs[i], "/S3Output/S3Uri")
        );
    }
    // The version records the profile the processing job wrote; the output names it.
    let out = e.output.unwrap();
    let v = cloud
        .world
        .registry
        .get_version("churn", 1)
        .await
        .unwrap()
        .unwrap();
    let profile = v
        .record
        .profile_uri
        .expect("the version records its data profile");
    assert_eq!(
        profile,
        format!("{}profile.json", str_at(&outputs[2], "/S3Output/S3Uri"))
    );
    assert_eq!(out["profileUri"], json!(profile), "{out}");
    assert!(
        cloud
            .world
            .store
            .get(&profile.parse().unwrap())
            .await
            .is_ok()
    );

    // Evaluations without a profile in their input report drift against the version's.
    seed_evaluation_data(&cloud, "2024-06-01");
    let e = run_ok(
        &cloud,
        "evaluation",
        "e1",
        json!({"modelName": "churn", "dataDate": "2024-06-01"}),
    )
    .await;
    let out = e.output.unwrap();
    assert_eq!(out["evaluation"]["drift"]["level"], "stable", "{out}");
    seed_evaluation_batch(&cloud, "2024-06-02", "9,9\n8,9\n9,8\n", "1.0\n2.0\n3.0\n");
    let e = run_ok(
        &cloud,
        "evaluation",
        "e2",
        json!({"modelName": "churn", "dataDate": "2024-06-02"}),
    )
    .await;
    let out = e.output.unwrap();
    assert_eq!(out["evaluation"]["drift"]["level"], "significant", "{out}");
    let recorded = cloud
        .world
        .registry
        .list_evaluations("churn", None)
        .await
        .unwrap();
    let levels: Vec<_> = recorded
        .iter()
        .map(|r| r.drift.as_ref().map(|d| d.level.as_str()))
        .collect();
    assert_eq!(levels, vec![Some("stable"), Some("significant")]);
}

#[tokio::test]
async fn preprocessing_off_or_absent_runs_no_processing_job() {
    let cloud = Cloud::new();
    for (execution, input) in [
        ("t1", json!({"modelName": "churn"})),
        (
            "t2",
            json!({"modelName": "churn", "preprocessing": {"enabled": false, "raw": "s3://raw-data/a.csv"}}),
        ),
    ] {
        let e = run_ok(&cloud, "training", execution, input).await;
        assert_eq!(e.output.unwrap()["profileUri"], Value::Null);
    }
    assert!(cloud.calls("createProcessingJob.sync").is_empty());
    let v = cloud
        .world
        .registry
        .get_version("churn", 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.record.profile_uri, None);
    let tuning = cloud.calls("createHyperParameterTuningJob.sync");
    assert!(
        str_at(
            &tuning[0],
            "/TrainingJobDefinition/InputDataConfig/0/DataSource/S3DataSource/S3Uri"
        )
        .ends_with("/datasets/churn/2024-06-01/train/")
    );
}

#[tokio::test]
async fn a_processing_job_is_retried_with_a_fresh_name_and_a_failed_one_fails_the_flow() {
    let cloud = Cloud::new();
    let input = json!({"modelName": "churn", "tuning": {"enabled": false},
        "preprocessing": {"raw": "s3://raw-data/a.csv"}});
    cloud
        .processing_errors
        .lock()
        .unwrap()
        .push("SageMaker.ThrottlingException");
    run_ok(&cloud, "training", "t1", input.clone()).await;
    let names: Vec<String> = cloud
        .calls("createProcessingJob.sync")
        .iter()
        .map(|p| str_at(p, "/ProcessingJobName").to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names[0].ends_with("-p-0") && names[1].ends_with("-p-1"),
        "{names:?}"
    );

    cloud
        .processing_errors
        .lock()
        .unwrap()
        .push("States.TaskFailed");
    let e = run(&cloud, "training", "t2", input).await;
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.error.as_deref(), Some("States.TaskFailed"));
    assert!(e.cause.unwrap_or_default().contains("injected"));
    assert!(
        cloud.calls("createTrainingJob.sync").len() == 1,
        "no training after a failed processing job"
    );
    assert!(
        cloud
            .world
            .registry
            .get_version("churn", 2)
            .await
            .unwrap()
            .is_none()
    );
}
