//! Training parameters from SageMaker's hyperparameters.
//!
//! SageMaker passes hyperparameters as a JSON object of strings; numbers and booleans are
//! accepted too. Names, types and ranges come from the table in [`crate::hyperparameters`];
//! every problem is collected, so one failure message lists all bad fields.

use crate::hyperparameters::{self as hp, Effect, HpValue};
use crate::metrics::Metric;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The learning objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    SquaredError,
    Logistic,
}

impl Objective {
    pub fn parse(s: &str) -> Option<Objective> {
        match s {
            "reg:squarederror" | "reg:linear" => Some(Objective::SquaredError),
            "binary:logistic" => Some(Objective::Logistic),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Objective::SquaredError => "reg:squarederror",
            Objective::Logistic => "binary:logistic",
        }
    }

    pub fn default_metric(self) -> Metric {
        match self {
            Objective::SquaredError => Metric::Rmse,
            Objective::Logistic => Metric::Logloss,
        }
    }
}

/// Validated training parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    pub num_round: usize,
    /// 0: no depth limit (XGBoost's meaning).
    pub max_depth: usize,
    pub eta: f64,
    pub gamma: f64,
    pub alpha: f64,
    pub lambda: f64,
    pub min_child_weight: f64,
    pub max_delta_step: f64,
    pub subsample: f64,
    pub colsample_bytree: f64,
    pub colsample_bylevel: f64,
    pub colsample_bynode: f64,
    pub objective: Objective,
    /// Metrics to report; the last one drives early stopping (as in XGBoost).
    pub eval_metrics: Vec<Metric>,
    pub early_stopping_rounds: Option<usize>,
    pub seed: u64,
    pub nthread: usize,
    pub max_bin: usize,
    /// `None`: estimated from the labels (mean, or the positive rate for logistic).
    pub base_score: Option<f64>,
    pub scale_pos_weight: f64,
    pub verbosity: u8,
    /// `_tuning_objective_metric`: reported and driving early stopping (added last).
    pub tuning_metric: Option<Metric>,
    /// One log line per given hyperparameter that has no effect on the built-in trainer.
    pub no_effect: Vec<String>,
}

impl TrainParams {
    /// XGBoost's defaults with the given number of rounds.
    pub fn new(num_round: usize) -> TrainParams {
        TrainParams {
            num_round,
            max_depth: 6,
            eta: 0.3,
            gamma: 0.0,
            alpha: 0.0,
            lambda: 1.0,
            min_child_weight: 1.0,
            max_delta_step: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            colsample_bylevel: 1.0,
            colsample_bynode: 1.0,
            objective: Objective::SquaredError,
            eval_metrics: Vec::new(),
            early_stopping_rounds: None,
            seed: 0,
            nthread: default_threads(),
            max_bin: 256,
            base_score: None,
            scale_pos_weight: 1.0,
            verbosity: 1,
            tuning_metric: None,
            no_effect: Vec::new(),
        }
    }

    /// The metrics to report: the configured ones, or the objective's default.
    pub fn metrics(&self) -> Vec<Metric> {
        if self.eval_metrics.is_empty() {
            vec![self.objective.default_metric()]
        } else {
            self.eval_metrics.clone()
        }
    }

    /// Parses and validates a hyperparameter object (SageMaker's `hyperparameters.json`)
    /// against the table in [`crate::hyperparameters`], then checks that the built-in trainer
    /// can honour the values it depends on.
    pub fn from_json(hps: &Map<String, Value>) -> Result<TrainParams, HyperparameterErrors> {
        let mut errors = Vec::new();
        let mut texts = BTreeMap::new();
        for (name, value) in hps {
            match value {
                Value::String(s) => {
                    texts.insert(name.clone(), s.trim().to_string());
                }
                Value::Number(n) => {
                    texts.insert(name.clone(), n.to_string());
                }
                Value::Bool(b) => {
                    texts.insert(name.clone(), b.to_string());
                }
                other => errors.push(HyperparameterError::new(
                    name,
                    format!("Hyperparameter {name}: must be a string, got {other}"),
                )),
            }
        }
        let validated = match hp::validate(&texts) {
            Ok(v) => v,
            Err(rejections) => {
                errors.extend(
                    rejections
                        .into_iter()
                        .map(|r| HyperparameterError::new(&r.name, r.message)),
                );
                return Err(HyperparameterErrors(errors));
            }
        };
        if !errors.is_empty() {
            return Err(HyperparameterErrors(errors));
        }
        let mut p = TrainParams::new(0);
        for (name, value) in &validated {
            let row = hp::lookup(name).expect("validated names are in the table");
            if let Effect::NoEffect(why) = row.effect {
                p.no_effect.push(format!(
                    "hyperparameter {name}={} has no effect on the built-in trainer: {why}",
                    texts
                        .iter()
                        .find(|(k, _)| hp::lookup(k).is_some_and(|r| r.name == *name))
                        .map_or("", |(_, v)| v.as_str())
                ));
                continue;
            }
            if let Err(message) = p.apply(name, value) {
                errors.push(HyperparameterError::new(name, message));
            }
        }
        p.check_combinations(&validated, &mut errors);
        if errors.is_empty() {
            Ok(p)
        } else {
            Err(HyperparameterErrors(errors))
        }
    }

    /// Sets the field of one honoured (or value-limited) hyperparameter; an error says why
    /// the built-in trainer cannot honour the value.
    fn apply(&mut self, name: &str, value: &HpValue) -> Result<(), String> {
        let unsupported = |what: String| {
            Err(format!(
                "Hyperparameter {name}: {what} is not supported by the built-in trainer"
            ))
        };
        match (name, value) {
            ("num_round", HpValue::Int(v)) => self.num_round = to_usize(*v),
            ("max_depth", HpValue::Int(v)) => self.max_depth = to_usize(*v),
            ("early_stopping_rounds", HpValue::Int(v)) => {
                self.early_stopping_rounds = Some(to_usize(*v))
            }
            ("nthread", HpValue::Int(v)) => self.nthread = to_usize(*v).max(1),
            ("verbosity", HpValue::Int(v)) => self.verbosity = (*v).clamp(0, 3) as u8,
            ("seed", HpValue::Int(v)) => self.seed = *v as u64,
            ("eta", HpValue::Float(v)) => self.eta = *v,
            ("gamma", HpValue::Float(v)) => self.gamma = *v,
            ("alpha", HpValue::Float(v)) => self.alpha = *v,
            ("lambda", HpValue::Float(v)) => self.lambda = *v,
            ("min_child_weight", HpValue::Float(v)) => self.min_child_weight = *v,
            ("max_delta_step", HpValue::Float(v)) => self.max_delta_step = *v,
            ("subsample", HpValue::Float(v)) => self.subsample = *v,
            ("colsample_bytree", HpValue::Float(v)) => self.colsample_bytree = *v,
            ("colsample_bylevel", HpValue::Float(v)) => self.colsample_bylevel = *v,
            ("colsample_bynode", HpValue::Float(v)) => self.colsample_bynode = *v,
            ("scale_pos_weight", HpValue::Float(v)) => self.scale_pos_weight = *v,
            ("base_score", HpValue::Float(v)) => self.base_score = Some(*v),
            ("max_bin", HpValue::Int(v)) if *v < 2 => {
                return Err(format!(
                    "Hyperparameter max_bin: value {v} for Parameter max_bin should be greater equal to 2"
                ));
            }
            ("max_bin", HpValue::Int(v)) => self.max_bin = to_usize(*v).min(256),
            ("csv_weights", HpValue::Int(0)) => {}
            ("csv_weights", HpValue::Int(v)) => {
                return unsupported(format!("{v} (instance weights)"));
            }
            ("num_parallel_tree", HpValue::Int(1)) => {}
            ("num_parallel_tree", HpValue::Int(v)) => {
                return unsupported(format!("{v} (boosted random forests)"));
            }
            ("_kfold", HpValue::Int(v)) => {
                return unsupported(format!("{v} (k-fold cross-validation)"));
            }
            ("booster", HpValue::Text(b)) if b == "gbtree" => {}
            ("process_type", HpValue::Text(t)) if t == "default" => {}
            ("objective", HpValue::Text(o)) => match Objective::parse(o) {
                Some(o) => self.objective = o,
                None => {
                    return unsupported(format!(
                        "{o} (use reg:squarederror, reg:linear or binary:logistic)"
                    ));
                }
            },
            ("monotone_constraints", HpValue::Tuple(t)) if t.iter().all(|c| *c == 0) => {}
            ("eval_metric", HpValue::List(list)) => {
                for m in list {
                    let metric = Metric::parse(m).ok_or_else(|| {
                        format!("Hyperparameter eval_metric: {m} is not supported by the built-in trainer (use rmse, mae, auc, logloss or error)")
                    })?;
                    if !self.eval_metrics.contains(&metric) {
                        self.eval_metrics.push(metric);
                    }
                }
            }
            ("_tuning_objective_metric", HpValue::Text(t)) => {
                let m = t.trim_start_matches("validation:");
                self.tuning_metric = Some(Metric::parse(m).ok_or_else(|| {
                    format!("Hyperparameter _tuning_objective_metric: {t} is not supported by the built-in trainer (use validation:rmse, mae, auc, logloss or error)")
                })?);
            }
            (_, other) => return unsupported(show(other)),
        }
        Ok(())
    }

    /// Rules across hyperparameters that the built-in trainer (as XGBoost) enforces.
    fn check_combinations(&mut self, v: &hp::Validated, errors: &mut Vec<HyperparameterError>) {
        if let Some(m) = self.tuning_metric.take() {
            self.eval_metrics.retain(|x| *x != m);
            self.eval_metrics.push(m);
        }
        if let Some(b) = self.base_score {
            if self.objective == Objective::Logistic && !(b > 0.0 && b < 1.0) {
                errors.push(HyperparameterError::new(
                    "base_score",
                    format!("Hyperparameter base_score: base_score must be in (0,1) for logistic loss, got {b}"),
                ));
            }
        }
        if self.objective == Objective::SquaredError {
            for m in &self.eval_metrics {
                if matches!(m, Metric::Auc | Metric::Logloss | Metric::Error) {
                    errors.push(HyperparameterError::new(
                        "eval_metric",
                        format!("Hyperparameter eval_metric: {m} needs objective binary:logistic on the built-in trainer"),
                    ));
                }
            }
        }
        let exact = matches!(v.get("tree_method"), Some(HpValue::Text(t)) if t == "exact");
        if exact && self.max_depth == 0 {
            errors.push(HyperparameterError::new(
                "max_depth",
                "Hyperparameter max_depth: 0 (no limit) needs tree_method hist, approx or auto; the exact tree method requires a non-zero max_depth".into(),
            ));
        }
    }
}

fn to_usize(v: i64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn show(v: &HpValue) -> String {
    match v {
        HpValue::Int(i) => i.to_string(),
        HpValue::Float(f) => format!("{f:?}"),
        HpValue::Text(t) => t.clone(),
        HpValue::List(l) => l.join(","),
        HpValue::Tuple(t) => format!("{t:?}"),
        HpValue::Nested(n) => format!("{n:?}"),
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// One bad hyperparameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyperparameterError {
    pub name: String,
    pub message: String,
}

impl HyperparameterError {
    fn new(name: &str, message: String) -> Self {
        HyperparameterError {
            name: name.to_string(),
            message,
        }
    }
}

/// All problems found in a hyperparameter object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct HyperparameterErrors(pub Vec<HyperparameterError>);

impl fmt::Display for HyperparameterErrors {
    /// The messages joined by `; ` (each in the SageMaker XGBoost container's words).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&e.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<TrainParams, HyperparameterErrors> {
        TrainParams::from_json(v.as_object().unwrap())
    }

    /// Without `nthread`, training uses every CPU the process may use, as XGBoost does.
    #[test]
    fn given_no_nthread_then_every_available_cpu() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(TrainParams::new(1).nthread, cpus);
        assert_eq!(parse(json!({"num_round": "1"})).unwrap().nthread, cpus);
    }

    #[test]
    fn given_string_values_when_parsed_then_typed_params() {
        let p = parse(json!({
            "num_round": "50", "max_depth": "4", "eta": "0.1", "gamma": "0.5",
            "alpha": "0.1", "lambda": "2", "min_child_weight": "3", "subsample": "0.8",
            "colsample_bytree": "0.7", "objective": "binary:logistic",
            "eval_metric": "logloss,auc", "early_stopping_rounds": "5", "seed": "7",
            "tree_method": "hist", "nthread": "2", "verbosity": "0", "max_bin": "128",
            "_tuning_objective_metric": "validation:auc"
        }))
        .unwrap();
        assert_eq!(p.num_round, 50);
        assert_eq!(p.max_depth, 4);
        assert_eq!(p.objective, Objective::Logistic);
        assert_eq!(p.eval_metrics, vec![Metric::Logloss, Metric::Auc]);
        assert_eq!(p.early_stopping_rounds, Some(5));
        assert_eq!(p.seed, 7);
        assert_eq!(p.nthread, 2);
        assert_eq!(p.max_bin, 128);
        assert!((p.subsample - 0.8).abs() < 1e-12);
    }

    /// The container reads an integer with Python's `int` of the string, which refuses
    /// `10.0`; a JSON number is read as its text.
    #[test]
    fn given_integral_float_text_when_parsed_as_integer_then_refused_as_the_container_does() {
        let err = parse(json!({"num_round": "10.0", "max_depth": 3})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Hyperparameter num_round: could not parse value"
        );
        let p = parse(json!({"num_round": "10", "max_depth": 3})).unwrap();
        assert_eq!((p.num_round, p.max_depth), (10, 3));
    }

    #[test]
    fn given_missing_num_round_when_parsed_then_required_error() {
        let err = parse(json!({"eta": "0.1"})).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].name, "num_round");
    }

    #[test]
    fn given_several_bad_values_when_parsed_then_every_one_is_named_in_the_containers_words() {
        let err = parse(json!({
            "num_round": "0", "eta": "abc", "subsample": "0", "max_depth": "-1",
            "objective": "reg:nonsense", "eval_metric": "nonsense", "bogus": "1",
            "tree_method": "gpu_exact"
        }))
        .unwrap_err();
        let text = err.to_string();
        for expected in [
            "Hyperparameter num_round: 0 is not in [1, +inf)",
            "Hyperparameter eta: could not parse value",
            "Hyperparameter subsample: 0.0 is not in (0, 1]",
            "Hyperparameter max_depth: -1 is not in [0, +inf)",
            "Hyperparameter objective: reg:nonsense is not in ['aft_loss_distribution',",
            "Hyperparameter eval_metric: value ['nonsense'] not in range ['accuracy',",
            "Extraneous hyperparameter found: bogus",
            "Hyperparameter tree_method: gpu_exact is not in ['auto', 'exact', 'approx', 'hist', 'gpu_hist']",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
        assert_eq!(err.0.len(), 8, "{text}");
    }

    #[test]
    fn given_valid_values_the_trainer_cannot_honour_when_parsed_then_the_job_fails_saying_so() {
        let err = parse(json!({
            "num_round": "5", "objective": "reg:gamma", "booster": "dart",
            "eval_metric": "mape", "num_parallel_tree": "4", "csv_weights": "1"
        }))
        .unwrap_err();
        let text = err.to_string();
        for expected in [
            "Hyperparameter objective: reg:gamma (use reg:squarederror, reg:linear or binary:logistic) is not supported by the built-in trainer",
            "Hyperparameter booster: dart is not supported by the built-in trainer",
            "Hyperparameter eval_metric: mape is not supported by the built-in trainer",
            "Hyperparameter num_parallel_tree: 4 (boosted random forests) is not supported",
            "Hyperparameter csv_weights: 1 (instance weights) is not supported",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
    }

    /// Of the values a hyperparameter honoured only in part, the honoured ones pass and each
    /// other one fails alone with its own message.
    #[test]
    fn given_limited_values_when_parsed_then_only_the_honoured_ones_pass() {
        let p = parse(json!({
            "num_round": "5", "booster": "gbtree", "process_type": "default",
            "monotone_constraints": "(0, 0)", "tree_method": "hist", "max_bin": "2"
        }))
        .unwrap();
        assert_eq!(p.max_bin, 2);
        for (name, value, message) in [
            (
                "booster",
                "gblinear",
                "Hyperparameter booster: gblinear is not supported by the built-in trainer",
            ),
            (
                "process_type",
                "update",
                "Hyperparameter process_type: update is not supported by the built-in trainer",
            ),
            (
                "monotone_constraints",
                "(0, 1)",
                "Hyperparameter monotone_constraints: [0, 1] is not supported by the built-in trainer",
            ),
            (
                "max_bin",
                "1",
                "Hyperparameter max_bin: value 1 for Parameter max_bin should be greater equal to 2",
            ),
        ] {
            let hps = json!({"num_round": "5", "tree_method": "hist", name: value});
            let err = parse(hps).unwrap_err();
            assert_eq!(err.to_string(), message, "{name}={value}");
        }
    }

    /// binary:logistic needs a base_score strictly inside (0, 1); regression takes any; every
    /// problem is listed, joined by "; ".
    #[test]
    fn given_a_base_score_then_logistic_needs_it_inside_zero_and_one() {
        let logistic = |b: &str| {
            parse(json!({"num_round": "5", "objective": "binary:logistic", "base_score": b}))
        };
        assert_eq!(logistic("0.5").unwrap().base_score, Some(0.5));
        for b in ["0", "1"] {
            assert_eq!(
                logistic(b).unwrap_err().to_string(),
                format!(
                    "Hyperparameter base_score: base_score must be in (0,1) for logistic loss, got {b}"
                )
            );
        }
        let regression = parse(json!({"num_round": "5", "base_score": "5"})).unwrap();
        assert_eq!(regression.base_score, Some(5.0));
        let both = parse(json!({
            "num_round": "5", "objective": "binary:logistic", "base_score": "2", "booster": "dart"
        }))
        .unwrap_err();
        assert_eq!(
            both.to_string(),
            "Hyperparameter booster: dart is not supported by the built-in trainer; \
             Hyperparameter base_score: base_score must be in (0,1) for logistic loss, got 2"
        );
    }

    #[test]
    fn given_parameters_without_effect_when_parsed_then_one_log_line_each() {
        let p = parse(json!({
            "num_round": "5", "tree_method": "hist", "precision_dtype": "float32",
            "grow_policy": "lossguide", "max_leaves": "8", "eta": "0.2"
        }))
        .unwrap();
        assert_eq!(p.no_effect.len(), 4, "{:?}", p.no_effect);
        for name in [
            "tree_method=hist",
            "precision_dtype=float32",
            "grow_policy=lossguide",
            "max_leaves=8",
        ] {
            assert!(
                p.no_effect.iter().any(|l| l.contains(&format!(
                    "hyperparameter {name} has no effect on the built-in trainer"
                ))),
                "{name}: {:?}",
                p.no_effect
            );
        }
    }

    #[test]
    fn given_max_depth_zero_when_parsed_then_no_limit_except_with_exact() {
        assert_eq!(
            parse(json!({"num_round": "5", "max_depth": "0"}))
                .unwrap()
                .max_depth,
            0
        );
        let err =
            parse(json!({"num_round": "5", "max_depth": "0", "tree_method": "exact"})).unwrap_err();
        assert!(
            err.to_string()
                .contains("exact tree method requires a non-zero max_depth"),
            "{err}"
        );
    }

    #[test]
    fn given_aliases_and_the_tuning_metric_when_parsed_then_canonical_fields_and_metric_last() {
        let p = parse(json!({
            "num_round": "5", "learning_rate": "0.1", "reg_lambda": "2", "reg_alpha": "0.5",
            "min_split_loss": "1", "objective": "binary:logistic", "eval_metric": "auc,logloss",
            "_tuning_objective_metric": "validation:auc"
        }))
        .unwrap();
        assert_eq!((p.eta, p.lambda, p.alpha, p.gamma), (0.1, 2.0, 0.5, 1.0));
        assert_eq!(p.eval_metrics, vec![Metric::Logloss, Metric::Auc]);
    }

    #[test]
    fn given_classification_metric_with_regression_when_parsed_then_error() {
        let err = parse(json!({"num_round": "5", "eval_metric": "auc"})).unwrap_err();
        assert_eq!(err.0[0].name, "eval_metric");
    }

    #[test]
    fn given_defaults_when_metrics_then_objective_default() {
        let p = parse(json!({"num_round": "5"})).unwrap();
        assert_eq!(p.metrics(), vec![Metric::Rmse]);
        assert_eq!(p.eta, 0.3);
        assert_eq!(p.max_depth, 6);
    }
}
