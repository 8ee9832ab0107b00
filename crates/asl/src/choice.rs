//! Choice rules (JSONPath): comparison operators, `*Path` variants, And/Or/Not.

use std::cmp::Ordering;

use serde_json::Value;

use crate::model::{Cond, Op, Rhs, parse_timestamp};
use crate::path::{JsonPath, PathEnv, PathError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CondError {
    UndefinedVariable(String, String),
    Runtime(String),
}

fn read<'v>(
    p: &JsonPath,
    input: &'v Value,
    env: &'v dyn PathEnv,
) -> Result<Option<std::borrow::Cow<'v, Value>>, CondError> {
    match p.lookup(input, env) {
        Ok(v) => Ok(Some(v)),
        Err(PathError::NotFound) => Ok(None),
        Err(PathError::UndefinedVariable(v)) => {
            Err(CondError::UndefinedVariable(p.as_str().to_string(), v))
        }
    }
}

pub(crate) fn eval_cond(c: &Cond, input: &Value, env: &dyn PathEnv) -> Result<bool, CondError> {
    match c {
        Cond::And(v) => {
            for x in v {
                if !eval_cond(x, input, env)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Cond::Or(v) => {
            for x in v {
                if eval_cond(x, input, env)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Cond::Not(x) => Ok(!eval_cond(x, input, env)?),
        Cond::Const(b) => Ok(*b),
        Cond::Jsonata(_) => Ok(false),
        Cond::Cmp { var, op, rhs } => {
            let value = read(var, input, env)?;
            if *op == Op::IsPresent {
                let want = matches!(rhs, Rhs::Value(Value::Bool(true)));
                return Ok(value.is_some() == want);
            }
            let Some(value) = value else {
                return Err(CondError::Runtime(format!(
                    "Invalid path '{var}': The choice state's condition path references an invalid value."
                )));
            };
            let expected: std::borrow::Cow<'_, Value> = match rhs {
                Rhs::Value(v) => std::borrow::Cow::Borrowed(v),
                Rhs::Path(p) => match read(p, input, env)? {
                    Some(v) => v,
                    None => {
                        return Err(CondError::Runtime(format!(
                            "Invalid path '{p}': The choice state's condition path references an invalid value."
                        )));
                    }
                },
            };
            Ok(compare(*op, &value, &expected))
        }
    }
}

/// Numbers compare as IEEE 754 doubles: AWS documents that numbers in state machine data
/// "conform to JavaScript semantics" and "typically correspond to double-precision" values
/// (Step Functions Developer Guide, "State machine data"), so two integers that round to the
/// same double (beyond 2^53) are equal.
fn num_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        _ => None,
    }
}

fn str_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.encode_utf16().cmp(y.encode_utf16())),
        _ => None,
    }
}

fn ts_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    let x = parse_timestamp(a.as_str()?)?;
    let y = parse_timestamp(b.as_str()?)?;
    Some(x.cmp(&y))
}

fn compare(op: Op, v: &Value, e: &Value) -> bool {
    use Ordering::*;
    let want = || e.as_bool().unwrap_or(false);
    match op {
        Op::StringEquals => str_cmp(v, e) == Some(Equal),
        Op::StringLessThan => str_cmp(v, e) == Some(Less),
        Op::StringGreaterThan => str_cmp(v, e) == Some(Greater),
        Op::StringLessThanEquals => matches!(str_cmp(v, e), Some(Less | Equal)),
        Op::StringGreaterThanEquals => matches!(str_cmp(v, e), Some(Greater | Equal)),
        Op::StringMatches => match (v, e) {
            (Value::String(s), Value::String(p)) => wildcard_match(p, s),
            _ => false,
        },
        Op::NumericEquals => num_cmp(v, e) == Some(Equal),
        Op::NumericLessThan => num_cmp(v, e) == Some(Less),
        Op::NumericGreaterThan => num_cmp(v, e) == Some(Greater),
        Op::NumericLessThanEquals => matches!(num_cmp(v, e), Some(Less | Equal)),
        Op::NumericGreaterThanEquals => matches!(num_cmp(v, e), Some(Greater | Equal)),
        Op::BooleanEquals => match (v, e) {
            (Value::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        },
        Op::TimestampEquals => ts_cmp(v, e) == Some(Equal),
        Op::TimestampLessThan => ts_cmp(v, e) == Some(Less),
        Op::TimestampGreaterThan => ts_cmp(v, e) == Some(Greater),
        Op::TimestampLessThanEquals => matches!(ts_cmp(v, e), Some(Less | Equal)),
        Op::TimestampGreaterThanEquals => matches!(ts_cmp(v, e), Some(Greater | Equal)),
        Op::IsNull => v.is_null() == want(),
        Op::IsPresent => want(),
        Op::IsNumeric => v.is_number() == want(),
        Op::IsString => v.is_string() == want(),
        Op::IsBoolean => v.is_boolean() == want(),
        Op::IsTimestamp => v.as_str().and_then(parse_timestamp).is_some() == want(),
    }
}

/// `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash.
pub(crate) fn wildcard_match(pattern: &str, s: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Ch(n)),
                None => toks.push(Tok::Ch('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let chars: Vec<char> = s.chars().collect();
    // iterative glob matching with backtracking on the last star
    let (mut ti, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < chars.len() {
        match toks.get(ti) {
            Some(Tok::Ch(c)) if chars.get(si) == Some(c) => {
                ti += 1;
                si += 1;
            }
            Some(Tok::Star) => {
                star = Some((ti, si));
                ti += 1;
            }
            _ => match star {
                Some((st, ss)) => {
                    ti = st + 1;
                    si = ss + 1;
                    star = Some((st, ss + 1));
                }
                None => return false,
            },
        }
    }
    toks[ti.min(toks.len())..].iter().all(|t| *t == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("log-*.txt", "log-2024.txt"));
        assert!(!wildcard_match("log-*.txt", "log-2024.csv"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a\\*b", "a*b"));
        assert!(!wildcard_match("a\\*b", "axb"));
        assert!(wildcard_match("*a*b*", "xxaxxbxx"));
    }

    #[test]
    fn comparisons_are_type_strict() {
        assert!(!compare(
            Op::NumericEquals,
            &Value::from("42"),
            &Value::from(42)
        ));
        assert!(compare(
            Op::NumericEquals,
            &Value::from(42.0),
            &Value::from(42)
        ));
        assert!(compare(
            Op::StringLessThan,
            &Value::from("a"),
            &Value::from("b")
        ));
        assert!(compare(
            Op::TimestampLessThan,
            &Value::from("2016-03-14T01:59:00Z"),
            &Value::from("2016-03-14T02:00:00+00:00")
        ));
        assert!(compare(Op::IsNull, &Value::Null, &Value::Bool(true)));
    }

    #[test]
    fn integers_beyond_2_pow_53_compare_as_the_doubles_they_round_to() {
        let above = Value::from(9_007_199_254_740_993_i64);
        let below = Value::from(9_007_199_254_740_992_i64);
        assert!(compare(Op::NumericEquals, &above, &below));
        assert!(!compare(Op::NumericLessThan, &below, &above));
        assert!(compare(Op::NumericGreaterThanEquals, &below, &above));
        let next = Value::from(9_007_199_254_740_994_i64);
        assert!(compare(Op::NumericLessThan, &below, &next));
        assert!(!compare(Op::NumericEquals, &below, &next));
    }
}
