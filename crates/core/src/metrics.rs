//! Model metrics: regression (rmse, mae, r2) and binary classification (auc, accuracy, f1,
//! logloss), and the parsing of batch-transform output (`<input>.out`) and ground truth.
//!
//! The math is `mdlc-stats`' (XGBoost's definitions, shared with the trainer, which reports the
//! same metrics while it trains); this module names the metrics, knows their direction and
//! which belong to a problem type, and reads the files they are computed on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::FnError;

pub use mdlc_stats::metrics::{accuracy, auc, f1, logloss, mae, r2, rmse};

/// The kind of supervised problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemType {
    Regression,
    Binary,
}

impl ProblemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemType::Regression => "regression",
            ProblemType::Binary => "binary",
        }
    }
}

/// Whether smaller or larger values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

impl Direction {
    /// Whether `value` is worse than `reference`.
    pub fn is_worse(self, value: f64, reference: f64) -> bool {
        match self {
            Direction::LowerIsBetter => value > reference,
            Direction::HigherIsBetter => value < reference,
        }
    }

    /// How much worse `value` is than `baseline`, as a fraction of |baseline| (≤ 0 when not worse).
    /// `None` when the baseline is 0 (no relative scale).
    pub fn degradation(self, value: f64, baseline: f64) -> Option<f64> {
        if baseline == 0.0 {
            return None;
        }
        let worse_by = match self {
            Direction::LowerIsBetter => value - baseline,
            Direction::HigherIsBetter => baseline - value,
        };
        Some(worse_by / baseline.abs())
    }
}

/// The metrics monitor-performance computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricName {
    Rmse,
    Mae,
    R2,
    Auc,
    Accuracy,
    F1,
    Logloss,
}

impl MetricName {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::Rmse => "rmse",
            MetricName::Mae => "mae",
            MetricName::R2 => "r2",
            MetricName::Auc => "auc",
            MetricName::Accuracy => "accuracy",
            MetricName::F1 => "f1",
            MetricName::Logloss => "logloss",
        }
    }

    pub fn parse(s: &str) -> Option<MetricName> {
        [
            MetricName::Rmse,
            MetricName::Mae,
            MetricName::R2,
            MetricName::Auc,
            MetricName::Accuracy,
            MetricName::F1,
            MetricName::Logloss,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    pub fn direction(self) -> Direction {
        match self {
            MetricName::Rmse | MetricName::Mae | MetricName::Logloss => Direction::LowerIsBetter,
            _ => Direction::HigherIsBetter,
        }
    }

    /// The metrics computed for a problem type.
    pub fn for_problem(problem: ProblemType) -> &'static [MetricName] {
        match problem {
            ProblemType::Regression => &[MetricName::Rmse, MetricName::Mae, MetricName::R2],
            ProblemType::Binary => &[
                MetricName::Auc,
                MetricName::Accuracy,
                MetricName::F1,
                MetricName::Logloss,
            ],
        }
    }

    /// The evaluation metric matching a training objective such as `validation:rmse`
    /// (`validation:error` has no direct counterpart and gives `None`).
    pub fn from_objective(objective: &str) -> Option<MetricName> {
        MetricName::parse(objective.rsplit(':').next().unwrap_or(objective))
    }
}

impl std::fmt::Display for MetricName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses batch-transform output: one number per line (trailing blank lines ignored).
pub fn parse_predictions(file: &str, text: &str) -> Result<Vec<f64>, FnError> {
    parse_column(file, text, false)
}

/// Parses ground truth: CSV whose first column is the label (other columns are ignored).
pub fn parse_ground_truth(file: &str, text: &str) -> Result<Vec<f64>, FnError> {
    parse_column(file, text, true)
}

fn parse_column(file: &str, text: &str, first_of_csv: bool) -> Result<Vec<f64>, FnError> {
    let lines: Vec<&str> = text.lines().collect();
    let used = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let mut out = Vec::with_capacity(used);
    for (i, line) in lines.iter().take(used).enumerate() {
        let field = if first_of_csv {
            line.split(',').next().unwrap_or("")
        } else {
            line
        };
        let field = field.trim();
        let value = field
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| FnError::PredictionsMismatch {
                file: file.to_string(),
                line: Some(i as u64 + 1),
                message: if field.is_empty() {
                    "empty line".to_string()
                } else if !first_of_csv && field.contains(',') {
                    format!("expected one prediction per line, got {field:?}")
                } else {
                    format!("{field:?} is not a finite number")
                },
            })?;
        out.push(value);
    }
    Ok(out)
}

/// Checks binary labels are 0/1 and scores are probabilities, naming the offending line.
pub fn check_binary(
    labels: &[f64],
    labels_file: &str,
    scores: &[f64],
    scores_file: &str,
) -> Result<(), FnError> {
    if let Some(i) = labels.iter().position(|y| *y != 0.0 && *y != 1.0) {
        return Err(FnError::PredictionsMismatch {
            file: labels_file.to_string(),
            line: Some(i as u64 + 1),
            message: format!("binary labels must be 0 or 1, got {}", labels[i]),
        });
    }
    if let Some(i) = scores.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(FnError::PredictionsMismatch {
            file: scores_file.to_string(),
            line: Some(i as u64 + 1),
            message: format!(
                "binary predictions must be probabilities in [0, 1], got {}",
                scores[i]
            ),
        });
    }
    Ok(())
}

/// Every metric of the problem type (AUC is left out when the truth has a single class).
pub fn compute(problem: ProblemType, y: &[f64], p: &[f64]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    match problem {
        ProblemType::Regression => {
            m.insert("rmse".to_string(), rmse(y, p));
            m.insert("mae".to_string(), mae(y, p));
            m.insert("r2".to_string(), r2(y, p));
        }
        ProblemType::Binary => {
            if let Some(a) = auc(y, p) {
                m.insert("auc".to_string(), a);
            }
            m.insert("accuracy".to_string(), accuracy(y, p));
            m.insert("f1".to_string(), f1(y, p));
            m.insert("logloss".to_string(), logloss(y, p));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn given_bad_line_when_parsing_then_error_names_file_and_line() {
        let e = parse_predictions("s3://b/out/a.csv.out", "0.1\n0.2\nabc\n").unwrap_err();
        assert_eq!(
            e,
            FnError::PredictionsMismatch {
                file: "s3://b/out/a.csv.out".into(),
                line: Some(3),
                message: "\"abc\" is not a finite number".into()
            }
        );
        let e = parse_predictions("f", "0.1\n\n0.2\n").unwrap_err();
        assert!(matches!(
            e,
            FnError::PredictionsMismatch { line: Some(2), .. }
        ));
        let e = parse_predictions("f", "0.1,0.9\n").unwrap_err();
        assert!(e.to_string().contains("one prediction per line"), "{e}");
    }

    #[test]
    fn ground_truth_takes_the_first_csv_column_and_ignores_trailing_blank_lines() {
        assert_eq!(
            parse_ground_truth("g", "1,5,6\n0,1,2\n\n").unwrap(),
            vec![1.0, 0.0]
        );
        assert_eq!(
            parse_predictions("p", "0.25\r\n0.5\r\n").unwrap(),
            vec![0.25, 0.5]
        );
        let e = parse_ground_truth("g", "label,x\n1,2\n").unwrap_err();
        assert!(matches!(
            e,
            FnError::PredictionsMismatch { line: Some(1), .. }
        ));
    }

    #[test]
    fn binary_checks_name_the_offending_line() {
        let e = check_binary(&[0.0, 2.0], "g", &[0.1, 0.2], "p").unwrap_err();
        assert!(
            matches!(e, FnError::PredictionsMismatch { line: Some(2), ref file, .. } if file == "g")
        );
        let e = check_binary(&[0.0, 1.0], "g", &[0.1, 1.2], "p").unwrap_err();
        assert!(
            matches!(e, FnError::PredictionsMismatch { line: Some(2), ref file, .. } if file == "p")
        );
    }

    #[test]
    fn directions_and_degradation() {
        assert!(Direction::LowerIsBetter.is_worse(2.0, 1.0));
        assert!(Direction::HigherIsBetter.is_worse(0.6, 0.7));
        close(Direction::LowerIsBetter.degradation(1.2, 1.0).unwrap(), 0.2);
        close(
            Direction::HigherIsBetter.degradation(0.72, 0.8).unwrap(),
            0.1,
        );
        assert_eq!(Direction::LowerIsBetter.degradation(1.0, 0.0), None);
        assert_eq!(
            MetricName::from_objective("validation:rmse"),
            Some(MetricName::Rmse)
        );
        assert_eq!(MetricName::from_objective("validation:error"), None);
    }

    #[test]
    fn a_value_equal_to_the_reference_is_not_worse_in_either_direction() {
        assert!(!Direction::LowerIsBetter.is_worse(1.0, 1.0));
        assert!(!Direction::HigherIsBetter.is_worse(1.0, 1.0));
        assert!(!Direction::LowerIsBetter.is_worse(0.5, 1.0));
        assert!(!Direction::HigherIsBetter.is_worse(1.5, 1.0));
    }

    #[test]
    fn metric_names_display_as_their_wire_names() {
        for (m, name) in [
            (MetricName::Rmse, "rmse"),
            (MetricName::Mae, "mae"),
            (MetricName::R2, "r2"),
            (MetricName::Auc, "auc"),
            (MetricName::Accuracy, "accuracy"),
            (MetricName::F1, "f1"),
            (MetricName::Logloss, "logloss"),
        ] {
            assert_eq!(m.to_string(), name);
            assert_eq!(MetricName::parse(name), Some(m));
        }
        assert_eq!(MetricName::parse("RMSE"), None);
    }

    #[test]
    fn each_metric_has_its_direction_and_each_problem_its_metrics() {
        use Direction::{HigherIsBetter as Higher, LowerIsBetter as Lower};
        for (m, d) in [
            (MetricName::Rmse, Lower),
            (MetricName::Mae, Lower),
            (MetricName::Logloss, Lower),
            (MetricName::R2, Higher),
            (MetricName::Auc, Higher),
            (MetricName::Accuracy, Higher),
            (MetricName::F1, Higher),
        ] {
            assert_eq!(m.direction(), d, "{m}");
        }
        assert_eq!(
            MetricName::for_problem(ProblemType::Regression),
            &[MetricName::Rmse, MetricName::Mae, MetricName::R2]
        );
        assert_eq!(
            MetricName::for_problem(ProblemType::Binary),
            &[
                MetricName::Auc,
                MetricName::Accuracy,
                MetricName::F1,
                MetricName::Logloss
            ]
        );
    }

    #[test]
    fn compute_gives_every_metric_of_the_problem_and_leaves_out_auc_for_one_class() {
        let y = [3.0, -0.5, 2.0, 7.0];
        let p = [2.5, 0.0, 2.0, 8.0];
        assert_eq!(
            compute(ProblemType::Regression, &y, &p),
            BTreeMap::from([
                ("rmse".to_string(), rmse(&y, &p)),
                ("mae".to_string(), 0.5),
                ("r2".to_string(), r2(&y, &p)),
            ])
        );
        let y = [0.0, 0.0, 1.0, 1.0];
        let p = [0.1, 0.4, 0.35, 0.8];
        assert_eq!(
            compute(ProblemType::Binary, &y, &p),
            BTreeMap::from([
                ("auc".to_string(), 0.75),
                ("accuracy".to_string(), 0.75),
                ("f1".to_string(), f1(&y, &p)),
                ("logloss".to_string(), logloss(&y, &p)),
            ])
        );
        let one_class = compute(ProblemType::Binary, &[1.0, 1.0], &[0.9, 0.2]);
        assert_eq!(
            one_class.keys().map(String::as_str).collect::<Vec<_>>(),
            ["accuracy", "f1", "logloss"]
        );
        assert_eq!(one_class["accuracy"], 0.5);
    }
}
