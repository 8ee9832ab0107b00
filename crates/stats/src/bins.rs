//! Column bins of a data profile (`profile.json`, written by `mdlc-trainer preprocess`).

use serde::{Deserialize, Serialize};

/// Quantile bins of one column: `edges` split values into `edges.len() + 1` bins (a value `x`
/// falls in bin `#{e in edges : e <= x}`, see [`ColumnBins::bin_of`]); `shares` are the shares
/// of the non-missing values in each bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnBins {
    /// Strictly increasing, finite.
    pub edges: Vec<f64>,
    /// `edges.len() + 1` shares of the non-missing values, summing to 1 (or all 0 when the
    /// column had no values).
    pub shares: Vec<f64>,
    /// Share of missing values among all rows (`missing_share` in `profile.json`;
    /// `missingShare` is read too).
    #[serde(default, alias = "missingShare")]
    pub missing_share: f64,
}

impl ColumnBins {
    /// The bin of a (non-missing) value: how many edges are at or below it.
    pub fn bin_of(&self, value: f64) -> usize {
        self.edges.partition_point(|&e| e <= value)
    }

    /// The bins of `values` cut at `edges`: the shares of the non-missing values in each bin
    /// and the share of missing (NaN) values among all. No values: every share 0.
    pub fn with_edges(edges: Vec<f64>, values: impl IntoIterator<Item = f64>) -> ColumnBins {
        let mut bins = ColumnBins {
            shares: vec![0.0; edges.len() + 1],
            edges,
            missing_share: 0.0,
        };
        let (mut present, mut total) = (0usize, 0usize);
        for v in values {
            total += 1;
            if v.is_nan() {
                continue;
            }
            present += 1;
            let b = bins.bin_of(v);
            if let Some(s) = bins.shares.get_mut(b) {
                *s += 1.0;
            }
        }
        if present > 0 {
            for s in &mut bins.shares {
                *s /= present as f64;
            }
        }
        if total > 0 {
            bins.missing_share = (total - present) as f64 / total as f64;
        }
        bins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_on_an_edge_falls_in_the_bin_above_it() {
        let b = ColumnBins {
            edges: vec![1.0, 2.0],
            shares: vec![0.0; 3],
            missing_share: 0.0,
        };
        assert_eq!(b.bin_of(0.5), 0);
        assert_eq!(b.bin_of(1.0), 1);
        assert_eq!(b.bin_of(1.5), 1);
        assert_eq!(b.bin_of(2.0), 2);
        assert_eq!(b.bin_of(9.0), 2);
    }

    #[test]
    fn shares_count_present_values_and_missing_share_counts_all_rows() {
        let b = ColumnBins::with_edges(vec![2.0], [1.0, f64::NAN, 2.0, 3.0, 0.0]);
        assert_eq!(b.shares, vec![0.5, 0.5]);
        assert_eq!(b.missing_share, 0.2);
        let empty = ColumnBins::with_edges(vec![], std::iter::empty());
        assert_eq!(empty.shares, vec![0.0]);
        assert_eq!(empty.missing_share, 0.0);
        let all_missing = ColumnBins::with_edges(vec![], [f64::NAN, f64::NAN]);
        assert_eq!(all_missing.shares, vec![0.0]);
        assert_eq!(all_missing.missing_share, 1.0);
    }

    #[test]
    fn the_profile_field_is_missing_share_and_missing_share_in_camel_case_is_read_too() {
        let b = ColumnBins::with_edges(vec![1.0], [0.0, f64::NAN]);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"edges": [1.0], "shares": [1.0, 0.0], "missing_share": 0.5})
        );
        let camel: ColumnBins =
            serde_json::from_str(r#"{"edges": [1.0], "shares": [1.0, 0.0], "missingShare": 0.5}"#)
                .unwrap();
        assert_eq!(camel, b);
        let absent: ColumnBins = serde_json::from_str(r#"{"edges": [], "shares": [1.0]}"#).unwrap();
        assert_eq!(absent.missing_share, 0.0);
    }
}
