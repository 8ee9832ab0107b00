//! Shared support of the moto wire tests.

use aws_config::Region;
use aws_credential_types::Credentials;

/// moto's endpoint, or `None` (after a note) when the test is to be skipped.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var("MDLC_TEST_MOTO_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("MDLC_REQUIRE_SERVERS").as_deref() == Ok("1") {
                panic!(
                    "MDLC_TEST_MOTO_ENDPOINT is not set but MDLC_REQUIRE_SERVERS=1: run under scripts/with-servers.sh"
                );
            }
            eprintln!(
                "note: skipping moto wire test: MDLC_TEST_MOTO_ENDPOINT is not set (run under scripts/with-servers.sh)"
            );
            None
        }
    }
}

/// A name unique to this process and call, valid as a table, bucket or job name.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The SDK loader of the wire tests: us-east-1 and moto's static test credentials.
pub fn test_sdk_loader() -> aws_config::ConfigLoader {
    mdlc_aws::sdk_loader()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "mdlc-tests",
        ))
}
