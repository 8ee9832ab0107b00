//! The parsed document: what [`super::parse`] makes of the JSON once every field has the right
//! JSON type. Paths, templates, intrinsics and JSONata expressions are parsed already; literal
//! values whose limits are ASL rules (`TimeoutSeconds`, `MaxConcurrency`, …) stay JSON values
//! for [`super::validate`] to check and [`super::compile`] to convert. Each object keeps its
//! JSON pointer and its fields (`obj`) for the rules about which fields go together.

use serde_json::{Map, Value};

use super::types::{Dyn, DynStr, IoPath, Op, Ql, ResultPath, Rhs, StateType, WriterConfig};
use crate::path::JsonPath;
use crate::template::{Jexpr, Template};

pub(super) type Obj = Map<String, Value>;

/// A value given literally (not yet range-checked), by a `*Path` field or by JSONata.
pub(super) type RawDyn<'a> = Dyn<&'a Value>;

/// The whole definition.
pub(super) struct Doc<'a> {
    pub timeout_seconds: Option<&'a Value>,
    pub graph: GraphDoc<'a>,
}

/// A graph: the state machine, a Parallel branch or a Map processor.
pub(super) struct GraphDoc<'a> {
    pub base: String,
    /// `QueryLanguage: JSONPath` on a branch or processor of a JSONata state.
    pub jsonpath_in_jsonata: bool,
    pub start_at: Option<&'a str>,
    pub states: Vec<Slot<'a>>,
}

/// A named state; `state` is none when it is not an object or its `Type` is unusable.
pub(super) struct Slot<'a> {
    pub name: &'a str,
    pub base: String,
    pub state: Option<StateDoc<'a>>,
}

pub(super) struct StateDoc<'a> {
    pub obj: &'a Obj,
    pub ty: StateType,
    pub ql: Ql,
    /// `QueryLanguage: JSONPath` on a state of a JSONata machine.
    pub jsonpath_in_jsonata: bool,
    /// `Next` when it is a string.
    pub next: Option<&'a str>,
    pub end: bool,
    pub input_path: IoPath,
    pub output_path: IoPath,
    /// A `Path` may still be a non-reference path (a rule of validate).
    pub result_path: ResultPath,
    /// Parameters (JSONPath, not on Map) or Arguments (JSONata).
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub output: Option<Template>,
    pub assign: Option<Template>,
    pub retry: Vec<RetrierDoc<'a>>,
    pub catch: Vec<CatcherDoc<'a>>,
    pub body: Body<'a>,
}

pub(super) enum Body<'a> {
    Pass,
    Succeed,
    Fail {
        error: Option<DynStr>,
        cause: Option<DynStr>,
    },
    Task(TaskDoc<'a>),
    Choice(ChoiceDoc<'a>),
    /// None when no duration field parsed.
    Wait(Option<WaitDoc<'a>>),
    Parallel(Vec<GraphDoc<'a>>),
    Map(Box<MapDoc<'a>>),
}

pub(super) struct TaskDoc<'a> {
    pub resource: &'a str,
    pub timeout: Option<RawDyn<'a>>,
    pub heartbeat: Option<RawDyn<'a>>,
}

pub(super) enum WaitDoc<'a> {
    Seconds(RawDyn<'a>),
    Timestamp(Dyn<String>),
}

pub(super) struct RetrierDoc<'a> {
    pub base: String,
    pub obj: &'a Obj,
    pub errors: Vec<String>,
    pub last: bool,
}

pub(super) struct CatcherDoc<'a> {
    pub base: String,
    pub obj: &'a Obj,
    pub errors: Vec<String>,
    pub last: bool,
    /// `Next` when it is a string.
    pub next: Option<&'a str>,
    pub result_path: ResultPath,
    pub output: Option<Template>,
    pub assign: Option<Template>,
}

pub(super) struct ChoiceDoc<'a> {
    pub rules: Vec<RuleDoc<'a>>,
    pub default: Option<&'a str>,
}

/// A top-level choice rule.
pub(super) struct RuleDoc<'a> {
    /// `Next` when it is a string.
    pub next: Option<&'a str>,
    pub cond: CondDoc<'a>,
    pub assign: Option<Template>,
    pub output: Option<Template>,
}

/// A condition (a top-level rule or one nested in And / Or / Not).
pub(super) struct CondDoc<'a> {
    pub base: String,
    pub obj: &'a Obj,
    pub kind: CondKind<'a>,
}

pub(super) enum CondKind<'a> {
    /// Not exactly one comparison operator or one of And, Or, Not (a rule of validate).
    Unclear,
    /// Its shape is wrong (already reported).
    Broken,
    And(Vec<CondDoc<'a>>),
    Or(Vec<CondDoc<'a>>),
    Not(Box<CondDoc<'a>>),
    Cmp {
        var: Option<JsonPath>,
        op: Op,
        rhs: Option<Rhs>,
    },
    Jsonata(Jexpr),
    Const(bool),
}

impl CondDoc<'_> {
    /// Whether it makes a condition (a rule whose condition does not is dropped, and its
    /// `Next` is no transition).
    pub fn complete(&self) -> bool {
        match &self.kind {
            CondKind::Unclear | CondKind::Broken => false,
            CondKind::Not(x) => x.complete(),
            CondKind::Cmp { var, rhs, .. } => var.is_some() && rhs.is_some(),
            CondKind::And(_) | CondKind::Or(_) | CondKind::Jsonata(_) | CondKind::Const(_) => true,
        }
    }
}

pub(super) struct MapDoc<'a> {
    pub items_path: Option<JsonPath>,
    pub items: Option<Template>,
    pub item_selector: Option<Template>,
    /// None when the processor is missing or unusable; the rest of the Map is then unparsed.
    pub processor: Option<ProcessorDoc<'a>>,
}

pub(super) struct ProcessorDoc<'a> {
    pub distributed: bool,
    pub graph: GraphDoc<'a>,
    pub max_concurrency: Option<RawDyn<'a>>,
    pub tolerated_count: Option<RawDyn<'a>>,
    pub tolerated_percentage: Option<RawDyn<'a>>,
    pub label: Option<&'a str>,
    pub item_reader: Option<ReaderDoc<'a>>,
    pub item_batcher: Option<BatcherDoc<'a>>,
    pub result_writer: Option<WriterDoc>,
}

pub(super) struct ReaderDoc<'a> {
    pub base: String,
    pub resource: String,
    pub parameters: Option<Template>,
    pub input_type: String,
    pub csv_header_location: String,
    pub csv_headers: Option<Vec<String>>,
    pub csv_delimiter: char,
    /// `ReaderConfig` when it is an object, with its pointer.
    pub config: Option<(String, &'a Obj)>,
    pub max_items: Option<RawDyn<'a>>,
    pub items_pointer: Option<String>,
}

pub(super) struct BatcherDoc<'a> {
    pub base: String,
    pub obj: &'a Obj,
    pub max_items: Option<RawDyn<'a>>,
    pub max_bytes: Option<RawDyn<'a>>,
    pub batch_input: Option<Template>,
}

pub(super) struct WriterDoc {
    pub parameters: Option<Template>,
    pub config: Option<WriterConfig>,
}
