//! Stage 1 of 3: the JSON document to a [`Doc`], checking only the shape — JSON types, required
//! fields, known field names and enumerated values — and parsing paths, templates, intrinsics
//! and JSONata expressions. Every problem is collected with its JSON pointer; the ASL rules
//! (transitions, field combinations, limits) are [`super::validate`]'s.

mod choice;
mod fields;
mod items;

use serde_json::Value;

use self::choice::choice;
use self::fields::{
    Ctx, assign, dyn_raw, dyn_str, expression, io_path, output, path_field, payload, result_path,
    string_list, transition, unknown_fields,
};
use self::items::{item_batcher, item_reader, result_writer};
use super::ast::*;
use super::literal::parse_timestamp;
use super::types::{Dyn, Ql, StateType};
use crate::error::{Collector, ptr};
use crate::template::{Template, compile_jsonata, jsonata_body};

const TOP_FIELDS: &[&str] = &[
    "StartAt",
    "States",
    "Comment",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];
const GRAPH_FIELDS: &[&str] = &[
    "StartAt",
    "States",
    "Comment",
    "ProcessorConfig",
    "QueryLanguage",
];
const RETRIER_FIELDS: &[&str] = &[
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
];

/// Parses a whole definition; none when its graph cannot be made out.
pub(super) fn parse<'a>(def: &'a Value, c: &mut Collector) -> Option<Doc<'a>> {
    let Some(obj) = def.as_object() else {
        c.push("", "the definition must be a JSON object");
        return None;
    };
    unknown_fields(obj, "", TOP_FIELDS, c);
    for field in ["Version", "Comment"] {
        if obj.get(field).is_some_and(|v| !v.is_string()) {
            c.push(&ptr("", field), "must be a string");
        }
    }
    let (ql, _) = query_language(obj, "", Ql::JsonPath, c);
    let graph = graph(obj, "", ql, false, c)?;
    Some(Doc {
        timeout_seconds: obj.get("TimeoutSeconds"),
        graph,
    })
}

/// The query language of `obj`, and whether it is JSONPath inside JSONata (a rule of validate).
fn query_language(obj: &Obj, base: &str, inherited: Ql, c: &mut Collector) -> (Ql, bool) {
    match obj.get("QueryLanguage") {
        None => (inherited, false),
        Some(Value::String(s)) if s == "JSONPath" => {
            (Ql::JsonPath, inherited == Ql::Jsonata && !base.is_empty())
        }
        Some(Value::String(s)) if s == "JSONata" => (Ql::Jsonata, false),
        Some(_) => {
            c.push(
                &ptr(base, "QueryLanguage"),
                "must be \"JSONPath\" or \"JSONata\"",
            );
            (inherited, false)
        }
    }
}

/// A graph object at `base` (a branch or processor when `base` is not empty).
fn graph<'a>(
    obj: &'a Obj,
    base: &str,
    ql: Ql,
    jsonpath_in_jsonata: bool,
    c: &mut Collector,
) -> Option<GraphDoc<'a>> {
    if !base.is_empty() {
        unknown_fields(obj, base, GRAPH_FIELDS, c);
    }
    let start_at = match obj.get("StartAt") {
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
    let states = states
        .iter()
        .map(|(name, def)| {
            let base = ptr(&states_ptr, name);
            let state = state(def, &base, ql, c);
            Slot { name, base, state }
        })
        .collect();
    Some(GraphDoc {
        base: base.to_string(),
        jsonpath_in_jsonata,
        start_at,
        states,
    })
}

/// A state at `base`; none when it is not an object or its `Type` is unusable.
fn state<'a>(def: &'a Value, base: &str, inherited: Ql, c: &mut Collector) -> Option<StateDoc<'a>> {
    let Some(obj) = def.as_object() else {
        c.push(base, "a state must be an object");
        return None;
    };
    let ty = state_type(obj, base, c)?;
    let (ql, jsonpath_in_jsonata) = query_language(obj, base, inherited, c);
    let cx = Ctx {
        base: base.to_string(),
        obj,
        ql,
    };
    Some(StateDoc {
        obj,
        ty,
        ql,
        jsonpath_in_jsonata,
        next: transition(cx.get("Next"), &cx.p("Next"), c),
        end: end(&cx, c),
        input_path: io_path(cx.get("InputPath"), &cx.p("InputPath"), c),
        output_path: io_path(cx.get("OutputPath"), &cx.p("OutputPath"), c),
        result_path: result_path(cx.get("ResultPath"), &cx.p("ResultPath"), c),
        parameters: parameters(&cx, ty, c),
        result_selector: result_selector(&cx, c),
        output: output(&cx, c),
        assign: assign(cx.get("Assign"), &cx.p("Assign"), ql, c),
        retry: retry(&cx, c),
        catch: catch(&cx, c),
        body: body(&cx, ty, c)?,
    })
}

fn state_type(obj: &Obj, base: &str, c: &mut Collector) -> Option<StateType> {
    let ty = match obj.get("Type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => {
            c.push(&ptr(base, "Type"), "must be a string");
            return None;
        }
        None => {
            c.push(base, "missing required field 'Type'");
            return None;
        }
    };
    Some(match ty {
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
    })
}

fn end(cx: &Ctx<'_>, c: &mut Collector) -> bool {
    match cx.get("End") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            c.push(&cx.p("End"), "must be a boolean");
            false
        }
    }
}

/// `Parameters` (JSONPath, an object; on a Map it is the legacy ItemSelector, parsed there) or
/// `Arguments` (JSONata, an object or an expression).
fn parameters(cx: &Ctx<'_>, ty: StateType, c: &mut Collector) -> Option<Template> {
    match cx.ql {
        Ql::JsonPath if ty == StateType::Map => None,
        Ql::JsonPath => cx.get("Parameters").map(|v| {
            if !v.is_object() {
                c.push(&cx.p("Parameters"), "must be an object");
            }
            Template::jsonpath(v, &cx.p("Parameters"), c)
        }),
        Ql::Jsonata => cx.get("Arguments").map(|v| {
            if !(v.is_object() || v.as_str().and_then(jsonata_body).is_some()) {
                c.push(
                    &cx.p("Arguments"),
                    "must be an object or a JSONata expression",
                );
            }
            Template::jsonata(v, &cx.p("Arguments"), c)
        }),
    }
}

/// `ResultSelector`, an object of JSONPath templates.
fn result_selector(cx: &Ctx<'_>, c: &mut Collector) -> Option<Template> {
    let v = cx.get("ResultSelector")?;
    if !v.is_object() {
        c.push(&cx.p("ResultSelector"), "must be an object");
    }
    Some(Template::jsonpath(v, &cx.p("ResultSelector"), c))
}

/// Calls `f` on each object of a `Retry` or `Catch` field with its pointer and whether it is
/// the last item (`what` is "retrier" or "catcher"); a value that is not an array, and items
/// that are not objects, are reported.
fn each_object<'a, T>(
    v: &'a Value,
    pointer: &str,
    what: &str,
    c: &mut Collector,
    mut f: impl FnMut(String, &'a Obj, bool, &mut Collector) -> T,
) -> Vec<T> {
    let Value::Array(a) = v else {
        c.push(pointer, format!("must be an array of {what}s"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, r) in a.iter().enumerate() {
        let rp = ptr(pointer, &i.to_string());
        match r.as_object() {
            Some(o) => out.push(f(rp, o, i + 1 == a.len(), c)),
            None => c.push(&rp, format!("a {what} must be an object")),
        }
    }
    out
}

fn retry<'a>(cx: &Ctx<'a>, c: &mut Collector) -> Vec<RetrierDoc<'a>> {
    let Some(v) = cx.get("Retry") else {
        return Vec::new();
    };
    each_object(v, &cx.p("Retry"), "retrier", c, |base, obj, last, c| {
        for k in obj.keys() {
            if !RETRIER_FIELDS.contains(&k.as_str()) {
                c.push(&ptr(&base, k), format!("unknown field '{k}' in a retrier"));
            }
        }
        if obj.get("BackoffRate").is_some_and(|v| !v.is_number()) {
            c.push(&ptr(&base, "BackoffRate"), "must be a number >= 1.0");
        }
        match obj.get("JitterStrategy") {
            None => {}
            Some(Value::String(s)) if s == "FULL" || s == "NONE" => {}
            Some(_) => c.push(
                &ptr(&base, "JitterStrategy"),
                "must be \"FULL\" or \"NONE\"",
            ),
        }
        let errors = string_list(obj.get("ErrorEquals"), &ptr(&base, "ErrorEquals"), c);
        RetrierDoc {
            base,
            obj,
            errors,
            last,
        }
    })
}

fn catch<'a>(cx: &Ctx<'a>, c: &mut Collector) -> Vec<CatcherDoc<'a>> {
    let Some(v) = cx.get("Catch") else {
        return Vec::new();
    };
    let ql = cx.ql;
    each_object(v, &cx.p("Catch"), "catcher", c, |base, o, last, c| {
        let errors = string_list(o.get("ErrorEquals"), &ptr(&base, "ErrorEquals"), c);
        let next = match o.get("Next") {
            None => {
                c.push(&base, "missing required field 'Next'");
                None
            }
            v => transition(v, &ptr(&base, "Next"), c),
        };
        let cx = Ctx { base, obj: o, ql };
        CatcherDoc {
            obj: o,
            errors,
            last,
            next,
            result_path: result_path(o.get("ResultPath"), &cx.p("ResultPath"), c),
            output: output(&cx, c),
            assign: assign(o.get("Assign"), &cx.p("Assign"), ql, c),
            base: cx.base,
        }
    })
}

/// The fields of one state type.
fn body<'a>(cx: &Ctx<'a>, ty: StateType, c: &mut Collector) -> Option<Body<'a>> {
    Some(match ty {
        StateType::Pass => Body::Pass,
        StateType::Succeed => Body::Succeed,
        StateType::Fail => Body::Fail {
            error: dyn_str(cx, "Error", "ErrorPath", c),
            cause: dyn_str(cx, "Cause", "CausePath", c),
        },
        StateType::Task => Body::Task(task(cx, c)),
        StateType::Choice => Body::Choice(choice(cx, c)),
        StateType::Wait => Body::Wait(wait(cx, c)),
        StateType::Parallel => Body::Parallel(branches(cx, c)),
        StateType::Map => Body::Map(Box::new(map(cx, c))),
    })
}

fn task<'a>(cx: &Ctx<'a>, c: &mut Collector) -> TaskDoc<'a> {
    let resource = match cx.get("Resource") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        Some(_) => {
            c.push(&cx.p("Resource"), "must be a non-empty string (an ARN)");
            ""
        }
        None => {
            c.push(&cx.base, "missing required field 'Resource'");
            ""
        }
    };
    let timeout = dyn_raw(cx, "TimeoutSeconds", "TimeoutSecondsPath", c);
    let heartbeat = dyn_raw(cx, "HeartbeatSeconds", "HeartbeatSecondsPath", c);
    // Credentials are checked but have no meaning locally
    if let Some(v) = cx.get("Credentials") {
        if !v.is_object() {
            c.push(&cx.p("Credentials"), "must be an object");
        }
        payload(v, &cx.p("Credentials"), cx.ql, c);
    }
    TaskDoc {
        resource,
        timeout,
        heartbeat,
    }
}

/// The first duration field of a Wait state (how many there are is validate's rule).
fn wait<'a>(cx: &Ctx<'a>, c: &mut Collector) -> Option<WaitDoc<'a>> {
    if let Some(v) = cx.get("Seconds") {
        return match expression(v, cx.ql) {
            Some(s) => {
                compile_jsonata(s, &cx.p("Seconds"), c).map(|e| WaitDoc::Seconds(Dyn::Jsonata(e)))
            }
            None => Some(WaitDoc::Seconds(Dyn::Fixed(v))),
        };
    }
    if let Some(v) = cx.get("SecondsPath") {
        return path_field(v, &cx.p("SecondsPath"), c).map(|p| WaitDoc::Seconds(Dyn::Path(p)));
    }
    if let Some(v) = cx.get("Timestamp") {
        return timestamp(cx, v, c);
    }
    let v = cx.get("TimestampPath")?;
    path_field(v, &cx.p("TimestampPath"), c).map(|p| WaitDoc::Timestamp(Dyn::Path(p)))
}

fn timestamp<'a>(cx: &Ctx<'a>, v: &Value, c: &mut Collector) -> Option<WaitDoc<'a>> {
    let pointer = cx.p("Timestamp");
    match v {
        Value::String(s) if expression(v, cx.ql).is_some() => {
            compile_jsonata(s, &pointer, c).map(|e| WaitDoc::Timestamp(Dyn::Jsonata(e)))
        }
        Value::String(s) => {
            if parse_timestamp(s).is_none() {
                c.push(&pointer, "must be an RFC 3339 timestamp");
            }
            Some(WaitDoc::Timestamp(Dyn::Fixed(s.clone())))
        }
        _ => {
            c.push(&pointer, "must be an RFC 3339 timestamp string");
            None
        }
    }
}

fn branches<'a>(cx: &Ctx<'a>, c: &mut Collector) -> Vec<GraphDoc<'a>> {
    let mut out = Vec::new();
    match cx.get("Branches") {
        Some(Value::Array(a)) if !a.is_empty() => {
            for (i, b) in a.iter().enumerate() {
                let bp = ptr(&cx.p("Branches"), &i.to_string());
                let Some(bo) = b.as_object() else {
                    c.push(&bp, "a branch must be an object");
                    continue;
                };
                let (ql, conflict) = query_language(bo, &bp, cx.ql, c);
                out.extend(graph(bo, &bp, ql, conflict, c));
            }
        }
        Some(_) => c.push(&cx.p("Branches"), "must be a non-empty array"),
        None => c.push(&cx.base, "missing required field 'Branches'"),
    }
    out
}

fn map<'a>(cx: &Ctx<'a>, c: &mut Collector) -> MapDoc<'a> {
    let items_path = cx
        .get("ItemsPath")
        .and_then(|v| path_field(v, &cx.p("ItemsPath"), c));
    let items = cx.get("Items").map(|v| {
        if !(v.is_array() || v.as_str().and_then(jsonata_body).is_some()) {
            c.push(&cx.p("Items"), "must be an array or a JSONata expression");
        }
        Template::jsonata(v, &cx.p("Items"), c)
    });
    MapDoc {
        items_path,
        items,
        item_selector: item_selector(cx, c),
        processor: processor(cx, c),
    }
}

/// `ItemSelector`, or in JSONPath the legacy `Parameters` (parsed even beside an ItemSelector,
/// which validate refuses).
fn item_selector(cx: &Ctx<'_>, c: &mut Collector) -> Option<Template> {
    let legacy = match cx.ql {
        Ql::JsonPath => cx
            .get("Parameters")
            .map(|v| Template::jsonpath(v, &cx.p("Parameters"), c)),
        Ql::Jsonata => None,
    };
    let selector = cx
        .get("ItemSelector")
        .map(|v| payload(v, &cx.p("ItemSelector"), cx.ql, c));
    selector.or(legacy)
}

/// `ItemProcessor` (or the legacy `Iterator`) and the fields that go with it.
fn processor<'a>(cx: &Ctx<'a>, c: &mut Collector) -> Option<ProcessorDoc<'a>> {
    let (key, v) = match (cx.get("ItemProcessor"), cx.get("Iterator")) {
        (Some(v), _) => ("ItemProcessor", v),
        (None, Some(v)) => ("Iterator", v),
        (None, None) => {
            c.push(&cx.base, "missing required field 'ItemProcessor'");
            return None;
        }
    };
    let pp = cx.p(key);
    let Some(po) = v.as_object() else {
        c.push(&pp, "must be an object");
        return None;
    };
    let distributed = processor_config(po, &pp, c);
    let (ql, conflict) = query_language(po, &pp, cx.ql, c);
    let graph = graph(po, &pp, ql, conflict, c)?;
    Some(ProcessorDoc {
        distributed,
        graph,
        max_concurrency: dyn_raw(cx, "MaxConcurrency", "MaxConcurrencyPath", c),
        tolerated_count: dyn_raw(cx, "ToleratedFailureCount", "ToleratedFailureCountPath", c),
        tolerated_percentage: dyn_raw(
            cx,
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            c,
        ),
        label: label(cx, c),
        item_reader: cx
            .get("ItemReader")
            .and_then(|v| item_reader(v, &cx.p("ItemReader"), cx.ql, c)),
        item_batcher: cx
            .get("ItemBatcher")
            .and_then(|v| item_batcher(v, &cx.p("ItemBatcher"), cx.ql, c)),
        result_writer: cx
            .get("ResultWriter")
            .and_then(|v| result_writer(v, &cx.p("ResultWriter"), cx.ql, c)),
    })
}

/// `ProcessorConfig`: whether the Map is distributed.
fn processor_config(po: &Obj, pp: &str, c: &mut Collector) -> bool {
    let Some(pc) = po.get("ProcessorConfig") else {
        return false;
    };
    let pcp = ptr(pp, "ProcessorConfig");
    let Some(m) = pc.as_object() else {
        c.push(&pcp, "must be an object");
        return false;
    };
    let mut distributed = false;
    for (k, v) in m {
        match (k.as_str(), v.as_str()) {
            ("Mode", Some("INLINE")) => {}
            ("Mode", Some("DISTRIBUTED")) => distributed = true,
            ("ExecutionType", Some("STANDARD" | "EXPRESS")) => {}
            ("Mode", _) => c.push(&ptr(&pcp, k), "must be \"INLINE\" or \"DISTRIBUTED\""),
            ("ExecutionType", _) => c.push(&ptr(&pcp, k), "must be \"STANDARD\" or \"EXPRESS\""),
            _ => c.push(&ptr(&pcp, k), format!("unknown field '{k}'")),
        }
    }
    distributed
}

/// A Map's `Label`, part of its Map Run's ARN: 1 to 40 characters, none of them whitespace,
/// brackets, wildcards, the special characters AWS refuses or a control character (the
/// characters AWS refused when CreateStateMachine was tried with each).
fn label<'a>(cx: &Ctx<'a>, c: &mut Collector) -> Option<&'a str> {
    let v = cx.get("Label")?;
    let Some(text) = v.as_str() else {
        c.push(&cx.p("Label"), "must be a string");
        return None;
    };
    if let Some(problem) = label_problem(text) {
        c.push(&cx.p("Label"), problem);
    }
    Some(text)
}

const LABEL_REFUSED: &str = " ?*<>{}[]:;,\\|^~$#%&`\"";

fn label_problem(text: &str) -> Option<String> {
    if text.is_empty() {
        return Some("cannot be empty".to_string());
    }
    if text.chars().count() > 40 {
        return Some("cannot exceed 40 characters".to_string());
    }
    let refused = |ch: &char| {
        LABEL_REFUSED.contains(*ch)
            || ('\u{0}'..='\u{1f}').contains(ch)
            || ('\u{7f}'..='\u{9f}').contains(ch)
    };
    text.chars()
        .find(refused)
        .map(|ch| format!("cannot contain the character '{}'", ch.escape_debug()))
}
