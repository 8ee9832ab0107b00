//! Support of the wire tests against moto's server (feature `testing`), shared by this crate's
//! tests and the `mdlc` command's `--stack` tests.
//!
//! Every test that uses a server is `#[ignore = "needs moto: ..."]`, so a plain `cargo nextest
//! run` reports it as skipped; when it is run on purpose (`--run-ignored all`, as `make test`
//! does) a missing server is a failure, never a pass (docs/ARCHITECTURE.md, "Tests").

use aws_config::Region;
use aws_credential_types::Credentials;

/// The region of the wire tests.
pub const REGION: &str = "us-east-1";

/// moto's endpoint, from `MDLC_TEST_MOTO_ENDPOINT` (exported by `scripts/with-servers.sh`).
///
/// # Panics
/// When the variable is unset or empty.
pub fn moto_endpoint() -> String {
    match std::env::var("MDLC_TEST_MOTO_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "MDLC_TEST_MOTO_ENDPOINT is not set: this wire test needs moto; run it under scripts/with-servers.sh (make test)"
        ),
    }
}

/// A name unique to this process and call, valid as a table, bucket, stack or job name.
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

/// moto's test administrator (`MDLC_TEST_MOTO_ACCESS_KEY_ID`/`MDLC_TEST_MOTO_SECRET_ACCESS_KEY`,
/// created by `scripts/with-servers.sh`, which starts moto with IAM enforced); `None` when
/// either is unset or empty.
pub fn moto_admin_credentials() -> Option<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let key = var("MDLC_TEST_MOTO_ACCESS_KEY_ID")?;
    let secret = var("MDLC_TEST_MOTO_SECRET_ACCESS_KEY")?;
    Some(Credentials::new(key, secret, None, None, "mdlc-tests"))
}

/// The SDK loader of the wire tests: [`REGION`] and moto's test administrator. Without its
/// credentials (a test that needs no server) they are placeholders moto would refuse.
pub fn test_sdk_loader() -> aws_config::ConfigLoader {
    let credentials = moto_admin_credentials()
        .unwrap_or_else(|| Credentials::new("no-server", "no-server", None, None, "mdlc-tests"));
    sdk_loader_as(credentials)
}

/// The SDK loader of the wire tests ([`REGION`]) with the given credentials.
///
/// The SDK's stalled-stream protection gives a request 120 s, not its default 20 s, before a
/// body that moves no byte fails it: the registry contract's 100 contenders go to moto one at a
/// time (the `OneAtATime` connector of crates/aws/tests/moto.rs), and on a loaded 2-core machine a request waited more
/// than 20 s for its turn and failed with `minimum throughput was specified at 1 B/s, but
/// throughput of 0 B/s was observed` (2026-12-06, load average 12). Only the wire tests' loader;
/// the adapters keep the SDK's default against AWS.
pub fn sdk_loader_as(credentials: Credentials) -> aws_config::ConfigLoader {
    use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
    crate::sdk_loader()
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .grace_period(std::time::Duration::from_secs(120))
                .build(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_within_one_process() {
        let (a, b) = (unique("t"), unique("t"));
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("t-{}-", std::process::id())), "{a}");
    }
}
