//! A Distributed Map's `ItemReader`, `ItemBatcher` and `ResultWriter`.

use serde_json::Value;

use super::fields::{Ctx, dyn_raw, payload, unknown_fields};
use crate::error::{Collector, ptr};
use crate::model::ast::{BatcherDoc, Obj, ReaderDoc, WriterDoc};
use crate::model::types::{OutputType, Ql, Transformation, WriterConfig};
use crate::template::Template;

const BATCHER_FIELDS: &[&str] = &[
    "MaxItemsPerBatch",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath",
    "BatchInput",
];

/// `Parameters` (JSONPath) or `Arguments` (JSONata) of an ItemReader or ResultWriter.
fn s3_parameters(o: &Obj, pointer: &str, ql: Ql, c: &mut Collector) -> Option<Template> {
    let key = match ql {
        Ql::Jsonata => "Arguments",
        Ql::JsonPath => "Parameters",
    };
    o.get(key).map(|v| payload(v, &ptr(pointer, key), ql, c))
}

pub(super) fn item_reader<'a>(
    v: &'a Value,
    pointer: &str,
    ql: Ql,
    c: &mut Collector,
) -> Option<ReaderDoc<'a>> {
    let Some(o) = v.as_object() else {
        c.push(pointer, "must be an object");
        return None;
    };
    unknown_fields(
        o,
        pointer,
        &["Resource", "Parameters", "Arguments", "ReaderConfig"],
        c,
    );
    let resource = match o.get("Resource") {
        Some(Value::String(s)) => {
            if !s.starts_with("arn:aws:states:::s3:getObject")
                && !s.starts_with("arn:aws:states:::s3:listObjectsV2")
            {
                c.push(
                    &ptr(pointer, "Resource"),
                    "must be arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2",
                );
            }
            s.clone()
        }
        _ => {
            c.push(
                &ptr(pointer, "Resource"),
                "is required and must be a string",
            );
            String::new()
        }
    };
    let mut reader = ReaderDoc {
        base: pointer.to_string(),
        resource,
        parameters: s3_parameters(o, pointer, ql, c),
        input_type: String::from("JSON"),
        csv_header_location: String::from("FIRST_ROW"),
        csv_headers: None,
        csv_delimiter: ',',
        config: None,
        max_items: None,
        items_pointer: None,
    };
    if let Some(rc) = o.get("ReaderConfig") {
        reader_config(rc, ql, &mut reader, c);
    }
    Some(reader)
}

/// `ReaderConfig` into `reader`.
fn reader_config<'a>(rc: &'a Value, ql: Ql, reader: &mut ReaderDoc<'a>, c: &mut Collector) {
    let rp = ptr(&reader.base, "ReaderConfig");
    let Some(m) = rc.as_object() else {
        c.push(&rp, "must be an object");
        return;
    };
    for (k, v) in m {
        let kp = ptr(&rp, k);
        match (k.as_str(), v) {
            ("InputType", Value::String(t))
                if ["CSV", "JSON", "JSONL", "MANIFEST"].contains(&t.as_str()) =>
            {
                reader.input_type = t.clone()
            }
            ("InputType", _) => c.push(&kp, "must be one of CSV, JSON, JSONL, MANIFEST"),
            ("CSVHeaderLocation", Value::String(t)) if t == "FIRST_ROW" || t == "GIVEN" => {
                reader.csv_header_location = t.clone()
            }
            ("CSVHeaderLocation", _) => c.push(&kp, "must be FIRST_ROW or GIVEN"),
            ("CSVHeaders", Value::Array(a)) if a.iter().all(Value::is_string) => {
                reader.csv_headers = Some(
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                )
            }
            ("CSVHeaders", _) => c.push(&kp, "must be an array of strings"),
            ("CSVDelimiter", v) => match csv_delimiter(v) {
                Some(d) => reader.csv_delimiter = d,
                None => c.push(&kp, "must be one of COMMA, PIPE, SEMICOLON, SPACE, TAB"),
            },
            ("ManifestType", Value::String(t)) if t == "S3_INVENTORY" => {
                if m.contains_key("InputType") {
                    c.push(
                        &ptr(&rp, "InputType"),
                        "cannot be specified when ManifestType is S3_INVENTORY",
                    );
                }
                reader.input_type = String::from("MANIFEST");
            }
            ("ManifestType", Value::String(t)) if t == "ATHENA_DATA" => c.push(
                &kp,
                "ATHENA_DATA (an Athena UNLOAD manifest) is not supported by this engine; S3_INVENTORY is",
            ),
            ("ManifestType", _) => c.push(&kp, "must be S3_INVENTORY or ATHENA_DATA"),
            ("MaxItems" | "MaxItemsPath", _) => {}
            ("ItemsPointer", Value::String(s)) => reader.items_pointer = Some(s.clone()),
            ("ItemsPointer", _) => c.push(&kp, "must be a JSON pointer string"),
            _ => c.push(&kp, format!("unknown field '{k}'")),
        }
    }
    let cx = Ctx {
        base: rp,
        obj: m,
        ql,
    };
    reader.max_items = dyn_raw(&cx, "MaxItems", "MaxItemsPath", c);
    reader.config = Some((cx.base, m));
}

fn csv_delimiter(v: &Value) -> Option<char> {
    match v.as_str()? {
        "COMMA" => Some(','),
        "PIPE" => Some('|'),
        "SEMICOLON" => Some(';'),
        "SPACE" => Some(' '),
        "TAB" => Some('\t'),
        _ => None,
    }
}

pub(super) fn item_batcher<'a>(
    v: &'a Value,
    pointer: &str,
    ql: Ql,
    c: &mut Collector,
) -> Option<BatcherDoc<'a>> {
    let Some(o) = v.as_object() else {
        c.push(pointer, "must be an object");
        return None;
    };
    unknown_fields(o, pointer, BATCHER_FIELDS, c);
    let cx = Ctx {
        base: pointer.to_string(),
        obj: o,
        ql,
    };
    Some(BatcherDoc {
        max_items: dyn_raw(&cx, "MaxItemsPerBatch", "MaxItemsPerBatchPath", c),
        max_bytes: dyn_raw(&cx, "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath", c),
        batch_input: o
            .get("BatchInput")
            .map(|v| payload(v, &cx.p("BatchInput"), ql, c)),
        base: cx.base,
        obj: o,
    })
}

/// A `ResultWriter`: one of AWS's "required field combinations" — `WriterConfig` alone
/// (preview), `Resource` with `Parameters` (`Arguments` in JSONata), or all three.
pub(super) fn result_writer(
    v: &Value,
    pointer: &str,
    ql: Ql,
    c: &mut Collector,
) -> Option<WriterDoc> {
    let Some(o) = v.as_object() else {
        c.push(pointer, "must be an object");
        return None;
    };
    let params_key = match ql {
        Ql::Jsonata => "Arguments",
        Ql::JsonPath => "Parameters",
    };
    let mut writer = WriterDoc {
        parameters: None,
        config: None,
    };
    for (k, val) in o {
        let kp = ptr(pointer, k);
        match k.as_str() {
            "Resource" => {
                if val.as_str() != Some("arn:aws:states:::s3:putObject") {
                    c.push(&kp, "must be arn:aws:states:::s3:putObject");
                }
            }
            "Parameters" | "Arguments" if k == params_key => {}
            "Parameters" => c.push(
                &kp,
                "field 'Parameters' is not allowed when QueryLanguage is JSONata",
            ),
            "Arguments" => c.push(
                &kp,
                "field 'Arguments' is only allowed when QueryLanguage is JSONata",
            ),
            "WriterConfig" => writer.config = writer_config(val, &kp, c),
            _ => c.push(&kp, format!("unknown field '{k}'")),
        }
    }
    writer_combination(o, pointer, params_key, c);
    writer.parameters = s3_parameters(o, pointer, ql, c);
    Some(writer)
}

/// AWS: "The ResultWriter field cannot be empty"; `Resource` and its parameters go together.
fn writer_combination(o: &Obj, pointer: &str, params_key: &str, c: &mut Collector) {
    let resource = o.contains_key("Resource");
    let params = o.contains_key(params_key);
    if !resource && !params && !o.contains_key("WriterConfig") {
        c.push(
            pointer,
            format!(
                "must not be empty: give 'WriterConfig', or 'Resource' and '{params_key}', or all three"
            ),
        );
    } else if resource && !params {
        c.push(pointer, format!("'Resource' needs '{params_key}'"));
    } else if params && !resource {
        c.push(pointer, format!("'{params_key}' needs 'Resource'"));
    }
}

/// `WriterConfig`: both `Transformation` and `OutputType` (AWS CDK marks both required).
fn writer_config(v: &Value, pointer: &str, c: &mut Collector) -> Option<WriterConfig> {
    let Some(m) = v.as_object() else {
        c.push(pointer, "must be an object");
        return None;
    };
    let mut transformation = None;
    let mut output_type = None;
    for (k, v) in m {
        let kp = ptr(pointer, k);
        match (k.as_str(), v.as_str()) {
            ("Transformation", t) => match t.and_then(Transformation::parse) {
                Some(t) => transformation = Some(t),
                None => c.push(&kp, "must be NONE, COMPACT or FLATTEN"),
            },
            ("OutputType", t) => match t.and_then(OutputType::parse) {
                Some(t) => output_type = Some(t),
                None => c.push(&kp, "must be JSON or JSONL"),
            },
            _ => c.push(&kp, format!("unknown field '{k}'")),
        }
    }
    for (field, missing) in [
        ("Transformation", !m.contains_key("Transformation")),
        ("OutputType", !m.contains_key("OutputType")),
    ] {
        if missing {
            c.push(&ptr(pointer, field), "is required");
        }
    }
    Some(WriterConfig {
        transformation: transformation?,
        output_type: output_type?,
    })
}
