//! One start of a handler binary against the Runtime API, and what it produced.

use std::fs::File;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::process::{Child, Command};

use crate::process;
use crate::runtime_api::{Answer, Invocation, RuntimeApi};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// What one process start produced.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Process start → its first `GET .../invocation/next`, in ms.
    pub ready_ms: Option<f64>,
    /// Process start → its first answer, in ms.
    pub answer_ms: Option<f64>,
    pub answer: Option<Answer>,
    pub answer_body: Bytes,
    /// Peak resident memory right after the answer, KiB.
    pub peak_kib: Option<u64>,
    /// On-CPU time of all its threads until the answer, ms.
    pub cpu_ms: Option<f64>,
    /// How the process ended (it is stopped once it has answered).
    pub exit: Option<ExitStatus>,
}

/// How to start one function.
#[derive(Clone, Debug)]
pub struct Launch<'a> {
    pub name: &'a str,
    pub binary: &'a Path,
    pub event: Bytes,
    /// The environment besides `AWS_LAMBDA_RUNTIME_API` (see [`child_env`]).
    pub env: Vec<(String, String)>,
    /// Working directory, `HOME` and `LAMBDA_TASK_ROOT`.
    pub home: &'a Path,
    /// The file that gets the process's stdout and stderr.
    pub log: &'a Path,
    pub timeout: Duration,
}

/// The ARN the invocation names for function `name`.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:mdlc-{name}")
}

/// The environment Lambda gives function `name` (its reserved variables, the pipeline's
/// configuration), with AWS calls sent to `endpoint` with fake static credentials and no retry.
/// `PATH` is this process's (or `/usr/bin:/bin`); nothing else of this process's environment is
/// passed on.
pub fn child_env(name: &str, endpoint: &str, home: &Path, memory_mb: u32) -> Vec<(String, String)> {
    let home = home.display().to_string();
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_owned());
    [
        ("PATH", path),
        ("HOME", home.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME", format!("mdlc-{name}")),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/mdlc-{name}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/22/[$LATEST]bench".to_owned(),
        ),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", home),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCHMARKFAKE000".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "benchmark-fake-secret".to_owned()),
        ("AWS_SESSION_TOKEN", "benchmark-fake-token".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_MAX_ATTEMPTS", "1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("MDLC_TABLE_NAME", "mdlc-registry".to_owned()),
        ("MDLC_ARTIFACT_BUCKET", "mdlc-artifacts".to_owned()),
        (
            "MDLC_SAGEMAKER_ROLE_ARN",
            format!("arn:aws:iam::{ACCOUNT}:role/mdlc-sagemaker"),
        ),
        (
            "MDLC_TRAINING_STATE_MACHINE_ARN",
            format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:mdlc-training"),
        ),
        ("RUST_LOG", "info".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Starts the binary against a fresh Runtime API, waits for its answer (or its exit, or the
/// time-out), reads its CPU time and peak memory if it still runs, and stops it.
pub async fn run_once(launch: &Launch<'_>) -> std::io::Result<Run> {
    let invocation = Invocation::new(launch.event.clone(), function_arn(launch.name));
    let api = RuntimeApi::start(Arc::clone(&invocation)).await?;
    let spawned = spawn(launch, &api, &invocation);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            api.stop().await;
            return Err(e);
        }
    };
    let pid = child.id();
    let exited = wait_for_answer(&invocation, &mut child, launch.timeout).await;
    let (cpu_ms, peak_kib) = match (exited, pid) {
        (None, Some(pid)) => (process::cpu_ms(pid), process::peak_kib(pid)),
        _ => (None, None),
    };
    let exit = match exited {
        Some(status) => Some(status),
        None => stop(&mut child).await,
    };
    api.stop().await;
    let observed = invocation.observed();
    let answered = observed.answered;
    Ok(Run {
        ready_ms: observed.ready.map(millis),
        answer_ms: answered.as_ref().map(|a| millis(a.after)),
        answer: answered.as_ref().map(|a| a.answer.clone()),
        answer_body: answered.map(|a| a.body).unwrap_or_default(),
        peak_kib,
        cpu_ms,
        exit,
    })
}

fn spawn(launch: &Launch<'_>, api: &RuntimeApi, invocation: &Invocation) -> std::io::Result<Child> {
    let log = File::create(launch.log)?;
    let mut command = Command::new(launch.binary);
    command
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", api.address.to_string())
        .current_dir(launch.home)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    invocation.start_clock();
    command.spawn()
}

/// Waits until the process has answered, has exited (its status), or `timeout` has passed
/// since it started; `None` unless it exited.
async fn wait_for_answer(
    invocation: &Invocation,
    child: &mut Child,
    timeout: Duration,
) -> Option<ExitStatus> {
    tokio::select! {
        () = invocation.answered() => None,
        status = child.wait() => status.ok(),
        () = tokio::time::sleep(timeout) => None,
    }
}

/// Stops the process (SIGKILL: nothing of it is measured after its answer) and reaps it.
async fn stop(child: &mut Child) -> Option<ExitStatus> {
    let _ = child.start_kill();
    child.wait().await.ok()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_arn_names_the_deployed_function() {
        assert_eq!(
            function_arn("train"),
            "arn:aws:lambda:us-east-1:123456789012:function:mdlc-train"
        );
    }

    #[test]
    fn the_environment_sends_aws_calls_to_the_endpoint_without_retries() {
        let env = child_env("train", "http://127.0.0.1:9", Path::new("/tmp/h"), 256);
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("AWS_ENDPOINT_URL"), Some("http://127.0.0.1:9"));
        assert_eq!(get("AWS_MAX_ATTEMPTS"), Some("1"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some("mdlc-train"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("256"));
        assert_eq!(get("HOME"), Some("/tmp/h"));
        assert_eq!(get("LAMBDA_TASK_ROOT"), Some("/tmp/h"));
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), None);
        assert_eq!(env.len(), 24);
    }
}
