//! A TestState mock result checked against the API model of the state's integration, as
//! TestState's `mock.fieldValidationMode` asks (MockInput in the Step Functions API reference):
//!
//! - `STRICT` (the default): every required member is present, and every present member
//!   conforms to the output shape of the operation;
//! - `PRESENT`: every present member conforms;
//! - `NONE`: nothing is checked.
//!
//! Members that the shape does not name are not checked (AWS accepts them). A result names
//! the members as Step Functions returns them, with a capital first letter (`ExecutionArn` for
//! the API's `executionArn`); other spellings are members the shape does not name. Present members are checked before
//! required ones, in the model's member order, and the first problem is the answer, worded as
//! AWS words it: `Mock result schema validation error: Field 'StatusCode' must be a number`,
//! `... Required field 'ExecutionArn' is missing`, `... is not an expected value` (an enum),
//! `... is smaller than the minimum length`, `... is less than the minimum value`,
//! `... exceeds the maximum value`. The wording of the cases AWS's recorded answers do not
//! show (a member that must be an object or a boolean) follows the same pattern.
//!
//! The models are botocore's (`botocore/data/<service>/<version>/service-2.json[.gz]`, installed
//! from PyPI with boto3 or the AWS CLI): `mdlc serve --api-models DIR`, `MDLC_API_MODELS`, or a
//! botocore found in the active virtual environment or the usual site-packages folders.
//!
//! Which operation a state's result comes from: `arn:aws:states:::<service>:<action>` (an
//! optimized integration, request-response) and `arn:aws:states:::aws-sdk:<service>:<action>`
//! give the operation `<Action>` of the service. A `.waitForTaskToken` result is what
//! SendTaskSuccess sent, and a `.sync` result is the integration's own description of the
//! finished job, whose shape AWS's recorded answers do not show: neither is checked, nor are
//! Lambda function ARNs, activities or HTTP Tasks. In `lambda:invoke`'s result `Payload` is the
//! function's JSON answer, not the API's blob, so it is not checked either.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

/// How strictly a mock result is checked (`mock.fieldValidationMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidationMode {
    Strict,
    Present,
    None,
}

impl FieldValidationMode {
    /// The API's value (`STRICT`, `PRESENT`, `NONE`); absent is `STRICT`.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("PRESENT") => FieldValidationMode::Present,
            Some("NONE") => FieldValidationMode::None,
            _ => FieldValidationMode::Strict,
        }
    }
}

/// The operation whose output shape a state's result has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// botocore's folder name of the service (`stepfunctions`, `lambda`, `s3` ...).
    pub service: String,
    /// The operation's name in the model (`StartExecution`).
    pub name: String,
    /// Members whose value Step Functions turns into JSON (not checked).
    pub free_members: &'static [&'static str],
}

/// The operation a Task's `Resource` calls, when its result is that operation's output.
pub fn operation_of(resource: &str) -> Option<Operation> {
    let rest = resource.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("states:::")?;
    if rest.contains(".sync") || rest.ends_with(".waitForTaskToken") {
        return None;
    }
    let rest = rest.strip_prefix("aws-sdk:").unwrap_or(rest);
    let (service, action) = rest.split_once(':')?;
    if action.is_empty() || action.contains(':') || service == "http" {
        return None;
    }
    let service = botocore_service(service);
    let name = pascal_case(action);
    let free_members: &'static [&'static str] = if service == "lambda" && name == "Invoke" {
        &["Payload"]
    } else {
        &[]
    };
    Some(Operation {
        service: service.to_string(),
        name,
        free_members,
    })
}

/// botocore's folder for a service name of a Step Functions resource (the optimized
/// integrations' names and the AWS SDK's service client names).
fn botocore_service(name: &str) -> &str {
    match name {
        "states" | "sfn" => "stepfunctions",
        "eventbridge" => "events",
        "cloudwatchlogs" => "logs",
        "elasticmapreduce" => "emr",
        other => other,
    }
}

fn pascal_case(action: &str) -> String {
    let mut chars = action.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// botocore's service models, read once per service.
pub struct ApiModels {
    data_dir: PathBuf,
    loaded: Mutex<HashMap<String, Option<Arc<Value>>>>,
}

impl ApiModels {
    /// The models in botocore's `data` folder `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ApiModels {
            data_dir: dir.into(),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// botocore's `data` folder, from `MDLC_API_MODELS` or a botocore installed in the active
    /// virtual environment (`VIRTUAL_ENV`) or the usual site-packages folders.
    pub fn discover() -> Option<Self> {
        if let Some(dir) = std::env::var_os("MDLC_API_MODELS") {
            return Some(ApiModels::new(dir));
        }
        let mut bases: Vec<PathBuf> = Vec::new();
        if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
            bases.push(PathBuf::from(venv).join("lib"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            bases.push(PathBuf::from(home).join(".local/lib"));
        }
        bases.push(PathBuf::from("/usr/local/lib"));
        bases.push(PathBuf::from("/usr/lib"));
        bases
            .iter()
            .find_map(|b| botocore_under(b))
            .map(ApiModels::new)
    }

    /// The folder the models are read from.
    pub fn dir(&self) -> &Path {
        &self.data_dir
    }

    /// The model of a service (the newest API version), if botocore has it.
    fn service(&self, service: &str) -> Option<Arc<Value>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded
            .entry(service.to_string())
            .or_insert_with(|| read_model(&self.data_dir.join(service)).map(Arc::new))
            .clone()
    }

    /// Checks `result` against the output shape of `op`; `Ok` when the model or the operation
    /// is unknown. The error is AWS's ValidationException message.
    pub fn check(
        &self,
        op: &Operation,
        result: &Value,
        mode: FieldValidationMode,
    ) -> Result<(), String> {
        if mode == FieldValidationMode::None {
            return Ok(());
        }
        let Some(model) = self.service(&op.service) else {
            return Ok(());
        };
        let Some(output) = model
            .pointer(&format!("/operations/{}/output/shape", op.name))
            .and_then(Value::as_str)
        else {
            return Ok(());
        };
        let checker = Checker {
            shapes: model.get("shapes").and_then(Value::as_object),
            mode,
            free_members: op.free_members,
        };
        checker
            .structure_members(output, result)
            .map_err(|p| format!("Mock result schema validation error: {p}"))
    }
}

/// `<base>/python3.*/{site,dist}-packages/botocore/data`, or `<base>/python3/dist-packages/...`.
fn botocore_under(base: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(base).ok()?;
    let mut pythons: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python3"))
        })
        .collect();
    pythons.sort();
    pythons.iter().rev().find_map(|p| {
        ["site-packages", "dist-packages"]
            .iter()
            .map(|s| p.join(s).join("botocore/data"))
            .find(|d| d.is_dir())
    })
}

/// The newest version's `service-2.json` (or `.json.gz`) in a service's folder.
fn read_model(service_dir: &Path) -> Option<Value> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir(service_dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    versions.sort();
    let newest = versions.pop()?;
    let plain = newest.join("service-2.json");
    let text = if plain.is_file() {
        std::fs::read_to_string(plain).ok()?
    } else {
        let file = std::fs::File::open(newest.join("service-2.json.gz")).ok()?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .ok()?;
        text
    };
    serde_json::from_str(&text).ok()
}

struct Checker<'a> {
    shapes: Option<&'a Map<String, Value>>,
    mode: FieldValidationMode,
    free_members: &'static [&'static str],
}

impl Checker<'_> {
    fn shape(&self, name: &str) -> Option<&Map<String, Value>> {
        self.shapes?.get(name)?.as_object()
    }

    /// A structure's members: the present ones conform, then (STRICT) the required ones are
    /// there. A value that is not an object is left to the caller.
    fn structure_members(&self, shape_name: &str, value: &Value) -> Result<(), String> {
        let (Some(shape), Some(object)) = (self.shape(shape_name), value.as_object()) else {
            return Ok(());
        };
        let members = shape.get("members").and_then(Value::as_object);
        for (api_name, member) in members.into_iter().flatten() {
            let name = pascal_case(api_name);
            let (Some(v), Some(target)) = (
                object.get(&name),
                member.get("shape").and_then(Value::as_str),
            ) else {
                continue;
            };
            if v.is_null() || self.free_members.contains(&name.as_str()) {
                continue;
            }
            self.member(&name, target, v)?;
        }
        if self.mode == FieldValidationMode::Strict {
            let required = shape.get("required").and_then(Value::as_array);
            for name in required.into_iter().flatten().filter_map(Value::as_str) {
                let name = pascal_case(name);
                if object.get(&name).is_none_or(Value::is_null) {
                    return Err(format!("Required field '{name}' is missing"));
                }
            }
        }
        Ok(())
    }

    /// One member's value against its shape.
    fn member(&self, field: &str, shape_name: &str, value: &Value) -> Result<(), String> {
        let Some(shape) = self.shape(shape_name) else {
            return Ok(());
        };
        let problem = |what: &str| Err(format!("Field '{field}' {what}"));
        match shape.get("type").and_then(Value::as_str).unwrap_or("") {
            "structure" => match value {
                Value::Object(_) => self.structure_members(shape_name, value),
                _ => problem("must be an object"),
            },
            "list" => {
                let Value::Array(items) = value else {
                    return problem("must be an array");
                };
                let item = shape
                    .get("member")
                    .and_then(|m| m.get("shape"))
                    .and_then(Value::as_str);
                for v in items.iter().filter(|v| !v.is_null()) {
                    if let Some(item) = item {
                        self.member(field, item, v)?;
                    }
                }
                Ok(())
            }
            "map" => {
                let Value::Object(entries) = value else {
                    return problem("must be an object");
                };
                let item = shape
                    .get("value")
                    .and_then(|m| m.get("shape"))
                    .and_then(Value::as_str);
                for v in entries.values().filter(|v| !v.is_null()) {
                    if let Some(item) = item {
                        self.member(field, item, v)?;
                    }
                }
                Ok(())
            }
            "string" | "blob" | "timestamp" => {
                let Value::String(s) = value else {
                    return problem("must be a string");
                };
                let enum_values = shape.get("enum").and_then(Value::as_array);
                if let Some(values) = enum_values {
                    if !values.iter().any(|v| v.as_str() == Some(s)) {
                        return problem("is not an expected value");
                    }
                }
                let min = shape.get("min").and_then(Value::as_u64);
                if min.is_some_and(|m| (s.chars().count() as u64) < m) {
                    return problem("is smaller than the minimum length");
                }
                Ok(())
            }
            "integer" | "long" | "float" | "double" => {
                let Some(n) = value.as_f64() else {
                    return problem("must be a number");
                };
                if shape
                    .get("min")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| n < m)
                {
                    return problem("is less than the minimum value");
                }
                if shape
                    .get("max")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| n > m)
                {
                    return problem("exceeds the maximum value");
                }
                Ok(())
            }
            "boolean" => match value {
                Value::Bool(_) => Ok(()),
                _ => problem("must be a boolean"),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resources_name_the_operation_whose_output_they_return() {
        let op = |r: &str| operation_of(r).map(|o| (o.service, o.name));
        let pair = |s: &str, n: &str| Some((s.to_string(), n.to_string()));
        assert_eq!(
            op("arn:aws:states:::lambda:invoke"),
            pair("lambda", "Invoke")
        );
        assert_eq!(
            op("arn:aws:states:::states:startExecution"),
            pair("stepfunctions", "StartExecution")
        );
        assert_eq!(
            op("arn:aws:states:::aws-sdk:s3:getObject"),
            pair("s3", "GetObject")
        );
        assert_eq!(
            op("arn:aws:states:::aws-sdk:sfn:describeExecution"),
            pair("stepfunctions", "DescribeExecution")
        );
        assert_eq!(
            op("arn:aws-cn:states:::events:putEvents"),
            pair("events", "PutEvents")
        );
        assert_eq!(
            op("arn:aws:states:::sagemaker:createTrainingJob.sync"),
            None
        );
        assert_eq!(op("arn:aws:states:::states:startExecution.sync:2"), None);
        assert_eq!(
            op("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            None
        );
        assert_eq!(op("arn:aws:lambda:us-east-1:123456789012:function:f"), None);
        assert_eq!(op("arn:aws:states:::http:invoke"), None);
        let invoke = operation_of("arn:aws:states:::lambda:invoke").unwrap();
        assert_eq!(invoke.free_members, &["Payload"]);
    }

    /// A model of our own, in botocore's format.
    fn models() -> (tempfile::TempDir, ApiModels) {
        let dir = tempfile::tempdir().unwrap();
        let version = dir.path().join("demo/2024-01-01");
        std::fs::create_dir_all(&version).unwrap();
        let model = json!({
            "operations": {"Run": {"output": {"shape": "RunOutput"}}},
            "shapes": {
                "RunOutput": {"type": "structure", "required": ["Arn", "Started"], "members": {
                    "Arn": {"shape": "Arn"}, "Started": {"shape": "Time"},
                    "Count": {"shape": "Count"}, "Entries": {"shape": "Entries"},
                    "Kind": {"shape": "Kind"}, "Tags": {"shape": "Tags"},
                    "Done": {"shape": "Flag"}, "Blob": {"shape": "Blob"},
                    "lower": {"shape": "Arn"}}},
                "Arn": {"type": "string", "min": 1},
                "Time": {"type": "timestamp"},
                "Count": {"type": "integer", "min": 128, "max": 10240},
                "Entries": {"type": "list", "member": {"shape": "Entry"}},
                "Entry": {"type": "structure", "members": {"Id": {"shape": "Arn"}}},
                "Kind": {"type": "string", "enum": ["A", "B"]},
                "Tags": {"type": "map", "key": {"shape": "Arn"}, "value": {"shape": "Arn"}},
                "Flag": {"type": "boolean"},
                "Blob": {"type": "blob"}
            }
        });
        std::fs::write(version.join("service-2.json"), model.to_string()).unwrap();
        let models = ApiModels::new(dir.path());
        (dir, models)
    }

    fn run_op() -> Operation {
        Operation {
            service: "demo".into(),
            name: "Run".into(),
            free_members: &[],
        }
    }

    #[test]
    fn each_kind_of_member_is_checked_with_aws_s_wording() {
        let (_dir, models) = models();
        let strict = |v: Value| models.check(&run_op(), &v, FieldValidationMode::Strict);
        let ok = json!({"Arn": "a", "Started": "2025-01-01T00:00:00Z"});
        assert_eq!(strict(ok.clone()), Ok(()));
        let with = |k: &str, v: Value| {
            let mut o = ok.clone();
            o[k] = v;
            strict(o).unwrap_err()
        };
        let prefix = "Mock result schema validation error: ";
        assert_eq!(
            with("Count", json!("200")),
            format!("{prefix}Field 'Count' must be a number")
        );
        assert_eq!(
            with("Count", json!(127)),
            format!("{prefix}Field 'Count' is less than the minimum value")
        );
        assert_eq!(
            with("Count", json!(10241)),
            format!("{prefix}Field 'Count' exceeds the maximum value")
        );
        assert_eq!(
            with("Entries", json!("x")),
            format!("{prefix}Field 'Entries' must be an array")
        );
        assert_eq!(
            with("Entries", json!([{"Id": "ok"}, {"Id": ["no"]}])),
            format!("{prefix}Field 'Id' must be a string")
        );
        assert_eq!(
            with("Kind", json!("C")),
            format!("{prefix}Field 'Kind' is not an expected value")
        );
        assert_eq!(
            with("Tags", json!([])),
            format!("{prefix}Field 'Tags' must be an object")
        );
        assert_eq!(
            with("Tags", json!({"k": 1})),
            format!("{prefix}Field 'Tags' must be a string")
        );
        assert_eq!(
            with("Done", json!("yes")),
            format!("{prefix}Field 'Done' must be a boolean")
        );
        assert_eq!(
            with("Blob", json!(123)),
            format!("{prefix}Field 'Blob' must be a string")
        );
        assert_eq!(
            with("Arn", json!("")),
            format!("{prefix}Field 'Arn' is smaller than the minimum length")
        );
        assert_eq!(
            with("Started", json!(true)),
            format!("{prefix}Field 'Started' must be a string")
        );
        // members the shape does not name are not checked; names have a capital first letter
        assert_eq!(
            with_extra(&models, json!({"arn": 1, "Arn": "a", "Started": "t"})),
            Ok(())
        );
        assert_eq!(
            with("Lower", json!(1)),
            format!("{prefix}Field 'Lower' must be a string")
        );
    }

    fn with_extra(models: &ApiModels, v: Value) -> Result<(), String> {
        models.check(&run_op(), &v, FieldValidationMode::Strict)
    }

    #[test]
    fn strict_wants_the_required_members_after_the_present_ones_conform_and_present_does_not() {
        let (_dir, models) = models();
        let check = |v: Value, m| models.check(&run_op(), &v, m);
        let prefix = "Mock result schema validation error: ";
        assert_eq!(
            check(json!({}), FieldValidationMode::Strict),
            Err(format!("{prefix}Required field 'Arn' is missing"))
        );
        assert_eq!(
            check(
                json!({"arn": "a", "started": "t"}),
                FieldValidationMode::Strict
            ),
            Err(format!("{prefix}Required field 'Arn' is missing"))
        );
        // a wrong present member is named before a missing required one
        assert_eq!(
            check(json!({"Started": 5}), FieldValidationMode::Strict),
            Err(format!("{prefix}Field 'Started' must be a string"))
        );
        assert_eq!(check(json!({}), FieldValidationMode::Present), Ok(()));
        assert_eq!(
            check(json!({"Arn": 1}), FieldValidationMode::Present),
            Err(format!("{prefix}Field 'Arn' must be a string"))
        );
        assert_eq!(check(json!({"Arn": 1}), FieldValidationMode::None), Ok(()));
    }

    #[test]
    fn an_unknown_service_or_operation_is_not_checked_and_free_members_are_skipped() {
        let (_dir, models) = models();
        let other = Operation {
            service: "nothere".into(),
            ..run_op()
        };
        assert_eq!(
            models.check(&other, &json!({}), FieldValidationMode::Strict),
            Ok(())
        );
        let unknown_op = Operation {
            name: "Walk".into(),
            ..run_op()
        };
        assert_eq!(
            models.check(&unknown_op, &json!({}), FieldValidationMode::Strict),
            Ok(())
        );
        let free = Operation {
            free_members: &["Count"],
            ..run_op()
        };
        let v = json!({"Arn": "a", "Started": "t", "Count": {"any": "json"}});
        assert_eq!(models.check(&free, &v, FieldValidationMode::Strict), Ok(()));
    }

    #[test]
    fn gzipped_models_are_read_and_the_newest_version_wins() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("demo/2020-01-01");
        let new = dir.path().join("demo/2024-01-01");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::create_dir_all(&new).unwrap();
        let model = |required: &str| {
            json!({"operations": {"Run": {"output": {"shape": "O"}}},
                   "shapes": {"O": {"type": "structure", "required": [required],
                                    "members": {required: {"shape": "S"}}},
                              "S": {"type": "string"}}})
            .to_string()
        };
        std::fs::write(old.join("service-2.json"), model("Old")).unwrap();
        let gz = std::fs::File::create(new.join("service-2.json.gz")).unwrap();
        let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::default());
        std::io::Write::write_all(&mut enc, model("New").as_bytes()).unwrap();
        enc.finish().unwrap();
        let models = ApiModels::new(dir.path());
        assert_eq!(
            models.check(&run_op(), &json!({}), FieldValidationMode::Strict),
            Err("Mock result schema validation error: Required field 'New' is missing".into())
        );
    }
}
