//! find-model: the version to evaluate — the pinned `modelVersion` of the execution input, or the
//! latest version in status Registered/Approved (under the approval gate, `approvalRequired`:
//! the latest Approved one); `ModelNotFound` otherwise — and the data a
//! retrain of it would train on ([`mdlc_core::retrain`]), checked before the batch transform
//! starts: `RetrainDataMissing` names every S3 location without objects.

use mdlc_core::input::Flow;
use mdlc_core::io::{FindModelInput, FindModelOutput, parse_event, to_value};
use mdlc_core::ports::{ObjectStore, RegistryRead, found_version, required_version};
use mdlc_core::registry::{ModelVersion, VersionStatus};
use mdlc_core::retrain::{self, RetrainPlan, RetrainSource};
use mdlc_core::{Dependencies, FnError, HandlerFailure};
use serde_json::Value;

/// The version to evaluate.
async fn find_version(
    input: &FindModelInput,
    registry: &dyn RegistryRead,
) -> Result<ModelVersion, FnError> {
    let model = &input.plan.input.model_name;
    let found = match input.plan.input.model_version {
        Some(pinned) => required_version(registry, model, pinned, "the pinned version").await?,
        None => {
            let (statuses, wanted): (&[VersionStatus], &str) = if input.plan.input.approval_required
            {
                (
                    &[VersionStatus::Approved],
                    "Approved (the approval gate is on)",
                )
            } else {
                (&VersionStatus::SERVABLE, "Registered or Approved")
            };
            found_version(
                registry.latest_version(model, statuses).await,
                "registry latest_version",
                model,
                || format!("no version in status {wanted}"),
            )?
        }
    };
    tracing::info!(model = %model, version = found.version, status = found.status.as_str(), "model found");
    Ok(found)
}

pub async fn handle(
    input: FindModelInput,
    registry: &dyn RegistryRead,
    store: &dyn ObjectStore,
) -> Result<FindModelOutput, FnError> {
    input.plan.require_flow(
        Flow::Evaluation,
        "the version to evaluate is found by the evaluation flow",
    )?;
    let model = find_version(&input, registry).await?;
    // A plan without `retrain` (written before the rule) gets the rule's default.
    let plan = input.plan.retrain.clone().unwrap_or(RetrainPlan {
        source: RetrainSource::Version,
        labelled_batch: None,
    });
    let retrain_data = retrain::resolve_and_check(store, &input.plan.input, &plan, &model).await?;
    tracing::info!(model = %model.record.model_name, version = model.version, source = ?retrain_data.source, "retrain data checked");
    Ok(FindModelOutput {
        model,
        retrain_data,
    })
}

/// The uniform JSON entry point (Lambda bin and local runtime).
pub async fn invoke(event: Value, deps: &Dependencies) -> Result<Value, HandlerFailure> {
    let input: FindModelInput = parse_event(event, &["plan"], &[])?;
    let out = handle(input, deps.registry_read.as_ref(), deps.store.as_ref()).await?;
    Ok(to_value(&out)?)
}

#[cfg(test)]
mod tests {
    use mdlc_core::PortError;
    use mdlc_core::contract::sample_version;
    use mdlc_core::io::RunPlan;
    use mdlc_core::memory::InMemoryWorld;
    use mdlc_core::ports::RegistryWrite;
    use serde_json::json;

    use super::*;

    fn plan(world: &InMemoryWorld, input: Value) -> RunPlan {
        initialize::plan_for(world, mdlc_core::input::Flow::Evaluation, "e1", input).unwrap()
    }

    /// Registers `n` versions and stores their training data (the sample version's channels).
    async fn seed(world: &InMemoryWorld, n: u64) {
        for i in 0..n {
            world
                .registry
                .register(sample_version("churn", &format!("t{i}")))
                .await
                .unwrap();
        }
        for part in ["train", "validation"] {
            let uri =
                format!("s3://mdlc-artifacts/models/churn/run/preprocessing/{part}/{part}.csv");
            world
                .store
                .put(&uri.parse().unwrap(), b"1,2\n".to_vec())
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn given_the_version_data_then_it_is_the_checked_retrain_data() {
        let world = InMemoryWorld::new();
        seed(&world, 1).await;
        let p = plan(&world, json!({"modelName": "churn"}));
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        let data = &out["retrainData"];
        assert_eq!(data["source"], "version");
        assert_eq!(data["version"], 1);
        assert_eq!(
            data["train"]["s3Uri"],
            "s3://mdlc-artifacts/models/churn/run/preprocessing/train/"
        );
    }

    #[tokio::test]
    async fn given_missing_retrain_data_then_retrain_data_missing_names_it() {
        let world = InMemoryWorld::new();
        seed(&world, 1).await;
        // Named newer data that is not there.
        let p = plan(
            &world,
            json!({"modelName": "churn", "preprocessing": {"raw": "s3://mdlc-artifacts/datasets/churn/2024-06-08/raw/"}}),
        );
        let f = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap_err();
        assert_eq!(f.error_type, "RetrainDataMissing");
        assert!(
            f.message
                .contains("s3://mdlc-artifacts/datasets/churn/2024-06-08/raw/")
                && f.message.contains("evaluation input names"),
            "{}",
            f.message
        );
        // The version's data plus the batch: the ground truth is missing.
        let p = plan(&world, json!({"modelName": "churn", "preprocessing": {}}));
        let f = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap_err();
        assert_eq!(f.error_type, "RetrainDataMissing");
        assert!(
            f.message.contains("evaluation/labels/") && !f.message.contains("preprocessing/train/"),
            "{}",
            f.message
        );
    }

    #[tokio::test]
    async fn given_versions_when_not_pinned_then_latest_servable_is_returned() {
        let world = InMemoryWorld::new();
        seed(&world, 3).await;
        world
            .registry
            .set_status("churn", 3, VersionStatus::Rejected)
            .await
            .unwrap();
        let p = plan(&world, json!({"modelName": "churn"}));
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["model"]["version"], 2);
        assert_eq!(out["model"]["status"], "Registered");
        assert_eq!(out["model"]["sagemakerModelName"], "churn-sm");
        // The lineage monitor-performance needs for drift: the version's data profile.
        assert_eq!(
            out["model"]["profileUri"],
            "s3://mdlc-artifacts/models/churn/run/preprocessing/profile/profile.json"
        );
    }

    #[tokio::test]
    async fn given_the_approval_gate_then_the_latest_approved_version_is_evaluated() {
        use mdlc_core::registry_ops::Action;
        let world = InMemoryWorld::new();
        seed(&world, 3).await;
        let gated = json!({"modelName": "churn", "approvalRequired": true});
        let p = plan(&world, gated.clone());
        let f = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("ModelNotFound", "Approved (the approval gate is on)");
        world
            .registry
            .operate(mdlc_core::contract::operation(
                "churn",
                2,
                Action::Approve,
                "ok",
            ))
            .await
            .unwrap();
        let p = plan(&world, gated);
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(
            out["model"]["version"], 2,
            "the latest Approved, not the latest (3)"
        );
        let p = plan(&world, json!({"modelName": "churn"}));
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(
            out["model"]["version"], 3,
            "without the gate: the latest servable"
        );
    }

    #[tokio::test]
    async fn given_a_rollback_then_the_rolled_back_to_version_is_evaluated() {
        use mdlc_core::registry_ops::Action;
        let world = InMemoryWorld::new();
        seed(&world, 3).await;
        world
            .registry
            .operate(mdlc_core::contract::operation(
                "churn",
                1,
                Action::RollBack,
                "v2, v3 bad",
            ))
            .await
            .unwrap();
        let p = plan(&world, json!({"modelName": "churn"}));
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["model"]["version"], 1);
    }

    #[tokio::test]
    async fn given_pinned_version_then_that_version_is_returned_or_model_not_found() {
        let world = InMemoryWorld::new();
        seed(&world, 2).await;
        let p = plan(&world, json!({"modelName": "churn", "modelVersion": 1}));
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["model"]["version"], 1);
        let p = plan(&world, json!({"modelName": "churn", "modelVersion": 5}));
        let f = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("ModelNotFound", "pinned version 5");
    }

    #[tokio::test]
    async fn given_no_servable_version_then_model_not_found() {
        let world = InMemoryWorld::new();
        let p = plan(&world, json!({"modelName": "churn"}));
        let f = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap_err();
        assert_eq!(f.error_type, "ModelNotFound");
    }

    #[tokio::test]
    async fn given_throttled_registry_then_dependency_unavailable() {
        let world = InMemoryWorld::new();
        world
            .registry
            .fail_next(PortError::unavailable("ProvisionedThroughputExceeded"));
        let p = plan(&world, json!({"modelName": "churn"}));
        let f = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap_err();
        assert_eq!(f.error_type, "DependencyUnavailable");
    }

    #[tokio::test]
    async fn given_bad_events_then_invalid_input_names_the_field() {
        let world = InMemoryWorld::new();
        let f = invoke(json!({}), &world.dependencies()).await.unwrap_err();
        f.assert_is("InvalidInput", "/plan: is required");
        let f = invoke(
            json!({"plan": {"flow": "evaluation"}, "x": 1}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        f.assert_mentions("/x: unknown field");
        let f = invoke(
            json!({"plan": {"flow": "evaluation"}}),
            &world.dependencies(),
        )
        .await
        .unwrap_err();
        f.assert_mentions("/plan");
    }
}
