//! The operating commands on the local cloud: `mdlc train`/`evaluate` on small seeded data,
//! `mdlc executions list|show`, `mdlc registry ...` and `mdlc report`, through the binary: exit
//! codes, tables and `--json` documents.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{
    assert_exit, json_of, mdlc_command, output_of, registry_with_versions, tempdir, write,
};
use mdlc_trainer::data::{GenerateConfig, Problem, generate};
use serde_json::{Value, json};

const MODEL: &str = "cli-model";
const BUCKET: &str = "mdlc-artifacts";

/// Runs `mdlc` as the OS user `tester` and checks its exit code.
#[track_caller]
fn mdlc_exits(args: &[&str], code: i32) -> Output {
    let out = output_of(mdlc_command(args).env("USER", "tester"));
    assert_exit(args, &out, code);
    out
}

fn text_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs the flow command `flow` (`train` or `evaluate`) on `input` as the execution `name` and
/// waits; checks its exit code and returns its `--json` document.
#[track_caller]
fn run_flow(flow: &str, input: &str, name: &str, state: &str, code: i32) -> Value {
    let args = [
        flow,
        "--input",
        input,
        "--name",
        name,
        "--state-dir",
        state,
        "--json",
    ];
    json_of(&mdlc_exits(&args, code))
}

/// Seeded regression data in the local object store: train and validation channels, and an
/// evaluation batch (features, and labels first).
fn seed_data(dir: &Path, state: &str) {
    let mut cfg = GenerateConfig::new(Problem::Regression, 240, 4, 7);
    cfg.validation_rows = Some(60);
    cfg.holdout_rows = Some(60);
    let data = generate(&cfg).unwrap_or_else(|e| panic!("generate: {e}"));
    let holdout = data.holdout.to_csv();
    let features: String = holdout
        .lines()
        .filter_map(|l| l.split_once(',').map(|(_, f)| format!("{f}\n")))
        .collect();
    for (file, body, key) in [
        ("train.csv", data.train.to_csv(), "cli/train/train.csv"),
        (
            "validation.csv",
            data.validation.to_csv(),
            "cli/validation/validation.csv",
        ),
        ("features.csv", features, "cli/eval/features/batch.csv"),
        ("labels.csv", holdout, "cli/eval/labels/batch.csv"),
    ] {
        let local = write(dir, file, &body);
        mdlc_exits(
            &[
                "s3",
                "cp",
                &local,
                &format!("s3://{BUCKET}/{key}"),
                "--state-dir",
                state,
            ],
            0,
        );
    }
}

fn training_input() -> Value {
    json!({
        "modelName": MODEL,
        "dataDate": "2026-01-01",
        "problemType": "regression",
        "data": {
            "train": format!("s3://{BUCKET}/cli/train/"),
            "validation": format!("s3://{BUCKET}/cli/validation/")
        },
        "tuning": {
            "enabled": false,
            "staticHyperParameters": {"num_round": "20", "objective": "reg:squarederror", "eval_metric": "rmse"}
        }
    })
}

fn evaluation_input() -> Value {
    json!({
        "modelName": MODEL,
        "dataDate": "2026-01-08",
        "problemType": "regression",
        "data": {"evaluation": {
            "features": format!("s3://{BUCKET}/cli/eval/features/"),
            "groundTruth": format!("s3://{BUCKET}/cli/eval/labels/")
        }},
        "monitoring": {
            "metric": "rmse", "direction": "LowerIsBetter", "maxDegradation": 10,
            "cooldownSeconds": 0, "maxRetrainsPerWindow": 1, "windowSeconds": 86400
        }
    })
}

#[test]
fn train_then_evaluate_on_the_local_cloud_prints_outcomes_and_records_executions() {
    let dir = tempdir();
    let state = dir.path().join("state").display().to_string();
    seed_data(dir.path(), &state);
    let train = write(dir.path(), "train.json", &training_input().to_string());
    let evaluate = write(dir.path(), "evaluate.json", &evaluation_input().to_string());

    // train: waits, prints the outcome with the path and per-state durations.
    let t = run_flow("train", &train, "train-1", &state, 0);
    assert_eq!(t["status"], "SUCCEEDED", "{t:#}");
    assert_eq!(t["name"], "train-1");
    assert_eq!(t["stateMachine"], "training");
    assert_eq!(
        t["executionArn"],
        "arn:aws:states:us-east-1:000000000000:execution:training:train-1"
    );
    assert_eq!(t["output"]["version"], 1, "{t:#}");
    let path: Vec<&str> = t["path"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(path.first(), Some(&"Initialize"), "{path:?}");
    assert!(path.contains(&"RegisterModel"), "{path:?}");
    let states = t["states"].as_array().cloned().unwrap_or_default();
    assert_eq!(states.len(), {
        let mut unique = path.clone();
        unique.sort();
        unique.dedup();
        unique.len()
    });
    assert!(
        states
            .iter()
            .all(|s| s["durationMs"].as_i64().is_some_and(|d| d >= 0) && s["unfinished"] == false),
        "{states:#?}"
    );

    // evaluate: the version just trained.
    let e = run_flow("evaluate", &evaluate, "eval-1", &state, 0);
    assert_eq!(e["status"], "SUCCEEDED", "{e:#}");
    assert_eq!(e["output"]["version"], 1, "{e:#}");

    // The same name again: StartExecution's ExecutionAlreadyExists, exit 3.
    assert_eq!(
        run_flow("train", &train, "train-1", &state, 3)["error"],
        "ExecutionAlreadyExists"
    );

    // executions list: both, newest first, as a table and as JSON.
    let out = mdlc_exits(&["executions", "list", "--state-dir", &state, "--json"], 0);
    let list = json_of(&out)["executions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = list.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, vec!["eval-1", "train-1"], "{list:#?}");
    assert!(list.iter().all(|e| e["status"] == "SUCCEEDED"));
    let table = text_of(&mdlc_exits(
        &["executions", "list", "--state-dir", &state],
        0,
    ));
    let header = table.lines().next().unwrap_or_default();
    assert!(header.starts_with("NAME"), "{table}");
    let status_column = header.find("STATUS").unwrap_or(usize::MAX);
    for line in table.lines().skip(1) {
        assert_eq!(
            line.get(status_column..status_column + 9),
            Some("SUCCEEDED"),
            "{table}"
        );
    }

    // executions show by name and by ARN.
    let shown = json_of(&mdlc_exits(
        &[
            "executions",
            "show",
            "train-1",
            "--state-dir",
            &state,
            "--json",
        ],
        0,
    ));
    assert_eq!(shown, t, "show prints what train printed");
    let by_arn = json_of(&mdlc_exits(
        &[
            "executions",
            "show",
            "arn:aws:states:us-east-1:000000000000:execution:evaluation:eval-1",
            "--state-dir",
            &state,
            "--json",
        ],
        0,
    ));
    assert_eq!(by_arn["name"], "eval-1");
    let text = text_of(&mdlc_exits(
        &["executions", "show", "eval-1", "--state-dir", &state],
        0,
    ));
    // Values aligned in one column after the keys.
    let value_column = |key: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .and_then(|l| {
                l[key.len()..]
                    .find(|c: char| c != ' ')
                    .map(|i| (i + key.len(), l))
            })
    };
    let (status_at, status_line) = value_column("status").unwrap_or((0, ""));
    assert_eq!(status_line.get(status_at..), Some("SUCCEEDED"), "{text}");
    let (path_at, path_line) = value_column("path").unwrap_or((0, ""));
    assert_eq!(path_at, status_at, "{text}");
    assert!(
        path_line[path_at..].starts_with("Initialize → FindModel → "),
        "{text}"
    );
    assert!(
        text.contains("STATE") && text.contains("DURATION"),
        "{text}"
    );
    let out = mdlc_exits(
        &[
            "executions",
            "show",
            "no-such-run",
            "--state-dir",
            &state,
            "--json",
        ],
        4,
    );
    assert_eq!(json_of(&out)["error"], "NotFound");

    // report: the model of the newest execution, both executions, one version, one evaluation.
    let out = mdlc_exits(&["report", "--state-dir", &state, "--json"], 0);
    let r = json_of(&out);
    assert_eq!(r["modelName"], MODEL);
    assert_eq!(r["executions"], 2, "{r:#}");
    assert_eq!(r["versions"], 1);
    assert_eq!(r["evaluations"], 1);
    let html = std::fs::read_to_string(r["report"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("report not written: {e}"));
    assert!(html.contains("train-1") && html.contains("eval-1"));
    // the event log's section (docs/events.md): the registration and the evaluation's decision
    assert!(
        html.contains("<h2 id=\"events\">Events</h2>"),
        "no events section"
    );
    assert!(html.contains("Model Version Registered") && html.contains("Evaluation Completed"));
}

#[test]
fn train_no_wait_returns_running_and_the_detached_run_finishes() {
    let dir = tempdir();
    let state = dir.path().join("state").display().to_string();
    seed_data(dir.path(), &state);
    let train = write(dir.path(), "train.json", &training_input().to_string());
    let out = mdlc_exits(
        &[
            "train",
            "--input",
            &train,
            "--name",
            "bg-1",
            "--no-wait",
            "--state-dir",
            &state,
            "--json",
        ],
        0,
    );
    let started = json_of(&out);
    assert_eq!(started["name"], "bg-1");
    assert!(
        started["status"] == "RUNNING" || started["status"] == "SUCCEEDED",
        "{started:#}"
    );
    // It shows as running (or done) at once, and ends SUCCEEDED.
    let deadline = Instant::now() + Duration::from_secs(600);
    let last = loop {
        let out = mdlc_exits(
            &[
                "executions",
                "show",
                "bg-1",
                "--state-dir",
                &state,
                "--json",
            ],
            0,
        );
        let d = json_of(&out);
        if d["status"] != "RUNNING" {
            break d;
        }
        assert!(Instant::now() < deadline, "bg-1 still running: {d:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(last["status"], "SUCCEEDED", "{last:#}");
    assert_eq!(last["output"]["version"], 1);
    assert!(
        dir.path().join("state/running/training/bg-1.log").is_file(),
        "the detached run's output is kept"
    );
    assert!(!dir.path().join("state/running/training/bg-1.json").exists());
}

#[test]
fn registry_operations_on_the_local_cloud_exit_with_meaningful_codes() {
    let dir = tempdir();
    registry_with_versions(dir.path(), MODEL, 4);
    let state = dir.path().display().to_string();
    let s = state.as_str();
    let op = |args: &[&str], code: i32| {
        let mut all = vec!["registry"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--state-dir", s, "--json"]);
        json_of(&mdlc_exits(&all, code))
    };

    let listed = op(&["list", MODEL], 0);
    assert_eq!(listed["revision"], 0);
    let statuses: Vec<&str> = listed["versions"]
        .as_array()
        .map(|v| v.iter().filter_map(|x| x["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, vec!["Registered"; 4]);
    assert_eq!(
        listed["versions"][0]["allowedActions"],
        json!(["Approve", "Reject", "Retire", "RollBack"])
    );

    // approve 1 as alice: applied at revision 1, recorded with the actor and reason.
    let done = op(
        &[
            "approve",
            MODEL,
            "1",
            "--reason",
            "metrics ok",
            "--actor",
            "alice",
        ],
        0,
    );
    assert_eq!(done["revision"], 1);
    assert_eq!(done["changes"][0]["from"], "Registered");
    assert_eq!(done["changes"][0]["to"], "Approved");
    assert_eq!(done["changes"][0]["actor"], "alice");
    assert_eq!(done["changes"][0]["reason"], "metrics ok");

    // approve 1 again: impossible, exit 3 naming the current state.
    let refused = op(&["approve", MODEL, "1", "--reason", "again"], 3);
    assert_eq!(refused["error"], "InvalidTransition");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("it is Approved"), "{message}");

    // reject 2 (the OS user is the actor), retire 3; approving 3 is then impossible.
    let rejected = op(&["reject", MODEL, "2", "--reason", "worse"], 0);
    assert_eq!(rejected["changes"][0]["actor"], "tester");
    op(&["retire", MODEL, "3", "--reason", "obsolete"], 0);
    let refused = op(&["approve", MODEL, "3", "--reason", "undo"], 3);
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("it is Retired"),
        "{refused:#}"
    );

    // A stale --expected-revision: conflict naming the current revision; nothing written.
    let stale = op(
        &[
            "rollback",
            MODEL,
            "1",
            "--reason",
            "v4 regressed",
            "--expected-revision",
            "1",
        ],
        3,
    );
    assert_eq!(stale["error"], "RegistryConflict");
    assert!(
        stale["message"]
            .as_str()
            .unwrap_or_default()
            .contains("at model revision 3"),
        "{stale:#}"
    );

    // rollback to 1 at the current revision: version 4 is retired, 2 stays Rejected.
    let rolled = op(
        &[
            "rollback",
            MODEL,
            "1",
            "--reason",
            "v4 regressed",
            "--expected-revision",
            "3",
        ],
        0,
    );
    let summary: Vec<(u64, &str, &str)> = rolled["changes"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|x| {
                    (
                        x["version"].as_u64().unwrap_or(0),
                        x["from"].as_str().unwrap_or(""),
                        x["to"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        summary,
        vec![(1, "Approved", "Approved"), (4, "Registered", "Retired")]
    );
    let nothing = op(&["rollback", MODEL, "1", "--reason", "again"], 3);
    assert_eq!(nothing["error"], "NothingToRollBack");

    // show: the version, its revision and its history of changes.
    let shown = op(&["show", MODEL, "1"], 0);
    assert_eq!(shown["version"]["status"], "Approved");
    assert_eq!(shown["revision"], 4);
    let actions: Vec<&str> = shown["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|c| c["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, vec!["Approve", "RollBack"]);
    let text = text_of(&mdlc_exits(
        &["registry", "show", MODEL, "4", "--state-dir", s],
        0,
    ));
    assert!(text.contains("status        Retired"), "{text}");
    assert!(
        text.contains("RollBack") && text.contains("v4 regressed"),
        "{text}"
    );
    let table = text_of(&mdlc_exits(
        &["registry", "list", MODEL, "--state-dir", s],
        0,
    ));
    assert!(
        table.starts_with(&format!("model {MODEL} (revision 4)\nVERSION")),
        "{table}"
    );

    // Not found (4) and invalid (2).
    assert_eq!(op(&["show", MODEL, "99"], 4)["error"], "NotFound");
    assert_eq!(op(&["list", "no-such-model"], 4)["error"], "NotFound");
    assert_eq!(
        op(&["retire", MODEL, "99", "--reason", "x"], 4)["error"],
        "VersionNotFound"
    );
    assert_eq!(
        op(&["retire", MODEL, "2", "--reason", " "], 2)["error"],
        "InvalidRequest"
    );
    mdlc_exits(
        &[
            "registry",
            "approve",
            MODEL,
            "x",
            "--reason",
            "r",
            "--state-dir",
            s,
        ],
        2,
    );
    mdlc_exits(&["registry", "approve", MODEL, "2", "--state-dir", s], 2);
}

#[test]
fn an_operation_without_any_operator_name_is_a_usage_error() {
    let dir = tempdir();
    registry_with_versions(dir.path(), MODEL, 1);
    let state = dir.path().display().to_string();
    let out = output_of(
        mdlc_command(&[
            "registry",
            "approve",
            MODEL,
            "1",
            "--reason",
            "ok",
            "--state-dir",
            &state,
        ])
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("LOGNAME"),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--actor"), "{err}");
}

#[test]
fn bad_inputs_and_options_exit_2_naming_the_problem() {
    let dir = tempdir();
    let state = dir.path().join("state").display().to_string();
    let not_json = write(dir.path(), "bad.json", "{not json");
    let array = write(dir.path(), "array.json", "[1]");
    for (input, expected) in [
        (not_json.as_str(), "is not valid JSON"),
        (array.as_str(), "must be a JSON object"),
        ("/no/such/input.json", "cannot read /no/such/input.json"),
    ] {
        let out = mdlc_exits(&["train", "--input", input, "--state-dir", &state], 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{input}: {err}");
    }
    let input = write(dir.path(), "input.json", &training_input().to_string());
    let out = mdlc_exits(
        &[
            "evaluate",
            "--input",
            &input,
            "--name",
            "has space",
            "--state-dir",
            &state,
        ],
        2,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--name \"has space\""));
    let help = text_of(&mdlc_exits(&["--help"], 0));
    assert!(
        help.contains("Exit codes: 0 ok; 1 the flow failed"),
        "{help}"
    );
}

#[test]
fn a_failed_flow_exits_1_with_its_error_cause_and_where_it_stopped() {
    let dir = tempdir();
    let state = dir.path().join("state").display().to_string();
    // No version of the model is registered: the evaluation flow cannot find one.
    let input = write(dir.path(), "evaluate.json", &evaluation_input().to_string());
    let d = run_flow("evaluate", &input, "no-model", &state, 1);
    assert_eq!(d["status"], "FAILED", "{d:#}");
    assert_eq!(d["error"], "ModelNotFound", "{d:#}");
    assert!(
        d["cause"].as_str().is_some_and(|c| c.contains(MODEL)),
        "the cause names the model: {d:#}"
    );
    assert!(d.get("output").is_some_and(Value::is_null), "{d:#}");
    let states = d["states"].as_array().cloned().unwrap_or_default();
    let find_model = states.iter().find(|s| s["state"] == "FindModel");
    assert!(
        find_model.is_some_and(|s| s["failures"].as_u64() >= Some(1)),
        "{states:#?}"
    );
    // Shown the same way afterwards, with the progress lines gone from stdout.
    let shown = json_of(&mdlc_exits(
        &[
            "executions",
            "show",
            "no-model",
            "--state-dir",
            &state,
            "--json",
        ],
        0,
    ));
    assert_eq!(shown, d);
}
