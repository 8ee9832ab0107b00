//! Shared support of the moto wire tests.

#![allow(dead_code)] // shared by several test binaries, each using a part

use aws_config::Region;
use aws_credential_types::Credentials;

/// moto's endpoint, from `MDLC_TEST_MOTO_ENDPOINT` (exported by `scripts/with-servers.sh`).
///
/// Every test that calls this is `#[ignore = "needs moto: ..."]`, so a plain `cargo nextest run`
/// reports it as skipped; when it is run on purpose (`--run-ignored all`, as `make test` does)
/// a missing server is a failure, never a pass (docs/ARCHITECTURE.md, "Tests").
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

/// The SDK loader of the wire tests: us-east-1 and the credentials of moto's test administrator
/// (`MDLC_TEST_MOTO_ACCESS_KEY_ID`/`MDLC_TEST_MOTO_SECRET_ACCESS_KEY`, created by
/// `scripts/with-servers.sh`, which starts moto with IAM enforced). Without them (a test that
/// needs no server) the credentials are placeholders moto would refuse.
pub fn test_sdk_loader() -> aws_config::ConfigLoader {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (key, secret) = match (
        var("MDLC_TEST_MOTO_ACCESS_KEY_ID"),
        var("MDLC_TEST_MOTO_SECRET_ACCESS_KEY"),
    ) {
        (Some(key), Some(secret)) => (key, secret),
        _ => ("no-server".to_string(), "no-server".to_string()),
    };
    sdk_loader_as(Credentials::new(key, secret, None, None, "mdlc-tests"))
}

/// The SDK loader of the wire tests (us-east-1) with the given credentials.
pub fn sdk_loader_as(credentials: Credentials) -> aws_config::ConfigLoader {
    mdlc_aws::sdk_loader()
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
}

/// Creates the registry table `table` as the template declares it (string keys `pk`/`sk`, on
/// demand), failing the test with `who` and the SDK error when it cannot.
pub async fn create_registry_table(client: &aws_sdk_dynamodb::Client, table: &str, who: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key schema")
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    client
        .create_table()
        .table_name(table)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable {table} {who} failed: {e:?}"));
}
