//! Feature drift: the population stability index (PSI) per feature between the baseline data
//! profile written by the preprocessing step (`profile.json` of `mdlc-trainer preprocess`) and a
//! new batch of feature rows.
//!
//! The profile records, per feature, quantile bin `edges` (a value `x` falls in bin
//! `#{e in edges : e <= x}`, so there are `edges.len() + 1` bins), the `shares` of the
//! non-missing baseline values in each bin, and the `missing_share` of all rows. The batch is
//! binned on the same edges; missing values form one more bin when either side has any.
//!
//! `PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)` over the bins, with expected shares `e` and actual shares `a`
//! (shares below [`PSI_FLOOR`] count as the floor so empty bins stay finite). Levels: below
//! [`PSI_MODERATE`] `stable`, below [`PSI_SIGNIFICANT`] `moderate`, otherwise `significant`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// PSI at or above this: a moderate shift.
pub const PSI_MODERATE: f64 = 0.1;
/// PSI at or above this: a significant shift.
pub const PSI_SIGNIFICANT: f64 = 0.25;
/// Shares below this count as this, so the logarithm of an empty bin stays finite.
pub const PSI_FLOOR: f64 = 1e-4;
/// Tolerance on the sum of a profile's shares.
const SHARE_SUM_TOLERANCE: f64 = 1e-6;

/// Errors of drift computation (the profile or the batch is unusable).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DriftError {
    /// The profile does not parse or is inconsistent; `pointer` is a JSON pointer into it.
    #[error("invalid data profile at {pointer}: {message}")]
    InvalidProfile { pointer: String, message: String },
    /// A batch line has another number of columns than the profile has features.
    #[error("{file} line {line}: {found} columns, the data profile has {expected} features")]
    FeatureMismatch {
        file: String,
        line: usize,
        expected: usize,
        found: usize,
    },
    /// A batch cell is neither a number nor empty.
    #[error("{file} line {line} column {column}: {value:?} is not a number")]
    NotANumber {
        file: String,
        line: usize,
        column: usize,
        value: String,
    },
    /// The batch has no rows.
    #[error("the batch has no rows")]
    EmptyBatch,
}

/// The drift level of a PSI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftLevel {
    /// PSI < 0.1.
    Stable,
    /// 0.1 ≤ PSI < 0.25.
    Moderate,
    /// PSI ≥ 0.25.
    Significant,
}

impl DriftLevel {
    /// The level of `psi` (a NaN counts as significant: something is wrong with the data).
    pub fn of(psi: f64) -> DriftLevel {
        if psi < PSI_MODERATE {
            DriftLevel::Stable
        } else if psi < PSI_SIGNIFICANT {
            DriftLevel::Moderate
        } else {
            DriftLevel::Significant
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DriftLevel::Stable => "stable",
            DriftLevel::Moderate => "moderate",
            DriftLevel::Significant => "significant",
        }
    }
}

impl std::fmt::Display for DriftLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bins of one baseline column, as the preprocessing program writes them.
pub use mdlc_stats::ColumnBins;

/// The baseline of one feature (other statistics of the profile are ignored here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBaseline {
    pub name: String,
    /// Zero-based column of the feature in a feature row.
    pub index: usize,
    pub bins: ColumnBins,
}

/// What drift needs of a data profile: its features' bins. Deserializes the preprocessing
/// program's `profile.json` (unknown fields are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineProfile {
    /// Rows the profile was computed on.
    #[serde(default)]
    pub rows: usize,
    pub features: Vec<FeatureBaseline>,
}

impl BaselineProfile {
    /// Parses and validates a profile document; errors carry a JSON pointer.
    pub fn from_json(bytes: &[u8]) -> Result<BaselineProfile, DriftError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let profile: BaselineProfile =
            serde_path_to_error::deserialize(de).map_err(|e| DriftError::InvalidProfile {
                pointer: pointer_of(&e.path().to_string()),
                message: e.inner().to_string(),
            })?;
        profile.validate()?;
        Ok(profile)
    }

    /// Checks that every feature's bins are usable: finite increasing edges, one more share than
    /// edges, shares and missing share in [0, 1], shares summing to 1 (or 0), indexes `0..n`.
    pub fn validate(&self) -> Result<(), DriftError> {
        let bad =
            |pointer: String, message: String| DriftError::InvalidProfile { pointer, message };
        if self.features.is_empty() {
            return Err(bad("/features".into(), "has no features".into()));
        }
        for (i, f) in self.features.iter().enumerate() {
            let at = format!("/features/{i}");
            if f.index != i {
                return Err(bad(
                    format!("{at}/index"),
                    format!("is {}, expected {i} (features in column order)", f.index),
                ));
            }
            let b = &f.bins;
            if let Some(j) = b.edges.iter().position(|e| !e.is_finite()) {
                return Err(bad(format!("{at}/bins/edges/{j}"), "is not finite".into()));
            }
            if let Some(j) = b.edges.windows(2).position(|w| w[0] >= w[1]) {
                return Err(bad(
                    format!("{at}/bins/edges/{}", j + 1),
                    "edges must be strictly increasing".into(),
                ));
            }
            if b.shares.len() != b.edges.len() + 1 {
                return Err(bad(
                    format!("{at}/bins/shares"),
                    format!(
                        "has {} shares for {} edges (expected {})",
                        b.shares.len(),
                        b.edges.len(),
                        b.edges.len() + 1
                    ),
                ));
            }
            if let Some(j) = b
                .shares
                .iter()
                .position(|s| !(s.is_finite() && (0.0..=1.0).contains(s)))
            {
                return Err(bad(
                    format!("{at}/bins/shares/{j}"),
                    "must be a share between 0 and 1".into(),
                ));
            }
            let sum: f64 = b.shares.iter().sum();
            if sum.abs() > SHARE_SUM_TOLERANCE && (sum - 1.0).abs() > SHARE_SUM_TOLERANCE {
                return Err(bad(
                    format!("{at}/bins/shares"),
                    format!("sum to {sum}, expected 1"),
                ));
            }
            if !(b.missing_share.is_finite() && (0.0..=1.0).contains(&b.missing_share)) {
                return Err(bad(
                    format!("{at}/bins/missing_share"),
                    "must be a share between 0 and 1".into(),
                ));
            }
        }
        Ok(())
    }
}

/// `a.b[2].c` (serde_path_to_error) → `/a/b/2/c`.
fn pointer_of(path: &str) -> String {
    if path == "." || path.is_empty() {
        return "/".into();
    }
    let mut out = String::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            out.push('/');
            out.push_str(&rest[..open]);
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                out.push('/');
                out.push_str(&stripped[..close]);
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else {
            out.push('/');
            out.push_str(rest);
        }
    }
    out
}

/// PSI between expected and actual shares of the same bins (pairs beyond the shorter list are
/// ignored). Shares below [`PSI_FLOOR`] count as the floor.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_FLOOR), a.max(PSI_FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Drift of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub feature: String,
    pub index: usize,
    pub psi: f64,
    pub level: DriftLevel,
}

/// Drift of a batch against a baseline profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    /// Rows of the batch.
    pub rows: usize,
    /// The highest PSI over the features.
    pub max_psi: f64,
    /// The level of `max_psi`.
    pub level: DriftLevel,
    /// Per feature, in column order.
    pub features: Vec<FeatureDrift>,
}

/// Accumulates a batch's bin counts, file by file, without keeping the rows.
#[derive(Debug, Clone)]
pub struct DriftAccumulator<'p> {
    profile: &'p BaselineProfile,
    /// Per feature: counts per bin, then missing.
    counts: Vec<Vec<u64>>,
    missing: Vec<u64>,
    rows: u64,
    /// The cells of the line being added (reused from line to line).
    row: Vec<f64>,
}

impl<'p> DriftAccumulator<'p> {
    /// A new accumulator for a validated profile (see [`BaselineProfile::validate`]).
    pub fn new(profile: &'p BaselineProfile) -> Self {
        DriftAccumulator {
            profile,
            counts: profile
                .features
                .iter()
                .map(|f| vec![0; f.bins.edges.len() + 1])
                .collect(),
            missing: vec![0; profile.features.len()],
            rows: 0,
            row: Vec::with_capacity(profile.features.len()),
        }
    }

    /// Adds one feature row; `NaN` is a missing value.
    pub fn add_row(&mut self, row: &[f64]) -> Result<(), usize> {
        if row.len() != self.profile.features.len() {
            return Err(row.len());
        }
        for ((f, counts), (&v, missing)) in self
            .profile
            .features
            .iter()
            .zip(self.counts.iter_mut())
            .zip(row.iter().zip(self.missing.iter_mut()))
        {
            if v.is_nan() {
                *missing += 1;
                continue;
            }
            let bin = f.bins.bin_of(v);
            if let Some(c) = counts.get_mut(bin) {
                *c += 1;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Adds the rows of a headerless feature CSV (no label column; an empty cell is missing).
    /// `file` names the source in errors.
    pub fn add_csv(&mut self, file: &str, text: &str) -> Result<(), DriftError> {
        for (n, line) in text.lines().enumerate() {
            self.add_line(file, n + 1, line)?;
        }
        Ok(())
    }

    /// Adds line `number` (1-based) of a headerless feature CSV read a line at a time (a
    /// trailing `\r` is dropped, a blank line skipped, an empty cell is missing); the rows of a
    /// file fed line by line count as [`DriftAccumulator::add_csv`] of the whole text counts them.
    pub fn add_line(&mut self, file: &str, number: usize, line: &str) -> Result<(), DriftError> {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            return Ok(());
        }
        let expected = self.profile.features.len();
        self.row.clear();
        for (c, cell) in line.split(',').enumerate() {
            let cell = cell.trim();
            if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
                self.row.push(f64::NAN);
                continue;
            }
            match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => self.row.push(v),
                _ => {
                    return Err(DriftError::NotANumber {
                        file: file.to_string(),
                        line: number,
                        column: c + 1,
                        value: cell.chars().take(40).collect(),
                    });
                }
            }
        }
        let row = std::mem::take(&mut self.row);
        let added = self.add_row(&row);
        self.row = row;
        added.map_err(|found| DriftError::FeatureMismatch {
            file: file.to_string(),
            line: number,
            expected,
            found,
        })
    }

    /// The PSI per feature of the rows added so far.
    pub fn finish(&self) -> Result<DriftReport, DriftError> {
        if self.rows == 0 {
            return Err(DriftError::EmptyBatch);
        }
        let total = self.rows as f64;
        let features: Vec<FeatureDrift> = self
            .profile
            .features
            .iter()
            .zip(&self.counts)
            .zip(&self.missing)
            .map(|((f, counts), &missing)| {
                let base_missing = f.bins.missing_share;
                let mut expected: Vec<f64> = f
                    .bins
                    .shares
                    .iter()
                    .map(|s| s * (1.0 - base_missing))
                    .collect();
                let mut actual: Vec<f64> = counts.iter().map(|&c| c as f64 / total).collect();
                let actual_missing = missing as f64 / total;
                if base_missing > 0.0 || actual_missing > 0.0 {
                    expected.push(base_missing);
                    actual.push(actual_missing);
                }
                let value = psi(&expected, &actual);
                FeatureDrift {
                    feature: f.name.clone(),
                    index: f.index,
                    psi: value,
                    level: DriftLevel::of(value),
                }
            })
            .collect();
        let max_psi = features.iter().map(|f| f.psi).fold(0.0, f64::max);
        Ok(DriftReport {
            rows: self.rows as usize,
            max_psi,
            level: DriftLevel::of(max_psi),
            features,
        })
    }
}

/// PSI per feature of `rows` (feature rows, `NaN` missing) against `profile`.
pub fn feature_drift(
    profile: &BaselineProfile,
    rows: &[Vec<f64>],
) -> Result<DriftReport, DriftError> {
    profile.validate()?;
    let mut acc = DriftAccumulator::new(profile);
    for (i, row) in rows.iter().enumerate() {
        acc.add_row(row)
            .map_err(|found| DriftError::FeatureMismatch {
                file: "batch".into(),
                line: i + 1,
                expected: profile.features.len(),
                found,
            })?;
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// One feature, edges [1, 2, 3] → bins (-∞,1) [1,2) [2,3) [3,∞), quarters each.
    fn quartile_profile(missing_share: f64) -> BaselineProfile {
        BaselineProfile {
            rows: 100,
            features: vec![FeatureBaseline {
                name: "f0".into(),
                index: 0,
                bins: ColumnBins {
                    edges: vec![1.0, 2.0, 3.0],
                    shares: vec![0.25; 4],
                    missing_share,
                },
            }],
        }
    }

    fn rows(values: &[f64]) -> Vec<Vec<f64>> {
        values.iter().map(|&v| vec![v]).collect()
    }

    #[test]
    fn given_known_shares_when_psi_then_it_matches_the_hand_computed_value() {
        // (0.4-0.5)ln(0.8) + (0.6-0.5)ln(1.2) = 0.0405465108...
        assert!(close(
            psi(&[0.5, 0.5], &[0.4, 0.6]),
            0.040_546_510_810_816_4
        ));
        // Textbook 3-bin example: 0.1,0.4,0.5 vs 0.2,0.4,0.4 → 0.1·ln2 + 0.1·ln(1.25) = 0.0916291
        let v = psi(&[0.1, 0.4, 0.5], &[0.2, 0.4, 0.4]);
        assert!(close(v, 0.1 * 2f64.ln() + 0.1 * 1.25f64.ln()), "{v}");
        assert_eq!(psi(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
        // An empty bin uses the floor: finite and large.
        let empty = psi(&[0.5, 0.5], &[1.0, 0.0]);
        let expected = 0.5 * 2f64.ln() + (PSI_FLOOR - 0.5) * (PSI_FLOOR / 0.5).ln();
        assert!(empty.is_finite() && close(empty, expected), "{empty}");
    }

    #[test]
    fn given_psi_values_when_levelled_then_thresholds_apply() {
        assert_eq!(DriftLevel::of(0.0), DriftLevel::Stable);
        assert_eq!(DriftLevel::of(0.099_999), DriftLevel::Stable);
        assert_eq!(DriftLevel::of(0.1), DriftLevel::Moderate);
        assert_eq!(DriftLevel::of(0.249), DriftLevel::Moderate);
        assert_eq!(DriftLevel::of(0.25), DriftLevel::Significant);
        assert_eq!(DriftLevel::of(f64::NAN), DriftLevel::Significant);
        assert_eq!(
            serde_json::to_value(DriftLevel::Moderate).unwrap(),
            serde_json::json!("moderate")
        );
        assert_eq!(DriftLevel::Significant.to_string(), "significant");
    }

    #[test]
    fn given_batch_with_baseline_shares_when_drift_then_psi_is_zero_and_stable() {
        let p = quartile_profile(0.0);
        // Two values per bin; 3.0 is in the last bin (edges are inclusive lower bounds).
        let r = feature_drift(&p, &rows(&[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 9.0])).unwrap();
        assert_eq!(r.rows, 8);
        assert!(close(r.features[0].psi, 0.0));
        assert_eq!(r.level, DriftLevel::Stable);
        assert_eq!(r.features[0].feature, "f0");
    }

    #[test]
    fn given_shifted_batch_when_drift_then_psi_matches_formula_and_is_significant() {
        let p = quartile_profile(0.0);
        // Shares 0, 0, 0.5, 0.5 against 0.25 each.
        let r = feature_drift(&p, &rows(&[2.0, 2.5, 3.0, 4.0])).unwrap();
        let expected = psi(&[0.25; 4], &[0.0, 0.0, 0.5, 0.5]);
        let by_hand = 2.0 * (PSI_FLOOR - 0.25) * (PSI_FLOOR / 0.25).ln() + 2.0 * 0.25 * 2f64.ln();
        assert!(close(expected, by_hand));
        assert!(close(r.features[0].psi, by_hand));
        assert_eq!(r.features[0].level, DriftLevel::Significant);
        assert!(close(r.max_psi, by_hand));
        // A mild shift: shares 0.2, 0.2, 0.3, 0.3 → PSI ≈ 0.0405, still stable.
        let mild = feature_drift(
            &p,
            &rows(&[0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0]),
        )
        .unwrap();
        let v = psi(&[0.25; 4], &[0.2, 0.2, 0.3, 0.3]);
        assert!(close(mild.features[0].psi, v));
        assert!((v - 0.040_546_510_810_816_4).abs() < 1e-9, "{v}");
        assert_eq!(mild.features[0].level, DriftLevel::Stable);
    }

    #[test]
    fn given_missing_values_when_drift_then_missing_is_its_own_bin() {
        let p = quartile_profile(0.2);
        // Baseline: 0.2 missing, 0.2 per bin. Batch: half missing, the rest in bin 0.
        let r = feature_drift(&p, &rows(&[f64::NAN, f64::NAN, 0.0, 0.0])).unwrap();
        let expected = psi(&[0.2, 0.2, 0.2, 0.2, 0.2], &[0.5, 0.0, 0.0, 0.0, 0.5]);
        assert!(close(r.features[0].psi, expected));
        // Neither side missing: no extra bin (PSI stays 0 for a perfect match).
        let none = quartile_profile(0.0);
        let r = feature_drift(&none, &rows(&[0.0, 1.0, 2.0, 3.0])).unwrap();
        assert!(close(r.features[0].psi, 0.0));
    }

    #[test]
    fn given_csv_batches_when_accumulated_then_counts_span_files_and_errors_name_the_cell() {
        let mut p = quartile_profile(0.0);
        p.features.push(FeatureBaseline {
            name: "f1".into(),
            index: 1,
            bins: ColumnBins {
                edges: vec![0.0],
                shares: vec![0.5, 0.5],
                missing_share: 0.0,
            },
        });
        let mut acc = DriftAccumulator::new(&p);
        acc.add_csv("a.csv", "0.5,-1\n1.5,1\r\n\n").unwrap();
        acc.add_csv("b.csv", "2.5,-1\n3.5,1\n").unwrap();
        let r = acc.finish().unwrap();
        assert_eq!(r.rows, 4);
        assert!(r.features.iter().all(|f| close(f.psi, 0.0)), "{r:?}");
        assert_eq!(r.features[1].feature, "f1");
        let err = acc.add_csv("c.csv", "1,2\n1,x\n").unwrap_err();
        assert_eq!(
            err,
            DriftError::NotANumber {
                file: "c.csv".into(),
                line: 2,
                column: 2,
                value: "x".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "c.csv line 2 column 2: \"x\" is not a number"
        );
        let err = acc.add_csv("d.csv", "1,2,3\n").unwrap_err();
        assert!(matches!(
            err,
            DriftError::FeatureMismatch {
                line: 1,
                expected: 2,
                found: 3,
                ..
            }
        ));
        // An empty cell is a missing value.
        let mut acc = DriftAccumulator::new(&p);
        acc.add_csv("e.csv", ",1\n").unwrap();
        let r = acc.finish().unwrap();
        assert!(r.features[0].psi > PSI_SIGNIFICANT, "{r:?}");
        assert_eq!(
            DriftAccumulator::new(&p).finish().unwrap_err(),
            DriftError::EmptyBatch
        );
    }

    #[test]
    fn given_trainer_profile_json_when_parsed_then_bins_are_read_and_extra_fields_ignored() {
        let doc = r#"{"rows": 3, "problem": "binary",
            "label": {"name": "label", "index": 0, "count": 3, "missing": 0, "mean": 0.5,
                      "std": 0.5, "min": 0.0, "max": 1.0,
                      "bins": {"edges": [1.0], "shares": [0.5, 0.5], "missing_share": 0.0}},
            "features": [{"name": "f0", "index": 0, "count": 3, "missing": 0, "mean": 2.0,
                          "std": 1.0, "min": 1.0, "max": 3.0,
                          "bins": {"edges": [2.0], "shares": [0.25, 0.75], "missing_share": 0.25}}]}"#;
        let p = BaselineProfile::from_json(doc.as_bytes()).unwrap();
        assert_eq!(p.rows, 3);
        assert_eq!(p.features[0].bins.edges, vec![2.0]);
        assert!(close(p.features[0].bins.missing_share, 0.25));
    }

    #[test]
    fn given_broken_profiles_when_parsed_then_errors_name_the_pointer() {
        let err = |doc: &str| match BaselineProfile::from_json(doc.as_bytes()) {
            Err(DriftError::InvalidProfile { pointer, .. }) => pointer,
            other => panic!("expected InvalidProfile, got {other:?}"),
        };
        let f = |bins: &str| {
            format!(r#"{{"features": [{{"name": "f0", "index": 0, "bins": {bins}}}]}}"#)
        };
        assert_eq!(
            err(&f(r#"{"edges": [1.0], "shares": [1.0]}"#)),
            "/features/0/bins/shares"
        );
        assert_eq!(
            err(&f(r#"{"edges": [2.0, 1.0], "shares": [0.5, 0.25, 0.25]}"#)),
            "/features/0/bins/edges/1"
        );
        assert_eq!(
            err(&f(r#"{"edges": [1.0], "shares": [0.5, 0.6]}"#)),
            "/features/0/bins/shares"
        );
        assert_eq!(
            err(&f(r#"{"edges": [1.0], "shares": [1.5, -0.5]}"#)),
            "/features/0/bins/shares/0"
        );
        assert_eq!(
            err(&f(r#"{"edges": [], "shares": [1.0], "missing_share": 2}"#)),
            "/features/0/bins/missing_share"
        );
        assert_eq!(
            err(&f(r#"{"edges": ["a"], "shares": [1.0]}"#)),
            "/features/0/bins/edges/0"
        );
        assert_eq!(err(r#"{"features": []}"#), "/features");
        assert_eq!(
            err(
                r#"{"features": [{"name": "f0", "index": 3, "bins": {"edges": [], "shares": [1.0]}}]}"#
            ),
            "/features/0/index"
        );
        assert!(BaselineProfile::from_json(b"not json").is_err());
        let msg = BaselineProfile::from_json(f(r#"{"edges": [1.0], "shares": [1.0]}"#).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("1 shares for 1 edges"), "{msg}");
    }

    #[test]
    fn given_row_with_wrong_width_when_drift_then_feature_mismatch() {
        let p = quartile_profile(0.0);
        assert!(matches!(
            feature_drift(&p, &[vec![1.0, 2.0]]),
            Err(DriftError::FeatureMismatch {
                expected: 1,
                found: 2,
                line: 1,
                ..
            })
        ));
        assert_eq!(feature_drift(&p, &[]), Err(DriftError::EmptyBatch));
    }

    #[test]
    fn given_missing_values_on_one_side_only_when_drift_then_the_missing_bin_still_counts() {
        // Baseline 0.2 missing, batch none missing: the missing bin is (0.2, 0) → floored.
        let p = quartile_profile(0.2);
        let r = feature_drift(&p, &rows(&[0.0, 1.0, 2.0, 3.0])).unwrap();
        let expected = psi(&[0.2, 0.2, 0.2, 0.2, 0.2], &[0.25, 0.25, 0.25, 0.25, 0.0]);
        assert!(close(r.features[0].psi, expected), "{r:?}");
        // Baseline none missing, batch a quarter missing: the missing bin is (0, 0.25).
        let p = quartile_profile(0.0);
        let r = feature_drift(&p, &rows(&[0.0, 1.0, 2.0, f64::NAN])).unwrap();
        let expected = psi(
            &[0.25, 0.25, 0.25, 0.25, 0.0],
            &[0.25, 0.25, 0.25, 0.0, 0.25],
        );
        assert!(close(r.features[0].psi, expected), "{r:?}");
        assert!(r.features[0].psi > 1.0, "{r:?}");
    }

    #[test]
    fn given_an_infinite_cell_when_a_csv_is_added_then_it_is_not_a_number() {
        let p = quartile_profile(0.0);
        for cell in ["inf", "-infinity", "1e999"] {
            let err = DriftAccumulator::new(&p)
                .add_csv("f.csv", &format!("1\n{cell}\n"))
                .unwrap_err();
            assert_eq!(
                err,
                DriftError::NotANumber {
                    file: "f.csv".into(),
                    line: 2,
                    column: 1,
                    value: cell.into()
                }
            );
        }
    }

    #[test]
    fn given_shares_summing_to_exactly_the_tolerance_when_validated_then_they_count_as_zero() {
        // A sum within SHARE_SUM_TOLERANCE of 0 (a feature that is all missing) is accepted;
        // just above it is not.
        let mut p = quartile_profile(1.0);
        p.features[0].bins.shares = vec![SHARE_SUM_TOLERANCE, 0.0, 0.0, 0.0];
        assert_eq!(p.validate(), Ok(()));
        p.features[0].bins.shares = vec![2.0 * SHARE_SUM_TOLERANCE, 0.0, 0.0, 0.0];
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "invalid data profile at /features/0/bins/shares: sum to 0.000002, expected 1"
        );
    }

    #[test]
    fn given_serde_paths_when_made_pointers_then_each_segment_and_index_is_one_token() {
        assert_eq!(pointer_of("."), "/");
        assert_eq!(pointer_of(""), "/");
        assert_eq!(pointer_of("rows"), "/rows");
        assert_eq!(pointer_of("a.b[2][3].c"), "/a/b/2/3/c");
        assert_eq!(pointer_of("features[10].bins"), "/features/10/bins");
    }
}
