//! The typed, validated model of a state machine, and the validator that builds it from JSON.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::error::{Collector, ptr};
use crate::intrinsic::{Intrinsic, looks_like_intrinsic};
use crate::limits::{MAX_DELAY_SECONDS, MAX_SECONDS_FIELD};
use crate::path::JsonPath;
use crate::template::{Jexpr, Template, compile_jsonata, jsonata_body};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ql {
    JsonPath,
    Jsonata,
}

/// A graph of states: the state machine itself, a Parallel branch or a Map processor.
#[derive(Debug)]
pub(crate) struct Graph {
    pub states: Vec<State>,
    pub start: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateType {
    Pass,
    Task,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

impl StateType {
    pub fn name(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }
}

/// ResultPath.
#[derive(Debug, Clone)]
pub(crate) enum ResultPath {
    /// Absent or `$`: the result replaces the input.
    Replace,
    /// `null`: the result is discarded.
    Discard,
    Path(JsonPath),
}

/// InputPath / OutputPath.
#[derive(Debug, Clone)]
pub(crate) enum IoPath {
    /// Absent or `$`.
    Identity,
    /// `null`: `{}`.
    Empty,
    Path(JsonPath),
}

/// A value given literally, by path (`*Path`), or by JSONata.
#[derive(Debug, Clone)]
pub(crate) enum Dyn<T> {
    Fixed(T),
    Path(JsonPath),
    Jsonata(Jexpr),
}

/// A string field of a Fail state (or a Map Label).
#[derive(Debug, Clone)]
pub(crate) enum DynStr {
    Fixed(String),
    Path(JsonPath),
    Intrinsic(Box<Intrinsic>),
    Jsonata(Jexpr),
}

#[derive(Debug)]
pub(crate) struct State {
    pub name: Arc<str>,
    pub ty: StateType,
    pub ql: Ql,
    pub next: Option<usize>,
    pub input_path: IoPath,
    pub output_path: IoPath,
    pub result_path: ResultPath,
    /// Parameters (JSONPath) or Arguments (JSONata).
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub output: Option<Template>,
    pub assign: Option<Template>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub kind: Kind,
    /// Something in this state reads `$$` / `$states.context`.
    pub uses_context: bool,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task(Box<TaskSpec>),
    Choice {
        rules: Vec<ChoiceRule>,
        default: Option<usize>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: Option<DynStr>,
        cause: Option<DynStr>,
    },
    Parallel {
        branches: Vec<Arc<Graph>>,
    },
    Map(Box<MapSpec>),
}

#[derive(Debug)]
pub(crate) struct TaskSpec {
    pub resource: String,
    pub timeout: Option<Dyn<u64>>,
    pub heartbeat: Option<Dyn<u64>>,
    pub wait_for_token: bool,
}

#[derive(Debug)]
pub(crate) enum WaitSpec {
    Seconds(Dyn<i64>),
    Timestamp(Dyn<String>),
}

#[derive(Debug)]
pub(crate) struct ChoiceRule {
    pub cond: Cond,
    pub next: usize,
    pub assign: Option<Template>,
    pub output: Option<Template>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

const OPS: &[(&str, Op)] = &[
    ("StringEquals", Op::StringEquals),
    ("StringLessThan", Op::StringLessThan),
    ("StringGreaterThan", Op::StringGreaterThan),
    ("StringLessThanEquals", Op::StringLessThanEquals),
    ("StringGreaterThanEquals", Op::StringGreaterThanEquals),
    ("StringMatches", Op::StringMatches),
    ("NumericEquals", Op::NumericEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("BooleanEquals", Op::BooleanEquals),
    ("TimestampEquals", Op::TimestampEquals),
    ("TimestampLessThan", Op::TimestampLessThan),
    ("TimestampGreaterThan", Op::TimestampGreaterThan),
    ("TimestampLessThanEquals", Op::TimestampLessThanEquals),
    ("TimestampGreaterThanEquals", Op::TimestampGreaterThanEquals),
    ("IsNull", Op::IsNull),
    ("IsPresent", Op::IsPresent),
    ("IsNumeric", Op::IsNumeric),
    ("IsString", Op::IsString),
    ("IsBoolean", Op::IsBoolean),
    ("IsTimestamp", Op::IsTimestamp),
];

#[derive(Debug)]
pub(crate) enum Rhs {
    Value(Value),
    Path(JsonPath),
}

#[derive(Debug)]
pub(crate) enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Cmp {
        var: JsonPath,
        op: Op,
        rhs: Rhs,
    },
    Jsonata(Jexpr),
    /// `"Condition": true|false` literally.
    Const(bool),
}

#[derive(Debug)]
pub(crate) struct Retrier {
    pub errors: Vec<String>,
    pub interval: f64,
    pub max_attempts: u64,
    pub backoff: f64,
    pub max_delay: Option<f64>,
    pub jitter: bool,
}

#[derive(Debug)]
pub(crate) struct Catcher {
    pub errors: Vec<String>,
    pub next: usize,
    pub result_path: ResultPath,
    pub output: Option<Template>,
    pub assign: Option<Template>,
}

#[derive(Debug)]
pub(crate) struct MapSpec {
    pub items_path: Option<JsonPath>,
    pub items: Option<Template>,
    pub item_selector: Option<Template>,
    pub processor: Arc<Graph>,
    pub distributed: bool,
    pub max_concurrency: Option<Dyn<u64>>,
    pub tolerated_count: Option<Dyn<f64>>,
    pub tolerated_percentage: Option<Dyn<f64>>,
    pub item_reader: Option<ItemReader>,
    pub item_batcher: Option<ItemBatcher>,
    pub result_writer: Option<ResultWriter>,
    /// `Label`: names the Map Run in its ARN.
    pub label: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ItemReader {
    pub resource: String,
    pub parameters: Option<Template>,
    pub input_type: String,
    pub csv_header_location: String,
    pub csv_headers: Option<Vec<String>>,
    pub csv_delimiter: char,
    pub max_items: Option<Dyn<u64>>,
    pub items_pointer: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ItemBatcher {
    pub max_items: Option<Dyn<u64>>,
    pub max_bytes: Option<Dyn<u64>>,
    pub batch_input: Option<Template>,
}

#[derive(Debug)]
pub(crate) struct ResultWriter {
    pub parameters: Option<Template>,
    pub output_type: Option<String>,
    pub transformation: Option<String>,
}

/// The validated definition.
#[derive(Debug)]
pub(crate) struct Model {
    pub graph: Arc<Graph>,
    pub timeout_seconds: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "ItemsPath",
    "Result",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "Iterator",
];
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

fn allowed_fields(ty: StateType) -> &'static [&'static str] {
    match ty {
        StateType::Pass => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Result",
            "Assign",
            "Output",
        ],
        StateType::Task => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Arguments",
            "Output",
            "Assign",
        ],
        StateType::Choice => &[
            "Choices",
            "Default",
            "InputPath",
            "OutputPath",
            "Assign",
            "Output",
        ],
        StateType::Wait => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
            "Assign",
            "Output",
        ],
        StateType::Succeed => &["InputPath", "OutputPath", "Output"],
        StateType::Fail => &["Error", "ErrorPath", "Cause", "CausePath"],
        StateType::Parallel => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Branches",
            "Arguments",
            "Output",
            "Assign",
        ],
        StateType::Map => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "ItemsPath",
            "Items",
            "ItemSelector",
            "Iterator",
            "ItemProcessor",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "Label",
            "Arguments",
            "Output",
            "Assign",
        ],
    }
}

/// Validates a whole definition.
pub(crate) fn validate(def: &Value) -> Result<Model, Vec<crate::ValidationError>> {
    let mut c = Collector::default();
    let model = validate_into(def, &mut c);
    match model {
        Some(m) if c.errors.is_empty() => Ok(m),
        _ => {
            if c.errors.is_empty() {
                c.push("", "invalid state machine definition");
            }
            Err(c.errors)
        }
    }
}

fn validate_into(def: &Value, c: &mut Collector) -> Option<Model> {
    let Some(obj) = def.as_object() else {
        c.push("", "the definition must be a JSON object");
        return None;
    };
    for k in obj.keys() {
        if ![
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ]
        .contains(&k.as_str())
        {
            c.push(&ptr("", k), format!("unknown field '{k}'"));
        }
    }
    if let Some(v) = obj.get("Version")
        && !v.is_string()
    {
        c.push("/Version", "must be a string");
    }
    if let Some(v) = obj.get("Comment")
        && !v.is_string()
    {
        c.push("/Comment", "must be a string");
    }
    let timeout_seconds = match obj.get("TimeoutSeconds") {
        None => None,
        Some(v) => match int_field(v, 1, MAX_SECONDS_FIELD) {
            Ok(n) => Some(n),
            Err(m) => {
                c.push("/TimeoutSeconds", m);
                None
            }
        },
    };
    let ql = query_language(obj, "", Ql::JsonPath, c);
    let graph = compile_graph(obj, "", ql, true, &mut Vars::default(), c)?;
    Some(Model {
        graph: Arc::new(graph),
        timeout_seconds,
    })
}

fn query_language(obj: &Map<String, Value>, base: &str, inherited: Ql, c: &mut Collector) -> Ql {
    match obj.get("QueryLanguage") {
        None => inherited,
        Some(Value::String(s)) if s == "JSONPath" => {
            if inherited == Ql::Jsonata && !base.is_empty() {
                c.push(
                    &ptr(base, "QueryLanguage"),
                    "a state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
                );
            }
            Ql::JsonPath
        }
        Some(Value::String(s)) if s == "JSONata" => Ql::Jsonata,
        Some(_) => {
            c.push(
                &ptr(base, "QueryLanguage"),
                "must be \"JSONPath\" or \"JSONata\"",
            );
            inherited
        }
    }
}

/// Variable names assigned per scope (for the scoping rules).
#[derive(Debug, Default, Clone)]
struct Vars {
    outer: HashSet<String>,
}

fn compile_graph(
    obj: &Map<String, Value>,
    base: &str,
    ql: Ql,
    top: bool,
    vars: &mut Vars,
    c: &mut Collector,
) -> Option<Graph> {
    if !top {
        for k in obj.keys() {
            if ![
                "StartAt",
                "States",
                "Comment",
                "ProcessorConfig",
                "QueryLanguage",
            ]
            .contains(&k.as_str())
            {
                c.push(&ptr(base, k), format!("unknown field '{k}'"));
            }
        }
    }
    let start_name = match obj.get("StartAt") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            c.push(&ptr(base, "StartAt"), "must be a string");
            None
        }
        None => {
            c.push(base, "missing required field 'StartAt'");
            None
        }
    };
    let states_ptr = ptr(base, "States");
    let states = match obj.get("States") {
        Some(Value::Object(m)) if !m.is_empty() => m,
        Some(Value::Object(_)) => {
            c.push(&states_ptr, "must define at least one state");
            return None;
        }
        Some(_) => {
            c.push(&states_ptr, "must be an object");
            return None;
        }
        None => {
            c.push(base, "missing required field 'States'");
            return None;
        }
    };
    let index: HashMap<&str, usize> = states
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let start = match start_name {
        Some(s) => match index.get(s) {
            Some(i) => *i,
            None => {
                c.push(
                    &ptr(base, "StartAt"),
                    format!("refers to state '{s}', which does not exist"),
                );
                0
            }
        },
        None => 0,
    };
    let mut compiled = Vec::with_capacity(states.len());
    for (name, sdef) in states {
        let sp = ptr(&states_ptr, name);
        if name.is_empty() || name.chars().count() > 80 {
            c.push(&sp, "a state name must have 1 to 80 characters");
        }
        if let Some(s) = compile_state(name, sdef, &sp, ql, &index, vars, c) {
            compiled.push(s);
        } else {
            // keep indexes aligned
            compiled.push(State {
                name: Arc::from(name.as_str()),
                ty: StateType::Succeed,
                ql,
                next: None,
                input_path: IoPath::Identity,
                output_path: IoPath::Identity,
                result_path: ResultPath::Replace,
                parameters: None,
                result_selector: None,
                output: None,
                assign: None,
                retry: Vec::new(),
                catch: Vec::new(),
                kind: Kind::Succeed,
                uses_context: false,
            });
        }
    }
    // reachability
    let mut seen = vec![false; compiled.len()];
    let mut stack = vec![start];
    while let Some(i) = stack.pop() {
        if i >= seen.len() || seen[i] {
            continue;
        }
        seen[i] = true;
        let s = &compiled[i];
        stack.extend(s.next);
        stack.extend(s.catch.iter().map(|k| k.next));
        if let Kind::Choice { rules, default } = &s.kind {
            stack.extend(rules.iter().map(|r| r.next));
            stack.extend(*default);
        }
    }
    for (i, name) in states.keys().enumerate() {
        if !seen.get(i).copied().unwrap_or(true) {
            c.push(
                &ptr(&states_ptr, name),
                format!("state '{name}' is not reachable from StartAt"),
            );
        }
    }
    let has_terminal = compiled.iter().any(|s| {
        matches!(s.ty, StateType::Succeed | StateType::Fail)
            || (s.next.is_none() && !matches!(s.ty, StateType::Choice))
    });
    if !has_terminal {
        c.push(
            &states_ptr,
            "no state ends the execution (End, Succeed or Fail)",
        );
    }
    Some(Graph {
        states: compiled,
        start,
    })
}

struct Ctx<'a> {
    base: String,
    obj: &'a Map<String, Value>,
    ql: Ql,
}

impl Ctx<'_> {
    fn p(&self, k: &str) -> String {
        ptr(&self.base, k)
    }
    fn get(&self, k: &str) -> Option<&Value> {
        self.obj.get(k)
    }
}

fn transition(
    v: Option<&Value>,
    pointer: &str,
    index: &HashMap<&str, usize>,
    c: &mut Collector,
) -> Option<usize> {
    match v {
        Some(Value::String(s)) => match index.get(s.as_str()) {
            Some(i) => Some(*i),
            None => {
                c.push(
                    pointer,
                    format!("refers to state '{s}', which does not exist"),
                );
                None
            }
        },
        Some(_) => {
            c.push(pointer, "must be a string naming a state");
            None
        }
        None => None,
    }
}

fn io_path(v: Option<&Value>, pointer: &str, c: &mut Collector) -> IoPath {
    match v {
        None => IoPath::Identity,
        Some(Value::Null) => IoPath::Empty,
        Some(Value::String(s)) => match JsonPath::parse(s) {
            Ok(p) if p.is_root_only() => IoPath::Identity,
            Ok(p) => IoPath::Path(p),
            Err(e) => {
                c.push(pointer, format!("invalid path: {e}"));
                IoPath::Identity
            }
        },
        Some(_) => {
            c.push(pointer, "must be a path string or null");
            IoPath::Identity
        }
    }
}

fn result_path(v: Option<&Value>, pointer: &str, c: &mut Collector) -> ResultPath {
    match v {
        None => ResultPath::Replace,
        Some(Value::Null) => ResultPath::Discard,
        Some(Value::String(s)) => match JsonPath::parse(s) {
            Ok(p) if p.is_root_only() => ResultPath::Replace,
            Ok(p) if p.is_reference() => ResultPath::Path(p),
            Ok(_) => {
                c.push(
                    pointer,
                    "must be a reference path ('$', '.field', ['field'] and [index] only, from '$')",
                );
                ResultPath::Replace
            }
            Err(e) => {
                c.push(pointer, format!("invalid path: {e}"));
                ResultPath::Replace
            }
        },
        Some(_) => {
            c.push(pointer, "must be a path string or null");
            ResultPath::Replace
        }
    }
}

fn path_field(v: &Value, pointer: &str, c: &mut Collector) -> Option<JsonPath> {
    match v {
        Value::String(s) => match JsonPath::parse(s) {
            Ok(p) => Some(p),
            Err(e) => {
                c.push(pointer, format!("invalid path: {e}"));
                None
            }
        },
        _ => {
            c.push(pointer, "must be a path string");
            None
        }
    }
}

fn string_list(v: Option<&Value>, pointer: &str, c: &mut Collector) -> Vec<String> {
    match v {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match x {
                Value::String(s) => Some(s.clone()),
                _ => {
                    c.push(&ptr(pointer, &i.to_string()), "must be a string");
                    None
                }
            })
            .collect(),
        Some(_) => {
            c.push(pointer, "must be a non-empty array of error names");
            Vec::new()
        }
        None => {
            c.push(pointer, "is required");
            Vec::new()
        }
    }
}

/// An integer field in `min..=max`. ASL's integer fields are JSON integers (`5.0` is not
/// one); a value out of range gets AWS's wording (`Maximum value is 99999999`, as
/// ValidateStateMachineDefinition's SCHEMA_VALIDATION_FAILED says), any other value says what
/// is expected.
pub(crate) fn int_field(v: &Value, min: u64, max: u64) -> Result<u64, String> {
    let expected = || format!("must be an integer between {min} and {max}");
    let Value::Number(n) = v else {
        return Err(expected());
    };
    if let Some(u) = n.as_u64() {
        return if u > max {
            Err(format!("Maximum value is {max}"))
        } else if u < min {
            Err(format!("Minimum value is {min}"))
        } else {
            Ok(u)
        };
    }
    if n.as_i64().is_some() {
        return Err(format!("Minimum value is {min}"));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f > max as f64 => Err(format!("Maximum value is {max}")),
        Some(f) if f.fract() == 0.0 && f < min as f64 => Err(format!("Minimum value is {min}")),
        _ => Err(expected()),
    }
}

/// A non-negative integer field that may also be given by a `*Path` field or JSONata.
fn dyn_uint(
    cx: &Ctx<'_>,
    field: &str,
    path_field_name: Option<&str>,
    min: u64,
    max: u64,
    c: &mut Collector,
) -> Option<Dyn<u64>> {
    dyn_field(cx, field, path_field_name, |v| int_field(v, min, max), c)
}

/// A numeric field that may also be given by a `*Path` field or JSONata.
fn dyn_num(
    cx: &Ctx<'_>,
    field: &str,
    path_name: &str,
    min: f64,
    max: f64,
    c: &mut Collector,
) -> Option<Dyn<f64>> {
    dyn_field(
        cx,
        field,
        Some(path_name),
        |v| {
            v.as_f64()
                .filter(|n| *n >= min && *n <= max)
                .ok_or_else(|| format!("must be a number between {min} and {max}"))
        },
        c,
    )
}

/// A field given as a fixed value (`parse` accepts it, else its message is reported), as a
/// JSONata expression (JSONata states), or by its `*Path` twin; both at once is an error.
fn dyn_field<T>(
    cx: &Ctx<'_>,
    field: &str,
    path_name: Option<&str>,
    parse: impl Fn(&Value) -> Result<T, String>,
    c: &mut Collector,
) -> Option<Dyn<T>> {
    let fixed = cx.get(field);
    let path = path_name.and_then(|p| cx.get(p).map(|v| (p, v)));
    if let (Some(_), Some((pn, _))) = (fixed, path) {
        c.push(
            &cx.p(field),
            format!("'{field}' and '{pn}' cannot both be set"),
        );
    }
    if let Some(v) = fixed {
        if let Value::String(s) = v
            && cx.ql == Ql::Jsonata
            && jsonata_body(s).is_some()
        {
            return compile_jsonata(s, &cx.p(field), c).map(Dyn::Jsonata);
        }
        return match parse(v) {
            Ok(x) => Some(Dyn::Fixed(x)),
            Err(m) => {
                c.push(&cx.p(field), m);
                None
            }
        };
    }
    let (pn, v) = path?;
    path_field(v, &cx.p(pn), c).map(Dyn::Path)
}

fn dyn_str(cx: &Ctx<'_>, field: &str, path_name: &str, c: &mut Collector) -> Option<DynStr> {
    let fixed = cx.get(field);
    let path = cx.get(path_name);
    if fixed.is_some() && path.is_some() {
        c.push(
            &cx.p(field),
            format!("'{field}' and '{path_name}' cannot both be set"),
        );
    }
    if let Some(v) = fixed {
        return match v {
            Value::String(s) if cx.ql == Ql::Jsonata && jsonata_body(s).is_some() => {
                compile_jsonata(s, &cx.p(field), c).map(DynStr::Jsonata)
            }
            Value::String(s) => Some(DynStr::Fixed(s.clone())),
            _ => {
                c.push(&cx.p(field), "must be a string");
                None
            }
        };
    }
    if let Some(v) = path {
        let p = cx.p(path_name);
        return match v {
            Value::String(s) if looks_like_intrinsic(s) => match Intrinsic::parse(s) {
                Ok(i) => Some(DynStr::Intrinsic(Box::new(i))),
                Err(e) => {
                    c.push(&p, format!("invalid intrinsic function: {e}"));
                    None
                }
            },
            other => path_field(other, &p, c).map(DynStr::Path),
        };
    }
    None
}

fn compile_payload(v: &Value, pointer: &str, ql: Ql, c: &mut Collector) -> Template {
    match ql {
        Ql::JsonPath => Template::jsonpath(v, pointer, c),
        Ql::Jsonata => Template::jsonata(v, pointer, c),
    }
}

fn compile_assign(v: Option<&Value>, pointer: &str, ql: Ql, c: &mut Collector) -> Option<Template> {
    let v = v?;
    let Value::Object(m) = v else {
        c.push(pointer, "must be an object of variable names to values");
        return None;
    };
    for k in m.keys() {
        let name = k.strip_suffix(".$").unwrap_or(k);
        let valid = !name.is_empty()
            && name
                .chars()
                .next()
                .is_some_and(|ch| ch.is_alphabetic() || ch == '_')
            && name.chars().all(|ch| ch.is_alphanumeric() || ch == '_');
        if !valid {
            c.push(&ptr(pointer, k), format!("invalid variable name '{name}'"));
        }
        if ql == Ql::Jsonata && k.ends_with(".$") {
            c.push(&ptr(pointer, k), "'.$' fields are not allowed in JSONata");
        }
        if name == "states" {
            c.push(&ptr(pointer, k), "'states' is a reserved name");
        }
    }
    Some(compile_payload(v, pointer, ql, c))
}

fn compile_state(
    name: &str,
    def: &Value,
    base: &str,
    inherited: Ql,
    index: &HashMap<&str, usize>,
    vars: &mut Vars,
    c: &mut Collector,
) -> Option<State> {
    let Some(obj) = def.as_object() else {
        c.push(base, "a state must be an object");
        return None;
    };
    let ty = match obj.get("Type") {
        Some(Value::String(t)) => match t.as_str() {
            "Pass" => StateType::Pass,
            "Task" => StateType::Task,
            "Choice" => StateType::Choice,
            "Wait" => StateType::Wait,
            "Succeed" => StateType::Succeed,
            "Fail" => StateType::Fail,
            "Parallel" => StateType::Parallel,
            "Map" => StateType::Map,
            other => {
                c.push(&ptr(base, "Type"), format!("unknown state type '{other}'"));
                return None;
            }
        },
        Some(_) => {
            c.push(&ptr(base, "Type"), "must be a string");
            return None;
        }
        None => {
            c.push(base, "missing required field 'Type'");
            return None;
        }
    };
    let ql = query_language(obj, base, inherited, c);
    let allowed = allowed_fields(ty);
    for k in obj.keys() {
        let k = k.as_str();
        if COMMON.contains(&k) {
            continue;
        }
        if !allowed.contains(&k) {
            c.push(
                &ptr(base, k),
                format!("field '{k}' is not allowed in a {} state", ty.name()),
            );
        } else if ql == Ql::Jsonata && JSONPATH_ONLY.contains(&k) {
            c.push(
                &ptr(base, k),
                format!("field '{k}' is not allowed when QueryLanguage is JSONata"),
            );
        } else if ql == Ql::JsonPath && JSONATA_ONLY.contains(&k) {
            c.push(
                &ptr(base, k),
                format!("field '{k}' is only allowed when QueryLanguage is JSONata"),
            );
        }
    }
    let cx = Ctx {
        base: base.to_string(),
        obj,
        ql,
    };
    // Next / End
    let next = transition(obj.get("Next"), &cx.p("Next"), index, c);
    let ends = match obj.get("End") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            c.push(&cx.p("End"), "must be a boolean");
            false
        }
    };
    if matches!(
        ty,
        StateType::Pass | StateType::Task | StateType::Wait | StateType::Parallel | StateType::Map
    ) {
        match (obj.contains_key("Next"), ends) {
            (true, true) => c.push(base, "a state cannot have both 'Next' and 'End': true"),
            (false, false) => c.push(base, "a state must have either 'Next' or 'End': true"),
            _ => {}
        }
    }
    let input_path = io_path(obj.get("InputPath"), &cx.p("InputPath"), c);
    let output_path = io_path(obj.get("OutputPath"), &cx.p("OutputPath"), c);
    let result_path_v = result_path(obj.get("ResultPath"), &cx.p("ResultPath"), c);
    let parameters = match ql {
        Ql::JsonPath => obj.get("Parameters").map(|v| {
            if !v.is_object() && ty != StateType::Map {
                c.push(&cx.p("Parameters"), "must be an object");
            }
            Template::jsonpath(v, &cx.p("Parameters"), c)
        }),
        Ql::Jsonata => obj.get("Arguments").map(|v| {
            if !(v.is_object() || v.as_str().and_then(jsonata_body).is_some()) {
                c.push(
                    &cx.p("Arguments"),
                    "must be an object or a JSONata expression",
                );
            }
            Template::jsonata(v, &cx.p("Arguments"), c)
        }),
    };
    let result_selector = obj.get("ResultSelector").map(|v| {
        if !v.is_object() {
            c.push(&cx.p("ResultSelector"), "must be an object");
        }
        Template::jsonpath(v, &cx.p("ResultSelector"), c)
    });
    let output = if ql == Ql::Jsonata {
        obj.get("Output")
            .map(|v| Template::jsonata(v, &cx.p("Output"), c))
    } else {
        None
    };
    let assign = compile_assign(obj.get("Assign"), &cx.p("Assign"), ql, c);
    if let Some(Template::Object(fields)) = &assign {
        for (k, _, _) in fields {
            vars.outer.insert(k.clone());
        }
    } else if let Some(Template::Const(Value::Object(m))) = &assign {
        for k in m.keys() {
            vars.outer.insert(k.clone());
        }
    }
    let retry = if obj.contains_key("Retry") {
        compile_retry(obj.get("Retry"), &cx.p("Retry"), c)
    } else {
        Vec::new()
    };
    let catch = if obj.contains_key("Catch") {
        compile_catch(obj.get("Catch"), &cx.p("Catch"), ql, index, c)
    } else {
        Vec::new()
    };

    let kind = match ty {
        StateType::Pass => Kind::Pass {
            result: obj.get("Result").cloned(),
        },
        StateType::Succeed => Kind::Succeed,
        StateType::Fail => Kind::Fail {
            error: dyn_str(&cx, "Error", "ErrorPath", c),
            cause: dyn_str(&cx, "Cause", "CausePath", c),
        },
        StateType::Task => {
            let resource = match obj.get("Resource") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(_) => {
                    c.push(&cx.p("Resource"), "must be a non-empty string (an ARN)");
                    String::new()
                }
                None => {
                    c.push(base, "missing required field 'Resource'");
                    String::new()
                }
            };
            let timeout = dyn_uint(
                &cx,
                "TimeoutSeconds",
                Some("TimeoutSecondsPath"),
                1,
                MAX_SECONDS_FIELD,
                c,
            );
            let heartbeat = dyn_uint(
                &cx,
                "HeartbeatSeconds",
                Some("HeartbeatSecondsPath"),
                1,
                MAX_SECONDS_FIELD,
                c,
            );
            if let (Some(Dyn::Fixed(t)), Some(Dyn::Fixed(h))) = (&timeout, &heartbeat)
                && h >= t
            {
                c.push(
                    &cx.p("HeartbeatSeconds"),
                    "must be smaller than TimeoutSeconds",
                );
            }
            // Credentials are checked but have no meaning locally
            if let Some(v) = obj.get("Credentials") {
                if !v.is_object() {
                    c.push(&cx.p("Credentials"), "must be an object");
                }
                let _ = compile_payload(v, &cx.p("Credentials"), ql, c);
            }
            let wait_for_token = resource.ends_with(".waitForTaskToken");
            Kind::Task(Box::new(TaskSpec {
                resource,
                timeout,
                heartbeat,
                wait_for_token,
            }))
        }
        StateType::Choice => {
            let mut rules = Vec::new();
            match obj.get("Choices") {
                Some(Value::Array(a)) if !a.is_empty() => {
                    for (i, r) in a.iter().enumerate() {
                        let rp = ptr(&cx.p("Choices"), &i.to_string());
                        if let Some(rule) = compile_choice_rule(r, &rp, ql, index, c) {
                            rules.push(rule);
                        }
                    }
                }
                Some(_) => c.push(&cx.p("Choices"), "must be a non-empty array"),
                None => c.push(base, "missing required field 'Choices'"),
            }
            let default = transition(obj.get("Default"), &cx.p("Default"), index, c);
            Kind::Choice { rules, default }
        }
        StateType::Wait => {
            let mut n = 0;
            let mut spec = None;
            for f in ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"] {
                if obj.contains_key(f) {
                    n += 1;
                }
            }
            if n != 1 {
                c.push(
                    base,
                    "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                );
            }
            if let Some(v) = obj.get("Seconds") {
                spec = match v {
                    Value::String(s) if ql == Ql::Jsonata && jsonata_body(s).is_some() => {
                        compile_jsonata(s, &cx.p("Seconds"), c)
                            .map(|e| WaitSpec::Seconds(Dyn::Jsonata(e)))
                    }
                    _ => match int_field(v, 0, MAX_SECONDS_FIELD) {
                        Ok(s) => Some(WaitSpec::Seconds(Dyn::Fixed(s as i64))),
                        Err(m) => {
                            c.push(&cx.p("Seconds"), m);
                            None
                        }
                    },
                };
            } else if let Some(v) = obj.get("SecondsPath") {
                spec =
                    path_field(v, &cx.p("SecondsPath"), c).map(|p| WaitSpec::Seconds(Dyn::Path(p)));
            } else if let Some(v) = obj.get("Timestamp") {
                spec = match v {
                    Value::String(s) if ql == Ql::Jsonata && jsonata_body(s).is_some() => {
                        compile_jsonata(s, &cx.p("Timestamp"), c)
                            .map(|e| WaitSpec::Timestamp(Dyn::Jsonata(e)))
                    }
                    Value::String(s) => {
                        if parse_timestamp(s).is_none() {
                            c.push(&cx.p("Timestamp"), "must be an RFC 3339 timestamp");
                        }
                        Some(WaitSpec::Timestamp(Dyn::Fixed(s.clone())))
                    }
                    _ => {
                        c.push(&cx.p("Timestamp"), "must be an RFC 3339 timestamp string");
                        None
                    }
                };
            } else if let Some(v) = obj.get("TimestampPath") {
                spec = path_field(v, &cx.p("TimestampPath"), c)
                    .map(|p| WaitSpec::Timestamp(Dyn::Path(p)));
            }
            Kind::Wait(spec.unwrap_or(WaitSpec::Seconds(Dyn::Fixed(0))))
        }
        StateType::Parallel => {
            let mut branches = Vec::new();
            match obj.get("Branches") {
                Some(Value::Array(a)) if !a.is_empty() => {
                    for (i, b) in a.iter().enumerate() {
                        let bp = ptr(&cx.p("Branches"), &i.to_string());
                        match b.as_object() {
                            Some(bo) => {
                                let bql = query_language(bo, &bp, ql, c);
                                let mut inner = vars.clone();
                                if let Some(g) = compile_graph(bo, &bp, bql, false, &mut inner, c) {
                                    branches.push(Arc::new(g));
                                }
                            }
                            None => c.push(&bp, "a branch must be an object"),
                        }
                    }
                }
                Some(_) => c.push(&cx.p("Branches"), "must be a non-empty array"),
                None => c.push(base, "missing required field 'Branches'"),
            }
            Kind::Parallel { branches }
        }
        StateType::Map => Kind::Map(Box::new(compile_map(&cx, vars, c)?)),
    };
    if matches!(ty, StateType::Map) && ql == Ql::JsonPath {
        // legacy `Parameters` on Map is the ItemSelector; handled in compile_map
    }
    let uses_context = parameters.as_ref().is_some_and(Template::uses_context)
        || result_selector.as_ref().is_some_and(Template::uses_context)
        || output.as_ref().is_some_and(Template::uses_context)
        || assign.as_ref().is_some_and(Template::uses_context)
        || catch.iter().any(|k| {
            k.output.as_ref().is_some_and(Template::uses_context)
                || k.assign.as_ref().is_some_and(Template::uses_context)
        })
        || matches!(&input_path, IoPath::Path(p) if matches!(p.root(), crate::path::Root::Context))
        || matches!(&output_path, IoPath::Path(p) if matches!(p.root(), crate::path::Root::Context))
        || kind_uses_context(&kind);
    let parameters = if ty == StateType::Map && ql == Ql::JsonPath {
        // on Map, Parameters is the legacy ItemSelector and lives in the MapSpec
        None
    } else {
        parameters
    };
    Some(State {
        name: Arc::from(name),
        ty,
        ql,
        next,
        input_path,
        output_path,
        result_path: result_path_v,
        parameters,
        result_selector,
        output,
        assign,
        retry,
        catch,
        kind,
        uses_context,
    })
}

fn kind_uses_context(k: &Kind) -> bool {
    match k {
        Kind::Task(_) => true,
        Kind::Map(_) => true,
        Kind::Choice { rules, .. } => rules.iter().any(|r| {
            cond_uses_context(&r.cond)
                || r.output.as_ref().is_some_and(Template::uses_context)
                || r.assign.as_ref().is_some_and(Template::uses_context)
        }),
        Kind::Fail { error, cause } => [error, cause].iter().any(|d| match d {
            Some(DynStr::Path(p)) => matches!(p.root(), crate::path::Root::Context),
            Some(DynStr::Intrinsic(_)) | Some(DynStr::Jsonata(_)) => true,
            _ => false,
        }),
        Kind::Wait(_) => true,
        _ => false,
    }
}

fn cond_uses_context(c: &Cond) -> bool {
    match c {
        Cond::And(v) | Cond::Or(v) => v.iter().any(cond_uses_context),
        Cond::Not(x) => cond_uses_context(x),
        Cond::Cmp { var, rhs, .. } => {
            matches!(var.root(), crate::path::Root::Context)
                || matches!(rhs, Rhs::Path(p) if matches!(p.root(), crate::path::Root::Context))
        }
        Cond::Jsonata(j) => j.uses_context,
        Cond::Const(_) => false,
    }
}

/// Parses an RFC 3339 timestamp as Step Functions accepts it (uppercase `T`, a time zone).
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    if !s.contains('T') || s.contains('t') || s.contains(' ') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}

/// Calls `f` on each object of a `Retry` or `Catch` field, in order, with its JSON pointer and
/// whether it is the last item (`what` is "retrier" or "catcher"); a value that is not an
/// array, and items that are not objects, are reported.
fn for_each_object<'a>(
    v: Option<&'a Value>,
    pointer: &str,
    what: &str,
    c: &mut Collector,
    mut f: impl FnMut(String, &'a Map<String, Value>, bool, &mut Collector),
) {
    let Some(Value::Array(a)) = v else {
        c.push(pointer, format!("must be an array of {what}s"));
        return;
    };
    for (i, r) in a.iter().enumerate() {
        let rp = ptr(pointer, &i.to_string());
        match r.as_object() {
            Some(o) => f(rp, o, i + 1 == a.len(), c),
            None => c.push(&rp, format!("a {what} must be an object")),
        }
    }
}

fn compile_retry(v: Option<&Value>, pointer: &str, c: &mut Collector) -> Vec<Retrier> {
    let mut out = Vec::new();
    for_each_object(v, pointer, "retrier", c, |rp, o, last, c| {
        for k in o.keys() {
            if ![
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ]
            .contains(&k.as_str())
            {
                c.push(&ptr(&rp, k), format!("unknown field '{k}' in a retrier"));
            }
        }
        let errors = string_list(o.get("ErrorEquals"), &ptr(&rp, "ErrorEquals"), c);
        check_error_list(&errors, &ptr(&rp, "ErrorEquals"), last, c);
        let interval = match o.get("IntervalSeconds") {
            None => 1.0,
            Some(v) => match int_field(v, 1, MAX_SECONDS_FIELD) {
                Ok(n) => n as f64,
                Err(m) => {
                    c.push(&ptr(&rp, "IntervalSeconds"), m);
                    1.0
                }
            },
        };
        let max_attempts = match o.get("MaxAttempts") {
            None => 3,
            Some(v) => match int_field(v, 0, MAX_SECONDS_FIELD) {
                Ok(n) => n,
                Err(m) => {
                    c.push(&ptr(&rp, "MaxAttempts"), m);
                    3
                }
            },
        };
        let backoff = match o.get("BackoffRate") {
            None => 2.0,
            Some(v) => match v.as_f64() {
                Some(n) if n >= 1.0 => n,
                Some(_) => {
                    c.push(&ptr(&rp, "BackoffRate"), "must be >= 1.0");
                    2.0
                }
                None => {
                    c.push(&ptr(&rp, "BackoffRate"), "must be a number >= 1.0");
                    2.0
                }
            },
        };
        let max_delay = match o.get("MaxDelaySeconds") {
            None => None,
            Some(v) => match int_field(v, 1, MAX_DELAY_SECONDS) {
                Ok(n) => Some(n as f64),
                Err(m) => {
                    c.push(&ptr(&rp, "MaxDelaySeconds"), m);
                    None
                }
            },
        };
        let jitter = match o.get("JitterStrategy") {
            None => false,
            Some(Value::String(s)) if s == "FULL" => true,
            Some(Value::String(s)) if s == "NONE" => false,
            Some(_) => {
                c.push(&ptr(&rp, "JitterStrategy"), "must be \"FULL\" or \"NONE\"");
                false
            }
        };
        out.push(Retrier {
            errors,
            interval,
            max_attempts,
            backoff,
            max_delay,
            jitter,
        });
    });
    out
}

fn check_error_list(errors: &[String], pointer: &str, last: bool, c: &mut Collector) {
    if errors.iter().any(|e| e == "States.ALL") {
        if errors.len() > 1 {
            c.push(pointer, "'States.ALL' must appear alone in ErrorEquals");
        }
        if !last {
            c.push(
                pointer,
                "a 'States.ALL' retrier or catcher must be the last one",
            );
        }
    }
}

fn compile_catch(
    v: Option<&Value>,
    pointer: &str,
    ql: Ql,
    index: &HashMap<&str, usize>,
    c: &mut Collector,
) -> Vec<Catcher> {
    let mut out = Vec::new();
    for_each_object(v, pointer, "catcher", c, |rp, o, last, c| {
        for k in o.keys() {
            let ok = match k.as_str() {
                "ErrorEquals" | "Next" | "Comment" | "Assign" => true,
                "ResultPath" => ql == Ql::JsonPath,
                "Output" => ql == Ql::Jsonata,
                _ => false,
            };
            if !ok {
                c.push(
                    &ptr(&rp, k),
                    format!("field '{k}' is not allowed in a catcher"),
                );
            }
        }
        let errors = string_list(o.get("ErrorEquals"), &ptr(&rp, "ErrorEquals"), c);
        check_error_list(&errors, &ptr(&rp, "ErrorEquals"), last, c);
        let next = match o.get("Next") {
            None => {
                c.push(&rp, "missing required field 'Next'");
                None
            }
            v => transition(v, &ptr(&rp, "Next"), index, c),
        };
        let result_path = result_path(o.get("ResultPath"), &ptr(&rp, "ResultPath"), c);
        let output = if ql == Ql::Jsonata {
            o.get("Output")
                .map(|v| Template::jsonata(v, &ptr(&rp, "Output"), c))
        } else {
            None
        };
        let assign = compile_assign(o.get("Assign"), &ptr(&rp, "Assign"), ql, c);
        if let Some(next) = next {
            out.push(Catcher {
                errors,
                next,
                result_path,
                output,
                assign,
            });
        }
    });
    out
}

fn compile_choice_rule(
    r: &Value,
    pointer: &str,
    ql: Ql,
    index: &HashMap<&str, usize>,
    c: &mut Collector,
) -> Option<ChoiceRule> {
    let Some(o) = r.as_object() else {
        c.push(pointer, "a choice rule must be an object");
        return None;
    };
    let next = match o.get("Next") {
        None => {
            c.push(pointer, "missing required field 'Next'");
            None
        }
        v => transition(v, &ptr(pointer, "Next"), index, c),
    };
    let cond = match ql {
        Ql::Jsonata => {
            for k in o.keys() {
                if !["Condition", "Next", "Comment", "Assign", "Output"].contains(&k.as_str()) {
                    c.push(
                        &ptr(pointer, k),
                        format!("field '{k}' is not allowed in a JSONata choice rule"),
                    );
                }
            }
            match o.get("Condition") {
                Some(Value::String(s)) if jsonata_body(s).is_some() => {
                    compile_jsonata(s, &ptr(pointer, "Condition"), c).map(Cond::Jsonata)
                }
                Some(Value::Bool(b)) => Some(Cond::Const(*b)),
                Some(_) => {
                    c.push(
                        &ptr(pointer, "Condition"),
                        "must be a JSONata expression '{% ... %}' or a boolean",
                    );
                    None
                }
                None => {
                    c.push(pointer, "missing required field 'Condition'");
                    None
                }
            }
        }
        Ql::JsonPath => {
            for k in o.keys() {
                if k == "Output" || k == "Condition" {
                    c.push(
                        &ptr(pointer, k),
                        format!("field '{k}' is only allowed when QueryLanguage is JSONata"),
                    );
                }
            }
            compile_cond(o, pointer, true, c)
        }
    };
    let assign = compile_assign(o.get("Assign"), &ptr(pointer, "Assign"), ql, c);
    let output = if ql == Ql::Jsonata {
        o.get("Output")
            .map(|v| Template::jsonata(v, &ptr(pointer, "Output"), c))
    } else {
        None
    };
    Some(ChoiceRule {
        cond: cond?,
        next: next?,
        assign,
        output,
    })
}

fn compile_cond(
    o: &Map<String, Value>,
    pointer: &str,
    top: bool,
    c: &mut Collector,
) -> Option<Cond> {
    let mut allowed: Vec<&str> = vec!["Variable", "And", "Or", "Not", "Comment"];
    if top {
        allowed.extend(["Next", "Assign"]);
    } else if o.contains_key("Next") {
        c.push(
            &ptr(pointer, "Next"),
            "'Next' is only allowed in a top-level choice rule",
        );
    }
    let mut ops = Vec::new();
    for k in o.keys() {
        if let Some((_, op)) = OPS.iter().find(|(n, _)| n == k) {
            ops.push((k.as_str(), *op, false));
        } else if let Some(base) = k.strip_suffix("Path")
            && let Some((_, op)) = OPS.iter().find(|(n, _)| *n == base)
            && !base.starts_with("Is")
        {
            ops.push((k.as_str(), *op, true));
        } else if !(allowed.contains(&k.as_str())
            || (top && k == "Next")
            || matches!(k.as_str(), "Output" | "Condition"))
        {
            c.push(
                &ptr(pointer, k),
                format!("unknown field '{k}' in a choice rule"),
            );
        }
    }
    let combos = ["And", "Or", "Not"]
        .iter()
        .filter(|k| o.contains_key(**k))
        .count();
    if combos + ops.len() != 1 {
        c.push(
            pointer,
            "a choice rule needs exactly one comparison operator or one of And, Or, Not",
        );
        return None;
    }
    if let Some(v) = o.get("And").or_else(|| o.get("Or")) {
        let key = if o.contains_key("And") { "And" } else { "Or" };
        if o.contains_key("Variable") {
            c.push(
                &ptr(pointer, "Variable"),
                format!("not allowed with '{key}'"),
            );
        }
        let Value::Array(a) = v else {
            c.push(&ptr(pointer, key), "must be a non-empty array of rules");
            return None;
        };
        if a.is_empty() {
            c.push(&ptr(pointer, key), "must be a non-empty array of rules");
        }
        let mut subs = Vec::new();
        for (i, r) in a.iter().enumerate() {
            let p = ptr(&ptr(pointer, key), &i.to_string());
            match r.as_object() {
                Some(ro) => subs.extend(compile_cond(ro, &p, false, c)),
                None => c.push(&p, "a rule must be an object"),
            }
        }
        return Some(if key == "And" {
            Cond::And(subs)
        } else {
            Cond::Or(subs)
        });
    }
    if let Some(v) = o.get("Not") {
        if o.contains_key("Variable") {
            c.push(&ptr(pointer, "Variable"), "not allowed with 'Not'");
        }
        let Some(ro) = v.as_object() else {
            c.push(&ptr(pointer, "Not"), "must be a rule object");
            return None;
        };
        return compile_cond(ro, &ptr(pointer, "Not"), false, c).map(|x| Cond::Not(Box::new(x)));
    }
    let (key, op, is_path) = ops.first().copied()?;
    let var = match o.get("Variable") {
        Some(v) => path_field(v, &ptr(pointer, "Variable"), c),
        None => {
            c.push(pointer, "missing required field 'Variable'");
            None
        }
    };
    let kp = ptr(pointer, key);
    let value = o.get(key).cloned().unwrap_or(Value::Null);
    let rhs = if is_path {
        path_field(&value, &kp, c).map(Rhs::Path)
    } else {
        let ok = match op {
            Op::StringEquals
            | Op::StringLessThan
            | Op::StringGreaterThan
            | Op::StringLessThanEquals
            | Op::StringGreaterThanEquals
            | Op::StringMatches => value.is_string(),
            Op::NumericEquals
            | Op::NumericLessThan
            | Op::NumericGreaterThan
            | Op::NumericLessThanEquals
            | Op::NumericGreaterThanEquals => value.is_number(),
            Op::BooleanEquals
            | Op::IsNull
            | Op::IsPresent
            | Op::IsNumeric
            | Op::IsString
            | Op::IsBoolean
            | Op::IsTimestamp => value.is_boolean(),
            Op::TimestampEquals
            | Op::TimestampLessThan
            | Op::TimestampGreaterThan
            | Op::TimestampLessThanEquals
            | Op::TimestampGreaterThanEquals => value.as_str().and_then(parse_timestamp).is_some(),
        };
        if !ok {
            let want = match op {
                Op::NumericEquals
                | Op::NumericLessThan
                | Op::NumericGreaterThan
                | Op::NumericLessThanEquals
                | Op::NumericGreaterThanEquals => "a number",
                Op::StringEquals
                | Op::StringLessThan
                | Op::StringGreaterThan
                | Op::StringLessThanEquals
                | Op::StringGreaterThanEquals
                | Op::StringMatches => "a string",
                Op::TimestampEquals
                | Op::TimestampLessThan
                | Op::TimestampGreaterThan
                | Op::TimestampLessThanEquals
                | Op::TimestampGreaterThanEquals => "an RFC 3339 timestamp string",
                _ => "a boolean",
            };
            c.push(&kp, format!("must be {want}"));
        }
        Some(Rhs::Value(value))
    };
    Some(Cond::Cmp {
        var: var?,
        op,
        rhs: rhs?,
    })
}

fn compile_map(cx: &Ctx<'_>, vars: &mut Vars, c: &mut Collector) -> Option<MapSpec> {
    let ql = cx.ql;
    let obj = cx.obj;
    let items_path = obj
        .get("ItemsPath")
        .and_then(|v| path_field(v, &cx.p("ItemsPath"), c));
    let items = obj.get("Items").map(|v| {
        if !(v.is_array() || v.as_str().and_then(jsonata_body).is_some()) {
            c.push(&cx.p("Items"), "must be an array or a JSONata expression");
        }
        Template::jsonata(v, &cx.p("Items"), c)
    });
    if obj.contains_key("ItemSelector") && obj.contains_key("Parameters") {
        c.push(
            &cx.p("Parameters"),
            "'Parameters' and 'ItemSelector' cannot both be set",
        );
    }
    let item_selector = obj
        .get("ItemSelector")
        .map(|v| compile_payload(v, &cx.p("ItemSelector"), ql, c))
        .or_else(|| {
            if ql == Ql::JsonPath {
                obj.get("Parameters")
                    .map(|v| Template::jsonpath(v, &cx.p("Parameters"), c))
            } else {
                None
            }
        });
    if obj.contains_key("ItemProcessor") && obj.contains_key("Iterator") {
        c.push(
            &cx.p("Iterator"),
            "'Iterator' and 'ItemProcessor' cannot both be set",
        );
    }
    let (proc_key, proc_v) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
        (Some(v), _) => ("ItemProcessor", v),
        (None, Some(v)) => ("Iterator", v),
        (None, None) => {
            c.push(&cx.base, "missing required field 'ItemProcessor'");
            return None;
        }
    };
    let pp = cx.p(proc_key);
    let Some(po) = proc_v.as_object() else {
        c.push(&pp, "must be an object");
        return None;
    };
    let mut distributed = false;
    if let Some(pc) = po.get("ProcessorConfig") {
        let pcp = ptr(&pp, "ProcessorConfig");
        match pc.as_object() {
            Some(m) => {
                for (k, v) in m {
                    match (k.as_str(), v.as_str()) {
                        ("Mode", Some("INLINE")) => {}
                        ("Mode", Some("DISTRIBUTED")) => distributed = true,
                        ("ExecutionType", Some("STANDARD" | "EXPRESS")) => {}
                        ("Mode", _) => {
                            c.push(&ptr(&pcp, k), "must be \"INLINE\" or \"DISTRIBUTED\"")
                        }
                        ("ExecutionType", _) => {
                            c.push(&ptr(&pcp, k), "must be \"STANDARD\" or \"EXPRESS\"")
                        }
                        _ => c.push(&ptr(&pcp, k), format!("unknown field '{k}'")),
                    }
                }
            }
            None => c.push(&pcp, "must be an object"),
        }
    }
    let pql = query_language(po, &pp, ql, c);
    let mut inner = if distributed {
        Vars::default()
    } else {
        vars.clone()
    };
    let processor = compile_graph(po, &pp, pql, false, &mut inner, c)?;
    let max_concurrency = dyn_uint(
        cx,
        "MaxConcurrency",
        Some("MaxConcurrencyPath"),
        0,
        u64::MAX,
        c,
    );
    let tolerated_count = dyn_num(
        cx,
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        0.0,
        f64::MAX,
        c,
    );
    let tolerated_percentage = dyn_num(
        cx,
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        0.0,
        100.0,
        c,
    );
    if let Some(v) = obj.get("Label")
        && !v.is_string()
    {
        c.push(&cx.p("Label"), "must be a string");
    }
    let item_reader = obj
        .get("ItemReader")
        .and_then(|v| compile_item_reader(v, &cx.p("ItemReader"), ql, c));
    let item_batcher = obj
        .get("ItemBatcher")
        .and_then(|v| compile_item_batcher(v, &cx.p("ItemBatcher"), ql, c));
    let result_writer = obj
        .get("ResultWriter")
        .and_then(|v| compile_result_writer(v, &cx.p("ResultWriter"), ql, c));
    if !distributed {
        for f in ["ItemReader", "ItemBatcher", "ResultWriter"] {
            if obj.contains_key(f) {
                c.push(
                    &cx.p(f),
                    format!("'{f}' needs ProcessorConfig.Mode DISTRIBUTED"),
                );
            }
        }
    }
    Some(MapSpec {
        items_path,
        items,
        item_selector,
        processor: Arc::new(processor),
        distributed,
        max_concurrency,
        tolerated_count,
        tolerated_percentage,
        item_reader,
        item_batcher,
        result_writer,
        label: obj.get("Label").and_then(Value::as_str).map(str::to_string),
    })
}

fn sub_uint(
    o: &Map<String, Value>,
    field: &str,
    path_name: &str,
    base: &str,
    ql: Ql,
    c: &mut Collector,
) -> Option<Dyn<u64>> {
    let cx = Ctx {
        base: base.to_string(),
        obj: o,
        ql,
    };
    dyn_uint(&cx, field, Some(path_name), 0, u64::MAX, c)
}

fn compile_item_reader(v: &Value, pointer: &str, ql: Ql, c: &mut Collector) -> Option<ItemReader> {
    let Some(o) = v.as_object() else {
        c.push(pointer, "must be an object");
        return None;
    };
    for k in o.keys() {
        if !["Resource", "Parameters", "Arguments", "ReaderConfig"].contains(&k.as_str()) {
            c.push(&ptr(pointer, k), format!("unknown field '{k}'"));
        }
    }
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
    let pkey = if ql == Ql::Jsonata {
        "Arguments"
    } else {
        "Parameters"
    };
    let parameters = o
        .get(pkey)
        .map(|v| compile_payload(v, &ptr(pointer, pkey), ql, c));
    let mut input_type = String::from("JSON");
    let mut csv_header_location = String::from("FIRST_ROW");
    let mut csv_headers = None;
    let mut csv_delimiter = ',';
    let mut max_items = None;
    let mut items_pointer = None;
    if let Some(rc) = o.get("ReaderConfig") {
        let rp = ptr(pointer, "ReaderConfig");
        match rc.as_object() {
            Some(m) => {
                for (k, v) in m {
                    let kp = ptr(&rp, k);
                    match k.as_str() {
                        "InputType" => match v.as_str() {
                            Some(t @ ("CSV" | "JSON" | "JSONL" | "MANIFEST")) => {
                                input_type = t.to_string()
                            }
                            _ => c.push(&kp, "must be one of CSV, JSON, JSONL, MANIFEST"),
                        },
                        "CSVHeaderLocation" => match v.as_str() {
                            Some(t @ ("FIRST_ROW" | "GIVEN")) => {
                                csv_header_location = t.to_string()
                            }
                            _ => c.push(&kp, "must be FIRST_ROW or GIVEN"),
                        },
                        "CSVHeaders" => match v.as_array() {
                            Some(a) if a.iter().all(Value::is_string) => {
                                csv_headers = Some(
                                    a.iter()
                                        .filter_map(|x| x.as_str().map(str::to_string))
                                        .collect(),
                                )
                            }
                            _ => c.push(&kp, "must be an array of strings"),
                        },
                        "CSVDelimiter" => match v.as_str() {
                            Some("COMMA") => csv_delimiter = ',',
                            Some("PIPE") => csv_delimiter = '|',
                            Some("SEMICOLON") => csv_delimiter = ';',
                            Some("SPACE") => csv_delimiter = ' ',
                            Some("TAB") => csv_delimiter = '\t',
                            _ => c.push(&kp, "must be one of COMMA, PIPE, SEMICOLON, SPACE, TAB"),
                        },
                        "MaxItems" | "MaxItemsPath" => {}
                        "ItemsPointer" => match v.as_str() {
                            Some(s) => items_pointer = Some(s.to_string()),
                            None => c.push(&kp, "must be a JSON pointer string"),
                        },
                        _ => c.push(&kp, format!("unknown field '{k}'")),
                    }
                }
                max_items = sub_uint(m, "MaxItems", "MaxItemsPath", &rp, ql, c);
            }
            None => c.push(&rp, "must be an object"),
        }
    }
    if csv_header_location == "GIVEN" && csv_headers.is_none() {
        c.push(
            &ptr(pointer, "ReaderConfig"),
            "CSVHeaders is required when CSVHeaderLocation is GIVEN",
        );
    }
    Some(ItemReader {
        resource,
        parameters,
        input_type,
        csv_header_location,
        csv_headers,
        csv_delimiter,
        max_items,
        items_pointer,
    })
}

fn compile_item_batcher(
    v: &Value,
    pointer: &str,
    ql: Ql,
    c: &mut Collector,
) -> Option<ItemBatcher> {
    let Some(o) = v.as_object() else {
        c.push(pointer, "must be an object");
        return None;
    };
    for k in o.keys() {
        if ![
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        ]
        .contains(&k.as_str())
        {
            c.push(&ptr(pointer, k), format!("unknown field '{k}'"));
        }
    }
    let max_items = sub_uint(
        o,
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        pointer,
        ql,
        c,
    );
    let max_bytes = sub_uint(
        o,
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
        pointer,
        ql,
        c,
    );
    if max_items.is_none() && max_bytes.is_none() {
        c.push(pointer, "needs MaxItemsPerBatch or MaxInputBytesPerBatch");
    }
    let batch_input = o
        .get("BatchInput")
        .map(|v| compile_payload(v, &ptr(pointer, "BatchInput"), ql, c));
    Some(ItemBatcher {
        max_items,
        max_bytes,
        batch_input,
    })
}

fn compile_result_writer(
    v: &Value,
    pointer: &str,
    ql: Ql,
    c: &mut Collector,
) -> Option<ResultWriter> {
    let Some(o) = v.as_object() else {
        c.push(pointer, "must be an object");
        return None;
    };
    let mut output_type = None;
    let mut transformation = None;
    for (k, val) in o {
        let kp = ptr(pointer, k);
        match k.as_str() {
            "Resource" => {
                if val.as_str() != Some("arn:aws:states:::s3:putObject") {
                    c.push(&kp, "must be arn:aws:states:::s3:putObject");
                }
            }
            "Parameters" | "Arguments" => {}
            "WriterConfig" => match val.as_object() {
                Some(m) => {
                    for (wk, wv) in m {
                        match (wk.as_str(), wv.as_str()) {
                            ("OutputType", Some(t @ ("JSON" | "JSONL"))) => {
                                output_type = Some(t.to_string())
                            }
                            ("Transformation", Some(t @ ("NONE" | "COMPACT" | "FLATTEN"))) => {
                                transformation = Some(t.to_string())
                            }
                            _ => c.push(&ptr(&kp, wk), "invalid WriterConfig field or value"),
                        }
                    }
                }
                None => c.push(&kp, "must be an object"),
            },
            _ => c.push(&kp, format!("unknown field '{k}'")),
        }
    }
    let pkey = if ql == Ql::Jsonata {
        "Arguments"
    } else {
        "Parameters"
    };
    let parameters = o
        .get(pkey)
        .map(|v| compile_payload(v, &ptr(pointer, pkey), ql, c));
    Some(ResultWriter {
        parameters,
        output_type,
        transformation,
    })
}

#[cfg(test)]
mod tests;
