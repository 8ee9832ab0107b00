//! Hyperparameter ranges, AWS scaling rules and the normalised search space `[0, 1]^d`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::Problems;
use crate::fields;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    Linear,
    Logarithmic,
    ReverseLogarithmic,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    Continuous {
        min: f64,
        max: f64,
        scaling: Scaling,
    },
    Integer {
        min: i64,
        max: i64,
        scaling: Scaling,
    },
    Categorical {
        values: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
}

/// The tuned hyperparameters; a point is one coordinate in `[0, 1]` per parameter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchSpace {
    pub params: Vec<Param>,
}

/// `x` in `[min, max]` → `[0, 1]` under the scaling.
pub fn to_unit(x: f64, min: f64, max: f64, scaling: Scaling) -> f64 {
    if max <= min {
        return 0.5;
    }
    let u = match scaling {
        Scaling::Linear => (x - min) / (max - min),
        Scaling::Logarithmic => (x.ln() - min.ln()) / (max.ln() - min.ln()),
        Scaling::ReverseLogarithmic => {
            ((1.0 - min).ln() - (1.0 - x).ln()) / ((1.0 - min).ln() - (1.0 - max).ln())
        }
    };
    if u.is_finite() {
        u.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// `u` in `[0, 1]` → `[min, max]` under the scaling.
pub fn from_unit(u: f64, min: f64, max: f64, scaling: Scaling) -> f64 {
    let u = u.clamp(0.0, 1.0);
    if max <= min {
        return min;
    }
    let x = match scaling {
        Scaling::Linear => min + u * (max - min),
        Scaling::Logarithmic => (min.ln() + u * (max.ln() - min.ln())).exp(),
        Scaling::ReverseLogarithmic => {
            1.0 - ((1.0 - min).ln() - u * ((1.0 - min).ln() - (1.0 - max).ln())).exp()
        }
    };
    x.clamp(min, max)
}

impl Param {
    /// The `ParameterRanges` list this range is given in.
    pub fn list_name(&self) -> &'static str {
        match self.kind {
            ParamKind::Continuous { .. } => "ContinuousParameterRanges",
            ParamKind::Integer { .. } => "IntegerParameterRanges",
            ParamKind::Categorical { .. } => "CategoricalParameterRanges",
        }
    }

    fn category_index(u: f64, k: usize) -> usize {
        ((u.clamp(0.0, 1.0) * k as f64) as usize).min(k.saturating_sub(1))
    }

    /// The hyperparameter value (a string, as SageMaker passes it) at coordinate `u`.
    pub fn value(&self, u: f64) -> String {
        match &self.kind {
            ParamKind::Continuous { min, max, scaling } => {
                format_float(from_unit(u, *min, *max, *scaling))
            }
            ParamKind::Integer { min, max, scaling } => {
                integer_at(u, *min, *max, *scaling).to_string()
            }
            ParamKind::Categorical { values } => values
                .get(Self::category_index(u, values.len()))
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Surrogate-model features of coordinate `u` (snapped to the value actually used; one-hot
    /// for categoricals).
    fn features(&self, u: f64, out: &mut Vec<f64>) {
        match &self.kind {
            ParamKind::Continuous { .. } => out.push(u.clamp(0.0, 1.0)),
            ParamKind::Integer { min, max, scaling } => {
                let v = integer_at(u, *min, *max, *scaling) as f64;
                out.push(to_unit(v, *min as f64, *max as f64, *scaling));
            }
            ParamKind::Categorical { values } => {
                let i = Self::category_index(u, values.len());
                out.extend((0..values.len()).map(|j| if j == i { 1.0 } else { 0.0 }));
            }
        }
    }
}

impl Param {
    /// The unit coordinates of this parameter's grid values, one per category; `None` for a
    /// range that is not categorical (the Grid strategy has no grid for it).
    fn grid_axis(&self) -> Option<Vec<f64>> {
        match &self.kind {
            ParamKind::Categorical { values } => {
                let k = values.len() as f64;
                Some((0..values.len()).map(|i| (i as f64 + 0.5) / k).collect())
            }
            ParamKind::Integer { .. } | ParamKind::Continuous { .. } => None,
        }
    }
}

/// SageMaker's quota of training jobs per Grid tuning job (750), shared with the execution
/// input's validation.
pub use mdlc_core::input::GRID_MAX_TRAINING_JOBS;

/// The refusal of an integer or continuous range under the Grid strategy. "Only categorical
/// parameters are supported when using the grid search strategy" (SageMaker developer guide,
/// "Understand the hyperparameter tuning strategies available", Grid search). The wording of
/// SageMaker's own ValidationException for this case is not published, so this message is ours.
pub fn grid_refuses(name: &str, list: &str) -> String {
    format!(
        "{name:?}: the Grid strategy supports only categorical parameters (CategoricalParameterRanges), not {list}"
    )
}

/// The refusal of a grid with more combinations than `limit` training jobs.
fn grid_too_large(combinations: &str, limit: u64) -> String {
    format!(
        "gives {combinations} hyperparameter combinations; the Grid strategy runs one training job per combination and allows at most {limit} training jobs per hyperparameter tuning job"
    )
}

fn integer_at(u: f64, min: i64, max: i64, scaling: Scaling) -> i64 {
    let x = from_unit(u, min as f64, max as f64, scaling).round() as i64;
    x.clamp(min, max)
}

/// Shortest round-tripping decimal form of a float.
pub fn format_float(x: f64) -> String {
    let s = format!("{x}");
    // (Display never writes an exponent: 1e21 is "1000000000000000000000")
    if s.contains('.') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

impl SearchSpace {
    pub fn dims(&self) -> usize {
        self.params.len()
    }

    /// The tuned hyperparameters at point `u`.
    pub fn values(&self, u: &[f64]) -> BTreeMap<String, String> {
        self.params
            .iter()
            .zip(u.iter().copied().chain(std::iter::repeat(0.5)))
            .map(|(p, x)| (p.name.clone(), p.value(x)))
            .collect()
    }

    /// Surrogate-model features of point `u`.
    pub fn features(&self, u: &[f64]) -> Vec<f64> {
        let mut out = Vec::new();
        for (p, x) in self
            .params
            .iter()
            .zip(u.iter().copied().chain(std::iter::repeat(0.5)))
        {
            p.features(x, &mut out);
        }
        out
    }

    /// The number of grid combinations: the product of the numbers of values of each
    /// categorical range, computed with checked arithmetic (`None` when it does not fit in a
    /// `u128`, or when a range is not categorical and has no grid).
    pub fn grid_size(&self) -> Option<u128> {
        self.params
            .iter()
            .try_fold(1u128, |total, p| match &p.kind {
                ParamKind::Categorical { values } => total.checked_mul(values.len().max(1) as u128),
                ParamKind::Integer { .. } | ParamKind::Continuous { .. } => None,
            })
    }

    /// Every combination of categorical values (Grid strategy), as points. Integer and
    /// continuous ranges are refused; the number of combinations is checked against `limit`
    /// before anything is enumerated.
    pub fn grid(&self, limit: u64) -> Result<Vec<Vec<f64>>, String> {
        let mut axes = Vec::with_capacity(self.params.len());
        for p in &self.params {
            match p.grid_axis() {
                Some(axis) => axes.push(axis),
                None => return Err(grid_refuses(&p.name, p.list_name())),
            }
        }
        let size = match self.grid_size() {
            Some(n) if n <= u128::from(limit) => n,
            Some(n) => return Err(grid_too_large(&n.to_string(), limit)),
            None => return Err(grid_too_large(&format!("more than {}", u128::MAX), limit)),
        };
        let mut points: Vec<Vec<f64>> = vec![Vec::new()];
        for axis in &axes {
            let mut next = Vec::with_capacity(points.len() * axis.len());
            for prefix in &points {
                for x in axis {
                    let mut point = prefix.clone();
                    point.push(*x);
                    next.push(point);
                }
            }
            points = next;
        }
        debug_assert_eq!(points.len() as u128, size);
        Ok(points)
    }

    /// Parses `ParameterRanges` with AWS's rules (log scaling needs `MinValue > 0`; reverse
    /// logarithmic only for continuous ranges within `[0, 1)`; `Auto` picks logarithmic when a
    /// positive range spans at least two orders of magnitude, else linear).
    pub fn parse(ranges: &Value, at: &str, grid: bool, p: &mut Problems) -> SearchSpace {
        let mut params: Vec<Param> = Vec::new();
        for list in RangeList::ALL {
            let lp = fields::join(at, list.field());
            let items = fields::opt_array(ranges, at, list.field(), p);
            for (i, r) in items.iter().enumerate() {
                let rp = format!("{lp}[{i}]");
                if let Some(param) = parse_range(r, &rp, list, grid, &params, p) {
                    params.push(param);
                }
            }
        }
        if params.len() > 30 {
            p.push(at, "may tune at most 30 hyperparameters");
        }
        SearchSpace { params }
    }
}

/// The three lists of `ParameterRanges`, in the order they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeList {
    Continuous,
    Integer,
    Categorical,
}

impl RangeList {
    const ALL: [RangeList; 3] = [
        RangeList::Continuous,
        RangeList::Integer,
        RangeList::Categorical,
    ];

    fn field(self) -> &'static str {
        match self {
            RangeList::Continuous => "ContinuousParameterRanges",
            RangeList::Integer => "IntegerParameterRanges",
            RangeList::Categorical => "CategoricalParameterRanges",
        }
    }
}

/// One range `r` of `list` (at `rp`); `None` when it is reported. A name already among
/// `params` is reported but kept; Grid takes categorical ranges only.
fn parse_range(
    r: &Value,
    rp: &str,
    list: RangeList,
    grid: bool,
    params: &[Param],
    p: &mut Problems,
) -> Option<Param> {
    let name = fields::req_str(r, rp, "Name", p)?;
    if params.iter().any(|q| q.name == name) {
        p.push(
            &format!("{rp}.Name"),
            format!("{name:?} is given more than one range"),
        );
    }
    if grid && list != RangeList::Categorical {
        p.push(rp, grid_refuses(&name, list.field()));
        return None;
    }
    let kind = match list {
        RangeList::Categorical => parse_categorical(r, rp, p)?,
        RangeList::Continuous | RangeList::Integer => parse_numeric(r, rp, list, p)?,
    };
    Some(Param { name, kind })
}

/// A categorical range's string values: at least one (too many are reported, and kept).
fn parse_categorical(r: &Value, rp: &str, p: &mut Problems) -> Option<ParamKind> {
    let values: Vec<String> = fields::opt_array(r, rp, "Values", p)
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if values.is_empty() {
        p.push(
            &format!("{rp}.Values"),
            "must list at least one string value",
        );
        return None;
    }
    if values.len() > 30 {
        p.push(&format!("{rp}.Values"), "must have at most 30 values");
    }
    Some(ParamKind::Categorical { values })
}

/// A continuous or integer range: its bounds and its scaling.
fn parse_numeric(r: &Value, rp: &str, list: RangeList, p: &mut Problems) -> Option<ParamKind> {
    let scalings = ["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"];
    let scaling_s = fields::enum_str(r, rp, "ScalingType", &scalings, "Auto", p);
    let min_s = fields::req_str(r, rp, "MinValue", p);
    let max_s = fields::req_str(r, rp, "MaxValue", p);
    let (min_s, max_s) = (min_s?, max_s?);
    let (min, max) = parse_bounds(&min_s, &max_s, list, rp, p)?;
    if min > max {
        p.push(
            rp,
            format!("MinValue {min_s} must not be greater than MaxValue {max_s}"),
        );
        return None;
    }
    let scaling = parse_scaling(&scaling_s, min, max, list, rp, p)?;
    Some(if list == RangeList::Integer {
        ParamKind::Integer {
            min: min as i64,
            max: max as i64,
            scaling,
        }
    } else {
        ParamKind::Continuous { min, max, scaling }
    })
}

/// `MinValue` and `MaxValue`: integers for an integer range, finite numbers otherwise.
fn parse_bounds(
    min_s: &str,
    max_s: &str,
    list: RangeList,
    rp: &str,
    p: &mut Problems,
) -> Option<(f64, f64)> {
    if list == RangeList::Integer {
        match (min_s.trim().parse::<i64>(), max_s.trim().parse::<i64>()) {
            (Ok(a), Ok(b)) => Some((a as f64, b as f64)),
            _ => {
                p.push(
                    rp,
                    format!("MinValue {min_s:?} and MaxValue {max_s:?} must be integers"),
                );
                None
            }
        }
    } else {
        match (min_s.trim().parse::<f64>(), max_s.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => Some((a, b)),
            _ => {
                p.push(
                    rp,
                    format!("MinValue {min_s:?} and MaxValue {max_s:?} must be numbers"),
                );
                None
            }
        }
    }
}

/// The scaling `scaling_s` names for bounds `min..=max`, with AWS's rules; `Auto` picks
/// logarithmic when a positive range spans at least two orders of magnitude.
fn parse_scaling(
    scaling_s: &str,
    min: f64,
    max: f64,
    list: RangeList,
    rp: &str,
    p: &mut Problems,
) -> Option<Scaling> {
    let field = format!("{rp}.ScalingType");
    match scaling_s {
        "Linear" => Some(Scaling::Linear),
        "Logarithmic" if min <= 0.0 => {
            p.push(&field, "Logarithmic requires MinValue greater than 0");
            None
        }
        "Logarithmic" => Some(Scaling::Logarithmic),
        "ReverseLogarithmic" if list == RangeList::Integer => {
            p.push(
                &field,
                "ReverseLogarithmic is supported only for continuous ranges",
            );
            None
        }
        "ReverseLogarithmic" if !(min >= 0.0 && max < 1.0) => {
            p.push(
                &field,
                "ReverseLogarithmic requires 0 <= MinValue <= MaxValue < 1",
            );
            None
        }
        "ReverseLogarithmic" => Some(Scaling::ReverseLogarithmic),
        _ if min > 0.0 && max / min >= 100.0 => Some(Scaling::Logarithmic),
        _ => Some(Scaling::Linear),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    /// The surrogate's features: a continuous coordinate as it is, an integer snapped to its
    /// value's position, a categorical one-hot.
    #[test]
    fn given_a_point_then_the_surrogate_features() {
        let ranges = json!({
            "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0", "MaxValue": "1"}],
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "5"}],
            "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart", "gblinear"]}]
        });
        let (space, message) = problems_of(ranges, false);
        assert_eq!(message, "");
        let f = space.features(&[0.3, 0.5, 0.5]);
        assert_eq!(f, vec![0.3, 0.5, 0.0, 1.0, 0.0]);
    }

    /// At most 30 tuned hyperparameters, and at most 30 values of a categorical one: 30 pass,
    /// 31 are refused.
    #[test]
    fn given_30_or_31_ranges_or_values_then_31_is_refused() {
        let parse = |ranges: Value| problems_of(ranges, false).1;
        let continuous = |n: usize| {
            let list: Vec<Value> = (0..n)
                .map(|i| json!({"Name": format!("p{i}"), "MinValue": "0", "MaxValue": "1"}))
                .collect();
            json!({ "ContinuousParameterRanges": list })
        };
        assert_eq!(parse(continuous(30)), "");
        let err = parse(continuous(31));
        assert!(err.contains("may tune at most 30 hyperparameters"), "{err}");
        let categorical = |n: usize| {
            let values: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            json!({ "CategoricalParameterRanges": [{"Name": "c", "Values": values}] })
        };
        assert_eq!(parse(categorical(30)), "");
        let err = parse(categorical(31));
        assert!(err.contains("must have at most 30 values"), "{err}");
    }

    /// Continuous bounds must be finite numbers; an explicit Logarithmic scaling is kept on a
    /// narrow range (Auto would pick Linear there); ReverseLogarithmic needs MaxValue under 1.
    #[test]
    fn given_bounds_and_scalings_then_their_rules() {
        let one = |min: &str, max: &str, scaling: &str| {
            let r = json!({"ContinuousParameterRanges": [
                {"Name": "x", "MinValue": min, "MaxValue": max, "ScalingType": scaling}
            ]});
            problems_of(r, false)
        };
        for (min, max) in [("0", "inf"), ("NaN", "1"), ("-inf", "0")] {
            let err = one(min, max, "Linear").1;
            assert!(err.contains("must be numbers"), "{min} {max}: {err}");
        }
        let (s, err) = one("1", "10", "Logarithmic");
        assert_eq!(err, "");
        assert!(
            matches!(
                s.params[0].kind,
                ParamKind::Continuous {
                    scaling: Scaling::Logarithmic,
                    ..
                }
            ),
            "{s:?}"
        );
        let (s, _) = one("1", "10", "Auto");
        assert!(
            matches!(
                s.params[0].kind,
                ParamKind::Continuous {
                    scaling: Scaling::Linear,
                    ..
                }
            ),
            "{s:?}"
        );
        let err = one("0.5", "1", "ReverseLogarithmic").1;
        assert!(
            err.contains("ReverseLogarithmic requires 0 <= MinValue <= MaxValue < 1"),
            "{err}"
        );
        assert_eq!(one("0.5", "0.99", "ReverseLogarithmic").1, "");
    }

    /// A float in its shortest round-tripping form, whole numbers with ".0".
    #[test]
    fn format_float_writes_whole_numbers_with_a_point() {
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(3.0), "3.0");
        assert_eq!(format_float(-2.0), "-2.0");
        assert_eq!(format_float(1e21), "1000000000000000000000.0");
        assert_eq!(format_float(1e-7), "0.0000001");
        assert_eq!(format_float(f64::INFINITY), "inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_float(f64::NAN), "NaN");
    }

    /// Each scaling's map to [0, 1] and back at known points: the middle of [1, 5] is 3, of
    /// [1, 100] on a log scale 10, of [0.9, 0.999] on a reverse-log scale 0.99; values outside
    /// the range clamp, an empty range maps to 0.5 and back to its minimum, and a value the
    /// scaling cannot take (the log of a negative) to 0.
    #[test]
    fn to_unit_and_from_unit_have_each_scalings_known_values() {
        use Scaling::*;
        close(to_unit(3.0, 1.0, 5.0, Linear), 0.5);
        close(to_unit(2.0, 1.0, 5.0, Linear), 0.25);
        close(from_unit(0.25, 1.0, 5.0, Linear), 2.0);
        close(to_unit(10.0, 1.0, 100.0, Logarithmic), 0.5);
        close(from_unit(0.5, 1.0, 100.0, Logarithmic), 10.0);
        close(from_unit(0.25, 1.0, 10_000.0, Logarithmic), 10.0);
        close(to_unit(0.99, 0.9, 0.999, ReverseLogarithmic), 0.5);
        close(from_unit(0.5, 0.9, 0.999, ReverseLogarithmic), 0.99);
        close(to_unit(0.0, 1.0, 5.0, Linear), 0.0);
        close(to_unit(9.0, 1.0, 5.0, Linear), 1.0);
        close(from_unit(1.5, 1.0, 5.0, Linear), 5.0);
        close(from_unit(-0.5, 1.0, 5.0, Linear), 1.0);
        close(to_unit(2.0, 3.0, 3.0, Linear), 0.5);
        close(from_unit(0.7, 3.0, 3.0, Logarithmic), 3.0);
        close(to_unit(-1.0, 1.0, 100.0, Logarithmic), 0.0);
    }

    #[test]
    fn scaling_round_trips_and_spreads_like_aws() {
        for s in [Scaling::Linear, Scaling::Logarithmic] {
            for x in [0.001, 0.01, 0.5, 1.0] {
                let u = to_unit(x, 0.001, 1.0, s);
                assert!((from_unit(u, 0.001, 1.0, s) - x).abs() < 1e-9, "{s:?} {x}");
            }
        }
        // Log: the middle of the unit interval is the geometric mean.
        assert!((from_unit(0.5, 0.01, 1.0, Scaling::Logarithmic) - 0.1).abs() < 1e-12);
        // Reverse log: resolution is concentrated near 1.
        let mid = from_unit(0.5, 0.0, 0.999, Scaling::ReverseLogarithmic);
        assert!(mid > 0.9 && mid < 0.99, "{mid}");
        assert!((to_unit(mid, 0.0, 0.999, Scaling::ReverseLogarithmic) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn given_invalid_scalings_when_parsed_then_each_is_reported_with_its_field() {
        let ranges = json!({
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"},
                {"Name": "sub", "MinValue": "0.5", "MaxValue": "1.5", "ScalingType": "ReverseLogarithmic"},
                {"Name": "ok", "MinValue": "0.1", "MaxValue": "0.9", "ScalingType": "ReverseLogarithmic"}
            ],
            "IntegerParameterRanges": [
                {"Name": "depth", "MinValue": "2", "MaxValue": "8", "ScalingType": "ReverseLogarithmic"},
                {"Name": "rounds", "MinValue": "x", "MaxValue": "8"}
            ]
        });
        let mut p = Problems::new();
        let space = SearchSpace::parse(&ranges, "ParameterRanges", false, &mut p);
        assert_eq!(space.params.len(), 1);
        let e = p.finish().unwrap_err().to_string();
        assert!(e.contains("ContinuousParameterRanges[0].ScalingType' Logarithmic requires MinValue greater than 0"), "{e}");
        assert!(
            e.contains("ContinuousParameterRanges[1].ScalingType"),
            "{e}"
        );
        assert!(e.contains("IntegerParameterRanges[0].ScalingType"), "{e}");
        assert!(e.contains("IntegerParameterRanges[1]' MinValue"), "{e}");
    }

    /// The problems `ranges` gives, as one message.
    fn problems_of(ranges: Value, grid: bool) -> (SearchSpace, String) {
        let mut p = Problems::new();
        let space = SearchSpace::parse(&ranges, "R", grid, &mut p);
        let message = match p.finish() {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        };
        (space, message)
    }

    #[test]
    fn given_malformed_ranges_when_parsed_then_every_problem_is_named_in_order() {
        let (space, message) = problems_of(
            json!({
                "ContinuousParameterRanges": [
                    {"Name": "a", "MinValue": "1", "MaxValue": "x"},
                    {"Name": "b", "MinValue": "2", "MaxValue": "1"},
                    {"Name": "c", "MinValue": "0.5", "MaxValue": "0.9", "ScalingType": "Sideways"},
                    {"MinValue": "0", "MaxValue": "1"},
                    {"Name": "d", "MaxValue": "1"},
                    {"Name": "e", "MinValue": "0", "MaxValue": "1.5", "ScalingType": "ReverseLogarithmic"}
                ],
                "IntegerParameterRanges": [
                    {"Name": "f", "MinValue": "1.5", "MaxValue": "3"},
                    {"Name": "g", "MinValue": "1", "MaxValue": "3", "ScalingType": "ReverseLogarithmic"},
                    {"Name": "c", "MinValue": "1", "MaxValue": "3"}
                ],
                "CategoricalParameterRanges": [
                    {"Name": "h", "Values": []},
                    {"Name": "i", "Values": (0..31).map(|n| n.to_string()).collect::<Vec<_>>()}
                ]
            }),
            false,
        );
        assert_eq!(
            message,
            [
                "11 validation errors detected: 'R.ContinuousParameterRanges[0]' MinValue \"1\" and MaxValue \"x\" must be numbers",
                "'R.ContinuousParameterRanges[1]' MinValue 2 must not be greater than MaxValue 1",
                "'R.ContinuousParameterRanges[2].ScalingType' has value \"Sideways\", which failed to satisfy constraint: Member must satisfy enum value set: [Auto, Linear, Logarithmic, ReverseLogarithmic]",
                "'R.ContinuousParameterRanges[3].Name' is required",
                "'R.ContinuousParameterRanges[4].MinValue' is required",
                "'R.ContinuousParameterRanges[5].ScalingType' ReverseLogarithmic requires 0 <= MinValue <= MaxValue < 1",
                "'R.IntegerParameterRanges[0]' MinValue \"1.5\" and MaxValue \"3\" must be integers",
                "'R.IntegerParameterRanges[1].ScalingType' ReverseLogarithmic is supported only for continuous ranges",
                "'R.IntegerParameterRanges[2].Name' \"c\" is given more than one range",
                "'R.CategoricalParameterRanges[0].Values' must list at least one string value",
                "'R.CategoricalParameterRanges[1].Values' must have at most 30 values",
            ]
            .join("; ")
        );
        // An invalid scaling type falls back to Auto; a range with a problem in its values is
        // still kept when its values are there.
        let names: Vec<&str> = space.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["c", "c", "i"]);
        let many: Vec<Value> = (0..31)
            .map(|n| json!({"Name": format!("p{n}"), "Values": ["1"]}))
            .collect();
        let (space, message) = problems_of(json!({"CategoricalParameterRanges": many}), false);
        assert_eq!(space.params.len(), 31);
        assert_eq!(
            message,
            "1 validation error detected: 'R' may tune at most 30 hyperparameters"
        );
    }

    #[test]
    fn given_valid_ranges_when_parsed_then_each_kind_bound_and_scaling_is_kept() {
        let (space, message) = problems_of(
            json!({
                "ContinuousParameterRanges": [
                    {"Name": "a", "MinValue": " 0.001 ", "MaxValue": "1"},
                    {"Name": "b", "MinValue": "0.1", "MaxValue": "0.9", "ScalingType": "ReverseLogarithmic"},
                    {"Name": "c", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Linear"}
                ],
                "IntegerParameterRanges": [
                    {"Name": "d", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"},
                    {"Name": "e", "MinValue": "-3", "MaxValue": "3"}
                ],
                "CategoricalParameterRanges": [{"Name": "f", "Values": ["x", 2, "y"]}]
            }),
            false,
        );
        assert_eq!(message, "");
        assert_eq!(
            space.params,
            [
                Param {
                    name: "a".into(),
                    kind: ParamKind::Continuous {
                        min: 0.001,
                        max: 1.0,
                        scaling: Scaling::Logarithmic
                    }
                },
                Param {
                    name: "b".into(),
                    kind: ParamKind::Continuous {
                        min: 0.1,
                        max: 0.9,
                        scaling: Scaling::ReverseLogarithmic
                    }
                },
                Param {
                    name: "c".into(),
                    kind: ParamKind::Continuous {
                        min: 1.0,
                        max: 1000.0,
                        scaling: Scaling::Linear
                    }
                },
                Param {
                    name: "d".into(),
                    kind: ParamKind::Integer {
                        min: 1,
                        max: 1000,
                        scaling: Scaling::Logarithmic
                    }
                },
                Param {
                    name: "e".into(),
                    kind: ParamKind::Integer {
                        min: -3,
                        max: 3,
                        scaling: Scaling::Linear
                    }
                },
                Param {
                    name: "f".into(),
                    kind: ParamKind::Categorical {
                        values: vec!["x".into(), "y".into()]
                    }
                },
            ]
        );
    }

    #[test]
    fn auto_scaling_picks_log_for_wide_positive_ranges() {
        let ranges = json!({"ContinuousParameterRanges": [
            {"Name": "a", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Auto"},
            {"Name": "b", "MinValue": "0", "MaxValue": "10"}]});
        let mut p = Problems::new();
        let s = SearchSpace::parse(&ranges, "R", false, &mut p);
        assert!(p.is_empty());
        assert!(matches!(
            s.params[0].kind,
            ParamKind::Continuous {
                scaling: Scaling::Logarithmic,
                ..
            }
        ));
        assert!(matches!(
            s.params[1].kind,
            ParamKind::Continuous {
                scaling: Scaling::Linear,
                ..
            }
        ));
    }

    #[test]
    fn given_categorical_ranges_when_gridded_then_every_combination_appears_once() {
        let ranges = json!({
            "CategoricalParameterRanges": [
                {"Name": "depth", "Values": ["2", "3", "4"]},
                {"Name": "obj", "Values": ["a", "b"]}
            ]
        });
        let mut p = Problems::new();
        let s = SearchSpace::parse(&ranges, "R", true, &mut p);
        assert!(p.is_empty());
        let grid = s.grid(1000).unwrap();
        assert_eq!(grid.len(), 6);
        let mut combos: Vec<String> = grid.iter().map(|u| format!("{:?}", s.values(u))).collect();
        combos.sort();
        combos.dedup();
        assert_eq!(combos.len(), 6);
        for d in ["2", "3", "4"] {
            for o in ["a", "b"] {
                assert!(
                    combos
                        .iter()
                        .any(|c| c.contains(&format!("\"depth\": \"{d}\""))
                            && c.contains(&format!("\"obj\": \"{o}\""))),
                    "{d}{o}: {combos:?}"
                );
            }
        }
    }

    #[test]
    fn given_integer_and_continuous_ranges_under_grid_when_parsed_then_each_is_refused_by_name_and_path()
     {
        let ranges = json!({
            "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0", "MaxValue": "1"}],
            "IntegerParameterRanges": [
                {"Name": "obj2", "MinValue": "1", "MaxValue": "1"},
                {"Name": "depth", "MinValue": "2", "MaxValue": "4"}
            ],
            "CategoricalParameterRanges": [{"Name": "obj", "Values": ["a", "b"]}]
        });
        let mut p = Problems::new();
        let s = SearchSpace::parse(&ranges, "R", true, &mut p);
        let names: Vec<&str> = s.params.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["obj"]);
        assert_eq!(
            p.finish().unwrap_err().to_string(),
            "3 validation errors detected: \
             'R.ContinuousParameterRanges[0]' \"eta\": the Grid strategy supports only categorical parameters (CategoricalParameterRanges), not ContinuousParameterRanges; \
             'R.IntegerParameterRanges[0]' \"obj2\": the Grid strategy supports only categorical parameters (CategoricalParameterRanges), not IntegerParameterRanges; \
             'R.IntegerParameterRanges[1]' \"depth\": the Grid strategy supports only categorical parameters (CategoricalParameterRanges), not IntegerParameterRanges"
        );
        // The same ranges are accepted by the other strategies.
        let mut p = Problems::new();
        let s = SearchSpace::parse(&ranges, "R", false, &mut p);
        assert!(p.is_empty());
        assert_eq!(s.dims(), 4);
    }

    fn integer(name: &str, min: i64, max: i64) -> Param {
        Param {
            name: name.into(),
            kind: ParamKind::Integer {
                min,
                max,
                scaling: Scaling::Linear,
            },
        }
    }

    fn categorical(name: &str, k: usize) -> Param {
        Param {
            name: name.into(),
            kind: ParamKind::Categorical {
                values: (0..k).map(|i| i.to_string()).collect(),
            },
        }
    }

    #[test]
    fn given_a_space_with_an_integer_range_when_gridded_then_it_is_refused() {
        let space = SearchSpace {
            params: vec![categorical("c", 2), integer("n", 1, 3)],
        };
        assert_eq!(space.grid_size(), None);
        assert_eq!(
            space.grid(GRID_MAX_TRAINING_JOBS).unwrap_err(),
            "\"n\": the Grid strategy supports only categorical parameters (CategoricalParameterRanges), not IntegerParameterRanges"
        );
    }

    #[test]
    fn given_a_grid_far_over_the_limit_when_gridded_then_it_is_refused_before_enumerating() {
        // 30 x 30 x 30: each range within SageMaker's 30 values, the product far over 750.
        let space = SearchSpace {
            params: (0..3).map(|i| categorical(&format!("c{i}"), 30)).collect(),
        };
        assert_eq!(space.grid_size(), Some(27_000));
        assert_eq!(
            space.grid(GRID_MAX_TRAINING_JOBS).unwrap_err(),
            "gives 27000 hyperparameter combinations; the Grid strategy runs one training job per combination and allows at most 750 training jobs per hyperparameter tuning job"
        );
    }

    #[test]
    fn given_a_grid_whose_product_overflows_u128_when_gridded_then_it_is_refused() {
        // 30 ranges of 30 values (SageMaker's maximums): 30^30 > u128::MAX.
        let space = SearchSpace {
            params: (0..30).map(|i| categorical(&format!("c{i}"), 30)).collect(),
        };
        assert_eq!(space.grid_size(), None);
        let e = space.grid(GRID_MAX_TRAINING_JOBS).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "gives more than {} hyperparameter combinations",
                u128::MAX
            )),
            "{e}"
        );
    }

    #[test]
    fn given_a_grid_of_exactly_the_limit_when_gridded_then_every_point_is_listed_and_one_more_is_refused()
     {
        // 25 x 30 = 750 combinations: the limit itself is allowed.
        let at_limit = SearchSpace {
            params: vec![categorical("a", 25), categorical("b", 30)],
        };
        assert_eq!(at_limit.grid(GRID_MAX_TRAINING_JOBS).unwrap().len(), 750);
        let over = SearchSpace {
            params: vec![categorical("a", 26), categorical("b", 30)],
        };
        assert_eq!(
            over.grid(GRID_MAX_TRAINING_JOBS).unwrap_err(),
            "gives 780 hyperparameter combinations; the Grid strategy runs one training job per combination and allows at most 750 training jobs per hyperparameter tuning job"
        );
    }

    #[test]
    fn integer_values_stay_in_range_and_cover_the_ends() {
        let param = Param {
            name: "n".into(),
            kind: ParamKind::Integer {
                min: 1,
                max: 100,
                scaling: Scaling::Logarithmic,
            },
        };
        assert_eq!(param.value(0.0), "1");
        assert_eq!(param.value(1.0), "100");
        assert_eq!(param.value(0.5), "10");
    }
}
