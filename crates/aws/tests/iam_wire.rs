//! Every handler's adapter calls, on moto's wire with IAM enforced, as the handler's role of
//! infra/template.yaml: the role is created in moto from the template's own policies (resolved to
//! this test's table, bucket and account) and assumed; the calls go through every path the
//! handler takes (success, conflict, retry after a lost race, not found). A missing action fails
//! with moto's AccessDenied naming it, and every recorded request is also evaluated as IAM does
//! against the unchanged policies (resource scoping, conditions): common/wire_iam.rs.
//!
//! Which adapter methods each handler calls (crates/functions/*/src/lib.rs):
//! - find-model: `get_version`, `latest_version`, `ObjectStore::any_under` (through
//!   `mdlc_core::retrain::resolve_and_check`, as its handler calls it)
//! - register-model: `register` (through the publishing registry: `EventBridgePublisher::publish`)
//! - monitor-performance: `ObjectStore::get` (the profile)/`get_range` (the batch, streamed)/
//!   `list`/`put` (the labelled batch, at the location
//!   `mdlc_core::retrain::plan` gives it), `list_evaluations`, `put_evaluation`
//! - is-retraining-needed: `get_version`, `list_evaluations`, `put_evaluation`,
//!   `EventBridgePublisher::publish` (Evaluation Completed, Retraining Started)
//! - create-model: `describe_training_job`, `ObjectStore::exists`, `describe_model`, `create_model`
//! - track-experiment: `TrainingHistory::training_job`/`tuning_job`/`training_log`
//!   (moto has no ListTrainingJobsForHyperParameterTuningJob, so `tuning_training_jobs` is not
//!   exercised here; a tuning job moto cannot create either, so `tuning_job` takes its not-found path)
//! - initialize, train: no AWS call (their roles have only their logs).
//!
//! Run with `scripts/with-servers.sh cargo nextest run -p mdlc-aws --test iam_wire --run-ignored all`.

mod common;
#[path = "common/iam.rs"]
mod iam;
#[path = "common/template.rs"]
mod template;
#[path = "common/wire_iam.rs"]
mod wire_iam;

use std::collections::BTreeMap;

use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, OutputDataConfig, ResourceConfig, StoppingCondition, TrainingInputMode,
    TrainingInstanceType,
};
use common::{create_registry_table, moto_endpoint, test_sdk_loader, unique};
use mdlc_aws::history::{AwsTrainingHistory, TRAINING_LOG_GROUP};
use mdlc_aws::{AwsAdapters, AwsConfig, EventBridgePublisher};
use mdlc_core::contract;
use mdlc_core::events::publishing::PublishingRegistry;
use mdlc_core::events::{self, Decision, EvaluationCompleted, RetrainingStarted};
use mdlc_core::history::TrainingHistory;
use mdlc_core::input::{Context, DataSource, ExecutionInput};
use mdlc_core::ports::{
    CreateModelRequest, EventPublisher, ObjectStore, RegistryRead, RegistryWrite, SageMakerApi,
};
use mdlc_core::registry::{EvaluationRecord, ModelVersion, VersionStatus};
use mdlc_core::retrain::{self, RetrainPlan, RetrainSource, TrainingData};
use mdlc_core::{ErrorName, PortError, S3Uri};
use template::Stack;
use wire_iam::AssumedRole;

const IMAGE: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

/// The test's world in moto: a registry table and an artifact bucket (created by the admin),
/// and the template resolved to them.
struct World {
    endpoint: String,
    admin_sdk: aws_config::SdkConfig,
    admin: AwsAdapters,
    table: String,
    bucket: String,
    /// The stack's event bus (template parameter EventBusName), created by the admin.
    bus: String,
    stack: Stack,
}

fn config(table: &str, endpoint: &str) -> AwsConfig {
    let mut config = AwsConfig::new(table);
    config.region = Some("us-east-1".into());
    config.endpoint_url = Some(endpoint.to_string());
    config.s3_force_path_style = true;
    config
}

async fn world() -> World {
    let endpoint = moto_endpoint();
    let admin_sdk = test_sdk_loader().endpoint_url(&endpoint).load().await;
    let table = unique("iam-registry");
    let bucket = unique("iam-artifacts");
    let admin = AwsAdapters::from_sdk_config(&admin_sdk, &config(&table, &endpoint));
    create_registry_table(admin.registry.client(), &table, "as the admin").await;
    admin
        .store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket as the admin: {e:?}"));
    let bus = unique("iam-bus");
    aws_sdk_eventbridge::Client::new(&admin_sdk)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateEventBus as the admin: {e:?}"));
    let stack = Stack::load(
        &[("EventBusName", &bus)],
        &[("RegistryTable", &table), ("ArtifactBucket", &bucket)],
    )
    .expect("infra/template.yaml");
    World {
        endpoint,
        admin_sdk,
        admin,
        table,
        bucket,
        bus,
        stack,
    }
}

impl World {
    async fn role(&self, logical: &str) -> (AssumedRole, AwsAdapters) {
        let role = AssumedRole::create(&self.admin_sdk, &self.stack, logical, &self.endpoint).await;
        let adapters =
            AwsAdapters::from_sdk_config(&role.sdk, &config(&self.table, &self.endpoint));
        (role, adapters)
    }

    /// The role's publisher to the stack's bus, as the functions build it.
    fn publisher(&self, role: &AssumedRole) -> EventBridgePublisher {
        EventBridgePublisher::from_sdk_config(&role.sdk, Some(&self.endpoint), |name| {
            (name == mdlc_aws::eventbridge::ENV_EVENT_BUS_NAME).then(|| self.bus.clone())
        })
    }

    fn uri(&self, key: &str) -> S3Uri {
        S3Uri::new(&self.bucket, key)
    }

    fn sagemaker_role(&self) -> String {
        self.stack
            .get_att("SageMakerExecutionRole", "Arn")
            .expect("role ARN")
    }

    async fn training_job(&self, job: &str) {
        aws_sdk_sagemaker::Client::new(&self.admin_sdk)
            .create_training_job()
            .training_job_name(job)
            .algorithm_specification(
                AlgorithmSpecification::builder()
                    .training_image(IMAGE)
                    .training_input_mode(TrainingInputMode::File)
                    .build(),
            )
            .role_arn(self.sagemaker_role())
            .output_data_config(
                OutputDataConfig::builder()
                    .s3_output_path(format!("s3://{}/training", self.bucket))
                    .build(),
            )
            .resource_config(
                ResourceConfig::builder()
                    .instance_type(TrainingInstanceType::MlM5Large)
                    .instance_count(1)
                    .volume_size_in_gb(10)
                    .build(),
            )
            .stopping_condition(
                StoppingCondition::builder()
                    .max_runtime_in_seconds(3600)
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTrainingJob as the admin: {e:?}"));
    }
}

/// An evaluation input with a `preprocessing` block and no retrain data of its own (a retrain
/// reads the version's channels and the labelled batch), resolved against the test's bucket,
/// and initialize's retrain plan of it for the evaluation output of run `run`.
fn evaluation_plan(w: &World, model: &str, run: &str) -> (ExecutionInput, RetrainPlan) {
    let raw = serde_json::json!({
        "modelName": model,
        "dataDate": "2024-06-02",
        "preprocessing": {"seed": 7}
    });
    let ctx = Context {
        artifact_bucket: &w.bucket,
        region: "us-east-1",
        today: chrono::NaiveDate::from_ymd_opt(2024, 6, 2).expect("date"),
        account: Some(template::ACCOUNT),
    };
    let input = mdlc_core::input::validate(&raw, &ctx)
        .unwrap_or_else(|e| panic!("evaluation input: {e:?}"));
    let output = w.uri(&format!("evaluations/{model}/2024-06-02/{run}/"));
    let plan = retrain::plan(&raw, &input, &output);
    assert_eq!(plan.source, RetrainSource::Version);
    (input, plan)
}

/// Registers a version (as the admin) trained on `<prefix>train/` and `<prefix>validation/` of
/// the test's bucket.
async fn version_trained_on(w: &World, model: &str, prefix: &str) -> ModelVersion {
    let mut new = contract::sample_version(model, "e1");
    new.training_data = Some(TrainingData {
        train: DataSource::S3Uri(w.uri(&format!("{prefix}train/"))),
        validation: DataSource::S3Uri(w.uri(&format!("{prefix}validation/"))),
    });
    w.admin
        .registry
        .register(new)
        .await
        .expect("seed the version")
        .version
}

fn evaluation(model: &str, at: &str) -> EvaluationRecord {
    EvaluationRecord {
        model_name: model.to_string(),
        version: 1,
        evaluated_at: at.to_string(),
        execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:evaluation:{at}"),
        data_date: "2024-06-02".into(),
        metrics: BTreeMap::from([("rmse".to_string(), 0.5)]),
        retrain: Some(false),
        reason: None,
        drift: None,
    }
}

/// `result` must be a success. A failure first has IAM's evaluation of what was sent name the
/// action the template does not allow (moto's S3 AccessDenied names no action), then fails
/// with moto's answer.
fn allowed<T: std::fmt::Debug>(role: &AssumedRole, what: &str, result: Result<T, PortError>) -> T {
    result.unwrap_or_else(|e| {
        role.assert_all_allowed();
        panic!("{what} as the template's role failed: {e}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn find_model_role_reads_versions_and_checks_the_retrain_data() {
    let w = world().await;
    let model = contract::unique_model_name("find");
    let bare = contract::unique_model_name("find-bare");
    // one version trained on data that exists, one on prefixes without objects
    version_trained_on(&w, &model, &format!("models/{model}/run/preprocessing/")).await;
    version_trained_on(&w, &bare, &format!("models/{bare}/run/preprocessing/")).await;
    for key in [
        format!("models/{model}/run/preprocessing/train/part-0.csv"),
        format!("models/{model}/run/preprocessing/validation/part-0.csv"),
        format!("datasets/{model}/2024-06-02/evaluation/labels/a.csv"),
    ] {
        w.admin
            .store
            .put(&w.uri(&key), b"1,2\n".to_vec())
            .await
            .expect("seed");
    }
    let (role, aws) = w.role("FindModelRole").await;

    let pinned = allowed(
        &role,
        "get_version",
        aws.registry.get_version(&model, 1).await,
    );
    let missing = allowed(
        &role,
        "get_version (not found)",
        aws.registry.get_version(&model, 9).await,
    );
    let latest = allowed(
        &role,
        "latest_version",
        aws.registry
            .latest_version(&model, &VersionStatus::SERVABLE)
            .await,
    )
    .expect("the latest version");
    let bare_version = allowed(
        &role,
        "latest_version (bare)",
        aws.registry
            .latest_version(&bare, &VersionStatus::SERVABLE)
            .await,
    )
    .expect("the bare model's version");
    // the handler's check before the batch transform (ListObjectsV2 MaxKeys 1 per location)
    let (input, plan) = evaluation_plan(&w, &model, "run1");
    let found = retrain::resolve_and_check(aws.store.as_ref(), &input, &plan, &latest).await;
    let (bare_input, bare_plan) = evaluation_plan(&w, &bare, "run1");
    let absent =
        retrain::resolve_and_check(aws.store.as_ref(), &bare_input, &bare_plan, &bare_version)
            .await;

    role.assert_all_allowed();
    assert_eq!(pinned.map(|v| v.version), Some(1));
    assert_eq!(missing, None);
    assert_eq!(latest.version, 1);
    let found = found.unwrap_or_else(|e| panic!("retrain data (all present): {e}"));
    assert_eq!(found.required.len(), 3, "{found:?}");
    let e = absent.expect_err("the bare version's channels hold no object");
    assert_eq!(e.name(), ErrorName::RetrainDataMissing, "{e}");
    let message = e.to_string();
    for part in ["train/", "validation/", "evaluation/labels/"] {
        assert!(
            message.contains(&format!("s3://{}/", w.bucket)) && message.contains(part),
            "{part} missing from: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn register_model_role_registers_once_per_execution_and_retries_lost_races() {
    let w = world().await;
    let model = contract::unique_model_name("register");
    let (role, aws) = w.role("RegisterModelRole").await;
    // as the function composes it: the registry publishes its registrations
    let publishing = PublishingRegistry::new(
        aws.registry.clone(),
        std::sync::Arc::new(w.publisher(&role)),
    );

    let first = allowed(
        &role,
        "register (published)",
        publishing
            .register(contract::sample_version(&model, "e1"))
            .await,
    );
    // the same execution again: the transaction is cancelled, the existing version is returned
    let again = allowed(
        &role,
        "register (conflict)",
        aws.registry
            .register(contract::sample_version(&model, "e1"))
            .await,
    );
    // concurrent registrations: the losers read again and retry
    let mut tasks = tokio::task::JoinSet::new();
    for e in 0..4 {
        let registry = aws.registry.clone();
        let new = contract::sample_version(&model, &format!("race-{e}"));
        tasks.spawn(async move { registry.register(new).await });
    }
    let mut versions = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        versions.push(
            allowed(&role, "register (race)", joined.expect("task"))
                .version
                .version,
        );
    }
    versions.sort_unstable();

    assert!(first.created);
    assert!(!again.created);
    assert_eq!(again.version.version, 1);
    assert_eq!(versions, vec![2, 3, 4, 5]);
    role.assert_all_allowed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn monitor_performance_role_reads_data_writes_the_labelled_batch_and_records_the_evaluation()
{
    let w = world().await;
    let model = contract::unique_model_name("monitor");
    w.admin
        .store
        .put(&w.uri("predictions/a.csv.out"), b"1\n".to_vec())
        .await
        .expect("seed");
    let (_, plan) = evaluation_plan(&w, &model, "run1");
    let batch = plan
        .labelled_batch
        .clone()
        .expect("a labelled batch with preprocessing");
    let (role, aws) = w.role("MonitorPerformanceRole").await;

    let listed = allowed(&role, "list", aws.store.list(&w.uri("predictions/")).await);
    let body = allowed(
        &role,
        "get",
        aws.store.get(&w.uri("predictions/a.csv.out")).await,
    );
    // the handler streams the batch: ranged GetObject, the same s3:GetObject permission
    let range = allowed(
        &role,
        "get_range",
        aws.store
            .get_range(&w.uri("predictions/a.csv.out"), 0, 4 << 20)
            .await,
    );
    let missing = aws.store.get(&w.uri("predictions/none.out")).await;
    // the evaluated batch as labelled rows, where initialize's plan puts it
    let rows = retrain::labelled_rows("2,3\n4,5\n", "1\n0\n").expect("labelled rows");
    allowed(
        &role,
        "put (labelled batch)",
        aws.store.put(&batch.join("a.csv"), rows.into_bytes()).await,
    );
    let history = allowed(
        &role,
        "list_evaluations",
        aws.registry.list_evaluations(&model, None).await,
    );
    allowed(
        &role,
        "put_evaluation",
        aws.registry
            .put_evaluation(evaluation(&model, "2024-06-02T00:00:00.000Z"))
            .await,
    );

    assert_eq!(listed.len(), 1);
    assert_eq!(body, b"1\n");
    assert_eq!(range, b"1\n");
    assert!(
        matches!(missing, Err(PortError::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(
        batch.key,
        format!("evaluations/{model}/2024-06-02/run1/labelled/")
    );
    let written = w
        .admin
        .store
        .get(&batch.join("a.csv"))
        .await
        .expect("read back");
    assert_eq!(written, b"1,2,3\n0,4,5\n");
    assert!(history.is_empty());
    role.assert_all_allowed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn monitor_performance_role_writes_only_under_evaluations() {
    let w = world().await;
    // a role of its own, not asserted allowed: this request is meant to be denied
    let (_, aws) = w.role("MonitorPerformanceRole").await;

    let outside = aws
        .store
        .put(&w.uri("models/m/output/model.tar.gz"), b"x".to_vec())
        .await;

    let e = outside.expect_err("PutObject outside evaluations/ must be denied");
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    assert!(
        !w.admin
            .store
            .exists(&w.uri("models/m/output/model.tar.gz"))
            .await
            .expect("head"),
        "the denied object exists"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn is_retraining_needed_role_reads_history_and_records_the_decision() {
    let w = world().await;
    let model = contract::unique_model_name("retrain");
    w.admin
        .registry
        .register(contract::sample_version(&model, "e1"))
        .await
        .expect("seed");
    let (role, aws) = w.role("IsRetrainingNeededRole").await;

    let version = allowed(
        &role,
        "get_version",
        aws.registry.get_version(&model, 1).await,
    );
    let window = allowed(
        &role,
        "list_evaluations (window)",
        aws.registry
            .list_evaluations(&model, Some("2024-06-01T00:00:00.000Z"))
            .await,
    );
    let all = allowed(
        &role,
        "list_evaluations",
        aws.registry.list_evaluations(&model, None).await,
    );
    let recorded = evaluation(&model, "2024-06-03T00:00:00.000Z");
    allowed(
        &role,
        "put_evaluation",
        aws.registry.put_evaluation(recorded.clone()).await,
    );
    let completed = EvaluationCompleted {
        model_name: model.clone(),
        version: 1,
        execution_arn: recorded.execution_arn.clone(),
        evaluated_at: recorded.evaluated_at.clone(),
        data_date: recorded.data_date.clone(),
        metrics: recorded.metrics.clone(),
        decision: Decision::Retrain,
        retrain: true,
        reason: "degraded".into(),
    };
    let started = RetrainingStarted {
        model_name: model.clone(),
        version: 1,
        execution_arn: recorded.execution_arn.clone(),
        training_execution_name: format!("{model}-retrain"),
        reason: "degraded".into(),
    };
    let at = "2024-06-03T00:00:01.000Z";
    allowed(
        &role,
        "publish the decision",
        w.publisher(&role)
            .publish(&[
                events::evaluation_completed(&completed, at),
                events::retraining_started(&started, at),
            ])
            .await,
    );

    assert!(version.is_some());
    assert!(window.is_empty() && all.is_empty());
    role.assert_all_allowed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn a_role_that_publishes_nothing_may_not_put_events() {
    let w = world().await;
    let (role, _) = w.role("FindModelRole").await;
    let event = events::retraining_started(
        &RetrainingStarted {
            model_name: "churn".into(),
            version: 1,
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:evaluation:e1".into(),
            training_execution_name: "churn-retrain".into(),
            reason: "degraded".into(),
        },
        "2024-06-03T00:00:01.000Z",
    );
    let e = w
        .publisher(&role)
        .publish(&[event])
        .await
        .expect_err("FindModelRole has no events:PutEvents");
    assert!(
        // moto answers 403 (its body names no code for this protocol)
        matches!(&e, PortError::Rejected { message }
            if message.contains("AccessDenied") || message.contains("HTTP 403")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn create_model_role_describes_the_job_checks_artifacts_and_creates_the_model() {
    let w = world().await;
    let job = unique("iam-job");
    w.training_job(&job).await;
    let artifacts = format!("training/{job}/output/model.tar.gz");
    w.admin
        .store
        .put(&w.uri(&artifacts), b"tar".to_vec())
        .await
        .expect("seed");
    let (role, aws) = w.role("CreateModelRole").await;
    let model_name = unique("iam-model");

    let info = allowed(
        &role,
        "describe_training_job",
        aws.sagemaker.describe_training_job(&job).await,
    );
    let missing_job = aws.sagemaker.describe_training_job(&unique("no-job")).await;
    let exists = allowed(&role, "exists", aws.store.exists(&w.uri(&artifacts)).await);
    let absent = allowed(
        &role,
        "exists (absent)",
        aws.store.exists(&w.uri("training/none.tar.gz")).await,
    );
    let before = allowed(
        &role,
        "describe_model (absent)",
        aws.sagemaker.describe_model(&model_name).await,
    );
    let request = CreateModelRequest {
        model_name: model_name.clone(),
        image: IMAGE.to_string(),
        model_data_url: format!("s3://{}/{artifacts}", w.bucket),
        execution_role_arn: w.sagemaker_role(),
        environment: BTreeMap::new(),
        vpc_config: None,
    };
    allowed(
        &role,
        "create_model",
        aws.sagemaker.create_model(&request).await,
    );
    let after = allowed(
        &role,
        "describe_model",
        aws.sagemaker.describe_model(&model_name).await,
    );

    assert_eq!(info.name, job);
    assert!(
        matches!(missing_job, Err(PortError::NotFound { .. })),
        "{missing_job:?}"
    );
    assert!(exists && !absent);
    assert!(before.is_none() && after.is_some());
    role.assert_all_allowed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn track_experiment_role_reads_jobs_and_their_logs() {
    let w = world().await;
    let job = unique("iam-track");
    w.training_job(&job).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&w.admin_sdk);
    let _ = logs
        .create_log_group()
        .log_group_name(TRAINING_LOG_GROUP)
        .send()
        .await;
    let stream = format!("{job}/algo-1-0000000000");
    logs.create_log_stream()
        .log_group_name(TRAINING_LOG_GROUP)
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLogStream as the admin: {e:?}"));
    let (role, _) = w.role("TrackExperimentRole").await;
    let history = AwsTrainingHistory::from_sdk_config(&role.sdk);

    let summary = allowed(&role, "training_job", history.training_job(&job).await);
    let log = allowed(&role, "training_log", history.training_log(&job).await);
    let tuning = history.tuning_job(&unique("no-tuning")).await;

    assert_eq!(summary.name, job);
    assert!(log.is_empty());
    assert!(
        matches!(tuning, Err(PortError::NotFound { .. })),
        "{tuning:?}"
    );
    role.assert_all_allowed();
}
