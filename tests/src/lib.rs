//! Helpers shared by the end-to-end tests: building the workspace binaries the tests run (the
//! built-in trainer that the SageMaker emulator starts, the `mdlc` command), locating fixtures,
//! headless Chromium ([`browser`]) and a running `mdlc serve` ([`serve`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

pub mod browser;
pub mod fault;
pub mod serve;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The target directory cargo builds into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The newest modification time of the files under `dirs` (relative to the workspace root).
fn newest_source(dirs: &[&str]) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| workspace_root().join(d)).collect();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if let Ok(m) = meta.modified() {
            newest = Some(newest.map_or(m, |n: std::time::SystemTime| n.max(m)));
        }
    }
    newest
}

/// Whether `binary` exists and is newer than every source file under `sources`.
fn up_to_date(binary: &Path, sources: &[&str]) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return false;
    };
    newest_source(sources).is_some_and(|src| src <= built)
}

/// Builds `package` (debug profile) and returns the path of its binary `bin`. Cargo's own lock
/// serialises concurrent test processes; once built, this is a quick no-op.
pub fn built_binary(package: &str, bin: &str) -> Result<PathBuf, String> {
    built_binary_from(package, bin, &["crates", "Cargo.toml", "Cargo.lock"])
}

/// Like [`built_binary`], skipping cargo when the binary is newer than every file under
/// `sources` (paths relative to the workspace root).
pub fn built_binary_from(package: &str, bin: &str, sources: &[&str]) -> Result<PathBuf, String> {
    let _guard = BUILD_LOCK.lock().map_err(|e| e.to_string())?;
    let path = target_dir()
        .join("debug")
        .join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    if up_to_date(&path, sources) {
        return Ok(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run cargo to build {package}: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p {package} failed with {status}"));
    }
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} was not produced by the build", path.display()))
    }
}

/// Builds the built-in trainer where the emulator looks for it (`target/debug/mdlc-trainer`).
pub fn ensure_trainer() -> PathBuf {
    built_binary_from(
        "mdlc-trainer",
        "mdlc-trainer",
        &["crates/trainer", "Cargo.toml", "Cargo.lock"],
    )
    .unwrap_or_else(|e| panic!("the built-in trainer is needed by this test: {e}"))
}

/// The demo as the end-to-end tests run it: seeded generated data (800 rows, 6 features), 30
/// boosting rounds, virtual time.
pub fn demo_options(
    state_dir: &Path,
    problem: mdlc_local::demo::Problem,
) -> mdlc_local::demo::DemoOptions {
    let mut opts = mdlc_local::demo::DemoOptions::new(state_dir);
    opts.problem = problem;
    opts.rows = 800;
    opts.features = 6;
    opts.num_round = 30;
    opts.real_time = false;
    opts
}
