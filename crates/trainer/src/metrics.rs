//! Evaluation metrics with XGBoost's names and definitions.
//!
//! `preds` are on the output scale (probabilities for `binary:logistic`).

use std::fmt;

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

    /// Computes the metric. Empty input gives `NaN`.
    pub fn compute(self, labels: &[f32], preds: &[f32]) -> f64 {
        match self {
            Metric::Rmse => rmse(labels, preds),
            Metric::Mae => mae(labels, preds),
            Metric::Auc => auc(labels, preds),
            Metric::Logloss => logloss(labels, preds),
            Metric::Error => error_rate(labels, preds, 0.5),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub fn rmse(labels: &[f32], preds: &[f32]) -> f64 {
    let n = labels.len().min(preds.len());
    if n == 0 {
        return f64::NAN;
    }
    let sum: f64 = labels
        .iter()
        .zip(preds)
        .map(|(&y, &p)| {
            let d = f64::from(p) - f64::from(y);
            d * d
        })
        .sum();
    (sum / n as f64).sqrt()
}

pub fn mae(labels: &[f32], preds: &[f32]) -> f64 {
    let n = labels.len().min(preds.len());
    if n == 0 {
        return f64::NAN;
    }
    let sum: f64 = labels
        .iter()
        .zip(preds)
        .map(|(&y, &p)| (f64::from(p) - f64::from(y)).abs())
        .sum();
    sum / n as f64
}

/// Binary log loss with predictions clipped to `[1e-16, 1 - 1e-16]` like XGBoost.
pub fn logloss(labels: &[f32], preds: &[f32]) -> f64 {
    let n = labels.len().min(preds.len());
    if n == 0 {
        return f64::NAN;
    }
    const EPS: f64 = 1e-16;
    let sum: f64 = labels
        .iter()
        .zip(preds)
        .map(|(&y, &p)| {
            let p = f64::from(p).clamp(EPS, 1.0 - EPS);
            let y = f64::from(y);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum();
    sum / n as f64
}

/// Share of rows where `pred > threshold` disagrees with `label > 0.5`.
pub fn error_rate(labels: &[f32], preds: &[f32], threshold: f32) -> f64 {
    let n = labels.len().min(preds.len());
    if n == 0 {
        return f64::NAN;
    }
    let wrong = labels
        .iter()
        .zip(preds)
        .filter(|&(&y, &p)| (p > threshold) != (y > 0.5))
        .count();
    wrong as f64 / n as f64
}

/// Area under the ROC curve; tied predictions count half (the trapezoid rule).
/// `NaN` when only one class is present.
pub fn auc(labels: &[f32], preds: &[f32]) -> f64 {
    // Sort by descending score with an LSD radix sort on an order-preserving integer image
    // of the score; the label rides in the low bit.
    let mut keys: Vec<u64> = labels
        .iter()
        .zip(preds)
        .map(|(&y, &p)| (u64::from(!ordered_bits(p)) << 32) | u64::from(y > 0.5))
        .collect();
    radix_sort_high32(&mut keys);
    let n = keys.len();
    let total_pos = keys.iter().filter(|&&k| k & 1 == 1).count() as f64;
    let total_neg = n as f64 - total_pos;
    if total_pos == 0.0 || total_neg == 0.0 {
        return f64::NAN;
    }
    let mut area = 0.0;
    let mut tp = 0.0;
    let mut i = 0;
    while i < n {
        let score = keys[i] >> 32;
        let (mut dp, mut dn) = (0.0, 0.0);
        while i < n && keys[i] >> 32 == score {
            if keys[i] & 1 == 1 {
                dp += 1.0;
            } else {
                dn += 1.0;
            }
            i += 1;
        }
        area += dn * (tp + dp / 2.0);
        tp += dp;
    }
    area / (total_pos * total_neg)
}

/// Maps an `f32` to a `u32` with the same order (NaN sorts above +inf).
fn ordered_bits(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Sorts by the upper 32 bits (stable LSD radix sort, 8 bits per pass).
fn radix_sort_high32(keys: &mut Vec<u64>) {
    let mut buf = vec![0u64; keys.len()];
    for pass in 0..4 {
        let shift = 32 + pass * 8;
        let mut counts = [0usize; 256];
        for &k in keys.iter() {
            counts[((k >> shift) & 0xff) as usize] += 1;
        }
        if counts.contains(&keys.len()) {
            continue; // every key has the same byte here
        }
        let mut offsets = [0usize; 256];
        let mut sum = 0;
        for (o, c) in offsets.iter_mut().zip(counts) {
            *o = sum;
            sum += c;
        }
        for &k in keys.iter() {
            let slot = &mut offsets[((k >> shift) & 0xff) as usize];
            if let Some(dst) = buf.get_mut(*slot) {
                *dst = k;
            }
            *slot += 1;
        }
        std::mem::swap(keys, &mut buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn given_known_values_when_rmse_and_mae_then_match_hand_computation() {
        let y = [1.0, 2.0, 3.0, 4.0];
        let p = [1.5, 2.0, 2.0, 6.0];
        // squared errors 0.25, 0, 1, 4 -> mean 1.3125
        assert!(close(rmse(&y, &p), 1.3125f64.sqrt()));
        // abs errors .5, 0, 1, 2 -> 0.875
        assert!(close(mae(&y, &p), 0.875));
    }

    #[test]
    fn given_known_values_when_logloss_then_matches_formula() {
        let y = [1.0, 0.0];
        let p = [0.8, 0.4];
        let expected = -((0.8f64).ln() + (0.6f64).ln()) / 2.0;
        assert!((logloss(&y, &p) - expected).abs() < 1e-7);
    }

    #[test]
    fn given_scores_when_auc_then_counts_concordant_pairs_and_half_ties() {
        // positives: 0.9, 0.4 ; negatives: 0.5, 0.1
        // pairs (pos > neg): 0.9>0.5, 0.9>0.1, 0.4>0.1 = 3 of 4
        let y = [1.0, 0.0, 1.0, 0.0];
        let p = [0.9, 0.5, 0.4, 0.1];
        assert!(close(auc(&y, &p), 0.75));
        // every score tied: 0.5
        assert!(close(auc(&y, &[0.3; 4]), 0.5));
        assert!(auc(&[1.0, 1.0], &[0.1, 0.2]).is_nan());
        // Negative scores and many ties agree with a pair count.
        let y: Vec<f32> = (0..500).map(|i| ((i * 7) % 3 == 0) as u8 as f32).collect();
        let p: Vec<f32> = (0..500).map(|i| ((i * 13) % 17) as f32 - 8.0).collect();
        let (mut good, mut pairs) = (0.0, 0.0);
        for i in 0..500 {
            for j in 0..500 {
                if y[i] == 1.0 && y[j] == 0.0 {
                    pairs += 1.0;
                    good += if p[i] > p[j] {
                        1.0
                    } else if p[i] == p[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        assert!(close(auc(&y, &p), good / pairs));
    }

    #[test]
    fn given_predictions_when_error_then_share_of_wrong_sides() {
        let y = [1.0, 0.0, 1.0, 0.0];
        let p = [0.9, 0.6, 0.4, 0.1];
        assert!(close(error_rate(&y, &p, 0.5), 0.5));
    }

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
}
