//! Step Functions' service quotas that bound one execution, enforced as AWS enforces them
//! (Standard workflows, "Step Functions service quotas" in the Developer Guide):
//!
//! - input or output of a task, state or execution: 262,144 bytes as UTF-8 JSON
//!   ([`MAX_PAYLOAD_BYTES`]); a state's output over it fails the execution with
//!   `States.DataLimitExceeded`, a task's result over it is a `States.DataLimitExceeded` task
//!   failure (recorded on AWS: LocalStack's `test_states_errors` snapshots);
//! - execution history: 25,000 events ([`MAX_HISTORY_EVENTS`]); event 25,000 is the
//!   `ExecutionFailed` event with `States.Runtime` and [`HISTORY_LIMIT_CAUSE`] unless it is
//!   `ExecutionSucceeded` ("Avoid reaching the history quota");
//! - execution time: 1 year ([`MAX_EXECUTION_SECONDS`]); past it the execution times out with
//!   `States.Timeout`.
//!
//! Beyond AWS's quotas, the nesting of a value the engine walks is bounded
//! ([`MAX_VALUE_DEPTH`]) so that no user value can exhaust the native stack.

use serde_json::Value;

/// Maximum size of a state's or task's input or output, and of an execution's input: 256 KiB
/// of UTF-8 JSON.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// Maximum size of a state machine definition: 1 MB (a hard quota; CreateStateMachine's
/// `definition` has a maximum length of 1048576).
pub const MAX_DEFINITION_BYTES: usize = 1_048_576;

/// Maximum number of events in an execution's history.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;

/// Maximum run time of a Standard execution: one year (365 days), in seconds.
pub const MAX_EXECUTION_SECONDS: u64 = 365 * 24 * 60 * 60;

/// The largest value of the `Seconds`-like integer fields (`TimeoutSeconds`,
/// `HeartbeatSeconds`, a Wait's `Seconds`, a retrier's `IntervalSeconds` and `MaxAttempts`).
pub const MAX_SECONDS_FIELD: u64 = 99_999_999;

/// The largest `MaxDelaySeconds` of a retrier (AWS's ASL JSON schema, 366 days).
pub const MAX_DELAY_SECONDS: u64 = 31_622_400;

/// Deepest nesting of arrays and objects in a value the engine accepts (JSON text parsed by
/// `serde_json` stops at 128 already; values built by JSONata or intrinsics are checked).
pub const MAX_VALUE_DEPTH: usize = 512;

/// The cause of the failure at the history limit (AWS's words).
pub const HISTORY_LIMIT_CAUSE: &str =
    "The execution reached the maximum number of history events (25000).";

/// The cause AWS gives when the result of the state or task `who` (a state name, a service
/// integration's resource type or a Lambda function ARN) is over [`MAX_PAYLOAD_BYTES`].
pub fn data_limit_cause(who: &str) -> String {
    format!(
        "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
    )
}

/// A value that cannot be passed on: too large, or nested too deeply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// More than `limit` bytes of JSON (the size is counted up to the first byte over it).
    #[error("the value is larger than {limit} bytes as JSON")]
    TooLarge { limit: usize },
    /// Arrays and objects nested more than `limit` levels deep.
    #[error("the value nests arrays and objects more than {limit} levels deep")]
    TooDeep { limit: usize },
}

/// The execution input is refused before the execution starts, as StartExecution refuses it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionInputError {
    /// Over [`MAX_PAYLOAD_BYTES`] (StartExecution's `input` has a maximum length of 262144).
    #[error(
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to {MAX_PAYLOAD_BYTES}"
    )]
    TooLarge,
    /// Nested more than [`MAX_VALUE_DEPTH`] levels.
    #[error("the execution input nests arrays and objects more than {MAX_VALUE_DEPTH} levels deep")]
    TooDeep,
}

/// Checks an execution input against the payload quota (StartExecution's `input`).
pub fn check_execution_input(input: &Value) -> Result<(), ExecutionInputError> {
    match check_payload(input, MAX_PAYLOAD_BYTES) {
        Ok(_) => Ok(()),
        Err(PayloadError::TooLarge { .. }) => Err(ExecutionInputError::TooLarge),
        Err(PayloadError::TooDeep { .. }) => Err(ExecutionInputError::TooDeep),
    }
}

/// The size in bytes of `v` as compact JSON, when it is at most `limit` bytes and nested at
/// most [`MAX_VALUE_DEPTH`] levels. Walks the value without recursion and stops at the first
/// byte over the limit, so the cost is bounded by `limit`, not by the value; values nested up
/// to 16 levels are walked without allocating.
#[inline]
pub fn check_payload(v: &Value, limit: usize) -> Result<usize, PayloadError> {
    match v {
        Value::Array(_) | Value::Object(_) => check_container(v, limit),
        // A scalar (most intrinsic arguments and results) is measured without the walk's
        // set-up, and without a call.
        scalar => {
            let size = scalar_len(scalar);
            if size > limit {
                Err(PayloadError::TooLarge { limit })
            } else {
                Ok(size)
            }
        }
    }
}

/// [`check_payload`] of an array or object: the walk. The size is compared with the limit
/// after every part (so that the first limit reached, size or depth, is the one reported).
fn check_container(v: &Value, limit: usize) -> Result<usize, PayloadError> {
    let too_large = PayloadError::TooLarge { limit };
    let too_deep = PayloadError::TooDeep {
        limit: MAX_VALUE_DEPTH,
    };
    // each frame: the remaining children of one array or object, and whether none was seen
    enum Frame<'a> {
        Array(std::slice::Iter<'a, Value>, bool),
        Object(serde_json::map::Iter<'a>, bool),
    }
    #[inline]
    fn frame(v: &Value) -> Frame<'_> {
        match v {
            Value::Object(m) => Frame::Object(m.iter(), true),
            // an array, or a scalar as an empty array (not called with one)
            Value::Array(a) => Frame::Array(a.iter(), true),
            _ => Frame::Array([].iter(), true),
        }
    }
    // Inline for the usual shallow value: a check per state transition allocates nothing.
    let mut stack: smallvec::SmallVec<[Frame<'_>; 16]> = smallvec::SmallVec::new();
    // the opening bracket
    let mut size = 1usize;
    stack.push(frame(v));
    while let Some(top) = stack.last_mut() {
        let child = match top {
            Frame::Array(it, first) => match it.next() {
                Some(x) => {
                    size = size.saturating_add(usize::from(!std::mem::replace(first, false)));
                    Some(x)
                }
                None => None,
            },
            Frame::Object(it, first) => match it.next() {
                Some((k, x)) => {
                    let comma = usize::from(!std::mem::replace(first, false));
                    size = size.saturating_add(comma + json_string_len(k) + 1);
                    Some(x)
                }
                None => None,
            },
        };
        match child {
            // the closing bracket
            None => {
                size = size.saturating_add(1);
                stack.pop();
            }
            Some(c @ (Value::Array(_) | Value::Object(_))) => {
                size = size.saturating_add(1);
                if size > limit {
                    return Err(too_large);
                }
                if stack.len() >= MAX_VALUE_DEPTH {
                    return Err(too_deep);
                }
                stack.push(frame(c));
            }
            Some(scalar) => size = size.saturating_add(scalar_len(scalar)),
        }
        if size > limit {
            return Err(too_large);
        }
    }
    Ok(size)
}

/// The length of a JSON null, boolean, number or string as serde_json writes it (0 for an
/// array or object, which the walk measures part by part).
#[inline(always)]
fn scalar_len(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => number_len(n),
        Value::String(s) => json_string_len(s),
        Value::Array(_) | Value::Object(_) => 0,
    }
}

/// The length of a JSON number as serde_json writes it: integers by their digits, other numbers
/// by counting their displayed text (without building it).
#[inline(always)]
fn number_len(n: &serde_json::Number) -> usize {
    // the usual small counter or index without the logarithm
    let digits = |u: u64| match u {
        0..10 => 1,
        10..100 => 2,
        100..1000 => 3,
        _ => u.ilog10() as usize + 1,
    };
    if let Some(u) = n.as_u64() {
        digits(u)
    } else if let Some(i) = n.as_i64() {
        1 + digits(i.unsigned_abs())
    } else {
        display_len(n)
    }
}

/// The length of `v` as displayed, counted without building the text.
fn display_len(v: &impl std::fmt::Display) -> usize {
    struct Count(usize);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    // writing to a counter cannot fail
    let _ = std::fmt::write(&mut count, format_args!("{v}"));
    count.0
}

/// The length of `s` as a JSON string literal, quotes included (escapes as serde_json writes
/// them). Most strings need no escape: they are measured by one count of the bytes that do.
fn json_string_len(s: &str) -> usize {
    let escaped = s
        .bytes()
        .filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\')
        .count();
    if escaped == 0 {
        return s.len() + 2;
    }
    // `\"`, `\\`, `\n`, `\r`, `\t`, `\b` and `\f` take one byte more, the other control
    // characters five (`\u001f`)
    let long = s
        .bytes()
        .filter(|b| *b < 0x20 && !matches!(*b, b'\n' | b'\r' | b'\t' | 0x08 | 0x0c))
        .count();
    s.len() + escaped + 4 * long + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn size_is_the_compact_json_length() {
        for v in [
            json!(null),
            json!({"a": [1, 2.5, "x\"y\n\u{1}é"], "b": {"c": true, "d": false}, "": []}),
            json!([[], {}, [{}], -0.125, 1e300]),
            json!("\u{7f}\t\\"),
            json!([
                0,
                9,
                10,
                99,
                100,
                -1,
                -9,
                -10,
                u64::MAX,
                i64::MIN,
                i64::MAX,
                1_000_000,
                999,
                1000,
                -99,
                -100,
                -999,
                -1000
            ]),
            json!([0.1, -2.0, 1e-7, 123456789.125]),
        ] {
            let expected = serde_json::to_string(&v).map(|s| s.len()).ok();
            assert_eq!(check_payload(&v, usize::MAX).ok(), expected, "{v}");
        }
    }

    #[test]
    fn string_size_counts_every_escape_as_serde_json_writes_it() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        for s in [every_ascii.as_str(), "plain", "", "é\u{1f}\"x\\", "\u{7f}"] {
            let expected = serde_json::to_string(s).map(|t| t.len()).ok();
            assert_eq!(check_payload(&json!(s), usize::MAX).ok(), expected, "{s:?}");
        }
    }

    #[test]
    fn size_stops_at_the_limit() {
        let v = json!({"a": "x".repeat(100)});
        assert_eq!(
            check_payload(&v, 50),
            Err(PayloadError::TooLarge { limit: 50 })
        );
        assert_eq!(check_payload(&v, 108), Ok(108));
    }

    #[test]
    fn a_scalar_over_the_limit_is_too_large() {
        let limit = PayloadError::TooLarge { limit: 5 };
        assert_eq!(check_payload(&json!("abc"), 5), Ok(5));
        assert_eq!(check_payload(&json!("abcd"), 5), Err(limit));
        assert_eq!(check_payload(&json!(123456), 5), Err(limit));
        assert_eq!(check_payload(&json!(false), 5), Ok(5));
        assert_eq!(
            check_payload(&json!(null), 3),
            Err(PayloadError::TooLarge { limit: 3 })
        );
    }

    /// `[[[...1...]]]`, nested one level more than [`MAX_VALUE_DEPTH`].
    fn nested_too_deep() -> Value {
        let mut v = json!(1);
        for _ in 0..(MAX_VALUE_DEPTH + 1) {
            v = Value::Array(vec![v]);
        }
        v
    }

    /// Drops a deeply nested value without recursion (serde_json's own drop recurses).
    fn drop_deep(v: Value) {
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(a) => stack.extend(a),
                Value::Object(m) => stack.extend(m.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }

    #[test]
    fn deep_values_are_refused_without_recursion() {
        let v = nested_too_deep();
        assert_eq!(
            check_payload(&v, usize::MAX),
            Err(PayloadError::TooDeep {
                limit: MAX_VALUE_DEPTH
            })
        );
        drop_deep(v);
    }

    #[test]
    fn at_the_bracket_that_nests_too_deep_the_size_is_checked_first() {
        // [[[...1...]]] nested MAX_VALUE_DEPTH + 1 levels: its (MAX_VALUE_DEPTH + 1)-th opening
        // bracket is byte MAX_VALUE_DEPTH + 1 and the first level too deep.
        let v = nested_too_deep();
        let at_the_bracket = MAX_VALUE_DEPTH + 1;
        // that bracket is over the size limit too: the size is reported
        assert_eq!(
            check_payload(&v, at_the_bracket - 1),
            Err(PayloadError::TooLarge {
                limit: at_the_bracket - 1
            })
        );
        // that bracket is exactly at the size limit: only the depth is broken there
        assert_eq!(
            check_payload(&v, at_the_bracket),
            Err(PayloadError::TooDeep {
                limit: MAX_VALUE_DEPTH
            })
        );
        drop_deep(v);
    }

    #[test]
    fn the_limit_reached_first_in_document_order_is_reported() {
        let deep = nested_too_deep;
        let large_then_deep = json!({"a": "x".repeat(2000), "b": deep()});
        assert_eq!(
            check_payload(&large_then_deep, 1000),
            Err(PayloadError::TooLarge { limit: 1000 })
        );
        let deep_then_large = json!([deep(), "x".repeat(2000)]);
        assert_eq!(
            check_payload(&deep_then_large, 1000),
            Err(PayloadError::TooDeep {
                limit: MAX_VALUE_DEPTH
            })
        );
        // the brackets closing a value count: `[[1]]` is 5 bytes
        assert_eq!(
            check_payload(&json!([[1]]), 4),
            Err(PayloadError::TooLarge { limit: 4 })
        );
        assert_eq!(check_payload(&json!([[1]]), 5), Ok(5));
        drop_deep(large_then_deep);
        drop_deep(deep_then_large);
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let scalar = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[\\x00-\\x7f\"\\\\é€]{0,12}".prop_map(Value::String),
        ];
        scalar.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("[a-z\"\\n]{0,4}", inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_value_measures_as_serde_json_writes_it(v in any_value(), limit in 0usize..200) {
            let len = serde_json::to_string(&v).map(|s| s.len()).unwrap_or_default();
            proptest::prop_assert_eq!(check_payload(&v, usize::MAX), Ok(len));
            let expected = if len <= limit { Ok(len) } else { Err(PayloadError::TooLarge { limit }) };
            proptest::prop_assert_eq!(check_payload(&v, limit), expected);
        }
    }

    #[test]
    fn execution_input_over_256_kib_is_refused_with_the_api_message() {
        let big = json!({"k": "a".repeat(MAX_PAYLOAD_BYTES)});
        let e = check_execution_input(&big).err();
        assert_eq!(e, Some(ExecutionInputError::TooLarge));
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144"
        );
        let fits = json!("a".repeat(MAX_PAYLOAD_BYTES - 2));
        assert_eq!(check_execution_input(&fits), Ok(()));
    }
}
