//! Evaluation metrics with XGBoost's names (`eval_metric`).
//!
//! `preds` are on the output scale (probabilities for `binary:logistic`). The math is
//! `mdlc-stats`' (XGBoost's definitions), which the pipeline's monitoring uses too, so that the
//! metrics of a training and of an evaluation of the same predictions agree.

use std::fmt;

pub use mdlc_stats::metrics::{auc, error_rate, logloss, mae, rmse};

/// An evaluation metric (`eval_metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Rmse,
    Mae,
    Auc,
    Logloss,
    Error,
}

impl Metric {
    pub fn parse(s: &str) -> Option<Metric> {
        Some(match s {
            "rmse" => Metric::Rmse,
            "mae" => Metric::Mae,
            "auc" => Metric::Auc,
            "logloss" => Metric::Logloss,
            "error" => Metric::Error,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::Auc => "auc",
            Metric::Logloss => "logloss",
            Metric::Error => "error",
        }
    }

    /// True when a larger value is better (only AUC).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Auc)
    }

    /// Computes the metric: 0 with no rows (as XGBoost), `NaN` for the AUC of a single class.
    pub fn compute(self, labels: &[f32], preds: &[f32]) -> f64 {
        match self {
            Metric::Rmse => rmse(labels, preds),
            Metric::Mae => mae(labels, preds),
            Metric::Auc => auc(labels, preds).unwrap_or(f64::NAN),
            Metric::Logloss => logloss(labels, preds),
            Metric::Error => error_rate(labels, preds),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_metric_names_when_parsed_then_roundtrip() {
        for m in [
            Metric::Rmse,
            Metric::Mae,
            Metric::Auc,
            Metric::Logloss,
            Metric::Error,
        ] {
            assert_eq!(Metric::parse(m.name()), Some(m));
        }
        assert_eq!(Metric::parse("mape"), None);
        assert!(Metric::Auc.higher_is_better());
        assert!(!Metric::Rmse.higher_is_better());
    }

    #[test]
    fn each_metric_computes_its_own_formula_and_a_single_class_auc_is_nan() {
        let y = [1.0f32, 0.0, 1.0, 0.0];
        let p = [0.9f32, 0.6, 0.4, 0.1];
        assert_eq!(Metric::Rmse.compute(&y, &p), rmse(&y, &p));
        assert_eq!(Metric::Mae.compute(&y, &p), mae(&y, &p));
        assert_eq!(Metric::Logloss.compute(&y, &p), logloss(&y, &p));
        assert_eq!(Metric::Auc.compute(&y, &p), 0.75);
        // 0.6 and 0.4 are on the wrong side of 0.5
        assert_eq!(Metric::Error.compute(&y, &p), 0.5);
        assert!(Metric::Auc.compute(&[1.0, 1.0], &[0.2, 0.3]).is_nan());
    }
}
