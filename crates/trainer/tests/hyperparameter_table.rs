//! The hyperparameter table (crates/trainer/src/hyperparameters.rs) against the trainer:
//! every name accepted, every range boundary accepted and just outside rejected with the
//! container's message, unknown names rejected, parameters without effect logged, the
//! generated docs current, and what AWS's "Tune a machine learning model" sample sends.

use std::collections::BTreeMap;
use std::path::Path;

use mdlc_trainer::container::{ContainerPaths, run_training_job};
use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use mdlc_trainer::hyperparameters::{
    self as hp, Bound, Effect, Kind, XGBOOST_HYPERPARAMETERS, range_text,
};
use mdlc_trainer::params::TrainParams;
use serde_json::{Map, Value, json};

/// A valid value of each kind.
fn valid_value(kind: &Kind) -> String {
    match kind {
        Kind::Integer { min, .. } => match min {
            Bound::Closed(v) => format!("{}", *v as i64),
            Bound::Open(v) => format!("{}", *v as i64 + 1),
            Bound::Unbounded => "0".into(),
        },
        Kind::Continuous { min, max } => match (min, max) {
            (Bound::Open(a), Bound::Open(b)) => format!("{}", (a + b) / 2.0),
            (Bound::Closed(a), _) => format!("{a}"),
            (Bound::Open(a), _) => format!("{}", a + 0.5),
            _ => "0".into(),
        },
        Kind::Categorical(values) | Kind::CommaSeparatedList(values) => values[0].to_string(),
        Kind::Metrics => "rmse".into(),
        Kind::TuningMetric => "validation:rmse".into(),
        Kind::Tuple(_) => "(0, 0)".into(),
        Kind::NestedList { min } => format!("[[{min}, {}]]", min + 1),
    }
}

/// The context a row's dependency rules need (the container's dependency validators).
fn context(name: &str) -> Vec<(&'static str, &'static str)> {
    match name {
        "monotone_constraints" | "interaction_constraints" => vec![("tree_method", "hist")],
        _ => Vec::new(),
    }
}

fn strings(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

fn with_num_round(name: &str, value: &str) -> BTreeMap<String, String> {
    let mut m = strings(&[("num_round", "3".into())]);
    for (k, v) in context(name) {
        m.insert(k.into(), v.into());
    }
    m.insert(name.into(), value.into());
    m
}

fn json_of(m: &BTreeMap<String, String>) -> Map<String, Value> {
    m.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

#[test]
fn every_documented_name_and_alias_is_accepted_by_the_table() {
    for h in XGBOOST_HYPERPARAMETERS {
        for name in std::iter::once(h.name).chain(h.aliases.iter().copied()) {
            let v = valid_value(&h.kind);
            let hps = with_num_round(name, &v);
            let ok = hp::validate(&hps);
            assert!(ok.is_ok(), "{name}={v}: {ok:?}");
        }
    }
}

#[test]
fn every_documented_name_is_honoured_or_reported_by_the_trainer() {
    for h in XGBOOST_HYPERPARAMETERS {
        // A value each row's trainer effect allows (the default, or the first valid one).
        let v = match h.name {
            "objective" => "reg:squarederror".to_string(),
            "csv_weights" => "0".into(),
            "max_bin" => "256".into(),
            "_kfold" | "interaction_constraints" => continue,
            _ => valid_value(&h.kind),
        };
        let hps = with_num_round(h.name, &v);
        let p = TrainParams::from_json(&json_of(&hps))
            .unwrap_or_else(|e| panic!("{}={v}: {e}", h.name));
        let logged = p
            .no_effect
            .iter()
            .filter(|l| l.starts_with(&format!("hyperparameter {}={v} has no effect", h.name)))
            .count();
        match h.effect {
            Effect::NoEffect(_) => assert_eq!(logged, 1, "{}: {:?}", h.name, p.no_effect),
            Effect::Honoured | Effect::Limited(_) => {
                assert_eq!(logged, 0, "{}: {:?}", h.name, p.no_effect)
            }
        }
    }
}

/// A value just outside `bound` (below a minimum, above a maximum).
fn beyond(bound: f64, below: bool, integer: bool) -> f64 {
    let step = if integer { 1.0 } else { 1e-6 };
    if below { bound - step } else { bound + step }
}

fn shown(v: f64, integer: bool) -> String {
    if integer {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

#[test]
fn each_range_boundary_is_accepted_and_just_outside_is_rejected_with_the_containers_message() {
    let mut checked = 0;
    for h in XGBOOST_HYPERPARAMETERS {
        let (min, max, integer) = match h.kind {
            Kind::Integer { min, max } => (min, max, true),
            Kind::Continuous { min, max } => (min, max, false),
            _ => continue,
        };
        for (bound, below) in [(min, true), (max, false)] {
            let (inside, outside) = match bound {
                Bound::Unbounded => continue,
                Bound::Closed(b) => (b, beyond(b, below, integer)),
                Bound::Open(b) => (beyond(b, !below, integer), b),
            };
            let ok = hp::validate(&with_num_round(h.name, &shown(inside, integer)));
            assert!(ok.is_ok(), "{} = {inside}: {ok:?}", h.name);
            let err = hp::validate(&with_num_round(h.name, &shown(outside, integer)))
                .expect_err(&format!("{} = {outside} must be rejected", h.name));
            let expected = format!(
                "Hyperparameter {}: {} is not in {}",
                h.name,
                shown(outside, integer),
                range_text(&h.kind)
            );
            assert!(
                err.iter().any(|r| r.message == expected),
                "{expected:?} not in {err:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} boundaries checked");
}

#[test]
fn categorical_values_outside_the_list_are_rejected_with_the_containers_message() {
    let err = hp::validate(&with_num_round("booster", "gbforest")).unwrap_err();
    assert_eq!(
        err[0].message,
        "Hyperparameter booster: gbforest is not in ['gbtree', 'gblinear', 'dart']"
    );
    let err = hp::validate(&with_num_round("updater", "grow_colmaker,warp")).unwrap_err();
    assert!(
        err[0]
            .message
            .starts_with("Hyperparameter updater: value ['grow_colmaker', 'warp'] not in range"),
        "{err:?}"
    );
    let err = hp::validate(&with_num_round("eval_metric", "rmse@0.5")).unwrap_err();
    assert!(
        err[0]
            .message
            .starts_with("Metric 'rmse@0.5' is not supported."),
        "{err:?}"
    );
}

#[test]
fn unknown_names_and_missing_num_round_are_rejected_with_the_containers_message() {
    let err = hp::validate(&strings(&[
        ("silent", "0".into()),
        ("max_depth", "3".into()),
    ]))
    .unwrap_err();
    let messages: Vec<&str> = err.iter().map(|r| r.message.as_str()).collect();
    assert!(
        messages.contains(&"Extraneous hyperparameter found: silent"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"Missing required hyperparameter: num_round"),
        "{messages:?}"
    );
    // The SageMaker SDK's own keys are not the algorithm's and pass through.
    assert!(
        hp::validate(&strings(&[
            ("num_round", "1".into()),
            ("sagemaker_program", "x".into())
        ]))
        .is_ok()
    );
}

#[test]
fn dependency_rules_follow_the_container() {
    let err = hp::validate(&strings(&[
        ("num_round", "1".into()),
        ("objective", "multi:softmax".into()),
    ]))
    .unwrap_err();
    assert_eq!(
        err[0].message,
        "Require input for parameter 'num_class' for multi-classification"
    );
    let err = hp::validate(&strings(&[
        ("num_round", "1".into()),
        ("eval_metric", "auc".into()),
    ]))
    .unwrap_err();
    assert_eq!(
        err[0].message,
        "Metric 'auc' can only be applied for classification and ranking problems."
    );
    let err = hp::validate(&strings(&[
        ("num_round", "1".into()),
        ("monotone_constraints", "(1,0)".into()),
    ]))
    .unwrap_err();
    assert!(
        err[0]
            .message
            .starts_with("monotone_constraints can be used only when")
    );
}

/// What AWS's "Tune a machine learning model" Step Functions sample sends to the built-in
/// XGBoost (docs: step-functions/latest/dg/sample-hyper-tuning.html): static
/// `precision_dtype` float32 and `num_round` 2; tuned `alpha` 0..1000, `gamma` 0..5,
/// `max_delta_step` and `max_depth` 0..10 (integers).
#[test]
fn the_step_functions_tuning_samples_hyperparameters_are_accepted_at_every_range_end() {
    for (alpha, gamma, step, depth) in [("0", "0", "0", "0"), ("1000", "5", "10", "10")] {
        let hps = json!({
            "precision_dtype": "float32", "num_round": "2", "alpha": alpha, "gamma": gamma,
            "max_delta_step": step, "max_depth": depth,
            "_tuning_objective_metric": "validation:rmse"
        });
        let p = TrainParams::from_json(hps.as_object().unwrap()).expect("accepted");
        assert_eq!(p.max_depth.to_string(), depth);
        assert_eq!(p.no_effect.len(), 1, "{:?}", p.no_effect);
        assert!(p.no_effect[0].starts_with("hyperparameter precision_dtype=float32 has no effect"));
    }
    for (name, lo, hi) in [
        ("alpha", "0", "1000"),
        ("gamma", "0", "5"),
        ("max_delta_step", "0", "10"),
        ("max_depth", "0", "10"),
    ] {
        assert_eq!(hp::check_numeric_range(name, lo, hi, true), None, "{name}");
    }
    assert!(hp::check_numeric_range("max_depth", "-1", "10", true).is_some());
    assert!(hp::check_numeric_range("max_depth", "0.5", "10", false).is_some());
    assert!(hp::check_numeric_range("colour", "0", "1", false).is_some());
}

#[test]
fn a_training_job_logs_one_line_per_hyperparameter_without_effect() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = generate(&GenerateConfig::new(Problem::Regression, 200, 3, 1)).unwrap();
    let train_dir = root.join("input/data/train");
    std::fs::create_dir_all(&train_dir).unwrap();
    std::fs::write(train_dir.join("train.csv"), data.train.to_csv()).unwrap();
    let config = root.join("input/config");
    std::fs::create_dir_all(&config).unwrap();
    let hps = json!({"num_round": "2", "max_depth": "0", "tree_method": "hist",
                     "precision_dtype": "float32", "single_precision_histogram": "true"});
    std::fs::write(config.join("hyperparameters.json"), hps.to_string()).unwrap();
    let mut log = Vec::new();
    run_training_job(&ContainerPaths::under_root(root), &mut log).expect("trains");
    let log = String::from_utf8(log).unwrap();
    for name in [
        "tree_method=hist",
        "precision_dtype=float32",
        "single_precision_histogram=true",
    ] {
        let line =
            format!("[mdlc-trainer] hyperparameter {name} has no effect on the built-in trainer: ");
        assert_eq!(log.matches(&line).count(), 1, "{line:?} in\n{log}");
    }
    assert!(!log.contains("max_depth=0 has no effect"), "{log}");
}

#[test]
fn the_generated_reference_in_docs_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/xgboost-hyperparameters.md");
    let expected = hp::markdown();
    if std::env::var_os("MDLC_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is stale; regenerate it with MDLC_UPDATE_DOCS=1 cargo nextest run -p mdlc-trainer --test hyperparameter_table",
        path.display()
    );
}

/// An integer is read as Python's `int` reads the raw string (the container's
/// `IntegerHyperparameter.parse` in algorithm mode): whitespace around it, a sign and
/// underscores between digits are fine; a fraction, an exponent or anything else cannot be
/// parsed, even when it is integral (`6.0`).
#[test]
fn integers_are_read_as_pythons_int_reads_a_string() {
    let depth = hp::lookup("max_depth").unwrap();
    for (text, value) in [(" 6 ", 6), ("+6", 6), ("1_0", 10), ("\t7\n", 7), ("0", 0)] {
        assert_eq!(
            hp::check_value(depth, text),
            Ok(hp::HpValue::Int(value)),
            "{text:?}"
        );
    }
    for text in [
        "6.0", "1e1", "", "-", "_1", "1_", "1__0", "6 6", "0x10", "inf", "+-1", "-_1",
    ] {
        assert_eq!(
            hp::check_value(depth, text),
            Err("Hyperparameter max_depth: could not parse value".to_string()),
            "{text:?}"
        );
    }
    assert_eq!(
        hp::check_value(depth, "-1"),
        Err("Hyperparameter max_depth: -1 is not in [0, +inf)".to_string())
    );
}

/// `monotone_constraints` is a tuple (or list) of -1, 0 and 1, `interaction_constraints` a list
/// of lists of feature indices from 1 (the container's range): each is read whole, and a value outside its range is named.
#[test]
fn tuples_and_nested_lists_are_read_whole() {
    let monotone = hp::lookup("monotone_constraints").unwrap();
    for (text, value) in [
        ("(1, 0, -1)", vec![1, 0, -1]),
        ("[1,0]", vec![1, 0]),
        ("(1,)", vec![1]),
        ("()", vec![]),
    ] {
        assert_eq!(
            hp::check_value(monotone, text),
            Ok(hp::HpValue::Tuple(value)),
            "{text}"
        );
    }
    assert_eq!(
        hp::check_value(monotone, "(2, 0)"),
        Err(
            "Hyperparameter monotone_constraints: value (2, 0) not in range [-1, 0, 1]".to_string()
        )
    );
    let interaction = hp::lookup("interaction_constraints").unwrap();
    for (text, value) in [
        ("[[1, 2], [3, 4, 5]]", vec![vec![1, 2], vec![3, 4, 5]]),
        ("[[1],[7]]", vec![vec![1], vec![7]]),
        ("[]", vec![]),
    ] {
        assert_eq!(
            hp::check_value(interaction, text),
            Ok(hp::HpValue::Nested(value)),
            "{text}"
        );
    }
    assert_eq!(
        hp::check_value(interaction, "[[1], [0]]"),
        Err(
            "Hyperparameter interaction_constraints: value [[1], [0]] not in range [1, +inf)"
                .to_string()
        )
    );
    for text in ["(1, x)", "[[1], 2]", "1, 0"] {
        let which = if text.starts_with("[[") {
            interaction
        } else {
            monotone
        };
        assert!(
            hp::check_value(which, text).is_err_and(|e| e.ends_with("could not parse value")),
            "{text}"
        );
    }
}

/// `aft-nloglik` needs the `survival:aft` objective, and the tuning metric must name a known
/// metric on the validation channel.
#[test]
fn the_aft_metric_and_the_tuning_metric_are_checked() {
    let aft = |objective: &str| {
        hp::validate(&strings(&[
            ("num_round", "1".into()),
            ("eval_metric", "aft-nloglik".into()),
            ("objective", objective.into()),
        ]))
    };
    assert!(aft("survival:aft").is_ok());
    assert_eq!(
        aft("reg:squarederror").unwrap_err()[0].message,
        "Metric 'aft-nloglik' can only be applied for 'survival:aft' objective."
    );
    let tuning = hp::lookup("_tuning_objective_metric").unwrap();
    assert_eq!(
        hp::check_value(tuning, "validation:rmse"),
        Ok(hp::HpValue::Text("validation:rmse".into()))
    );
    for text in ["validation:bogus", "rmse"] {
        assert!(
            hp::check_value(tuning, text).is_err_and(|e| e.starts_with(&format!(
                "Hyperparameter _tuning_objective_metric: {text} is not in"
            ))),
            "{text}"
        );
    }
}

/// The updaters the container allows with each booster and process type.
#[test]
fn updaters_follow_the_booster_and_the_process_type() {
    let check = |pairs: &[(&str, &str)]| {
        let mut all = vec![("num_round", "1".to_string())];
        all.extend(pairs.iter().map(|(k, v)| (*k, v.to_string())));
        match hp::validate(&strings(&all)) {
            Ok(_) => String::new(),
            Err(e) => e[0].message.clone(),
        }
    };
    let linear = "Linear updater should be one of these options: 'shotgun', 'coord_descent'.";
    let update = "process_type 'update' can only be used with updater 'refresh' and 'prune'";
    let one_grower = "Only one tree grow plugin can be selected.";
    assert_eq!(
        check(&[("booster", "gblinear"), ("updater", "shotgun")]),
        ""
    );
    for u in ["shotgun,coord_descent", "grow_colmaker"] {
        assert_eq!(
            check(&[("booster", "gblinear"), ("updater", u)]),
            linear,
            "{u}"
        );
    }
    assert_eq!(
        check(&[("process_type", "update"), ("updater", "refresh,prune")]),
        ""
    );
    assert_eq!(
        check(&[
            ("process_type", "update"),
            ("updater", "refresh,grow_colmaker")
        ]),
        update
    );
    assert!(check(&[("updater", "shotgun")]).starts_with("Tree updater should be selected"));
    assert!(check(&[("updater", "grow_colmaker,distcol")]).starts_with(one_grower));
    assert_eq!(check(&[("updater", "grow_colmaker,prune")]), "");
    assert_eq!(check(&[("updater", "prune")]), "");
}

/// What a tuning job's ranges are checked against (the emulator refuses a range that does not
/// fit): the kind of range must match the hyperparameter's type and both ends must be valid.
#[test]
fn tuned_ranges_must_fit_the_table() {
    assert_eq!(hp::check_numeric_range("max_depth", "1", "10", true), None);
    assert_eq!(hp::check_numeric_range("eta", "0.1", " 0.5 ", false), None);
    assert_eq!(
        hp::check_numeric_range("max_depth", "1", "10", false).as_deref(),
        Some(
            "max_depth is an Integer hyperparameter of the built-in XGBoost algorithm; tune it with IntegerParameterRanges"
        )
    );
    assert_eq!(
        hp::check_numeric_range("eta", "0", "2", false).as_deref(),
        Some("Hyperparameter eta: 2.0 is not in [0, 1]")
    );
    assert_eq!(
        hp::check_numeric_range("objective", "0", "1", false).as_deref(),
        Some(
            "objective is a Categorical hyperparameter of the built-in XGBoost algorithm; tune it with CategoricalParameterRanges"
        )
    );
    let extraneous = "colour is not a hyperparameter of the built-in XGBoost algorithm (Extraneous hyperparameter found: colour)";
    assert_eq!(
        hp::check_numeric_range("colour", "0", "1", true).as_deref(),
        Some(extraneous)
    );
    let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        hp::check_categorical_range("booster", &values(&["gbtree", " dart"])),
        None
    );
    assert!(
        hp::check_categorical_range("booster", &values(&["gbtree", "forest"]))
            .is_some_and(|m| m.starts_with("Hyperparameter booster: forest is not in ['gbtree',")),
    );
    assert_eq!(
        hp::check_categorical_range("colour", &values(&["red"])).as_deref(),
        Some(extraneous)
    );
}

/// A rejection prints as its message.
#[test]
fn a_rejection_prints_its_message() {
    let err = hp::validate(&strings(&[("num_round", "0".into())])).unwrap_err();
    assert_eq!(
        err[0].to_string(),
        "Hyperparameter num_round: 0 is not in [1, +inf)"
    );
    assert_eq!(err[0].to_string(), err[0].message);
}
