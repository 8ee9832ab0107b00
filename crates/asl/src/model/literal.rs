//! Literal values as ASL accepts them: integers in a range (with AWS's wording), numbers in a
//! range, RFC 3339 timestamps.

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

/// An integer field in `min..=max`. ASL's integer fields are JSON integers (`5.0` is not
/// one); a value out of range gets AWS's wording (`Maximum value is 99999999`, as
/// ValidateStateMachineDefinition's SCHEMA_VALIDATION_FAILED says), any other value says what
/// is expected.
pub(super) fn int_field(v: &Value, min: u64, max: u64) -> Result<u64, String> {
    let expected = || format!("must be an integer between {min} and {max}");
    let Value::Number(n) = v else {
        return Err(expected());
    };
    if let Some(u) = n.as_u64() {
        return if u > max {
            Err(format!("Maximum value is {max}"))
        } else if u < min {
            Err(format!("Minimum value is {min}"))
        } else {
            Ok(u)
        };
    }
    if n.as_i64().is_some() {
        return Err(format!("Minimum value is {min}"));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f > max as f64 => Err(format!("Maximum value is {max}")),
        Some(f) if f.fract() == 0.0 && f < min as f64 => Err(format!("Minimum value is {min}")),
        _ => Err(expected()),
    }
}

/// A number in `min..=max` (the tolerated failures of a Map).
pub(super) fn number_in(v: &Value, min: f64, max: f64) -> Result<f64, String> {
    v.as_f64()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| format!("must be a number between {min} and {max}"))
}

/// Parses an RFC 3339 timestamp as Step Functions accepts it (uppercase `T`, a time zone).
/// chrono also takes a lowercase `t` or a space between date and time; either one means there
/// is no `T`, as a timestamp has one separator.
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    if !s.contains('T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}
