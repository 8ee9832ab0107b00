//! `mdlc execute DEFINITION --local [--mock-config F --test-case N] [--substitute K=V]...
//! [--function NAME=COMMAND]... [--lambda-endpoint URL] [--state-dir DIR]`: runs a definition on the
//! local cloud (see `docs/local.md`), and what the other local subcommands share (state dir,
//! tracing, runtime).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use mdlc_asl::mock::{MockConfig, MockInvoker};
use mdlc_asl::{ExecutionStatus, TaskInvoker};
use mdlc_local::progress::ProgressObserver;
use mdlc_local::substitute::parse_assignment;
use mdlc_local::{LocalCloud, LocalCloudConfig, RunSettings};
use serde_json::Value;

use crate::commands::execute::{ExecuteArgs, result_json};
use crate::exit;

/// The local-cloud options of `mdlc execute`.
#[derive(Debug, Clone, Args)]
pub struct LocalArgs {
    /// Run on the local cloud: Lambda ARNs naming the project's functions in process, SageMaker
    /// integrations on the emulator, startExecution as nested local executions.
    #[arg(long)]
    pub local: bool,
    /// Fill the `${KEY}` placeholders of the definition (repeatable; overrides the local defaults).
    #[arg(long = "substitute", value_name = "KEY=VALUE", requires = "local")]
    pub substitute: Vec<String>,
    /// Run Lambda function NAME as a command: the event on stdin, the result on stdout; a
    /// non-zero exit with {"errorType","errorMessage"} on stdout is a named error (repeatable).
    #[arg(long = "function", value_name = "NAME=COMMAND", requires = "local")]
    pub function: Vec<String>,
    /// Send Lambda invocations to this Lambda Invoke API (e.g. `cargo lambda watch`,
    /// http://127.0.0.1:9000).
    #[arg(long, value_name = "URL", requires = "local")]
    pub lambda_endpoint: Option<String>,
    /// Where the local cloud keeps its state (object store, registry, jobs, executions).
    #[arg(long, value_name = "DIR", default_value = ".mdlc")]
    pub state_dir: PathBuf,
    /// Image map (JSON) from image URIs to local programs; default `<state dir>/images.json`
    /// when it exists, else the built-in map.
    #[arg(long, value_name = "FILE", requires = "local")]
    pub image_map: Option<PathBuf>,
    /// The execution's name (default: a UUID).
    #[arg(long, value_name = "NAME", requires = "local")]
    pub execution_name: Option<String>,
    /// No progress lines on stderr.
    #[arg(long, requires = "local")]
    pub quiet: bool,
}

/// Installs a human-readable tracing subscriber on stderr (`RUST_LOG` overrides `default`).
pub fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

/// A multi-threaded runtime with I/O and time (jobs are child processes and loopback servers).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn split_assignment(text: &str, flag: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{flag} {text:?}: expected NAME=VALUE")),
    }
}

/// The local cloud configuration these options describe.
pub fn cloud_config(args: &LocalArgs, real_time: bool) -> Result<LocalCloudConfig, String> {
    let mut config = LocalCloudConfig::new(&args.state_dir);
    for s in &args.substitute {
        let (k, v) = parse_assignment(s).map_err(|e| e.to_string())?;
        config.substitutions.insert(k, v);
    }
    for f in &args.function {
        let (name, command) = split_assignment(f, "--function")?;
        if mdlc_local::invoker::function_name(&name) != Some(name.as_str()) {
            return Err(format!(
                "--function {f:?}: {name:?} is not a valid function name (letters, digits, '-', '_')"
            ));
        }
        config.commands.push((name, command));
    }
    config.lambda_endpoint = args.lambda_endpoint.clone();
    config.image_map = args.image_map.clone();
    let observer: Option<Arc<dyn mdlc_asl::ExecutionObserver>> = if args.quiet {
        None
    } else {
        Some(Arc::new(ProgressObserver::stderr()))
    };
    config.settings = RunSettings {
        clock: if real_time {
            Arc::new(mdlc_asl::RealClock)
        } else {
            Arc::new(mdlc_asl::VirtualClock::new())
        },
        record_history: true,
        observer,
        item_store: None,
        max_transitions: None,
    };
    Ok(config)
}

/// The execution input, read and checked as `mdlc execute` does without `--local`.
fn read_input(args: &ExecuteArgs) -> Result<Value, String> {
    crate::commands::execute::input_value(args).map_err(|e| e.to_string())
}

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

/// `mdlc execute --local`: returns the exit code (0 succeeded, 1 other terminal status, 2 usage).
pub fn run_execute(args: &ExecuteArgs) -> i32 {
    let local = &args.local;
    if !local.quiet {
        init_tracing("mdlc_emulator=info,warn");
    }
    let prepared = (|| {
        let config = cloud_config(local, args.real_time)?;
        let cloud = LocalCloud::new(config).map_err(|e| e.to_string())?;
        let machine = cloud.load(&args.definition).map_err(|e| e.to_string())?;
        let input = read_input(args)?;
        let mut name = machine_name(&args.definition, args.name.as_deref());
        let mut invoker: Option<Arc<dyn TaskInvoker>> = None;
        if let (Some(mc), Some(tc)) = (&args.mock_config, &args.test_case) {
            let text = std::fs::read_to_string(mc)
                .map_err(|e| format!("cannot read {}: {e}", mc.display()))?;
            let cfg =
                MockConfig::from_json_str(&text).map_err(|e| format!("{}: {e}", mc.display()))?;
            if args.name.is_none() && cfg.state_machines.len() == 1 {
                if let Some(only) = cfg.state_machines.keys().next() {
                    name = only.clone();
                }
            }
            let fallback: Arc<dyn TaskInvoker> = cloud.invoker().clone();
            let mock = MockInvoker::new(cfg, &name, tc, Some(fallback))
                .map_err(|e| format!("{}: {e}", mc.display()))?;
            invoker = Some(Arc::new(mock));
        }
        Ok::<_, String>((cloud, machine, input, name, invoker))
    })();
    let (cloud, machine, input, name, invoker) = match prepared {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let execution_name = local
        .execution_name
        .clone()
        .unwrap_or_else(|| default_execution_name(&name));
    let result = rt.block_on(cloud.execute(&name, &machine, &execution_name, input, invoker));
    let execution = match result {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let out = result_json(&execution, args.history);
    match serde_json::to_string(&out) {
        Ok(s) => println!("{s}"),
        Err(e) => {
            eprintln!("error: cannot print the result: {e}");
            return exit::FAILED;
        }
    }
    if execution.status == ExecutionStatus::Succeeded {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// A unique execution name: `<machine>-<UTC timestamp>-<pid>` (at most 80 characters).
fn default_execution_name(machine: &str) -> String {
    let stamp = chrono_like_stamp();
    let mut base: String = machine
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if base.is_empty() {
        base = "execution".into();
    }
    format!("{base}-{stamp}-{}", std::process::id())
}

fn chrono_like_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}{:03}", now.as_secs(), now.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_local_args_when_converted_then_commands_and_substitutions_are_set() {
        let args = LocalArgs {
            local: true,
            substitute: vec!["Bucket=my-bucket".into()],
            function: vec!["notify=cat".into()],
            lambda_endpoint: None,
            state_dir: PathBuf::from("/tmp/x"),
            image_map: None,
            execution_name: None,
            quiet: true,
        };
        let c = cloud_config(&args, false).unwrap();
        assert_eq!(c.substitutions["Bucket"], "my-bucket");
        assert_eq!(c.commands, vec![("notify".to_string(), "cat".to_string())]);
        let bad = LocalArgs {
            function: vec!["no-command".into()],
            ..args.clone()
        };
        let err = cloud_config(&bad, false).err().unwrap_or_default();
        assert!(err.contains("NAME=VALUE"), "{err}");
        let bad = LocalArgs {
            substitute: vec!["=x".into()],
            ..args
        };
        assert!(cloud_config(&bad, false).is_err());
    }

    #[test]
    fn given_names_then_execution_names_are_valid() {
        let n = default_execution_name("my machine!");
        assert!(n.starts_with("my-machine--"));
        assert!(n.len() <= 80);
        assert_eq!(
            machine_name(Path::new("a/training.asl.json"), None),
            "training"
        );
        assert_eq!(machine_name(Path::new("x.json"), Some("y")), "y");
    }
}
