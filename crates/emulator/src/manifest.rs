//! `ManifestFile` channels: the one reader of a manifest (`[{"prefix": "s3://bucket/p/"}, "a.csv",
//! "b/c.csv", ...]`) for every input mode (File copies, FastFile links, Pipe streams).

use std::path::PathBuf;

use mdlc_core::S3Uri;
use mdlc_core::ports::ObjectStore;
use serde_json::Value;

/// The objects a manifest file lists, each with its path relative to the channel directory, in
/// the manifest's order; a manifest that cannot be read, is not a list starting with its
/// `prefix`, lists no object or an entry that is not a plain relative key is a `ClientError`
/// naming the manifest and the channel.
pub(crate) async fn objects(
    store: &dyn ObjectStore,
    uri: &S3Uri,
    channel: &str,
) -> Result<Vec<(PathBuf, S3Uri)>, String> {
    let bad = |m: String| format!("ClientError: the manifest file {uri} of channel {channel} {m}");
    let body = store
        .get(uri)
        .await
        .map_err(|e| bad(format!("could not be read: {e}")))?;
    let doc: Value = serde_json::from_slice(&body).map_err(|e| bad(format!("is not JSON: {e}")))?;
    let items = doc
        .as_array()
        .ok_or_else(|| bad("must be a JSON list".into()))?;
    let prefix = items
        .first()
        .and_then(|f| f.get("prefix"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("must start with {\"prefix\": \"s3://...\"}".into()))?;
    let prefix: S3Uri = prefix
        .parse()
        .map_err(|e| bad(format!("has a bad prefix: {e}")))?;
    let mut objects = Vec::new();
    for (i, item) in items.iter().enumerate().skip(1) {
        let rel = item
            .as_str()
            .ok_or_else(|| bad(format!("entry {i} is not a string")))?;
        let relative = PathBuf::from(rel);
        if rel.is_empty()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(bad(format!(
                "entry {i} ({rel:?}) is not a plain relative key"
            )));
        }
        objects.push((relative, prefix.join(rel)));
    }
    if objects.is_empty() {
        return Err(bad("lists no objects".into()));
    }
    Ok(objects)
}
