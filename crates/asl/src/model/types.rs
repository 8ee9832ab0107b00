//! The model the engine runs: graphs of states with their paths, templates, transitions (as
//! indexes), retriers, catchers and the fields of each state type.

use std::sync::Arc;

use serde_json::Value;

use crate::intrinsic::Intrinsic;
use crate::path::JsonPath;
use crate::template::{Jexpr, Template};

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
    /// The state's output is always its input, unchanged: a Pass, Choice, Wait or Succeed
    /// state with no field that reshapes it (JSONPath: InputPath and OutputPath `$`, a Pass
    /// without Parameters or Result and with ResultPath `$` or `null`; JSONata: no Output). The
    /// run loop skips the payload check of such an output when its input was checked.
    pub passes_input: bool,
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
    /// The Task gets a task token (`$$.Task.Token`): AWS gives one to every integration
    /// pattern but request-response, `.waitForTaskToken` and `.sync`/`.sync:2` (recorded).
    pub task_token: bool,
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

/// The comparison operators of a JSONPath choice rule, by field name.
pub(super) const OPS: &[(&str, Op)] = &[
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

/// A Distributed Map's `ResultWriter`. Validation makes `parameters` present exactly when
/// `Resource` is: without them the writer only previews (`WriterConfig` alone).
#[derive(Debug)]
pub(crate) struct ResultWriter {
    pub parameters: Option<Template>,
    pub config: Option<WriterConfig>,
}

/// `ResultWriter.WriterConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriterConfig {
    pub transformation: Transformation,
    pub output_type: OutputType,
}

/// `WriterConfig.Transformation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transformation {
    /// The child executions' outputs with their metadata.
    None,
    /// The child executions' outputs.
    Compact,
    /// The outputs, each array output spliced into the result.
    Flatten,
}

impl Transformation {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "NONE" => Some(Self::None),
            "COMPACT" => Some(Self::Compact),
            "FLATTEN" => Some(Self::Flatten),
            _ => None,
        }
    }
}

/// `WriterConfig.OutputType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputType {
    /// A JSON array.
    Json,
    /// JSON Lines.
    Jsonl,
}

impl OutputType {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "JSON" => Some(Self::Json),
            "JSONL" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// The validated definition.
#[derive(Debug)]
pub(crate) struct Model {
    pub graph: Arc<Graph>,
    pub timeout_seconds: Option<u64>,
}
