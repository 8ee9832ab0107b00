//! `mdlc execute DEFINITION [--input JSON | --input-file FILE] [--mock-config FILE --test-case NAME] [--history]`
//!
//! Prints exactly one JSON object on stdout:
//! `{"status": ..., "output": <when succeeded>, "error": ..., "cause": ...}` (and `"history"`:
//! the events in GetExecutionHistory's `events` shape, `mdlc_asl::aws_history`, as `mdlc serve`
//! returns them with `includeExecutionData`).
//! Exit code 0 when SUCCEEDED, 1 for another terminal status, 2 for invalid input or usage.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use mdlc_asl::mock::{MockConfig, MockInvoker};
use mdlc_asl::{ExecutionOptions, ExecutionStatus, StateMachine, TaskInvoker};
use mdlc_local::LocalCloud;
use serde_json::{Map, Value};

use super::InputError;
use crate::{exit, local};

#[derive(Debug, Args)]
pub struct ExecuteArgs {
    /// The state machine definition (Amazon States Language, JSON).
    pub definition: PathBuf,
    /// The execution input as a JSON text (default `{}`).
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// A file holding the execution input.
    #[arg(long)]
    pub input_file: Option<PathBuf>,
    /// A MockConfigFile (AWS Step Functions Local format) answering the Task states.
    #[arg(long, requires = "test_case")]
    pub mock_config: Option<PathBuf>,
    /// The test case of the mock configuration to use.
    #[arg(long, requires = "mock_config")]
    pub test_case: Option<String>,
    /// The state machine's name (used to find the test case); default: the only state machine
    /// of the mock configuration, else the definition's file stem.
    #[arg(long)]
    pub name: Option<String>,
    /// Also print the execution history.
    #[arg(long)]
    pub history: bool,
    /// Wait states and retry back-off take real time.
    #[arg(long)]
    pub real_time: bool,
    /// Local-cloud options (`--local` and friends; see `crate::local`).
    #[command(flatten)]
    pub local: local::LocalArgs,
}

/// The execution input (`{}` by default): JSON, within StartExecution's quota.
fn input_value(args: &ExecuteArgs) -> Result<Value, InputError> {
    let (text, what) = match (&args.input, &args.input_file) {
        (Some(t), _) => (t.clone(), "--input".to_string()),
        (None, Some(f)) => (super::read_text(f)?, f.display().to_string()),
        (None, None) => return Ok(Value::Object(Map::new())),
    };
    let input: Value = serde_json::from_str(&text).map_err(|e| InputError::Json {
        what: what.clone(),
        message: e.to_string(),
    })?;
    mdlc_asl::check_execution_input(&input).map_err(|source| InputError::Quota { what, source })?;
    Ok(input)
}

/// The state machine's name: `--name`, else the definition's file stem (without `.asl`).
fn machine_name(definition: &Path, explicit: Option<&str>) -> String {
    if let Some(n) = explicit {
        return n.to_string();
    }
    definition
        .file_stem()
        .map(|s| s.to_string_lossy().trim_end_matches(".asl").to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "StateMachine".to_string())
}

/// The test case of `--mock-config FILE --test-case NAME`.
struct Mock<'a> {
    config: MockConfig,
    file: &'a Path,
    test_case: &'a str,
}

/// The mock configuration of `--mock-config`/`--test-case` (when given) and the state machine's
/// name: `--name`, else the configuration's only state machine, else the definition's stem.
fn mock_and_name(args: &ExecuteArgs) -> Result<(Option<Mock<'_>>, String), InputError> {
    let mut name = machine_name(&args.definition, args.name.as_deref());
    let (Some(mc), Some(tc)) = (&args.mock_config, &args.test_case) else {
        return Ok((None, name));
    };
    let text = super::read_text(mc)?;
    let cfg = MockConfig::from_json_str(&text)
        .map_err(|e| InputError::Usage(format!("{}: {e}", mc.display())))?;
    if args.name.is_none() && cfg.state_machines.len() == 1 {
        if let Some(only) = cfg.state_machines.keys().next() {
            name = only.clone();
        }
    }
    let mock = Mock {
        config: cfg,
        file: mc,
        test_case: tc,
    };
    Ok((Some(mock), name))
}

/// The mock invoker of the test case, answering what it does not mock with `fallback`.
fn mock_invoker(
    mock: Option<Mock<'_>>,
    name: &str,
    fallback: Option<Arc<dyn TaskInvoker>>,
) -> Result<Option<Arc<dyn TaskInvoker>>, InputError> {
    let Some(mock) = mock else {
        return Ok(None);
    };
    for problem in mock.config.problems_outside(name, mock.test_case) {
        eprintln!(
            "warning: {}: {problem} (test case {} is run; this one is not)",
            mock.file.display(),
            mock.test_case
        );
    }
    let invoker = MockInvoker::new(mock.config, name, mock.test_case, fallback)
        .map_err(|e| InputError::Usage(format!("{}: {e}", mock.file.display())))?;
    Ok(Some(Arc::new(invoker)))
}

fn options(args: &ExecuteArgs) -> Result<ExecutionOptions, InputError> {
    let mut opts = ExecutionOptions {
        record_history: args.history,
        ..Default::default()
    };
    if args.real_time {
        opts.clock = Arc::new(mdlc_asl::RealClock);
    }
    let (mock, name) = mock_and_name(args)?;
    if let Some(invoker) = mock_invoker(mock, &name, None)? {
        opts.invoker = invoker;
    }
    opts.state_machine_name = name;
    Ok(opts)
}

/// The JSON object printed on stdout.
pub fn result_json(exec: &mdlc_asl::Execution, with_history: bool) -> Value {
    let mut m = Map::new();
    m.insert(
        "status".into(),
        Value::String(exec.status.as_str().to_string()),
    );
    if exec.status == ExecutionStatus::Succeeded {
        m.insert("output".into(), exec.output.clone().unwrap_or(Value::Null));
    }
    m.insert(
        "error".into(),
        exec.error.clone().map(Value::String).unwrap_or(Value::Null),
    );
    m.insert(
        "cause".into(),
        exec.cause.clone().map(Value::String).unwrap_or(Value::Null),
    );
    if with_history {
        m.insert(
            "history".into(),
            Value::Array(mdlc_asl::aws_history::history_to_aws(&exec.history, true)),
        );
    }
    Value::Object(m)
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &ExecuteArgs) -> i32 {
    if args.local.local {
        return run_local(args);
    }
    let sm: StateMachine = match super::load_definition(&args.definition) {
        Ok(sm) => sm,
        Err(e) => {
            eprintln!("{e}");
            return exit::USAGE;
        }
    };
    let prepared = input_value(args).and_then(|i| options(args).map(|o| (i, o)));
    let (input, opts) = match prepared {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::FAILED;
        }
    };
    let exec = rt.block_on(sm.execute(input, opts));
    print_result(&exec, args.history)
}

/// Prints [`result_json`] on stdout; returns the exit code (0 succeeded, 1 otherwise).
fn print_result(exec: &mdlc_asl::Execution, with_history: bool) -> i32 {
    match serde_json::to_string(&result_json(exec, with_history)) {
        Ok(s) => println!("{s}"),
        Err(e) => {
            eprintln!("error: cannot print the result: {e}");
            return exit::FAILED;
        }
    }
    if exec.status == ExecutionStatus::Succeeded {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// `mdlc execute --local`: returns the exit code (0 succeeded, 1 other terminal status, 2 usage).
fn run_local(args: &ExecuteArgs) -> i32 {
    let local_args = &args.local;
    if !local_args.quiet {
        local::init_tracing("mdlc_emulator=info,warn");
    }
    let prepared = (|| {
        let config = local::cloud_config(local_args, args.real_time)?;
        let cloud = LocalCloud::new(config).map_err(|e| e.to_string())?;
        let machine = cloud.load(&args.definition).map_err(|e| e.to_string())?;
        let input = input_value(args).map_err(|e| e.to_string())?;
        let (mock, name) = mock_and_name(args).map_err(|e| e.to_string())?;
        let fallback: Arc<dyn TaskInvoker> = cloud.invoker().clone();
        let invoker = mock_invoker(mock, &name, Some(fallback)).map_err(|e| e.to_string())?;
        Ok::<_, String>((cloud, machine, input, name, invoker))
    })();
    let (cloud, machine, input, name, invoker) = match prepared {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let rt = match local::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let execution_name = local_args
        .execution_name
        .clone()
        .unwrap_or_else(|| local::default_execution_name(&name));
    let result = rt.block_on(cloud.execute(&name, &machine, &execution_name, input, invoker));
    match result {
        Ok(execution) => print_result(&execution, args.history),
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_definition_path_when_no_name_is_given_then_the_machine_is_named_by_its_stem() {
        assert_eq!(
            machine_name(Path::new("a/training.asl.json"), None),
            "training"
        );
        assert_eq!(machine_name(Path::new("x.json"), Some("y")), "y");
        assert_eq!(machine_name(Path::new(".asl.json"), None), "StateMachine");
    }
}
