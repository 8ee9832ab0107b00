//! Metrics read from a job's log with `MetricDefinitions` regexes.

use regex::Regex;
use serde_json::Value;

use crate::error::Problems;
use crate::fields;

/// One metric definition: the name and a regex whose first group is the value.
#[derive(Debug, Clone)]
pub struct MetricDef {
    pub name: String,
    pub regex: Regex,
}

/// The metric names the built-in XGBoost algorithm publishes, per channel `train`/`validation`.
const XGBOOST_METRICS: &[&str] = &[
    "rmse",
    "mae",
    "auc",
    "logloss",
    "error",
    "aucpr",
    "mape",
    "mse",
    "rmsle",
    "merror",
    "mlogloss",
    "ndcg",
    "map",
    "poisson-nloglik",
    "gamma-nloglik",
    "cox-nloglik",
    "gamma-deviance",
    "tweedie-nloglik",
];

/// The metric definitions of SageMaker's built-in XGBoost (`validation:rmse` from lines such as
/// `[3]#011train-rmse:0.52#011validation-rmse:0.61`; a literal tab is accepted for `#011`).
pub fn builtin_xgboost() -> Vec<MetricDef> {
    let mut out = Vec::new();
    for channel in ["train", "validation"] {
        for m in XGBOOST_METRICS {
            let pattern = format!(
                r"(?:#011|\t){channel}-{}:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)",
                regex::escape(m)
            );
            if let Ok(regex) = Regex::new(&pattern) {
                out.push(MetricDef {
                    name: format!("{channel}:{m}"),
                    regex,
                });
            }
        }
    }
    out
}

/// Parses `AlgorithmSpecification.MetricDefinitions`, reporting bad entries.
pub fn parse_definitions(list: &[Value], prefix: &str, p: &mut Problems) -> Vec<MetricDef> {
    let mut out: Vec<MetricDef> = Vec::new();
    for (i, d) in list.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        let name = fields::req_str(d, &at, "Name", p);
        let regex = fields::req_str(d, &at, "Regex", p);
        if let (Some(name), Some(regex)) = (name, regex) {
            match Regex::new(&regex) {
                Ok(r) if r.captures_len() >= 2 => {
                    if out.iter().any(|m| m.name == name) {
                        p.push(&format!("{at}.Name"), format!("{name:?} is defined twice"));
                    }
                    out.push(MetricDef { name, regex: r })
                }
                Ok(_) => p.push(
                    &format!("{at}.Regex"),
                    "must have a capture group for the value",
                ),
                Err(e) => p.push(&format!("{at}.Regex"), format!("is not a valid regex: {e}")),
            }
        }
    }
    out
}

/// The metric values on one log line, in definition order.
pub fn scan_line(defs: &[MetricDef], line: &str) -> Vec<(String, f64)> {
    defs.iter()
        .filter_map(|d| {
            let caps = d.regex.captures(line)?;
            let v: f64 = caps.get(1)?.as_str().parse().ok()?;
            v.is_finite().then(|| (d.name.clone(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn given_xgboost_log_line_when_scanned_then_train_and_validation_metrics_are_read() {
        let defs = builtin_xgboost();
        let got = scan_line(&defs, "[3]#011train-rmse:0.5213#011validation-rmse:6.1e-1");
        assert!(got.contains(&("train:rmse".to_string(), 0.5213)));
        assert!(got.contains(&("validation:rmse".to_string(), 0.61)));
        let tab = scan_line(&defs, "[0]\ttrain-auc:0.9\tvalidation-auc:0.85");
        assert_eq!(tab.len(), 2);
    }

    #[test]
    fn given_bad_definitions_when_parsed_then_each_is_reported() {
        let mut p = Problems::new();
        let defs = parse_definitions(
            &[
                json!({"Name": "loss", "Regex": "loss=([0-9.]+)"}),
                json!({"Name": "x", "Regex": "(["}),
                json!({"Name": "y", "Regex": "nogroup"}),
            ],
            "AlgorithmSpecification.MetricDefinitions",
            &mut p,
        );
        assert_eq!(defs.len(), 1);
        let e = p.finish().unwrap_err().to_string();
        assert!(e.contains("MetricDefinitions[1].Regex"), "{e}");
        assert!(e.contains("MetricDefinitions[2].Regex"), "{e}");
        assert_eq!(
            scan_line(&defs, "epoch 2 loss=0.25"),
            vec![("loss".to_string(), 0.25)]
        );
    }
}
