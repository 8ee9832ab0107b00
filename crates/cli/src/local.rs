//! The local cloud options of `mdlc execute --local` (`--substitute K=V`..., `--function
//! NAME=COMMAND`..., `--lambda-endpoint URL`, `--connections FILE`, `--state-dir DIR`; see
//! `docs/local.md`) and what
//! the local subcommands share (state dir, tracing, runtime). Knows no subcommand: `execute`,
//! `s3` and `demo` build on it.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use mdlc_local::progress::ProgressObserver;
use mdlc_local::substitute::parse_assignment;
use mdlc_local::{LocalCloudConfig, RunSettings};

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
    /// The EventBridge connections HTTP Tasks (arn:aws:states:::http:invoke) name: a JSON file
    /// mapping each connection ARN to CreateConnection's AuthorizationType and AuthParameters
    /// (docs/serve.md, "HTTP Tasks"). Default: the file named by MDLC_CONNECTIONS.
    #[arg(long, value_name = "FILE", requires = "local")]
    pub connections: Option<PathBuf>,
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
    /// No progress lines on stderr (only `--local` runs print them).
    #[arg(long)]
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
    config.connections = connections(
        args.connections.as_deref(),
        std::env::var_os(mdlc_local::http_task::CONNECTIONS_ENV),
    )?;
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

/// The connections of `--connections FILE`, else of the file `MDLC_CONNECTIONS` names (`env`),
/// else none.
pub fn connections(
    flag: Option<&std::path::Path>,
    env: Option<std::ffi::OsString>,
) -> Result<mdlc_local::http_task::Connections, String> {
    let path = match (flag, env.filter(|v| !v.is_empty())) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(v)) => PathBuf::from(v),
        (None, None) => return Ok(mdlc_local::http_task::Connections::none()),
    };
    mdlc_local::http_task::Connections::load(&path).map_err(|e| e.to_string())
}

/// A unique execution name: `<machine>-<UTC timestamp>-<pid>` (at most 80 characters).
pub fn default_execution_name(machine: &str) -> String {
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
            connections: None,
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
    fn given_a_connections_flag_or_variable_when_read_then_the_flag_wins_and_errors_name_the_file()
    {
        let dir = tempfile::tempdir().unwrap();
        let arn = "arn:aws:events:us-east-1:000000000000:connection/A/1";
        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            serde_json::json!({arn: {"AuthorizationType": "BASIC",
                "AuthParameters": {"BasicAuthParameters": {"Username": "u", "Password": "p"}}}})
            .to_string(),
        )
        .unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"not-an-arn": {}}"#).unwrap();
        let from_flag = connections(Some(&good), Some(bad.clone().into_os_string())).unwrap();
        assert!(from_flag.get(arn).is_some());
        let from_env = connections(None, Some(good.clone().into_os_string())).unwrap();
        assert!(from_env.get(arn).is_some());
        assert_eq!(connections(None, None).unwrap().arns().count(), 0);
        let err = connections(None, Some(bad.clone().into_os_string())).unwrap_err();
        assert!(
            err.contains("bad.json") && err.contains("/not-an-arn"),
            "{err}"
        );
        let err = connections(Some(&dir.path().join("missing.json")), None).unwrap_err();
        assert!(err.contains("missing.json"), "{err}");
    }

    #[test]
    fn given_names_then_execution_names_are_valid() {
        let n = default_execution_name("my machine!");
        assert!(n.starts_with("my-machine--"));
        assert!(n.len() <= 80);
    }
}
