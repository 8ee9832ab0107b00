//! create-model: finds the best training job's artifacts (a tuning result carries no model path,
//! so DescribeTrainingJob gives it), checks they exist, and creates the SageMaker model.
//! Idempotent: when the model already exists with the same artifacts (a retry), that is success.

use std::collections::BTreeMap;

use mdlc_core::input::Flow;
use mdlc_core::io::{CreateModelInput, CreateModelOutput, parse_event, to_value};
use mdlc_core::ports::{CreateModelRequest, ObjectStore, SageMakerApi};
use mdlc_core::s3uri::S3Uri;
use mdlc_core::{Dependencies, FnError, FunctionConfig, HandlerFailure, PortError};
use serde_json::Value;

/// Hyperparameters SageMaker adds itself (kept out of the registry's lineage).
fn is_internal(name: &str) -> bool {
    name.starts_with('_') || name.starts_with("sagemaker_")
}

pub async fn handle(
    input: CreateModelInput,
    sagemaker: &dyn SageMakerApi,
    store: &dyn ObjectStore,
    config: &FunctionConfig,
) -> Result<CreateModelOutput, FnError> {
    let plan = &input.plan;
    plan.require_flow(Flow::Training, "models are created by the training flow")?;
    let job_name = input.training_job_name.trim();
    if job_name.is_empty() {
        return Err(FnError::invalid("/trainingJobName", "must not be empty"));
    }
    let job = sagemaker
        .describe_training_job(job_name)
        .await
        .map_err(|e| match e {
            PortError::NotFound { .. } => FnError::ModelArtifactsMissing {
                job: job_name.to_string(),
                detail: "no such training job".to_string(),
            },
            other => FnError::from_port("sagemaker DescribeTrainingJob", other),
        })?;
    if job.status != "Completed" {
        return Err(FnError::TrainingFailed {
            job: job_name.to_string(),
            reason: format!(
                "status {}{}",
                job.status,
                job.failure_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        });
    }
    let artifacts = job
        .model_artifacts
        .clone()
        .ok_or_else(|| FnError::ModelArtifactsMissing {
            job: job_name.to_string(),
            detail: "the job reports no ModelArtifacts.S3ModelArtifacts".to_string(),
        })?;
    let artifacts_uri: S3Uri = artifacts
        .parse()
        .map_err(|e| FnError::ModelArtifactsMissing {
            job: job_name.to_string(),
            detail: format!("{e}"),
        })?;
    let present = store
        .exists(&artifacts_uri)
        .await
        .map_err(|e| FnError::from_port("object store exists", e))?;
    if !present {
        return Err(FnError::ModelArtifactsMissing {
            job: job_name.to_string(),
            detail: format!("{artifacts} does not exist"),
        });
    }
    let image = job
        .image
        .clone()
        .unwrap_or_else(|| plan.input.algorithm.image.clone());
    let model_name = plan.names.model.clone();
    let request = CreateModelRequest {
        model_name: model_name.clone(),
        image: image.clone(),
        model_data_url: artifacts.clone(),
        execution_role_arn: config.sagemaker_role_arn.clone(),
        environment: BTreeMap::new(),
        // the batch transform runs the model's containers: in the execution's VPC, if any
        vpc_config: plan.input.vpc_config.clone(),
    };
    let existing = sagemaker
        .describe_model(&model_name)
        .await
        .map_err(|e| FnError::from_port("sagemaker DescribeModel", e))?;
    let (model_arn, created) = match existing {
        Some((url, arn)) => (
            check_same(&model_name, &url, &artifacts).map(|()| arn)?,
            false,
        ),
        None => match sagemaker.create_model(&request).await {
            Ok(arn) => (arn, true),
            Err(PortError::Conflict { .. }) => {
                // Created concurrently (a retry racing its first try): the same model is fine.
                let (url, arn) = sagemaker
                    .describe_model(&model_name)
                    .await
                    .map_err(|e| FnError::from_port("sagemaker DescribeModel", e))?
                    .ok_or_else(|| FnError::DependencyUnavailable {
                        message: format!(
                            "model {model_name} reported as existing but not found; retry"
                        ),
                    })?;
                check_same(&model_name, &url, &artifacts)?;
                (arn, false)
            }
            Err(e) => return Err(FnError::from_port("sagemaker CreateModel", e)),
        },
    };
    let objective_metric = plan.input.tuning.objective.metric.clone();
    let objective_value = job.final_metrics.get(&objective_metric).copied();
    tracing::info!(model = %model_name, job = %job_name, created, "sagemaker model ready");
    Ok(CreateModelOutput {
        model_name,
        model_arn,
        model_data_url: artifacts,
        image,
        training_job_name: job_name.to_string(),
        tuning_job_name: input.tuning_job_name.filter(|t| !t.trim().is_empty()),
        hyperparameters: job
            .hyperparameters
            .into_iter()
            .filter(|(k, _)| !is_internal(k))
            .collect(),
        objective_value,
        objective_metric: objective_value.map(|_| objective_metric),
        created,
    })
}

fn check_same(model: &str, existing_url: &str, artifacts: &str) -> Result<(), FnError> {
    if existing_url == artifacts {
        Ok(())
    } else {
        Err(FnError::DependencyRejected {
            message: format!(
                "model {model} already exists with other artifacts ({existing_url}, not {artifacts})"
            ),
        })
    }
}

/// The uniform JSON entry point (Lambda bin and local runtime).
pub async fn invoke(event: Value, deps: &Dependencies) -> Result<Value, HandlerFailure> {
    let input: CreateModelInput =
        parse_event(event, &["plan", "trainingJobName"], &["tuningJobName"])?;
    let out = handle(
        input,
        deps.sagemaker.as_ref(),
        deps.store.as_ref(),
        &deps.config,
    )
    .await?;
    Ok(to_value(&out)?)
}

#[cfg(test)]
mod tests {
    use mdlc_core::io::{InitializeInput, RunPlan};
    use mdlc_core::memory::InMemoryWorld;
    use mdlc_core::ports::TrainingJobInfo;
    use serde_json::json;

    use super::*;

    fn plan(world: &InMemoryWorld, flow: Flow) -> RunPlan {
        initialize::plan_for(world, flow, "e1", json!({"modelName": "churn"})).unwrap()
    }

    fn job(name: &str, status: &str, artifacts: Option<&str>) -> TrainingJobInfo {
        TrainingJobInfo {
            name: name.into(),
            status: status.into(),
            failure_reason: (status == "Failed").then(|| "AlgorithmError: bad eta".to_string()),
            model_artifacts: artifacts.map(str::to_string),
            image: Some(
                "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1".into(),
            ),
            hyperparameters: BTreeMap::from([
                ("eta".to_string(), "0.2".to_string()),
                (
                    "_tuning_objective_metric".to_string(),
                    "validation:rmse".to_string(),
                ),
            ]),
            final_metrics: BTreeMap::from([("validation:rmse".to_string(), 0.31)]),
        }
    }

    const ART: &str = "s3://mdlc-artifacts/models/churn/x/job-1/output/model.tar.gz";

    fn event(p: &RunPlan) -> Value {
        json!({"plan": p, "trainingJobName": "job-1", "tuningJobName": "tune-1"})
    }

    /// A world where job-1 completed and its model archive exists.
    fn world_with_completed_job() -> InMemoryWorld {
        let world = InMemoryWorld::new();
        world
            .sagemaker
            .insert_training_job(job("job-1", "Completed", Some(ART)));
        world.store.insert(ART, "tarball");
        world
    }

    async fn create(world: &InMemoryWorld, p: &RunPlan) -> Result<Value, HandlerFailure> {
        invoke(event(p), &world.dependencies()).await
    }

    #[tokio::test]
    async fn given_completed_job_then_model_is_created_with_lineage() {
        let world = world_with_completed_job();
        let p = plan(&world, Flow::Training);
        let out = create(&world, &p).await.unwrap();
        assert_eq!(out["modelName"], json!(p.names.model));
        assert_eq!(out["modelDataUrl"], ART);
        assert_eq!(out["created"], true);
        assert_eq!(out["objectiveMetric"], "validation:rmse");
        assert_eq!(out["objectiveValue"], 0.31);
        assert_eq!(out["tuningJobName"], "tune-1");
        assert_eq!(out["hyperparameters"], json!({"eta": "0.2"}));
        let models = world.sagemaker.models();
        let m = &models[&p.names.model];
        assert_eq!(m.execution_role_arn, world.config.sagemaker_role_arn);
    }

    #[tokio::test]
    async fn given_a_vpc_config_then_the_model_gets_it_and_without_one_none() {
        let world = world_with_completed_job();
        let vpc = json!({"subnets": ["subnet-0a1b2c"], "securityGroupIds": ["sg-0d1e2f"]});
        let in_vpc = initialize::handle(
            InitializeInput {
                flow: Flow::Training,
                execution_arn: "arn:aws:states:us-east-1:0:execution:training:e-vpc".into(),
                input: json!({"modelName": "churnvpc", "vpcConfig": vpc}),
            },
            &world.config,
            world.clock.as_ref(),
        )
        .unwrap();
        let plain = plan(&world, Flow::Training);

        create(&world, &in_vpc).await.unwrap();
        create(&world, &plain).await.unwrap();

        let models = world.sagemaker.models();
        let given = models[&in_vpc.names.model]
            .vpc_config
            .clone()
            .expect("the model's VpcConfig");
        assert_eq!(given.subnets, vec!["subnet-0a1b2c".to_string()]);
        assert_eq!(given.security_group_ids, vec!["sg-0d1e2f".to_string()]);
        assert_eq!(models[&plain.names.model].vpc_config, None);
    }

    #[tokio::test]
    async fn given_a_retry_after_success_then_the_existing_model_is_reused() {
        let world = world_with_completed_job();
        let p = plan(&world, Flow::Training);
        create(&world, &p).await.unwrap();
        let again = create(&world, &p).await.unwrap();
        assert_eq!(again["created"], false);
        assert_eq!(world.sagemaker.create_model_calls(), 1);
    }

    #[tokio::test]
    async fn given_failed_job_then_training_failed_with_reason() {
        let world = InMemoryWorld::new();
        world
            .sagemaker
            .insert_training_job(job("job-1", "Failed", None));
        let p = plan(&world, Flow::Training);
        let f = create(&world, &p).await.unwrap_err();
        f.assert_is("TrainingFailed", "AlgorithmError: bad eta");
    }

    #[tokio::test]
    async fn given_missing_artifacts_then_model_artifacts_missing() {
        let world = InMemoryWorld::new();
        let p = plan(&world, Flow::Training);
        let f = create(&world, &p).await.unwrap_err();
        assert_eq!(
            f.error_type, "ModelArtifactsMissing",
            "unknown job: {}",
            f.message
        );
        world
            .sagemaker
            .insert_training_job(job("job-1", "Completed", None));
        let f = create(&world, &p).await.unwrap_err();
        assert_eq!(f.error_type, "ModelArtifactsMissing");
        world
            .sagemaker
            .insert_training_job(job("job-1", "Completed", Some(ART)));
        let f = create(&world, &p).await.unwrap_err();
        f.assert_is("ModelArtifactsMissing", "does not exist");
        assert!(world.sagemaker.models().is_empty(), "no model created");
    }

    #[tokio::test]
    async fn given_existing_model_with_other_artifacts_then_rejected() {
        let world = world_with_completed_job();
        let p = plan(&world, Flow::Training);
        world
            .sagemaker
            .create_model(&CreateModelRequest {
                model_name: p.names.model.clone(),
                image: "img".into(),
                model_data_url: "s3://other/model.tar.gz".into(),
                execution_role_arn: "arn:aws:iam::0:role/r".into(),
                environment: BTreeMap::new(),
                vpc_config: None,
            })
            .await
            .unwrap();
        let f = create(&world, &p).await.unwrap_err();
        assert_eq!(f.error_type, "DependencyRejected");
    }

    #[tokio::test]
    async fn given_throttling_then_dependency_unavailable() {
        let world = InMemoryWorld::new();
        world
            .sagemaker
            .fail_next(PortError::unavailable("ThrottlingException"));
        let p = plan(&world, Flow::Training);
        let f = create(&world, &p).await.unwrap_err();
        assert_eq!(f.error_type, "DependencyUnavailable");
    }

    #[tokio::test]
    async fn given_bad_events_then_invalid_input() {
        let world = InMemoryWorld::new();
        let f = invoke(json!({"plan": {}}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("InvalidInput", "/trainingJobName: is required");
        let p = plan(&world, Flow::Training);
        let f = invoke(
            json!({"plan": p, "trainingJobName": " "}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        f.assert_mentions("/trainingJobName: must not be empty");
        let f = invoke(
            json!({"plan": p, "trainingJobName": 5}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        f.assert_mentions("/trainingJobName");
    }
}
