//! A Distributed Map's `ItemReader`: the items of S3 objects read through the
//! [`crate::ItemStore`] of the execution options — the objects under a prefix
//! (`s3:listObjectsV2`), or the items in one object (`s3:getObject`): a JSON array, JSON Lines,
//! a text delimited file, or an S3 inventory (its `manifest.json` and the CSV files it lists).
//!
//! The reading is split as AWS's execution history shows it: what is evaluated from the state
//! ([`plan_read`]) fails before `MapRunStarted`; the reading itself ([`read_items`]) inside the
//! Map Run, a failure there being the run's (`MapRunFailed`, `States.ItemReaderFailed`).

use std::io::Read;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::api::{ExecutionOptions, ItemStore};
use crate::distributed::eval_params;
use crate::exec::eval::{FieldInput, dyn_whole};
use crate::exec::failure::{Failure, runtime};
use crate::exec::types::StateRun;
use crate::model::ItemReader;

/// AWS's largest S3 inventory file once decompressed: "Step Functions supports 10 GB as the
/// maximum size of an individual file in an Amazon S3 inventory report after decompression".
const MAX_INVENTORY_FILE_BYTES: u64 = 10_000_000_000;

/// What an `ItemReader` reads, settled before its Map Run starts: the evaluated
/// `Parameters`/`Arguments`, the store and `MaxItems` (AWS fails a `MaxItemsPath` that is no
/// integer with `States.Runtime` before `MapRunStarted`).
pub(crate) struct ReadPlan<'r> {
    reader: &'r ItemReader,
    store: Arc<dyn ItemStore>,
    params: Value,
    max_items: Option<i64>,
}

/// The [`ReadPlan`] of a Distributed Map's `ItemReader`.
pub(crate) fn plan_read<'r>(
    opts: &ExecutionOptions,
    sr: &StateRun<'_>,
    r: &'r ItemReader,
    at: &FieldInput<'_, '_>,
) -> Result<ReadPlan<'r>, Failure> {
    let params = eval_params(sr, r.parameters.as_ref(), "ItemReader/Arguments", at)?;
    let Some(store) = opts.item_store.clone() else {
        return Err(Failure::new(
            "States.ItemReaderFailed",
            format!(
                "state '{}' reads its items from S3 ({}), but no item store is configured for this execution",
                sr.st.name, r.resource
            ),
        ));
    };
    if text_param(&params, "Bucket").is_empty() {
        return Err(runtime(sr, "ItemReader parameters need a 'Bucket'"));
    }
    let max_items = dyn_whole(sr, r.max_items.as_ref(), "MaxItems", at)?;
    Ok(ReadPlan {
        reader: r,
        store,
        params,
        max_items,
    })
}

fn text_param<'v>(params: &'v Value, name: &str) -> &'v str {
    params.get(name).and_then(Value::as_str).unwrap_or("")
}

/// The items, read inside the Map Run, at most `MaxItems`. A `MaxItems` of 0 reads every item,
/// as AWS does (recorded for a fixed value and for `MaxItemsPath`); a negative one fails as
/// AWS's does.
pub(crate) async fn read_items(plan: ReadPlan<'_>) -> Result<Vec<Value>, Failure> {
    let limit = match plan.max_items {
        Some(n) if n < 0 => {
            return Err(Failure::new(
                "States.ItemReaderFailed",
                "field MaxItems must be positive",
            ));
        }
        Some(0) | None => None,
        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let (r, store) = (plan.reader, plan.store.as_ref());
    let bucket = text_param(&plan.params, "Bucket");
    let mut items = if r.resource.starts_with("arn:aws:states:::s3:listObjectsV2") {
        list_objects(store, bucket, text_param(&plan.params, "Prefix")).await?
    } else {
        let uri = format!("s3://{bucket}/{}", text_param(&plan.params, "Key"));
        read_object(store, r, &uri, limit).await?
    };
    if let Some(n) = limit {
        items.truncate(n);
    }
    Ok(items)
}

fn s3_failure(e: crate::ItemStoreError) -> Failure {
    match e {
        crate::ItemStoreError::NotFound(m) => Failure::new("S3.NoSuchKey", m),
        crate::ItemStoreError::Other(m) => Failure::new("States.ItemReaderFailed", m),
    }
}

/// `s3:listObjectsV2`: one item per object under the prefix.
async fn list_objects(
    store: &dyn ItemStore,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Value>, Failure> {
    let objs = store
        .list(&format!("s3://{bucket}/{prefix}"))
        .await
        .map_err(s3_failure)?;
    Ok(objs
        .into_iter()
        .map(|o| {
            json!({
                "Etag": o.etag.unwrap_or_default(),
                "Key": o.key,
                "LastModified": o.last_modified.unwrap_or_default(),
                "Size": o.size,
                "StorageClass": "STANDARD",
            })
        })
        .collect())
}

/// Why an object's items could not be read.
#[derive(Debug, PartialEq)]
enum ItemsError {
    /// A cause AWS records, word for word.
    Aws(&'static str),
    /// Ours, about the object at hand (shown after its URI).
    Object(String),
}

impl ItemsError {
    fn failure(self, uri: &str) -> Failure {
        let cause = match self {
            ItemsError::Aws(m) => m.to_string(),
            ItemsError::Object(m) => format!("{uri}: {m}"),
        };
        Failure::new("States.ItemReaderFailed", cause)
    }
}

impl From<String> for ItemsError {
    fn from(m: String) -> Self {
        ItemsError::Object(m)
    }
}

/// `s3:getObject`: the items in the object at `uri`, as its ReaderConfig says; an inventory
/// stops reading its files once it has `limit` items.
async fn read_object(
    store: &dyn ItemStore,
    r: &ItemReader,
    uri: &str,
    limit: Option<usize>,
) -> Result<Vec<Value>, Failure> {
    let text = get_text(store, uri).await?;
    if r.input_type == "MANIFEST" {
        return inventory_items(store, &text, limit)
            .await
            .map_err(|e| e.failure(uri));
    }
    parse_items(r, &text).map_err(|e| e.failure(uri))
}

async fn get_text(store: &dyn ItemStore, uri: &str) -> Result<String, Failure> {
    let bytes = store.get(uri).await.map_err(s3_failure)?;
    String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            "States.ItemReaderFailed",
            format!("{uri} is not UTF-8 text"),
        )
    })
}

/// Parses an object's text into items according to the ReaderConfig (JSON, JSONL or CSV).
fn parse_items(r: &ItemReader, text: &str) -> Result<Vec<Value>, ItemsError> {
    match r.input_type.as_str() {
        "JSON" => json_items(r, text),
        "JSONL" => Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| format!("line {}: invalid JSON: {e}", i + 1))
            })
            .collect::<Result<_, _>>()?),
        _ => csv_items(r, text),
    }
}

/// A JSON array (at `ItemsPointer`); anything else is AWS's "non-iterable node".
fn json_items(r: &ItemReader, text: &str) -> Result<Vec<Value>, ItemsError> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let v = match &r.items_pointer {
        Some(p) => v
            .pointer(p)
            .cloned()
            .ok_or_else(|| format!("ItemsPointer '{p}' matches nothing"))?,
        None => v,
    };
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(ItemsError::Aws("Attempting to map over non-iterable node.")),
    }
}

/// An S3 inventory, as AWS reads one: the `manifest.json` names the inventory's CSV files
/// (gzip-compressed, in the bucket of its `destinationBucket` ARN) and their columns
/// (`fileSchema`); each row is one item, its columns as strings keyed by the schema's names.
async fn inventory_items(
    store: &dyn ItemStore,
    manifest: &str,
    limit: Option<usize>,
) -> Result<Vec<Value>, ItemsError> {
    let m = Manifest::parse(manifest)?;
    let mut items = Vec::new();
    for key in &m.files {
        if limit.is_some_and(|n| items.len() >= n) {
            break;
        }
        let uri = format!("s3://{}/{key}", m.bucket);
        let bytes = store
            .get(&uri)
            .await
            .map_err(|e| format!("inventory file {uri}: {}", store_message(e)))?;
        let text = inventory_text(&bytes, MAX_INVENTORY_FILE_BYTES)
            .map_err(|e| format!("inventory file {uri}: {e}"))?;
        let rows = parse_csv(&text, ',')?.into_iter().filter(|r| !is_blank(r));
        items.extend(rows.map(|row| row_item(&m.columns, row)));
    }
    Ok(items)
}

/// A failed read of an inventory file: S3's words for a missing key, else the store's.
fn store_message(e: crate::ItemStoreError) -> String {
    match e {
        crate::ItemStoreError::NotFound(_) => "The specified key does not exist.".to_string(),
        crate::ItemStoreError::Other(m) => m,
    }
}

/// The fields of an S3 inventory `manifest.json` that reading it needs.
#[derive(Debug, PartialEq)]
struct Manifest {
    bucket: String,
    columns: Vec<String>,
    files: Vec<String>,
}

impl Manifest {
    fn parse(text: &str) -> Result<Manifest, ItemsError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("invalid manifest.json: {e}"))?;
        let field = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("manifest.json has no string '{name}'"))
        };
        let format = field("fileFormat")?;
        if format != "CSV" {
            return Err(ItemsError::Object(format!(
                "the inventory's fileFormat is {format}; an S3 inventory read as items must be CSV"
            )));
        }
        let destination = field("destinationBucket")?;
        let bucket = destination
            .strip_prefix("arn:aws:s3:::")
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                format!("manifest.json destinationBucket '{destination}' is not an S3 bucket ARN")
            })?;
        let columns = field("fileSchema")?
            .split(',')
            .map(|c| c.trim().to_string())
            .collect();
        let files = v
            .get("files")
            .and_then(Value::as_array)
            .ok_or_else(|| "manifest.json has no array 'files'".to_string())?
            .iter()
            .enumerate()
            .map(|(i, f)| {
                f.get("key")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| format!("manifest.json files[{i}] has no string 'key'"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Manifest {
            bucket: bucket.to_string(),
            columns,
            files,
        })
    }
}

/// An inventory file's text: gunzipped when it is gzip (as S3 writes them), at most `max`
/// bytes once decompressed (AWS's [`MAX_INVENTORY_FILE_BYTES`]); no more than that is inflated.
fn inventory_text(bytes: &[u8], max: u64) -> Result<String, String> {
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(max.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| format!("not a valid gzip file: {e}"))?;
        out
    } else {
        bytes.to_vec()
    };
    if raw.len() as u64 > max {
        return Err(format!("larger than {max} bytes once decompressed"));
    }
    String::from_utf8(raw).map_err(|_| "not UTF-8 text".to_string())
}

/// A blank line: one empty field (a row whose first field alone is empty is a row).
fn is_blank(row: &[String]) -> bool {
    row.len() == 1 && row[0].is_empty()
}

/// One row as an item: each header with its field, an empty string for a missing field, and
/// fields beyond the headers skipped (AWS's rules for a row shorter or longer than the header).
fn row_item(headers: &[String], row: Vec<String>) -> Value {
    let mut fields = row.into_iter();
    let mut m = Map::new();
    for h in headers {
        m.insert(h.clone(), Value::String(fields.next().unwrap_or_default()));
    }
    Value::Object(m)
}

/// CSV: one object per row, keyed by the first row or the given headers; blank lines skipped.
/// Headers that repeat a name fail as AWS's do.
fn csv_items(r: &ItemReader, text: &str) -> Result<Vec<Value>, ItemsError> {
    let rows = parse_csv(text, r.csv_delimiter)?;
    let mut rows = rows.into_iter();
    let headers: Vec<String> = if r.csv_header_location == "GIVEN" {
        r.csv_headers.clone().unwrap_or_default()
    } else {
        rows.next().unwrap_or_default()
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h.as_str())) {
        return Err(ItemsError::Aws("CSV headers cannot contain duplicates."));
    }
    Ok(rows
        .filter(|row| !is_blank(row))
        .map(|row| row_item(&headers, row))
        .collect())
}

/// Text delimited records by AWS's rules: fields split at `delim`, records at line ends (LF or
/// CRLF); a field that opens with a double quote may hold delimiters and line ends, and `""`
/// in it is one quote; a backslash escapes a backslash, a double quote or the delimiter, and
/// before any other character it is dropped.
fn parse_csv(text: &str, delim: char) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if c == '\\' {
            if let Some(&next) = chars.peek()
                && (next == '\\' || next == '"' || next == delim)
            {
                chars.next();
                field.push(next);
            }
        } else if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && field.is_empty() {
            quoted = true;
        } else if c == delim {
            row.push(std::mem::take(&mut field));
        } else if c == '\n' || c == '\r' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            row.push(std::mem::take(&mut field));
            rows.push(std::mem::take(&mut row));
            any = false;
        } else {
            field.push(c);
        }
    }
    if quoted {
        return Err("unterminated quoted field".to_string());
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn csv_reader(location: &str, headers: Option<&[&str]>) -> ItemReader {
        ItemReader {
            resource: "arn:aws:states:::s3:getObject".to_string(),
            parameters: None,
            input_type: "CSV".to_string(),
            csv_header_location: location.to_string(),
            csv_headers: headers.map(|h| h.iter().map(|s| s.to_string()).collect()),
            csv_delimiter: ',',
            max_items: None,
            items_pointer: None,
        }
    }

    #[test]
    fn csv_items_skip_only_blank_lines() {
        // A one-column file keeps its rows; a row whose first field is empty is a row.
        let items = csv_items(&csv_reader("FIRST_ROW", None), "a\nx\n\ny\n").unwrap();
        assert_eq!(items, vec![json!({"a": "x"}), json!({"a": "y"})]);
        let items = csv_items(&csv_reader("FIRST_ROW", None), "a,b\n,z\n").unwrap();
        assert_eq!(items, vec![json!({"a": "", "b": "z"})]);
        let given = csv_reader("GIVEN", Some(&["k", "v"]));
        let items = csv_items(&given, "1,2\n3\n").unwrap();
        assert_eq!(
            items,
            vec![json!({"k": "1", "v": "2"}), json!({"k": "3", "v": ""})]
        );
    }

    #[test]
    fn csv_last_row_needs_no_line_end_and_a_quote_must_close() {
        let rows = parse_csv("a,b\n1,2", ',').unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], vec!["1".to_string(), "2".to_string()]);
        assert_eq!(parse_csv("a\n", ',').unwrap().len(), 1);
        // a quote inside an unquoted field is a character
        assert_eq!(
            parse_csv("x\"y", ',').unwrap(),
            vec![vec!["x\"y".to_string()]]
        );
        assert_eq!(
            parse_csv("\"open,1\n", ','),
            Err("unterminated quoted field".to_string())
        );
    }

    #[test]
    fn a_blank_line_is_a_row_of_one_empty_field_with_lf_or_crlf() {
        let blank = vec![
            vec!["a".to_string()],
            vec![String::new()],
            vec!["b".to_string()],
        ];
        assert_eq!(parse_csv("a\n\nb\n", ','), Ok(blank.clone()));
        assert_eq!(parse_csv("a\r\n\r\nb\r\n", ','), Ok(blank));
    }

    #[test]
    fn csv_with_quotes_and_crlf() {
        let rows = parse_csv("a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n", ',').unwrap_or_default();
        assert_eq!(
            rows,
            vec![
                vec!["a".to_string(), "b".to_string()],
                vec!["x,1".to_string(), "say \"hi\"".to_string()]
            ]
        );
    }

    #[test]
    fn backslashes_escape_a_backslash_a_quote_or_the_delimiter_and_vanish_before_others() {
        let rows = parse_csv("path,size\nC:\\\\Program Files\\\\MyApp.exe,6534512\n", ',')
            .unwrap_or_default();
        assert_eq!(rows[1], vec!["C:\\Program Files\\MyApp.exe", "6534512"]);
        let rows = parse_csv("a\\,b|c\\|d|\\\"q\\\"|\\x\\\n", '|').unwrap_or_default();
        assert_eq!(rows, vec![vec!["a,b", "c|d", "\"q\"", "x"]]);
        let rows = parse_csv("\"in \\\"quotes\\\", too\",2\n", ',').unwrap_or_default();
        assert_eq!(rows, vec![vec!["in \"quotes\", too", "2"]]);
    }

    #[test]
    fn duplicate_headers_are_aws_s_error_given_or_first_row() {
        let dup = Err(ItemsError::Aws("CSV headers cannot contain duplicates."));
        assert_eq!(
            csv_items(&csv_reader("FIRST_ROW", None), "a,b,a\n1,2,3\n"),
            dup
        );
        let given = csv_reader("GIVEN", Some(&["k", "k"]));
        assert_eq!(csv_items(&given, "1,2\n"), dup);
        let distinct = csv_reader("GIVEN", Some(&["k", "K"]));
        assert_eq!(
            csv_items(&distinct, "1,2\n"),
            Ok(vec![json!({"k": "1", "K": "2"})])
        );
    }

    fn manifest_text(v: Value) -> String {
        let mut m = json!({"sourceBucket": "src", "destinationBucket": "arn:aws:s3:::inv",
            "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size", "files": [{"key": "d/a.csv.gz"}]});
        if let (Some(m), Some(v)) = (m.as_object_mut(), v.as_object()) {
            for (k, x) in v {
                if x.is_null() {
                    m.remove(k);
                } else {
                    m.insert(k.clone(), x.clone());
                }
            }
        }
        m.to_string()
    }

    #[test]
    fn a_manifest_is_read_for_its_bucket_columns_and_files_and_each_gap_is_named() {
        assert_eq!(
            Manifest::parse(&manifest_text(json!({}))),
            Ok(Manifest {
                bucket: "inv".into(),
                columns: vec!["Bucket".into(), "Key".into(), "Size".into()],
                files: vec!["d/a.csv.gz".into()],
            })
        );
        for (change, want) in [
            (
                json!({"fileSchema": null}),
                "manifest.json has no string 'fileSchema'",
            ),
            (
                json!({"destinationBucket": "inv"}),
                "manifest.json destinationBucket 'inv' is not an S3 bucket ARN",
            ),
            (json!({"files": {}}), "manifest.json has no array 'files'"),
            (
                json!({"files": [{"key": "a"}, {"size": 1}]}),
                "manifest.json files[1] has no string 'key'",
            ),
            (
                json!({"fileFormat": "ORC"}),
                "the inventory's fileFormat is ORC; an S3 inventory read as items must be CSV",
            ),
        ] {
            assert_eq!(
                Manifest::parse(&manifest_text(change.clone())),
                Err(ItemsError::Object(want.to_string())),
                "{change}"
            );
        }
    }

    #[test]
    fn inventory_files_are_gunzipped_when_gzip_and_read_as_they_are_otherwise() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = enc.write_all(b"\"src\",\"k\"\n");
        let gz = enc.finish().unwrap_or_default();
        assert_eq!(
            inventory_text(&gz, MAX_INVENTORY_FILE_BYTES),
            Ok("\"src\",\"k\"\n".to_string())
        );
        assert_eq!(inventory_text(b"plain\n", 6), Ok("plain\n".to_string()));
        let broken = &gz[..gz.len() / 2];
        assert!(
            inventory_text(broken, MAX_INVENTORY_FILE_BYTES)
                .is_err_and(|e| e.starts_with("not a valid gzip file")),
            "a cut gzip file is an error"
        );
        // `"src","k"\n` is 10 bytes: read whole at a limit of 10, refused at 9, gzip or not.
        assert_eq!(inventory_text(&gz, 10), Ok("\"src\",\"k\"\n".to_string()));
        let over = Err("larger than 9 bytes once decompressed".to_string());
        assert_eq!(inventory_text(&gz, 9), over);
        assert_eq!(inventory_text(b"\"src\",\"k\"\n", 9), over);
    }

    /// An in-memory store for the inventory's files.
    struct Files(std::collections::HashMap<String, Vec<u8>>);

    #[async_trait::async_trait]
    impl ItemStore for Files {
        async fn get(&self, uri: &str) -> Result<Vec<u8>, crate::ItemStoreError> {
            self.0
                .get(uri)
                .cloned()
                .ok_or_else(|| crate::ItemStoreError::NotFound(uri.to_string()))
        }
        async fn put(&self, _: &str, _: Vec<u8>) -> Result<(), crate::ItemStoreError> {
            Err(crate::ItemStoreError::Other("read only".into()))
        }
        async fn list(&self, _: &str) -> Result<Vec<crate::StoredObject>, crate::ItemStoreError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn an_inventory_of_200_000_objects_in_4_gzip_files_gives_every_row_in_order() {
        use std::io::Write;
        const PER_FILE: usize = 50_000;
        let mut files = std::collections::HashMap::new();
        let mut keys = Vec::new();
        for f in 0..4 {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            for i in f * PER_FILE..(f + 1) * PER_FILE {
                let _ = writeln!(
                    enc,
                    "\"src\",\"images/{i:07}.jpg\",\"{}\",\"2026-12-06T10:00:00.000Z\"",
                    i * 7
                );
            }
            let key = format!("src/cfg/data/{f}.csv.gz");
            files.insert(format!("s3://inv/{key}"), enc.finish().unwrap_or_default());
            keys.push(json!({"key": key}));
        }
        let manifest = manifest_text(json!({
            "fileSchema": "Bucket, Key, Size, LastModifiedDate", "files": keys}));
        let store = Files(files);
        let items = inventory_items(&store, &manifest, None).await;
        let items = items.unwrap_or_default();
        assert_eq!(items.len(), 4 * PER_FILE);
        assert_eq!(
            items[123_456],
            json!({"Bucket": "src", "Key": "images/0123456.jpg", "Size": "864192",
                "LastModifiedDate": "2026-12-06T10:00:00.000Z"})
        );
        assert_eq!(items[4 * PER_FILE - 1]["Key"], "images/0199999.jpg");
        let first = inventory_items(&store, &manifest, Some(10)).await;
        assert_eq!(
            first.map(|v| v.len()),
            Ok(PER_FILE),
            "stops after the file that reaches the limit"
        );
    }
}
