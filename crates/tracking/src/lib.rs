//! Experiment tracking in MLflow.
//!
//! [`MlflowClient`] speaks MLflow's REST API to a plain tracking server (`http(s)://…`) or to a
//! SageMaker managed tracking server (by ARN, SigV4-signed with service `sagemaker-mlflow`).
//! [`experiment`] lays runs out the way teams compare tuning jobs: a parent run per tuning job,
//! a child run per training job, the registered model version linked to the best child run, and a
//! run per evaluation. Tracking failures are returned as [`TrackingError`]s for the caller to
//! report; they never fail a training.

pub mod client;
pub mod experiment;
pub mod sigv4;
/// Test support (feature `testing`, enabled by the `[dev-dependencies]` of the crates whose tests
/// talk to a real MLflow server).
#[cfg(feature = "testing")]
pub mod test_support;

pub use client::{KeyValue, Metric, MlflowClient, Run, RunStatus, TrackingError, TrackingTarget};
pub use experiment::{
    EvaluationLog, MetricPoint, TrainingRecord, TuningRecord, TuningRuns, log_evaluation,
    log_tuning, parse_xgboost_log, register_model_version,
};
