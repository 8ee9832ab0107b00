//! Support for tests that run against a real `mlflow server` (this crate's and its users').
//!
//! Such tests are `#[ignore = "needs mlflow: ..."]`, so a plain `cargo nextest run` reports them
//! as skipped; `make test` runs them (`--run-ignored all`) under `scripts/with-servers.sh`.

/// The tracking server of the tests, from `MDLC_TEST_MLFLOW_URI` (exported by
/// `scripts/with-servers.sh`).
///
/// # Panics
/// When the variable is unset or empty: a test that was asked to run against the server and has
/// none fails, it never passes without checking anything.
pub fn mlflow_server() -> String {
    match std::env::var("MDLC_TEST_MLFLOW_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => panic!(
            "MDLC_TEST_MLFLOW_URI is not set: run this test through scripts/with-servers.sh \
             (make test does)"
        ),
    }
}

/// A name no other test run uses (the server may outlive one run): `prefix`, the process id
/// and the time in nanoseconds.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}
