//! A Choice state's rules: JSONata `Condition`s, or JSONPath comparisons and the And / Or /
//! Not combinations nested in them.

use serde_json::Value;

use super::fields::{Ctx, assign, output, path_field, transition};
use crate::error::{Collector, ptr};
use crate::model::ast::{ChoiceDoc, CondDoc, CondKind, Obj, RuleDoc};
use crate::model::literal::parse_timestamp;
use crate::model::types::{OPS, Op, Ql, Rhs};
use crate::template::{compile_jsonata, jsonata_body};

pub(super) fn choice<'a>(cx: &Ctx<'a>, c: &mut Collector) -> ChoiceDoc<'a> {
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
