//! Stage 3 of 3: a [`Valid`] document to the [`Model`] the engine runs — state names resolved
//! to indexes, literal values converted, defaults filled in, and which states read the context
//! object. Reports nothing: validity is given; an impossible gap (a bug) yields none.

use std::sync::Arc;

use serde_json::Value;

use super::ast::*;
use super::literal::{int_field, number_in};
use super::types::{
    Catcher, ChoiceRule, Cond, Dyn, DynStr, Graph, IoPath, ItemBatcher, ItemReader, Kind, MapSpec,
    Model, Ql, ResultPath, ResultWriter, Retrier, Rhs, State, TaskSpec, WaitSpec,
};
use super::validate::{Index, Valid, index};
use crate::limits::{MAX_DELAY_SECONDS, MAX_SECONDS_FIELD};
use crate::path::{JsonPath, Root};
use crate::template::Template;

pub(super) fn compile(valid: Valid<'_>) -> Option<Model> {
    let doc = valid.into_doc();
    let timeout_seconds = match doc.timeout_seconds {
        Some(v) => Some(int_field(v, 1, MAX_SECONDS_FIELD).ok()?),
        None => None,
    };
    Some(Model {
        graph: Arc::new(graph(doc.graph)?),
        timeout_seconds,
    })
}

fn graph(g: GraphDoc<'_>) -> Option<Graph> {
    let index = index(&g);
    let start = *index.get(g.start_at?)?;
    let states = g
        .states
        .into_iter()
        .map(|slot| state(slot, &index))
        .collect::<Option<Vec<_>>>()?;
    Some(Graph { states, start })
}

/// The index of the state a transition names.
fn resolve(name: Option<&str>, index: &Index<'_>) -> Option<Option<usize>> {
    match name {
        Some(n) => Some(Some(*index.get(n)?)),
        None => Some(None),
    }
}

fn state(slot: Slot<'_>, index: &Index<'_>) -> Option<State> {
    let st = slot.state?;
    let kind = kind(st.body, st.obj, index)?;
    let mut state = State {
        name: Arc::from(slot.name),
        ty: st.ty,
        ql: st.ql,
        next: resolve(st.next, index)?,
        input_path: st.input_path,
        output_path: st.output_path,
        result_path: st.result_path,
        parameters: st.parameters,
        result_selector: st.result_selector,
        output: st.output,
        assign: st.assign,
        retry: st.retry.into_iter().map(retrier).collect(),
        catch: st
            .catch
            .into_iter()
            .map(|k| catcher(k, index))
            .collect::<Option<_>>()?,
        kind,
        uses_context: false,
        passes_input: false,
    };
    state.uses_context = uses_context(&state);
    state.passes_input = passes_input(&state);
    Some(state)
}

/// Whether the state's output is its input, unchanged, whatever the input
/// ([`State::passes_input`]).
fn passes_input(s: &State) -> bool {
    match s.ql {
        Ql::JsonPath => {
            let identity = matches!(s.input_path, IoPath::Identity)
                && matches!(s.output_path, IoPath::Identity);
            identity
                && match &s.kind {
                    Kind::Pass { result } => {
                        s.parameters.is_none()
                            && result.is_none()
                            && matches!(s.result_path, ResultPath::Replace | ResultPath::Discard)
                    }
                    Kind::Choice { .. } | Kind::Wait(_) | Kind::Succeed => true,
                    _ => false,
                }
        }
        Ql::Jsonata => {
            s.output.is_none()
                && match &s.kind {
                    Kind::Choice { rules, .. } => rules.iter().all(|r| r.output.is_none()),
                    Kind::Pass { .. } | Kind::Wait(_) | Kind::Succeed => true,
                    _ => false,
                }
        }
    }
}

fn kind(body: Body<'_>, obj: &Obj, index: &Index<'_>) -> Option<Kind> {
    Some(match body {
        Body::Pass => Kind::Pass {
            result: obj.get("Result").cloned(),
        },
        Body::Succeed => Kind::Succeed,
        Body::Fail { error, cause } => Kind::Fail { error, cause },
        Body::Task(t) => Kind::Task(Box::new(task(t)?)),
        Body::Choice(ch) => Kind::Choice {
            rules: ch
                .rules
                .into_iter()
                .map(|r| rule(r, index))
                .collect::<Option<_>>()?,
            default: resolve(ch.default, index)?,
        },
        Body::Wait(w) => Kind::Wait(wait(w)?),
        Body::Parallel(branches) => Kind::Parallel {
            branches: branches
                .into_iter()
                .map(|g| graph(g).map(Arc::new))
                .collect::<Option<_>>()?,
        },
        Body::Map(m) => Kind::Map(Box::new(map(*m)?)),
    })
}

/// A literal converted by `convert`, a path or an expression.
fn literal<T>(
    d: Option<RawDyn<'_>>,
    convert: impl Fn(&Value) -> Option<T>,
) -> Option<Option<Dyn<T>>> {
    Some(match d {
        None => None,
        Some(Dyn::Fixed(v)) => Some(Dyn::Fixed(convert(v)?)),
        Some(Dyn::Path(p)) => Some(Dyn::Path(p)),
        Some(Dyn::Jsonata(e)) => Some(Dyn::Jsonata(e)),
    })
}

fn uint(d: Option<RawDyn<'_>>, min: u64, max: u64) -> Option<Option<Dyn<u64>>> {
    literal(d, |v| int_field(v, min, max).ok())
}

fn task(t: TaskDoc<'_>) -> Option<TaskSpec> {
    Some(TaskSpec {
        resource: t.resource.to_string(),
        timeout: uint(t.timeout, 1, MAX_SECONDS_FIELD)?,
        heartbeat: uint(t.heartbeat, 1, MAX_SECONDS_FIELD)?,
        task_token: [".waitForTaskToken", ".sync", ".sync:2"]
            .iter()
            .any(|pattern| t.resource.ends_with(pattern)),
    })
}

fn wait(w: Option<WaitDoc<'_>>) -> Option<WaitSpec> {
    Some(match w? {
        WaitDoc::Seconds(d) => {
            let seconds = |v: &Value| int_field(v, 0, MAX_SECONDS_FIELD).ok().map(|s| s as i64);
            WaitSpec::Seconds(literal(Some(d), seconds)??)
        }
        WaitDoc::Timestamp(d) => WaitSpec::Timestamp(d),
    })
}

fn retrier(r: RetrierDoc<'_>) -> Retrier {
    let int = |field: &str, min: u64, max: u64| {
        r.obj.get(field).and_then(|v| int_field(v, min, max).ok())
    };
    Retrier {
        interval: int("IntervalSeconds", 1, MAX_SECONDS_FIELD).map_or(1.0, |n| n as f64),
        max_attempts: int("MaxAttempts", 0, MAX_SECONDS_FIELD).unwrap_or(3),
        backoff: r
            .obj
            .get("BackoffRate")
            .and_then(Value::as_f64)
            .unwrap_or(2.0),
        max_delay: int("MaxDelaySeconds", 1, MAX_DELAY_SECONDS).map(|n| n as f64),
        jitter: r.obj.get("JitterStrategy").and_then(Value::as_str) == Some("FULL"),
        errors: r.errors,
    }
}

fn catcher(k: CatcherDoc<'_>, index: &Index<'_>) -> Option<Catcher> {
    Some(Catcher {
        errors: k.errors,
        next: *index.get(k.next?)?,
        result_path: k.result_path,
        output: k.output,
        assign: k.assign,
    })
}

fn rule(r: RuleDoc<'_>, index: &Index<'_>) -> Option<ChoiceRule> {
    Some(ChoiceRule {
        cond: cond(r.cond)?,
        next: *index.get(r.next?)?,
        assign: r.assign,
        output: r.output,
    })
}

fn cond(x: CondDoc<'_>) -> Option<Cond> {
    Some(match x.kind {
        CondKind::Unclear | CondKind::Broken => return None,
        CondKind::And(subs) => Cond::And(subs.into_iter().filter_map(cond).collect()),
        CondKind::Or(subs) => Cond::Or(subs.into_iter().filter_map(cond).collect()),
        CondKind::Not(inner) => Cond::Not(Box::new(cond(*inner)?)),
        CondKind::Cmp { var, op, rhs } => Cond::Cmp {
            var: var?,
            op,
            rhs: rhs?,
        },
        CondKind::Jsonata(e) => Cond::Jsonata(e),
        CondKind::Const(b) => Cond::Const(b),
    })
}

fn map(m: MapDoc<'_>) -> Option<MapSpec> {
    let p = m.processor?;
    let tolerance = |max: f64| move |v: &Value| number_in(v, 0.0, max).ok();
    Some(MapSpec {
        items_path: m.items_path,
        items: m.items,
        item_selector: m.item_selector,
        processor: Arc::new(graph(p.graph)?),
        distributed: p.distributed,
        max_concurrency: uint(p.max_concurrency, 0, u64::MAX)?,
        tolerated_count: literal(p.tolerated_count, tolerance(f64::MAX))?,
        tolerated_percentage: literal(p.tolerated_percentage, tolerance(100.0))?,
        item_reader: match p.item_reader {
            Some(r) => Some(item_reader(r)?),
            None => None,
        },
        item_batcher: match p.item_batcher {
            Some(b) => Some(item_batcher(b)?),
            None => None,
        },
        result_writer: p.result_writer.map(|w| ResultWriter {
            parameters: w.parameters,
            config: w.config,
        }),
        label: p.label.map(str::to_string),
    })
}

fn item_reader(r: ReaderDoc<'_>) -> Option<ItemReader> {
    Some(ItemReader {
        resource: r.resource,
        parameters: r.parameters,
        input_type: r.input_type,
        csv_header_location: r.csv_header_location,
        csv_headers: r.csv_headers,
        csv_delimiter: r.csv_delimiter,
        max_items: uint(r.max_items, 0, u64::MAX)?,
        items_pointer: r.items_pointer,
    })
}

fn item_batcher(b: BatcherDoc<'_>) -> Option<ItemBatcher> {
    Some(ItemBatcher {
        max_items: uint(b.max_items, 0, u64::MAX)?,
        max_bytes: uint(b.max_bytes, 0, u64::MAX)?,
        batch_input: b.batch_input,
    })
}

fn from_context(p: &JsonPath) -> bool {
    matches!(p.root(), Root::Context)
}

fn template_uses_context(t: &Option<Template>) -> bool {
    t.as_ref().is_some_and(Template::uses_context)
}

/// Whether something in the state reads `$$` / `$states.context`.
fn uses_context(s: &State) -> bool {
    let io = |p: &IoPath| matches!(p, IoPath::Path(p) if from_context(p));
    [&s.parameters, &s.result_selector, &s.output, &s.assign]
        .into_iter()
        .any(template_uses_context)
        || s.catch
            .iter()
            .any(|k| template_uses_context(&k.output) || template_uses_context(&k.assign))
        || io(&s.input_path)
        || io(&s.output_path)
        || kind_uses_context(&s.kind)
}

fn kind_uses_context(k: &Kind) -> bool {
    match k {
        Kind::Task(_) | Kind::Map(_) | Kind::Wait(_) => true,
        Kind::Choice { rules, .. } => rules.iter().any(|r| {
            cond_uses_context(&r.cond)
                || template_uses_context(&r.output)
                || template_uses_context(&r.assign)
        }),
        Kind::Fail { error, cause } => [error, cause].iter().any(|d| match d {
            Some(DynStr::Path(p)) => from_context(p),
            Some(DynStr::Intrinsic(_)) | Some(DynStr::Jsonata(_)) => true,
            _ => false,
        }),
        Kind::Pass { .. } | Kind::Succeed | Kind::Parallel { .. } => false,
    }
}

fn cond_uses_context(c: &Cond) -> bool {
    match c {
        Cond::And(v) | Cond::Or(v) => v.iter().any(cond_uses_context),
        Cond::Not(x) => cond_uses_context(x),
        Cond::Cmp { var, rhs, .. } => {
            from_context(var) || matches!(rhs, Rhs::Path(p) if from_context(p))
        }
        Cond::Jsonata(j) => j.uses_context,
        Cond::Const(_) => false,
    }
}
