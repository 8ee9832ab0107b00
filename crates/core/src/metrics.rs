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
        out.push(parse_line(file, i as u64 + 1, line, first_of_csv)?);
    }
    Ok(out)
}

/// Parses line `number` (1-based) of batch-transform output, as [`parse_predictions`] does: a
/// blank line is an error here (only trailing blank lines are ignored, by the caller).
pub fn parse_prediction_line(file: &str, number: u64, line: &str) -> Result<f64, FnError> {
    parse_line(file, number, line, false)
}

/// Parses line `number` (1-based) of ground truth (the first CSV column), as
/// [`parse_ground_truth`] does.
pub fn parse_ground_truth_line(file: &str, number: u64, line: &str) -> Result<f64, FnError> {
    parse_line(file, number, line, true)
}

fn parse_line(file: &str, number: u64, line: &str, first_of_csv: bool) -> Result<f64, FnError> {
    let field = if first_of_csv {
        line.split(',').next().unwrap_or("")
    } else {
        line
    };
    let field = field.trim();
    field
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| FnError::PredictionsMismatch {
            file: file.to_string(),
            line: Some(number),
            message: if field.is_empty() {
                "empty line".to_string()
            } else if !first_of_csv && field.contains(',') {
                format!("expected one prediction per line, got {field:?}")
            } else {
                format!("{field:?} is not a finite number")
            },
        })
}

/// Checks binary labels are 0/1 and scores are probabilities, naming the offending line.
pub fn check_binary(
    labels: &[f64],
    labels_file: &str,
    scores: &[f64],
    scores_file: &str,
) -> Result<(), FnError> {
    for (i, &y) in labels.iter().enumerate() {
        check_binary_label(y, labels_file, i as u64 + 1)?;
    }
    for (i, &p) in scores.iter().enumerate() {
        check_binary_score(p, scores_file, i as u64 + 1)?;
    }
    Ok(())
}

/// Checks a binary label is 0 or 1; `file` and `line` name it in the error.
pub fn check_binary_label(y: f64, file: &str, line: u64) -> Result<(), FnError> {
    if y != 0.0 && y != 1.0 {
        return Err(FnError::PredictionsMismatch {
            file: file.to_string(),
            line: Some(line),
            message: format!("binary labels must be 0 or 1, got {y}"),
        });
    }
    Ok(())
}

/// Checks a binary score is a probability; `file` and `line` name it in the error.
pub fn check_binary_score(p: f64, file: &str, line: u64) -> Result<(), FnError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(FnError::PredictionsMismatch {
            file: file.to_string(),
            line: Some(line),
            message: format!("binary predictions must be probabilities in [0, 1], got {p}"),
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

/// The metrics of a problem type accumulated one (label, prediction) row at a time, for a batch
/// read as a stream. [`MetricsAccumulator::finish`] gives exactly (bit for bit) what
/// [`compute`] gives on all the rows in the same order: the sums are taken in row order from the
/// same starting value with the same expressions, and AUC walks the same score groups in the
/// same order.
///
/// Memory: a few counters, plus 8 bytes per row that one metric needs whole: the labels for
/// r2's total sum of squares (regression; its mean is known only at the end), the scores split
/// by class for AUC (binary; sorted at the end). The rows themselves are not kept.
#[derive(Debug, Clone)]
pub struct MetricsAccumulator {
    problem: ProblemType,
    rows: u64,
    /// Σ (p − y)² (rmse), Σ |p − y| (mae), Σ y and Σ (y − p)² (r2), the log-loss terms.
    squared: f64,
    absolute: f64,
    label_sum: f64,
    residual: f64,
    logloss: f64,
    misclassified: u64,
    /// f1's counts, as `f1` keeps them.
    tp: f64,
    fp: f64,
    fneg: f64,
    /// Regression: every label, in row order.
    labels: Vec<f64>,
    /// Binary: the scores of the positive and of the negative rows.
    positives: Vec<f64>,
    negatives: Vec<f64>,
}

/// The value a float `sum()` starts from (the standard library's neutral element), so that a
/// running sum equals the iterator's sum of the same terms.
fn zero_sum() -> f64 {
    std::iter::empty::<f64>().sum()
}

impl MetricsAccumulator {
    pub fn new(problem: ProblemType) -> Self {
        MetricsAccumulator {
            problem,
            rows: 0,
            squared: zero_sum(),
            absolute: zero_sum(),
            label_sum: zero_sum(),
            residual: zero_sum(),
            logloss: zero_sum(),
            misclassified: 0,
            tp: 0.0,
            fp: 0.0,
            fneg: 0.0,
            labels: Vec::new(),
            positives: Vec::new(),
            negatives: Vec::new(),
        }
    }

    /// Rows added so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds one row: its label `y` and prediction `p`.
    pub fn add(&mut self, y: f64, p: f64) {
        use mdlc_stats::metrics::{LOGLOSS_EPS, is_positive};
        self.rows += 1;
        match self.problem {
            ProblemType::Regression => {
                self.squared += (p - y) * (p - y);
                self.absolute += (p - y).abs();
                self.label_sum += y;
                self.residual += (y - p).powi(2);
                self.labels.push(y);
            }
            ProblemType::Binary => {
                let xlogy = |x: f64, y: f64| {
                    if x == 0.0 {
                        0.0
                    } else {
                        x * y.max(LOGLOSS_EPS).ln()
                    }
                };
                self.logloss += -(xlogy(y, p) + xlogy(1.0 - y, 1.0 - p));
                let (truth, said) = (is_positive(y), is_positive(p));
                if truth != said {
                    self.misclassified += 1;
                }
                match (truth, said) {
                    (true, true) => self.tp += 1.0,
                    (false, true) => self.fp += 1.0,
                    (true, false) => self.fneg += 1.0,
                    (false, false) => {}
                }
                if truth {
                    self.positives.push(p);
                } else {
                    self.negatives.push(p);
                }
            }
        }
    }

    /// The metrics of the rows added, as [`compute`] gives them.
    pub fn finish(self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        let n = self.rows;
        let mean = |sum: f64| if n == 0 { 0.0 } else { sum / n as f64 };
        match self.problem {
            ProblemType::Regression => {
                m.insert("rmse".to_string(), mean(self.squared).sqrt());
                m.insert("mae".to_string(), mean(self.absolute));
                let r2 = if n == 0 {
                    0.0
                } else {
                    let avg = self.label_sum / n as f64;
                    let ss_tot: f64 = self.labels.iter().map(|a| (a - avg).powi(2)).sum();
                    if ss_tot == 0.0 {
                        if self.residual == 0.0 { 1.0 } else { 0.0 }
                    } else {
                        1.0 - self.residual / ss_tot
                    }
                };
                m.insert("r2".to_string(), r2);
            }
            ProblemType::Binary => {
                let accuracy = if n == 0 {
                    0.0
                } else {
                    (n - self.misclassified) as f64 / n as f64
                };
                let f1 = if self.tp == 0.0 {
                    0.0
                } else {
                    2.0 * self.tp / (2.0 * self.tp + self.fp + self.fneg)
                };
                let logloss = mean(self.logloss);
                if let Some(a) = auc_of_classes(self.positives, self.negatives) {
                    m.insert("auc".to_string(), a);
                }
                m.insert("accuracy".to_string(), accuracy);
                m.insert("f1".to_string(), f1);
                m.insert("logloss".to_string(), logloss);
            }
        }
        m
    }
}

/// AUC from the scores of the positive and of the negative rows: the groups of tied scores in
/// descending order, each adding `dn · (tp + dp / 2)`, as [`auc`] walks them (`None` with one
/// class).
fn auc_of_classes(mut positives: Vec<f64>, mut negatives: Vec<f64>) -> Option<f64> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    positives.sort_unstable_by(|a, b| b.total_cmp(a));
    negatives.sort_unstable_by(|a, b| b.total_cmp(a));
    let (total_pos, total_neg) = (positives.len() as f64, negatives.len() as f64);
    let (mut i, mut j) = (0, 0);
    let (mut area, mut tp) = (0.0, 0.0);
    loop {
        let key = match (positives.get(i), negatives.get(j)) {
            (Some(a), Some(b)) => {
                if a.total_cmp(b).is_ge() {
                    *a
                } else {
                    *b
                }
            }
            (Some(a), None) => *a,
            (None, Some(b)) => *b,
            (None, None) => break,
        };
        let tied = |scores: &[f64], from: usize| {
            scores[from..]
                .iter()
                .take_while(|s| s.to_bits() == key.to_bits())
                .count()
        };
        let (dp, dn) = (tied(&positives, i), tied(&negatives, j));
        i += dp;
        j += dn;
        let (dp, dn) = (dp as f64, dn as f64);
        area += dn * (tp + dp / 2.0);
        tp += dp;
    }
    Some(area / (total_pos * total_neg))
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

    /// A seeded generator of test data (a 64-bit LCG; no dependency).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn streamed(problem: ProblemType, y: &[f64], p: &[f64]) -> BTreeMap<String, f64> {
        let mut acc = MetricsAccumulator::new(problem);
        for (&y, &p) in y.iter().zip(p) {
            acc.add(y, p);
        }
        assert_eq!(acc.rows(), y.len() as u64);
        acc.finish()
    }

    /// Metric maps compared bit for bit (so 0.0 and -0.0, or two NaNs, are told apart).
    fn bits(m: &BTreeMap<String, f64>) -> Vec<(String, u64)> {
        m.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
    }

    #[test]
    fn streamed_metrics_equal_the_whole_batch_computation_bit_for_bit() {
        let mut rng = Lcg(17);
        for n in [0usize, 1, 2, 3, 10, 1000, 20_000] {
            // Regression: labels around 50, predictions off by noise; some exact hits.
            let y: Vec<f64> = (0..n).map(|_| 50.0 + 30.0 * rng.next()).collect();
            let p: Vec<f64> = y
                .iter()
                .map(|&v| {
                    if rng.next() < 0.1 {
                        v
                    } else {
                        v + rng.next() - 0.5
                    }
                })
                .collect();
            assert_eq!(
                bits(&streamed(ProblemType::Regression, &y, &p)),
                bits(&compute(ProblemType::Regression, &y, &p)),
                "regression, {n} rows"
            );
            // Binary: scores on a coarse grid (many ties), 0 and 1 included, and -0.
            let y: Vec<f64> = (0..n).map(|_| f64::from(rng.next() < 0.3)).collect();
            let p: Vec<f64> = y
                .iter()
                .map(|&v| match rng.next() {
                    r if r < 0.02 => -0.0,
                    r if r < 0.04 => 1.0,
                    r => ((0.6 * r + 0.4 * v) * 20.0).round() / 20.0,
                })
                .collect();
            assert_eq!(
                bits(&streamed(ProblemType::Binary, &y, &p)),
                bits(&compute(ProblemType::Binary, &y, &p)),
                "binary, {n} rows"
            );
            // Binary with distinct scores.
            let p: Vec<f64> = y.iter().map(|_| rng.next()).collect();
            assert_eq!(
                bits(&streamed(ProblemType::Binary, &y, &p)),
                bits(&compute(ProblemType::Binary, &y, &p)),
                "binary, distinct scores, {n} rows"
            );
        }
        // One class: no AUC either way; a constant truth: r2 as compute gives it.
        let one = streamed(ProblemType::Binary, &[1.0, 1.0], &[0.9, 0.2]);
        assert_eq!(
            bits(&one),
            bits(&compute(ProblemType::Binary, &[1.0, 1.0], &[0.9, 0.2]))
        );
        assert!(!one.contains_key("auc"));
        for p in [[2.0, 2.0], [2.0, 3.0]] {
            assert_eq!(
                bits(&streamed(ProblemType::Regression, &[2.0, 2.0], &p)),
                bits(&compute(ProblemType::Regression, &[2.0, 2.0], &p))
            );
        }
        // The hand-checked values still come out.
        let s = streamed(
            ProblemType::Binary,
            &[0.0, 0.0, 1.0, 1.0],
            &[0.1, 0.4, 0.35, 0.8],
        );
        assert_eq!(s["auc"], 0.75);
        assert_eq!(s["accuracy"], 0.75);
    }

    #[test]
    fn line_parsers_give_the_whole_text_parsers_values_and_errors() {
        assert_eq!(parse_prediction_line("p", 1, "0.25\r").unwrap(), 0.25);
        assert_eq!(parse_ground_truth_line("g", 1, " 1 ,5,6").unwrap(), 1.0);
        assert_eq!(
            parse_prediction_line("s3://b/out/a.csv.out", 3, "abc").unwrap_err(),
            parse_predictions("s3://b/out/a.csv.out", "0.1\n0.2\nabc\n").unwrap_err()
        );
        assert_eq!(
            parse_ground_truth_line("g", 2, "").unwrap_err(),
            parse_ground_truth("g", "1\n\n0\n").unwrap_err()
        );
        assert_eq!(
            check_binary_label(2.0, "g", 2).unwrap_err(),
            check_binary(&[0.0, 2.0], "g", &[0.1, 0.2], "p").unwrap_err()
        );
        assert_eq!(
            check_binary_score(1.2, "p", 2).unwrap_err(),
            check_binary(&[0.0, 1.0], "g", &[0.1, 1.2], "p").unwrap_err()
        );
    }
}
