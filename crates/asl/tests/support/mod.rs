//! Shared by the engine's integration tests: building a machine, an in-memory item store
//! and a Distributed Map around an `ItemReader`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use mdlc_asl::{ItemStore, ItemStoreError, StateMachine, StoredObject};
use serde_json::{Value, json};

pub fn machine(def: Value) -> StateMachine {
    StateMachine::from_value(&def).unwrap_or_else(|e| panic!("invalid definition: {e}"))
}

#[derive(Default)]
/// S3 objects in memory, keyed by `s3://bucket/key`.
pub struct MemStore(pub Mutex<BTreeMap<String, Vec<u8>>>);

#[async_trait]
impl ItemStore for MemStore {
    async fn get(&self, uri: &str) -> Result<Vec<u8>, ItemStoreError> {
        self.0
            .lock()
            .map_err(|e| ItemStoreError::Other(e.to_string()))?
            .get(uri)
            .cloned()
            .ok_or_else(|| ItemStoreError::NotFound(uri.to_string()))
    }
    async fn put(&self, uri: &str, body: Vec<u8>) -> Result<(), ItemStoreError> {
        self.0
            .lock()
            .map_err(|e| ItemStoreError::Other(e.to_string()))?
            .insert(uri.to_string(), body);
        Ok(())
    }
    async fn list(&self, prefix_uri: &str) -> Result<Vec<StoredObject>, ItemStoreError> {
        let (bucket_prefix, _) = prefix_uri
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .map(|(b, _)| (format!("s3://{b}/"), ()))
            .unwrap_or_default();
        Ok(self
            .0
            .lock()
            .map_err(|e| ItemStoreError::Other(e.to_string()))?
            .iter()
            .filter(|(k, _)| k.starts_with(prefix_uri))
            .map(|(k, v)| StoredObject {
                key: k.trim_start_matches(&bucket_prefix).to_string(),
                size: v.len() as u64,
                last_modified: None,
                etag: None,
            })
            .collect())
    }
}

pub fn distributed(reader: Value, extra: Value) -> StateMachine {
    let mut map = json!({"Type":"Map","End":true,"ItemReader":reader,
        "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
            "StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}});
    if let (Some(m), Some(e)) = (map.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    machine(json!({"StartAt":"M","States":{"M": map}}))
}
