//! Stage 1 of 3: the JSON document to a [`Doc`], checking only the shape — JSON types, required
//! fields, known field names and enumerated values — and parsing paths, templates, intrinsics
//! and JSONata expressions. Every problem is collected with its JSON pointer; the ASL rules
//! (transitions, field combinations, limits) are [`super::validate`]'s.

use serde_json::Value;

use super::ast::*;
use super::literal::parse_timestamp;
use super::types::{Dyn, DynStr, IoPath, OPS, Op, Ql, ResultPath, Rhs, StateType};
use crate::error::{Collector, ptr};
use crate::intrinsic::{Intrinsic, looks_like_intrinsic};
use crate::path::JsonPath;
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
const BATCHER_FIELDS: &[&str] = &[
    "MaxItemsPerBatch",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath",
    "BatchInput",
];

/// An object being parsed: its pointer, its fields and its query language.
struct Ctx<'a> {
    base: String,
    obj: &'a Obj,
    ql: Ql,
}

impl<'a> Ctx<'a> {
    fn p(&self, k: &str) -> String {
        ptr(&self.base, k)
    }
    fn get(&self, k: &str) -> Option<&'a Value> {
        self.obj.get(k)
    }
}

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

fn unknown_fields(obj: &Obj, base: &str, known: &[&str], c: &mut Collector) {
    for k in obj.keys() {
        if !known.contains(&k.as_str()) {
            c.push(&ptr(base, k), format!("unknown field '{k}'"));
        }
    }
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

/// A `Next` / `Default` field: the state name it gives.
fn transition<'a>(v: Option<&'a Value>, pointer: &str, c: &mut Collector) -> Option<&'a str> {
    match v {
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            c.push(pointer, "must be a string naming a state");
            None
        }
        None => None,
    }
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

/// A `ResultPath`; whether a path is a reference path is a rule of validate.
fn result_path(v: Option<&Value>, pointer: &str, c: &mut Collector) -> ResultPath {
    match v {
        None => ResultPath::Replace,
        Some(Value::Null) => ResultPath::Discard,
        Some(Value::String(s)) => match JsonPath::parse(s) {
            Ok(p) if p.is_root_only() => ResultPath::Replace,
            Ok(p) => ResultPath::Path(p),
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

/// A payload template in the query language `ql`.
fn payload(v: &Value, pointer: &str, ql: Ql, c: &mut Collector) -> Template {
    match ql {
        Ql::JsonPath => Template::jsonpath(v, pointer, c),
        Ql::Jsonata => Template::jsonata(v, pointer, c),
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

/// `Output`, a JSONata field (ignored in JSONPath, where validate reports it).
fn output(cx: &Ctx<'_>, c: &mut Collector) -> Option<Template> {
    match cx.ql {
        Ql::Jsonata => cx
            .get("Output")
            .map(|v| Template::jsonata(v, &cx.p("Output"), c)),
        Ql::JsonPath => None,
    }
}

/// `Assign`: an object (its variable names are validate's).
fn assign(v: Option<&Value>, pointer: &str, ql: Ql, c: &mut Collector) -> Option<Template> {
    let v = v?;
    if !v.is_object() {
        c.push(pointer, "must be an object of variable names to values");
        return None;
    }
    Some(payload(v, pointer, ql, c))
}

/// A JSONata expression string in a JSONata state.
fn expression(v: &Value, ql: Ql) -> Option<&str> {
    match v {
        Value::String(s) if ql == Ql::Jsonata && jsonata_body(s).is_some() => Some(s),
        _ => None,
    }
}

/// A field given literally (its limits are validate's), as a JSONata expression, or (when the
/// literal is absent) by its `*Path` twin.
fn dyn_raw<'a>(
    cx: &Ctx<'a>,
    field: &str,
    path_name: &str,
    c: &mut Collector,
) -> Option<RawDyn<'a>> {
    if let Some(v) = cx.get(field) {
        return match expression(v, cx.ql) {
            Some(s) => compile_jsonata(s, &cx.p(field), c).map(Dyn::Jsonata),
            None => Some(Dyn::Fixed(v)),
        };
    }
    let v = cx.get(path_name)?;
    path_field(v, &cx.p(path_name), c).map(Dyn::Path)
}

/// A string field of a Fail state: literal, JSONata, or by its `*Path` twin (a path or an
/// intrinsic function).
fn dyn_str(cx: &Ctx<'_>, field: &str, path_name: &str, c: &mut Collector) -> Option<DynStr> {
    if let Some(v) = cx.get(field) {
        return match v {
            Value::String(s) if expression(v, cx.ql).is_some() => {
                compile_jsonata(s, &cx.p(field), c).map(DynStr::Jsonata)
            }
            Value::String(s) => Some(DynStr::Fixed(s.clone())),
            _ => {
                c.push(&cx.p(field), "must be a string");
                None
            }
        };
    }
    let p = cx.p(path_name);
    match cx.get(path_name)? {
        Value::String(s) if looks_like_intrinsic(s) => match Intrinsic::parse(s) {
            Ok(i) => Some(DynStr::Intrinsic(Box::new(i))),
            Err(e) => {
                c.push(&p, format!("invalid intrinsic function: {e}"));
                None
            }
        },
        other => path_field(other, &p, c).map(DynStr::Path),
    }
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

fn choice<'a>(cx: &Ctx<'a>, c: &mut Collector) -> ChoiceDoc<'a> {
    let mut rules = Vec::new();
    match cx.get("Choices") {
        Some(Value::Array(a)) if !a.is_empty() => {
            for (i, r) in a.iter().enumerate() {
                let rp = ptr(&cx.p("Choices"), &i.to_string());
                match r.as_object() {
                    Some(o) => rules.push(rule(o, rp, cx.ql, c)),
                    None => c.push(&rp, "a choice rule must be an object"),
                }
            }
        }
        Some(_) => c.push(&cx.p("Choices"), "must be a non-empty array"),
        None => c.push(&cx.base, "missing required field 'Choices'"),
    }
    ChoiceDoc {
        rules,
        default: transition(cx.get("Default"), &cx.p("Default"), c),
    }
}

fn rule<'a>(o: &'a Obj, base: String, ql: Ql, c: &mut Collector) -> RuleDoc<'a> {
    let next = match o.get("Next") {
        None => {
            c.push(&base, "missing required field 'Next'");
            None
        }
        v => transition(v, &ptr(&base, "Next"), c),
    };
    let kind = match ql {
        Ql::Jsonata => condition(o, &base, c),
        Ql::JsonPath => cond_kind(o, &base, true, c),
    };
    let cx = Ctx { base, obj: o, ql };
    RuleDoc {
        next,
        assign: assign(o.get("Assign"), &cx.p("Assign"), ql, c),
        output: output(&cx, c),
        cond: CondDoc {
            base: cx.base,
            obj: o,
            kind,
        },
    }
}

/// The `Condition` of a JSONata choice rule.
fn condition<'a>(o: &'a Obj, base: &str, c: &mut Collector) -> CondKind<'a> {
    match o.get("Condition") {
        Some(Value::String(s)) if jsonata_body(s).is_some() => {
            match compile_jsonata(s, &ptr(base, "Condition"), c) {
                Some(e) => CondKind::Jsonata(e),
                None => CondKind::Broken,
            }
        }
        Some(Value::Bool(b)) => CondKind::Const(*b),
        Some(_) => {
            c.push(
                &ptr(base, "Condition"),
                "must be a JSONata expression '{% ... %}' or a boolean",
            );
            CondKind::Broken
        }
        None => {
            c.push(base, "missing required field 'Condition'");
            CondKind::Broken
        }
    }
}

/// The comparison operators of a JSONPath rule (`(field, op, is a *Path)`); unknown fields are
/// reported.
fn comparisons<'o>(
    o: &'o Obj,
    base: &str,
    top: bool,
    c: &mut Collector,
) -> Vec<(&'o str, Op, bool)> {
    let mut ops = Vec::new();
    for k in o.keys() {
        if let Some((_, op)) = OPS.iter().find(|(n, _)| n == k) {
            ops.push((k.as_str(), *op, false));
        } else if let Some(name) = k.strip_suffix("Path")
            && let Some((_, op)) = OPS.iter().find(|(n, _)| *n == name)
            && !name.starts_with("Is")
        {
            ops.push((k.as_str(), *op, true));
        } else if !(["Variable", "And", "Or", "Not", "Comment"].contains(&k.as_str())
            || (top && (k == "Next" || k == "Assign"))
            || matches!(k.as_str(), "Output" | "Condition"))
        {
            c.push(
                &ptr(base, k),
                format!("unknown field '{k}' in a choice rule"),
            );
        }
    }
    ops
}

/// A JSONPath condition: a comparison, or And / Or / Not of nested conditions.
fn cond_kind<'a>(o: &'a Obj, base: &str, top: bool, c: &mut Collector) -> CondKind<'a> {
    let ops = comparisons(o, base, top, c);
    let combos = ["And", "Or", "Not"]
        .iter()
        .filter(|k| o.contains_key(**k))
        .count();
    if combos + ops.len() != 1 {
        return CondKind::Unclear;
    }
    if let Some(key) = ["And", "Or"].into_iter().find(|k| o.contains_key(*k)) {
        return match combination(o, base, key, c) {
            Some(subs) if key == "And" => CondKind::And(subs),
            Some(subs) => CondKind::Or(subs),
            None => CondKind::Broken,
        };
    }
    if let Some(v) = o.get("Not") {
        let Some(ro) = v.as_object() else {
            c.push(&ptr(base, "Not"), "must be a rule object");
            return CondKind::Broken;
        };
        return CondKind::Not(Box::new(nested(ro, ptr(base, "Not"), c)));
    }
    match ops.first() {
        Some(&(key, op, is_path)) => comparison(o, base, key, op, is_path, c),
        None => CondKind::Broken,
    }
}

fn nested<'a>(o: &'a Obj, base: String, c: &mut Collector) -> CondDoc<'a> {
    let kind = cond_kind(o, &base, false, c);
    CondDoc { base, obj: o, kind }
}

/// The rules of an `And` or `Or`; none when it is not an array.
fn combination<'a>(
    o: &'a Obj,
    base: &str,
    key: &str,
    c: &mut Collector,
) -> Option<Vec<CondDoc<'a>>> {
    let kp = ptr(base, key);
    let a = match o.get(key) {
        Some(Value::Array(a)) => a,
        _ => {
            c.push(&kp, "must be a non-empty array of rules");
            return None;
        }
    };
    if a.is_empty() {
        c.push(&kp, "must be a non-empty array of rules");
    }
    let mut subs = Vec::new();
    for (i, r) in a.iter().enumerate() {
        let p = ptr(&kp, &i.to_string());
        match r.as_object() {
            Some(ro) => subs.push(nested(ro, p, c)),
            None => c.push(&p, "a rule must be an object"),
        }
    }
    Some(subs)
}

/// `Variable` compared by `op` with the value (or, `is_path`, the path) of field `key`.
fn comparison<'a>(
    o: &'a Obj,
    base: &str,
    key: &str,
    op: Op,
    is_path: bool,
    c: &mut Collector,
) -> CondKind<'a> {
    let var = match o.get("Variable") {
        Some(v) => path_field(v, &ptr(base, "Variable"), c),
        None => {
            c.push(base, "missing required field 'Variable'");
            None
        }
    };
    let kp = ptr(base, key);
    let value = o.get(key).cloned().unwrap_or(Value::Null);
    let rhs = if is_path {
        path_field(&value, &kp, c).map(Rhs::Path)
    } else {
        if let Some(want) = operand_mismatch(op, &value) {
            c.push(&kp, format!("must be {want}"));
        }
        Some(Rhs::Value(value))
    };
    CondKind::Cmp { var, op, rhs }
}

/// What the operand of `op` must be, when `value` is not that.
fn operand_mismatch(op: Op, value: &Value) -> Option<&'static str> {
    let (ok, want) = match op {
        Op::StringEquals
        | Op::StringLessThan
        | Op::StringGreaterThan
        | Op::StringLessThanEquals
        | Op::StringGreaterThanEquals
        | Op::StringMatches => (value.is_string(), "a string"),
        Op::NumericEquals
        | Op::NumericLessThan
        | Op::NumericGreaterThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThanEquals => (value.is_number(), "a number"),
        Op::TimestampEquals
        | Op::TimestampLessThan
        | Op::TimestampGreaterThan
        | Op::TimestampLessThanEquals
        | Op::TimestampGreaterThanEquals => (
            value.as_str().and_then(parse_timestamp).is_some(),
            "an RFC 3339 timestamp string",
        ),
        Op::BooleanEquals
        | Op::IsNull
        | Op::IsPresent
        | Op::IsNumeric
        | Op::IsString
        | Op::IsBoolean
        | Op::IsTimestamp => (value.is_boolean(), "a boolean"),
    };
    (!ok).then_some(want)
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

fn label<'a>(cx: &Ctx<'a>, c: &mut Collector) -> Option<&'a str> {
    let v = cx.get("Label")?;
    if !v.is_string() {
        c.push(&cx.p("Label"), "must be a string");
    }
    v.as_str()
}

/// `Parameters` (JSONPath) or `Arguments` (JSONata) of an ItemReader or ResultWriter.
fn s3_parameters(o: &Obj, pointer: &str, ql: Ql, c: &mut Collector) -> Option<Template> {
    let key = match ql {
        Ql::Jsonata => "Arguments",
        Ql::JsonPath => "Parameters",
    };
    o.get(key).map(|v| payload(v, &ptr(pointer, key), ql, c))
}

fn item_reader<'a>(
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

fn item_batcher<'a>(
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

fn result_writer(v: &Value, pointer: &str, ql: Ql, c: &mut Collector) -> Option<WriterDoc> {
    let Some(o) = v.as_object() else {
        c.push(pointer, "must be an object");
        return None;
    };
    let mut writer = WriterDoc {
        parameters: None,
        output_type: None,
        transformation: None,
    };
    for (k, val) in o {
        let kp = ptr(pointer, k);
        match k.as_str() {
            "Resource" => {
                if val.as_str() != Some("arn:aws:states:::s3:putObject") {
                    c.push(&kp, "must be arn:aws:states:::s3:putObject");
                }
            }
            "Parameters" | "Arguments" => {}
            "WriterConfig" => writer_config(val, &kp, &mut writer, c),
            _ => c.push(&kp, format!("unknown field '{k}'")),
        }
    }
    writer.parameters = s3_parameters(o, pointer, ql, c);
    Some(writer)
}

fn writer_config(v: &Value, pointer: &str, writer: &mut WriterDoc, c: &mut Collector) {
    let Some(m) = v.as_object() else {
        c.push(pointer, "must be an object");
        return;
    };
    for (k, v) in m {
        match (k.as_str(), v.as_str()) {
            ("OutputType", Some(t @ ("JSON" | "JSONL"))) => {
                writer.output_type = Some(t.to_string())
            }
            ("Transformation", Some(t @ ("NONE" | "COMPACT" | "FLATTEN"))) => {
                writer.transformation = Some(t.to_string())
            }
            _ => c.push(&ptr(pointer, k), "invalid WriterConfig field or value"),
        }
    }
}
