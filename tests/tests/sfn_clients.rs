//! `mdlc serve` driven by clients nobody here wrote: boto3 and the AWS CLI (from PyPI, in
//! `.tools/venv`, installed by `scripts/tools.sh test`), through the suites of `tests/sfn_clients/`:
//!
//! - `operations.py`: every operation of issue 14 through boto3 with exact outcomes (idempotent
//!   StartExecution, Express sync executions, history paging / reverseOrder /
//!   includeExecutionData, a `.waitForTaskToken` round trip, tags, the error codes and their
//!   HTTP statuses), each raw response checked against botocore's output or error shape;
//! - `corpus.py`: the executions recorded on AWS (`../shared/conformance/asl-aws-recorded`, read in
//!   place) through CreateStateMachine / StartExecution / DescribeExecution, at least 99 % matching;
//! - `cli.sh`: the same operations with `aws stepfunctions --endpoint-url` (a `.waitForTaskToken`
//!   round trip included) and an error's exit code and message;
//! - `mock_config.py`: Step Functions Local's MockConfigFile (`mock_config.json`, given as
//!   `SFN_MOCK_CONFIG`): test cases chosen by `<arn>#<TestCase>`, `Return` and `Throw`, invocation
//!   numbers and ranges through Retry and Map iterations, an unmocked state (run by `--function`,
//!   or sent to a Lambda Invoke API given as `--lambda-endpoint`, as Step Functions Local's
//!   `LAMBDA_ENDPOINT`), a missing response;
//! - `test_shapes.py`: the shape checker itself, on hand-made good and bad responses.
//!
//! Each test starts its own `mdlc serve --port 0 --state-dir <temp dir>`, reads the endpoint from
//! the first line of its stdout and kills it at the end. They need the venv (and the corpus), so
//! they are ignored in a plain run (listed as skipped) and run under `--run-ignored all` (`make
//! test`), where a missing tool or corpus fails them. docs/testing-clients.md says how to run the
//! suites by hand, against `mdlc serve` or moto.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use mdlc_tests::serve::ServeProcess;
use mdlc_tests::workspace_root;
use serde_json::Value;

const NEEDS: &str = "needs boto3 and the AWS CLI in .tools/venv: run scripts/tools.sh test";

/// The function the `.waitForTaskToken` round trip invokes (operations.py's default); the server
/// runs it as a child process that ignores its event, so the task waits for the token.
const CALLBACK_FUNCTION: &str = "mdlc-sfn-clients-callback=cat >/dev/null; echo '{}'";

fn suites() -> PathBuf {
    workspace_root().join("tests/sfn_clients")
}

fn venv_python() -> PathBuf {
    let python = workspace_root().join(".tools/venv/bin/python");
    assert!(python.exists(), "{NEEDS} ({} is missing)", python.display());
    python
}

/// `../shared/conformance/asl-aws-recorded/cases` beside the repository (never copied into it).
fn corpus_dir() -> PathBuf {
    let root = match std::env::var("MDLC_REPO_ROOT") {
        Ok(root) if !root.is_empty() => PathBuf::from(root),
        _ => workspace_root(),
    };
    root.join("../shared/conformance/asl-aws-recorded/cases")
}

/// A running `mdlc serve` (tests/src/serve.rs) on a state directory of its own.
struct Server {
    /// Kept for its drop, which kills the server.
    _process: ServeProcess,
    endpoint: String,
    state: tempfile::TempDir,
}

/// Starts `mdlc serve --port 0 --state-dir <temp> [extra...]` and reads its endpoint.
fn serve(extra: &[&str]) -> Server {
    serve_with_env(extra, &[])
}

/// [`serve`] with environment variables set for the server.
fn serve_with_env(extra: &[&str], env: &[(&str, &Path)]) -> Server {
    let state = tempfile::tempdir().expect("temp dir");
    let process = ServeProcess::start_with_env(state.path(), extra, env);
    Server {
        endpoint: process.endpoint.clone(),
        _process: process,
        state,
    }
}

/// Runs a suite and returns its output; panics with both streams when it fails.
fn run_suite(program: &Path, args: &[&str], what: &str) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(suites())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("MDLC_REPO_ROOT", workspace_root())
        .output()
        .unwrap_or_else(|e| panic!("{NEEDS} ({}: {e})", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("{what}:\n{stdout}");
    out
}

/// The JSON summary a suite prints on its last stdout line.
fn summary(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("no JSON summary ({e}): {last:?}"))
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("summary without {key}: {v}"))
}

#[test]
#[ignore = "needs .tools/venv (scripts/tools.sh test): run with --run-ignored all (make test)"]
fn shape_checker_reports_every_broken_rule_of_hand_made_responses() {
    let python = venv_python();
    let out = run_suite(
        &python,
        &["-m", "unittest", "-v", "test_shapes"],
        "test_shapes.py",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\nOK") && !stderr.contains("skipped"),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs .tools/venv (boto3) and mdlc serve: run with --run-ignored all (make test)"]
fn boto3_drives_every_operation_with_responses_in_botocore_shapes() {
    let python = venv_python();
    // the HTTP Task check's connection: an API key the suite's loopback server echoes
    let connections = tempfile::tempdir().expect("temp dir");
    let file = connections.path().join("connections.json");
    let arn = "arn:aws:events:us-east-1:000000000000:connection/SfnClients/1";
    let key = "sfn-clients-key";
    std::fs::write(
        &file,
        serde_json::json!({arn: {"AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": key}}}})
        .to_string(),
    )
    .expect("the connections file");
    let file = file.display().to_string();
    let server = serve(&["--function", CALLBACK_FUNCTION, "--connections", &file]);
    let out = run_suite(
        &python,
        &[
            "operations.py",
            &server.endpoint,
            "--callback",
            "lambda",
            "--http-connection",
            arn,
            "--http-api-key",
            key,
        ],
        "operations.py",
    );
    let s = summary(&out);
    assert!(
        s["passed_checks"]
            .as_array()
            .is_some_and(|c| c.contains(&Value::from("http_task_trace"))),
        "the HTTP Task check did not pass: {s}"
    );
    assert_eq!(count(&s, "failed"), 0, "{s}");
    assert!(count(&s, "passed") > 0, "{s}");
    assert_eq!(s["shape_violations"], Value::Array(vec![]), "{s}");
}

#[test]
#[ignore = "needs .tools/venv (boto3), mdlc serve and ../shared/conformance: run with --run-ignored all (make test)"]
fn aws_recorded_corpus_through_boto3_matches_at_least_99_percent_and_every_recorded_history() {
    let python = venv_python();
    let corpus = corpus_dir();
    assert!(
        corpus.is_dir(),
        "the AWS-recorded corpus is missing: {} (it lives beside the repository in ../shared)",
        corpus.display()
    );
    let server = serve(&[]);
    let dir = corpus.to_string_lossy().into_owned();
    let out = run_suite(
        &python,
        &[
            "corpus.py",
            &server.endpoint,
            &dir,
            "--min-share",
            "0.99",
            "--min-history-share",
            "1.0",
        ],
        "corpus.py",
    );
    let s = summary(&out);
    let (matched, total) = (count(&s, "matched"), count(&s, "total"));
    assert!(total > 0, "no case ran: {s}");
    assert!(
        matched * 100 >= total * 99,
        "{matched}/{total} matched, below 99 %"
    );
    // GetExecutionHistory against the 182 histories AWS recorded, on (type, previousEventId)
    let (h, h_total) = (count(&s, "history_matched"), count(&s, "history_total"));
    assert_eq!(
        (h, h_total),
        (182, 182),
        "histories through the API: {}",
        s["history_differences"]
    );
}

#[test]
#[ignore = "needs .tools/venv (the AWS CLI) and mdlc serve: run with --run-ignored all (make test)"]
fn aws_cli_drives_the_operations_and_reports_an_error_by_exit_code() {
    venv_python();
    let server = serve(&["--function", CALLBACK_FUNCTION]);
    let out = run_suite(&suites().join("cli.sh"), &[&server.endpoint], "cli.sh");
    let s = summary(&out);
    assert_eq!(count(&s, "failed"), 0, "{s}");
    assert!(count(&s, "passed") > 0, "{s}");
}

/// The function `mock_config.py`'s HybridPath leaves unmocked.
const AUDIT_FUNCTION: &str = "mdlc-sfn-mock-audit=cat >/dev/null; echo '{\"audited\": \"local\"}'";

#[test]
#[ignore = "needs .tools/venv (boto3) and mdlc serve: run with --run-ignored all (make test)"]
fn a_mock_config_file_answers_the_test_case_named_after_the_arn() {
    let python = venv_python();
    let config = suites().join("mock_config.json");
    assert!(config.is_file(), "{} is missing", config.display());
    let server = serve_with_env(
        &["--function", AUDIT_FUNCTION],
        &[("SFN_MOCK_CONFIG", config.as_path())],
    );
    let out = run_suite(
        &python,
        &["mock_config.py", &server.endpoint],
        "mock_config.py",
    );
    let s = summary(&out);
    assert_eq!(count(&s, "failed"), 0, "{s}");
    assert_eq!(count(&s, "passed"), 11, "{s}");
    assert_eq!(s["shape_violations"], Value::Array(vec![]), "{s}");
    assert_sent_messages_are_queued(&server, &s);
}

/// The messages `mock_config.py` reports sent by an unmocked `sqs:sendMessage` state (its
/// HybridPath of `MockLambdaSqs`) are in the server's SQS stand-in, one message, its id and body.
fn assert_sent_messages_are_queued(server: &Server, summary: &Value) {
    let sent = summary["sent"]
        .as_array()
        .unwrap_or_else(|| panic!("summary without sent: {summary}"));
    assert_eq!(sent.len(), 1, "{summary}");
    let url = sent[0]["QueueUrl"].as_str().expect("QueueUrl");
    let queues = mdlc_local::sqs::SqsQueues::new(server.state.path().join("sqs"));
    let messages = queues
        .messages(url)
        .unwrap_or_else(|e| panic!("reading queue {url}: {e}"));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        messages[0]["MessageId"], sent[0]["MessageId"],
        "{messages:?}"
    );
    assert_eq!(messages[0]["Body"], sent[0]["Body"], "{messages:?}");
    assert_eq!(
        messages[0]["MD5OfBody"].as_str(),
        Some(mdlc_local::sqs::md5_hex(sent[0]["Body"].as_str().unwrap_or_default()).as_str())
    );
}

/// The path of function `mdlc-sfn-mock-audit` on a Lambda Invoke API.
const AUDIT_PATH: &str = "/2015-03-31/functions/mdlc-sfn-mock-audit/invocations";

/// A Lambda Invoke API on loopback: `mdlc-sfn-mock-audit` answers `{"audited": "local"}`, any
/// other function is 404 (function not found); the path of every request is kept.
struct LambdaApi {
    endpoint: String,
    paths: Arc<Mutex<Vec<String>>>,
}

fn lambda_api() -> LambdaApi {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = paths.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || answer_invoke(stream, &seen));
        }
    });
    LambdaApi { endpoint, paths }
}

/// Answers one request (`Connection: close`); a broken request is dropped.
fn answer_invoke(mut stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (status, text) = if path == AUDIT_PATH {
        ("200 OK", r#"{"audited": "local"}"#)
    } else {
        (
            "404 Not Found",
            r#"{"Type": "User", "Message": "Function not found"}"#,
        )
    };
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(path);
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
}

#[test]
#[ignore = "needs .tools/venv (boto3) and mdlc serve: run with --run-ignored all (make test)"]
fn a_mock_config_test_case_sends_its_unmocked_lambda_states_to_the_lambda_endpoint() {
    let python = venv_python();
    let config = suites().join("mock_config.json");
    let api = lambda_api();
    let server = serve(&[
        "--mock-config",
        &config.to_string_lossy(),
        "--lambda-endpoint",
        &api.endpoint,
    ]);
    let out = run_suite(
        &python,
        &["mock_config.py", &server.endpoint],
        "mock_config.py",
    );
    let s = summary(&out);
    assert_eq!(count(&s, "failed"), 0, "{s}");
    assert_eq!(count(&s, "passed"), 11, "{s}");
    assert_sent_messages_are_queued(&server, &s);
    let paths = api.paths.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // HybridPath's Audit, and Charge of the execution without a test case (404: it fails)
    assert!(
        paths.iter().filter(|p| *p == AUDIT_PATH).count() == 1
            && paths
                .iter()
                .any(|p| p == "/2015-03-31/functions/mdlc-sfn-mock-charge/invocations"),
        "requests to the Lambda endpoint: {paths:?}"
    );
}
