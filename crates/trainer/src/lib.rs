//! mdlc-trainer: the built-in XGBoost-compatible gradient-boosted-trees program.
//!
//! * [`gbdt`]: histogram-based gradient boosting with XGBoost's algorithm.
//! * [`model`]: the model (XGBoost's JSON layout), prediction, load/save.
//! * [`hyperparameters`]: the table of SageMaker XGBoost hyperparameters (types, ranges,
//!   what the trainer does with each) that drives validation and docs.
//! * [`params`]: training parameters validated against that table.
//! * [`metrics`]: rmse, mae, auc, logloss, error.
//! * [`dataset`]: CSV channels (label first, no header).
//! * [`container`]: the SageMaker training-container contract (`train`).
//! * [`serve`]: the SageMaker inference HTTP contract (`serve`).
//! * [`data`]: the seeded synthetic data generator (with a drifted batch).
//! * [`preprocess`]: the processing-job contract: split, data profile, population stability index.

pub mod container;
pub mod data;
pub mod dataset;
pub mod fsio;
pub mod gbdt;
pub mod hyperparameters;
pub mod metrics;
pub mod model;
pub mod params;
pub mod pipe;
pub mod preprocess;
pub mod serve;
#[cfg(any(test, feature = "testing"))]
pub mod tmpfs;
