//! The evaluator's value model: JSON values plus JSONata's sequences (arrays with flags),
//! `undefined` and functions.

use std::rc::Rc;

use indexmap::IndexMap;

use crate::ast::Node;
use crate::error::{Error, err};

pub(crate) type Map<'a> = IndexMap<String, Value<'a>>;

/// The result of evaluating to a value.
pub(crate) type R<'a> = Result<Value<'a>, Error>;

/// A built-in function: its place in the standard library's table (`functions::builtin`).
/// Only `functions::lookup_native` makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Native(pub(crate) usize);

/// An array with JSONata's hidden flags.
#[derive(Clone, Debug, Default)]
pub(crate) struct Array<'a> {
    pub items: Vec<Value<'a>>,
    pub sequence: bool,
    pub cons: bool,
    pub keep_singleton: bool,
    pub outer_wrapper: bool,
    pub tuple_stream: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Value<'a> {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(Rc<str>),
    Array(Rc<Array<'a>>),
    Object(Rc<Map<'a>>),
    Func(Rc<Func<'a>>),
}

/// Function values.
#[derive(Debug)]
pub(crate) enum Func<'a> {
    Lambda {
        node: &'a Node,
        params: Vec<String>,
        body: &'a Node,
        input: Value<'a>,
        env: usize,
        signature: bool,
    },
    Native(Native),
    /// A native function partially applied: `None` marks a `?` placeholder.
    PartialNative {
        native: Native,
        args: Vec<Option<Value<'a>>>,
    },
    Transform {
        node: &'a Node,
        env: usize,
    },
    Chain {
        f: Value<'a>,
        g: Value<'a>,
    },
    Regex(Rc<regex::Regex>),
}

impl<'a> Value<'a> {
    pub fn str(s: &str) -> Self {
        Value::String(Rc::from(s))
    }
    pub fn string(s: String) -> Self {
        Value::String(Rc::from(s))
    }
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }
    pub fn is_function(&self) -> bool {
        matches!(self, Value::Func(_))
    }
    pub fn seq(items: Vec<Value<'a>>) -> Self {
        Value::Array(Rc::new(Array {
            items,
            sequence: true,
            ..Array::default()
        }))
    }
    pub fn plain(items: Vec<Value<'a>>) -> Self {
        Value::Array(Rc::new(Array {
            items,
            ..Array::default()
        }))
    }
    pub fn arr(a: Array<'a>) -> Self {
        Value::Array(Rc::new(a))
    }
    pub fn obj(m: Map<'a>) -> Self {
        Value::Object(Rc::new(m))
    }
    /// Items when an array, else a one-element slice view (cloned).
    pub fn to_items(&self) -> Vec<Value<'a>> {
        match self {
            Value::Array(a) => a.items.clone(),
            Value::Undefined => vec![],
            v => vec![v.clone()],
        }
    }
    pub fn num(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
    pub fn type_symbol(&self) -> char {
        match self {
            Value::Undefined => 'm',
            Value::Null => 'l',
            Value::Bool(_) => 'b',
            Value::Number(_) => 'n',
            Value::String(_) => 's',
            Value::Array(_) => 'a',
            Value::Object(_) => 'o',
            Value::Func(_) => 'f',
        }
    }
}

impl<'a> Array<'a> {
    pub fn seq() -> Self {
        Array {
            sequence: true,
            ..Array::default()
        }
    }
    pub fn push(&mut self, v: Value<'a>) {
        if !v.is_undefined() {
            self.items.push(v);
        }
    }
}

/// `isNumeric`: a non-NaN number; infinite numbers raise D1001.
pub(crate) fn numeric(v: &Value) -> Result<Option<f64>, Error> {
    match v {
        Value::Number(n) if !n.is_nan() => {
            if n.is_infinite() {
                Err(err("D1001", "Number out of range"))
            } else {
                Ok(Some(*n))
            }
        }
        _ => Ok(None),
    }
}

/// JSONata's deep equality (functions are equal only when they are the same function). Never
/// called with `undefined`: `=` and `$distinct` see none.
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.items.len() == y.items.len()
                && x.items
                    .iter()
                    .zip(y.items.iter())
                    .all(|(p, q)| deep_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Func(x), Value::Func(y)) => same_function(x, y),
        _ => false,
    }
}

/// Function values are equal as JavaScript's `===` compares them in the reference: the same
/// closure, or the same built-in (every `$sum` names one function).
fn same_function(x: &Rc<Func<'_>>, y: &Rc<Func<'_>>) -> bool {
    Rc::ptr_eq(x, y) || matches!((&**x, &**y), (Func::Native(p), Func::Native(q)) if p == q)
}

/// Strict equality as JavaScript's `===` (used by `in`).
pub(crate) fn strict_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => Rc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Rc::ptr_eq(x, y),
        (Value::Func(x), Value::Func(y)) => same_function(x, y),
        _ => false,
    }
}

/// Converts an input document, failing never: numbers become f64.
pub(crate) fn from_json<'a>(v: &serde_json::Value) -> Value<'a> {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(a) => Value::plain(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Value::obj(
            o.iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<Map>(),
        ),
    }
}

/// 2^63: integral numbers below it in magnitude convert to `i64` exactly.
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

pub(crate) fn number_to_json(n: f64) -> serde_json::Value {
    if !n.is_finite() {
        return serde_json::Value::Null;
    }
    if n.fract() == 0.0 && n.abs() < I64_BOUND {
        // integral: keep it an integer in JSON
        return serde_json::Value::from(n as i64);
    }
    serde_json::Number::from_f64(n)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// `v` as JSON text, as the reference's messages show a value; `None` where JSON has no text
/// (`undefined`, a function).
pub(crate) fn json_text(v: &Value) -> Option<String> {
    to_json(v).map(|j| j.to_string())
}

/// Converts a result to JSON the way `JSON.stringify` would (functions dropped in objects,
/// `null` in arrays; `undefined` dropped from objects).
pub(crate) fn to_json(v: &Value) -> Option<serde_json::Value> {
    Some(match v {
        Value::Undefined | Value::Func(_) => return None,
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => number_to_json(*n),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Array(a) => serde_json::Value::Array(
            a.items
                .iter()
                .map(|x| to_json(x).unwrap_or(serde_json::Value::Null))
                .collect(),
        ),
        Value::Object(o) => {
            let mut m = serde_json::Map::new();
            for (k, x) in o.iter() {
                if let Some(j) = to_json(x) {
                    m.insert(k.clone(), j);
                }
            }
            serde_json::Value::Object(m)
        }
    })
}

/// JavaScript's `Number.prototype.toString()` for finite numbers.
pub(crate) fn js_number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", n);
    let (mant, exp) = match sci.split_once('e') {
        Some(p) => p,
        None => return sci,
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let k = digits.len() as i32;
    let sign = if neg { "-" } else { "" };
    // JS: n = exp + 1 is the decimal point position
    let point = exp + 1;
    let body = if k <= point && point <= 21 {
        format!("{}{}", digits, "0".repeat((point - k) as usize))
    } else if 0 < point && point <= 21 {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    } else if -6 < point && point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else {
        let e = point - 1;
        let es = if e >= 0 {
            format!("+{e}")
        } else {
            format!("{e}")
        };
        if k == 1 {
            format!("{digits}e{es}")
        } else {
            let (a, b) = digits.split_at(1);
            format!("{a}.{b}e{es}")
        }
    };
    format!("{sign}{body}")
}

/// `Number(n.toPrecision(15))` as JSONata applies before stringifying non-integers.
pub(crate) fn to_precision_15(n: f64) -> f64 {
    if !n.is_finite() || n.fract() == 0.0 {
        return n;
    }
    format!("{:.14e}", n).parse::<f64>().unwrap_or(n)
}

/// The size of `v` as compact JSON is at most `limit` bytes (strings and keys counted without
/// their escapes, numbers as at most 24 bytes). Walks without recursion and stops at the limit,
/// so a result that shares one large string many times is refused before it is expanded.
pub(crate) fn json_size_within(v: &Value<'_>, limit: usize) -> bool {
    let mut size = 0usize;
    let mut stack: Vec<&Value<'_>> = vec![v];
    while let Some(v) = stack.pop() {
        size = size.saturating_add(match v {
            Value::Undefined | Value::Func(_) => 0,
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 24,
            Value::String(s) => s.len() + 2,
            Value::Array(a) => {
                stack.extend(a.items.iter());
                delimiters(a.items.len())
            }
            Value::Object(m) => {
                let mut n = delimiters(m.len());
                for (k, x) in m.iter() {
                    n += k.len() + 3;
                    stack.push(x);
                }
                n
            }
        });
        if size > limit {
            return false;
        }
    }
    true
}

/// The brackets and the commas around `len` items: `[a,b]` has three, `[]` two.
fn delimiters(len: usize) -> usize {
    len.saturating_sub(1) + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_numbers_when_formatted_then_match_javascript() {
        let cases = [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (123456.789, "123456.789"),
            (-0.0, "0"),
            (2.5e-5, "0.000025"),
        ];
        for (n, s) in cases {
            assert_eq!(js_number_to_string(n), s, "{n}");
        }
    }

    #[test]
    fn non_finite_numbers_are_formatted_as_javascript_does() {
        assert_eq!(js_number_to_string(f64::INFINITY), "Infinity");
        assert_eq!(js_number_to_string(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(js_number_to_string(f64::NAN), "NaN");
    }

    /// Integral numbers are JSON integers while `i64` holds them exactly; 2^63 is not held (it
    /// would become `i64::MAX`, another integer), so it stays a float.
    #[test]
    fn integral_numbers_below_2_pow_63_are_json_integers_and_2_pow_63_a_float() {
        let below = 9_223_372_036_854_774_784.0; // the largest f64 under 2^63
        assert_eq!(
            number_to_json(below),
            serde_json::json!(9_223_372_036_854_774_784_i64)
        );
        assert_eq!(
            number_to_json(-below),
            serde_json::json!(-9_223_372_036_854_774_784_i64)
        );
        let at = number_to_json(I64_BOUND);
        assert!(at.is_f64(), "{at}");
        assert_eq!(at.as_f64(), Some(I64_BOUND));
        assert_eq!(number_to_json(3.0), serde_json::json!(3));
        assert!(number_to_json(2.5).is_f64());
    }

    #[test]
    fn given_non_integer_when_precision_15_then_rounds() {
        assert_eq!(to_precision_15(0.1 + 0.2), 0.3);
    }
}
