//! The standard library and the AWS Step Functions extras.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::OnceLock;

use base64::Engine;
use rand::Rng;
use sha2::Digest;

use crate::error::{Error, check_string_len, err};
use crate::eval::{Ctx, R, js_str_cmp, merge_sort, numeric};
use crate::signature::Signature;
use crate::value::{
    Array, Func, Map, Value, deep_equal, from_json, js_number_to_string, to_json, to_precision_15,
};

macro_rules! natives {
    ($( $variant:ident => $name:literal, $sig:literal, $arity:literal, $aws:literal; )*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum Native { $( $variant, )* }
        const TABLE: &[(Native, &str, &str, usize, bool)] = &[ $( (Native::$variant, $name, $sig, $arity, $aws), )* ];
    };
}

natives! {
    Sum => "sum", "<a<n>:n>", 1, false;
    Count => "count", "<a:n>", 1, false;
    Max => "max", "<a<n>:n>", 1, false;
    Min => "min", "<a<n>:n>", 1, false;
    Average => "average", "<a<n>:n>", 1, false;
    String => "string", "<x-b?:s>", 1, false;
    Substring => "substring", "<s-nn?:s>", 3, false;
    SubstringBefore => "substringBefore", "<s-s:s>", 2, false;
    SubstringAfter => "substringAfter", "<s-s:s>", 2, false;
    Lowercase => "lowercase", "<s-:s>", 1, false;
    Uppercase => "uppercase", "<s-:s>", 1, false;
    Length => "length", "<s-:n>", 1, false;
    Trim => "trim", "<s-:s>", 1, false;
    Pad => "pad", "<s-ns?:s>", 3, false;
    Match => "match", "<s-f<s:o>n?:a<o>>", 3, false;
    Contains => "contains", "<s-(sf):b>", 2, false;
    Replace => "replace", "<s-(sf)(sf)n?:s>", 4, false;
    Split => "split", "<s-(sf)n?:a<s>>", 3, false;
    Join => "join", "<a<s>s?:s>", 2, false;
    FormatNumber => "formatNumber", "<n-so?:s>", 3, false;
    FormatBase => "formatBase", "<n-n?:s>", 2, false;
    Number => "number", "<(nsb)-:n>", 1, false;
    Floor => "floor", "<n-:n>", 1, false;
    Ceil => "ceil", "<n-:n>", 1, false;
    Round => "round", "<n-n?:n>", 2, false;
    Abs => "abs", "<n-:n>", 1, false;
    Sqrt => "sqrt", "<n-:n>", 1, false;
    Power => "power", "<n-n:n>", 2, false;
    Random => "random", "<:n>", 0, false;
    Boolean => "boolean", "<x-:b>", 1, false;
    Not => "not", "<x-:b>", 1, false;
    Map => "map", "<af>", 2, false;
    Zip => "zip", "<a+>", 0, false;
    Filter => "filter", "<af>", 2, false;
    Single => "single", "<af?>", 2, false;
    Reduce => "reduce", "<afj?:j>", 3, false;
    Sift => "sift", "<o-f?:o>", 2, false;
    Keys => "keys", "<x-:a<s>>", 1, false;
    Lookup => "lookup", "<x-s:x>", 2, false;
    Append => "append", "<xx:a>", 2, false;
    Exists => "exists", "<x:b>", 1, false;
    Spread => "spread", "<x-:a<o>>", 1, false;
    Merge => "merge", "<a<o>:o>", 1, false;
    Reverse => "reverse", "<a:a>", 1, false;
    Each => "each", "<o-f:a>", 2, false;
    ErrorFn => "error", "<s?:x>", 1, false;
    Assert => "assert", "<bs?:x>", 2, false;
    Type => "type", "<x:s>", 1, false;
    Sort => "sort", "<af?:a>", 2, false;
    Shuffle => "shuffle", "<a:a>", 1, false;
    Distinct => "distinct", "<x:x>", 1, false;
    Base64Encode => "base64encode", "<s-:s>", 1, false;
    Base64Decode => "base64decode", "<s-:s>", 1, false;
    EncodeUrlComponent => "encodeUrlComponent", "<s-:s>", 1, false;
    EncodeUrl => "encodeUrl", "<s-:s>", 1, false;
    DecodeUrlComponent => "decodeUrlComponent", "<s-:s>", 1, false;
    DecodeUrl => "decodeUrl", "<s-:s>", 1, false;
    ToMillis => "toMillis", "<s-s?:n>", 2, false;
    FromMillis => "fromMillis", "<n-s?s?:s>", 3, false;
    Clone => "clone", "<(oa)-:o>", 1, false;
    Now => "now", "<s?s?:s>", 2, false;
    Millis => "millis", "<:n>", 0, false;
    Partition => "partition", "<an:a>", 2, true;
    Range => "range", "<nnn?:a>", 3, true;
    Hash => "hash", "<s-s?:s>", 2, true;
    AwsRandom => "random", "<n?:n>", 1, true;
    Uuid => "uuid", "<:s>", 0, true;
    Parse => "parse", "<s-:j>", 1, true;
}

/// Finds a built-in function by name (`$eval` is deliberately absent).
pub(crate) fn lookup_native(name: &str, aws: bool) -> Option<Native> {
    if aws {
        if let Some(e) = TABLE.iter().find(|e| e.4 && e.1 == name) {
            return Some(e.0);
        }
    }
    TABLE.iter().find(|e| !e.4 && e.1 == name).map(|e| e.0)
}

pub(crate) fn arity(n: Native) -> usize {
    TABLE.iter().find(|e| e.0 == n).map(|e| e.3).unwrap_or(0)
}

fn name_of(n: Native) -> &'static str {
    TABLE.iter().find(|e| e.0 == n).map(|e| e.1).unwrap_or("")
}

pub(crate) fn signature(n: Native) -> &'static Signature {
    static SIGS: OnceLock<HashMap<Native, Signature>> = OnceLock::new();
    let map = SIGS.get_or_init(|| {
        TABLE
            .iter()
            .filter_map(|e| Signature::parse(e.2).ok().map(|s| (e.0, s)))
            .collect()
    });
    static EMPTY: OnceLock<Signature> = OnceLock::new();
    map.get(&n).unwrap_or_else(|| {
        EMPTY.get_or_init(|| {
            // "<x*>" never fails to parse; fall back to an accept-anything signature
            Signature::parse("<x?x?x?x?>").unwrap_or_else(|_| unreachable_signature())
        })
    })
}

#[allow(clippy::panic)]
fn unreachable_signature() -> Signature {
    // Signature::parse of a constant that is known to be valid; covered by unit tests.
    panic!("constant signature failed to parse")
}

/// The arity a higher-order function sees (JavaScript's `function.length`).
pub(crate) fn func_arity(f: &Value) -> usize {
    match f {
        Value::Func(f) => match &**f {
            Func::Lambda { params, .. } => params.len(),
            Func::Native(n) => arity(*n),
            Func::PartialNative { args, .. } => args.iter().filter(|a| a.is_none()).count(),
            Func::Transform { .. } => 1,
            Func::Chain { .. } => 1,
            Func::Regex(_) => 2,
        },
        _ => 0,
    }
}

// ------------------------------------------------------------------ helpers

pub(crate) fn lookup<'a>(input: &Value<'a>, key: &str) -> Value<'a> {
    match input {
        Value::Array(a) => {
            let mut out = Array::seq();
            for item in a.items.iter() {
                match lookup(item, key) {
                    Value::Undefined => {}
                    Value::Array(r) => out.items.extend(r.items.iter().cloned()),
                    v => out.items.push(v),
                }
            }
            Value::arr(out)
        }
        Value::Object(m) => m.get(key).cloned().unwrap_or(Value::Undefined),
        _ => Value::Undefined,
    }
}

/// Effective boolean value; `None` for undefined.
pub(crate) fn boolean(v: &Value) -> Result<Option<bool>, Error> {
    Ok(Some(match v {
        Value::Undefined => return Ok(None),
        Value::Array(a) => {
            if a.items.len() == 1 {
                boolean(&a.items[0])?.unwrap_or(false)
            } else {
                let mut any = false;
                for x in a.items.iter() {
                    if boolean(x)? == Some(true) {
                        any = true;
                    }
                }
                any
            }
        }
        Value::String(s) => !s.is_empty(),
        Value::Number(_) => numeric(v)?.is_some_and(|n| n != 0.0),
        Value::Object(m) => !m.is_empty(),
        Value::Bool(b) => *b,
        Value::Null | Value::Func(_) => false,
    }))
}

/// JavaScript truthiness (used where JSONata relies on it).
fn js_truthy(v: &Value) -> bool {
    match v {
        Value::Undefined | Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

pub(crate) fn append<'a>(a: Value<'a>, b: Value<'a>) -> Value<'a> {
    if a.is_undefined() {
        return b;
    }
    if b.is_undefined() {
        return a;
    }
    let mut items = match a {
        Value::Array(x) => x.items.clone(),
        v => vec![v],
    };
    match b {
        Value::Array(y) => items.extend(y.items.iter().cloned()),
        v => items.push(v),
    }
    Value::plain(items)
}

fn write_json(
    v: &Value,
    out: &mut String,
    indent: Option<usize>,
    level: usize,
) -> Result<(), Error> {
    match v {
        Value::Undefined => out.push_str("null"),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(err("D1001", "Number out of range"));
            }
            out.push_str(&js_number_to_string(to_precision_15(*n)));
        }
        Value::String(s) => out.push_str(&serde_json::Value::String(s.to_string()).to_string()),
        Value::Func(_) => out.push_str("\"\""),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.items.iter().enumerate() {
                check_string_len(out.len())?;
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_json(x, out, indent, level + 1)?;
            }
            if !a.items.is_empty() {
                newline(out, indent, level);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            let mut first = true;
            for (k, x) in m.iter() {
                if x.is_undefined() {
                    continue;
                }
                check_string_len(out.len())?;
                if !first {
                    out.push(',');
                }
                first = false;
                newline(out, indent, level + 1);
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(x, out, indent, level + 1)?;
            }
            if !first {
                newline(out, indent, level);
            }
            out.push('}');
        }
    }
    Ok(())
}

fn newline(out: &mut String, indent: Option<usize>, level: usize) {
    if let Some(n) = indent {
        out.push('\n');
        out.push_str(&" ".repeat(n * level));
    }
}

/// `$string()`: JSON with numbers rounded to 15 significant digits.
pub(crate) fn string(v: &Value, prettify: bool) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s.to_string()),
        Value::Func(_) => Ok(String::new()),
        Value::Number(n) if !n.is_finite() => Err(err(
            "D3001",
            "Attempting to invoke string function on Infinity or NaN",
        )),
        Value::Undefined => Ok(String::new()),
        _ => {
            let v = match v {
                Value::Array(a) if a.outer_wrapper => a.items.first().unwrap_or(v),
                _ => v,
            };
            let mut out = String::new();
            write_json(v, &mut out, if prettify { Some(2) } else { None }, 0)?;
            check_string_len(out.len())?;
            Ok(out)
        }
    }
}

/// Deep copy through JSON, as JSONata's `$clone`.
pub(crate) fn clone_value<'a>(v: &Value<'a>) -> R<'a> {
    let s = string(v, false)?;
    let j: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| err("D3001", format!("clone failed: {e}")))?;
    Ok(from_json(&j))
}

fn chars_of(s: &str) -> Vec<char> {
    s.chars().collect()
}

fn arg<'a>(args: &[Value<'a>], i: usize) -> Value<'a> {
    args.get(i).cloned().unwrap_or(Value::Undefined)
}

fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

pub(crate) fn round_half_even(arg: f64, precision: Option<f64>) -> f64 {
    let p = precision.unwrap_or(0.0).trunc();
    let shift = |x: f64, by: f64| -> f64 {
        if by == 0.0 {
            return x;
        }
        let s = js_number_to_string(x);
        let (m, e) = match s.split_once('e') {
            Some((m, e)) => (m.to_string(), e.parse::<f64>().unwrap_or(0.0)),
            None => (s, 0.0),
        };
        format!("{m}e{}", e + by).parse::<f64>().unwrap_or(f64::NAN)
    };
    let a = shift(arg, p);
    let mut result = js_round(a);
    let diff = result - a;
    if diff.abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    let mut result = shift(result, -p);
    if result == 0.0 {
        result = 0.0;
    }
    result
}

// ------------------------------------------------------------------ regex

#[derive(Debug, Clone)]
pub(crate) struct RegexMatch {
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub start_char: usize,
    pub groups: Vec<Option<String>>,
}

impl RegexMatch {
    pub fn to_value<'a>(&self) -> Value<'a> {
        let mut m = Map::new();
        m.insert("match".into(), Value::str(&self.text));
        m.insert("start".into(), Value::Number(self.start_char as f64));
        m.insert(
            "end".into(),
            Value::Number((self.start_char + self.text.chars().count()) as f64),
        );
        m.insert(
            "groups".into(),
            Value::plain(
                self.groups
                    .iter()
                    .map(|g| match g {
                        Some(s) => Value::str(s),
                        None => Value::Undefined,
                    })
                    .collect(),
            ),
        );
        Value::obj(m)
    }
}

/// Iterates matches the way JSONata drives a global JavaScript regex.
pub(crate) struct RegexIter {
    re: Rc<regex::Regex>,
    s: Rc<str>,
    last: Option<usize>,
    done: bool,
}

impl RegexIter {
    pub fn new(re: Rc<regex::Regex>, s: Rc<str>) -> Self {
        RegexIter {
            re,
            s,
            last: None,
            done: false,
        }
    }
    pub fn next_match(&mut self) -> Result<Option<RegexMatch>, Error> {
        if self.done {
            return Ok(None);
        }
        let from = match self.last {
            None => 0,
            Some(l) => {
                if l >= self.s.len() {
                    self.done = true;
                    return Ok(None);
                }
                l
            }
        };
        let caps = match self.re.captures_at(&self.s, from) {
            Some(c) => c,
            None => {
                self.done = true;
                return Ok(None);
            }
        };
        let m0 = match caps.get(0) {
            Some(m) => m,
            None => {
                self.done = true;
                return Ok(None);
            }
        };
        if self.last.is_some() && m0.as_str().is_empty() {
            return Err(err(
                "D1004",
                "Regular expression matches zero length string",
            ));
        }
        self.last = Some(m0.end());
        let groups = (1..caps.len())
            .map(|i| caps.get(i).map(|g| g.as_str().to_string()))
            .collect();
        Ok(Some(RegexMatch {
            text: m0.as_str().to_string(),
            start: m0.start(),
            end: m0.end(),
            start_char: self
                .s
                .get(..m0.start())
                .map(|p| p.chars().count())
                .unwrap_or(0),
            groups,
        }))
    }
}

fn regex_of(v: &Value) -> Option<Rc<regex::Regex>> {
    match v {
        Value::Func(f) => match &**f {
            Func::Regex(r) => Some(r.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Runs a user-supplied matcher function (not a regex) and converts its result.
fn custom_matcher_unsupported() -> Error {
    err(
        "T1010",
        "The matcher function argument passed to function does not return the correct object structure",
    )
}

// ------------------------------------------------------------------ dispatch

fn sequence_of<'a>(items: Vec<Value<'a>>) -> Value<'a> {
    Value::seq(items)
}

/// Calls a higher-order function's callback as `$map`, `$filter`, `$each` and the like do:
/// with the value, its index or key, and the whole input, cut to the callback's arity.
fn call_back<'a>(
    ctx: &Ctx<'a>,
    f: &Value<'a>,
    value: Value<'a>,
    key: Value<'a>,
    whole: Value<'a>,
) -> R<'a> {
    ctx.apply(f, hof_args(f, value, key, whole), &Value::Null)
}

fn hof_args<'a>(f: &Value<'a>, a1: Value<'a>, a2: Value<'a>, a3: Value<'a>) -> Vec<Value<'a>> {
    let n = func_arity(f);
    let mut v = vec![a1];
    if n >= 2 {
        v.push(a2);
    }
    if n >= 3 {
        v.push(a3);
    }
    v
}

fn num_items(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.items.iter().filter_map(|x| x.num()).collect(),
        Value::Number(n) => vec![*n],
        _ => vec![],
    }
}

pub(crate) fn call<'a>(ctx: &Ctx<'a>, n: Native, args: Vec<Value<'a>>, input: &Value<'a>) -> R<'a> {
    let _ = input;
    let a0 = arg(&args, 0);
    let a1 = arg(&args, 1);
    let a2 = arg(&args, 2);
    let u = Value::Undefined;
    Ok(match n {
        Native::Sum => match &a0 {
            Value::Undefined => u,
            v => Value::Number(num_items(v).iter().sum()),
        },
        Native::Count => match &a0 {
            Value::Undefined => Value::Number(0.0),
            Value::Array(a) => Value::Number(a.items.len() as f64),
            _ => Value::Number(1.0),
        },
        Native::Max | Native::Min | Native::Average => {
            let nums = num_items(&a0);
            if a0.is_undefined() || nums.is_empty() {
                u
            } else {
                Value::Number(match n {
                    Native::Max => nums.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                    Native::Min => nums.iter().cloned().fold(f64::INFINITY, f64::min),
                    _ => nums.iter().sum::<f64>() / nums.len() as f64,
                })
            }
        }
        Native::String => match &a0 {
            Value::Undefined => u,
            v => Value::string(string(v, boolean(&a1)?.unwrap_or(false))?),
        },
        Native::Substring => match &a0 {
            Value::String(s) => {
                let chars = chars_of(s);
                let len = chars.len() as f64;
                let mut start = a1.num().unwrap_or(0.0);
                if len + start < 0.0 {
                    start = 0.0;
                }
                let slice = |from: f64, to: f64| -> Value<'a> {
                    let norm = |x: f64| -> usize {
                        let x = x.trunc();
                        if x < 0.0 {
                            (len + x).max(0.0) as usize
                        } else {
                            x.min(len) as usize
                        }
                    };
                    let (a, b) = (norm(from), norm(to));
                    if b <= a {
                        Value::str("")
                    } else {
                        Value::string(chars[a..b].iter().collect())
                    }
                };
                match a2.num() {
                    Some(l) if l <= 0.0 => Value::str(""),
                    Some(l) => {
                        let end = if start >= 0.0 {
                            start + l
                        } else {
                            len + start + l
                        };
                        slice(start, end)
                    }
                    None => slice(start, len),
                }
            }
            _ => u,
        },
        Native::SubstringBefore => match (&a0, &a1) {
            (Value::String(s), Value::String(c)) => match s.find(&**c) {
                Some(i) => Value::str(&s[..i]),
                None => a0.clone(),
            },
            (Value::String(_), _) => a0.clone(),
            _ => u,
        },
        Native::SubstringAfter => match (&a0, &a1) {
            (Value::String(s), Value::String(c)) => match s.find(&**c) {
                Some(i) => Value::str(&s[i + c.len()..]),
                None => a0.clone(),
            },
            (Value::String(_), _) => a0.clone(),
            _ => u,
        },
        Native::Lowercase => match &a0 {
            Value::String(s) => Value::string(s.to_lowercase()),
            _ => u,
        },
        Native::Uppercase => match &a0 {
            Value::String(s) => Value::string(s.to_uppercase()),
            _ => u,
        },
        Native::Length => match &a0 {
            Value::String(s) => Value::Number(s.chars().count() as f64),
            _ => u,
        },
        Native::Trim => match &a0 {
            Value::String(s) => {
                let mut out = String::new();
                let mut in_ws = false;
                for c in s.chars() {
                    if matches!(c, ' ' | '\t' | '\n' | '\r') {
                        if !in_ws {
                            out.push(' ');
                        }
                        in_ws = true;
                    } else {
                        out.push(c);
                        in_ws = false;
                    }
                }
                let t = out.strip_prefix(' ').unwrap_or(&out);
                let t = t.strip_suffix(' ').unwrap_or(t);
                Value::str(t)
            }
            _ => u,
        },
        Native::Pad => match &a0 {
            Value::String(s) => {
                let width = a1.num().unwrap_or(0.0).trunc();
                let pad_char = match &a2 {
                    Value::String(c) if !c.is_empty() => c.to_string(),
                    _ => " ".to_string(),
                };
                let len = s.chars().count() as f64;
                let pad_len = width.abs() - len;
                if pad_len > 1e7 {
                    return Err(err(
                        "D2014",
                        "The padded string would be longer than 1e7 characters",
                    ));
                }
                if pad_len > 0.0 {
                    let pad_len = pad_len as usize;
                    let padding: String = pad_char.chars().cycle().take(pad_len).collect();
                    if width > 0.0 {
                        Value::string(format!("{s}{padding}"))
                    } else {
                        Value::string(format!("{padding}{s}"))
                    }
                } else {
                    a0.clone()
                }
            }
            _ => u,
        },
        Native::Match => match &a0 {
            Value::String(s) => {
                let limit = a2.num();
                if limit.is_some_and(|l| l < 0.0) {
                    return Err(err(
                        "D3040",
                        "Third argument of match function must evaluate to a positive number",
                    ));
                }
                let re = regex_of(&a1).ok_or_else(custom_matcher_unsupported)?;
                let mut out = Vec::new();
                if limit.is_none_or(|l| l > 0.0) {
                    let mut it = RegexIter::new(re, s.clone());
                    let mut m = it.next_match()?;
                    let mut count = 0.0;
                    while let Some(x) = m {
                        if limit.is_some_and(|l| count >= l) {
                            break;
                        }
                        let mut o = Map::new();
                        o.insert("match".into(), Value::str(&x.text));
                        o.insert("index".into(), Value::Number(x.start_char as f64));
                        o.insert(
                            "groups".into(),
                            Value::plain(
                                x.groups
                                    .iter()
                                    .map(|g| match g {
                                        Some(s) => Value::str(s),
                                        None => Value::Undefined,
                                    })
                                    .collect(),
                            ),
                        );
                        out.push(Value::obj(o));
                        m = it.next_match()?;
                        count += 1.0;
                    }
                }
                sequence_of(out)
            }
            _ => u,
        },
        Native::Contains => match (&a0, &a1) {
            (Value::Undefined, _) | (_, Value::Undefined) => u,
            (Value::String(s), Value::String(t)) => Value::Bool(s.contains(&**t)),
            (Value::String(s), f) => {
                let re = regex_of(f).ok_or_else(custom_matcher_unsupported)?;
                let mut it = RegexIter::new(re, s.clone());
                Value::Bool(it.next_match()?.is_some())
            }
            _ => u,
        },
        Native::Replace => replace(ctx, &a0, &a1, &a2, &arg(&args, 3))?,
        Native::Split => match &a0 {
            Value::String(s) => {
                let limit = a2.num();
                if limit.is_some_and(|l| l < 0.0) {
                    return Err(err(
                        "D3020",
                        "Third argument of split function must evaluate to a positive number",
                    ));
                }
                let mut out: Vec<Value> = Vec::new();
                if limit.is_none_or(|l| l > 0.0) {
                    match &a1 {
                        Value::String(sep) => {
                            let parts: Vec<String> = if sep.is_empty() {
                                s.chars().map(|c| c.to_string()).collect()
                            } else {
                                s.split(&**sep).map(str::to_string).collect()
                            };
                            for p in parts {
                                if limit.is_some_and(|l| out.len() as f64 >= l) {
                                    break;
                                }
                                out.push(Value::string(p));
                            }
                        }
                        f => {
                            let re = regex_of(f).ok_or_else(custom_matcher_unsupported)?;
                            let mut it = RegexIter::new(re, s.clone());
                            let mut m = it.next_match()?;
                            if m.is_none() {
                                out.push(a0.clone());
                            } else {
                                let mut start = 0usize;
                                let mut count = 0.0;
                                while let Some(x) = m {
                                    if limit.is_some_and(|l| count >= l) {
                                        break;
                                    }
                                    out.push(Value::str(s.get(start..x.start).unwrap_or("")));
                                    start = x.end;
                                    m = it.next_match()?;
                                    count += 1.0;
                                }
                                if limit.is_none_or(|l| count < l) {
                                    out.push(Value::str(s.get(start..).unwrap_or("")));
                                }
                            }
                        }
                    }
                }
                Value::plain(out)
            }
            _ => u,
        },
        Native::Join => match &a0 {
            Value::Undefined => u,
            v => {
                let sep = match &a1 {
                    Value::String(s) => s.to_string(),
                    _ => String::new(),
                };
                let items = v.to_items();
                let total = items
                    .iter()
                    .map(|x| match x {
                        Value::String(s) => s.len(),
                        _ => 0,
                    })
                    .fold(0usize, |t, n| t.saturating_add(n).saturating_add(sep.len()));
                check_string_len(total)?;
                let parts: Vec<String> = items
                    .iter()
                    .map(|x| match x {
                        Value::String(s) => s.to_string(),
                        _ => String::new(),
                    })
                    .collect();
                Value::string(parts.join(&sep))
            }
        },
        Native::FormatNumber => match &a0 {
            Value::Number(x) => {
                let pic = match &a1 {
                    Value::String(s) => s.to_string(),
                    _ => String::new(),
                };
                Value::string(crate::format::format_number(*x, &pic, &a2)?)
            }
            _ => u,
        },
        Native::FormatBase => match &a0 {
            Value::Number(x) => {
                let v = round_half_even(*x, None);
                let radix = match a1.num() {
                    Some(r) => round_half_even(r, None),
                    None => 10.0,
                };
                if !(2.0..=36.0).contains(&radix) {
                    return Err(err(
                        "D3100",
                        format!(
                            "The radix of the formatBase function must be between 2 and 36.  It was given {}",
                            js_number_to_string(radix)
                        ),
                    ));
                }
                Value::string(to_radix(v, radix as u32))
            }
            _ => u,
        },
        Native::Number => to_number(&a0)?,
        Native::Floor => a0.num().map(|x| Value::Number(x.floor())).unwrap_or(u),
        Native::Ceil => a0.num().map(|x| Value::Number(x.ceil())).unwrap_or(u),
        Native::Abs => a0.num().map(|x| Value::Number(x.abs())).unwrap_or(u),
        Native::Round => match a0.num() {
            Some(x) => Value::Number(round_half_even(x, a1.num())),
            None => u,
        },
        Native::Sqrt => match a0.num() {
            Some(x) if x < 0.0 => {
                return Err(err(
                    "D3060",
                    format!(
                        "The sqrt function cannot be applied to a negative number: {}",
                        js_number_to_string(x)
                    ),
                ));
            }
            Some(x) => Value::Number(x.sqrt()),
            None => u,
        },
        Native::Power => match (a0.num(), a1.num()) {
            (Some(b), Some(e)) => {
                let r = b.powf(e);
                if !r.is_finite() {
                    return Err(err(
                        "D3061",
                        "The power function has resulted in a value that cannot be represented as a JSON number",
                    ));
                }
                Value::Number(r)
            }
            _ => u,
        },
        Native::Random => Value::Number(ctx.random()),
        Native::Boolean => match boolean(&a0)? {
            Some(b) => Value::Bool(b),
            None => u,
        },
        Native::Not => match boolean(&a0)? {
            Some(b) => Value::Bool(!b),
            None => u,
        },
        Native::Map => match &a0 {
            Value::Undefined => u,
            arr => {
                let items = arr.to_items();
                let mut out = Vec::new();
                for (i, x) in items.iter().enumerate() {
                    let r = call_back(ctx, &a1, x.clone(), Value::Number(i as f64), arr.clone())?;
                    if !r.is_undefined() {
                        out.push(r);
                    }
                }
                sequence_of(out)
            }
        },
        Native::Zip => {
            let lists: Vec<Vec<Value>> = args
                .iter()
                .map(|a| match a {
                    Value::Array(x) => x.items.clone(),
                    _ => vec![],
                })
                .collect();
            let len = lists.iter().map(|l| l.len()).min().unwrap_or(0);
            let out = (0..len)
                .map(|i| Value::plain(lists.iter().map(|l| l[i].clone()).collect()))
                .collect();
            Value::plain(out)
        }
        Native::Filter => match &a0 {
            Value::Undefined => u,
            arr => {
                let items = arr.to_items();
                let mut out = Vec::new();
                for (i, x) in items.iter().enumerate() {
                    let r = call_back(ctx, &a1, x.clone(), Value::Number(i as f64), arr.clone())?;
                    if boolean(&r)? == Some(true) {
                        out.push(x.clone());
                    }
                }
                sequence_of(out)
            }
        },
        Native::Single => match &a0 {
            Value::Undefined => u,
            arr => {
                let items = arr.to_items();
                let mut found: Option<Value> = None;
                for (i, x) in items.iter().enumerate() {
                    let ok = if a1.is_undefined() {
                        true
                    } else {
                        let r =
                            call_back(ctx, &a1, x.clone(), Value::Number(i as f64), arr.clone())?;
                        boolean(&r)? == Some(true)
                    };
                    if ok {
                        if found.is_some() {
                            return Err(err(
                                "D3138",
                                "The $single() function expected exactly 1 matching result.  Instead it matched more.",
                            ));
                        }
                        found = Some(x.clone());
                    }
                }
                match found {
                    Some(v) => v,
                    None => {
                        return Err(err(
                            "D3139",
                            "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
                        ));
                    }
                }
            }
        },
        Native::Reduce => match &a0 {
            Value::Undefined => u,
            arr => {
                let items = arr.to_items();
                let ar = func_arity(&a1);
                if ar < 2 {
                    return Err(err(
                        "D3050",
                        "The second argument of reduce function must be a function with at least two arguments",
                    ));
                }
                let (mut acc, start) = if a2.is_undefined() && !items.is_empty() {
                    (items[0].clone(), 1)
                } else {
                    (a2.clone(), 0)
                };
                for (i, x) in items.iter().enumerate().skip(start) {
                    let mut fa = vec![acc, x.clone()];
                    if ar >= 3 {
                        fa.push(Value::Number(i as f64));
                    }
                    if ar >= 4 {
                        fa.push(arr.clone());
                    }
                    acc = ctx.apply(&a1, fa, &Value::Null)?;
                }
                acc
            }
        },
        Native::Sift => match &a0 {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, v) in m.iter() {
                    let r = call_back(ctx, &a1, v.clone(), Value::str(k), a0.clone())?;
                    if boolean(&r)? == Some(true) {
                        out.insert(k.clone(), v.clone());
                    }
                }
                if out.is_empty() { u } else { Value::obj(out) }
            }
            _ => u,
        },
        Native::Keys => keys(&a0),
        Native::Lookup => lookup(
            &a0,
            match &a1 {
                Value::String(s) => s,
                _ => "",
            },
        ),
        Native::Append => append(a0, a1),
        Native::Exists => Value::Bool(!a0.is_undefined()),
        Native::Spread => spread(&a0),
        Native::Merge => match &a0 {
            Value::Undefined => u,
            v => {
                let mut out = Map::new();
                for o in v.to_items() {
                    if let Value::Object(m) = o {
                        for (k, x) in m.iter() {
                            out.insert(k.clone(), x.clone());
                        }
                    }
                }
                Value::obj(out)
            }
        },
        Native::Reverse => match &a0 {
            Value::Array(a) if a.items.len() > 1 => {
                Value::plain(a.items.iter().rev().cloned().collect())
            }
            v => v.clone(),
        },
        Native::Each => match &a0 {
            Value::Object(m) => {
                let mut out = Vec::new();
                for (k, v) in m.iter() {
                    let r = call_back(ctx, &a1, v.clone(), Value::str(k), a0.clone())?;
                    if !r.is_undefined() {
                        out.push(r);
                    }
                }
                sequence_of(out)
            }
            _ => sequence_of(vec![]),
        },
        Native::ErrorFn => {
            let msg = match &a0 {
                Value::String(s) if !s.is_empty() => s.to_string(),
                _ => "$error() function evaluated".to_string(),
            };
            return Err(err("D3137", msg));
        }
        Native::Assert => {
            if !js_truthy(&a0) {
                let msg = match &a1 {
                    Value::String(s) if !s.is_empty() => s.to_string(),
                    _ => "$assert() statement failed".to_string(),
                };
                return Err(err("D3141", msg));
            }
            u
        }
        Native::Type => match &a0 {
            Value::Undefined => u,
            Value::Null => Value::str("null"),
            Value::Number(_) => {
                if numeric(&a0)?.is_some() {
                    Value::str("number")
                } else {
                    Value::str("object")
                }
            }
            Value::String(_) => Value::str("string"),
            Value::Bool(_) => Value::str("boolean"),
            Value::Array(_) => Value::str("array"),
            Value::Func(_) => Value::str("function"),
            Value::Object(_) => Value::str("object"),
        },
        Native::Sort => match &a0 {
            Value::Undefined => u,
            Value::Array(a) if a.items.len() <= 1 => a0.clone(),
            v => {
                let items = v.to_items();
                let sorted = if a1.is_undefined() {
                    let all_num = items.iter().all(|x| matches!(x, Value::Number(_)));
                    let all_str = items.iter().all(|x| matches!(x, Value::String(_)));
                    if !all_num && !all_str {
                        return Err(err(
                            "D3070",
                            "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function",
                        ));
                    }
                    merge_sort(items, &mut |a: &Value, b: &Value| {
                        Ok(match (a, b) {
                            (Value::Number(x), Value::Number(y)) => x > y,
                            (Value::String(x), Value::String(y)) => {
                                js_str_cmp(x, y) == std::cmp::Ordering::Greater
                            }
                            _ => false,
                        })
                    })?
                } else {
                    merge_sort(items, &mut |a: &Value<'a>, b: &Value<'a>| {
                        let r = ctx.apply(&a1, vec![a.clone(), b.clone()], &Value::Null)?;
                        Ok(js_truthy(&r))
                    })?
                };
                Value::plain(sorted)
            }
        },
        Native::Shuffle => match &a0 {
            Value::Array(a) if a.items.len() > 1 => {
                let mut items = a.items.clone();
                let mut rng = ctx.rng.borrow_mut();
                for i in (1..items.len()).rev() {
                    let j = rng.random_range(0..=i);
                    items.swap(i, j);
                }
                Value::plain(items)
            }
            v => v.clone(),
        },
        Native::Distinct => match &a0 {
            Value::Array(a) if a.items.len() > 1 => {
                let mut out: Vec<Value> = Vec::new();
                for x in a.items.iter() {
                    if !out.iter().any(|y| deep_equal(x, y)) {
                        out.push(x.clone());
                    }
                }
                if a.sequence {
                    Value::seq(out)
                } else {
                    Value::plain(out)
                }
            }
            v => v.clone(),
        },
        Native::Base64Encode => match &a0 {
            Value::String(s) => {
                // Node's Buffer 'binary' encoding keeps the low byte of each UTF-16 unit
                let bytes: Vec<u8> = s.encode_utf16().map(|c| (c & 0xff) as u8).collect();
                Value::string(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            _ => u,
        },
        Native::Base64Decode => match &a0 {
            Value::String(s) => {
                let cleaned: String = s
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
                    .collect();
                let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(cleaned.as_bytes())
                    .unwrap_or_default();
                Value::string(bytes.iter().map(|b| char::from(*b)).collect())
            }
            _ => u,
        },
        Native::EncodeUrlComponent | Native::EncodeUrl => match &a0 {
            Value::String(s) => Value::string(encode_uri(s, n == Native::EncodeUrl)),
            _ => u,
        },
        Native::DecodeUrlComponent | Native::DecodeUrl => match &a0 {
            Value::String(s) => match decode_uri(s, n == Native::DecodeUrl) {
                Some(d) => Value::string(d),
                None => {
                    return Err(err(
                        "D3140",
                        format!("Malformed URL passed to ${}(): {s:?}", name_of(n)),
                    ));
                }
            },
            _ => u,
        },
        Native::ToMillis => match &a0 {
            Value::String(s) => crate::datetime::to_millis(s, &a1)?,
            _ => u,
        },
        Native::FromMillis => match a0.num() {
            Some(ms) => Value::string(crate::datetime::from_millis(ms, &a1, &a2)?),
            None => u,
        },
        Native::Now => Value::string(crate::datetime::from_millis(
            ctx.now_millis as f64,
            &a0,
            &a1,
        )?),
        Native::Millis => Value::Number(ctx.now_millis as f64),
        Native::Clone => match &a0 {
            Value::Undefined => u,
            v => clone_value(v)?,
        },
        Native::Partition => {
            let size = a1.num().unwrap_or(0.0);
            if size < 1.0 || size.fract() != 0.0 {
                return Err(err(
                    "States.QueryEvaluationError",
                    "$partition: the chunk size must be a positive integer",
                ));
            }
            let items = a0.to_items();
            let chunks: Vec<Value> = items
                .chunks(size as usize)
                .map(|c| Value::plain(c.to_vec()))
                .collect();
            Value::plain(chunks)
        }
        Native::Range => {
            let (start, end) = (a0.num().unwrap_or(0.0), a1.num().unwrap_or(0.0));
            let step = a2.num().unwrap_or(1.0);
            if step == 0.0 || !step.is_finite() {
                return Err(err(
                    "States.QueryEvaluationError",
                    "$range: the step must not be zero",
                ));
            }
            let mut out = Vec::new();
            let mut x = start;
            while (step > 0.0 && x <= end) || (step < 0.0 && x >= end) {
                if out.len() >= 1000 {
                    return Err(err(
                        "States.QueryEvaluationError",
                        "$range: the result would have more than 1000 items",
                    ));
                }
                out.push(Value::Number(x));
                x += step;
            }
            // AWS's $range yields a sequence: a single item is the item itself
            // (`$range(1, 9, 9)` is `1`, as recorded on Step Functions).
            if out.len() == 1 {
                out.swap_remove(0)
            } else {
                Value::plain(out)
            }
        }
        Native::Hash => match &a0 {
            Value::String(s) => {
                let algo = match &a1 {
                    Value::String(a) => a.to_string(),
                    _ => "SHA-256".to_string(),
                };
                Value::string(hash(s, &algo)?)
            }
            _ => u,
        },
        Native::AwsRandom => {
            let r = match a0.num() {
                Some(seed) => {
                    use rand::SeedableRng;
                    let mut g = rand_chacha::ChaCha8Rng::seed_from_u64(seed as i64 as u64);
                    g.random::<f64>()
                }
                None => ctx.random(),
            };
            Value::Number(r)
        }
        Native::Uuid => {
            let mut b = [0u8; 16];
            ctx.rng.borrow_mut().fill(&mut b);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h = hex::encode(b);
            Value::string(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            ))
        }
        Native::Parse => match &a0 {
            Value::String(s) => {
                let j: serde_json::Value = serde_json::from_str(s).map_err(|e| {
                    err(
                        "States.QueryEvaluationError",
                        format!("$parse: invalid JSON: {e}"),
                    )
                })?;
                from_json(&j)
            }
            _ => u,
        },
    })
}

fn hash(s: &str, algo: &str) -> Result<String, Error> {
    let b = s.as_bytes();
    Ok(match algo {
        "MD5" => hex::encode(md5(b)),
        "SHA-1" => hex::encode(sha1(b)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(b)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(b)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(b)),
        other => {
            return Err(err(
                "States.QueryEvaluationError",
                format!(
                    "$hash: unsupported algorithm {other:?} (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
                ),
            ));
        }
    })
}

/// The padding MD5 and SHA-1 share: a 1 bit, zeros up to 56 bytes mod 64, then the message
/// length in bits as 8 bytes (little-endian for MD5, big-endian for SHA-1).
fn pad_message(input: &[u8], length_bytes: fn(u64) -> [u8; 8]) -> Vec<u8> {
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&length_bytes(bit_len));
    msg
}

/// MD5 (RFC 1321).
fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    let msg = pad_message(input, u64::to_le_bytes);
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    out[0..4].copy_from_slice(&a0.to_le_bytes());
    out[4..8].copy_from_slice(&b0.to_le_bytes());
    out[8..12].copy_from_slice(&c0.to_le_bytes());
    out[12..16].copy_from_slice(&d0.to_le_bytes());
    out
}

/// SHA-1 (FIPS 180-4).
fn sha1(input: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let msg = pad_message(input, u64::to_be_bytes);
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let (mut a, mut b, mut c, mut d, mut e) = (h[0], h[1], h[2], h[3], h[4]);
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i / 20 {
                0 => ((b & c) | (!b & d), 0x5A827999),
                1 => (b ^ c ^ d, 0x6ED9EBA1),
                2 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6u32),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn keys<'a>(v: &Value<'a>) -> Value<'a> {
    let mut out: Vec<String> = Vec::new();
    match v {
        Value::Array(a) => {
            for x in a.items.iter() {
                if let Value::Array(ks) = keys(x) {
                    for k in ks.items.iter() {
                        if let Value::String(s) = k {
                            if !out.iter().any(|o| o == &**s) {
                                out.push(s.to_string());
                            }
                        }
                    }
                } else if let Value::String(s) = keys(x) {
                    if !out.iter().any(|o| o == &*s) {
                        out.push(s.to_string());
                    }
                }
            }
        }
        Value::Object(m) => out.extend(m.keys().cloned()),
        _ => {}
    }
    let vals: Vec<Value> = out.into_iter().map(Value::string).collect();
    let mut a = Array::seq();
    a.items = vals;
    // keys returns a sequence: JSONata unwraps it on the way out
    Value::arr(a)
}

fn spread<'a>(v: &Value<'a>) -> Value<'a> {
    match v {
        Value::Array(a) => {
            let mut result = Value::seq(vec![]);
            for x in a.items.iter() {
                result = append(result, spread(x));
            }
            result
        }
        Value::Object(m) => {
            let items = m
                .iter()
                .map(|(k, x)| {
                    let mut o = Map::new();
                    o.insert(k.clone(), x.clone());
                    Value::obj(o)
                })
                .collect();
            Value::seq(items)
        }
        other => other.clone(),
    }
}

fn to_number<'a>(v: &Value<'a>) -> R<'a> {
    Ok(match v {
        Value::Undefined => Value::Undefined,
        Value::Number(_) => v.clone(),
        Value::Bool(b) => Value::Number(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => {
            if let Some(n) = parse_decimal(s) {
                Value::Number(n)
            } else if let Some(n) = parse_prefixed(s) {
                Value::Number(n)
            } else {
                return Err(err(
                    "D3030",
                    format!("Unable to cast value to a number: {s:?}"),
                ));
            }
        }
        _ => {
            return Err(err(
                "D3030",
                format!(
                    "Unable to cast value to a number: {}",
                    to_json(v).map(|j| j.to_string()).unwrap_or_default()
                ),
            ));
        }
    })
}

/// `^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$` and finite.
fn parse_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let ds = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == ds {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == fs {
            return None;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let es = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == es {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_prefixed(s: &str) -> Option<f64> {
    let (radix, digits) = if let Some(d) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, d)
    } else {
        return None;
    };
    if digits.is_empty() {
        return None;
    }
    let mut n = 0f64;
    for c in digits.chars() {
        n = n * radix as f64 + c.to_digit(radix)? as f64;
    }
    Some(n)
}

fn to_radix(v: f64, radix: u32) -> String {
    if radix == 10 || !v.is_finite() {
        return js_number_to_string(v);
    }
    let neg = v < 0.0;
    let mut n = v.abs();
    if n == 0.0 {
        return "0".into();
    }
    let mut digits = Vec::new();
    // like V8: digits below the precision of a double are printed as zeros
    let two53 = 9_007_199_254_740_992.0;
    while n / radix as f64 >= two53 {
        n /= radix as f64;
        digits.push('0');
    }
    loop {
        let rem = n % radix as f64;
        digits.push(std::char::from_digit(rem as u32, radix).unwrap_or('0'));
        n = (n - rem) / radix as f64;
        if n <= 0.0 {
            break;
        }
    }
    let s: String = digits.iter().rev().collect();
    if neg { format!("-{s}") } else { s }
}

fn encode_uri(s: &str, full: bool) -> String {
    const COMPONENT_SAFE: &str = "-_.!~*'()";
    const URI_EXTRA: &str = ";,/?:@&=+$#";
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric()
            || COMPONENT_SAFE.contains(c)
            || (full && URI_EXTRA.contains(c))
        {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn decode_uri(s: &str, full: bool) -> Option<String> {
    const RESERVED: &str = ";,/?:@&=+$#";
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            let byte = u8::from_str_radix(h, 16).ok()?;
            if full && byte < 0x80 && RESERVED.contains(byte as char) {
                out.extend_from_slice(&b[i..i + 3]);
            } else {
                out.push(byte);
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn replace<'a>(
    ctx: &Ctx<'a>,
    s: &Value<'a>,
    pattern: &Value<'a>,
    replacement: &Value<'a>,
    limit: &Value<'a>,
) -> R<'a> {
    let s = match s {
        Value::String(s) => s.clone(),
        _ => return Ok(Value::Undefined),
    };
    if matches!(pattern, Value::String(p) if p.is_empty()) {
        return Err(err(
            "D3010",
            "Second argument of replace function cannot be an empty string",
        ));
    }
    let limit = limit.num();
    if limit.is_some_and(|l| l < 0.0) {
        return Err(err(
            "D3011",
            "Fourth argument of replace function must evaluate to a positive number",
        ));
    }
    if limit.is_some_and(|l| l <= 0.0) {
        return Ok(Value::String(s));
    }
    let mut result = String::new();
    let mut count = 0.0;
    match pattern {
        Value::String(p) => {
            let rep = match replacement {
                Value::String(r) => r.to_string(),
                _ => String::new(),
            };
            let mut pos = 0;
            while let Some(i) = s[pos..].find(&**p) {
                if limit.is_some_and(|l| count >= l) {
                    break;
                }
                result.push_str(&s[pos..pos + i]);
                result.push_str(&rep);
                check_string_len(result.len())?;
                pos += i + p.len();
                count += 1.0;
            }
            result.push_str(&s[pos..]);
        }
        f => {
            let re = regex_of(f).ok_or_else(custom_matcher_unsupported)?;
            let mut it = RegexIter::new(re, s.clone());
            let mut m = it.next_match()?;
            if m.is_none() {
                return Ok(Value::String(s));
            }
            let mut pos = 0;
            while let Some(x) = m {
                if limit.is_some_and(|l| count >= l) {
                    break;
                }
                result.push_str(s.get(pos..x.start).unwrap_or(""));
                let with = match replacement {
                    Value::String(r) => Value::string(substitute(r, &x)),
                    Value::Func(_) => ctx.apply(replacement, vec![x.to_value()], &Value::Null)?,
                    _ => Value::Undefined,
                };
                match with {
                    Value::String(w) => {
                        result.push_str(&w);
                        check_string_len(result.len())?;
                    }
                    _ => {
                        return Err(err(
                            "D3012",
                            "Attempted to replace a matched string with a non-string value",
                        ));
                    }
                }
                pos = x.end;
                count += 1.0;
                m = it.next_match()?;
            }
            result.push_str(s.get(pos..).unwrap_or(""));
        }
    }
    Ok(Value::string(result))
}

/// `$0`, `$1`… and `$$` in a replacement string, as JSONata expands them.
fn substitute(rep: &str, m: &RegexMatch) -> String {
    let chars: Vec<char> = rep.chars().collect();
    let mut out = String::new();
    let mut pos = 0;
    let ng = m.groups.len();
    while pos < chars.len() {
        let c = chars[pos];
        if c != '$' {
            out.push(c);
            pos += 1;
            continue;
        }
        pos += 1;
        match chars.get(pos) {
            Some('$') => {
                out.push('$');
                pos += 1;
            }
            Some('0') => {
                out.push_str(&m.text);
                pos += 1;
            }
            _ => {
                let max_digits = if ng == 0 {
                    1
                } else {
                    (ng as f64).log10().floor() as usize + 1
                };
                let take = |n: usize| -> Option<usize> {
                    let digits: String = chars[pos..(pos + n).min(chars.len())]
                        .iter()
                        .take_while(|d| d.is_ascii_digit())
                        .collect();
                    if digits.is_empty() {
                        None
                    } else {
                        digits.parse().ok()
                    }
                };
                let mut index = take(max_digits);
                if max_digits > 1 && index.is_some_and(|i| i > ng) {
                    index = take(max_digits - 1);
                }
                match index {
                    Some(i) => {
                        if ng > 0 {
                            if let Some(Some(g)) = i.checked_sub(1).and_then(|j| m.groups.get(j)) {
                                out.push_str(g);
                            }
                        }
                        pos += i.to_string().len();
                    }
                    None => out.push('$'),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_every_native_when_signature_parsed_then_ok() {
        for e in TABLE {
            assert!(Signature::parse(e.2).is_ok(), "{}", e.1);
        }
    }

    #[test]
    fn given_known_vectors_when_hashing_then_digests_match() {
        assert_eq!(hex::encode(md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex::encode(sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn given_half_values_when_rounding_then_bankers() {
        assert_eq!(round_half_even(2.5, None), 2.0);
        assert_eq!(round_half_even(3.5, None), 4.0);
        assert_eq!(round_half_even(-2.5, None), -2.0);
        assert_eq!(round_half_even(1.255, Some(2.0)), 1.26);
    }
}
