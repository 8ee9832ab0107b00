//! Evaluation metrics with XGBoost's definitions (`src/metric/elementwise_metric.cu` and
//! `auc.cc` of dmlc/xgboost):
//!
//! - a prediction is positive when it is *greater than* 0.5 (XGBoost's `error`: "instances with
//!   prediction value larger than 0.5 as positive"), and so is a label;
//! - log loss clips each probability (and its complement) from below at 1e-16;
//! - an element-wise metric of no rows is 0 (XGBoost's `GetFinal` returns the sum when the
//!   weight sum is 0);
//! - AUC has no value with a single class (`None`).
//!
//! Every function takes labels and predictions of any float type (`f32` in the trainer, `f64`
//! in the domain) and pairs them up to the shorter of the two.

/// A number a metric reads (`f32` or `f64`).
pub trait Value: Copy + Into<f64> {}
impl<T: Copy + Into<f64>> Value for T {}

/// The decision threshold: a probability (or a 0/1 label) above it is the positive class.
pub const THRESHOLD: f64 = 0.5;

/// The lower clip of a probability in [`logloss`] (XGBoost's `eps`).
pub const LOGLOSS_EPS: f64 = 1e-16;

/// Whether a probability or label stands for the positive class (strictly above 0.5).
pub fn is_positive(x: f64) -> bool {
    x > THRESHOLD
}

/// The mean of `row(label, prediction)` over the paired rows; 0 with no rows.
fn mean_of<L: Value, P: Value>(labels: &[L], preds: &[P], row: impl Fn(f64, f64) -> f64) -> f64 {
    let n = labels.len().min(preds.len());
    if n == 0 {
        return 0.0;
    }
    let sum: f64 = labels
        .iter()
        .zip(preds)
        .map(|(&y, &p)| row(y.into(), p.into()))
        .sum();
    sum / n as f64
}

/// Root mean squared error.
pub fn rmse<L: Value, P: Value>(labels: &[L], preds: &[P]) -> f64 {
    mean_of(labels, preds, |y, p| (p - y) * (p - y)).sqrt()
}

/// Mean absolute error.
pub fn mae<L: Value, P: Value>(labels: &[L], preds: &[P]) -> f64 {
    mean_of(labels, preds, |y, p| (p - y).abs())
}

/// Coefficient of determination: 1 for a perfect fit, 0 for an imperfect fit of a constant
/// truth (and for no rows).
pub fn r2<L: Value, P: Value>(labels: &[L], preds: &[P]) -> f64 {
    let n = labels.len().min(preds.len());
    if n == 0 {
        return 0.0;
    }
    let y = || labels.iter().take(n).map(|&v| v.into());
    let mean = y().sum::<f64>() / n as f64;
    let ss_tot: f64 = y().map(|a| (a - mean).powi(2)).sum();
    let ss_res: f64 = y().zip(preds).map(|(a, &b)| (a - b.into()).powi(2)).sum();
    if ss_tot == 0.0 {
        if ss_res == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// Binary log loss (mean cross-entropy); each probability and its complement are clipped from
/// below at [`LOGLOSS_EPS`], and a term whose label weight is 0 is 0.
pub fn logloss<L: Value, P: Value>(labels: &[L], preds: &[P]) -> f64 {
    let xlogy = |x: f64, y: f64| {
        if x == 0.0 {
            0.0
        } else {
            x * y.max(LOGLOSS_EPS).ln()
        }
    };
    mean_of(labels, preds, |y, p| {
        -(xlogy(y, p) + xlogy(1.0 - y, 1.0 - p))
    })
}

/// How many paired rows the prediction puts on the wrong side of [`THRESHOLD`].
fn misclassified<L: Value, P: Value>(labels: &[L], preds: &[P]) -> usize {
    labels
        .iter()
        .zip(preds)
        .filter(|&(&y, &p)| is_positive(p.into()) != is_positive(y.into()))
        .count()
}

/// XGBoost's `error`: the share of rows on the wrong side of the threshold; 0 with no rows.
pub fn error_rate<L: Value, P: Value>(labels: &[L], preds: &[P]) -> f64 {
    let n = labels.len().min(preds.len());
    if n == 0 {
        return 0.0;
    }
    misclassified(labels, preds) as f64 / n as f64
}

/// The share of rows on the right side of the threshold (1 − [`error_rate`]); 0 with no rows.
pub fn accuracy<L: Value, P: Value>(labels: &[L], preds: &[P]) -> f64 {
    let n = labels.len().min(preds.len());
    if n == 0 {
        return 0.0;
    }
    (n - misclassified(labels, preds)) as f64 / n as f64
}

/// F1 of the positive class at the threshold; 0 when there is no true positive.
pub fn f1<L: Value, P: Value>(labels: &[L], preds: &[P]) -> f64 {
    let (mut tp, mut fp, mut fneg) = (0.0, 0.0, 0.0);
    for (&y, &p) in labels.iter().zip(preds) {
        match (is_positive(y.into()), is_positive(p.into())) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (true, false) => fneg += 1.0,
            (false, false) => {}
        }
    }
    if tp == 0.0 {
        0.0
    } else {
        2.0 * tp / (2.0 * tp + fp + fneg)
    }
}

/// Area under the ROC curve; tied predictions count half (the trapezoid rule). `None` when
/// only one class is present (or there are no rows).
pub fn auc<L: Value, P: Value>(labels: &[L], preds: &[P]) -> Option<f64> {
    // Descending score order: an LSD radix sort on the complement of an order-preserving
    // integer image of the score.
    let mut keys: Vec<(u64, bool)> = labels
        .iter()
        .zip(preds)
        .map(|(&y, &p)| (!ordered_bits(p.into()), is_positive(y.into())))
        .collect();
    radix_sort(&mut keys);
    let total_pos = keys.iter().filter(|k| k.1).count() as f64;
    let total_neg = keys.len() as f64 - total_pos;
    if total_pos == 0.0 || total_neg == 0.0 {
        return None;
    }
    let (mut area, mut tp) = (0.0, 0.0);
    for tied in keys.chunk_by(|a, b| a.0 == b.0) {
        let dp = tied.iter().filter(|k| k.1).count() as f64;
        let dn = tied.len() as f64 - dp;
        area += dn * (tp + dp / 2.0);
        tp += dp;
    }
    Some(area / (total_pos * total_neg))
}

/// Maps an `f64` to a `u64` with the same order (NaN sorts above +inf).
fn ordered_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b & (1 << 63) != 0 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Sorts by key (stable LSD radix sort, 8 bits per pass; a pass is skipped where every key
/// has the same byte, as the low bytes of widened `f32` scores do).
fn radix_sort(keys: &mut Vec<(u64, bool)>) {
    let mut buf = vec![(0u64, false); keys.len()];
    for shift in (0..64).step_by(8) {
        let byte = |k: &(u64, bool)| ((k.0 >> shift) & 0xff) as usize;
        let mut counts = [0usize; 256];
        for k in keys.iter() {
            counts[byte(k)] += 1;
        }
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut offsets = [0usize; 256];
        let mut sum = 0;
        for (o, c) in offsets.iter_mut().zip(counts) {
            *o = sum;
            sum += c;
        }
        for k in keys.iter() {
            let slot = &mut offsets[byte(k)];
            if let Some(dst) = buf.get_mut(*slot) {
                *dst = *k;
            }
            *slot += 1;
        }
        std::mem::swap(keys, &mut buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn regression_metrics_match_hand_computed_values() {
        let y = [3.0, -0.5, 2.0, 7.0];
        let p = [2.5, 0.0, 2.0, 8.0];
        close(rmse(&y, &p), (1.5f64 / 4.0).sqrt());
        close(mae(&y, &p), 0.5);
        // sklearn.metrics.r2_score gives 0.9486081370449679 for this classic example.
        close(r2(&y, &p), 0.948_608_137_044_967_9);
        close(r2(&[1.0, 1.0], &[1.0, 1.0]), 1.0);
        close(r2(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
        // squared errors 0.25, 0, 1, 4; absolute errors .5, 0, 1, 2 (f32 as the trainer has them)
        let y = [1.0f32, 2.0, 3.0, 4.0];
        let p = [1.5f32, 2.0, 2.0, 6.0];
        close(rmse(&y, &p), 1.3125f64.sqrt());
        close(mae(&y, &p), 0.875);
    }

    #[test]
    fn element_wise_metrics_of_no_rows_are_zero_as_in_xgboost() {
        let none: [f64; 0] = [];
        assert_eq!(rmse(&none, &none), 0.0);
        assert_eq!(mae(&none, &none), 0.0);
        assert_eq!(logloss(&none, &none), 0.0);
        assert_eq!(error_rate(&none, &none), 0.0);
        assert_eq!(accuracy(&none, &none), 0.0);
        assert_eq!(r2(&none, &none), 0.0);
        assert_eq!(auc(&none, &none), None);
    }

    #[test]
    fn binary_metrics_match_hand_computed_values() {
        let y = [0.0, 0.0, 1.0, 1.0];
        let p = [0.1, 0.4, 0.35, 0.8];
        close(auc(&y, &p).unwrap(), 0.75);
        close(accuracy(&y, &p), 0.75);
        // tp=1 fp=0 fn=1 → 2/3
        close(f1(&y, &p), 2.0 / 3.0);
        let expected = -((0.9f64).ln() + (0.6f64).ln() + (0.35f64).ln() + (0.8f64).ln()) / 4.0;
        close(logloss(&y, &p), expected);
        assert_eq!(auc(&[1.0, 1.0], &[0.2, 0.3]), None);
        // ties get half credit
        close(auc(&[0.0, 1.0], &[0.5, 0.5]).unwrap(), 0.5);
    }

    #[test]
    fn a_prediction_of_exactly_the_threshold_is_negative_as_in_xgboost_error() {
        assert!(!is_positive(0.5));
        assert!(is_positive(0.500_000_1));
        // rows: (1, 0.5) wrong, (0, 0.5) right, (1, 0.9) right, (0, 0.6) wrong
        let y = [1.0f32, 0.0, 1.0, 0.0];
        let p = [0.5f32, 0.5, 0.9, 0.6];
        assert_eq!(error_rate(&y, &p), 0.5);
        assert_eq!(accuracy(&y, &p), 0.5);
        let y = [1.0f32, 0.0, 1.0, 0.0];
        let p = [0.9f32, 0.6, 0.4, 0.1];
        close(error_rate(&y, &p), 0.5);
    }

    #[test]
    fn f1_is_exact_with_false_positives_false_negatives_and_the_threshold_itself() {
        // tp = 2 (0.9, 0.6), fn = 2 (0.2, and 0.5: the threshold itself is negative),
        // fp = 1 (0.7)
        let y = [1.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        let p = [0.9, 0.6, 0.2, 0.7, 0.1, 0.5];
        assert_eq!(f1(&y, &p), 4.0 / 7.0);
        // a negative at the threshold is a true negative, not a false positive: tp 1, fn 1
        assert_eq!(f1(&[1.0, 1.0, 0.0], &[0.8, 0.4, 0.5]), 2.0 / 3.0);
        // precision 1/3, recall 1/2: 2·(1/6)/(5/6) = 0.4
        assert_eq!(f1(&[1.0, 1.0, 0.0, 0.0], &[0.8, 0.4, 0.6, 0.9]), 0.4);
        // no true positive: 0, also when nothing at all was predicted positive (not 0/0)
        assert_eq!(f1(&[1.0, 0.0], &[0.1, 0.9]), 0.0);
        assert_eq!(f1(&[0.0, 0.0], &[0.1, 0.2]), 0.0);
    }

    #[test]
    fn logloss_is_exact_and_clips_certain_predictions_at_1e_16() {
        let y = [1.0, 0.0, 1.0];
        let p = [0.8, 0.3, 0.5];
        let expected = -((0.8f64).ln() + (0.7f64).ln() + (0.5f64).ln()) / 3.0;
        assert_eq!(logloss(&y, &p), expected);
        // a certain wrong prediction costs -ln(1e-16), not infinity, either way round
        assert_eq!(logloss(&[1.0], &[0.0]), -(1e-16f64).ln());
        assert_eq!(logloss(&[0.0], &[1.0]), -(1e-16f64).ln());
        // a certain right one costs nothing (the other term has weight 0)
        assert_eq!(logloss(&[1.0], &[1.0]), 0.0);
        assert_eq!(logloss(&[0.0], &[0.0]), 0.0);
        // f32 scores as the trainer has them
        let y = [1.0f32, 0.0];
        let p = [0.8f32, 0.4];
        let expected = -(f64::from(0.8f32).ln() + (1.0 - f64::from(0.4f32)).ln()) / 2.0;
        assert_eq!(logloss(&y, &p), expected);
    }

    #[test]
    fn auc_counts_concordant_pairs_and_half_ties_for_negative_scores_and_many_ties() {
        // positives: 0.9, 0.4 ; negatives: 0.5, 0.1 → 3 of 4 pairs in order
        let y = [1.0f32, 0.0, 1.0, 0.0];
        close(auc(&y, &[0.9f32, 0.5, 0.4, 0.1]).unwrap(), 0.75);
        close(auc(&y, &[0.3f32; 4]).unwrap(), 0.5);
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
        close(auc(&y, &p).unwrap(), good / pairs);
    }
}
