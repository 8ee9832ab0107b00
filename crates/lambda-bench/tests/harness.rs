//! The benchmark binary against a fake Lambda runtime client: a bash script (bash's /dev/tcp
//! speaks HTTP/1.1 to the Runtime API) whose behaviour is its file name.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use tempfile::TempDir;

/// A fake runtime client. Modes: `echo` answers the event back as its response (or an error
/// `MissingHeader` when an invocation header is missing or wrong); `env` answers its
/// environment; `fails`, `header-error` and `invalid` answer errors (type in the body, in the
/// header only, and `InvalidInput`); `wrong-id` first posts a response for another request id,
/// then answers what it got back; `init-fails` posts an init error; `silent` never answers;
/// `crashes` exits 3 without answering. After answering it polls `next` again, like a runtime.
const FAKE_RUNTIME: &str = r#"#!/bin/bash
set -u
api=${AWS_LAMBDA_RUNTIME_API:?}
mode=${0##*/}
exec 3<>"/dev/tcp/${api%:*}/${api##*:}"

# request METHOD PATH EXTRA-HEADER-LINES BODY: one exchange; sets status, id, arn, deadline,
# trace and body from the answer.
request() {
  local method=$1 path=$2 extra=$3 data=$4 line name value len=0
  local request
  printf -v request '%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n%s' \
    "$method" "$path" "$api" "${#data}" "$extra" "$data"
  # in one write (bash's own printf writes line by line, and a request in pieces waits on
  # Nagle's algorithm for the server's delayed ACK)
  env printf '%s' "$request" >&3
  IFS= read -r status <&3
  status=${status%$'\r'}
  id= arn= deadline= trace= body=
  while IFS= read -r line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    name=${line%%:*} value=${line#*: }
    case "${name,,}" in
      content-length) len=$value ;;
      lambda-runtime-aws-request-id) id=$value ;;
      lambda-runtime-invoked-function-arn) arn=$value ;;
      lambda-runtime-deadline-ms) deadline=$value ;;
      lambda-runtime-trace-id) trace=$value ;;
    esac
  done
  if [ "$len" -gt 0 ]; then IFS= read -r -N "$len" body <&3; fi
}

case $mode in
  crashes) echo "bootstrap: MDLC_TABLE_NAME is not a table" >&2; exit 3 ;;
  init-fails)
    request POST /2018-06-01/runtime/init/error '' '{"errorMessage":"no config","errorType":"Runtime.ConfigError"}'
    exec sleep 30 ;;
esac

request GET /2018-06-01/runtime/invocation/next '' ''
invocation=/2018-06-01/runtime/invocation/$id
case $mode in
  echo)
    want_arn="arn:aws:lambda:us-east-1:123456789012:function:$AWS_LAMBDA_FUNCTION_NAME"
    if [ "$status" != "HTTP/1.1 200 OK" ] || [ -z "$id" ] || [ -z "$trace" ] \
       || ! [ "$deadline" -gt "$(( $(date +%s) * 1000 ))" ] || [ "$arn" != "$want_arn" ]; then
      request POST "$invocation/error" '' '{"errorMessage":"invocation headers","errorType":"MissingHeader"}'
    else
      request POST "$invocation/response" '' "$body"
    fi ;;
  env) request POST "$invocation/response" '' "$(env)" ;;
  fails) request POST "$invocation/error" '' '{"errorMessage":"connection refused","errorType":"DependencyUnavailable"}' ;;
  header-error) request POST "$invocation/error" $'Lambda-Runtime-Function-Error-Type: Runtime.ExitError\r\n' '' ;;
  invalid) request POST "$invocation/error" '' '{"errorMessage":"/modelName: missing","errorType":"InvalidInput"}' ;;
  wrong-id)
    request POST /2018-06-01/runtime/invocation/not-the-id/response '' '{}'
    first="$status $body"
    request POST "$invocation/response" '' "$first" ;;
  silent) exec sleep 30 ;;
esac
request GET /2018-06-01/runtime/invocation/next '' ''
exec sleep 30
"#;

/// An event with nesting, a non-ASCII character, odd spacing and a trailing newline: what the
/// handler gets must be these bytes.
const EVENT: &str = "{\"modelName\": \"m-\u{e9}\",  \"nested\": {\"list\": [1, 2.50, \"x\"]}}\n";

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    /// Fake handlers under the given mode names, each with [`EVENT`] as its event.
    fn new(modes: &[&str]) -> Fixture {
        let fixture = Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for dir in ["bin", "events", "zips"] {
            fs::create_dir_all(fixture.path(dir)).expect("fixture dir");
        }
        for mode in modes {
            let script = fixture.path("bin").join(mode);
            fs::write(&script, FAKE_RUNTIME).expect("script");
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
            fs::write(fixture.path("events").join(format!("{mode}.json")), EVENT).expect("event");
        }
        fixture
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the benchmark on `functions` with the options `extra`, and 2 measured starts, no
    /// warm-up and a 5 s time-out unless `extra` says otherwise.
    fn bench(&self, functions: &[&str], extra: &[&str]) -> Bench {
        let defaults = [("--runs", "2"), ("--warmup", "0"), ("--timeout", "5")]
            .into_iter()
            .filter(|(flag, _)| !extra.contains(flag))
            .flat_map(|(flag, value)| [flag, value]);
        let output = Command::new(env!("CARGO_BIN_EXE_lambda-bench"))
            .args(functions)
            .arg("--bin-dir")
            .arg(self.path("bin"))
            .arg("--events-dir")
            .arg(self.path("events"))
            .arg("--zip-dir")
            .arg(self.path("zips"))
            .arg("--dump-answers")
            .arg(self.path("answers"))
            .args(defaults)
            .args(extra)
            .env("LAMBDA_BENCH_TEST_NOT_PASSED_ON", "leaked")
            .output()
            .expect("lambda-bench runs");
        Bench { output }
    }

    fn answer(&self, function: &str) -> Vec<u8> {
        fs::read(self.path("answers").join(format!("{function}.answer.json"))).expect("answer")
    }
}

struct Bench {
    output: Output,
}

impl Bench {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn succeeded(&self) -> bool {
        self.output.status.success()
    }

    /// The cells of the table row of `function`.
    fn row(&self, function: &str) -> Vec<String> {
        let prefix = format!("| {function} |");
        let line = self
            .stdout()
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no row for {function} in:\n{}", self.stdout()))
            .to_owned();
        line.trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_owned())
            .collect()
    }
}

#[test]
fn the_event_reaches_the_handler_unchanged_and_its_response_is_received() {
    let fixture = Fixture::new(&["echo"]);
    let bench = fixture.bench(&["echo"], &[]);
    assert!(bench.succeeded(), "stderr:\n{}", bench.stderr());
    // compared as text for a readable failure; any byte changed or lost makes them differ
    assert_eq!(String::from_utf8_lossy(&fixture.answer("echo")), EVENT);
    let row = bench.row("echo");
    assert_eq!(row[6], "response", "row {row:?}");
}

#[test]
fn a_measured_row_has_times_cpu_and_peak_memory() {
    let fixture = Fixture::new(&["echo"]);
    let bench = fixture.bench(&["echo"], &[]);
    assert!(bench.succeeded(), "stderr:\n{}", bench.stderr());
    let row = bench.row("echo");
    // ready, first answer, p90, CPU, peak RSS: numbers, not "nan"
    for cell in [1, 2, 3, 4, 7] {
        let value: f64 = row[cell].parse().unwrap_or(f64::NAN);
        assert!(value.is_finite() && value >= 0.0, "cell {cell} of {row:?}");
    }
    let ready: f64 = row[1].parse().expect("ready");
    let answer: f64 = row[2].parse().expect("answer");
    assert!(ready <= answer, "ready after the answer: {row:?}");
}

#[test]
fn the_handler_gets_lambdas_environment_and_nothing_else() {
    let fixture = Fixture::new(&["env"]);
    let bench = fixture.bench(&["env"], &[]);
    assert!(bench.succeeded(), "stderr:\n{}", bench.stderr());
    let answer = String::from_utf8(fixture.answer("env")).expect("utf-8");
    let var = |name: &str| {
        answer
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    assert_eq!(var("AWS_LAMBDA_FUNCTION_NAME").as_deref(), Some("mdlc-env"));
    assert_eq!(
        var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").as_deref(),
        Some("256")
    );
    assert_eq!(var("AWS_MAX_ATTEMPTS").as_deref(), Some("1"));
    assert_eq!(var("AWS_REGION").as_deref(), Some("us-east-1"));
    assert_eq!(var("_HANDLER").as_deref(), Some("bootstrap"));
    assert_eq!(var("MDLC_TABLE_NAME").as_deref(), Some("mdlc-registry"));
    assert!(var("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| v.starts_with("127.0.0.1:")));
    assert!(var("AWS_ENDPOINT_URL").is_some_and(|v| v.starts_with("http://127.0.0.1:")));
    let home = var("HOME").expect("HOME");
    assert!(home.contains("lambda-bench-env-"), "HOME={home}");
    assert_eq!(var("LAMBDA_TASK_ROOT"), Some(home.clone()));
    assert_eq!(var("PWD"), Some(home));
    // the last measured start is one of the first mode: the environment as it is
    assert_eq!(var("SSL_CERT_FILE"), None);
    assert_eq!(var("LAMBDA_BENCH_TEST_NOT_PASSED_ON"), None);
}

#[test]
fn an_error_answer_is_measured_and_shown_as_an_error() {
    let fixture = Fixture::new(&["fails"]);
    let bench = fixture.bench(&["fails"], &[]);
    assert!(bench.succeeded(), "stderr:\n{}", bench.stderr());
    assert_eq!(bench.row("fails")[6], "error: DependencyUnavailable");
    assert_eq!(
        fixture.answer("fails"),
        br#"{"errorMessage":"connection refused","errorType":"DependencyUnavailable"}"#
    );
}

#[test]
fn an_error_without_a_body_takes_its_type_from_the_header() {
    let fixture = Fixture::new(&["header-error"]);
    let bench = fixture.bench(&["header-error"], &[]);
    assert!(bench.succeeded(), "stderr:\n{}", bench.stderr());
    assert_eq!(bench.row("header-error")[6], "error: Runtime.ExitError");
}

#[test]
fn an_invalid_input_answer_fails_as_event_rejected() {
    let fixture = Fixture::new(&["invalid"]);
    let bench = fixture.bench(&["invalid"], &[]);
    assert_eq!(bench.output.status.code(), Some(1));
    assert!(
        bench
            .stderr()
            .contains("lambda-bench: invalid: EventRejected: the event "),
        "stderr:\n{}",
        bench.stderr()
    );
    assert!(bench.stderr().contains(r#""errorType":"InvalidInput""#));
    let row = bench.row("invalid");
    assert!(row[6].starts_with("not measured: the event "), "{row:?}");
    assert_eq!(row[9], "✗");
}

#[test]
fn an_init_error_fails_as_init_failed() {
    let fixture = Fixture::new(&["init-fails"]);
    let bench = fixture.bench(&["init-fails"], &[]);
    assert_eq!(bench.output.status.code(), Some(1));
    assert!(
        bench.stderr().contains(
            r#"lambda-bench: init-fails: InitFailed: init failed: {"errorMessage":"no config","errorType":"Runtime.ConfigError"}"#
        ),
        "stderr:\n{}",
        bench.stderr()
    );
    assert!(bench.row("init-fails")[6].starts_with("not measured: init failed: "));
}

#[test]
fn a_handler_that_never_answers_times_out_with_no_answer() {
    let fixture = Fixture::new(&["silent"]);
    let bench = fixture.bench(&["silent"], &["--timeout", "1"]);
    assert_eq!(bench.output.status.code(), Some(1));
    assert!(
        bench
            .stderr()
            .contains("lambda-bench: silent: NoAnswer: no answer within 1s (signal: 9 (SIGKILL))"),
        "stderr:\n{}",
        bench.stderr()
    );
    assert!(bench.row("silent")[6].starts_with("not measured: no answer within 1s"));
}

#[test]
fn a_handler_that_exits_without_answering_fails_with_its_status_and_output() {
    let fixture = Fixture::new(&["crashes"]);
    let bench = fixture.bench(&["crashes"], &[]);
    assert_eq!(bench.output.status.code(), Some(1));
    let stderr = bench.stderr();
    assert!(
        stderr.contains("crashes: NoAnswer: no answer within 5s (exit status: 3); output:\nbootstrap: MDLC_TABLE_NAME is not a table"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn an_answer_for_another_request_id_is_refused_as_invalid_request_id() {
    let fixture = Fixture::new(&["wrong-id"]);
    let bench = fixture.bench(&["wrong-id"], &[]);
    assert!(bench.succeeded(), "stderr:\n{}", bench.stderr());
    assert_eq!(
        String::from_utf8(fixture.answer("wrong-id")).expect("utf-8"),
        r#"HTTP/1.1 400 Bad Request {"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
    );
}

#[test]
fn every_function_gets_a_row_and_one_not_measured_fails_the_run() {
    let fixture = Fixture::new(&["echo", "bad-event"]);
    fs::write(fixture.path("events").join("bad-event.json"), "{not json").expect("event");
    fs::create_dir_all(fixture.path("zips").join("echo")).expect("zip dir");
    fs::write(
        fixture.path("zips").join("echo").join("bootstrap.zip"),
        vec![0u8; 1024 * 1024],
    )
    .expect("zip");
    let bench = fixture.bench(&["echo", "missing", "bad-event"], &[]);
    assert_eq!(bench.output.status.code(), Some(1));
    let stdout = bench.stdout();
    assert!(stdout.starts_with("## Lambda start-up\n\nEach function's native release binary ("));
    assert!(stdout.contains(") was started 2 times, after one warm-up start,"));
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| function") && !l.starts_with("| ---"))
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    let echo = bench.row("echo");
    assert_eq!(echo[8], "1.00");
    assert!(echo[9].ends_with(", ✓ zip"), "{echo:?}");
    let missing = bench.row("missing");
    assert!(
        missing[6].starts_with("not measured: no binary at "),
        "{missing:?}"
    );
    assert_eq!(missing[8], "not built");
    let bad = bench.row("bad-event");
    assert!(bad[6].contains("bad-event.json is not JSON: "), "{bad:?}");
    assert!(
        bench
            .stderr()
            .contains("lambda-bench: missing: MissingBinary: no binary at ")
    );
    assert!(
        bench
            .stderr()
            .contains("lambda-bench: bad-event: EventNotJson: ")
    );
}

#[test]
fn zero_runs_are_refused() {
    let fixture = Fixture::new(&["echo"]);
    let bench = fixture.bench(&["echo"], &["--runs", "0"]);
    assert_eq!(bench.output.status.code(), Some(2));
    assert!(
        bench.stderr().contains("0 is not in 1.."),
        "stderr:\n{}",
        bench.stderr()
    );
    assert!(bench.stdout().is_empty());
}
