//! Evaluating a state's fields: InputPath/OutputPath/ResultPath, JSONPath and JSONata
//! templates, `Assign`, `Output`, `$states`, and the numeric fields that may be fixed, a path or
//! JSONata. Shared by the state modules and the Distributed Map (`crate::distributed`).

use serde_json::{Map, Value};

use super::failure::{
    Failure, compact, err_prefix, path_failure, query_error, query_error_at, runtime,
    unexpected_type,
};
use super::types::{Env, StateRun};
use crate::intrinsic::IntrinsicError;
use crate::limits::{PayloadError, data_limit_cause};
use crate::model::{Dyn, IoPath, Ql, ResultPath};
use crate::path::PathError;
use crate::template::{Jexpr, Template, empty_object};

/// A variable assignment of an `Assign` field.
pub(crate) type Assigns = Vec<(String, Value)>;

pub(crate) fn apply_io_path(
    sr: &StateRun<'_>,
    p: &IoPath,
    v: Value,
    env: &Env<'_>,
) -> Result<Value, Failure> {
    match p {
        IoPath::Identity => Ok(v),
        IoPath::Empty => Ok(empty_object()),
        IoPath::Path(path) => path.read(&v, env).map_err(|e| path_failure(sr, path, e)),
    }
}

/// Evaluates a JSONPath-mode template against `input`.
pub(crate) fn eval_jp(
    sr: &StateRun<'_>,
    t: &Template,
    input: &Value,
    env: &Env<'_>,
) -> Result<Value, Failure> {
    match t {
        Template::Const(v) => Ok(v.clone()),
        Template::Path(p) => p.read(input, env).map_err(|e| match e {
            PathError::UndefinedVariable(_) => path_failure(sr, p, e),
            PathError::NotFound => runtime(
                sr,
                format!(
                    "The JSONPath '{p}' could not be found in the input '{}'",
                    compact(input)
                ),
            ),
        }),
        Template::Intrinsic(i) => i
            .eval(input, env)
            .map_err(|e| intrinsic_failure(sr, e, input)),
        Template::Object(fields) => {
            let mut m = Map::with_capacity(fields.len());
            for (k, t, dollar) in fields {
                let v = eval_jp(sr, t, input, env).map_err(|f| name_field(f, k, *dollar))?;
                m.insert(k.clone(), v);
            }
            Ok(Value::Object(m))
        }
        Template::Array(items) => items
            .iter()
            .map(|t| eval_jp(sr, t, input, env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Template::Jsonata(_) => Ok(Value::Null),
    }
}

/// A path not found under a `<key>.$` field names the field in its cause.
fn name_field(mut f: Failure, key: &str, dollar: bool) -> Failure {
    if dollar && let Some(c) = &mut f.cause {
        *c = c.replacen(
            "could not be found in the input",
            &format!("specified for the field '{key}.$' could not be found in the input"),
            1,
        );
    }
    f
}

/// The failure of an intrinsic function call evaluated against `input`.
fn intrinsic_failure(sr: &StateRun<'_>, e: IntrinsicError, input: &Value) -> Failure {
    match e {
        IntrinsicError::Path {
            path,
            undefined_variable: Some(v),
        } => query_error(
            sr,
            format!("The variable '${v}' referenced in the path '{path}' is not defined."),
        ),
        IntrinsicError::Path { path, .. } => runtime(
            sr,
            format!(
                "The JSONPath '{path}' could not be found in the input '{}'",
                compact(input)
            ),
        ),
        IntrinsicError::Failure(m) => {
            Failure::new("States.IntrinsicFailure", format!("{} {m}", err_prefix(sr)))
        }
        IntrinsicError::TooLarge {
            error: PayloadError::TooLarge { .. },
            ..
        } => Failure::terminal("States.DataLimitExceeded", data_limit_cause(&sr.st.name)),
        IntrinsicError::TooLarge { function, error } => Failure::terminal(
            "States.Runtime",
            format!(
                "{} The value of {function} cannot be passed on: {error}.",
                err_prefix(sr)
            ),
        ),
    }
}

pub(crate) fn eval_expr(
    sr: &StateRun<'_>,
    j: &Jexpr,
    field: &str,
    env: &mdlc_jsonata::Environment,
) -> Result<Value, Failure> {
    match j.expr.evaluate(None, env) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(query_error_at(
            sr,
            field,
            format!(
                "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
                j.src
            ),
        )),
        Err(e) => Err(query_error_at(
            sr,
            field,
            format!(
                "The JSONata expression '{}' specified for the field '{field}' threw an error during evaluation. {}: {}",
                j.src, e.code, e.message
            ),
        )),
    }
}

/// Evaluates a JSONata field; without a JSONata environment the value is null.
pub(crate) fn eval_field(
    sr: &StateRun<'_>,
    j: &Jexpr,
    field: &str,
    jenv: Option<&mdlc_jsonata::Environment>,
) -> Result<Value, Failure> {
    match jenv {
        Some(e) => eval_expr(sr, j, field, e),
        None => Ok(Value::Null),
    }
}

/// Evaluates a JSONata-mode template.
pub(crate) fn eval_ja(
    sr: &StateRun<'_>,
    t: &Template,
    field: &str,
    env: &mdlc_jsonata::Environment,
) -> Result<Value, Failure> {
    match t {
        Template::Const(v) => Ok(v.clone()),
        Template::Jsonata(j) => eval_expr(sr, j, field, env),
        Template::Object(fields) => {
            let mut m = Map::with_capacity(fields.len());
            for (k, t, _) in fields {
                let v = eval_ja(sr, t, &format!("{field}/{k}"), env)?;
                m.insert(k.clone(), v);
            }
            Ok(Value::Object(m))
        }
        Template::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, t)| eval_ja(sr, t, &format!("{field}/{i}"), env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Template::Path(_) | Template::Intrinsic(_) => Ok(Value::Null),
    }
}

/// A JSONata state's `Output` (or `default` without one).
pub(crate) fn output_of(
    sr: &StateRun<'_>,
    t: Option<&Template>,
    default: Value,
    env: &mdlc_jsonata::Environment,
) -> Result<Value, Failure> {
    match t {
        Some(t) => eval_ja(sr, t, "Output", env),
        None => Ok(default),
    }
}

/// The `$states` variable of JSONata: the state's input, the context object, and the result or
/// error output where there is one.
pub(crate) fn states_var(
    input: &Value,
    ctx: Option<&Value>,
    result: Option<&Value>,
    error: Option<&Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("input".into(), input.clone());
    m.insert("context".into(), ctx.cloned().unwrap_or_else(empty_object));
    if let Some(r) = result {
        m.insert("result".into(), r.clone());
    }
    if let Some(e) = error {
        m.insert("errorOutput".into(), e.clone());
    }
    Value::Object(m)
}

/// The assignments of an optional `Assign`: JSONata in a JSONata state given its environment,
/// else a JSONPath template against `input`.
pub(crate) fn assigns_of(
    sr: &StateRun<'_>,
    t: Option<&Template>,
    input: &Value,
    penv: &Env<'_>,
    jenv: Option<&mdlc_jsonata::Environment>,
) -> Result<Assigns, Failure> {
    let Some(t) = t else {
        return Ok(Vec::new());
    };
    let v = match (sr.st.ql, jenv) {
        (Ql::Jsonata, Some(env)) => eval_ja(sr, t, "Assign", env)?,
        _ => eval_jp(sr, t, input, penv)?,
    };
    Ok(match v {
        Value::Object(m) => m.into_iter().collect(),
        _ => Vec::new(),
    })
}

pub(crate) fn apply_result_path(
    sr: &StateRun<'_>,
    rp: &ResultPath,
    raw: Value,
    result: Value,
) -> Result<Value, Failure> {
    match rp {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw),
        ResultPath::Path(p) => {
            let mut out = raw;
            if p.write(&mut out, result.clone()).is_err() {
                return Err(Failure::new(
                    "States.ResultPathMatchFailure",
                    format!(
                        "{} Unable to apply ResultPath '{p}' to input '{}'",
                        err_prefix(sr),
                        compact(&out)
                    ),
                ));
            }
            Ok(out)
        }
    }
}

/// How a numeric field's fixed (`F`, validated), path or JSONata value is read as a `T`;
/// `kind` names the type in errors.
struct Number<F, T> {
    kind: &'static str,
    fixed: fn(F) -> T,
    from_path: fn(&Value) -> Option<T>,
    from_jsonata: fn(&Value) -> Option<T>,
}

/// What a numeric field is read against: the state's effective input (for `<field>Path`) and
/// the evaluation environments.
pub(crate) struct FieldInput<'a, 'e> {
    pub input: &'a Value,
    pub env: &'a Env<'e>,
    pub jenv: Option<&'a mdlc_jsonata::Environment>,
}

/// A non-negative integer field (`TimeoutSeconds`, `MaxConcurrency`, `MaxItemsPerBatch`, …).
pub(crate) fn dyn_u64(
    sr: &StateRun<'_>,
    d: Option<&Dyn<u64>>,
    field: &str,
    at: &FieldInput<'_, '_>,
) -> Result<Option<u64>, Failure> {
    let number = Number {
        kind: "integer",
        fixed: |n| n,
        from_path: as_uint,
        from_jsonata: as_uint,
    };
    dyn_number(sr, d, field, number, at)
}

/// An integer field whose sign its user checks later (`MaxItems`: AWS fails a negative one
/// inside the Map Run, but a value that is no integer before it).
pub(crate) fn dyn_whole(
    sr: &StateRun<'_>,
    d: Option<&Dyn<u64>>,
    field: &str,
    at: &FieldInput<'_, '_>,
) -> Result<Option<i64>, Failure> {
    let number = Number {
        kind: "integer",
        fixed: |n| i64::try_from(n).unwrap_or(i64::MAX),
        from_path: whole_i64,
        from_jsonata: whole_i64,
    };
    dyn_number(sr, d, field, number, at)
}

/// A non-negative number field, whole (`integer`) or not (the tolerated failures).
pub(crate) fn dyn_f64(
    sr: &StateRun<'_>,
    d: Option<&Dyn<f64>>,
    field: &str,
    integer: bool,
    at: &FieldInput<'_, '_>,
) -> Result<Option<f64>, Failure> {
    let non_negative = |v: &Value| v.as_f64().filter(|f| *f >= 0.0);
    let number = if integer {
        Number {
            kind: "integer",
            fixed: |f| f,
            from_path: |v: &Value| as_uint(v).map(|n| n as f64),
            from_jsonata: non_negative,
        }
    } else {
        Number {
            kind: "float",
            fixed: |f| f,
            from_path: non_negative,
            from_jsonata: non_negative,
        }
    };
    dyn_number(sr, d, field, number, at)
}

/// The value of a numeric field that may be fixed, a path (`<field>Path`) or JSONata.
fn dyn_number<F: Copy, T>(
    sr: &StateRun<'_>,
    d: Option<&Dyn<F>>,
    field: &str,
    number: Number<F, T>,
    at: &FieldInput<'_, '_>,
) -> Result<Option<T>, Failure> {
    let kind = number.kind;
    Ok(match d {
        None => None,
        Some(Dyn::Fixed(n)) => Some((number.fixed)(*n)),
        Some(Dyn::Path(p)) => {
            let v = p
                .read(at.input, at.env)
                .map_err(|e| path_failure(sr, p, e))?;
            match (number.from_path)(&v) {
                Some(n) => Some(n),
                None => {
                    return Err(runtime(
                        sr,
                        format!(
                            "The {field}Path field refers to value \"{}\" which is not a valid {kind}: {p}",
                            compact(&v)
                        ),
                    ));
                }
            }
        }
        Some(Dyn::Jsonata(j)) => {
            let v = eval_field(sr, j, field, at.jenv)?;
            match (number.from_jsonata)(&v) {
                Some(n) => Some(n),
                None => return Err(unexpected_type(sr, &j.src, field, kind, &v)),
            }
        }
    })
}

/// An integer, or a float with no fractional part, as an `i64`.
pub(crate) fn whole_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

fn as_uint(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                // 2^64 (`u64::MAX as f64` rounds up to it) is the first whole number too large.
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < u64::MAX as f64)
                .map(|f| f as u64)
        }),
        _ => None,
    }
}
