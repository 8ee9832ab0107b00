//! Support for tests that run against a real `mlflow server` (this crate's and its users').

/// The tracking server of the tests, from `MDLC_TEST_MLFLOW_URI` (exported by
/// `scripts/with-servers.sh`); `None` after a note when it is unset, so the test is skipped.
///
/// # Panics
/// When the variable is unset and `MDLC_REQUIRE_SERVERS=1` (as under `make test`).
pub fn mlflow_server() -> Option<String> {
    match std::env::var("MDLC_TEST_MLFLOW_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ if std::env::var("MDLC_REQUIRE_SERVERS").as_deref() == Ok("1") => {
            panic!("MDLC_TEST_MLFLOW_URI is not set: run through scripts/with-servers.sh")
        }
        _ => {
            eprintln!(
                "skipped: MDLC_TEST_MLFLOW_URI not set (run through scripts/with-servers.sh)"
            );
            None
        }
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
