//! The standard library and the AWS Step Functions extras: one function per built-in (or per
//! tight family), and [`BUILTINS`], the one table that names each, gives its signature and
//! arity, and points at its implementation. The evaluator dispatches through the table and is
//! reached back only through [`Host`], so this module does not depend on the evaluator.

use std::cell::RefMut;
use std::rc::Rc;
use std::sync::OnceLock;

use base64::Engine;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, check_string_len, err};
use crate::format::round_half_even;
use crate::signature::Signature;
use crate::value::{
    Array, Func, Map, Native, R, Value, deep_equal, from_json, js_number_to_string, json_text,
    numeric, to_precision_15,
};

/// What a built-in needs from the evaluator that calls it.
pub(crate) trait Host<'a> {
    /// Applies a function value (the callback of `$map`, `$sort`, `$replace`…); `input` is the
    /// context for `-` signatures.
    fn apply(&self, f: &Value<'a>, args: Vec<Value<'a>>, input: &Value<'a>) -> R<'a>;
    /// The evaluation's random number generator (seeded when AWS gives a seed).
    fn rng(&self) -> RefMut<'_, ChaCha8Rng>;
    /// The evaluation's clock, for `$now` and `$millis`.
    fn now_millis(&self) -> i64;
}

/// A built-in's implementation: the host and the arguments (already checked against the
/// signature, except for a partially applied built-in, as in JSONata).
pub(crate) type NativeFn = for<'a> fn(&dyn Host<'a>, &[Value<'a>]) -> R<'a>;

/// One row of the standard library's table.
pub(crate) struct Builtin {
    /// The name without `$`.
    pub name: &'static str,
    signature: &'static str,
    parsed: OnceLock<Signature>,
    /// JavaScript's `function.length`: what higher-order functions and partial application see.
    pub arity: usize,
    /// One of the AWS Step Functions extras (shadows a standard function of the same name).
    aws: bool,
    pub run: NativeFn,
}

impl Builtin {
    /// The parsed signature (parsed once, on first use).
    pub fn signature(&self) -> &Signature {
        self.parsed.get_or_init(|| {
            Signature::parse(self.signature)
                .or_else(|_| Signature::parse("<x?x?x?x?>"))
                .unwrap_or_else(|_| unreachable_signature())
        })
    }
}

#[allow(clippy::panic)]
fn unreachable_signature() -> Signature {
    // Signature::parse of constants that are known to be valid; covered by unit tests.
    panic!("constant signature failed to parse")
}

const fn jsonata(
    name: &'static str,
    signature: &'static str,
    arity: usize,
    run: NativeFn,
) -> Builtin {
    Builtin {
        name,
        signature,
        parsed: OnceLock::new(),
        arity,
        aws: false,
        run,
    }
}

const fn aws(name: &'static str, signature: &'static str, arity: usize, run: NativeFn) -> Builtin {
    Builtin {
        name,
        signature,
        parsed: OnceLock::new(),
        arity,
        aws: true,
        run,
    }
}

/// The standard library (`$eval` is deliberately absent) and the AWS extras.
static BUILTINS: [Builtin; 68] = [
    jsonata("sum", "<a<n>:n>", 1, fn_sum),
    jsonata("count", "<a:n>", 1, fn_count),
    jsonata("max", "<a<n>:n>", 1, fn_max),
    jsonata("min", "<a<n>:n>", 1, fn_min),
    jsonata("average", "<a<n>:n>", 1, fn_average),
    jsonata("string", "<x-b?:s>", 1, fn_string),
    jsonata("substring", "<s-nn?:s>", 3, fn_substring),
    jsonata("substringBefore", "<s-s:s>", 2, fn_substring_before),
    jsonata("substringAfter", "<s-s:s>", 2, fn_substring_after),
    jsonata("lowercase", "<s-:s>", 1, fn_lowercase),
    jsonata("uppercase", "<s-:s>", 1, fn_uppercase),
    jsonata("length", "<s-:n>", 1, fn_length),
    jsonata("trim", "<s-:s>", 1, fn_trim),
    jsonata("pad", "<s-ns?:s>", 3, fn_pad),
    jsonata("match", "<s-f<s:o>n?:a<o>>", 3, fn_match),
    jsonata("contains", "<s-(sf):b>", 2, fn_contains),
    jsonata("replace", "<s-(sf)(sf)n?:s>", 4, fn_replace),
    jsonata("split", "<s-(sf)n?:a<s>>", 3, fn_split),
    jsonata("join", "<a<s>s?:s>", 2, fn_join),
    jsonata("formatNumber", "<n-so?:s>", 3, fn_format_number),
    jsonata("formatBase", "<n-n?:s>", 2, fn_format_base),
    jsonata("number", "<(nsb)-:n>", 1, fn_number),
    jsonata("floor", "<n-:n>", 1, fn_floor),
    jsonata("ceil", "<n-:n>", 1, fn_ceil),
    jsonata("round", "<n-n?:n>", 2, fn_round),
    jsonata("abs", "<n-:n>", 1, fn_abs),
    jsonata("sqrt", "<n-:n>", 1, fn_sqrt),
    jsonata("power", "<n-n:n>", 2, fn_power),
    jsonata("random", "<:n>", 0, fn_random),
    jsonata("boolean", "<x-:b>", 1, fn_boolean),
    jsonata("not", "<x-:b>", 1, fn_not),
    jsonata("map", "<af>", 2, fn_map),
    jsonata("zip", "<a+>", 0, fn_zip),
    jsonata("filter", "<af>", 2, fn_filter),
    jsonata("single", "<af?>", 2, fn_single),
    jsonata("reduce", "<afj?:j>", 3, fn_reduce),
    jsonata("sift", "<o-f?:o>", 2, fn_sift),
    jsonata("keys", "<x-:a<s>>", 1, fn_keys),
    jsonata("lookup", "<x-s:x>", 2, fn_lookup),
    jsonata("append", "<xx:a>", 2, fn_append),
    jsonata("exists", "<x:b>", 1, fn_exists),
    jsonata("spread", "<x-:a<o>>", 1, fn_spread),
    jsonata("merge", "<a<o>:o>", 1, fn_merge),
    jsonata("reverse", "<a:a>", 1, fn_reverse),
    jsonata("each", "<o-f:a>", 2, fn_each),
    jsonata("error", "<s?:x>", 1, fn_error),
    jsonata("assert", "<bs?:x>", 2, fn_assert),
    jsonata("type", "<x:s>", 1, fn_type),
    jsonata("sort", "<af?:a>", 2, fn_sort),
    jsonata("shuffle", "<a:a>", 1, fn_shuffle),
    jsonata("distinct", "<x:x>", 1, fn_distinct),
    jsonata("base64encode", "<s-:s>", 1, fn_base64_encode),
    jsonata("base64decode", "<s-:s>", 1, fn_base64_decode),
    jsonata("encodeUrlComponent", "<s-:s>", 1, fn_encode_url_component),
    jsonata("encodeUrl", "<s-:s>", 1, fn_encode_url),
    jsonata("decodeUrlComponent", "<s-:s>", 1, fn_decode_url_component),
    jsonata("decodeUrl", "<s-:s>", 1, fn_decode_url),
    jsonata("toMillis", "<s-s?:n>", 2, fn_to_millis),
    jsonata("fromMillis", "<n-s?s?:s>", 3, fn_from_millis),
    jsonata("clone", "<(oa)-:o>", 1, fn_clone),
    jsonata("now", "<s?s?:s>", 2, fn_now),
    jsonata("millis", "<:n>", 0, fn_millis),
    aws("partition", "<an:a>", 2, fn_partition),
    aws("range", "<nnn?:a>", 3, fn_range),
    aws("hash", "<s-s?:s>", 2, fn_hash),
    aws("random", "<n?:n>", 1, fn_aws_random),
    aws("uuid", "<:s>", 0, fn_uuid),
    aws("parse", "<s-:j>", 1, fn_parse),
];

/// Finds a built-in function by name; with `aws`, an AWS extra wins over the standard one.
pub(crate) fn lookup_native(name: &str, aws: bool) -> Option<Native> {
    let find = |extra: bool| {
        BUILTINS
            .iter()
            .position(|b| b.aws == extra && b.name == name)
    };
    let found = if aws {
        find(true).or_else(|| find(false))
    } else {
        find(false)
    };
    found.map(Native)
}

/// The table row of `n` (every [`Native`] comes from [`lookup_native`], so it is in range).
pub(crate) fn builtin(n: Native) -> &'static Builtin {
    BUILTINS.get(n.0).unwrap_or(&BUILTINS[0])
}

/// The arity a higher-order function sees (JavaScript's `function.length`).
pub(crate) fn func_arity(f: &Value) -> usize {
    match f {
        Value::Func(f) => match &**f {
            Func::Lambda { params, .. } => params.len(),
            Func::Native(n) => builtin(*n).arity,
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
        m.insert("groups".into(), self.groups_value());
        Value::obj(m)
    }

    /// The capture groups as an array (`undefined` for a group that did not take part).
    pub fn groups_value<'a>(&self) -> Value<'a> {
        Value::plain(
            self.groups
                .iter()
                .map(|g| match g {
                    Some(s) => Value::str(s),
                    None => Value::Undefined,
                })
                .collect(),
        )
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

// ------------------------------------------------------------------ arguments

const UNDEFINED: &Value<'static> = &Value::Undefined;

/// Argument `i`, `undefined` when not supplied.
fn arg<'v, 'a>(args: &'v [Value<'a>], i: usize) -> &'v Value<'a> {
    args.get(i).unwrap_or(UNDEFINED)
}

/// A string argument's text, `None` when it is not a string.
fn text_arg<'v>(args: &'v [Value<'_>], i: usize) -> Option<&'v Rc<str>> {
    match arg(args, i) {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// `f` of the first argument when it is a string; `undefined` otherwise.
fn on_text<'a>(args: &[Value<'a>], f: impl FnOnce(&Rc<str>) -> R<'a>) -> R<'a> {
    match text_arg(args, 0) {
        Some(s) => f(s),
        None => Ok(Value::Undefined),
    }
}

/// `f` of the first argument when it is a number; `undefined` otherwise.
fn on_number<'a>(args: &[Value<'a>], f: impl FnOnce(f64) -> R<'a>) -> R<'a> {
    match arg(args, 0).num() {
        Some(x) => f(x),
        None => Ok(Value::Undefined),
    }
}

/// `f` of the first argument unless it is `undefined`.
fn on_defined<'a>(args: &[Value<'a>], f: impl FnOnce(&Value<'a>) -> R<'a>) -> R<'a> {
    match arg(args, 0) {
        Value::Undefined => Ok(Value::Undefined),
        v => f(v),
    }
}

/// A string argument's text, or `default` when it is not a string.
fn text_or(v: &Value, default: &str) -> String {
    match v {
        Value::String(s) => s.to_string(),
        _ => default.to_string(),
    }
}

fn num_items(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.items.iter().filter_map(|x| x.num()).collect(),
        Value::Number(n) => vec![*n],
        _ => vec![],
    }
}

// ------------------------------------------------------------------ aggregation

fn fn_sum<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, |v| Ok(Value::Number(num_items(v).iter().sum())))
}

fn fn_count<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(Value::Number(match arg(args, 0) {
        Value::Undefined => 0.0,
        Value::Array(a) => a.items.len() as f64,
        _ => 1.0,
    }))
}

/// `$max`, `$min`, `$average`: `undefined` for no numbers, else `f` of them.
fn aggregate<'a>(args: &[Value<'a>], f: fn(&[f64]) -> f64) -> R<'a> {
    let a0 = arg(args, 0);
    let nums = num_items(a0);
    Ok(if a0.is_undefined() || nums.is_empty() {
        Value::Undefined
    } else {
        Value::Number(f(&nums))
    })
}

fn fn_max<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    aggregate(args, |n| {
        n.iter().cloned().fold(f64::NEG_INFINITY, nan_or(f64::max))
    })
}

fn fn_min<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    aggregate(args, |n| {
        n.iter().cloned().fold(f64::INFINITY, nan_or(f64::min))
    })
}

/// `f` as JavaScript's `Math.max`/`Math.min` combine: NaN (from `0/0`) on either side wins.
fn nan_or(f: fn(f64, f64) -> f64) -> impl Fn(f64, f64) -> f64 {
    move |a, b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            f(a, b)
        }
    }
}

fn fn_average<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    aggregate(args, |n| n.iter().sum::<f64>() / n.len() as f64)
}

// ------------------------------------------------------------------ strings

fn fn_string<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, |v| {
        let prettify = boolean(arg(args, 1))?.unwrap_or(false);
        Ok(Value::string(string(v, prettify)?))
    })
}

fn fn_substring<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        Ok(substring(s, arg(args, 1).num(), arg(args, 2).num()))
    })
}

/// `$substring` in characters, with JavaScript's negative positions.
fn substring<'a>(s: &str, start: Option<f64>, length: Option<f64>) -> Value<'a> {
    let chars = chars_of(s);
    let len = chars.len() as f64;
    let mut start = start.unwrap_or(0.0);
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
    match length {
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

/// `$substringBefore` and `$substringAfter`: `cut` the string at the first occurrence of the
/// second argument (the string itself when it does not occur or is not a string).
fn substring_around<'a>(args: &[Value<'a>], cut: fn(&str, usize, &str) -> Value<'a>) -> R<'a> {
    let a0 = arg(args, 0);
    Ok(match (a0, arg(args, 1)) {
        (Value::String(s), Value::String(c)) => match s.find(&**c) {
            Some(i) => cut(s, i, c),
            None => a0.clone(),
        },
        (Value::String(_), _) => a0.clone(),
        _ => Value::Undefined,
    })
}

fn fn_substring_before<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    substring_around(args, |s, i, _| Value::str(&s[..i]))
}

fn fn_substring_after<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    substring_around(args, |s, i, c| Value::str(&s[i + c.len()..]))
}

fn fn_lowercase<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| Ok(Value::string(s.to_lowercase())))
}

fn fn_uppercase<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| Ok(Value::string(s.to_uppercase())))
}

fn fn_length<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| Ok(Value::Number(s.chars().count() as f64)))
}

fn fn_trim<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| Ok(Value::str(&trim(s))))
}

/// `$trim`: runs of space, tab, CR and LF become one space; none at either end.
fn trim(s: &str) -> String {
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
    t.strip_suffix(' ').unwrap_or(t).to_string()
}

fn fn_pad<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        let width = arg(args, 1).num().unwrap_or(0.0).trunc();
        let pad_char = match arg(args, 2) {
            Value::String(c) if !c.is_empty() => c.to_string(),
            _ => " ".to_string(),
        };
        let pad_len = width.abs() - s.chars().count() as f64;
        if pad_len > 1e7 {
            return Err(err(
                "D2014",
                "The padded string would be longer than 1e7 characters",
            ));
        }
        if pad_len > 0.0 {
            let padding: String = pad_char.chars().cycle().take(pad_len as usize).collect();
            Ok(Value::string(if width > 0.0 {
                format!("{s}{padding}")
            } else {
                format!("{padding}{s}")
            }))
        } else {
            Ok(Value::String(s.clone()))
        }
    })
}

/// The limit argument `i` of `$match`, `$split` or `$replace` (`function`): `None` when
/// absent; a negative one is the error `code`.
fn limit_arg(args: &[Value], i: usize, code: &str, function: &str) -> Result<Option<f64>, Error> {
    let limit = arg(args, i).num();
    if limit.is_some_and(|l| l < 0.0) {
        let ordinal = if i == 2 { "Third" } else { "Fourth" };
        return Err(err(
            code,
            format!("{ordinal} argument of {function} function must evaluate to a positive number"),
        ));
    }
    Ok(limit)
}

fn fn_match<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        let limit = limit_arg(args, 2, "D3040", "match")?;
        let re = regex_of(arg(args, 1)).ok_or_else(custom_matcher_unsupported)?;
        let mut out = Vec::new();
        if limit.is_none_or(|l| l > 0.0) {
            let mut it = RegexIter::new(re, s.clone());
            while let Some(x) = it.next_match()? {
                if limit.is_some_and(|l| out.len() as f64 >= l) {
                    break;
                }
                out.push(match_object(&x));
            }
        }
        Ok(Value::seq(out))
    })
}

/// `{match, index, groups}` as `$match` returns it.
fn match_object<'a>(x: &RegexMatch) -> Value<'a> {
    let mut o = Map::new();
    o.insert("match".into(), Value::str(&x.text));
    o.insert("index".into(), Value::Number(x.start_char as f64));
    o.insert("groups".into(), x.groups_value());
    Value::obj(o)
}

fn fn_contains<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(match (arg(args, 0), arg(args, 1)) {
        (Value::Undefined, _) | (_, Value::Undefined) => Value::Undefined,
        (Value::String(s), Value::String(t)) => Value::Bool(s.contains(&**t)),
        (Value::String(s), f) => {
            let re = regex_of(f).ok_or_else(custom_matcher_unsupported)?;
            let mut it = RegexIter::new(re, s.clone());
            Value::Bool(it.next_match()?.is_some())
        }
        _ => Value::Undefined,
    })
}

fn fn_split<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        let limit = limit_arg(args, 2, "D3020", "split")?;
        if limit.is_some_and(|l| l <= 0.0) {
            return Ok(Value::plain(vec![]));
        }
        Ok(Value::plain(match arg(args, 1) {
            Value::String(sep) => split_by_text(s, sep, limit),
            f => {
                let re = regex_of(f).ok_or_else(custom_matcher_unsupported)?;
                split_by_regex(s, re, limit)?
            }
        }))
    })
}

fn split_by_text<'a>(s: &str, sep: &str, limit: Option<f64>) -> Vec<Value<'a>> {
    let parts: Vec<String> = if sep.is_empty() {
        s.chars().map(|c| c.to_string()).collect()
    } else {
        s.split(sep).map(str::to_string).collect()
    };
    let mut out = Vec::new();
    for p in parts {
        if limit.is_some_and(|l| out.len() as f64 >= l) {
            break;
        }
        out.push(Value::string(p));
    }
    out
}

fn split_by_regex<'a>(
    s: &Rc<str>,
    re: Rc<regex::Regex>,
    limit: Option<f64>,
) -> Result<Vec<Value<'a>>, Error> {
    let mut it = RegexIter::new(re, s.clone());
    let mut m = it.next_match()?;
    if m.is_none() {
        return Ok(vec![Value::String(s.clone())]);
    }
    let mut out = Vec::new();
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
    Ok(out)
}

fn fn_join<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, |v| {
        let sep = text_or(arg(args, 1), "");
        let items = v.to_items();
        let text = |x: &Value| match x {
            Value::String(s) => s.to_string(),
            _ => String::new(),
        };
        check_string_len(join_len(&items, &sep))?;
        let parts: Vec<String> = items.iter().map(text).collect();
        Ok(Value::string(parts.join(&sep)))
    })
}

// ------------------------------------------------------------------ numbers

fn fn_format_number<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_number(args, |x| {
        let picture = text_or(arg(args, 1), "");
        Ok(Value::string(crate::format::format_number(
            x,
            &picture,
            arg(args, 2),
        )?))
    })
}

fn fn_format_base<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_number(args, |x| {
        let v = round_half_even(x, None);
        let radix = match arg(args, 1).num() {
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
        Ok(Value::string(to_radix(v, radix as u32)))
    })
}

fn fn_number<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    to_number(arg(args, 0))
}

fn fn_floor<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_number(args, |x| Ok(Value::Number(x.floor())))
}

fn fn_ceil<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_number(args, |x| Ok(Value::Number(x.ceil())))
}

fn fn_abs<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_number(args, |x| Ok(Value::Number(x.abs())))
}

/// An upper bound of the bytes `$join` builds: every string item and a separator after each,
/// checked before anything is built (items that are not strings add nothing).
fn join_len(items: &[Value], sep: &str) -> usize {
    items
        .iter()
        .map(|x| match x {
            Value::String(s) => s.len(),
            _ => 0,
        })
        .fold(0usize, |t, n| t.saturating_add(n).saturating_add(sep.len()))
}

fn fn_round<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_number(args, |x| {
        Ok(Value::Number(round_half_even(x, arg(args, 1).num())))
    })
}

fn fn_sqrt<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_number(args, |x| {
        if x < 0.0 {
            return Err(err(
                "D3060",
                format!(
                    "The sqrt function cannot be applied to a negative number: {}",
                    js_number_to_string(x)
                ),
            ));
        }
        Ok(Value::Number(x.sqrt()))
    })
}

fn fn_power<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let (Some(b), Some(e)) = (arg(args, 0).num(), arg(args, 1).num()) else {
        return Ok(Value::Undefined);
    };
    let r = b.powf(e);
    if !r.is_finite() {
        return Err(err(
            "D3061",
            "The power function has resulted in a value that cannot be represented as a JSON number",
        ));
    }
    Ok(Value::Number(r))
}

fn fn_random<'a>(host: &dyn Host<'a>, _: &[Value<'a>]) -> R<'a> {
    Ok(Value::Number(host.rng().random::<f64>()))
}

// ------------------------------------------------------------------ booleans

fn fn_boolean<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(match boolean(arg(args, 0))? {
        Some(b) => Value::Bool(b),
        None => Value::Undefined,
    })
}

fn fn_not<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(match boolean(arg(args, 0))? {
        Some(b) => Value::Bool(!b),
        None => Value::Undefined,
    })
}

fn fn_exists<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(Value::Bool(!arg(args, 0).is_undefined()))
}

// ------------------------------------------------------------------ higher-order functions

/// Calls a higher-order function's callback as `$map`, `$filter`, `$each` and the like do:
/// with the value, its index or key, and the whole input, cut to the callback's arity.
fn call_back<'a>(
    host: &dyn Host<'a>,
    f: &Value<'a>,
    value: Value<'a>,
    key: Value<'a>,
    whole: Value<'a>,
) -> R<'a> {
    host.apply(f, hof_args(f, value, key, whole), &Value::Null)
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

/// The callback's verdict on item `i` of `arr` (its effective boolean value is true).
fn accepts<'a>(
    host: &dyn Host<'a>,
    f: &Value<'a>,
    x: &Value<'a>,
    i: usize,
    arr: &Value<'a>,
) -> Result<bool, Error> {
    let r = call_back(host, f, x.clone(), Value::Number(i as f64), arr.clone())?;
    Ok(boolean(&r)? == Some(true))
}

fn fn_map<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, |arr| {
        let f = arg(args, 1);
        let mut out = Vec::new();
        for (i, x) in arr.to_items().into_iter().enumerate() {
            let r = call_back(host, f, x, Value::Number(i as f64), arr.clone())?;
            if !r.is_undefined() {
                out.push(r);
            }
        }
        Ok(Value::seq(out))
    })
}

fn fn_zip<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
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
    Ok(Value::plain(out))
}

fn fn_filter<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, |arr| {
        let mut out = Vec::new();
        for (i, x) in arr.to_items().into_iter().enumerate() {
            if accepts(host, arg(args, 1), &x, i, arr)? {
                out.push(x);
            }
        }
        Ok(Value::seq(out))
    })
}

fn fn_single<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, |arr| {
        let f = arg(args, 1);
        let mut found: Option<Value> = None;
        for (i, x) in arr.to_items().into_iter().enumerate() {
            if f.is_undefined() || accepts(host, f, &x, i, arr)? {
                if found.is_some() {
                    return Err(err(
                        "D3138",
                        "The $single() function expected exactly 1 matching result.  Instead it matched more.",
                    ));
                }
                found = Some(x);
            }
        }
        found.ok_or_else(|| {
            err(
                "D3139",
                "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
            )
        })
    })
}

fn fn_reduce<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, |arr| {
        let (f, init) = (arg(args, 1), arg(args, 2));
        let items = arr.to_items();
        let ar = func_arity(f);
        if ar < 2 {
            return Err(err(
                "D3050",
                "The second argument of reduce function must be a function with at least two arguments",
            ));
        }
        let (mut acc, start) = match items.first() {
            Some(first) if init.is_undefined() => (first.clone(), 1),
            _ => (init.clone(), 0),
        };
        for (i, x) in items.iter().enumerate().skip(start) {
            let mut fa = vec![acc, x.clone()];
            if ar >= 3 {
                fa.push(Value::Number(i as f64));
            }
            if ar >= 4 {
                fa.push(arr.clone());
            }
            acc = host.apply(f, fa, &Value::Null)?;
        }
        Ok(acc)
    })
}

fn fn_sift<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let a0 = arg(args, 0);
    let Value::Object(m) = a0 else {
        return Ok(Value::Undefined);
    };
    let mut out = Map::new();
    for (k, v) in m.iter() {
        let r = call_back(host, arg(args, 1), v.clone(), Value::str(k), a0.clone())?;
        if boolean(&r)? == Some(true) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(if out.is_empty() {
        Value::Undefined
    } else {
        Value::obj(out)
    })
}

fn fn_each<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let a0 = arg(args, 0);
    let mut out = Vec::new();
    if let Value::Object(m) = a0 {
        for (k, v) in m.iter() {
            let r = call_back(host, arg(args, 1), v.clone(), Value::str(k), a0.clone())?;
            if !r.is_undefined() {
                out.push(r);
            }
        }
    }
    Ok(Value::seq(out))
}

// ------------------------------------------------------------------ objects and arrays

fn fn_keys<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(keys(arg(args, 0)))
}

fn fn_lookup<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let key = text_arg(args, 1).map(|s| &**s).unwrap_or("");
    Ok(lookup(arg(args, 0), key))
}

fn fn_append<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(append(arg(args, 0).clone(), arg(args, 1).clone()))
}

fn fn_spread<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(spread(arg(args, 0)))
}

fn fn_merge<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, |v| {
        let mut out = Map::new();
        for o in v.to_items() {
            if let Value::Object(m) = o {
                for (k, x) in m.iter() {
                    out.insert(k.clone(), x.clone());
                }
            }
        }
        Ok(Value::obj(out))
    })
}

fn fn_reverse<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(match arg(args, 0) {
        Value::Array(a) if a.items.len() > 1 => {
            Value::plain(a.items.iter().rev().cloned().collect())
        }
        v => v.clone(),
    })
}

fn fn_shuffle<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(match arg(args, 0) {
        Value::Array(a) if a.items.len() > 1 => {
            let mut items = a.items.clone();
            let mut rng = host.rng();
            for i in (1..items.len()).rev() {
                let j = rng.random_range(0..=i);
                items.swap(i, j);
            }
            Value::plain(items)
        }
        v => v.clone(),
    })
}

fn fn_distinct<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(match arg(args, 0) {
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
    })
}

fn fn_sort<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let f = arg(args, 1);
    Ok(match arg(args, 0) {
        Value::Undefined => Value::Undefined,
        v @ Value::Array(a) if a.items.len() <= 1 => v.clone(),
        v if f.is_undefined() => Value::plain(sort_natural(v.to_items())?),
        v => Value::plain(merge_sort(
            v.to_items(),
            &mut |a: &Value<'a>, b: &Value<'a>| {
                let r = host.apply(f, vec![a.clone(), b.clone()], &Value::Null)?;
                Ok(js_truthy(&r))
            },
        )?),
    })
}

/// `$sort` without a comparator: numbers or strings only, ascending.
fn sort_natural<'a>(items: Vec<Value<'a>>) -> Result<Vec<Value<'a>>, Error> {
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
            (Value::String(x), Value::String(y)) => js_str_cmp(x, y) == std::cmp::Ordering::Greater,
            _ => false,
        })
    })
}

fn fn_clone<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_defined(args, clone_value)
}

// ------------------------------------------------------------------ errors and types

fn fn_error<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let msg = match arg(args, 0) {
        Value::String(s) if !s.is_empty() => s.to_string(),
        _ => "$error() function evaluated".to_string(),
    };
    Err(err("D3137", msg))
}

fn fn_assert<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    if !js_truthy(arg(args, 0)) {
        let msg = match arg(args, 1) {
            Value::String(s) if !s.is_empty() => s.to_string(),
            _ => "$assert() statement failed".to_string(),
        };
        return Err(err("D3141", msg));
    }
    Ok(Value::Undefined)
}

fn fn_type<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let a0 = arg(args, 0);
    Ok(Value::str(match a0 {
        Value::Undefined => return Ok(Value::Undefined),
        Value::Null => "null",
        Value::Number(_) if numeric(a0)?.is_some() => "number",
        Value::Number(_) => "object",
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Array(_) => "array",
        Value::Func(_) => "function",
        Value::Object(_) => "object",
    }))
}

// ------------------------------------------------------------------ encodings

fn fn_base64_encode<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        // Node's Buffer 'binary' encoding keeps the low byte of each UTF-16 unit
        let bytes: Vec<u8> = s.encode_utf16().map(|c| (c & 0xff) as u8).collect();
        Ok(Value::string(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    })
}

fn fn_base64_decode<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        let cleaned: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(cleaned.as_bytes())
            .unwrap_or_default();
        Ok(Value::string(
            bytes.iter().map(|b| char::from(*b)).collect(),
        ))
    })
}

fn fn_encode_url_component<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| Ok(Value::string(encode_uri(s, false))))
}

fn fn_encode_url<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| Ok(Value::string(encode_uri(s, true))))
}

fn fn_decode_url_component<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    decode_url(args, false, "decodeUrlComponent")
}

fn fn_decode_url<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    decode_url(args, true, "decodeUrl")
}

/// `$decodeUrl` (`full`) and `$decodeUrlComponent` (`name` is the one called).
fn decode_url<'a>(args: &[Value<'a>], full: bool, name: &str) -> R<'a> {
    on_text(args, |s| match decode_uri(s, full) {
        Some(d) => Ok(Value::string(d)),
        None => Err(err(
            "D3140",
            format!("Malformed URL passed to ${name}(): {s:?}"),
        )),
    })
}

// ------------------------------------------------------------------ date and time

fn fn_to_millis<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| crate::datetime::to_millis(s, arg(args, 1)))
}

fn fn_from_millis<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_number(args, |ms| {
        Ok(Value::string(crate::datetime::from_millis(
            ms,
            arg(args, 1),
            arg(args, 2),
        )?))
    })
}

fn fn_now<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    Ok(Value::string(crate::datetime::from_millis(
        host.now_millis() as f64,
        arg(args, 0),
        arg(args, 1),
    )?))
}

fn fn_millis<'a>(host: &dyn Host<'a>, _: &[Value<'a>]) -> R<'a> {
    Ok(Value::Number(host.now_millis() as f64))
}

// ------------------------------------------------------------------ AWS Step Functions extras

/// An error of an AWS extra: `States.QueryEvaluationError`.
fn aws_error(message: impl Into<String>) -> Error {
    err("States.QueryEvaluationError", message)
}

fn fn_partition<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let size = arg(args, 1).num().unwrap_or(0.0);
    if size < 1.0 || size.fract() != 0.0 {
        return Err(aws_error(
            "$partition: the chunk size must be a positive integer",
        ));
    }
    let items = arg(args, 0).to_items();
    let chunks: Vec<Value> = items
        .chunks(size as usize)
        .map(|c| Value::plain(c.to_vec()))
        .collect();
    Ok(Value::plain(chunks))
}

fn fn_range<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let start = arg(args, 0).num().unwrap_or(0.0);
    let end = arg(args, 1).num().unwrap_or(0.0);
    let step = arg(args, 2).num().unwrap_or(1.0);
    if step == 0.0 || !step.is_finite() {
        return Err(aws_error("$range: the step must not be zero"));
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x <= end) || (step < 0.0 && x >= end) {
        if out.len() >= 1000 {
            return Err(aws_error(
                "$range: the result would have more than 1000 items",
            ));
        }
        out.push(Value::Number(x));
        x += step;
    }
    // AWS's $range yields a sequence: a single item is the item itself
    // (`$range(1, 9, 9)` is `1`, as recorded on Step Functions).
    Ok(if out.len() == 1 {
        out.swap_remove(0)
    } else {
        Value::plain(out)
    })
}

fn fn_hash<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        let algo = text_or(arg(args, 1), "SHA-256");
        match crate::digest::hex_digest(s.as_bytes(), &algo) {
            Some(h) => Ok(Value::string(h)),
            None => Err(aws_error(format!(
                "$hash: unsupported algorithm {algo:?} (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
            ))),
        }
    })
}

fn fn_aws_random<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    let r = match arg(args, 0).num() {
        Some(seed) => {
            use rand::SeedableRng;
            ChaCha8Rng::seed_from_u64(seed as i64 as u64).random::<f64>()
        }
        None => host.rng().random::<f64>(),
    };
    Ok(Value::Number(r))
}

fn fn_uuid<'a>(host: &dyn Host<'a>, _: &[Value<'a>]) -> R<'a> {
    let mut b = [0u8; 16];
    host.rng().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(Value::string(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )))
}

fn fn_parse<'a>(_: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        let j: serde_json::Value =
            serde_json::from_str(s).map_err(|e| aws_error(format!("$parse: invalid JSON: {e}")))?;
        Ok(from_json(&j))
    })
}

fn keys<'a>(v: &Value<'a>) -> Value<'a> {
    let mut out: Vec<String> = Vec::new();
    match v {
        // the union of the items' keys, in first-seen order (keys of an item is always an array)
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
                    json_text(v).unwrap_or_default()
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

fn fn_replace<'a>(host: &dyn Host<'a>, args: &[Value<'a>]) -> R<'a> {
    on_text(args, |s| {
        let (pattern, replacement) = (arg(args, 1), arg(args, 2));
        if matches!(pattern, Value::String(p) if p.is_empty()) {
            return Err(err(
                "D3010",
                "Second argument of replace function cannot be an empty string",
            ));
        }
        let limit = limit_arg(args, 3, "D3011", "replace")?;
        if limit.is_some_and(|l| l <= 0.0) {
            return Ok(Value::String(s.clone()));
        }
        match pattern {
            Value::String(p) => {
                let rep = text_or(replacement, "");
                Ok(Value::string(replace_text(s, p, &rep, limit)?))
            }
            f => {
                let re = regex_of(f).ok_or_else(custom_matcher_unsupported)?;
                replace_regex(host, s, re, replacement, limit)
            }
        }
    })
}

/// `$replace` of a string pattern by a string.
fn replace_text(s: &str, pattern: &str, rep: &str, limit: Option<f64>) -> Result<String, Error> {
    let mut result = String::new();
    let mut count = 0.0;
    let mut pos = 0;
    while let Some(i) = s[pos..].find(pattern) {
        if limit.is_some_and(|l| count >= l) {
            break;
        }
        result.push_str(&s[pos..pos + i]);
        result.push_str(rep);
        check_string_len(result.len())?;
        pos += i + pattern.len();
        count += 1.0;
    }
    result.push_str(&s[pos..]);
    Ok(result)
}

/// `$replace` of a regular expression by a string (with `$n` references) or by what a
/// function makes of each match.
fn replace_regex<'a>(
    host: &dyn Host<'a>,
    s: &Rc<str>,
    re: Rc<regex::Regex>,
    replacement: &Value<'a>,
    limit: Option<f64>,
) -> R<'a> {
    let mut it = RegexIter::new(re, s.clone());
    let mut m = it.next_match()?;
    if m.is_none() {
        return Ok(Value::String(s.clone()));
    }
    let mut result = String::new();
    let mut count = 0.0;
    let mut pos = 0;
    while let Some(x) = m {
        if limit.is_some_and(|l| count >= l) {
            break;
        }
        result.push_str(s.get(pos..x.start).unwrap_or(""));
        result.push_str(&replacement_of(host, replacement, &x)?);
        check_string_len(result.len())?;
        pos = x.end;
        count += 1.0;
        m = it.next_match()?;
    }
    result.push_str(s.get(pos..).unwrap_or(""));
    Ok(Value::string(result))
}

/// What replaces one match: the expanded string, or the function's result (a string).
fn replacement_of<'a>(
    host: &dyn Host<'a>,
    replacement: &Value<'a>,
    x: &RegexMatch,
) -> Result<Rc<str>, Error> {
    let with = match replacement {
        Value::String(r) => Value::string(substitute(r, x)),
        Value::Func(_) => host.apply(replacement, vec![x.to_value()], &Value::Null)?,
        _ => Value::Undefined,
    };
    match with {
        Value::String(w) => Ok(w),
        _ => Err(err(
            "D3012",
            "Attempted to replace a matched string with a non-string value",
        )),
    }
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
                        // (no group i, or none at all: nothing)
                        if let Some(Some(g)) = i.checked_sub(1).and_then(|j| m.groups.get(j)) {
                            out.push_str(g);
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

// ------------------------------------------------------------------ ordering

/// JavaScript's string ordering (UTF-16 code units).
pub(crate) fn js_str_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// JSONata's merge sort with a "swap when true" comparator (stable).
pub(crate) fn merge_sort<'a, F>(items: Vec<Value<'a>>, cmp: &mut F) -> Result<Vec<Value<'a>>, Error>
where
    F: FnMut(&Value<'a>, &Value<'a>) -> Result<bool, Error>,
{
    if items.len() <= 1 {
        return Ok(items);
    }
    let mid = items.len() / 2;
    let mut left = items;
    let right = left.split_off(mid);
    let left = merge_sort(left, cmp)?;
    let right = merge_sort(right, cmp)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j])? {
            out.push(right[j].clone());
            j += 1;
        } else {
            out.push(left[i].clone());
            i += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_every_native_when_signature_parsed_then_ok() {
        for b in &BUILTINS {
            assert!(Signature::parse(b.signature).is_ok(), "{}", b.name);
        }
    }

    /// The bound `$join` checks: string bytes plus one separator per item.
    #[test]
    fn join_len_counts_the_strings_and_a_separator_per_item() {
        let items = [Value::str("ab"), Value::Number(5.0), Value::str("cde")];
        assert_eq!(join_len(&items, ", "), 2 + 3 + 3 * 2);
        assert_eq!(join_len(&items, ""), 5);
        assert_eq!(join_len(&[], ","), 0);
    }
}
