//! The field shapes every part of a definition shares: transitions, paths, payload templates,
//! `Assign`, values given literally or by a `*Path` twin or JSONata, error lists.

use serde_json::Value;

use crate::error::{Collector, ptr};
use crate::intrinsic::{Intrinsic, looks_like_intrinsic};
use crate::model::ast::{Obj, RawDyn};
use crate::model::types::{Dyn, DynStr, IoPath, Ql, ResultPath};
use crate::path::JsonPath;
use crate::template::{Template, compile_jsonata, jsonata_body};

/// An object being parsed: its pointer, its fields and its query language.
pub(super) struct Ctx<'a> {
    pub base: String,
    pub obj: &'a Obj,
    pub ql: Ql,
}

impl<'a> Ctx<'a> {
    pub fn p(&self, k: &str) -> String {
        ptr(&self.base, k)
    }
    pub fn get(&self, k: &str) -> Option<&'a Value> {
        self.obj.get(k)
    }
}

pub(super) fn unknown_fields(obj: &Obj, base: &str, known: &[&str], c: &mut Collector) {
    for k in obj.keys() {
        if !known.contains(&k.as_str()) {
            c.push(&ptr(base, k), format!("unknown field '{k}'"));
        }
    }
}

/// A `Next` / `Default` field: the state name it gives.
pub(super) fn transition<'a>(
    v: Option<&'a Value>,
    pointer: &str,
    c: &mut Collector,
) -> Option<&'a str> {
    match v {
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            c.push(pointer, "must be a string naming a state");
            None
        }
        None => None,
    }
}

pub(super) fn io_path(v: Option<&Value>, pointer: &str, c: &mut Collector) -> IoPath {
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
pub(super) fn result_path(v: Option<&Value>, pointer: &str, c: &mut Collector) -> ResultPath {
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

pub(super) fn path_field(v: &Value, pointer: &str, c: &mut Collector) -> Option<JsonPath> {
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

pub(super) fn string_list(v: Option<&Value>, pointer: &str, c: &mut Collector) -> Vec<String> {
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
pub(super) fn payload(v: &Value, pointer: &str, ql: Ql, c: &mut Collector) -> Template {
    match ql {
        Ql::JsonPath => Template::jsonpath(v, pointer, c),
        Ql::Jsonata => Template::jsonata(v, pointer, c),
    }
}

/// `Output`, a JSONata field (ignored in JSONPath, where validate reports it).
pub(super) fn output(cx: &Ctx<'_>, c: &mut Collector) -> Option<Template> {
    match cx.ql {
        Ql::Jsonata => cx
            .get("Output")
            .map(|v| Template::jsonata(v, &cx.p("Output"), c)),
        Ql::JsonPath => None,
    }
}

/// `Assign`: an object (its variable names are validate's).
pub(super) fn assign(
    v: Option<&Value>,
    pointer: &str,
    ql: Ql,
    c: &mut Collector,
) -> Option<Template> {
    let v = v?;
    if !v.is_object() {
        c.push(pointer, "must be an object of variable names to values");
        return None;
    }
    Some(payload(v, pointer, ql, c))
}

/// A JSONata expression string in a JSONata state.
pub(super) fn expression(v: &Value, ql: Ql) -> Option<&str> {
    match v {
        Value::String(s) if ql == Ql::Jsonata && jsonata_body(s).is_some() => Some(s),
        _ => None,
    }
}

/// A field given literally (its limits are validate's), as a JSONata expression, or (when the
/// literal is absent) by its `*Path` twin.
pub(super) fn dyn_raw<'a>(
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
pub(super) fn dyn_str(
    cx: &Ctx<'_>,
    field: &str,
    path_name: &str,
    c: &mut Collector,
) -> Option<DynStr> {
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
