//! Wire tests of the AWS adapters against moto's server ($MDLC_TEST_MOTO_ENDPOINT).
//!
//! Run with `scripts/with-servers.sh cargo nextest run -p mdlc-aws --run-ignored all`; a plain
//! `cargo nextest run` skips (ignores) the tests that need moto.
//! Every test creates its own table / bucket with a unique name.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

mod common;

use aws_sdk_dynamodb::config::http::HttpRequest;
use aws_sdk_dynamodb::config::{RuntimeComponents, SharedHttpClient};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, OutputDataConfig, ResourceConfig, StoppingCondition, TrainingInputMode,
    TrainingInstanceType,
};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use common::{create_registry_table, moto_endpoint, test_sdk_loader, unique};
use mdlc_aws::{AwsAdapters, AwsConfig, DynamoDbRegistry, S3ObjectStore};
use mdlc_core::contract;
use mdlc_core::ports::{
    CreateModelRequest, ObjectStore, RegistryRead, RegistryWrite, SageMakerApi,
};
use mdlc_core::registry::VersionStatus;
use mdlc_core::{PortError, S3Uri};

/// An HTTP client that lets one request at a time reach the server.
///
/// moto's server runs requests on threads without a lock around TransactWriteItems, and on a
/// cancelled transaction it restores a copy of the whole table taken when that transaction
/// began, erasing writes committed by other threads in between. DynamoDB serialises
/// transactions; sending moto one request at a time gives it that property. The callers stay
/// concurrent: registrations still interleave their reads and transactions and lose races.
#[derive(Debug, Clone)]
struct OneAtATime {
    inner: SharedHttpClient,
    gate: Arc<tokio::sync::Semaphore>,
}

#[derive(Debug)]
struct OneAtATimeConnector {
    inner: SharedHttpConnector,
    gate: Arc<tokio::sync::Semaphore>,
}

impl HttpClient for OneAtATime {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(OneAtATimeConnector {
            inner: self.inner.http_connector(settings, components),
            gate: self.gate.clone(),
        })
    }
}

impl HttpConnector for OneAtATimeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let gate = self.gate.clone();
        HttpConnectorFuture::new(async move {
            let _permit = gate
                .acquire_owned()
                .await
                .map_err(|e| ConnectorError::other(Box::new(e), None))?;
            inner.call(request).await
        })
    }
}

/// The adapters pointed at moto, with static test credentials; the table is `table`.
async fn adapters(endpoint: &str, table: &str) -> AwsAdapters {
    let loaded = test_sdk_loader().load().await;
    let http = mdlc_aws::https_client();
    let sdk = loaded
        .to_builder()
        .http_client(SharedHttpClient::new(OneAtATime {
            inner: http,
            gate: Arc::new(tokio::sync::Semaphore::new(1)),
        }))
        .build();
    let mut config = AwsConfig::new(table);
    config.region = Some("us-east-1".into());
    config.endpoint_url = Some(endpoint.to_string());
    config.s3_force_path_style = true;
    // 100 contenders on one model: give each room to lose many races.
    config.register_max_attempts = 400;
    let mut adapters = AwsAdapters::from_sdk_config(&sdk, &config);
    // Operators are identified by STS, as the CLI does.
    let registry = adapters
        .registry
        .as_ref()
        .clone()
        .with_caller_identity(mdlc_aws::sts_client(&sdk, &config));
    adapters.registry = Arc::new(registry);
    adapters
}

/// A fresh registry table (pk/sk strings, on demand) and the adapters using it.
async fn with_table(endpoint: &str) -> AwsAdapters {
    let table = unique("mdlc-registry");
    let adapters = adapters(endpoint, &table).await;
    create_registry_table(adapters.registry.client(), &table, "on moto").await;
    adapters
}

fn raw_key(model: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(model.to_string())),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

async fn raw_item(
    registry: &DynamoDbRegistry,
    model: &str,
    sk: &str,
) -> Option<HashMap<String, AttributeValue>> {
    registry
        .client()
        .get_item()
        .table_name(registry.table_name())
        .set_key(Some(raw_key(model, sk)))
        .consistent_read(true)
        .send()
        .await
        .expect("raw GetItem")
        .item
}

// ---------------------------------------------------------------- DynamoDB registry

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn registry_passes_the_shared_contract_on_moto() {
    let endpoint = moto_endpoint();
    let adapters = with_table(&endpoint).await;
    contract::run_all(adapters.registry.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn registry_operations_never_lose_a_change_on_moto() {
    let endpoint = moto_endpoint();
    let adapters = with_table(&endpoint).await;
    contract::concurrent_operations_never_lose_a_change(adapters.registry.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn an_operation_records_the_sts_caller_in_the_documented_items() {
    use mdlc_core::registry_ops::Action;
    let endpoint = moto_endpoint();
    let adapters = with_table(&endpoint).await;
    let registry = adapters.registry.as_ref();
    let sdk = test_sdk_loader().endpoint_url(&endpoint).load().await;
    let arn = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity")
        .arn
        .expect("an ARN");
    assert_eq!(registry.caller().await.expect("caller"), arn);

    let model = contract::unique_model_name("ops-layout");
    registry
        .register_as(
            contract::sample_version(&model, "e1"),
            VersionStatus::PendingApproval,
        )
        .await
        .expect("register_as");
    let changes = registry
        .operate(contract::operation(&model, 1, Action::Approve, "reviewed"))
        .await
        .expect("approve");
    assert_eq!(changes[0].actor, arn, "the actor is the caller's STS ARN");
    let version = raw_item(registry, &model, "V#0000000001")
        .await
        .expect("version item");
    assert_eq!(
        version.get("status"),
        Some(&AttributeValue::S("Approved".into()))
    );
    let revision = raw_item(registry, &model, "REVISION")
        .await
        .expect("revision item");
    assert_eq!(
        revision.get("revision"),
        Some(&AttributeValue::N("1".into()))
    );
    assert_eq!(revision.get("actor"), Some(&AttributeValue::S(arn.clone())));
    let history = raw_item(registry, &model, "H#0000000001#0000000001")
        .await
        .expect("history item");
    for (name, value) in [
        ("action", "Approve"),
        ("from", "PendingApproval"),
        ("to", "Approved"),
        ("reason", "reviewed"),
        ("at", "2024-06-03T09:30:00.000Z"),
    ] {
        assert_eq!(
            history.get(name),
            Some(&AttributeValue::S(value.into())),
            "{name}"
        );
    }
    assert_eq!(history.get("actor"), Some(&AttributeValue::S(arn)));
    assert!(
        !version.contains_key("history"),
        "the history is kept in items of its own, not on the version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn registration_writes_the_documented_items_in_one_transaction() {
    let endpoint = moto_endpoint();
    let adapters = with_table(&endpoint).await;
    let registry = adapters.registry.as_ref();
    let model = contract::unique_model_name("layout");
    let new = contract::sample_version(&model, "exec-layout");

    let registration = registry.register(new.clone()).await.expect("register");

    assert_eq!(registration.version.version, 1);
    let counter = raw_item(registry, &model, "COUNTER")
        .await
        .expect("counter item");
    assert_eq!(
        counter.get("lastVersion"),
        Some(&AttributeValue::N("1".into()))
    );
    let marker = raw_item(registry, &model, &format!("X#{}", new.execution_arn))
        .await
        .expect("execution marker item");
    assert_eq!(marker.get("version"), Some(&AttributeValue::N("1".into())));
    let version = raw_item(registry, &model, "V#0000000001")
        .await
        .expect("version item");
    assert_eq!(
        version.get("status"),
        Some(&AttributeValue::S("Registered".into()))
    );
    assert_eq!(
        version.get("objectiveValue"),
        Some(&AttributeValue::N("0.125".into()))
    );
    assert_eq!(
        version.get("executionArn"),
        Some(&AttributeValue::S(new.execution_arn.clone()))
    );
    match version.get("hyperparameters") {
        Some(AttributeValue::M(map)) => {
            assert_eq!(map.get("eta"), Some(&AttributeValue::S("0.2".into())))
        }
        other => panic!("hyperparameters must be a map, got {other:?}"),
    }
    assert_eq!(
        version.get("profileUri").cloned(),
        new.profile_uri.clone().map(AttributeValue::S),
        "the data profile is part of the lineage"
    );

    // An evaluation's drift is a native map (features a list of maps).
    let mut evaluation = mdlc_core::registry::EvaluationRecord {
        model_name: model.clone(),
        version: 1,
        evaluated_at: "2024-06-02T00:00:00.000Z".into(),
        execution_arn: "arn:aws:states:us-east-1:000000000000:execution:evaluation:e1".into(),
        data_date: "2024-06-02".into(),
        metrics: std::collections::BTreeMap::from([("rmse".to_string(), 0.5)]),
        retrain: None,
        reason: None,
        drift: Some(contract::sample_drift()),
    };
    registry
        .put_evaluation(evaluation.clone())
        .await
        .expect("put_evaluation");
    let item = raw_item(
        registry,
        &model,
        &mdlc_core::registry::evaluation_sort_key(
            &evaluation.evaluated_at,
            &evaluation.execution_arn,
        ),
    )
    .await
    .expect("evaluation item");
    match item.get("drift") {
        Some(AttributeValue::M(drift)) => {
            assert_eq!(
                drift.get("level"),
                Some(&AttributeValue::S("significant".into()))
            );
            assert!(matches!(drift.get("features"), Some(AttributeValue::L(f)) if f.len() == 2));
        }
        other => panic!("drift must be a map, got {other:?}"),
    }
    let listed = registry
        .list_evaluations(&model, None)
        .await
        .expect("list_evaluations");
    assert_eq!(listed, vec![evaluation.clone()]);
    evaluation.drift = None;
    assert_ne!(listed, vec![evaluation]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn a_malformed_item_reads_as_corrupt_naming_the_attribute() {
    let endpoint = moto_endpoint();
    let adapters = with_table(&endpoint).await;
    let registry = adapters.registry.as_ref();
    let model = contract::unique_model_name("corrupt");
    registry
        .register(contract::sample_version(&model, "e1"))
        .await
        .expect("register");
    registry
        .client()
        .update_item()
        .table_name(registry.table_name())
        .set_key(Some(raw_key(&model, "V#0000000001")))
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", AttributeValue::S("Deleted".into()))
        .send()
        .await
        .expect("raw UpdateItem");

    let err = registry.get_version(&model, 1).await.unwrap_err();

    match err {
        PortError::Corrupt { message } => {
            assert!(message.contains("\"status\""), "{message}");
            assert!(message.contains("Deleted"), "{message}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn a_missing_table_is_not_found() {
    let endpoint = moto_endpoint();
    let adapters = adapters(&endpoint, &unique("no-such-table")).await;

    let read = adapters.registry.get_version("m", 1).await.unwrap_err();
    let write = adapters
        .registry
        .register(contract::sample_version("m", "e"))
        .await
        .unwrap_err();

    assert!(matches!(read, PortError::NotFound { .. }), "{read:?}");
    assert!(matches!(write, PortError::NotFound { .. }), "{write:?}");
}

// ---------------------------------------------------------------- S3

async fn with_bucket(endpoint: &str) -> (AwsAdapters, String) {
    let adapters = adapters(endpoint, "unused-table").await;
    let bucket = unique("mdlc-wire");
    adapters
        .store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket {bucket} on moto failed: {e:?}"));
    (adapters, bucket)
}

fn uri(bucket: &str, key: &str) -> S3Uri {
    S3Uri::new(bucket, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn s3_put_get_exists_and_not_found() {
    let endpoint = moto_endpoint();
    let (adapters, bucket) = with_bucket(&endpoint).await;
    let store = adapters.store.as_ref();
    let object = uri(&bucket, "data/2024-06-01/train.csv");
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();

    store.put(&object, body.clone()).await.expect("put");

    assert_eq!(store.get(&object).await.expect("get"), body);
    assert!(store.exists(&object).await.expect("exists"));
    store
        .put(&object, b"replaced".to_vec())
        .await
        .expect("put again");
    assert_eq!(store.get(&object).await.expect("get"), b"replaced");

    let missing = uri(&bucket, "data/2024-06-01/nothing.csv");
    assert!(
        !store
            .exists(&missing)
            .await
            .expect("exists of a missing key")
    );
    match store.get(&missing).await {
        Err(PortError::NotFound { what }) => assert!(what.contains("nothing.csv"), "{what}"),
        other => panic!("get of a missing key must be NotFound, got {other:?}"),
    }
    let no_bucket = uri(&unique("no-such-bucket"), "k");
    match store.get(&no_bucket).await {
        Err(PortError::NotFound { .. }) => {}
        other => panic!("get from a missing bucket must be NotFound, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn s3_get_range_reads_only_the_range_short_at_the_end_and_empty_past_it() {
    let endpoint = moto_endpoint();
    let (adapters, bucket) = with_bucket(&endpoint).await;
    let store = adapters.store.as_ref();
    let object = uri(&bucket, "eval/part-0.csv");
    let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    store.put(&object, body.clone()).await.expect("put");

    assert_eq!(store.get_range(&object, 0, 100).await.unwrap(), body[..100]);
    assert_eq!(
        store.get_range(&object, 4_321, 1_000).await.unwrap(),
        body[4_321..5_321]
    );
    // Fewer bytes at the end, none from the end on (S3 answers 416 InvalidRange there).
    assert_eq!(
        store.get_range(&object, 9_990, 100).await.unwrap(),
        body[9_990..]
    );
    assert!(
        store
            .get_range(&object, 10_000, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .get_range(&object, 50_000, 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.get_range(&object, 3, 0).await.unwrap().is_empty());
    let missing = uri(&bucket, "eval/none.csv");
    for len in [0, 10] {
        match store.get_range(&missing, 0, len).await {
            Err(PortError::NotFound { .. }) => {}
            other => panic!("a range of a missing key must be NotFound, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn s3_list_pages_through_every_key_in_order() {
    let endpoint = moto_endpoint();
    let (adapters, bucket) = with_bucket(&endpoint).await;
    let store = S3ObjectStore::new(adapters.store.client().clone()).with_list_page_size(7);
    let mut expected = Vec::new();
    for i in 0..25u32 {
        let key = format!("runs/r-{i:03}.out");
        store
            .put(&uri(&bucket, &key), vec![b'x'; i as usize])
            .await
            .expect("put");
        expected.push((key, u64::from(i)));
    }
    store
        .put(&uri(&bucket, "other/x"), b"no".to_vec())
        .await
        .expect("put");
    store
        .put(&uri(&bucket, "runs-not-a-child"), b"no".to_vec())
        .await
        .expect("put");

    let listed = store.list(&uri(&bucket, "runs/")).await.expect("list");

    let got: Vec<(String, u64)> = listed
        .iter()
        .map(|o| {
            assert_eq!(o.uri.bucket, bucket);
            (o.uri.key.clone(), o.size)
        })
        .collect();
    assert_eq!(got, expected);
    let everything = store.list(&uri(&bucket, "")).await.expect("list all");
    assert_eq!(everything.len(), 27);
    assert!(
        store
            .list(&uri(&bucket, "nothing/"))
            .await
            .expect("list empty")
            .is_empty()
    );
}

// ---------------------------------------------------------------- SageMaker

const ROLE: &str = "arn:aws:iam::123456789012:role/mdlc-sagemaker";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn sagemaker_training_job_and_model_calls() {
    let endpoint = moto_endpoint();
    let adapters = adapters(&endpoint, "unused-table").await;
    let sm = adapters.sagemaker.as_ref();
    let job = unique("job");
    let image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

    match sm.describe_training_job(&job).await {
        Err(PortError::NotFound { what }) => assert!(what.contains(&job), "{what}"),
        other => panic!("describe of a missing job must be NotFound, got {other:?}"),
    }

    sm.client()
        .create_training_job()
        .training_job_name(&job)
        .algorithm_specification(
            AlgorithmSpecification::builder()
                .training_image(image)
                .training_input_mode(TrainingInputMode::File)
                .build(),
        )
        .role_arn(ROLE)
        .output_data_config(
            OutputDataConfig::builder()
                .s3_output_path("s3://mdlc-artifacts/training")
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
        .hyper_parameters("eta", "0.2")
        .hyper_parameters("num_round", "50")
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTrainingJob on moto failed: {e:?}"));

    let info = sm.describe_training_job(&job).await.expect("describe job");
    assert_eq!(info.name, job);
    assert_eq!(info.status, "Completed");
    assert_eq!(info.image.as_deref(), Some(image));
    assert_eq!(
        info.model_artifacts,
        Some(format!(
            "s3://mdlc-artifacts/training/{job}/output/model.tar.gz"
        ))
    );
    assert_eq!(
        info.hyperparameters,
        BTreeMap::from([
            ("eta".to_string(), "0.2".to_string()),
            ("num_round".to_string(), "50".to_string())
        ])
    );
    assert!(
        info.final_metrics.values().all(|v| v.is_finite()),
        "{:?}",
        info.final_metrics
    );

    let model_name = unique("model");
    assert_eq!(
        sm.describe_model(&model_name).await.expect("describe"),
        None
    );
    let request = CreateModelRequest {
        model_name: model_name.clone(),
        image: image.to_string(),
        model_data_url: info.model_artifacts.clone().expect("artifacts"),
        execution_role_arn: ROLE.to_string(),
        environment: BTreeMap::from([("SAGEMAKER_PROGRAM".to_string(), "serve".to_string())]),
        vpc_config: None,
    };
    let arn = sm.create_model(&request).await.expect("create model");
    assert!(
        arn.starts_with("arn:aws:sagemaker:") && arn.ends_with(&format!("model/{model_name}")),
        "{arn}"
    );
    let described = sm
        .describe_model(&model_name)
        .await
        .expect("describe model")
        .expect("the created model exists");
    assert_eq!(described, (request.model_data_url.clone(), arn));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_unavailable() {
    // No server needed: a closed loopback port refuses the connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let adapters = adapters(&format!("http://127.0.0.1:{port}"), "t-unreachable").await;

    let registry_err = adapters.registry.get_version("m", 1).await.unwrap_err();
    let store_err = adapters
        .store
        .get(&S3Uri::new("bucket", "key"))
        .await
        .unwrap_err();
    let sm_err = adapters.sagemaker.describe_model("m").await.unwrap_err();

    for err in [registry_err, store_err, sm_err] {
        assert!(matches!(err, PortError::Unavailable { .. }), "{err:?}");
        assert!(err.is_retryable());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn concurrent_registrations_of_distinct_models_do_not_interfere() {
    let endpoint = moto_endpoint();
    let adapters = with_table(&endpoint).await;
    let registry: Arc<DynamoDbRegistry> = adapters.registry.clone();
    let models: Vec<String> = (0..3)
        .map(|i| contract::unique_model_name(&format!("multi{i}")))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for model in &models {
        for e in 0..8 {
            let registry = registry.clone();
            let new = contract::sample_version(model, &format!("exec-{e}"));
            tasks.spawn(async move { registry.register(new).await });
        }
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("task").expect("register");
    }
    for model in &models {
        let versions: Vec<u64> = registry
            .list_versions(model)
            .await
            .expect("list")
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(versions, (1..=8).collect::<Vec<_>>(), "{model}");
        let latest = registry
            .latest_version(model, &VersionStatus::SERVABLE)
            .await
            .expect("latest");
        assert_eq!(latest.map(|v| v.version), Some(8));
    }
}
