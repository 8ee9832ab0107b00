//! The project's functions as in-process handlers (the same `invoke` entry points the Lambda
//! binaries call).

use std::collections::BTreeMap;
use std::sync::Arc;

use track_experiment::TrackDeps;

use crate::invoker::{HandlerFn, handler_fn};

/// The function that needs more than [`mdlc_core::Dependencies`]: the training history (the
/// SageMaker emulator) and the default tracking server. [`crate::LocalCloud`] adds it with
/// [`track_experiment_handler`] unless the configuration brings its own.
pub const TRACK_EXPERIMENT: &str = "track-experiment";

/// The `track-experiment` function over `deps`.
pub fn track_experiment_handler(deps: TrackDeps) -> HandlerFn {
    let deps = Arc::new(deps);
    handler_fn(move |event, _| {
        let deps = deps.clone();
        async move { track_experiment::invoke(event, &deps).await }
    })
}

/// Function name → handler, for every project function but [`TRACK_EXPERIMENT`].
pub fn project_handlers() -> BTreeMap<String, HandlerFn> {
    let mut map: BTreeMap<String, HandlerFn> = BTreeMap::new();
    map.insert(
        "initialize".into(),
        handler_fn(|event, deps| async move { initialize::invoke(event, &deps).await }),
    );
    map.insert(
        "train".into(),
        handler_fn(|event, deps| async move { train::invoke(event, &deps).await }),
    );
    map.insert(
        "create-model".into(),
        handler_fn(|event, deps| async move { create_model::invoke(event, &deps).await }),
    );
    map.insert(
        "register-model".into(),
        handler_fn(|event, deps| async move { register_model::invoke(event, &deps).await }),
    );
    map.insert(
        "find-model".into(),
        handler_fn(|event, deps| async move { find_model::invoke(event, &deps).await }),
    );
    map.insert(
        "monitor-performance".into(),
        handler_fn(|event, deps| async move { monitor_performance::invoke(event, &deps).await }),
    );
    map.insert(
        "is-retraining-needed".into(),
        handler_fn(|event, deps| async move { is_retraining_needed::invoke(event, &deps).await }),
    );
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_project_function_has_a_handler() {
        let handlers = project_handlers();
        for (_, name) in crate::substitute::FUNCTIONS.iter() {
            assert!(
                handlers.contains_key(*name) || *name == TRACK_EXPERIMENT,
                "{name}"
            );
        }
        assert!(!handlers.contains_key(TRACK_EXPERIMENT));
    }

    #[tokio::test]
    async fn given_no_tracking_server_when_track_experiment_runs_then_disabled() {
        let history = Arc::new(mdlc_core::history::InMemoryTrainingHistory::new());
        let handler = track_experiment_handler(TrackDeps::new(history, None));
        let deps = Arc::new(mdlc_core::memory::InMemoryWorld::new().dependencies());
        let out = handler(
            serde_json::json!({"kind": "tuning", "modelName": "m", "tuningJobName": "t"}),
            deps,
        )
        .await
        .expect("disabled is no error");
        assert_eq!(out["tracking"]["status"], "disabled");
    }
}
