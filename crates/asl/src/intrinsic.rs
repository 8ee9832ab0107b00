//! Intrinsic functions (`States.Format(...)`, `States.MathAdd(...)`, ...): parsed and checked
//! once at validation time, evaluated against the state's input, context object and variables.

use base64::Engine as _;
use serde_json::Value;

use crate::limits::{MAX_PAYLOAD_BYTES, PayloadError, check_payload};
use crate::path::{JsonPath, PathEnv, PathError};

/// An intrinsic function name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "States.Format" => Func::Format,
            "States.StringToJson" => Func::StringToJson,
            "States.JsonToString" => Func::JsonToString,
            "States.Array" => Func::Array,
            "States.ArrayPartition" => Func::ArrayPartition,
            "States.ArrayContains" => Func::ArrayContains,
            "States.ArrayRange" => Func::ArrayRange,
            "States.ArrayGetItem" => Func::ArrayGetItem,
            "States.ArrayLength" => Func::ArrayLength,
            "States.ArrayUnique" => Func::ArrayUnique,
            "States.Base64Encode" => Func::Base64Encode,
            "States.Base64Decode" => Func::Base64Decode,
            "States.Hash" => Func::Hash,
            "States.JsonMerge" => Func::JsonMerge,
            "States.MathRandom" => Func::MathRandom,
            "States.MathAdd" => Func::MathAdd,
            "States.StringSplit" => Func::StringSplit,
            "States.UUID" => Func::Uuid,
            _ => return None,
        })
    }

    fn arity(self) -> (usize, usize) {
        match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::Uuid => (0, 0),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, 2),
            Func::MathRandom => (2, 3),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
        }
    }

    /// Whether every result is a number, a boolean or a short string (an integer, a length, a
    /// hash of at most 128 hex digits, a UUID): far under the payload quota whatever the
    /// arguments, so it is not measured.
    fn small_result(self) -> bool {
        matches!(
            self,
            Func::MathAdd
                | Func::MathRandom
                | Func::ArrayLength
                | Func::ArrayContains
                | Func::Hash
                | Func::Uuid
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Literal(Value),
    /// A string literal as written (escapes still in place), for States.Format templates.
    Str {
        value: String,
        raw: String,
    },
    Path(JsonPath),
    Call(Box<Intrinsic>),
}

/// A parsed intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    func: Func,
    name: &'static str,
    args: Vec<Arg>,
}

/// A runtime failure of an intrinsic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IntrinsicError {
    /// A path argument found nothing.
    Path {
        path: String,
        undefined_variable: Option<String>,
    },
    /// A bad argument value (`States.IntrinsicFailure`).
    Failure(String),
    /// The arguments or the result of the named function are over the payload quota (or
    /// nested too deeply): the state's input would be (`States.DataLimitExceeded`).
    TooLarge {
        function: &'static str,
        error: PayloadError,
    },
}

/// Deepest nesting of intrinsic calls in one expression (each level is a parser and an
/// evaluator frame).
pub(crate) const MAX_INTRINSIC_DEPTH: usize = 100;

/// True when the string looks like an intrinsic call (`States.` prefix).
pub(crate) fn looks_like_intrinsic(s: &str) -> bool {
    s.trim_start().starts_with("States.")
}

impl Intrinsic {
    /// Parses and checks (known function, argument count, literal argument types).
    pub fn parse(src: &str) -> Result<Intrinsic, String> {
        let mut p = P {
            s: src,
            i: 0,
            depth: 0,
        };
        p.ws();
        let call = p.call()?;
        p.ws();
        if p.i != src.len() {
            return Err(format!(
                "unexpected '{}' after the intrinsic function call",
                &src[p.i..]
            ));
        }
        Ok(call)
    }

    /// Every path this call reads (for validation and context detection).
    pub(crate) fn paths(&self, out: &mut Vec<JsonPath>) {
        for a in &self.args {
            match a {
                Arg::Path(p) => out.push(p.clone()),
                Arg::Call(c) => c.paths(out),
                _ => {}
            }
        }
    }

    /// Evaluates the call. Arguments and result are kept within the payload quota: together the
    /// arguments may hold at most [`MAX_PAYLOAD_BYTES`], and so may the result, so a runaway
    /// expression (say, `States.JsonToString` nested a hundred times) ends at once with a named
    /// error instead of doubling its memory at every level.
    pub(crate) fn eval(&self, input: &Value, env: &dyn PathEnv) -> Result<Value, IntrinsicError> {
        let mut vals = Vec::with_capacity(self.args.len());
        let mut budget = MAX_PAYLOAD_BYTES;
        for a in &self.args {
            vals.push(match a {
                Arg::Literal(v) => v.clone(),
                Arg::Str { value, .. } => Value::String(value.clone()),
                Arg::Path(p) => p.read(input, env).map_err(|e| IntrinsicError::Path {
                    path: p.as_str().to_string(),
                    undefined_variable: match e {
                        PathError::UndefinedVariable(v) => Some(v),
                        PathError::NotFound => None,
                    },
                })?,
                Arg::Call(c) => c.eval(input, env)?,
            });
            if let Some(v) = vals.last() {
                let size = check_payload(v, budget).map_err(|error| self.too_large(error))?;
                budget -= size;
            }
        }
        let out = self.apply(vals)?;
        if self.func.small_result() {
            debug_assert!(matches!(
                &out,
                Value::Number(_) | Value::Bool(_) | Value::String(_)
            ));
            debug_assert!(check_payload(&out, 200).is_ok(), "{out}");
        } else {
            check_payload(&out, MAX_PAYLOAD_BYTES).map_err(|error| self.too_large(error))?;
        }
        Ok(out)
    }

    fn too_large(&self, error: PayloadError) -> IntrinsicError {
        IntrinsicError::TooLarge {
            function: self.name,
            error,
        }
    }

    fn fail(&self, msg: impl std::fmt::Display) -> IntrinsicError {
        IntrinsicError::Failure(format!("Invalid arguments in {}: {msg}", self.name))
    }

    fn apply(&self, v: Vec<Value>) -> Result<Value, IntrinsicError> {
        match self.func {
            Func::Array => Ok(Value::Array(v)),
            Func::Format => self.format(&v),
            Func::StringToJson => {
                let s = str_arg(&v, 0).ok_or_else(|| self.fail("expected a string"))?;
                if s.trim().is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(s).map_err(|e| self.fail(format!("invalid JSON: {e}")))
            }
            Func::JsonToString => Ok(Value::String(
                serde_json::to_string(v.first().unwrap_or(&Value::Null))
                    .map_err(|e| self.fail(e))?,
            )),
            Func::ArrayPartition => {
                let arr = arr_arg(&v, 0).ok_or_else(|| self.fail("expected an array"))?;
                let size = int_arg(&v, 1).ok_or_else(|| self.fail("expected an integer size"))?;
                if size <= 0 {
                    return Err(self.fail("the chunk size must be greater than 0"));
                }
                Ok(Value::Array(
                    arr.chunks(size as usize)
                        .map(|c| Value::Array(c.to_vec()))
                        .collect(),
                ))
            }
            Func::ArrayContains => {
                let arr = arr_arg(&v, 0).ok_or_else(|| self.fail("expected an array"))?;
                let needle = v.get(1).unwrap_or(&Value::Null);
                Ok(Value::Bool(arr.iter().any(|x| json_eq(x, needle))))
            }
            Func::ArrayRange => self.array_range(&v),
            Func::ArrayGetItem => {
                let arr = arr_arg(&v, 0).ok_or_else(|| self.fail("expected an array"))?;
                let i = int_arg(&v, 1).ok_or_else(|| self.fail("expected an integer index"))?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| arr.get(i))
                    .cloned()
                    .ok_or_else(|| self.fail(format!("index {i} is out of bounds")))
            }
            Func::ArrayLength => {
                let arr = arr_arg(&v, 0).ok_or_else(|| self.fail("expected an array"))?;
                Ok(Value::from(arr.len()))
            }
            Func::ArrayUnique => {
                let arr = arr_arg(&v, 0).ok_or_else(|| self.fail("expected an array"))?;
                Ok(Value::Array(unique(arr)))
            }
            Func::Base64Encode => {
                let s = str_arg(&v, 0).ok_or_else(|| self.fail("expected a string"))?;
                if s.chars().count() > 10_000 {
                    return Err(self.fail("the string is longer than 10000 characters"));
                }
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                ))
            }
            Func::Base64Decode => self.base64_decode(&v),
            Func::Hash => self.hash(&v),
            Func::JsonMerge => self.json_merge(v),
            Func::MathRandom => self.math_random(&v),
            Func::MathAdd => {
                let (Some(a), Some(b)) = (v.first().and_then(as_int), v.get(1).and_then(as_int))
                else {
                    return Err(self.fail("expected two numbers"));
                };
                let sum = a.checked_add(b).unwrap_or(i64::MAX);
                if !(i32::MIN as i64..=i32::MAX as i64).contains(&sum) {
                    return Err(self.fail("the result is out of the integer range"));
                }
                Ok(Value::from(sum))
            }
            Func::StringSplit => {
                let (Some(s), Some(d)) = (str_arg(&v, 0), str_arg(&v, 1)) else {
                    return Err(self.fail("expected two strings"));
                };
                Ok(Value::Array(
                    s.split(|c: char| d.contains(c))
                        .filter(|t| !t.is_empty())
                        .map(|t| Value::String(t.to_string()))
                        .collect(),
                ))
            }
            Func::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }

    /// `States.Format`: the template's `{}` placeholders filled in order, `\\` escaping.
    fn format(&self, v: &[Value]) -> Result<Value, IntrinsicError> {
        let template = match self.args.first() {
            Some(Arg::Str { raw, .. }) => raw.clone(),
            _ => match v.first() {
                Some(Value::String(s)) => s.clone(),
                _ => return Err(self.fail("the template must be a string")),
            },
        };
        let mut out = String::new();
        let mut rest = v.iter().skip(1);
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(n) => out.push(n),
                    None => out.push('\\'),
                },
                '{' if chars.peek() == Some(&'}') => {
                    chars.next();
                    let arg = rest
                        .next()
                        .ok_or_else(|| self.fail("more placeholders than arguments"))?;
                    out.push_str(&java_string(arg, true));
                    if out.len() > MAX_PAYLOAD_BYTES {
                        return Err(self.too_large(PayloadError::TooLarge {
                            limit: MAX_PAYLOAD_BYTES,
                        }));
                    }
                }
                c => out.push(c),
            }
        }
        if rest.next().is_some() {
            return Err(self.fail("more arguments than placeholders"));
        }
        Ok(Value::String(out))
    }

    /// `States.ArrayRange(start, end, step)`: at most 1,000 integers.
    fn array_range(&self, v: &[Value]) -> Result<Value, IntrinsicError> {
        let (Some(start), Some(end), Some(step)) = (int_arg(v, 0), int_arg(v, 1), int_arg(v, 2))
        else {
            return Err(self.fail("expected three integers"));
        };
        if step == 0 {
            return Err(self.fail("the step must not be 0"));
        }
        let mut out = Vec::new();
        let mut i = start;
        while (step > 0 && i <= end) || (step < 0 && i >= end) {
            out.push(Value::from(i));
            if out.len() > 1000 {
                return Err(self.fail("the range has more than 1000 items"));
            }
            i = match i.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
        Ok(Value::Array(out))
    }

    /// `States.Base64Decode`: UTF-8 text of at most 10,000 characters' encoding.
    fn base64_decode(&self, v: &[Value]) -> Result<Value, IntrinsicError> {
        let s = str_arg(v, 0).ok_or_else(|| self.fail("expected a string"))?;
        if s.chars().count() > 10_000 {
            return Err(self.fail("the string is longer than 10000 characters"));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|e| self.fail(format!("invalid base64: {e}")))?;
        String::from_utf8(bytes)
            .map(Value::String)
            .map_err(|_| self.fail("the decoded bytes are not UTF-8"))
    }

    /// `States.Hash(data, algorithm)`.
    fn hash(&self, v: &[Value]) -> Result<Value, IntrinsicError> {
        let data = match v.first() {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => {
                return Err(self.fail("the data to hash must not be null"));
            }
            Some(other) => java_string(other, false),
        };
        let alg = str_arg(v, 1).ok_or_else(|| self.fail("expected an algorithm"))?;
        Ok(Value::String(hash(alg, data.as_bytes()).ok_or_else(
            || {
                self.fail(format!(
                    "unsupported algorithm '{alg}' (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"
                ))
            },
        )?))
    }

    /// `States.JsonMerge(a, b, false)`: a shallow merge, b's members winning.
    fn json_merge(&self, mut v: Vec<Value>) -> Result<Value, IntrinsicError> {
        let deep = match v.get(2) {
            Some(Value::Bool(b)) => *b,
            _ => return Err(self.fail("the third argument must be a boolean")),
        };
        if deep {
            return Err(self.fail("deep merging is not supported; use false"));
        }
        let b = v.swap_remove(1);
        let a = v.swap_remove(0);
        match (a, b) {
            (Value::Object(mut a), Value::Object(b)) => {
                for (k, val) in b {
                    a.insert(k, val);
                }
                Ok(Value::Object(a))
            }
            _ => Err(self.fail("both values to merge must be objects")),
        }
    }

    /// `States.MathRandom(start, end[, seed])`: an integer in [start, end).
    fn math_random(&self, v: &[Value]) -> Result<Value, IntrinsicError> {
        use rand::{Rng, SeedableRng};
        let (Some(start), Some(end)) = (int_arg(v, 0), int_arg(v, 1)) else {
            return Err(self.fail("expected integer bounds"));
        };
        if start >= end {
            return Err(self.fail("the start must be less than the end"));
        }
        let n = match v.get(2) {
            Some(seed) => {
                let seed = as_int(seed).ok_or_else(|| self.fail("the seed must be an integer"))?;
                rand::rngs::StdRng::seed_from_u64(seed as u64).random_range(start..end)
            }
            None => rand::rng().random_range(start..end),
        };
        Ok(Value::from(n))
    }
}

fn str_arg(v: &[Value], i: usize) -> Option<&str> {
    v.get(i)?.as_str()
}

fn arr_arg(v: &[Value], i: usize) -> Option<&Vec<Value>> {
    v.get(i)?.as_array()
}

fn int_arg(v: &[Value], i: usize) -> Option<i64> {
    let n = v.get(i)?;
    match n {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

/// A number converted to an integer by truncation (as Step Functions' MathAdd does).
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                .map(|f| f.trunc() as i64)
        }),
        _ => None,
    }
}

/// JSON equality where numbers compare by value.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The items of `items` without repeats (by [`json_eq`]), first occurrences in order. Linear in
/// the number of items: candidates are bucketed by [`json_hash`], which agrees with `json_eq`.
fn unique(items: &[Value]) -> Vec<Value> {
    let mut seen: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
    let mut out: Vec<Value> = Vec::new();
    for x in items {
        let bucket = seen.entry(json_hash(x)).or_default();
        if !bucket.iter().any(|&i| json_eq(x, &out[i])) {
            bucket.push(out.len());
            out.push(x.clone());
        }
    }
    out
}

/// A hash with `json_eq(a, b) => json_hash(a) == json_hash(b)`: numbers by their f64 value,
/// object members independent of order.
fn json_hash(v: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    fn of(h: impl Hash) -> u64 {
        let mut s = std::collections::hash_map::DefaultHasher::new();
        h.hash(&mut s);
        s.finish()
    }
    match v {
        Value::Null => of(0u8),
        Value::Bool(b) => of((1u8, b)),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            of((2u8, if f == 0.0 { 0 } else { f.to_bits() }))
        }
        Value::String(s) => of((3u8, s)),
        Value::Array(a) => of((4u8, a.iter().map(json_hash).collect::<Vec<_>>())),
        Value::Object(o) => of((
            5u8,
            o.iter()
                .map(|(k, v)| of((k, json_hash(v))))
                .fold(0u64, u64::wrapping_add),
        )),
    }
}

/// How the Java runtime of Step Functions prints a value inside States.Format: strings raw,
/// objects as `{k=v, ...}`, arrays as `[a, b]`.
fn java_string(v: &Value, top: bool) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(|x| java_string(x, false)).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(m) => {
            let _ = top;
            let parts: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{k}={}", java_string(x, false)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn hash(alg: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    Some(match alg {
        "MD5" => hex::encode(md5::Md5::digest(data)),
        "SHA-1" => hex::encode(sha1::Sha1::digest(data)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(data)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(data)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(data)),
        _ => return None,
    })
}

struct P<'a> {
    s: &'a str,
    i: usize,
    /// Nesting of the call being parsed.
    depth: usize,
}

impl<'a> P<'a> {
    fn rest(&self) -> &'a str {
        let s: &'a str = self.s;
        &s[self.i..]
    }

    fn ws(&mut self) {
        let t = self.rest().len() - self.rest().trim_start().len();
        self.i += t;
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        let func =
            Func::from_name(name).ok_or_else(|| format!("unknown intrinsic function '{name}'"))?;
        self.i += end;
        self.ws();
        if !self.rest().starts_with('(') {
            return Err(format!("expected '(' after '{name}'"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.rest().starts_with(')') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                args.push(self.arg()?);
                self.ws();
                if self.rest().starts_with(',') {
                    self.i += 1;
                } else if self.rest().starts_with(')') {
                    self.i += 1;
                    break;
                } else {
                    return Err(format!("expected ',' or ')' in the arguments of '{name}'"));
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!(
                "'{name}' takes {expected} argument(s), got {}",
                args.len()
            ));
        }
        let name = FUNC_NAMES
            .iter()
            .find(|(f, _)| *f == func)
            .map(|(_, n)| *n)
            .unwrap_or("States");
        let call = Intrinsic { func, name, args };
        call.check_literals()?;
        Ok(call)
    }

    fn check_free_arg(&self) {}

    fn arg(&mut self) -> Result<Arg, String> {
        self.check_free_arg();
        let rest = self.rest();
        if rest.starts_with('\'') {
            let mut value = String::new();
            let mut raw = String::new();
            let mut chars = rest.char_indices().skip(1);
            loop {
                match chars.next() {
                    None => return Err("unterminated string literal".to_string()),
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => {
                            value.push(c);
                            raw.push('\\');
                            raw.push(c);
                        }
                        None => return Err("unterminated string literal".to_string()),
                    },
                    Some((j, '\'')) => {
                        self.i += j + 1;
                        return Ok(Arg::Str { value, raw });
                    }
                    Some((_, c)) => {
                        value.push(c);
                        raw.push(c);
                    }
                }
            }
        }
        if rest.starts_with("States.") {
            // the outermost call is level 1
            if self.depth + 1 >= MAX_INTRINSIC_DEPTH {
                return Err(format!(
                    "intrinsic functions are nested more than {MAX_INTRINSIC_DEPTH} levels deep"
                ));
            }
            self.depth += 1;
            let call = self.call();
            self.depth -= 1;
            return Ok(Arg::Call(Box::new(call?)));
        }
        if rest.starts_with('$') {
            // a path runs to the next ',' or ')' outside brackets, parentheses and quotes
            let mut depth = 0i32;
            let mut quote: Option<char> = None;
            let mut end = rest.len();
            for (j, c) in rest.char_indices() {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (None, '\'' | '"') => quote = Some(c),
                    (None, '[' | '(') => depth += 1,
                    (None, ']') => depth -= 1,
                    (None, ')') if depth > 0 => depth -= 1,
                    (None, ')' | ',') if depth == 0 => {
                        end = j;
                        break;
                    }
                    _ => {}
                }
            }
            let text = rest[..end].trim_end();
            let path = JsonPath::parse(text)?;
            self.i += end;
            return Ok(Arg::Path(path));
        }
        for (word, v) in [
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
        ] {
            if let Some(after) = rest.strip_prefix(word)
                && !after.starts_with(|c: char| c.is_ascii_alphanumeric())
            {
                self.i += word.len();
                return Ok(Arg::Literal(v));
            }
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
            .unwrap_or(rest.len());
        if end > 0 {
            let n: serde_json::Number = rest[..end]
                .parse()
                .map_err(|_| format!("invalid number '{}'", &rest[..end]))?;
            self.i += end;
            return Ok(Arg::Literal(Value::Number(n)));
        }
        Err(format!(
            "invalid argument '{}': expected a 'string', a number, null, true, false, a path or an intrinsic function",
            rest.chars().take(20).collect::<String>()
        ))
    }
}

const FUNC_NAMES: &[(Func, &str)] = &[
    (Func::Format, "States.Format"),
    (Func::StringToJson, "States.StringToJson"),
    (Func::JsonToString, "States.JsonToString"),
    (Func::Array, "States.Array"),
    (Func::ArrayPartition, "States.ArrayPartition"),
    (Func::ArrayContains, "States.ArrayContains"),
    (Func::ArrayRange, "States.ArrayRange"),
    (Func::ArrayGetItem, "States.ArrayGetItem"),
    (Func::ArrayLength, "States.ArrayLength"),
    (Func::ArrayUnique, "States.ArrayUnique"),
    (Func::Base64Encode, "States.Base64Encode"),
    (Func::Base64Decode, "States.Base64Decode"),
    (Func::Hash, "States.Hash"),
    (Func::JsonMerge, "States.JsonMerge"),
    (Func::MathRandom, "States.MathRandom"),
    (Func::MathAdd, "States.MathAdd"),
    (Func::StringSplit, "States.StringSplit"),
    (Func::Uuid, "States.UUID"),
];

impl Intrinsic {
    /// Literal arguments of the wrong type are a validation error.
    fn check_literals(&self) -> Result<(), String> {
        let lit = |i: usize| match self.args.get(i) {
            Some(Arg::Literal(v)) => Some(v.clone()),
            Some(Arg::Str { value, .. }) => Some(Value::String(value.clone())),
            _ => None,
        };
        let want_int = |i: usize, what: &str| -> Result<(), String> {
            match lit(i) {
                Some(Value::Number(_)) | None => Ok(()),
                Some(_) => Err(format!("{}: the {what} must be a number", self.name)),
            }
        };
        match self.func {
            Func::MathAdd => {
                want_int(0, "first argument")?;
                want_int(1, "second argument")
            }
            Func::ArrayRange => {
                want_int(0, "start")?;
                want_int(1, "end")?;
                want_int(2, "step")
            }
            Func::Hash => match lit(1) {
                Some(Value::String(a)) if hash(&a, b"").is_none() => Err(format!(
                    "States.Hash: unsupported algorithm '{a}' (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"
                )),
                _ => Ok(()),
            },
            Func::JsonMerge => match lit(2) {
                Some(Value::Bool(false)) | None => Ok(()),
                Some(_) => Err("States.JsonMerge: the third argument must be false (deep merge is not supported)".to_string()),
            },
            Func::Format => match self.args.first() {
                Some(Arg::Str { .. } | Arg::Path(_) | Arg::Call(_)) => Ok(()),
                _ => Err("States.Format: the first argument must be a string".to_string()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct NoEnv;
    impl PathEnv for NoEnv {
        fn context(&self) -> Option<&Value> {
            None
        }
        fn variable(&self, _: &str) -> Option<&Value> {
            None
        }
    }

    fn run(src: &str, input: Value) -> Result<Value, IntrinsicError> {
        Intrinsic::parse(src)
            .map_err(IntrinsicError::Failure)?
            .eval(&input, &NoEnv)
    }

    fn failure(msg: &str) -> Result<Value, IntrinsicError> {
        Err(IntrinsicError::Failure(msg.to_string()))
    }

    #[test]
    fn arguments_share_one_payload_budget_even_when_the_result_is_small() {
        // each argument alone is under 256 KiB, together they are over: ArrayContains answers
        // a boolean, so only the shared argument budget can refuse it
        let half = "x".repeat(MAX_PAYLOAD_BYTES / 2 + 10);
        let input = json!({"a": [half.clone()], "b": half});
        assert_eq!(
            run("States.ArrayContains($.a, $.b)", input),
            Err(IntrinsicError::TooLarge {
                function: "States.ArrayContains",
                error: PayloadError::TooLarge {
                    limit: MAX_PAYLOAD_BYTES - (MAX_PAYLOAD_BYTES / 2 + 14)
                },
            })
        );
    }

    #[test]
    fn format_reads_escapes_from_the_template_as_written() {
        assert_eq!(
            run(r"States.Format('\{} {}', 'x')", json!({})),
            Ok(json!("{} x"))
        );
    }

    #[test]
    fn format_keeps_a_brace_that_opens_no_placeholder() {
        assert_eq!(run("States.Format('a{b}')", json!({})), Ok(json!("a{b}")));
    }

    #[test]
    fn array_range_gives_at_most_1000_items() {
        let thousand = run("States.ArrayRange(1, 1000, 1)", json!({}));
        assert_eq!(
            thousand.ok().and_then(|v| v.as_array().map(Vec::len)),
            Some(1000)
        );
        assert_eq!(
            run("States.ArrayRange(1, 1001, 1)", json!({})),
            failure("Invalid arguments in States.ArrayRange: the range has more than 1000 items")
        );
    }

    #[test]
    fn base64_takes_strings_of_at_most_10000_characters() {
        let at = "é".repeat(10_000);
        let encoded = run("States.Base64Encode($.s)", json!({"s": at}));
        let Ok(Value::String(encoded)) = encoded else {
            panic!("{encoded:?}")
        };
        assert_eq!(encoded.chars().count(), 26_668);
        let over = format!("{at}é");
        assert_eq!(
            run("States.Base64Encode($.s)", json!({"s": over})),
            failure(
                "Invalid arguments in States.Base64Encode: the string is longer than 10000 characters"
            )
        );
        let decodable = "QUJD".repeat(2_500);
        assert_eq!(
            run("States.Base64Decode($.s)", json!({"s": decodable}))
                .ok()
                .and_then(|v| v.as_str().map(str::len)),
            Some(7_500)
        );
        assert_eq!(
            run(
                "States.Base64Decode($.s)",
                json!({"s": format!("{decodable}QUJD")})
            ),
            failure(
                "Invalid arguments in States.Base64Decode: the string is longer than 10000 characters"
            )
        );
    }

    #[test]
    fn integer_arguments_may_be_whole_floats_below_9e15() {
        let input = json!({"a": [10, 11], "one": 1.0, "half": 1.5, "big": 9.0e15});
        assert_eq!(
            run("States.ArrayGetItem($.a, $.one)", input.clone()),
            Ok(json!(11))
        );
        let not_int =
            failure("Invalid arguments in States.ArrayGetItem: expected an integer index");
        assert_eq!(
            run("States.ArrayGetItem($.a, $.half)", input.clone()),
            not_int
        );
        assert_eq!(run("States.ArrayGetItem($.a, $.big)", input), not_int);
    }

    #[test]
    fn math_add_truncates_finite_floats_below_9e15_only() {
        let input = json!({"f": 2.7, "big": 9.0e15, "huge": 1.0e20});
        assert_eq!(run("States.MathAdd($.f, 1)", input.clone()), Ok(json!(3)));
        for arg in ["$.big", "$.huge"] {
            let out = run(&format!("States.MathAdd({arg}, 1)"), input.clone());
            assert!(
                matches!(&out, Err(IntrinsicError::Failure(m)) if m.starts_with("Invalid arguments in States.MathAdd")),
                "{arg}: {out:?}"
            );
        }
    }

    #[test]
    fn array_contains_is_false_for_a_value_not_in_the_array() {
        let input = json!({"a": [1, "x", {"k": [2]}]});
        assert_eq!(
            run("States.ArrayContains($.a, 3)", input.clone()),
            Ok(json!(false))
        );
        assert_eq!(
            run("States.ArrayContains($.a, 1.0)", input),
            Ok(json!(true))
        );
    }

    fn parse_error(src: &str) -> Option<String> {
        Intrinsic::parse(src).err()
    }

    #[test]
    fn arity_errors_say_how_many_arguments_the_function_takes() {
        let cases = [
            (
                "States.ArrayLength()",
                "'States.ArrayLength' takes 1 argument(s), got 0",
            ),
            (
                "States.Format()",
                "'States.Format' takes at least 1 argument(s), got 0",
            ),
            (
                "States.MathRandom(1)",
                "'States.MathRandom' takes 2 to 3 argument(s), got 1",
            ),
        ];
        for (src, msg) in cases {
            assert_eq!(parse_error(src).as_deref(), Some(msg), "{src}");
        }
    }

    #[test]
    fn sibling_calls_do_not_add_up_to_the_nesting_limit() {
        // more siblings than the nesting limit: each call leaves the depth as it found it
        let n = MAX_INTRINSIC_DEPTH + 50;
        let siblings = vec!["States.Array()"; n].join(", ");
        let src = format!("States.Array({siblings})");
        let out = run(&src, json!({}));
        assert_eq!(out.ok().and_then(|v| v.as_array().map(Vec::len)), Some(n));
    }

    #[test]
    fn a_random_seed_is_a_number_truncated_below_nine_quadrillion() {
        let seeded = |seed: &str| run(&format!("States.MathRandom(1, 1000, {seed})"), json!({}));
        assert_eq!(seeded("7.9"), seeded("7"));
        assert!(seeded("8999999999999999").is_ok());
        for big in ["9.0e15", "1.0e300", "-9.0e15"] {
            assert_eq!(
                seeded(big),
                failure("Invalid arguments in States.MathRandom: the seed must be an integer"),
                "{big}"
            );
        }
    }

    #[test]
    fn json_merge_refuses_a_deep_merge_when_the_definition_is_read() {
        assert_eq!(
            parse_error("States.JsonMerge($.a, $.b, true)").as_deref(),
            Some(
                "States.JsonMerge: the third argument must be false (deep merge is not supported)"
            )
        );
        assert_eq!(parse_error("States.JsonMerge($.a, $.b, false)"), None);
    }

    #[test]
    fn a_path_argument_ends_at_the_first_comma_or_parenthesis_outside_brackets_and_quotes() {
        let input = json!({
            "a": [10, 11, 12],
            "items": [{"tag": "x),]y", "n": 1}, {"tag": "z", "n": 2}, {"tag": "x),]y", "n": 3}]
        });
        assert_eq!(
            run(
                "States.Array($.a[1], $.items[?(@.tag == 'x),]y')].n, $.items[?(@.n > 1)].n, 5)",
                input
            ),
            Ok(json!([11, [1, 3], [2, 3], 5]))
        );
    }

    #[test]
    fn a_path_with_a_comma_inside_brackets_is_one_argument() {
        let input = json!({"a": [10, 11, 12]});
        assert_eq!(
            run("States.Array($.a[0,2], 7)", input),
            Ok(json!([[10, 12], 7]))
        );
    }

    #[test]
    fn an_argument_that_is_nothing_known_is_named() {
        assert_eq!(
            parse_error("States.Array(@)").as_deref(),
            Some(
                "invalid argument '@)': expected a 'string', a number, null, true, false, a path or an intrinsic function"
            )
        );
    }

    #[test]
    fn literal_arguments_of_the_wrong_type_are_refused_when_parsed() {
        let cases = [
            (
                "States.MathAdd(true, 1)",
                "States.MathAdd: the first argument must be a number",
            ),
            (
                "States.MathAdd(1, 'x')",
                "States.MathAdd: the second argument must be a number",
            ),
            (
                "States.ArrayRange('a', 2, 1)",
                "States.ArrayRange: the start must be a number",
            ),
            (
                "States.ArrayRange(1, null, 1)",
                "States.ArrayRange: the end must be a number",
            ),
            (
                "States.ArrayRange(1, 2, false)",
                "States.ArrayRange: the step must be a number",
            ),
        ];
        for (src, msg) in cases {
            assert_eq!(parse_error(src).as_deref(), Some(msg), "{src}");
        }
    }

    #[test]
    fn hash_computes_sha_384() {
        assert_eq!(
            run("States.Hash('abc', 'SHA-384')", json!({})),
            Ok(json!(
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
            ))
        );
    }

    #[test]
    fn arrays_and_objects_are_equal_only_member_for_member() {
        let input = json!({"a": [[1, 2], {"k": 1, "j": 2}, 9007199254740993_u64]});
        let contains = |needle: &str| {
            run(
                &format!("States.ArrayContains($.a, {needle})"),
                input.clone(),
            )
        };
        assert_eq!(contains("States.Array(1, 3)"), Ok(json!(false)));
        assert_eq!(contains("States.Array(1)"), Ok(json!(false)));
        assert_eq!(contains("States.Array(1, 2)"), Ok(json!(true)));
        assert_eq!(
            contains("States.StringToJson('{\"k\": 2, \"j\": 2}')"),
            Ok(json!(false))
        );
        assert_eq!(
            contains("States.StringToJson('{\"k\": 1}')"),
            Ok(json!(false))
        );
        assert_eq!(
            contains("States.StringToJson('{\"j\": 2, \"k\": 1}')"),
            Ok(json!(true))
        );
        assert_eq!(contains("9007199254740992"), Ok(json!(false)));
        assert_eq!(contains("9007199254740993"), Ok(json!(true)));
    }

    #[test]
    fn array_unique_keeps_first_occurrences_of_equal_values_in_any_member_order() {
        let input = json!({"items": [
            {"a": 1, "b": [2, 3]}, 1, "x", {"b": [2, 3.0], "a": 1.0}, 1.0, [1, {"k": null}],
            "x", [1.0, {"k": null}], 0.0, -0.0, {"a": 1, "b": [3, 2]}, true, null, false, null
        ]});
        assert_eq!(
            run("States.ArrayUnique($.items)", input),
            Ok(json!([
                {"a": 1, "b": [2, 3]}, 1, "x", [1, {"k": null}], 0.0,
                {"a": 1, "b": [3, 2]}, true, null, false
            ]))
        );
    }

    #[test]
    fn array_unique_of_many_items_keeps_each_distinct_value_once() {
        // 40,000 items (close to the most that fit in 256 KiB) with every value twice.
        let items: Vec<Value> = (0..40_000).map(|i| json!(i % 20_000)).collect();
        let out = run("States.ArrayUnique($.items)", json!({ "items": items })).unwrap();
        let expected: Vec<Value> = (0..20_000).map(|i| json!(i)).collect();
        assert_eq!(out, Value::Array(expected));
    }

    #[test]
    fn format_prints_values_like_java() {
        assert_eq!(
            run(
                "States.Format('a={} b={} \\{x\\}', $.a, $.b)",
                json!({"a": {"k": [1, "s"]}, "b": null})
            ),
            Ok(json!("a={k=[1, s]} b=null {x}"))
        );
    }

    #[test]
    fn math_add_truncates_and_checks_range() {
        assert_eq!(run("States.MathAdd(-3.5, 0)", json!({})), Ok(json!(-3)));
        assert_eq!(
            run("States.MathAdd($.i, 1)", json!({"i": 41})),
            Ok(json!(42))
        );
        assert!(run("States.MathAdd(2147483647, 1)", json!({})).is_err());
    }

    #[test]
    fn arrays() {
        assert_eq!(
            run("States.ArrayRange(0, 9, 3)", json!({})),
            Ok(json!([0, 3, 6, 9]))
        );
        assert_eq!(
            run("States.ArrayPartition(States.Array(1,2,3), 2)", json!({})),
            Ok(json!([[1, 2], [3]]))
        );
        assert_eq!(
            run(
                "States.ArrayUnique(States.Array(1, 1.0, 'a', 'a'))",
                json!({})
            ),
            Ok(json!([1, "a"]))
        );
        assert_eq!(
            run("States.ArrayGetItem(States.Array(1,2), 1)", json!({})),
            Ok(json!(2))
        );
        assert!(run("States.ArrayGetItem(States.Array(1,2), 2)", json!({})).is_err());
    }

    #[test]
    fn strings_and_hashes() {
        assert_eq!(
            run("States.StringSplit(',a,,b', ',')", json!({})),
            Ok(json!(["a", "b"]))
        );
        assert_eq!(
            run("States.Base64Decode(States.Base64Encode('hé'))", json!({})),
            Ok(json!("hé"))
        );
        assert_eq!(
            run("States.Hash('input data', 'MD5')", json!({})),
            Ok(json!("812f45842bc6d66ee14572ce20db8e86"))
        );
        assert_eq!(
            run("States.StringToJson('{\\\"a\\\": 1}')", json!({})),
            Ok(json!({"a": 1}))
        );
        assert_eq!(
            run("States.JsonToString($.x)", json!({"x": {"a": [1]}})),
            Ok(json!("{\"a\":[1]}"))
        );
    }

    #[test]
    fn bad_calls_are_rejected_at_parse_time() {
        for s in [
            "States.Nope(1)",
            "States.MathAdd(1)",
            "States.MathAdd('a', 1)",
            "States.Hash('x', 'CRC')",
            "States.Array(1",
            "States.Format(1)",
            "States.Array(@)",
        ] {
            assert!(Intrinsic::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn missing_path_reports_the_path() {
        assert_eq!(
            run("States.Array($.nope)", json!({})),
            Err(IntrinsicError::Path {
                path: "$.nope".into(),
                undefined_variable: None
            })
        );
    }
}
