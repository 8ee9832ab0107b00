//! register-model: writes a new registry version with its lineage, exactly once per execution
//! (the registry's transaction: counter bump, version put, execution marker).

use mdlc_core::input::Flow;
use mdlc_core::io::{RegisterModelInput, RegisterModelOutput, parse_event, to_value};
use mdlc_core::ports::{Clock, RegistryWrite};
use mdlc_core::registry::{NewVersion, VersionStatus, format_timestamp};
use mdlc_core::retrain::TrainingData;
use mdlc_core::{Dependencies, FnError, HandlerFailure, PortError};
use serde_json::Value;

pub async fn handle(
    input: RegisterModelInput,
    registry: &dyn RegistryWrite,
    clock: &dyn Clock,
) -> Result<RegisterModelOutput, FnError> {
    let plan = &input.plan;
    plan.require_flow(Flow::Training, "models are registered by the training flow")?;
    let model = input.model;
    let new = NewVersion {
        model_name: plan.input.model_name.clone(),
        sagemaker_model_name: model.model_name.clone(),
        training_job_name: model.training_job_name,
        tuning_job_name: model.tuning_job_name,
        model_data_url: model.model_data_url,
        image: model.image,
        hyperparameters: model.hyperparameters,
        objective_metric: model.objective_metric,
        objective_value: model.objective_value,
        data_date: plan.input.data_date.clone(),
        created_at: format_timestamp(clock.now()),
        execution_arn: plan.execution_arn.clone(),
        parent_version: plan.input.parent_version,
        reason: plan.input.reason.clone(),
        // Lineage: the data profile of the preprocessing step (the drift baseline).
        profile_uri: plan.preprocessing.as_ref().map(|p| p.profile.to_string()),
        // Lineage: the channels it was trained on (the processing outputs with preprocessing),
        // what a retrain of it trains on by default.
        training_data: Some(TrainingData {
            train: plan.input.data.train.clone(),
            validation: plan.input.data.validation.clone(),
        }),
    };
    // The approval gate: a gated version waits for an operator (registry operations).
    let status = if plan.input.approval_required {
        VersionStatus::PendingApproval
    } else {
        VersionStatus::Registered
    };
    let registration = registry
        .register_as(new, status)
        .await
        .map_err(|e| match e {
            PortError::Conflict { message } => FnError::RegistryConflict {
                message: format!("registering {}: {message}", plan.input.model_name),
            },
            other => FnError::from_port("registry register", other),
        })?;
    let v = registration.version;
    tracing::info!(
        model = %v.record.model_name,
        version = v.version,
        created = registration.created,
        "model version registered"
    );
    Ok(RegisterModelOutput {
        model_name: v.record.model_name,
        version: v.version,
        status: v.status,
        sagemaker_model_name: v.record.sagemaker_model_name,
        created: registration.created,
        profile_uri: v.record.profile_uri,
    })
}

/// The uniform JSON entry point (Lambda bin and local runtime).
pub async fn invoke(event: Value, deps: &Dependencies) -> Result<Value, HandlerFailure> {
    let input: RegisterModelInput = parse_event(event, &["plan", "model"], &[])?;
    let out = handle(input, deps.registry_write.as_ref(), deps.clock.as_ref()).await?;
    Ok(to_value(&out)?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mdlc_core::io::{CreateModelOutput, RunPlan};
    use mdlc_core::memory::InMemoryWorld;
    use mdlc_core::ports::RegistryRead;
    use serde_json::json;

    use super::*;

    fn plan(world: &InMemoryWorld, flow: Flow, exec: &str, input: Value) -> RunPlan {
        initialize::plan_for(world, flow, exec, input).unwrap()
    }

    fn model(plan: &RunPlan) -> CreateModelOutput {
        CreateModelOutput {
            model_name: plan.names.model.clone(),
            model_arn: format!("arn:aws:sagemaker:us-east-1:0:model/{}", plan.names.model),
            model_data_url: format!("{}best/output/model.tar.gz", plan.locations.output_path),
            image: plan.input.algorithm.image.clone(),
            training_job_name: "best-job".into(),
            tuning_job_name: Some(plan.names.tuning_job.clone()),
            hyperparameters: BTreeMap::from([("eta".to_string(), "0.2".to_string())]),
            objective_metric: Some("validation:rmse".into()),
            objective_value: Some(0.42),
            created: true,
        }
    }

    #[tokio::test]
    async fn given_a_trained_model_then_version_1_is_written_with_full_lineage() {
        let world = InMemoryWorld::new();
        let p = plan(
            &world,
            Flow::Training,
            "e1",
            json!({"modelName": "churn", "reason": "drift", "parentVersion": 2}),
        );
        let out = invoke(
            json!({"plan": p, "model": model(&p)}),
            &world.dependencies(),
        )
        .await
        .unwrap();
        assert_eq!(out["version"], 1);
        assert_eq!(out["created"], true);
        let v = world
            .registry
            .get_version("churn", 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v.record.execution_arn, p.execution_arn);
        assert_eq!(v.record.parent_version, Some(2));
        assert_eq!(v.record.reason, "drift");
        assert_eq!(
            v.record.tuning_job_name.as_deref(),
            Some(p.names.tuning_job.as_str())
        );
        assert_eq!(v.record.objective_value, Some(0.42));
        assert_eq!(v.record.data_date, "2024-06-01");
        assert_eq!(v.record.created_at, "2024-06-01T12:00:00.000Z");
        assert_eq!(v.record.profile_uri, None, "no preprocessing, no profile");
    }

    #[tokio::test]
    async fn given_a_plan_with_preprocessing_then_the_version_records_its_data_profile() {
        let world = InMemoryWorld::new();
        let p = plan(
            &world,
            Flow::Training,
            "e1",
            json!({"modelName": "churn", "preprocessing": {"raw": "s3://raw-data/churn.csv"}}),
        );
        let profile = p.preprocessing.as_ref().unwrap().profile.to_string();
        invoke(
            json!({"plan": p, "model": model(&p)}),
            &world.dependencies(),
        )
        .await
        .unwrap();
        let v = world
            .registry
            .get_version("churn", 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v.record.profile_uri, Some(profile));
        assert!(
            v.record
                .profile_uri
                .as_deref()
                .is_some_and(|u| u.ends_with("/preprocessing/profile/profile.json"))
        );
    }

    #[tokio::test]
    async fn given_a_retried_registration_then_the_same_version_is_returned() {
        let world = InMemoryWorld::new();
        let p = plan(&world, Flow::Training, "e1", json!({"modelName": "churn"}));
        let event = json!({"plan": p, "model": model(&p)});
        let first = invoke(event.clone(), &world.dependencies()).await.unwrap();
        let second = invoke(event, &world.dependencies()).await.unwrap();
        assert_eq!(first["version"], second["version"]);
        assert_eq!(second["created"], false);
        let p2 = plan(&world, Flow::Training, "e2", json!({"modelName": "churn"}));
        let third = invoke(
            json!({"plan": p2, "model": model(&p2)}),
            &world.dependencies(),
        )
        .await
        .unwrap();
        assert_eq!(third["version"], 2);
        assert_eq!(
            world.registry.list_versions("churn").await.unwrap().len(),
            2
        );
    }

    #[tokio::test]
    async fn given_the_approval_gate_then_the_new_version_is_pending_approval() {
        let world = InMemoryWorld::new();
        let p = plan(
            &world,
            Flow::Training,
            "e1",
            json!({"modelName": "churn", "approvalRequired": true}),
        );
        let out = invoke(
            json!({"plan": p, "model": model(&p)}),
            &world.dependencies(),
        )
        .await
        .unwrap();
        assert_eq!(out["status"], "PendingApproval");
        let stored = world
            .registry
            .get_version("churn", 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, VersionStatus::PendingApproval);
        let ungated = plan(&world, Flow::Training, "e2", json!({"modelName": "churn"}));
        let out = invoke(
            json!({"plan": ungated, "model": model(&ungated)}),
            &world.dependencies(),
        )
        .await
        .unwrap();
        assert_eq!(out["status"], "Registered", "without the gate: Registered");
    }

    #[tokio::test]
    async fn a_registration_publishes_model_version_registered_with_its_status() {
        let world = InMemoryWorld::new();
        let gated = plan(
            &world,
            Flow::Training,
            "e1",
            json!({"modelName": "churn", "approvalRequired": true}),
        );
        invoke(
            json!({"plan": gated, "model": model(&gated)}),
            &world.dependencies(),
        )
        .await
        .unwrap();
        let published = world.events.published();
        assert_eq!(world.events.detail_types(), ["Model Version Registered"]);
        let e = &published[0];
        assert_eq!(e.source, "mdlc.registry");
        assert_eq!(e.detail["modelName"], "churn");
        assert_eq!(e.detail["version"], 1);
        assert_eq!(e.detail["status"], "PendingApproval");
        assert_eq!(e.detail["executionArn"], gated.execution_arn.as_str());
        assert_eq!(e.resources, [gated.execution_arn.as_str()]);
        // A bus that cannot be reached: a retryable failure (the state machine retries it).
        world
            .events
            .fail_next(PortError::unavailable("PutEvents: InternalFailure"));
        let next = plan(&world, Flow::Training, "e2", json!({"modelName": "churn"}));
        let f = invoke(
            json!({"plan": next, "model": model(&next)}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        f.assert_is("DependencyUnavailable", "InternalFailure");
    }

    #[tokio::test]
    async fn given_registry_failures_then_stable_errors() {
        let world = InMemoryWorld::new();
        let p = plan(&world, Flow::Training, "e1", json!({"modelName": "churn"}));
        world
            .registry
            .fail_next(PortError::unavailable("throttled"));
        let f = invoke(
            json!({"plan": p, "model": model(&p)}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        assert_eq!(f.error_type, "DependencyUnavailable");
        world.registry.fail_next(PortError::Conflict {
            message: "lost 60 races".into(),
        });
        let f = invoke(
            json!({"plan": p, "model": model(&p)}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        assert_eq!(f.error_type, "RegistryConflict");
        assert!(
            world
                .registry
                .list_versions("churn")
                .await
                .unwrap()
                .is_empty(),
            "nothing half-written"
        );
    }

    #[tokio::test]
    async fn given_bad_events_then_invalid_input() {
        let world = InMemoryWorld::new();
        let f = invoke(json!({"plan": 1}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("InvalidInput", "/model: is required");
        let p = plan(
            &world,
            Flow::Evaluation,
            "e1",
            json!({"modelName": "churn"}),
        );
        let f = invoke(
            json!({"plan": p, "model": model(&p)}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        f.assert_mentions("/plan/flow");
        let p = plan(&world, Flow::Training, "e1", json!({"modelName": "churn"}));
        let mut m = serde_json::to_value(model(&p)).unwrap();
        m["objectiveValue"] = json!("high");
        let f = invoke(json!({"plan": p, "model": m}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_mentions("/model/objectiveValue");
    }
}
