//! `mdlc serve [--port P] [--state-dir DIR] [--mock-config FILE] [--function NAME=COMMAND]...
//! [--lambda-endpoint URL] [--connections FILE] [--image-map FILE] [--real-time] [--max-concurrent N] [--quiet]`:
//! the Step Functions API on 127.0.0.1 (see docs/serve.md), its Task states run by the local
//! cloud (the invoker of `mdlc execute --local`).
//!
//! The first line on stdout is the endpoint (`http://127.0.0.1:PORT`, the real port when
//! `--port 0` asked for a free one). SIGINT or SIGTERM stops the server; an execution still
//! running then is FAILED when the server next opens the state directory.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use mdlc_asl::TaskInvoker;
use mdlc_asl::mock::MockConfig;
use mdlc_local::LocalCloud;
use mdlc_serve::api_models::ApiModels;
use mdlc_serve::{App, DEFAULT_MAX_CONCURRENT, ServeConfig};

use crate::{exit, local};

/// The variable Step Functions Local reads its MockConfigFile from.
pub const MOCK_CONFIG_ENV: &str = "SFN_MOCK_CONFIG";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The port on 127.0.0.1 (0: a free port; Step Functions Local's default is 8083).
    #[arg(long, default_value_t = 8083)]
    pub port: u16,
    /// Where the server keeps its state machines and executions (`<DIR>/serve`) and the local
    /// cloud its state.
    #[arg(long, value_name = "DIR", default_value = ".mdlc")]
    pub state_dir: PathBuf,
    /// A MockConfigFile (Step Functions Local's format); an execution started with
    /// `stateMachineArn` `<arn>#<TestCase>` answers its Task states from that test case.
    /// Default: the file named by SFN_MOCK_CONFIG.
    #[arg(long, value_name = "FILE")]
    pub mock_config: Option<PathBuf>,
    /// Run Lambda function NAME as a command: the event on stdin, the result on stdout
    /// (repeatable; as `mdlc execute --local --function`).
    #[arg(long = "function", value_name = "NAME=COMMAND")]
    pub function: Vec<String>,
    /// Send Lambda invocations to this Lambda Invoke API (e.g. `cargo lambda watch`).
    #[arg(long, value_name = "URL")]
    pub lambda_endpoint: Option<String>,
    /// The EventBridge connections HTTP Tasks (arn:aws:states:::http:invoke) name: a JSON file
    /// mapping each connection ARN to CreateConnection's AuthorizationType and AuthParameters
    /// (docs/serve.md, "HTTP Tasks"). Default: the file named by MDLC_CONNECTIONS.
    #[arg(long, value_name = "FILE")]
    pub connections: Option<PathBuf>,
    /// Image map (JSON) from image URIs to local programs for the SageMaker emulator.
    #[arg(long, value_name = "FILE")]
    pub image_map: Option<PathBuf>,
    /// Wait states and retry back-off take real time (default: virtual time, they pass at once).
    #[arg(long)]
    pub real_time: bool,
    /// Executions running at once; more wait for a slot (RUNNING meanwhile).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONCURRENT as u64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_concurrent: u64,
    /// botocore's API models (its `data` folder), against which TestState checks a mocked
    /// result (`mock.fieldValidationMode`). Default: MDLC_API_MODELS, else a botocore installed
    /// in the active virtual environment or the usual site-packages folders.
    #[arg(long, value_name = "DIR")]
    pub api_models: Option<PathBuf>,
    /// No log lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// The MockConfigFile of `--mock-config`, else of `SFN_MOCK_CONFIG` (none when neither is set).
fn mock_config(args: &ServeArgs) -> Result<Option<MockConfig>, String> {
    let path = match &args.mock_config {
        Some(p) => p.clone(),
        None => match std::env::var_os(MOCK_CONFIG_ENV).filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => return Ok(None),
        },
    };
    let text = super::read_text(&path).map_err(|e| e.to_string())?;
    MockConfig::from_json_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The local cloud behind the server (its invoker runs the Task states).
fn cloud(args: &ServeArgs) -> Result<LocalCloud, String> {
    let local_args = local::LocalArgs {
        local: true,
        substitute: Vec::new(),
        function: args.function.clone(),
        lambda_endpoint: args.lambda_endpoint.clone(),
        connections: args.connections.clone(),
        state_dir: args.state_dir.clone(),
        image_map: args.image_map.clone(),
        execution_name: None,
        quiet: true,
    };
    let config = local::cloud_config(&local_args, args.real_time)?;
    LocalCloud::new(config).map_err(|e| e.to_string())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// botocore's models: `--api-models`, else found; a warning when there are none.
fn api_models(args: &ServeArgs) -> Result<Option<ApiModels>, String> {
    let models = match &args.api_models {
        Some(dir) if !dir.join("stepfunctions").is_dir() => {
            return Err(format!(
                "--api-models {}: not botocore's data folder (it has no stepfunctions/ model)",
                dir.display()
            ));
        }
        Some(dir) => Some(ApiModels::new(dir)),
        None => ApiModels::discover(),
    };
    match &models {
        Some(m) => {
            tracing::info!(target: "mdlc::serve", "TestState checks mocked results against the API models in {}", m.dir().display())
        }
        None => {
            tracing::warn!(target: "mdlc::serve", "TestState does not check mocked results: no botocore API models found (pip install botocore, or --api-models DIR)")
        }
    }
    Ok(models)
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &ServeArgs) -> i32 {
    if !args.quiet {
        local::init_tracing("mdlc::serve=info,mdlc_emulator=info,warn");
    }
    let prepared = api_models(args).and_then(|models| {
        mock_config(args).and_then(|mock| cloud(args).map(|c| (mock, c, models)))
    });
    let (mock, cloud, models) = match prepared {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let invoker: Arc<dyn TaskInvoker> = cloud.invoker().clone();
    let config = ServeConfig {
        state_dir: cloud.state_dir().to_path_buf(),
        invoker,
        item_store: None,
        mock,
        real_time: args.real_time,
        max_concurrent: usize::try_from(args.max_concurrent).unwrap_or(DEFAULT_MAX_CONCURRENT),
        api_models: models.map(Arc::new),
        http_tasks: cloud.invoker().http_tasks().cloned(),
    };
    let rt = match local::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::UNAVAILABLE;
        }
    };
    let result = rt.block_on(async {
        let app = App::open(config).map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "http://{addr}");
        let _ = out.flush();
        tracing::info!(target: "mdlc::serve", "Step Functions API on http://{addr} (state in {})", app.store().root().display());
        mdlc_serve::serve(listener, app, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    });
    drop(cloud);
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::UNAVAILABLE
        }
    }
}
