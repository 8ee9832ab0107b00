//! `mdlc execute DEFINITION [--input JSON | --input-file FILE] [--mock-config FILE --test-case NAME] [--history]`
//!
//! Prints exactly one JSON object on stdout:
//! `{"status": ..., "output": <when succeeded>, "error": ..., "cause": ...}` (and `"history"`).
//! Exit code 0 when SUCCEEDED, 1 for another terminal status, 2 for invalid input or usage.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use mdlc_asl::mock::{MockConfig, MockInvoker};
use mdlc_asl::{ExecutionOptions, ExecutionStatus, StateMachine};
use serde_json::{Map, Value};

use super::InputError;
use crate::exit;

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
    pub local: crate::local::LocalArgs,
}

/// The execution input (`{}` by default): JSON, within StartExecution's quota.
pub(crate) fn input_value(args: &ExecuteArgs) -> Result<Value, InputError> {
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

fn options(args: &ExecuteArgs) -> Result<ExecutionOptions, InputError> {
    let mut opts = ExecutionOptions {
        record_history: args.history,
        ..Default::default()
    };
    if args.real_time {
        opts.clock = Arc::new(mdlc_asl::RealClock);
    }
    let stem = args
        .definition
        .file_stem()
        .map(|s| s.to_string_lossy().trim_end_matches(".asl").to_string())
        .unwrap_or_else(|| "StateMachine".to_string());
    let mut name = args.name.clone().unwrap_or(stem);
    if let (Some(mc), Some(tc)) = (&args.mock_config, &args.test_case) {
        let text = super::read_text(mc)?;
        let cfg = MockConfig::from_json_str(&text)
            .map_err(|e| InputError::Usage(format!("{}: {e}", mc.display())))?;
        if args.name.is_none() && cfg.state_machines.len() == 1 {
            if let Some(only) = cfg.state_machines.keys().next() {
                name = only.clone();
            }
        }
        let invoker = MockInvoker::new(cfg, &name, tc, None)
            .map_err(|e| InputError::Usage(format!("{}: {e}", mc.display())))?;
        opts.invoker = Arc::new(invoker);
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
            serde_json::to_value(&exec.history).unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &ExecuteArgs) -> i32 {
    if args.local.local {
        return crate::local::run_execute(args);
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
    let out = result_json(&exec, args.history);
    match serde_json::to_string(&out) {
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
