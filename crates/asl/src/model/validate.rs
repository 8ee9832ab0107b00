//! Stage 2 of 3: the ASL rules over a parsed [`Doc`] — transitions name existing states, every
//! state is reachable and one ends the execution, which fields go with which state type and
//! query language, fields that exclude each other, and the limits of
//! [`crate::limits`]. Every problem is collected with its JSON pointer; a document without any
//! becomes [`Valid`], the only input of [`super::compile`].

use std::collections::HashMap;

use serde_json::Value;

use super::ast::*;
use super::literal::{int_field, number_in};
use super::types::{Dyn, Ql, ResultPath, StateType};
use crate::error::{Collector, ValidationError, ptr};
use crate::limits::{MAX_DELAY_SECONDS, MAX_SECONDS_FIELD};

/// A document without any problem (made only by [`validate`]).
pub(super) struct Valid<'a>(Doc<'a>);

impl<'a> Valid<'a> {
    pub fn into_doc(self) -> Doc<'a> {
        self.0
    }
}

/// State names to their indexes in a graph.
pub(super) type Index<'a> = HashMap<&'a str, usize>;

pub(super) fn index<'a>(g: &GraphDoc<'a>) -> Index<'a> {
    g.states
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name, i))
        .collect()
}

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
/// Fields of every state type that moves on (Pass, Task, Wait, Parallel, Map).
const FLOW: &[&str] = &["Next", "End", "InputPath", "OutputPath", "Assign", "Output"];
/// Fields of the states that produce a result (Task, Parallel, Map).
const RESULT: &[&str] = &[
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Retry",
    "Catch",
    "Arguments",
];
const DISTRIBUTED_ONLY: &[&str] = &["ItemReader", "ItemBatcher", "ResultWriter"];
const QL_CONFLICT: &str =
    "a state cannot use JSONPath when the state machine's QueryLanguage is JSONata";

/// The fields of a state type beyond [`COMMON`], [`FLOW`] and [`RESULT`].
fn own_fields(ty: StateType) -> &'static [&'static str] {
    match ty {
        StateType::Pass => &["ResultPath", "Parameters", "Result"],
        StateType::Task => &[
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        ],
        StateType::Choice => &[
            "Choices",
            "Default",
            "InputPath",
            "OutputPath",
            "Assign",
            "Output",
        ],
        StateType::Wait => &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
        StateType::Succeed => &["InputPath", "OutputPath", "Output"],
        StateType::Fail => &["Error", "ErrorPath", "Cause", "CausePath"],
        StateType::Parallel => &["Branches"],
        StateType::Map => &[
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
        ],
    }
}

fn allowed(ty: StateType, field: &str) -> bool {
    let flows = !matches!(ty, StateType::Choice | StateType::Succeed | StateType::Fail);
    let results = matches!(ty, StateType::Task | StateType::Parallel | StateType::Map);
    own_fields(ty).contains(&field)
        || (flows && FLOW.contains(&field))
        || (results && RESULT.contains(&field))
}

/// Checks the rules, adding their problems to those parse found (`problems`): [`Valid`] when
/// there is none at all, else every problem.
pub(super) fn validate(
    doc: Doc<'_>,
    problems: Collector,
) -> Result<Valid<'_>, Vec<ValidationError>> {
    let mut c = problems;
    if let Some(v) = doc.timeout_seconds
        && let Err(m) = int_field(v, 1, MAX_SECONDS_FIELD)
    {
        c.push("/TimeoutSeconds", m);
    }
    graph(&doc.graph, &mut c);
    if c.errors.is_empty() {
        Ok(Valid(doc))
    } else {
        Err(c.errors)
    }
}

fn graph(g: &GraphDoc<'_>, c: &mut Collector) {
    if g.jsonpath_in_jsonata {
        c.push(&ptr(&g.base, "QueryLanguage"), QL_CONFLICT);
    }
    let index = index(g);
    if let Some(s) = g.start_at {
        target(s, &ptr(&g.base, "StartAt"), &index, c);
    }
    for slot in &g.states {
        if slot.name.is_empty() || slot.name.chars().count() > 80 {
            c.push(&slot.base, "a state name must have 1 to 80 characters");
        }
        if let Some(st) = &slot.state {
            state(&slot.base, st, &index, c);
        }
    }
    reachability(g, &index, c);
    let ends = g.states.iter().any(|s| ends(s, &index));
    if !ends {
        c.push(
            &ptr(&g.base, "States"),
            "no state ends the execution (End, Succeed or Fail)",
        );
    }
}

/// A transition to `name` at `pointer`: the state must exist.
fn target(name: &str, pointer: &str, index: &Index<'_>, c: &mut Collector) {
    if !index.contains_key(name) {
        c.push(
            pointer,
            format!("refers to state '{name}', which does not exist"),
        );
    }
}

/// Every state is reachable from StartAt (or from the first state when StartAt is unusable).
fn reachability(g: &GraphDoc<'_>, index: &Index<'_>, c: &mut Collector) {
    let start = g.start_at.and_then(|s| index.get(s).copied()).unwrap_or(0);
    let mut seen = vec![false; g.states.len()];
    let mut stack = vec![start];
    while let Some(i) = stack.pop() {
        if i >= seen.len() || seen[i] {
            continue;
        }
        seen[i] = true;
        stack.extend(transitions(&g.states[i], index));
    }
    for (slot, seen) in g.states.iter().zip(seen) {
        if !seen {
            c.push(
                &slot.base,
                format!("state '{}' is not reachable from StartAt", slot.name),
            );
        }
    }
}

/// A state that compiles (a Map without a usable processor does not).
fn usable<'s, 'a>(slot: &'s Slot<'a>) -> Option<&'s StateDoc<'a>> {
    let st = slot.state.as_ref()?;
    match &st.body {
        Body::Map(m) if m.processor.is_none() => None,
        _ => Some(st),
    }
}

/// The states a state may go to: Next, its catchers', its choice rules' and Default.
fn transitions(slot: &Slot<'_>, index: &Index<'_>) -> Vec<usize> {
    let Some(st) = usable(slot) else {
        return Vec::new();
    };
    let mut names: Vec<&str> = st.next.into_iter().collect();
    names.extend(st.catch.iter().filter_map(|k| k.next));
    if let Body::Choice(ch) = &st.body {
        let rules = ch.rules.iter().filter(|r| r.cond.complete());
        names.extend(rules.filter_map(|r| r.next));
        names.extend(ch.default);
    }
    names.iter().filter_map(|n| index.get(n).copied()).collect()
}

/// Whether a state may end the execution (an unusable state counts as one).
fn ends(slot: &Slot<'_>, index: &Index<'_>) -> bool {
    let Some(st) = usable(slot) else {
        return true;
    };
    let next = st.next.and_then(|n| index.get(n));
    matches!(st.ty, StateType::Succeed | StateType::Fail)
        || (next.is_none() && st.ty != StateType::Choice)
}

fn state(base: &str, st: &StateDoc<'_>, index: &Index<'_>, c: &mut Collector) {
    if st.jsonpath_in_jsonata {
        c.push(&ptr(base, "QueryLanguage"), QL_CONFLICT);
    }
    fields(base, st, c);
    if let Some(n) = st.next {
        target(n, &ptr(base, "Next"), index, c);
    }
    next_or_end(base, st, c);
    reference_path(&st.result_path, &ptr(base, "ResultPath"), c);
    assign_names(st.obj.get("Assign"), &ptr(base, "Assign"), st.ql, c);
    for r in &st.retry {
        retrier(r, c);
    }
    for k in &st.catch {
        catcher(k, st.ql, index, c);
    }
    body(base, st, index, c);
}

/// Which fields the state's type and query language allow.
fn fields(base: &str, st: &StateDoc<'_>, c: &mut Collector) {
    for k in st.obj.keys() {
        let k = k.as_str();
        if COMMON.contains(&k) {
            continue;
        }
        let message = if !allowed(st.ty, k) {
            format!("field '{k}' is not allowed in a {} state", st.ty.name())
        } else if st.ql == Ql::Jsonata && JSONPATH_ONLY.contains(&k) {
            format!("field '{k}' is not allowed when QueryLanguage is JSONata")
        } else if st.ql == Ql::JsonPath && JSONATA_ONLY.contains(&k) {
            format!("field '{k}' is only allowed when QueryLanguage is JSONata")
        } else {
            continue;
        };
        c.push(&ptr(base, k), message);
    }
}

/// A state that moves on has exactly one of `Next` and `End: true`.
fn next_or_end(base: &str, st: &StateDoc<'_>, c: &mut Collector) {
    if matches!(
        st.ty,
        StateType::Choice | StateType::Succeed | StateType::Fail
    ) {
        return;
    }
    match (st.obj.contains_key("Next"), st.end) {
        (true, true) => c.push(base, "a state cannot have both 'Next' and 'End': true"),
        (false, false) => c.push(base, "a state must have either 'Next' or 'End': true"),
        _ => {}
    }
}

fn reference_path(rp: &ResultPath, pointer: &str, c: &mut Collector) {
    if let ResultPath::Path(p) = rp
        && !p.is_reference()
    {
        c.push(
            pointer,
            "must be a reference path ('$', '.field', ['field'] and [index] only, from '$')",
        );
    }
}

/// Variable names of an `Assign` object.
fn assign_names(v: Option<&Value>, pointer: &str, ql: Ql, c: &mut Collector) {
    let Some(Value::Object(m)) = v else {
        return;
    };
    for k in m.keys() {
        let name = k.strip_suffix(".$").unwrap_or(k);
        let valid = name
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
}

/// `States.ALL` alone, in the last retrier or catcher.
fn error_list(errors: &[String], pointer: &str, last: bool, c: &mut Collector) {
    if !errors.iter().any(|e| e == "States.ALL") {
        return;
    }
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

fn retrier(r: &RetrierDoc<'_>, c: &mut Collector) {
    error_list(&r.errors, &ptr(&r.base, "ErrorEquals"), r.last, c);
    let limits = [
        ("IntervalSeconds", 1, MAX_SECONDS_FIELD),
        ("MaxAttempts", 0, MAX_SECONDS_FIELD),
        ("MaxDelaySeconds", 1, MAX_DELAY_SECONDS),
    ];
    for (field, min, max) in limits {
        if let Some(v) = r.obj.get(field)
            && let Err(m) = int_field(v, min, max)
        {
            c.push(&ptr(&r.base, field), m);
        }
    }
    if r.obj
        .get("BackoffRate")
        .and_then(Value::as_f64)
        .is_some_and(|n| n < 1.0)
    {
        c.push(&ptr(&r.base, "BackoffRate"), "must be >= 1.0");
    }
}

fn catcher(k: &CatcherDoc<'_>, ql: Ql, index: &Index<'_>, c: &mut Collector) {
    for f in k.obj.keys() {
        let ok = match f.as_str() {
            "ErrorEquals" | "Next" | "Comment" | "Assign" => true,
            "ResultPath" => ql == Ql::JsonPath,
            "Output" => ql == Ql::Jsonata,
            _ => false,
        };
        if !ok {
            c.push(
                &ptr(&k.base, f),
                format!("field '{f}' is not allowed in a catcher"),
            );
        }
    }
    error_list(&k.errors, &ptr(&k.base, "ErrorEquals"), k.last, c);
    if let Some(n) = k.next {
        target(n, &ptr(&k.base, "Next"), index, c);
    }
    reference_path(&k.result_path, &ptr(&k.base, "ResultPath"), c);
    assign_names(k.obj.get("Assign"), &ptr(&k.base, "Assign"), ql, c);
}

/// `field` and `other` cannot both be set (reported at `field`).
fn exclusive(obj: &Obj, base: &str, field: &str, other: &str, c: &mut Collector) {
    if obj.contains_key(field) && obj.contains_key(other) {
        c.push(
            &ptr(base, field),
            format!("'{field}' and '{other}' cannot both be set"),
        );
    }
}

/// A literal value of `field` checked by `check`; false when it fails or the field did not parse.
fn literal<T>(
    d: Option<&RawDyn<'_>>,
    pointer: &str,
    check: impl Fn(&Value) -> Result<T, String>,
    c: &mut Collector,
) -> bool {
    match d {
        Some(Dyn::Fixed(v)) => match check(v) {
            Ok(_) => true,
            Err(m) => {
                c.push(pointer, m);
                false
            }
        },
        Some(_) => true,
        None => false,
    }
}

/// An unsigned integer field in `min..=max`, or its `*Path` twin.
fn uint_field(
    obj: &Obj,
    base: &str,
    (field, path_name): (&str, &str),
    d: Option<&RawDyn<'_>>,
    (min, max): (u64, u64),
    c: &mut Collector,
) -> bool {
    exclusive(obj, base, field, path_name, c);
    literal(d, &ptr(base, field), |v| int_field(v, min, max), c)
}

fn body(base: &str, st: &StateDoc<'_>, index: &Index<'_>, c: &mut Collector) {
    match &st.body {
        Body::Pass | Body::Succeed => {}
        Body::Fail { .. } => {
            exclusive(st.obj, base, "Error", "ErrorPath", c);
            exclusive(st.obj, base, "Cause", "CausePath", c);
        }
        Body::Task(t) => task(base, st.obj, t, c),
        Body::Choice(ch) => choice(st.ql, ch, base, index, c),
        Body::Wait(w) => wait(base, st.obj, w.as_ref(), c),
        Body::Parallel(branches) => branches.iter().for_each(|g| graph(g, c)),
        Body::Map(m) => map(base, st.obj, m, c),
    }
}

fn task(base: &str, obj: &Obj, t: &TaskDoc<'_>, c: &mut Collector) {
    let range = (1, MAX_SECONDS_FIELD);
    let names = ("TimeoutSeconds", "TimeoutSecondsPath");
    uint_field(obj, base, names, t.timeout.as_ref(), range, c);
    let names = ("HeartbeatSeconds", "HeartbeatSecondsPath");
    uint_field(obj, base, names, t.heartbeat.as_ref(), range, c);
    let seconds = |d: &Option<RawDyn<'_>>| match d {
        Some(Dyn::Fixed(v)) => int_field(v, 1, MAX_SECONDS_FIELD).ok(),
        _ => None,
    };
    if let (Some(t), Some(h)) = (seconds(&t.timeout), seconds(&t.heartbeat))
        && h >= t
    {
        c.push(
            &ptr(base, "HeartbeatSeconds"),
            "must be smaller than TimeoutSeconds",
        );
    }
}

fn choice(ql: Ql, ch: &ChoiceDoc<'_>, base: &str, index: &Index<'_>, c: &mut Collector) {
    for r in &ch.rules {
        if let Some(n) = r.next {
            target(n, &ptr(&r.cond.base, "Next"), index, c);
        }
        match ql {
            Ql::Jsonata => jsonata_rule(&r.cond, c),
            Ql::JsonPath => {
                for k in ["Output", "Condition"] {
                    if r.cond.obj.contains_key(k) {
                        c.push(
                            &ptr(&r.cond.base, k),
                            format!("field '{k}' is only allowed when QueryLanguage is JSONata"),
                        );
                    }
                }
                cond(&r.cond, true, c);
            }
        }
        assign_names(
            r.cond.obj.get("Assign"),
            &ptr(&r.cond.base, "Assign"),
            ql,
            c,
        );
    }
    if let Some(n) = ch.default {
        target(n, &ptr(base, "Default"), index, c);
    }
}

fn jsonata_rule(rule: &CondDoc<'_>, c: &mut Collector) {
    for k in rule.obj.keys() {
        if !["Condition", "Next", "Comment", "Assign", "Output"].contains(&k.as_str()) {
            c.push(
                &ptr(&rule.base, k),
                format!("field '{k}' is not allowed in a JSONata choice rule"),
            );
        }
    }
}

/// A JSONPath condition and those nested in it.
fn cond(x: &CondDoc<'_>, top: bool, c: &mut Collector) {
    if !top && x.obj.contains_key("Next") {
        c.push(
            &ptr(&x.base, "Next"),
            "'Next' is only allowed in a top-level choice rule",
        );
    }
    if matches!(x.kind, CondKind::Unclear) {
        c.push(
            &x.base,
            "a choice rule needs exactly one comparison operator or one of And, Or, Not",
        );
        return;
    }
    let combination = ["And", "Or", "Not"]
        .into_iter()
        .find(|k| x.obj.contains_key(*k));
    if let Some(key) = combination
        && x.obj.contains_key("Variable")
    {
        c.push(
            &ptr(&x.base, "Variable"),
            format!("not allowed with '{key}'"),
        );
    }
    match &x.kind {
        CondKind::And(subs) | CondKind::Or(subs) => subs.iter().for_each(|s| cond(s, false, c)),
        CondKind::Not(inner) => cond(inner, false, c),
        _ => {}
    }
}

fn wait(base: &str, obj: &Obj, w: Option<&WaitDoc<'_>>, c: &mut Collector) {
    let given = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
        .iter()
        .filter(|f| obj.contains_key(**f))
        .count();
    if given != 1 {
        c.push(
            base,
            "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
        );
    }
    if let Some(WaitDoc::Seconds(d)) = w {
        literal(
            Some(d),
            &ptr(base, "Seconds"),
            |v| int_field(v, 0, MAX_SECONDS_FIELD),
            c,
        );
    }
}

fn map(base: &str, obj: &Obj, m: &MapDoc<'_>, c: &mut Collector) {
    exclusive(obj, base, "Parameters", "ItemSelector", c);
    exclusive(obj, base, "Iterator", "ItemProcessor", c);
    let Some(p) = &m.processor else {
        return;
    };
    graph(&p.graph, c);
    let names = ("MaxConcurrency", "MaxConcurrencyPath");
    uint_field(
        obj,
        base,
        names,
        p.max_concurrency.as_ref(),
        (0, u64::MAX),
        c,
    );
    let tolerances = [
        ("ToleratedFailureCount", &p.tolerated_count, f64::MAX),
        ("ToleratedFailurePercentage", &p.tolerated_percentage, 100.0),
    ];
    for (field, d, max) in tolerances {
        exclusive(obj, base, field, &format!("{field}Path"), c);
        literal(d.as_ref(), &ptr(base, field), |v| number_in(v, 0.0, max), c);
    }
    if let Some(r) = &p.item_reader {
        item_reader(r, c);
    }
    if let Some(b) = &p.item_batcher {
        item_batcher(b, c);
    }
    if !p.distributed {
        for f in DISTRIBUTED_ONLY.iter().filter(|f| obj.contains_key(**f)) {
            c.push(
                &ptr(base, f),
                format!("'{f}' needs ProcessorConfig.Mode DISTRIBUTED"),
            );
        }
    }
}

fn item_reader(r: &ReaderDoc<'_>, c: &mut Collector) {
    if let Some((rp, config)) = &r.config {
        let names = ("MaxItems", "MaxItemsPath");
        uint_field(config, rp, names, r.max_items.as_ref(), (0, u64::MAX), c);
    }
    if r.csv_header_location == "GIVEN" && r.csv_headers.is_none() {
        c.push(
            &ptr(&r.base, "ReaderConfig"),
            "CSVHeaders is required when CSVHeaderLocation is GIVEN",
        );
    }
}

fn item_batcher(b: &BatcherDoc<'_>, c: &mut Collector) {
    let range = (0, u64::MAX);
    let names = ("MaxItemsPerBatch", "MaxItemsPerBatchPath");
    let items = uint_field(b.obj, &b.base, names, b.max_items.as_ref(), range, c);
    let names = ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath");
    let bytes = uint_field(b.obj, &b.base, names, b.max_bytes.as_ref(), range, c);
    if !items && !bytes {
        c.push(&b.base, "needs MaxItemsPerBatch or MaxInputBytesPerBatch");
    }
}
