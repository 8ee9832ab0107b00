//! The `mdlc-trainer` program by its contracts: `train` (job directory like /opt/ml, failure
//! file), `predict`, `generate`, `preprocess`.

use mdlc_trainer::data::{GenerateConfig, Problem, generate, write_dir};
use mdlc_trainer::dataset::{Layout, read_csv_file};
use mdlc_trainer::model::Model;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_mdlc-trainer");

/// A job directory laid out like /opt/ml with generated data in its channels.
fn job(hps: serde_json::Value, problem: Problem) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("job");
    let cfg = GenerateConfig::new(problem, 600, 4, 5);
    let data = generate(&cfg).unwrap();
    let staging = dir.path().join("data");
    write_dir(&data, &cfg, &staging).unwrap();
    for ch in ["train", "validation"] {
        let d = root.join("input/data").join(ch);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(
            staging.join(format!("{ch}.csv")),
            d.join(format!("{ch}.csv")),
        )
        .unwrap();
    }
    let config = root.join("input/config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("hyperparameters.json"), hps.to_string()).unwrap();
    std::fs::write(
        config.join("inputdataconfig.json"),
        r#"{"train":{"ContentType":"text/csv","TrainingInputMode":"File"},"validation":{"ContentType":"text/csv"}}"#,
    )
    .unwrap();
    (dir, root)
}

fn train(root: &Path) -> Output {
    Command::new(BIN)
        .arg("train")
        .env("MDLC_OPT_ML", root)
        .env_remove("SM_MODEL_DIR")
        .env_remove("SM_CHANNEL_TRAIN")
        .env_remove("SM_CHANNEL_VALIDATION")
        .env_remove("SM_INPUT_CONFIG_DIR")
        .env_remove("SM_OUTPUT_DATA_DIR")
        .env_remove("SM_HPS")
        .output()
        .unwrap()
}

/// Fails with the program's stderr unless it succeeded.
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn failure(root: &Path) -> String {
    std::fs::read_to_string(root.join("output/failure")).unwrap_or_default()
}

#[test]
fn given_job_dir_when_train_then_model_metrics_and_xgboost_log_lines() {
    let (_d, root) = job(
        serde_json::json!({"num_round": "12", "max_depth": "3", "eta": "0.3", "seed": "1"}),
        Problem::Regression,
    );
    let out = train(&root);
    assert_success(&out);
    let log = String::from_utf8(out.stdout).unwrap();
    let line_re = |i: usize| format!("[{i}]#011train-rmse:");
    for i in 0..12 {
        let line = log
            .lines()
            .find(|l| l.starts_with(&line_re(i)))
            .unwrap_or_else(|| panic!("no round {i} in {log}"));
        assert!(line.contains("#011validation-rmse:"), "{line}");
    }
    assert!(!root.join("output/failure").exists());
    let model = Model::load_dir(&root.join("model")).unwrap();
    assert_eq!(model.trees.len(), 12);
    assert_eq!(model.num_feature, 4);
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("output/data/metrics.json")).unwrap(),
    )
    .unwrap();
    let logged: f64 = log
        .lines()
        .find(|l| l.starts_with("[11]"))
        .and_then(|l| l.split("validation-rmse:").nth(1))
        .unwrap()
        .parse()
        .unwrap();
    let final_rmse = metrics["final_metrics"]["validation:rmse"]
        .as_f64()
        .unwrap();
    assert!((final_rmse - logged).abs() < 1e-5);
}

#[test]
fn given_sm_environment_when_train_then_paths_come_from_it() {
    let (d, root) = job(serde_json::json!({"num_round": "3"}), Problem::Binary);
    let model_dir = d.path().join("elsewhere/model");
    let out = Command::new(BIN)
        .arg("train")
        .env_remove("MDLC_OPT_ML")
        .env("SM_MODEL_DIR", &model_dir)
        .env("SM_CHANNEL_TRAIN", root.join("input/data/train"))
        .env("SM_CHANNEL_VALIDATION", root.join("input/data/validation"))
        .env("SM_INPUT_CONFIG_DIR", root.join("input/config"))
        .env("SM_OUTPUT_DATA_DIR", d.path().join("elsewhere/output/data"))
        .env(
            "SM_HPS",
            r#"{"num_round":"3","objective":"binary:logistic","eval_metric":"auc"}"#,
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // hyperparameters.json (num_round only, so the default objective and rmse) wins over SM_HPS.
    let log = String::from_utf8(out.stdout).unwrap();
    assert!(log.contains("train-rmse"), "{log}");
    assert!(model_dir.join("xgboost-model").is_file());
    assert!(
        d.path()
            .join("elsewhere/output/data/metrics.json")
            .is_file()
    );
}

#[test]
fn given_unknown_and_invalid_hyperparameters_when_train_then_failure_file_lists_all() {
    let (_d, root) = job(
        serde_json::json!({"num_round": "10", "max_depth": "deep", "colour": "red", "eta": "2"}),
        Problem::Regression,
    );
    let out = train(&root);
    assert!(!out.status.success());
    let reason = failure(&root);
    assert!(reason.starts_with("ClientError: "), "{reason}");
    for needle in [
        "Hyperparameter max_depth: could not parse value",
        "Extraneous hyperparameter found: colour",
        "Hyperparameter eta: 2.0 is not in [0, 1]",
    ] {
        assert!(reason.contains(needle), "{needle} not in {reason}");
    }
    assert!(!root.join("model/xgboost-model").exists());
}

#[test]
fn given_missing_num_round_when_train_then_failure_names_it() {
    let (_d, root) = job(serde_json::json!({"eta": "0.1"}), Problem::Regression);
    assert!(!train(&root).status.success());
    assert!(
        failure(&root) == "ClientError: Missing required hyperparameter: num_round",
        "{}",
        failure(&root)
    );
}

#[test]
fn given_malformed_csv_when_train_then_failure_names_file_and_line() {
    let (_d, root) = job(serde_json::json!({"num_round": "2"}), Problem::Regression);
    let bad = root.join("input/data/train/zz-extra.csv");
    std::fs::write(&bad, "1.0,2,3,4,5\n2.0,1,2,oops,4\n").unwrap();
    assert!(!train(&root).status.success());
    let reason = failure(&root);
    assert!(reason.contains("zz-extra.csv line 2"), "{reason}");
    assert!(reason.contains("column 4"), "{reason}");
}

#[test]
fn given_empty_channel_when_train_then_failure() {
    let (_d, root) = job(serde_json::json!({"num_round": "2"}), Problem::Regression);
    let train_dir = root.join("input/data/train");
    std::fs::remove_file(train_dir.join("train.csv")).unwrap();
    std::fs::write(train_dir.join("empty.csv"), "\n").unwrap();
    assert!(!train(&root).status.success());
    let reason = failure(&root);
    assert!(reason.contains("channel train: no data rows"), "{reason}");
}

#[test]
fn given_unsupported_content_type_when_train_then_failure() {
    let (_d, root) = job(serde_json::json!({"num_round": "2"}), Problem::Regression);
    std::fs::write(
        root.join("input/config/inputdataconfig.json"),
        r#"{"train":{"ContentType":"text/libsvm"}}"#,
    )
    .unwrap();
    assert!(!train(&root).status.success());
    assert!(failure(&root).contains("text/libsvm"), "{}", failure(&root));
}

#[test]
fn given_early_stopping_when_train_then_stops_and_model_has_best_trees() {
    let (_d, root) = job(
        serde_json::json!({"num_round": "400", "eta": "1", "max_depth": "8",
                           "min_child_weight": "0", "early_stopping_rounds": "3"}),
        Problem::Regression,
    );
    let out = train(&root);
    assert!(out.status.success());
    let log = String::from_utf8(out.stdout).unwrap();
    assert!(log.contains("Stopping. Best iteration:"), "{log}");
    let model = Model::load_dir(&root.join("model")).unwrap();
    let best = model.best_iteration.unwrap();
    assert_eq!(model.trees.len(), best + 1);
    assert!(model.trees.len() < 400);
}

#[test]
fn given_trained_model_when_predict_then_one_line_per_row_matching_library() {
    let (d, root) = job(serde_json::json!({"num_round": "5"}), Problem::Regression);
    assert!(train(&root).status.success());
    let holdout = d.path().join("data/holdout.csv");
    let out = Command::new(BIN)
        .args(["predict", "--model-dir"])
        .arg(root.join("model"))
        .arg("--input")
        .arg(&holdout)
        .arg("--label-first")
        .output()
        .unwrap();
    assert_success(&out);
    let lines: Vec<f32> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let ds = read_csv_file(&holdout, Layout::LabelFirst, 1).unwrap();
    let model = Model::load_dir(&root.join("model")).unwrap();
    assert_eq!(lines, model.predict(ds.features(), ds.n_features()));
    // Features-only input with the label still attached is refused with a reason.
    let out = Command::new(BIN)
        .args(["predict", "--model-dir"])
        .arg(root.join("model"))
        .arg("--input")
        .arg(&holdout)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without the label"));
}

#[test]
fn given_seed_when_generate_twice_then_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        let st = Command::new(BIN)
            .args([
                "generate",
                "--problem",
                "binary",
                "--rows",
                "300",
                "--features",
                "3",
            ])
            .args(["--seed", "9", "--out"])
            .arg(dir.path().join(name))
            .output()
            .unwrap();
        assert!(st.status.success());
    }
    for f in [
        "train.csv",
        "validation.csv",
        "holdout.csv",
        "drifted.csv",
        "manifest.json",
    ] {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(f)).unwrap();
        assert_eq!(a, b, "{f}");
    }
    let train = read_csv_file(&dir.path().join("a/train.csv"), Layout::LabelFirst, 1).unwrap();
    assert_eq!(train.n_rows(), 300);
    assert_eq!(train.n_features(), 3);
}

/// A validation folder is read when it exists even if inputdataconfig.json does not declare it;
/// a declared validation channel without its folder fails naming the channel.
#[test]
fn given_validation_present_or_declared_when_train_then_read_or_refused() {
    let (_d, root) = job(serde_json::json!({"num_round": "2"}), Problem::Regression);
    let config = root.join("input/config/inputdataconfig.json");
    std::fs::write(&config, r#"{"train":{"ContentType":"text/csv"}}"#).unwrap();
    let out = train(&root);
    assert!(out.status.success(), "{}", failure(&root));
    let log = String::from_utf8(out.stdout).unwrap();
    assert!(log.contains("#011validation-rmse:"), "{log}");
    assert!(!log.contains("validation rows 0"), "{log}");
    std::fs::write(
        &config,
        r#"{"train":{"ContentType":"text/csv"},"validation":{"ContentType":"text/csv"}}"#,
    )
    .unwrap();
    std::fs::remove_dir_all(root.join("input/data/validation")).unwrap();
    assert!(!train(&root).status.success());
    let why = failure(&root);
    assert!(
        why.starts_with("ClientError: channel validation: "),
        "{why}"
    );
}

/// With verbosity 0 only the last round's evaluation line is printed.
#[test]
fn given_verbosity_0_when_train_then_only_the_last_rounds_line() {
    let hps = serde_json::json!({"num_round": "4", "verbosity": "0"});
    let (_d, root) = job(hps, Problem::Regression);
    let out = train(&root);
    assert!(out.status.success(), "{}", failure(&root));
    let rounds: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| {
            l.strip_prefix('[')
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(|l| l.split('#').next().unwrap().to_string())
        .collect();
    assert_eq!(rounds, ["[3]"]);
}

#[test]
fn given_row_counts_per_set_when_generate_then_each_file_has_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["generate", "--problem", "regression", "--rows", "40"])
        .args(["--features", "2", "--validation-rows", "7"])
        .args(["--holdout-rows", "11", "--drift-rows", "13", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    for (file, rows) in [
        ("train.csv", 40),
        ("validation.csv", 7),
        ("holdout.csv", 11),
        ("drifted.csv", 13),
    ] {
        let ds = read_csv_file(&dir.path().join(file), Layout::LabelFirst, 1).unwrap();
        assert_eq!(ds.n_rows(), rows, "{file}");
    }
}

/// A trained model's directory and a features-only CSV of `rows` rows for `predict`.
fn predict_inputs(rows: usize) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (d, root) = job(serde_json::json!({"num_round": "3"}), Problem::Regression);
    assert!(train(&root).status.success());
    let input = d.path().join("features.csv");
    std::fs::write(&input, "0.5,1.5,-2,3\n".repeat(rows)).unwrap();
    (d, root.join("model"), input)
}

/// `predict | head`: the reader closing the pipe early is its choice, not a failure; a write
/// that fails otherwise (a full device) is one, with the reason.
#[test]
fn given_predict_when_stdout_closes_early_then_success_and_when_the_device_is_full_then_failure() {
    let (_d, model_dir, input) = predict_inputs(20_000);
    let predict = || {
        let mut c = Command::new(BIN);
        c.args(["predict", "--model-dir"])
            .arg(&model_dir)
            .arg("--input")
            .arg(&input)
            .stderr(std::process::Stdio::piped());
        c
    };
    let mut child = predict()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // no reader: the first write gets EPIPE
    let closed = child.wait_with_output().unwrap();
    assert_success(&closed);
    assert_eq!(String::from_utf8_lossy(&closed.stderr), "");
    let full = predict()
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert!(!full.status.success());
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
}

#[test]
fn given_processing_root_when_preprocess_then_split_and_profile_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ml");
    let input = root.join("processing/input");
    let cfg = GenerateConfig::new(Problem::Binary, 1000, 3, 2);
    let data = generate(&cfg).unwrap();
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("raw.csv"), data.train.to_csv()).unwrap();
    let out = Command::new(BIN)
        .args(["preprocess", "--train-ratio", "0.75", "--seed", "4"])
        .env("MDLC_OPT_ML", &root)
        .output()
        .unwrap();
    assert_success(&out);
    let t = read_csv_file(
        &root.join("processing/output/train/train.csv"),
        Layout::LabelFirst,
        1,
    )
    .unwrap();
    let v = read_csv_file(
        &root.join("processing/output/validation/validation.csv"),
        Layout::LabelFirst,
        1,
    )
    .unwrap();
    assert_eq!(t.n_rows() + v.n_rows(), 1000);
    let rate =
        |d: &mdlc_trainer::dataset::Dataset| d.labels().iter().sum::<f32>() / d.n_rows() as f32;
    assert!(
        (rate(&t) - rate(&v)).abs() < 0.01,
        "{} vs {}",
        rate(&t),
        rate(&v)
    );
    let profile: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("processing/output/profile/profile.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(profile["rows"], 1000);
    assert_eq!(profile["problem"], "binary");
    assert_eq!(profile["features"][2]["name"], "f2");
    assert_eq!(profile["features"][0]["count"], 1000);
}

/// Makes a FIFO with coreutils' `mkfifo` (the test fails when it is missing).
fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("needs mkfifo (coreutils)");
    assert!(st.success(), "mkfifo {}", path.display());
}

#[test]
fn given_pipe_channels_when_train_then_the_fifos_are_read_and_the_model_is_the_file_modes() {
    let hps = serde_json::json!({"num_round": "20", "max_depth": "3", "objective": "reg:squarederror", "eval_metric": "rmse"});
    let (_d, root) = job(hps.clone(), Problem::Regression);
    let out = train(&root);
    assert!(out.status.success(), "{}", failure(&root));
    let file_model = std::fs::read(root.join("model/xgboost-model")).unwrap();
    // the same job in Pipe mode: no channel directories, one FIFO per channel (epoch 0)
    let (_d2, pipe_root) = job(hps, Problem::Regression);
    let data = pipe_root.join("input/data");
    let mut writers = Vec::new();
    for ch in ["train", "validation"] {
        let text = std::fs::read(data.join(ch).join(format!("{ch}.csv"))).unwrap();
        std::fs::remove_dir_all(data.join(ch)).unwrap();
        let fifo = data.join(format!("{ch}_0"));
        mkfifo(&fifo);
        writers.push(std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            // in small writes, as a stream
            for part in text.chunks(1000) {
                f.write_all(part).unwrap();
            }
        }));
    }
    std::fs::write(
        pipe_root.join("input/config/inputdataconfig.json"),
        r#"{"train":{"ContentType":"text/csv","TrainingInputMode":"Pipe"},"validation":{"ContentType":"text/csv","TrainingInputMode":"Pipe"}}"#,
    )
    .unwrap();
    let out = train(&pipe_root);
    assert!(out.status.success(), "{}", failure(&pipe_root));
    for w in writers {
        w.join().unwrap();
    }
    let pipe_model = std::fs::read(pipe_root.join("model/xgboost-model")).unwrap();
    assert_eq!(
        pipe_model, file_model,
        "Pipe mode trains the same trees as File mode on the same data"
    );
}

#[test]
fn given_a_libsvm_pipe_channel_when_train_then_sagemaker_xgboosts_refusal() {
    let (_d, root) = job(serde_json::json!({"num_round": "5"}), Problem::Regression);
    std::fs::write(
        root.join("input/config/inputdataconfig.json"),
        r#"{"train":{"ContentType":"text/libsvm","TrainingInputMode":"Pipe","S3DistributionType":"FullyReplicated","RecordWrapperType":"None"}}"#,
    )
    .unwrap();
    let out = train(&root);
    assert!(!out.status.success());
    assert_eq!(
        failure(&root),
        "ClientError: Channel configuration for 'train' channel is not supported: {'ContentType': 'text/libsvm', 'TrainingInputMode': 'Pipe', 'S3DistributionType': 'FullyReplicated', 'RecordWrapperType': 'None'}"
    );
}
