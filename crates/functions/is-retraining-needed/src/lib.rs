//! is-retraining-needed: applies the retrain policy to this evaluation and returns the decision
//! and its reason (plus, when retraining, the training flow's input and execution name).
//! Everything the loop guard counts — the version's baseline, this evaluation's metrics, earlier
//! retrain decisions — is read from the registry, never taken from the event. The decision is
//! written back on the evaluation item. When the window's retrains are used up while the model is
//! degraded, it fails with `RetrainLimitReached` (after recording the refusal).
//!
//! Every decision is published as `Evaluation Completed`, followed by `Retraining Started` when
//! it retrains (docs/events.md), after the decision is recorded.

use mdlc_core::events::{self, Decision, EvaluationCompleted, RetrainingStarted};
use mdlc_core::input::Flow;
use mdlc_core::io::{IsRetrainingNeededInput, RetrainDecision, parse_event, to_value};
use mdlc_core::policy::{self, Verdict};
use mdlc_core::ports::{Clock, EventPublisher, RegistryRead, RegistryWrite, required_version};
use mdlc_core::registry::format_timestamp;
use mdlc_core::retrain;
use mdlc_core::{Dependencies, FnError, HandlerFailure};
use serde_json::Value;

/// Longest reason carried into the training input (its schema's limit).
const MAX_REASON: usize = 256;

/// The ports the decision uses.
pub struct Ports<'a> {
    pub registry_read: &'a dyn RegistryRead,
    pub registry_write: &'a dyn RegistryWrite,
    pub events: &'a dyn EventPublisher,
    pub clock: &'a dyn Clock,
}

pub async fn handle(
    input: IsRetrainingNeededInput,
    ports: Ports<'_>,
) -> Result<RetrainDecision, FnError> {
    let Ports {
        registry_read,
        registry_write,
        events: publisher,
        clock,
    } = ports;
    let plan = &input.plan;
    plan.require_flow(
        Flow::Evaluation,
        "retraining is decided by the evaluation flow",
    )?;
    let model = &plan.input.model_name;
    let version_number = input.model.version;
    if input.model.record.model_name != *model {
        return Err(FnError::invalid(
            "/model/modelName",
            format!("must be {model:?}"),
        ));
    }
    if input.retrain_data.version != version_number {
        return Err(FnError::invalid(
            "/retrainData/version",
            format!("must be the evaluated version {version_number}"),
        ));
    }
    if input.evaluation.model_name != *model || input.evaluation.version != version_number {
        return Err(FnError::invalid(
            "/evaluation",
            format!("must be the evaluation of {model} version {version_number}"),
        ));
    }
    let version = required_version(
        registry_read,
        model,
        version_number,
        "the evaluated version",
    )
    .await?;
    let now = clock.now();
    let since = format_timestamp(policy::history_start(&plan.input.monitoring, now));
    let mut history = registry_read
        .list_evaluations(model, Some(&since))
        .await
        .map_err(|e| FnError::from_port("registry list_evaluations", e))?;
    if !history.iter().any(|e| {
        e.execution_arn == plan.execution_arn && e.evaluated_at == input.evaluation.evaluated_at
    }) {
        // Older than the window: look it up in the whole history.
        history = registry_read
            .list_evaluations(model, None)
            .await
            .map_err(|e| FnError::from_port("registry list_evaluations", e))?;
    }
    let Some(mut current) = history
        .iter()
        .find(|e| {
            e.execution_arn == plan.execution_arn && e.evaluated_at == input.evaluation.evaluated_at
        })
        .cloned()
    else {
        return Err(FnError::invalid(
            "/evaluation/evaluatedAt",
            format!(
                "no evaluation of {model} recorded at {} by this execution",
                input.evaluation.evaluated_at
            ),
        ));
    };
    let verdict = policy::decide(
        &plan.input.monitoring,
        &current.metrics,
        &version,
        &history,
        &plan.execution_arn,
        now,
    );
    current.retrain = Some(verdict.retrain());
    current.reason = Some(verdict.reason().to_string());
    registry_write
        .put_evaluation(current.clone())
        .await
        .map_err(|e| FnError::from_port("registry put_evaluation", e))?;
    tracing::info!(model = %model, version = version_number, retrain = verdict.retrain(), reason = %verdict.reason(), "retrain decision");
    let published = decision_events(&current, &verdict, &plan.names.retrain_execution, now);
    publisher
        .publish(&published)
        .await
        .map_err(|e| FnError::from_port("events publish", e))?;
    match verdict {
        Verdict::LimitReached { retrains, .. } => Err(FnError::RetrainLimitReached {
            model: model.clone(),
            retrains,
            max: plan.input.monitoring.max_retrains_per_window,
            window_seconds: plan.input.monitoring.window_seconds,
        }),
        Verdict::Retrain { reason } => {
            let mut training = retrain::training_input(&plan.input, &input.retrain_data);
            training.model_version = None;
            training.parent_version = Some(version_number);
            training.reason = reason.chars().take(MAX_REASON).collect();
            Ok(RetrainDecision {
                retrain: true,
                reason,
                training_input: Some(training),
                execution_name: Some(plan.names.retrain_execution.clone()),
            })
        }
        Verdict::Keep { reason } | Verdict::Cooldown { reason } => Ok(RetrainDecision {
            retrain: false,
            reason,
            training_input: None,
            execution_name: None,
        }),
    }
}

/// `Evaluation Completed` of the recorded evaluation, and `Retraining Started` when it retrains.
fn decision_events(
    evaluation: &mdlc_core::registry::EvaluationRecord,
    verdict: &Verdict,
    retrain_execution: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<events::Event> {
    let time = format_timestamp(now);
    let decision = match verdict {
        Verdict::Retrain { .. } => Decision::Retrain,
        Verdict::Keep { .. } => Decision::Keep,
        Verdict::Cooldown { .. } => Decision::Cooldown,
        Verdict::LimitReached { .. } => Decision::LimitReached,
    };
    let completed = EvaluationCompleted {
        model_name: evaluation.model_name.clone(),
        version: evaluation.version,
        execution_arn: evaluation.execution_arn.clone(),
        evaluated_at: evaluation.evaluated_at.clone(),
        data_date: evaluation.data_date.clone(),
        metrics: evaluation.metrics.clone(),
        decision,
        retrain: verdict.retrain(),
        reason: verdict.reason().to_string(),
    };
    let mut out = vec![events::evaluation_completed(&completed, &time)];
    if verdict.retrain() {
        out.push(events::retraining_started(
            &RetrainingStarted {
                model_name: evaluation.model_name.clone(),
                version: evaluation.version,
                execution_arn: evaluation.execution_arn.clone(),
                training_execution_name: retrain_execution.to_string(),
                reason: verdict.reason().to_string(),
            },
            &time,
        ));
    }
    out
}

/// The uniform JSON entry point (Lambda bin and local runtime).
pub async fn invoke(event: Value, deps: &Dependencies) -> Result<Value, HandlerFailure> {
    let input: IsRetrainingNeededInput =
        parse_event(event, &["plan", "model", "evaluation", "retrainData"], &[])?;
    let ports = Ports {
        registry_read: deps.registry_read.as_ref(),
        registry_write: deps.registry_write.as_ref(),
        events: deps.events.as_ref(),
        clock: deps.clock.as_ref(),
    };
    let out = handle(input, ports).await?;
    Ok(to_value(&out)?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mdlc_core::PortError;
    use mdlc_core::contract::sample_version;
    use mdlc_core::io::{InitializeInput, MonitorPerformanceOutput, RunPlan};
    use mdlc_core::memory::InMemoryWorld;
    use mdlc_core::registry::{EvaluationRecord, ModelVersion};
    use serde_json::json;

    use super::*;

    fn plan(world: &InMemoryWorld, exec: &str) -> RunPlan {
        let input = json!({"modelName": "churn", "dataDate": "2024-06-01",
                           "monitoring": {"threshold": 1.0, "cooldownSeconds": 3600,
                                          "maxRetrainsPerWindow": 2, "windowSeconds": 86400}});
        initialize::plan_for(world, Flow::Evaluation, exec, input).unwrap()
    }

    /// Registers version 1 (baseline rmse 0.9) and returns it.
    async fn version(world: &InMemoryWorld) -> ModelVersion {
        let mut v = sample_version("churn", "train-1");
        v.objective_metric = Some("validation:rmse".into());
        v.objective_value = Some(0.9);
        v.parent_version = None;
        world.registry.register(v).await.unwrap().version
    }

    /// Records what monitor-performance would have recorded and returns its output.
    async fn evaluation(world: &InMemoryWorld, p: &RunPlan, rmse: f64) -> MonitorPerformanceOutput {
        let at = format_timestamp(world.clock.now());
        let metrics = BTreeMap::from([("rmse".to_string(), rmse)]);
        world
            .registry
            .put_evaluation(EvaluationRecord {
                model_name: "churn".into(),
                version: 1,
                evaluated_at: at.clone(),
                execution_arn: p.execution_arn.clone(),
                data_date: "2024-06-01".into(),
                metrics: metrics.clone(),
                retrain: None,
                reason: None,
                drift: None,
            })
            .await
            .unwrap();
        MonitorPerformanceOutput {
            model_name: "churn".into(),
            version: 1,
            metrics,
            rows: 10,
            evaluated_at: at,
            files: vec![],
            drift: None,
        }
    }

    /// The plan of one evaluation run, the registered model and its recorded evaluation.
    async fn run_parts(
        world: &InMemoryWorld,
        exec: &str,
        rmse: f64,
    ) -> (RunPlan, ModelVersion, MonitorPerformanceOutput) {
        let p = plan(world, exec);
        let model = world
            .registry
            .get_version("churn", 1)
            .await
            .unwrap()
            .unwrap();
        let e = evaluation(world, &p, rmse).await;
        (p, model, e)
    }

    async fn call(
        world: &InMemoryWorld,
        p: &RunPlan,
        model: &ModelVersion,
        e: &MonitorPerformanceOutput,
    ) -> Result<Value, HandlerFailure> {
        invoke(event(p, model, e), &world.dependencies()).await
    }

    /// The state's event: find-model resolved the retrain data of `model` for this plan.
    fn event(p: &RunPlan, model: &ModelVersion, e: &MonitorPerformanceOutput) -> Value {
        let retrain_data =
            mdlc_core::retrain::resolve(&p.input, p.retrain.as_ref().unwrap(), model).unwrap();
        json!({"plan": p, "model": model, "evaluation": e, "retrainData": retrain_data})
    }

    async fn decide(world: &InMemoryWorld, exec: &str, rmse: f64) -> Result<Value, HandlerFailure> {
        let (p, model, e) = run_parts(world, exec, rmse).await;
        call(world, &p, &model, &e).await
    }

    #[tokio::test]
    async fn given_good_metrics_then_no_retrain_and_decision_recorded() {
        let world = InMemoryWorld::new();
        version(&world).await;
        let out = decide(&world, "e1", 0.92).await.unwrap();
        assert_eq!(out["retrain"], false);
        assert!(
            out["reason"].as_str().unwrap().contains("acceptable"),
            "{out}"
        );
        assert!(out.get("trainingInput").is_none());
        let evals = world
            .registry
            .list_evaluations("churn", None)
            .await
            .unwrap();
        assert_eq!(evals[0].retrain, Some(false));
    }

    #[tokio::test]
    async fn given_degraded_model_then_retrain_with_training_input_and_lineage() {
        let world = InMemoryWorld::new();
        version(&world).await;
        let out = decide(&world, "e1", 1.4).await.unwrap();
        assert_eq!(out["retrain"], true, "{out}");
        let training = &out["trainingInput"];
        assert_eq!(training["parentVersion"], 1);
        assert_eq!(training["modelName"], "churn");
        // The rule: the input names no data, so the version's own training channels.
        assert_eq!(
            training["data"]["train"]["s3Uri"],
            "s3://mdlc-artifacts/models/churn/run/preprocessing/train/"
        );
        assert_eq!(
            training["data"]["validation"]["s3Uri"],
            "s3://mdlc-artifacts/models/churn/run/preprocessing/validation/"
        );
        assert!(training.get("modelVersion").is_none());
        assert!(
            training["reason"].as_str().unwrap().contains("threshold"),
            "{training}"
        );
        assert!(
            out["executionName"]
                .as_str()
                .unwrap()
                .starts_with("churn-retrain-20240601-")
        );
        // The training input is a valid training-flow input.
        let p = initialize::handle(
            InitializeInput {
                flow: Flow::Training,
                execution_arn: "arn:aws:states:us-east-1:0:execution:training:r1".into(),
                input: training.clone(),
            },
            &world.config,
            world.clock.as_ref(),
        )
        .unwrap();
        assert_eq!(p.input.parent_version, Some(1));
    }

    #[tokio::test]
    async fn given_a_retried_decision_then_it_is_the_same() {
        let world = InMemoryWorld::new();
        version(&world).await;
        let (p, model, e) = run_parts(&world, "e1", 1.4).await;
        let event = event(&p, &model, &e);
        let first = invoke(event.clone(), &world.dependencies()).await.unwrap();
        let second = invoke(event, &world.dependencies()).await.unwrap();
        assert_eq!(first, second);
    }

    #[tokio::test]
    async fn given_recent_retrain_then_cooldown_and_then_the_loop_guard_stops_retrains() {
        let world = InMemoryWorld::new();
        version(&world).await;
        assert_eq!(decide(&world, "e1", 1.4).await.unwrap()["retrain"], true);
        world.clock.advance(chrono::Duration::minutes(30));
        let out = decide(&world, "e2", 1.4).await.unwrap();
        assert_eq!(out["retrain"], false);
        assert!(
            out["reason"].as_str().unwrap().contains("cooldown"),
            "{out}"
        );
        world.clock.advance(chrono::Duration::hours(2));
        assert_eq!(decide(&world, "e3", 1.4).await.unwrap()["retrain"], true);
        world.clock.advance(chrono::Duration::hours(2));
        let f = decide(&world, "e4", 1.4).await.unwrap_err();
        f.assert_is("RetrainLimitReached", "2 retrain(s)");
        let evals = world
            .registry
            .list_evaluations("churn", None)
            .await
            .unwrap();
        assert_eq!(
            evals.last().unwrap().retrain,
            Some(false),
            "the refusal is recorded"
        );
        // A day later the window has moved on.
        world.clock.advance(chrono::Duration::hours(24));
        assert_eq!(decide(&world, "e5", 1.4).await.unwrap()["retrain"], true);
    }

    #[tokio::test]
    async fn every_decision_publishes_evaluation_completed_and_a_retrain_also_retraining_started() {
        let world = InMemoryWorld::new();
        version(&world).await;
        let decided: Vec<Value> = {
            let mut out = vec![decide(&world, "e0", 0.92).await.unwrap()];
            out.push(decide(&world, "e1", 1.4).await.unwrap());
            world.clock.advance(chrono::Duration::minutes(30));
            out.push(decide(&world, "e2", 1.4).await.unwrap());
            world.clock.advance(chrono::Duration::hours(2));
            out.push(decide(&world, "e3", 1.4).await.unwrap());
            world.clock.advance(chrono::Duration::hours(2));
            assert!(decide(&world, "e4", 1.4).await.is_err());
            out
        };
        let published = world.events.published();
        let kinds: Vec<(&str, String)> = published
            .iter()
            .map(|e| {
                let d = e.detail.get("decision").and_then(Value::as_str);
                (e.detail_type.as_str(), d.unwrap_or("-").to_string())
            })
            .collect();
        let expected = [
            ("Evaluation Completed", "Keep"),
            ("Evaluation Completed", "Retrain"),
            ("Retraining Started", "-"),
            ("Evaluation Completed", "Cooldown"),
            ("Evaluation Completed", "Retrain"),
            ("Retraining Started", "-"),
            ("Evaluation Completed", "LimitReached"),
        ];
        let expected: Vec<(&str, String)> =
            expected.iter().map(|(k, d)| (*k, d.to_string())).collect();
        assert_eq!(kinds, expected);
        assert!(published.iter().all(|e| e.source == "mdlc.pipeline"));
        let completed = &published[1];
        assert_eq!(completed.detail["modelName"], "churn");
        assert_eq!(completed.detail["version"], 1);
        assert_eq!(completed.detail["retrain"], true);
        assert_eq!(completed.detail["metrics"]["rmse"], 1.4);
        assert_eq!(completed.detail["reason"], decided[1]["reason"]);
        assert_eq!(
            completed.resources,
            [completed.detail["executionArn"].as_str().unwrap()]
        );
        let started = &published[2];
        assert_eq!(
            started.detail["trainingExecutionName"],
            decided[1]["executionName"]
        );
        assert_eq!(
            started.detail["executionArn"],
            completed.detail["executionArn"]
        );
    }

    #[tokio::test]
    async fn given_the_bus_unavailable_then_dependency_unavailable_after_recording_the_decision() {
        let world = InMemoryWorld::new();
        version(&world).await;
        world
            .events
            .fail_next(PortError::unavailable("PutEvents: ThrottlingException"));
        let f = decide(&world, "e1", 1.4).await.unwrap_err();
        f.assert_is("DependencyUnavailable", "ThrottlingException");
        let evals = world
            .registry
            .list_evaluations("churn", None)
            .await
            .unwrap();
        assert_eq!(evals[0].retrain, Some(true), "recorded before publishing");
        assert!(world.events.published().is_empty());
    }

    #[tokio::test]
    async fn given_forged_metrics_in_the_event_then_the_registry_wins() {
        let world = InMemoryWorld::new();
        version(&world).await;
        let (p, model, mut e) = run_parts(&world, "e1", 1.4).await;
        e.metrics.insert("rmse".into(), 0.1);
        let out = call(&world, &p, &model, &e).await.unwrap();
        assert_eq!(out["retrain"], true, "the recorded rmse 1.4 decides");
        // An evaluation that was never recorded is refused.
        let mut e2 = e.clone();
        e2.evaluated_at = "2020-01-01T00:00:00.000Z".into();
        let f = call(&world, &p, &model, &e2).await.unwrap_err();
        f.assert_is("InvalidInput", "/evaluation/evaluatedAt");
    }

    #[tokio::test]
    async fn given_unknown_version_or_failures_then_stable_errors() {
        let world = InMemoryWorld::new();
        let p = plan(&world, "e1");
        let model = ModelVersion {
            version: 1,
            status: mdlc_core::registry::VersionStatus::Registered,
            record: sample_version("churn", "t"),
        };
        let e = evaluation(&world, &p, 1.0).await;
        let event = event(&p, &model, &e);
        let f = invoke(event.clone(), &world.dependencies())
            .await
            .unwrap_err();
        assert_eq!(f.error_type, "ModelNotFound");
        world.registry.fail_next(PortError::unavailable("5xx"));
        let f = invoke(event, &world.dependencies()).await.unwrap_err();
        assert_eq!(f.error_type, "DependencyUnavailable");
    }

    #[tokio::test]
    async fn given_bad_events_then_invalid_input() {
        let world = InMemoryWorld::new();
        let f = invoke(json!({"plan": {}, "model": {}}), &world.dependencies())
            .await
            .unwrap_err();
        for field in ["/evaluation", "/retrainData"] {
            f.assert_mentions(&format!("{field}: is required"));
        }
        version(&world).await;
        let (p, model, mut e) = run_parts(&world, "e1", 1.0).await;
        let mut other = event(&p, &model, &e);
        other["retrainData"]["version"] = json!(2);
        let f = invoke(other, &world.dependencies()).await.unwrap_err();
        f.assert_mentions("/retrainData/version");
        e.version = 9;
        let f = call(&world, &p, &model, &e).await.unwrap_err();
        f.assert_mentions("/evaluation: must be the evaluation");
    }
}
