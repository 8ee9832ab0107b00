//! The two statistics of the report: the median and the nearest-rank percentile.

/// The median: the middle value of an odd count, the mean of the two middle values of an even
/// count; `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let ordered = sorted(values);
    let n = ordered.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(ordered[n / 2]),
        _ => Some((ordered[n / 2 - 1] + ordered[n / 2]) / 2.0),
    }
}

/// The value at rank `q * (n - 1)` of the sorted values, the rank rounded half to even (so
/// that `percentile(v, 0.9)` of 20 runs is the 18th fastest); `None` for no values.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let ordered = sorted(values);
    let last = ordered.len().checked_sub(1)?;
    let rank = (q * last as f64).round_ties_even().clamp(0.0, last as f64);
    // `rank` is a whole number in 0..=last, so the cast is exact.
    Some(ordered[rank as usize])
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut ordered = values.to_vec();
    ordered.sort_by(f64::total_cmp);
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_odd_count_is_the_middle_value() {
        assert_eq!(median(&[9.0, 1.0, 5.0]), Some(5.0));
        assert_eq!(median(&[4.0]), Some(4.0));
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_two_middle_values() {
        assert_eq!(median(&[8.0, 1.0, 3.0, 100.0]), Some(5.5));
        assert_eq!(median(&[2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn no_values_have_no_median_and_no_percentile() {
        assert_eq!(median(&[]), None);
        assert_eq!(percentile(&[], 0.9), None);
    }

    #[test]
    fn the_90th_percentile_of_20_runs_is_the_18th_value() {
        let values: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        // rank 0.9 * 19 = 17.1 → 17 (0-based), the 18th value
        assert_eq!(percentile(&values, 0.9), Some(18.0));
    }

    #[test]
    fn a_percentile_rank_half_way_rounds_to_even() {
        // 6 values: rank 0.9 * 5 = 4.5 → 4 (to even), not 5
        let values = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0];
        assert_eq!(percentile(&values, 0.9), Some(50.0));
        // 4 values: rank 0.5 * 3 = 1.5 → 2 (to even)
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(3.0));
    }

    #[test]
    fn a_percentile_of_one_value_is_that_value() {
        assert_eq!(percentile(&[7.5], 0.9), Some(7.5));
        assert_eq!(percentile(&[7.5], 0.0), Some(7.5));
    }
}
