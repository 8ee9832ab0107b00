//! The statistics that two programs of the project compute and must agree on:
//!
//! - [`metrics`]: evaluation metrics (rmse, mae, r2, auc, logloss, error rate, accuracy, f1) with
//!   XGBoost's definitions. The trainer (`mdlc-trainer`, a standalone container program) reports
//!   them while it trains; `mdlc-core` computes them on batch-transform output when it monitors a
//!   model. Both must give the same number for the same predictions.
//! - [`bins`]: the quantile bins of one column of a data profile. The preprocessing program
//!   writes them into `profile.json`; `mdlc-core`'s drift check reads them back.
//!
//! The crate sits below both users: it depends on nothing of the project, so the trainer stays
//! free of the pipeline's crates and the domain stays free of the trainer.

pub mod bins;
pub mod metrics;

pub use bins::ColumnBins;
