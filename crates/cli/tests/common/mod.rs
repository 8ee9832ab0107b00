//! Test support shared by the `mdlc` binary's integration tests: running the binary and checking
//! its exit code, files in a temporary directory, and registry versions to seed.

// Each test crate includes this module and uses a part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use mdlc_core::ports::RegistryWrite;
use mdlc_core::registry::{NewVersion, VersionStatus};
use serde_json::Value;

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"))
}

/// Writes `text` to `dir/name`; returns the file's path.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
    p.display().to_string()
}

/// The `mdlc` binary with `args`.
pub fn mdlc_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdlc"));
    cmd.args(args);
    cmd
}

/// Runs `cmd` to its end.
pub fn output_of(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run mdlc: {e}"))
}

/// Checks that `mdlc args` exited with `code`; a mismatch names the arguments and shows the
/// output.
#[track_caller]
pub fn assert_exit(args: &[&str], out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "mdlc {args:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `mdlc args` and checks its exit code.
#[track_caller]
pub fn mdlc_exits(args: &[&str], code: i32) -> Output {
    let out = output_of(&mut mdlc_command(args));
    assert_exit(args, &out, code);
    out
}

/// Stdout as one JSON document.
#[track_caller]
pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Version `n` of `model`, as a training run registers it.
pub fn version(model: &str, n: u64) -> NewVersion {
    NewVersion {
        model_name: model.into(),
        sagemaker_model_name: format!("sm-{n}"),
        training_job_name: format!("job-{n}"),
        tuning_job_name: None,
        model_data_url: format!("s3://mdlc-artifacts/models/{n}/model.tar.gz"),
        image: "mdlc/xgboost".into(),
        hyperparameters: Default::default(),
        objective_metric: Some("validation:rmse".into()),
        objective_value: Some(1.0 + n as f64),
        data_date: "2026-01-01".into(),
        created_at: format!("2026-01-0{n}T00:00:00.000Z"),
        execution_arn: format!("arn:aws:states:us-east-1:000000000000:execution:training:t-{n}"),
        parent_version: None,
        reason: "initial".into(),
        profile_uri: None,
        training_data: None,
    }
}

/// The local registry of the state directory `state` with versions 1..=`count` of `model`,
/// all Registered.
pub fn registry_with_versions(state: &Path, model: &str, count: u64) {
    let registry = mdlc_local::FsRegistry::new(state.join("registry"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    for n in 1..=count {
        let r = rt
            .block_on(registry.register(version(model, n)))
            .unwrap_or_else(|e| panic!("register {n}: {e}"));
        assert_eq!(r.version.status, VersionStatus::Registered);
    }
}
