//! Helpers shared by the end-to-end tests: building the workspace binaries the tests run (the
//! built-in trainer that the SageMaker emulator starts, the `mdlc` command) and locating fixtures.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// The target directory cargo builds into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds `package` (debug profile) and returns the path of its binary `bin`. Cargo's own lock
/// serialises concurrent test processes; once built, this is a quick no-op.
pub fn built_binary(package: &str, bin: &str) -> Result<PathBuf, String> {
    let _guard = BUILD_LOCK.lock().map_err(|e| e.to_string())?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run cargo to build {package}: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p {package} failed with {status}"));
    }
    let path = target_dir()
        .join("debug")
        .join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} was not produced by the build", path.display()))
    }
}

/// Builds the built-in trainer where the emulator looks for it (`target/debug/mdlc-trainer`).
pub fn ensure_trainer() -> PathBuf {
    built_binary("mdlc-trainer", "mdlc-trainer")
        .unwrap_or_else(|e| panic!("the built-in trainer is needed by this test: {e}"))
}
