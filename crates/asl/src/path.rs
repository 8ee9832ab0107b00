//! JSONPath as Step Functions uses it (Jayway semantics): `$` (input), `$$` (context object),
//! `$name` (a variable), `.name`, `['name']`, `[n]`, `[-n]`, `[a:b]`, `[*]`, `.*`, `..name`,
//! `[i,j]`, `['a','b']`, filters `[?(@.x < 3 && @.y)]`, and the functions `length()`, `min()`,
//! `max()`, `avg()`, `sum()`, `keys()`, `first()`, `last()`.
//!
//! A path without wildcard, deep scan, slice, filter or union is *definite*: it yields one value
//! or nothing. Any other path yields an array of every match (possibly empty).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the current input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable.
    Variable(Arc<str>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Name(Arc<str>),
    Index(i64),
    Wildcard,
    DeepName(Arc<str>),
    DeepWildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Names(Vec<Arc<str>>),
    Indexes(Vec<i64>),
    Filter(Box<FilterExpr>),
    Function(PathFn),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathFn {
    Length,
    Min,
    Max,
    Avg,
    Sum,
    Keys,
    First,
    Last,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FilterExpr {
    Or(Box<FilterExpr>, Box<FilterExpr>),
    And(Box<FilterExpr>, Box<FilterExpr>),
    Not(Box<FilterExpr>),
    Exists(Operand),
    Cmp(Operand, CmpOp, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// `@...` relative to the current item.
    Current(Vec<Seg>),
    /// `$...` absolute (the root document of the evaluation).
    Root(Vec<Seg>),
    Literal(Value),
}

/// A compiled JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    src: Arc<str>,
    root: Root,
    segs: Vec<Seg>,
    definite: bool,
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

/// The documents a path can read.
pub(crate) trait PathEnv {
    fn context(&self) -> Option<&Value>;
    fn variable(&self, name: &str) -> Option<&Value>;
}

/// A path evaluation problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathError {
    /// The path matched nothing (definite paths only).
    NotFound,
    /// A variable that is not assigned.
    UndefinedVariable(String),
}

impl JsonPath {
    /// Parses a path; the message says what is wrong.
    pub fn parse(src: &str) -> Result<JsonPath, String> {
        let mut p = Parser {
            s: src.as_bytes(),
            src,
            i: 0,
            depth: 0,
        };
        let path = p.path()?;
        if p.i != p.s.len() {
            return Err(format!(
                "unexpected '{}' at offset {} of path '{src}'",
                &src[p.i..],
                p.i
            ));
        }
        Ok(path)
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.src
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// True for `$` alone.
    pub fn is_root_only(&self) -> bool {
        self.root == Root::Input && self.segs.is_empty()
    }

    /// True when the path only uses `.name`, `['name']` and `[n]` from `$` (a reference path,
    /// as ResultPath requires).
    pub fn is_reference(&self) -> bool {
        self.root == Root::Input
            && self
                .segs
                .iter()
                .all(|s| matches!(s, Seg::Name(_) | Seg::Index(_)))
    }

    /// Reads the value(s) the path selects from `input` (for `$`) or `env`.
    pub(crate) fn read(&self, input: &Value, env: &dyn PathEnv) -> Result<Value, PathError> {
        self.lookup(input, env).map(Cow::into_owned)
    }

    /// Like [`JsonPath::read`], borrowing when the path is definite.
    pub(crate) fn lookup<'v>(
        &self,
        input: &'v Value,
        env: &'v dyn PathEnv,
    ) -> Result<Cow<'v, Value>, PathError> {
        let doc = match &self.root {
            Root::Input => input,
            Root::Context => env.context().ok_or(PathError::NotFound)?,
            Root::Variable(name) => env
                .variable(name)
                .ok_or_else(|| PathError::UndefinedVariable(name.to_string()))?,
        };
        if self.definite {
            let mut cur = doc;
            for (n, seg) in self.segs.iter().enumerate() {
                match seg {
                    Seg::Name(k) => cur = member(cur, k).ok_or(PathError::NotFound)?,
                    Seg::Index(i) => cur = index(cur, *i).ok_or(PathError::NotFound)?,
                    Seg::Function(f) => {
                        let v = apply_fn(*f, cur).ok_or(PathError::NotFound)?;
                        return if n + 1 == self.segs.len() {
                            Ok(Cow::Owned(v))
                        } else {
                            Err(PathError::NotFound)
                        };
                    }
                    _ => return Err(PathError::NotFound),
                }
            }
            return Ok(Cow::Borrowed(cur));
        }
        let mut out = Vec::new();
        let last_fn = match self.segs.last() {
            Some(Seg::Function(f)) => Some(*f),
            _ => None,
        };
        let segs = if last_fn.is_some() {
            &self.segs[..self.segs.len() - 1]
        } else {
            &self.segs[..]
        };
        collect(doc, segs, doc, &mut out);
        let arr = Value::Array(out.into_iter().cloned().collect());
        match last_fn {
            Some(f) => apply_fn(f, &arr).map(Cow::Owned).ok_or(PathError::NotFound),
            None => Ok(Cow::Owned(arr)),
        }
    }

    /// Jayway's rendering of the path for error messages: `$['a']['b'][0]`.
    pub(crate) fn bracketed(&self) -> String {
        let mut s = match &self.root {
            Root::Input => "$".to_string(),
            Root::Context => "$$".to_string(),
            Root::Variable(v) => format!("${v}"),
        };
        for seg in &self.segs {
            match seg {
                Seg::Name(k) => s.push_str(&format!("['{k}']")),
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
                _ => return self.src.to_string(),
            }
        }
        s
    }

    /// Writes `value` at this reference path into `target` (ResultPath), creating missing
    /// objects on the way. Fails when an intermediate value is not an object (or the array
    /// index does not exist).
    pub(crate) fn write(&self, target: &mut Value, value: Value) -> Result<(), ()> {
        let mut cur = target;
        for seg in &self.segs {
            cur = match seg {
                Seg::Name(k) => match cur {
                    Value::Object(m) => m
                        .entry(k.to_string())
                        .or_insert_with(|| Value::Object(Map::new())),
                    _ => return Err(()),
                },
                Seg::Index(i) => match cur {
                    Value::Array(a) => {
                        // a negative index counts from the end, as when reading
                        let idx = if *i < 0 {
                            a.len()
                                .checked_sub(usize::try_from(i.unsigned_abs()).map_err(|_| ())?)
                        } else {
                            usize::try_from(*i).ok()
                        };
                        idx.and_then(|idx| a.get_mut(idx)).ok_or(())?
                    }
                    _ => return Err(()),
                },
                _ => return Err(()),
            };
        }
        *cur = value;
        Ok(())
    }
}

/// Objects with at most this many members are searched in order ([`member`]).
const SCAN_MEMBERS: usize = 16;

/// The member `k` of `v` (`None` when `v` is not an object or has no such member), as
/// `Value::get` finds it. A small object is searched in order: comparing a few keys costs less
/// than hashing the one looked for (serde_json's map hashes every key it looks up with SipHash,
/// several times the cost of a path step on a state's usual input).
#[inline(always)]
fn member<'v>(v: &'v Value, k: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) if m.len() <= SCAN_MEMBERS => {
            m.iter().find_map(|(key, x)| (key == k).then_some(x))
        }
        Value::Object(m) => hashed_member(m, k),
        _ => None,
    }
}

/// The member `k` of a large object, by its hash (kept out of line: [`member`] is inlined).
#[inline(never)]
fn hashed_member<'v>(m: &'v serde_json::Map<String, Value>, k: &str) -> Option<&'v Value> {
    m.get(k)
}

fn index(v: &Value, i: i64) -> Option<&Value> {
    let a = v.as_array()?;
    let len = a.len() as i64;
    let idx = if i < 0 { len + i } else { i };
    if idx < 0 {
        return None;
    }
    a.get(idx as usize)
}

fn apply_fn(f: PathFn, v: &Value) -> Option<Value> {
    let nums = || -> Option<Vec<f64>> {
        v.as_array()?
            .iter()
            .map(|x| x.as_f64())
            .collect::<Option<Vec<f64>>>()
    };
    let num = |x: f64| serde_json::Number::from_f64(x).map(Value::Number);
    match f {
        PathFn::Length => match v {
            Value::Array(a) => Some(Value::from(a.len())),
            Value::Object(m) => Some(Value::from(m.len())),
            Value::String(s) => Some(Value::from(s.chars().count())),
            _ => None,
        },
        PathFn::Keys => v
            .as_object()
            .map(|m| Value::Array(m.keys().cloned().map(Value::String).collect())),
        PathFn::First => v.as_array()?.first().cloned(),
        PathFn::Last => v.as_array()?.last().cloned(),
        PathFn::Min => {
            let n = nums()?;
            if n.is_empty() {
                return None;
            }
            num(n.iter().cloned().fold(f64::INFINITY, f64::min))
        }
        PathFn::Max => {
            let n = nums()?;
            if n.is_empty() {
                return None;
            }
            num(n.iter().cloned().fold(f64::NEG_INFINITY, f64::max))
        }
        PathFn::Sum => num(nums()?.iter().sum()),
        PathFn::Avg => {
            let n = nums()?;
            if n.is_empty() {
                return None;
            }
            num(n.iter().sum::<f64>() / n.len() as f64)
        }
    }
}

fn collect<'a>(v: &'a Value, segs: &[Seg], root: &'a Value, out: &mut Vec<&'a Value>) {
    let Some((seg, rest)) = segs.split_first() else {
        out.push(v);
        return;
    };
    match seg {
        Seg::Name(k) => {
            if let Some(c) = member(v, k) {
                collect(c, rest, root, out);
            }
        }
        Seg::Index(i) => {
            if let Some(c) = index(v, *i) {
                collect(c, rest, root, out);
            }
        }
        Seg::Names(ks) => {
            for k in ks {
                if let Some(c) = member(v, k) {
                    collect(c, rest, root, out);
                }
            }
        }
        Seg::Indexes(is) => {
            for i in is {
                if let Some(c) = index(v, *i) {
                    collect(c, rest, root, out);
                }
            }
        }
        Seg::Wildcard => match v {
            Value::Array(a) => a.iter().for_each(|c| collect(c, rest, root, out)),
            Value::Object(m) => m.values().for_each(|c| collect(c, rest, root, out)),
            _ => {}
        },
        Seg::Slice(start, end, step) => {
            if let Value::Array(a) = v {
                for i in slice_indexes(a.len(), *start, *end, *step) {
                    if let Some(c) = a.get(i) {
                        collect(c, rest, root, out);
                    }
                }
            }
        }
        Seg::DeepName(k) => deep(v, &mut |node| {
            if let Some(c) = member(node, k) {
                collect(c, rest, root, out);
            }
        }),
        Seg::DeepWildcard => deep(v, &mut |node| match node {
            Value::Array(a) => a.iter().for_each(|c| collect(c, rest, root, out)),
            Value::Object(m) => m.values().for_each(|c| collect(c, rest, root, out)),
            _ => {}
        }),
        Seg::Filter(f) => match v {
            Value::Array(a) => {
                for c in a {
                    if filter_matches(f, c, root) {
                        collect(c, rest, root, out);
                    }
                }
            }
            Value::Object(_) if filter_matches(f, v, root) => collect(v, rest, root, out),
            _ => {}
        },
        // functions only end a path; `read` applies them to the collected matches
        Seg::Function(_) => {}
    }
}

fn deep<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    f(v);
    match v {
        Value::Array(a) => a.iter().for_each(|c| deep(c, f)),
        Value::Object(m) => m.values().for_each(|c| deep(c, f)),
        _ => {}
    }
}

fn slice_indexes(
    len: usize,
    start: Option<i64>,
    end: Option<i64>,
    step: Option<i64>,
) -> Vec<usize> {
    let len = len as i64;
    let step = step.unwrap_or(1);
    if step <= 0 {
        return Vec::new();
    }
    let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
    let s = start.map(norm).unwrap_or(0);
    let e = end.map(norm).unwrap_or(len);
    let mut out = Vec::new();
    let mut i = s;
    while i < e {
        out.push(i as usize);
        i += step;
    }
    out
}

fn operand_value(op: &Operand, cur: &Value, root: &Value) -> Option<Value> {
    match op {
        Operand::Literal(v) => Some(v.clone()),
        Operand::Current(segs) | Operand::Root(segs) => {
            let base = if matches!(op, Operand::Current(_)) {
                cur
            } else {
                root
            };
            let definite = segs
                .iter()
                .all(|s| matches!(s, Seg::Name(_) | Seg::Index(_) | Seg::Function(_)));
            if definite {
                let mut v = base;
                for s in segs {
                    match s {
                        Seg::Name(k) => v = member(v, k)?,
                        Seg::Index(i) => v = index(v, *i)?,
                        Seg::Function(f) => return apply_fn(*f, v),
                        _ => return None,
                    }
                }
                Some(v.clone())
            } else {
                let mut out = Vec::new();
                collect(base, segs, root, &mut out);
                Some(Value::Array(out.into_iter().cloned().collect()))
            }
        }
    }
}

fn filter_matches(f: &FilterExpr, cur: &Value, root: &Value) -> bool {
    match f {
        FilterExpr::Or(a, b) => filter_matches(a, cur, root) || filter_matches(b, cur, root),
        FilterExpr::And(a, b) => filter_matches(a, cur, root) && filter_matches(b, cur, root),
        FilterExpr::Not(a) => !filter_matches(a, cur, root),
        FilterExpr::Exists(op) => operand_value(op, cur, root).is_some(),
        FilterExpr::Cmp(a, op, b) => {
            let (Some(x), Some(y)) = (operand_value(a, cur, root), operand_value(b, cur, root))
            else {
                return false;
            };
            compare(&x, *op, &y)
        }
    }
}

fn compare(x: &Value, op: CmpOp, y: &Value) -> bool {
    use std::cmp::Ordering as O;
    let ord = match (x, y) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match op {
        CmpOp::Eq => ord.map(|o| o == O::Equal).unwrap_or_else(|| x == y),
        CmpOp::Ne => !ord.map(|o| o == O::Equal).unwrap_or_else(|| x == y),
        CmpOp::Lt => ord == Some(O::Less),
        CmpOp::Le => matches!(ord, Some(O::Less | O::Equal)),
        CmpOp::Gt => ord == Some(O::Greater),
        CmpOp::Ge => matches!(ord, Some(O::Greater | O::Equal)),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    /// Nesting of filters and sub-paths being parsed.
    depth: usize,
}

/// Most segments in one path (the evaluator recurses once per segment).
pub(crate) const MAX_PATH_SEGMENTS: usize = 256;

/// Deepest nesting of filters, parentheses and negations in a path (the parser and the
/// evaluator recurse through several frames per level).
pub(crate) const MAX_PATH_DEPTH: usize = 32;

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn err(&self, what: &str) -> String {
        format!("{what} at offset {} of path '{}'", self.i, self.src)
    }

    fn path(&mut self) -> Result<JsonPath, String> {
        if !self.eat(b'$') {
            return Err(format!("path '{}' must start with '$'", self.src));
        }
        let root = if self.eat(b'$') {
            Root::Context
        } else if self.peek().is_some_and(is_ident_byte) {
            let start = self.i;
            while self.peek().is_some_and(is_ident_byte) {
                self.i += 1;
            }
            Root::Variable(Arc::from(&self.src[start..self.i]))
        } else {
            Root::Input
        };
        let segs = self.segments(false)?;
        let definite = segs
            .iter()
            .all(|s| matches!(s, Seg::Name(_) | Seg::Index(_) | Seg::Function(_)));
        Ok(JsonPath {
            src: Arc::from(self.src),
            root,
            segs,
            definite,
        })
    }

    /// Segments until the end (or, inside a filter, until a character that ends an operand).
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Seg>, String> {
        let mut segs = Vec::new();
        loop {
            if segs.len() > MAX_PATH_SEGMENTS {
                return Err(self.err(&format!(
                    "the path has more than {MAX_PATH_SEGMENTS} segments"
                )));
            }
            match self.peek() {
                None => break,
                Some(b'.') => {
                    self.i += 1;
                    if self.eat(b'.') {
                        if self.eat(b'*') {
                            segs.push(Seg::DeepWildcard);
                        } else if self.peek() == Some(b'[') {
                            // `..[...]`: deep scan followed by a bracket
                            segs.push(Seg::DeepWildcard);
                        } else {
                            let name = self.dot_name(in_filter)?;
                            segs.push(Seg::DeepName(Arc::from(name)));
                        }
                    } else if self.eat(b'*') {
                        segs.push(Seg::Wildcard);
                    } else {
                        let name = self.dot_name(in_filter)?;
                        if self.peek() == Some(b'(') {
                            let f = match name {
                                "length" | "size" => PathFn::Length,
                                "min" => PathFn::Min,
                                "max" => PathFn::Max,
                                "avg" => PathFn::Avg,
                                "sum" => PathFn::Sum,
                                "keys" => PathFn::Keys,
                                "first" => PathFn::First,
                                "last" => PathFn::Last,
                                other => {
                                    return Err(self.err(&format!("unknown function '{other}()'")));
                                }
                            };
                            self.i += 1;
                            if !self.eat(b')') {
                                return Err(self.err("expected ')'"));
                            }
                            segs.push(Seg::Function(f));
                            if self.peek().is_some() && !in_filter {
                                return Err(self.err("a function must end the path"));
                            }
                        } else {
                            segs.push(Seg::Name(Arc::from(name)));
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    segs.push(self.bracket()?);
                }
                Some(_) if in_filter => break,
                Some(_) => return Err(self.err("expected '.' or '['")),
            }
        }
        Ok(segs)
    }

    fn dot_name(&mut self, in_filter: bool) -> Result<&'a str, String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            let stop = b == b'.'
                || b == b'['
                || b == b'('
                || (in_filter && !is_ident_byte(b) && b != b'-');
            if stop {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a field name"));
        }
        let src: &'a str = self.src;
        Ok(&src[start..self.i])
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b == b' ' || b == b'\t') {
            self.i += 1;
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let q = self.peek().ok_or_else(|| self.err("expected a quote"))?;
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.i..];
            let mut chars = rest.chars();
            match chars.next() {
                None => return Err(self.err("unterminated string")),
                Some('\\') => {
                    // only the quote character is escaped; any other backslash is literal
                    match chars.next() {
                        Some(c) if c as u32 == q as u32 => {
                            out.push(c);
                            self.i += 2;
                        }
                        _ => {
                            out.push('\\');
                            self.i += 1;
                        }
                    }
                }
                Some(c) if c as u32 == q as u32 => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }

    fn int(&mut self) -> Result<i64, String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.src[start..self.i]
            .parse::<i64>()
            .map_err(|_| self.err("expected an integer"))
    }

    fn bracket(&mut self) -> Result<Seg, String> {
        self.skip_ws();
        let seg = match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Seg::Wildcard
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![Arc::from(self.quoted()?.as_str())];
                self.skip_ws();
                while self.eat(b',') {
                    self.skip_ws();
                    names.push(Arc::from(self.quoted()?.as_str()));
                    self.skip_ws();
                }
                if names.len() == 1 {
                    Seg::Name(names.remove(0))
                } else {
                    Seg::Names(names)
                }
            }
            Some(b'?') => {
                self.i += 1;
                self.skip_ws();
                if !self.eat(b'(') {
                    return Err(self.err("expected '(' after '?'"));
                }
                let f = self.filter_or()?;
                self.skip_ws();
                if !self.eat(b')') {
                    return Err(self.err("expected ')' closing the filter"));
                }
                Seg::Filter(Box::new(f))
            }
            Some(b) if b == b'-' || b == b':' || b.is_ascii_digit() => {
                let first = if self.peek() == Some(b':') {
                    None
                } else {
                    Some(self.int()?)
                };
                self.skip_ws();
                if self.eat(b':') {
                    self.skip_ws();
                    let end = if matches!(self.peek(), Some(b) if b == b'-' || b.is_ascii_digit()) {
                        Some(self.int()?)
                    } else {
                        None
                    };
                    let step = if self.eat(b':') {
                        Some(self.int()?)
                    } else {
                        None
                    };
                    Seg::Slice(first, end, step)
                } else {
                    let first = first.ok_or_else(|| self.err("expected an index"))?;
                    let mut idx = vec![first];
                    while self.eat(b',') {
                        self.skip_ws();
                        idx.push(self.int()?);
                        self.skip_ws();
                    }
                    if idx.len() == 1 {
                        Seg::Index(first)
                    } else {
                        Seg::Indexes(idx)
                    }
                }
            }
            _ => return Err(self.err("invalid bracket expression")),
        };
        self.skip_ws();
        if !self.eat(b']') {
            return Err(self.err("expected ']'"));
        }
        Ok(seg)
    }

    fn filter_or(&mut self) -> Result<FilterExpr, String> {
        let mut left = self.filter_and()?;
        loop {
            self.skip_ws();
            if self.src[self.i..].starts_with("||") {
                self.i += 2;
                let right = self.filter_and()?;
                left = FilterExpr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn filter_and(&mut self) -> Result<FilterExpr, String> {
        let mut left = self.filter_unary()?;
        loop {
            self.skip_ws();
            if self.src[self.i..].starts_with("&&") {
                self.i += 2;
                let right = self.filter_unary()?;
                left = FilterExpr::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn filter_unary(&mut self) -> Result<FilterExpr, String> {
        self.nested(Self::filter_unary_inner)
    }

    /// Runs one nested parse step, refusing to go deeper than [`MAX_PATH_DEPTH`].
    fn nested<T>(&mut self, f: fn(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_PATH_DEPTH {
            return Err(self.err(&format!(
                "the path nests filters more than {MAX_PATH_DEPTH} levels deep"
            )));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn filter_unary_inner(&mut self) -> Result<FilterExpr, String> {
        self.skip_ws();
        if self.eat(b'!') {
            return Ok(FilterExpr::Not(Box::new(self.filter_unary()?)));
        }
        if self.eat(b'(') {
            let f = self.filter_or()?;
            self.skip_ws();
            if !self.eat(b')') {
                return Err(self.err("expected ')'"));
            }
            return Ok(f);
        }
        let left = self.operand()?;
        self.skip_ws();
        let rest = &self.src[self.i..];
        let op = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ]
        .into_iter()
        .find(|(t, _)| rest.starts_with(t));
        match op {
            Some((t, op)) => {
                self.i += t.len();
                self.skip_ws();
                let right = self.operand()?;
                Ok(FilterExpr::Cmp(left, op, right))
            }
            None => Ok(FilterExpr::Exists(left)),
        }
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_ws();
        match self.peek() {
            Some(b'@') => {
                self.i += 1;
                Ok(Operand::Current(self.segments(true)?))
            }
            Some(b'$') => {
                self.i += 1;
                Ok(Operand::Root(self.segments(true)?))
            }
            Some(b'\'' | b'"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some(b) if b == b'-' || b.is_ascii_digit() => {
                // the number's characters, its first ('-' or a digit) among them
                let start = self.i;
                while self.peek().is_some_and(|b| {
                    b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')
                }) {
                    self.i += 1;
                }
                let v: Value = serde_json::from_str(&self.src[start..self.i])
                    .map_err(|_| self.err("invalid number"))?;
                Ok(Operand::Literal(v))
            }
            _ => {
                for (word, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.src[self.i..].starts_with(word) {
                        self.i += word.len();
                        return Ok(Operand::Literal(v));
                    }
                }
                Err(self.err("expected '@', '$' or a literal in the filter"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Env(Value);
    impl PathEnv for Env {
        fn context(&self) -> Option<&Value> {
            Some(&self.0)
        }
        fn variable(&self, name: &str) -> Option<&Value> {
            self.0.get(name)
        }
    }

    fn read(path: &str, doc: &Value) -> Result<Value, PathError> {
        JsonPath::parse(path)
            .map_err(|_| PathError::NotFound)?
            .read(doc, &Env(json!({"x": {"y": 5}})))
    }

    #[test]
    fn members_of_small_and_large_objects_are_found_by_name() {
        // up to SCAN_MEMBERS members an object is searched in order, above by hash
        for n in [1, 2, SCAN_MEMBERS, SCAN_MEMBERS + 1, 40] {
            let o: Map<String, Value> = (0..n).map(|i| (format!("k{i}"), json!(i))).collect();
            let doc = json!({"o": o.clone(), "l": [o]});
            for i in [0, n / 2, n - 1] {
                assert_eq!(read(&format!("$.o.k{i}"), &doc), Ok(json!(i)), "{n}");
                assert_eq!(read(&format!("$..k{i}"), &doc), Ok(json!([i, i])), "{n}");
                assert_eq!(
                    read(&format!("$.l[?(@.k{i} == {i})].k{i}"), &doc),
                    Ok(json!([i])),
                    "{n}"
                );
            }
            assert_eq!(read(&format!("$.o.k{n}"), &doc), Err(PathError::NotFound));
            assert_eq!(read("$.o.k", &doc), Err(PathError::NotFound));
            assert_eq!(read("$.o.k0.x", &doc), Err(PathError::NotFound));
        }
    }

    #[test]
    fn length_counts_array_items_object_members_and_characters() {
        let doc = json!({"a": [1, 2], "o": {"k": 1, "j": 2, "i": 3}, "s": "héllo"});
        assert_eq!(read("$.a.length()", &doc), Ok(json!(2)));
        assert_eq!(read("$.o.length()", &doc), Ok(json!(3)));
        assert_eq!(read("$.s.length()", &doc), Ok(json!(5)));
    }

    #[test]
    fn avg_divides_the_sum_by_the_count() {
        let doc = json!({"a": [1, 2, 6]});
        assert_eq!(read("$.a.avg()", &doc), Ok(json!(3.0)));
    }

    #[test]
    fn wildcards_and_deep_wildcards_reach_array_items_and_object_members() {
        let doc = json!({"o": {"k": 1, "j": [2, 3]}});
        assert_eq!(read("$.o[*]", &doc), Ok(json!([1, [2, 3]])));
        assert_eq!(read("$.o..*", &doc), Ok(json!([1, [2, 3], 2, 3])));
    }

    #[test]
    fn filters_keep_only_matching_items() {
        let doc = json!({"a": [{"n": 1}, {"n": 2}, {"n": 3}]});
        assert_eq!(read("$.a[?(@.n > 1)].n", &doc), Ok(json!([2, 3])));
        assert_eq!(read("$.a[?(@.n > 5 || @.n == 1)].n", &doc), Ok(json!([1])));
        assert_eq!(
            read("$.a[?(@.n > 1 || @.n == 5)].n", &doc),
            Ok(json!([2, 3]))
        );
    }

    #[test]
    fn filter_operands_follow_indexes_and_functions() {
        let doc = json!({"a": [{"v": [5, 1]}, {"v": [0, 1, 2]}, {"v": [7]}]});
        assert_eq!(read("$.a[?(@.v[0] > 4)].v", &doc), Ok(json!([[5, 1], [7]])));
        assert_eq!(
            read("$.a[?(@.v.length() == 3)].v", &doc),
            Ok(json!([[0, 1, 2]]))
        );
    }

    #[test]
    fn slices_step_through_the_array() {
        let doc = json!({"a": [0, 1, 2, 3, 4, 5, 6]});
        assert_eq!(read("$.a[1:6:2]", &doc), Ok(json!([1, 3, 5])));
        assert_eq!(read("$.a[::3]", &doc), Ok(json!([0, 3, 6])));
    }

    #[test]
    fn a_filter_on_an_object_tests_the_object_itself() {
        let doc = json!({"o": {"k": 1}});
        assert_eq!(read("$.o[?(@.k == 1)]", &doc), Ok(json!([{"k": 1}])));
        assert_eq!(read("$.o[?(@.k == 2)]", &doc), Ok(json!([])));
    }

    #[test]
    fn negative_slice_bounds_count_from_the_end() {
        let doc = json!({"a": [0, 1, 2, 3, 4, 5, 6]});
        assert_eq!(read("$.a[-3:]", &doc), Ok(json!([4, 5, 6])));
        assert_eq!(read("$.a[:-5]", &doc), Ok(json!([0, 1])));
        assert_eq!(read("$.a[-10:2]", &doc), Ok(json!([0, 1])));
    }

    #[test]
    fn filters_combine_with_and_and_not() {
        let doc = json!({"a": [{"n": 1}, {"n": 2}, {"n": 3}]});
        assert_eq!(read("$.a[?(@.n > 1 && @.n < 3)].n", &doc), Ok(json!([2])));
        assert_eq!(read("$.a[?(!(@.n > 1))].n", &doc), Ok(json!([1])));
    }

    #[test]
    fn filters_compare_strings_in_order_and_other_values_by_equality() {
        let doc = json!({"a": [
            {"s": "a", "b": true, "n": 1}, {"s": "c", "b": false, "n": 2}, {"s": "b", "b": null, "n": 3}
        ]});
        assert_eq!(read("$.a[?(@.s < 'b')].n", &doc), Ok(json!([1])));
        assert_eq!(read("$.a[?(@.s >= 'b')].n", &doc), Ok(json!([2, 3])));
        assert_eq!(read("$.a[?(@.b == true)].n", &doc), Ok(json!([1])));
        assert_eq!(read("$.a[?(@.b != true)].n", &doc), Ok(json!([2, 3])));
        assert_eq!(read("$.a[?(@.n != 2)].n", &doc), Ok(json!([1, 3])));
    }

    #[test]
    fn names_may_hold_underscores_digits_and_non_ascii_letters() {
        let doc = json!({"a_b": 1, "é2": 2});
        assert_eq!(read("$.a_b", &doc), Ok(json!(1)));
        assert_eq!(read("$.é2", &doc), Ok(json!(2)));
    }

    #[test]
    fn names_in_filters_take_underscores_digits_and_non_ascii_letters() {
        let doc = json!({"xs": [{"a_1": 1, "é": 2}, {"a_1": 3, "é": 4}]});
        assert_eq!(read("$.xs[?(@.a_1 == 3)].é", &doc), Ok(json!([4])));
        assert_eq!(read("$.xs[?(@.é == 2)].a_1", &doc), Ok(json!([1])));
    }

    #[test]
    fn a_dollar_followed_by_a_name_is_a_variable() {
        let p = JsonPath::parse("$my_var1.x").unwrap();
        assert_eq!(p.root(), &Root::Variable(Arc::from("my_var1")));
        assert_eq!(JsonPath::parse("$.x").unwrap().root(), &Root::Input);
    }

    #[test]
    fn after_a_bracket_only_a_dot_or_a_bracket_may_follow() {
        assert_eq!(
            JsonPath::parse("$.a[0]x").err().as_deref(),
            Some("expected '.' or '[' at offset 6 of path '$.a[0]x'")
        );
    }

    #[test]
    fn a_quoted_name_escapes_only_its_own_quote() {
        let doc = json!({"a'b": 1, "x\"y": 2, "c\\d": 3});
        assert_eq!(read(r"$['a\'b']", &doc), Ok(json!(1)));
        assert_eq!(read(r#"$["x\"y"]"#, &doc), Ok(json!(2)));
        // any other backslash is the character itself
        assert_eq!(read(r"$['c\d']", &doc), Ok(json!(3)));
    }

    #[test]
    fn a_filter_may_compare_with_the_root() {
        let doc = json!({"target": 2, "xs": [{"v": 1}, {"v": 2}, {"v": 2}]});
        assert_eq!(
            read("$.xs[?(@.v == $.target)]", &doc),
            Ok(json!([{"v": 2}, {"v": 2}]))
        );
    }

    #[test]
    fn chained_filters_do_not_add_up_to_the_depth_limit() {
        let path = format!("$.xs{}", "[?(@.v == 1)]".repeat(MAX_PATH_DEPTH + 8));
        assert!(JsonPath::parse(&path).is_ok(), "{path}");
        let nested = format!(
            "$.xs[?({}@.v == 1{})]",
            "(".repeat(MAX_PATH_DEPTH),
            ")".repeat(MAX_PATH_DEPTH)
        );
        assert!(JsonPath::parse(&nested).is_err());
    }

    #[test]
    fn a_bracket_of_something_else_is_refused_by_name() {
        assert_eq!(
            JsonPath::parse("$.a[x]").err().as_deref(),
            Some("invalid bracket expression at offset 4 of path '$.a[x]'")
        );
    }

    #[test]
    fn a_path_may_have_256_segments_and_no_more() {
        let at = format!("${}", ".a".repeat(MAX_PATH_SEGMENTS));
        assert!(JsonPath::parse(&at).is_ok());
        let over = format!("${}", ".a".repeat(MAX_PATH_SEGMENTS + 1));
        assert!(JsonPath::parse(&over).is_err());
    }

    #[test]
    fn outside_a_filter_a_function_ends_the_path() {
        for bad in ["$.a.length().b", "$.a.length()x", "$.a.length()[0]"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn definite_paths_read_one_value() {
        let doc = json!({"a": {"b": [1, 2, 3]}, "c d": 1});
        assert_eq!(read("$.a.b[1]", &doc), Ok(json!(2)));
        assert_eq!(read("$.a.b[-1]", &doc), Ok(json!(3)));
        assert_eq!(read("$['c d']", &doc), Ok(json!(1)));
        assert_eq!(read("$.a.z", &doc), Err(PathError::NotFound));
        assert_eq!(read("$", &doc), Ok(doc.clone()));
        assert_eq!(read("$.a.b.length()", &doc), Ok(json!(3)));
    }

    #[test]
    fn indefinite_paths_read_arrays() {
        let doc = json!({"a": [{"n": 1}, {"n": 2}, {"m": 3}]});
        assert_eq!(read("$.a[*].n", &doc), Ok(json!([1, 2])));
        assert_eq!(read("$.a[0:2].n", &doc), Ok(json!([1, 2])));
        assert_eq!(read("$..n", &doc), Ok(json!([1, 2])));
        assert_eq!(read("$.a[?(@.n > 1)]", &doc), Ok(json!([{"n": 2}])));
        assert_eq!(read("$.a[?(@.m)]", &doc), Ok(json!([{"m": 3}])));
        assert_eq!(read("$.zz[*]", &doc), Ok(json!([])));
    }

    #[test]
    fn context_and_variables() {
        assert_eq!(read("$$.x.y", &json!({})), Ok(json!(5)));
        assert_eq!(read("$x.y", &json!({})), Ok(json!(5)));
        assert_eq!(
            read("$nope", &json!({})),
            Err(PathError::UndefinedVariable("nope".into()))
        );
    }

    #[test]
    fn bad_paths_are_rejected() {
        for p in ["", "a.b", "$.", "$[", "$.a[?(@.x", "$['a'"] {
            assert!(JsonPath::parse(p).is_err(), "{p}");
        }
    }

    #[test]
    fn write_creates_objects_and_rejects_scalars() {
        let p = JsonPath::parse("$.a.b").unwrap_or_else(|e| panic!("{e}"));
        let mut v = json!({"k": 1});
        assert_eq!(p.write(&mut v, json!(2)), Ok(()));
        assert_eq!(v, json!({"k": 1, "a": {"b": 2}}));
        let mut s = json!({"a": 3});
        assert_eq!(p.write(&mut s, json!(2)), Err(()));
    }
}
