//! Payload templates: Parameters / ItemSelector / ResultSelector / Assign in JSONPath (keys ending
//! in `.$`), and Arguments / Output / Assign / any JSONata-capable field (`{% expr %}` strings).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{Collector, ptr};
use crate::intrinsic::{Intrinsic, looks_like_intrinsic};
use crate::path::JsonPath;

/// A compiled JSONata expression with its source (for error messages).
#[derive(Debug, Clone)]
pub(crate) struct Jexpr {
    pub src: Arc<str>,
    pub expr: Arc<mdlc_jsonata::Expression>,
    /// Mentions `$states.context` (the context object must be built).
    pub uses_context: bool,
}

/// Returns the inner expression of a `{% ... %}` string.
pub(crate) fn jsonata_body(s: &str) -> Option<&str> {
    s.strip_prefix("{%")?.strip_suffix("%}")
}

pub(crate) fn compile_jsonata(s: &str, pointer: &str, c: &mut Collector) -> Option<Jexpr> {
    let body = jsonata_body(s)?;
    match mdlc_jsonata::Expression::parse(body) {
        Ok(e) => Some(Jexpr {
            src: Arc::from(body.trim()),
            expr: Arc::new(e),
            // Any use of `$states` may read `$states.context` (`$lookup($states, 'context')`).
            uses_context: body.contains("$states"),
        }),
        Err(e) => {
            c.push(
                pointer,
                format!("invalid JSONata expression: {} {}", e.code, e.message),
            );
            None
        }
    }
}

/// A dynamic value.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    Const(Value),
    /// `"key.$": "$.path"`.
    Path(JsonPath),
    /// `"key.$": "States.Fn(...)"`.
    Intrinsic(Box<Intrinsic>),
    /// `"{% expr %}"`.
    Jsonata(Jexpr),
    /// An object with at least one dynamic field; keys without their `.$`. The bool tells
    /// whether the field came from a `.$` key (for error messages).
    Object(Vec<(String, Template, bool)>),
    Array(Vec<Template>),
}

impl Template {
    /// Compiles a JSONPath-mode payload template (`.$` keys are paths or intrinsics).
    pub fn jsonpath(v: &Value, pointer: &str, c: &mut Collector) -> Template {
        match v {
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                let mut dynamic = false;
                for (k, val) in m {
                    let p = ptr(pointer, k);
                    if let Some(name) = k.strip_suffix(".$") {
                        dynamic = true;
                        let t = match val {
                            Value::String(s) => Template::dynamic_string(s, &p, c),
                            _ => {
                                c.push(&p, "the value of a field ending in '.$' must be a string holding a path or an intrinsic function");
                                Template::Const(Value::Null)
                            }
                        };
                        fields.push((name.to_string(), t, true));
                    } else {
                        let t = Template::jsonpath(val, &p, c);
                        dynamic |= !matches!(t, Template::Const(_));
                        fields.push((k.clone(), t, false));
                    }
                }
                if dynamic {
                    Template::Object(fields)
                } else {
                    Template::Const(v.clone())
                }
            }
            Value::Array(a) => Template::array(v, a, pointer, c, Template::jsonpath),
            other => Template::Const(other.clone()),
        }
    }

    /// An array template: its items compiled by `item`; constant when every item is.
    fn array(
        v: &Value,
        a: &[Value],
        pointer: &str,
        c: &mut Collector,
        item: fn(&Value, &str, &mut Collector) -> Template,
    ) -> Template {
        let items: Vec<Template> = a
            .iter()
            .enumerate()
            .map(|(i, x)| item(x, &ptr(pointer, &i.to_string()), c))
            .collect();
        if items.iter().all(|t| matches!(t, Template::Const(_))) {
            Template::Const(v.clone())
        } else {
            Template::Array(items)
        }
    }

    /// A path or intrinsic string (the value of a `.$` key).
    pub fn dynamic_string(s: &str, pointer: &str, c: &mut Collector) -> Template {
        if looks_like_intrinsic(s) {
            match Intrinsic::parse(s) {
                Ok(i) => Template::Intrinsic(Box::new(i)),
                Err(e) => {
                    c.push(pointer, format!("invalid intrinsic function: {e}"));
                    Template::Const(Value::Null)
                }
            }
        } else {
            match JsonPath::parse(s) {
                Ok(p) => Template::Path(p),
                Err(e) => {
                    c.push(pointer, format!("invalid path: {e}"));
                    Template::Const(Value::Null)
                }
            }
        }
    }

    /// Compiles a JSONata-mode template: any string `{% ... %}` at any depth is an expression.
    pub fn jsonata(v: &Value, pointer: &str, c: &mut Collector) -> Template {
        match v {
            Value::String(s) if jsonata_body(s).is_some() => match compile_jsonata(s, pointer, c) {
                Some(e) => Template::Jsonata(e),
                None => Template::Const(Value::Null),
            },
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                let mut dynamic = false;
                for (k, val) in m {
                    let t = Template::jsonata(val, &ptr(pointer, k), c);
                    dynamic |= !matches!(t, Template::Const(_));
                    fields.push((k.clone(), t, false));
                }
                if dynamic {
                    Template::Object(fields)
                } else {
                    Template::Const(v.clone())
                }
            }
            Value::Array(a) => Template::array(v, a, pointer, c, Template::jsonata),
            other => Template::Const(other.clone()),
        }
    }

    /// True when evaluating needs the context object.
    pub fn uses_context(&self) -> bool {
        match self {
            Template::Const(_) => false,
            Template::Path(p) => matches!(p.root(), crate::path::Root::Context),
            Template::Intrinsic(i) => {
                let mut ps = Vec::new();
                i.paths(&mut ps);
                ps.iter()
                    .any(|p| matches!(p.root(), crate::path::Root::Context))
            }
            Template::Jsonata(j) => j.uses_context,
            Template::Object(f) => f.iter().any(|(_, t, _)| t.uses_context()),
            Template::Array(a) => a.iter().any(Template::uses_context),
        }
    }
}

/// An empty JSON object.
pub(crate) fn empty_object() -> Value {
    Value::Object(Map::new())
}
