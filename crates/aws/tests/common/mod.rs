//! Shared support of the moto wire tests.

#![allow(dead_code)] // shared by several test binaries, each using a part

pub use mdlc_aws::moto::{moto_endpoint, test_sdk_loader, unique};

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
