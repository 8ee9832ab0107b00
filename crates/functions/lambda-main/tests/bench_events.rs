//! The events `make bench` starts each function with (scripts/bench-lambda/events/) are valid
//! inputs of the handlers as they are now: a handler may answer with a dependency error (the
//! in-memory world holds none of the objects the events name), never with `InvalidInput`. An
//! event that goes stale with a change of a handler's input type fails here, not only in the
//! benchmark.

use mdlc_core::memory::InMemoryWorld;
use serde_json::Value;

fn event(function: &str) -> Value {
    let path = format!(
        "{}/../../../scripts/bench-lambda/events/{function}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The error type a handler answered with, or `None` for an answer.
async fn outcome(function: &str) -> Option<String> {
    let world = InMemoryWorld::new();
    let d = &world.dependencies();
    let e = event(function);
    let result = match function {
        "initialize" => initialize::invoke(e, d).await,
        "train" => train::invoke(e, d).await,
        "create-model" => create_model::invoke(e, d).await,
        "register-model" => register_model::invoke(e, d).await,
        "find-model" => find_model::invoke(e, d).await,
        "monitor-performance" => monitor_performance::invoke(e, d).await,
        "is-retraining-needed" => is_retraining_needed::invoke(e, d).await,
        other => panic!("no handler {other}"),
    };
    result
        .err()
        .map(|f| format!("{}: {}", f.error_type, f.message))
}

#[tokio::test]
async fn every_bench_event_is_a_valid_input_of_its_handler() {
    let functions = [
        "initialize",
        "train",
        "create-model",
        "register-model",
        "find-model",
        "monitor-performance",
        "is-retraining-needed",
    ];
    for function in functions {
        if let Some(error) = outcome(function).await {
            assert!(
                !error.starts_with("InvalidInput"),
                "{function}'s bench event is stale: {error}"
            );
        }
    }
    // track-experiment talks to MLflow, not to these ports: its event parser decides
    let parsed = track_experiment::parse_event(&event("track-experiment"));
    assert!(parsed.is_ok(), "track-experiment: {:?}", parsed.err());
}
