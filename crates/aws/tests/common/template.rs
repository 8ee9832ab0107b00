//! infra/template.yaml as a test reads it: the CloudFormation short-form tags (`!Ref`, `!GetAtt`,
//! `!Sub`, `!If`, `!Join`, `!Select`, `!Split`, `!Equals`, `!Not`, `!And`, `!Or`, `!Condition`)
//! and their `Fn::` long forms resolved against the test's own resources, so the policies the tests
//! use are the template's, never copies.
//!
//! A resource's physical name is the test's override, else the name its properties give
//! (`FunctionName`, `LogGroupName`, `Name`, ...), else `<stack>-<LogicalId>`. Anything the
//! resolver does not know (a tag, an attribute, a logical id) is an error naming it.

#![allow(dead_code)] // shared by several test binaries, each using a part

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value as Json, json};
use serde_yaml::Value as Yaml;

/// The account, region and partition of the tests (moto's default account).
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const PARTITION: &str = "aws";

/// The repository root (the workspace), from this crate's manifest directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The template with the tests' choices: stack name, parameter values and physical names.
pub struct Stack {
    template: Yaml,
    pub stack_name: String,
    parameters: BTreeMap<String, Json>,
    names: BTreeMap<String, String>,
}

impl Stack {
    /// infra/template.yaml with its parameter defaults; `parameters` override them and `names`
    /// give resources (by logical id) their physical names.
    pub fn load(parameters: &[(&str, &str)], names: &[(&str, &str)]) -> Result<Stack, String> {
        let path = repo_root().join("infra/template.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let template: Yaml =
            serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut stack = Stack {
            template,
            stack_name: "mdlc".to_string(),
            parameters: BTreeMap::new(),
            names: names
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        stack.parameters = stack.parameter_values(parameters)?;
        Ok(stack)
    }

    fn section(&self, name: &str) -> Result<&serde_yaml::Mapping, String> {
        self.template
            .get(name)
            .and_then(Yaml::as_mapping)
            .ok_or_else(|| format!("the template has no {name} section"))
    }

    fn parameter_values(
        &self,
        overrides: &[(&str, &str)],
    ) -> Result<BTreeMap<String, Json>, String> {
        let mut out = BTreeMap::new();
        for (name, spec) in self.section("Parameters")? {
            let name = name.as_str().ok_or("a parameter name is not a string")?;
            let given = overrides
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string());
            let text = match given {
                Some(v) => v,
                None => match spec.get("Default") {
                    Some(Yaml::String(s)) => s.clone(),
                    Some(Yaml::Number(n)) => n.to_string(),
                    Some(other) => return Err(format!("parameter {name}: default {other:?}")),
                    None => return Err(format!("parameter {name} has no default and no value")),
                },
            };
            let list = spec.get("Type").and_then(Yaml::as_str) == Some("CommaDelimitedList");
            let value = if list {
                Json::Array(text.split(',').map(|s| json!(s.trim())).collect())
            } else {
                json!(text)
            };
            out.insert(name.to_string(), value);
        }
        for (name, _) in overrides {
            if !out.contains_key(*name) {
                return Err(format!("the template has no parameter {name}"));
            }
        }
        Ok(out)
    }

    /// The resource `logical` (its whole definition).
    pub fn resource(&self, logical: &str) -> Result<&Yaml, String> {
        self.section("Resources")?
            .get(logical)
            .ok_or_else(|| format!("the template has no resource {logical}"))
    }

    /// Logical ids of the resources of `kind` (e.g. `AWS::IAM::Role`), in template order.
    pub fn resources_of_type(&self, kind: &str) -> Result<Vec<String>, String> {
        Ok(self
            .section("Resources")?
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Yaml::as_str) == Some(kind))
            .filter_map(|(k, _)| k.as_str().map(str::to_string))
            .collect())
    }

    fn kind(&self, logical: &str) -> Result<&str, String> {
        self.resource(logical)?
            .get("Type")
            .and_then(Yaml::as_str)
            .ok_or_else(|| format!("resource {logical} has no Type"))
    }

    /// A resource property, resolved.
    pub fn property(&self, logical: &str, name: &str) -> Result<Option<Json>, String> {
        match self
            .resource(logical)?
            .get("Properties")
            .and_then(|p| p.get(name))
        {
            None => Ok(None),
            Some(v) => self.resolve(v),
        }
    }

    fn physical_name(&self, logical: &str) -> Result<String, String> {
        if let Some(name) = self.names.get(logical) {
            return Ok(name.clone());
        }
        let key = match self.kind(logical)? {
            "AWS::Serverless::Function" | "AWS::Lambda::Function" => "FunctionName",
            "AWS::Logs::LogGroup" => "LogGroupName",
            "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine" => "Name",
            "AWS::ECR::Repository" => "RepositoryName",
            "AWS::DynamoDB::Table" => "TableName",
            "AWS::S3::Bucket" => "BucketName",
            "AWS::IAM::Role" => "RoleName",
            _ => "",
        };
        match self.property(logical, key)? {
            Some(Json::String(name)) => Ok(name),
            Some(other) => Err(format!("{logical}.{key} is not a string: {other}")),
            None => Ok(format!("{}-{logical}", self.stack_name)),
        }
    }

    fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{rest}")
    }

    /// `!Ref logical` of a resource.
    fn resource_ref(&self, logical: &str) -> Result<String, String> {
        let name = self.physical_name(logical)?;
        Ok(match self.kind(logical)? {
            "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine" => {
                self.arn("states", &format!("stateMachine:{name}"))
            }
            "AWS::SNS::Topic" => self.arn("sns", &name),
            _ => name,
        })
    }

    /// `!GetAtt logical.attribute`.
    pub fn get_att(&self, logical: &str, attribute: &str) -> Result<String, String> {
        let kind = self.kind(logical)?;
        let name = self.physical_name(logical)?;
        let value = match (kind, attribute) {
            ("AWS::DynamoDB::Table", "Arn") => self.arn("dynamodb", &format!("table/{name}")),
            ("AWS::S3::Bucket", "Arn") => format!("arn:{PARTITION}:s3:::{name}"),
            ("AWS::IAM::Role", "Arn") => format!("arn:{PARTITION}:iam::{ACCOUNT}:role/{name}"),
            // CloudFormation's LogGroup Arn ends in ":*"
            ("AWS::Logs::LogGroup", "Arn") => self.arn("logs", &format!("log-group:{name}:*")),
            ("AWS::Serverless::Function" | "AWS::Lambda::Function", "Arn") => {
                self.arn("lambda", &format!("function:{name}"))
            }
            ("AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine", "Arn") => {
                self.resource_ref(logical)?
            }
            ("AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine", "Name") => name,
            ("AWS::ECR::Repository", "Arn") => self.arn("ecr", &format!("repository/{name}")),
            // a rule on a custom bus is rule/<bus>/<name>
            ("AWS::Events::Rule", "Arn") => match self.property(logical, "EventBusName")? {
                Some(Json::String(bus)) if bus != "default" => {
                    self.arn("events", &format!("rule/{bus}/{name}"))
                }
                _ => self.arn("events", &format!("rule/{name}")),
            },
            ("AWS::ECR::Repository", "RepositoryUri") => {
                format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}")
            }
            _ => {
                return Err(format!(
                    "!GetAtt {logical}.{attribute}: {kind}.{attribute} is not known to the test resolver"
                ));
            }
        };
        Ok(value)
    }

    /// `!Ref name`: a parameter, a pseudo parameter or a resource; `None` for `AWS::NoValue`.
    fn reference(&self, name: &str) -> Result<Option<Json>, String> {
        Ok(Some(match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::Region" => json!(REGION),
            "AWS::AccountId" => json!(ACCOUNT),
            "AWS::Partition" => json!(PARTITION),
            "AWS::StackName" => json!(self.stack_name),
            "AWS::URLSuffix" => json!("amazonaws.com"),
            _ => match self.parameters.get(name) {
                Some(value) => value.clone(),
                None => json!(self.resource_ref(name)?),
            },
        }))
    }

    /// The named condition of the Conditions section.
    pub fn condition(&self, name: &str) -> Result<bool, String> {
        let body = self
            .section("Conditions")?
            .get(name)
            .ok_or_else(|| format!("the template has no condition {name}"))?;
        self.truth(body)
    }

    fn truth(&self, v: &Yaml) -> Result<bool, String> {
        match self.resolve(v)? {
            Some(Json::Bool(b)) => Ok(b),
            other => Err(format!("a condition resolved to {other:?}, not a boolean")),
        }
    }

    /// A template value with every intrinsic function applied; `None` for `AWS::NoValue`.
    pub fn resolve(&self, v: &Yaml) -> Result<Option<Json>, String> {
        match v {
            Yaml::Null => Ok(Some(Json::Null)),
            Yaml::Bool(b) => Ok(Some(json!(b))),
            Yaml::Number(n) => Ok(Some(
                serde_json::to_value(n).map_err(|e| format!("number {n}: {e}"))?,
            )),
            Yaml::String(s) => Ok(Some(json!(s))),
            Yaml::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(x) = self.resolve(item)? {
                        out.push(x);
                    }
                }
                Ok(Some(Json::Array(out)))
            }
            Yaml::Mapping(map) => {
                if map.len() == 1 {
                    let (k, arg) = map.iter().next().expect("one entry");
                    if let Some(name) = k.as_str().and_then(long_form) {
                        return self.function(name, arg);
                    }
                }
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let key = k
                        .as_str()
                        .ok_or_else(|| format!("a key is not a string: {k:?}"))?;
                    if let Some(x) = self.resolve(v)? {
                        out.insert(key.to_string(), x);
                    }
                }
                Ok(Some(Json::Object(out)))
            }
            Yaml::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                self.function(tag.trim_start_matches('!'), &tagged.value)
            }
        }
    }

    fn string(&self, v: &Yaml, what: &str) -> Result<String, String> {
        match self.resolve(v)? {
            Some(Json::String(s)) => Ok(s),
            other => Err(format!("{what}: expected a string, got {other:?}")),
        }
    }

    fn args<'a>(v: &'a Yaml, tag: &str, n: usize) -> Result<&'a [Yaml], String> {
        match v.as_sequence() {
            Some(items) if items.len() == n => Ok(items),
            _ => Err(format!("!{tag} takes a list of {n}: {v:?}")),
        }
    }

    fn function(&self, tag: &str, arg: &Yaml) -> Result<Option<Json>, String> {
        match tag {
            "Ref" => self.reference(arg.as_str().ok_or("!Ref takes a name")?),
            "GetAtt" => {
                let (logical, attribute) = match arg {
                    Yaml::String(s) => s
                        .split_once('.')
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .ok_or_else(|| format!("!GetAtt {s}: expected Logical.Attribute"))?,
                    _ => {
                        let items = Self::args(arg, tag, 2)?;
                        (
                            self.string(&items[0], "!GetAtt")?,
                            self.string(&items[1], "!GetAtt")?,
                        )
                    }
                };
                Ok(Some(json!(self.get_att(&logical, &attribute)?)))
            }
            "Sub" => {
                let (text, vars) = match arg {
                    Yaml::String(s) => (s.clone(), BTreeMap::new()),
                    _ => {
                        let items = Self::args(arg, tag, 2)?;
                        let mut vars = BTreeMap::new();
                        for (k, v) in items[1].as_mapping().ok_or("!Sub variables: a map")? {
                            let k = k.as_str().ok_or("!Sub variable name")?.to_string();
                            vars.insert(k, self.string(v, "!Sub variable")?);
                        }
                        (self.string(&items[0], "!Sub")?, vars)
                    }
                };
                Ok(Some(json!(self.substitute(&text, &vars)?)))
            }
            "If" => {
                let items = Self::args(arg, tag, 3)?;
                let name = items[0].as_str().ok_or("!If takes a condition name")?;
                self.resolve(&items[if self.condition(name)? { 1 } else { 2 }])
            }
            "Join" => {
                let items = Self::args(arg, tag, 2)?;
                let sep = self.string(&items[0], "!Join separator")?;
                let parts = match self.resolve(&items[1])? {
                    Some(Json::Array(parts)) => parts,
                    other => return Err(format!("!Join: expected a list, got {other:?}")),
                };
                let parts: Result<Vec<String>, String> = parts
                    .into_iter()
                    .map(|p| match p {
                        Json::String(s) => Ok(s),
                        other => Err(format!("!Join: {other} is not a string")),
                    })
                    .collect();
                Ok(Some(json!(parts?.join(&sep))))
            }
            "Select" => {
                let items = Self::args(arg, tag, 2)?;
                let index: usize = match self.resolve(&items[0])? {
                    Some(Json::String(s)) => {
                        s.parse().map_err(|e| format!("!Select index: {e}"))?
                    }
                    Some(Json::Number(n)) => n
                        .as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| format!("!Select index {n}"))?,
                    other => return Err(format!("!Select index: {other:?}")),
                };
                match self.resolve(&items[1])? {
                    Some(Json::Array(list)) => list
                        .get(index)
                        .cloned()
                        .map(Some)
                        .ok_or_else(|| format!("!Select {index}: out of range")),
                    other => Err(format!("!Select: expected a list, got {other:?}")),
                }
            }
            "Split" => {
                let items = Self::args(arg, tag, 2)?;
                let sep = self.string(&items[0], "!Split separator")?;
                let text = self.string(&items[1], "!Split")?;
                Ok(Some(json!(text.split(sep.as_str()).collect::<Vec<_>>())))
            }
            "Equals" => {
                let items = Self::args(arg, tag, 2)?;
                Ok(Some(json!(
                    self.resolve(&items[0])? == self.resolve(&items[1])?
                )))
            }
            "Not" => {
                let items = Self::args(arg, tag, 1)?;
                Ok(Some(json!(!self.truth(&items[0])?)))
            }
            "And" | "Or" => {
                let items = arg.as_sequence().ok_or(format!("!{tag} takes a list"))?;
                let values: Result<Vec<bool>, String> =
                    items.iter().map(|c| self.truth(c)).collect();
                let values = values?;
                Ok(Some(json!(if tag == "And" {
                    values.iter().all(|b| *b)
                } else {
                    values.iter().any(|b| *b)
                })))
            }
            "Condition" => Ok(Some(json!(
                self.condition(arg.as_str().ok_or("!Condition takes a name")?)?
            ))),
            other => Err(format!(
                "the test resolver does not know the intrinsic !{other}"
            )),
        }
    }

    /// `${Name}` / `${Logical.Attribute}` replaced; `${!Literal}` is `${Literal}`.
    fn substitute(&self, text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("!Sub {text:?}: unclosed ${{"))?;
            let name = &rest[start + 2..start + end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some((logical, attribute)) = name.split_once('.') {
                out.push_str(&self.get_att(logical, attribute)?);
            } else {
                match self.reference(name)? {
                    Some(Json::String(s)) => out.push_str(&s),
                    other => return Err(format!("!Sub ${{{name}}}: not a string: {other:?}")),
                }
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The inline policies of the role `logical`: (PolicyName, resolved PolicyDocument).
    pub fn role_policies(&self, logical: &str) -> Result<Vec<(String, Json)>, String> {
        if self.kind(logical)? != "AWS::IAM::Role" {
            return Err(format!("{logical} is not an AWS::IAM::Role"));
        }
        if self.property(logical, "ManagedPolicyArns")?.is_some() {
            return Err(format!(
                "{logical} has ManagedPolicyArns, whose documents the tests cannot read: use inline statements"
            ));
        }
        let Some(Json::Array(policies)) = self.property(logical, "Policies")? else {
            return Err(format!("{logical} has no Policies"));
        };
        policies
            .into_iter()
            .map(|p| {
                let name = p["PolicyName"]
                    .as_str()
                    .ok_or_else(|| format!("{logical}: a policy without PolicyName"))?;
                Ok((name.to_string(), p["PolicyDocument"].clone()))
            })
            .collect()
    }
}

/// `Fn::Sub` → `Sub`, `Ref` → `Ref`; `None` for an ordinary key (also `Condition`, an IAM
/// statement's key; the template writes the condition function as `!Condition`).
fn long_form(key: &str) -> Option<&str> {
    match key {
        "Ref" => Some(key),
        _ => key.strip_prefix("Fn::"),
    }
}
