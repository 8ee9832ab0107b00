//! Reading SageMaker request JSON (PascalCase) while collecting every problem.

use std::collections::BTreeMap;

use mdlc_core::S3Uri;
use serde_json::Value;

use crate::error::Problems;

/// The `S3DataType`s of SageMaker's `S3DataSource`.
pub const S3_DATA_TYPES: &[&str] = &["S3Prefix", "ManifestFile", "AugmentedManifestFile"];

/// `prefix.key`, or `key` when there is no prefix.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The member, treating JSON `null` as absent.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

pub fn req_str(v: &Value, prefix: &str, key: &str, p: &mut Problems) -> Option<String> {
    match get(v, key) {
        None => {
            p.push(&join(prefix, key), "is required");
            None
        }
        Some(Value::String(s)) if s.is_empty() => {
            p.push(&join(prefix, key), "must not be empty");
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            p.push(&join(prefix, key), format!("must be a string, got {other}"));
            None
        }
    }
}

pub fn opt_str(v: &Value, prefix: &str, key: &str, p: &mut Problems) -> Option<String> {
    match get(v, key) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            p.push(&join(prefix, key), format!("must be a string, got {other}"));
            None
        }
    }
}

/// A required member holding an `s3://bucket/key` URI (its parse error reported at it).
pub fn req_s3_uri(v: &Value, prefix: &str, key: &str, p: &mut Problems) -> Option<S3Uri> {
    let text = req_str(v, prefix, key, p)?;
    match text.parse::<S3Uri>() {
        Ok(u) => Some(u),
        Err(e) => {
            p.push(&join(prefix, key), e.to_string());
            None
        }
    }
}

/// A string member restricted to `allowed`; `default` when absent.
pub fn enum_str(
    v: &Value,
    prefix: &str,
    key: &str,
    allowed: &[&str],
    default: &str,
    p: &mut Problems,
) -> String {
    match opt_str(v, prefix, key, p) {
        None => default.to_string(),
        Some(s) if allowed.contains(&s.as_str()) => s,
        Some(s) => {
            p.push(
                &join(prefix, key),
                format!(
                    "has value {s:?}, which failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
            default.to_string()
        }
    }
}

pub fn req_obj<'a>(v: &'a Value, prefix: &str, key: &str, p: &mut Problems) -> Option<&'a Value> {
    match get(v, key) {
        None => {
            p.push(&join(prefix, key), "is required");
            None
        }
        Some(o @ Value::Object(_)) => Some(o),
        Some(other) => {
            p.push(
                &join(prefix, key),
                format!("must be an object, got {other}"),
            );
            None
        }
    }
}

pub fn opt_obj<'a>(v: &'a Value, prefix: &str, key: &str, p: &mut Problems) -> Option<&'a Value> {
    match get(v, key) {
        None => None,
        Some(o @ Value::Object(_)) => Some(o),
        Some(other) => {
            p.push(
                &join(prefix, key),
                format!("must be an object, got {other}"),
            );
            None
        }
    }
}

pub fn opt_array<'a>(v: &'a Value, prefix: &str, key: &str, p: &mut Problems) -> &'a [Value] {
    match get(v, key) {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(other) => {
            p.push(&join(prefix, key), format!("must be a list, got {other}"));
            &[]
        }
    }
}

/// An integer in `min..=max`; absent → `None`.
pub fn opt_u64(
    v: &Value,
    prefix: &str,
    key: &str,
    min: u64,
    max: u64,
    p: &mut Problems,
) -> Option<u64> {
    let value = get(v, key)?;
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Some(n),
        Some(n) => {
            p.push(
                &join(prefix, key),
                format!("has value {n}, which must be between {min} and {max}"),
            );
            None
        }
        None => {
            p.push(
                &join(prefix, key),
                format!("must be an integer, got {value}"),
            );
            None
        }
    }
}

pub fn req_u64(
    v: &Value,
    prefix: &str,
    key: &str,
    min: u64,
    max: u64,
    p: &mut Problems,
) -> Option<u64> {
    if get(v, key).is_none() {
        p.push(&join(prefix, key), "is required");
        return None;
    }
    opt_u64(v, prefix, key, min, max, p)
}

/// A map of string to string (HyperParameters, Environment). Non-string values are reported.
pub fn str_map(v: &Value, prefix: &str, key: &str, p: &mut Problems) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match get(v, key) {
        None => {}
        Some(Value::Object(m)) => {
            for (k, val) in m {
                match val {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => p.push(
                        &format!("{}.{k}", join(prefix, key)),
                        format!("must be a string, got {other}"),
                    ),
                }
            }
        }
        Some(other) => p.push(
            &join(prefix, key),
            format!("must be a map of strings, got {other}"),
        ),
    }
    out
}

/// Whether `s` looks like an IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`).
pub fn is_role_arn(s: &str) -> bool {
    s.starts_with("arn:") && s.contains(":iam::") && s.contains(":role/")
}

/// SageMaker resource names: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,max-1}`.
pub fn check_name(name: &str, field: &str, max: usize, p: &mut Problems) {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= max
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.last().is_some_and(|b| b.is_ascii_alphanumeric());
    if !ok {
        p.push(
            field,
            format!(
                "has value {name:?}, which failed to satisfy constraint: Member must have length less than or equal to {max} and match ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{}}}",
                max - 1
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn given_bad_fields_when_read_then_every_problem_is_named() {
        let v = json!({"A": 3, "M": {"x": 1, "y": "ok"}, "N": "z"});
        let mut p = Problems::new();
        assert_eq!(req_str(&v, "Top", "A", &mut p), None);
        assert_eq!(req_str(&v, "Top", "B", &mut p), None);
        let m = str_map(&v, "", "M", &mut p);
        assert_eq!(m.get("y").map(String::as_str), Some("ok"));
        let e = p.finish().unwrap_err().to_string();
        assert!(e.starts_with("3 validation errors"), "{e}");
        assert!(e.contains("'Top.A' must be a string"), "{e}");
        assert!(e.contains("'Top.B' is required"), "{e}");
        assert!(e.contains("'M.x' must be a string"), "{e}");
    }

    #[test]
    fn names_follow_sagemaker_rules() {
        for (name, ok) in [
            ("a-b-1", true),
            ("-a", false),
            ("a-", false),
            ("a_b", false),
            ("", false),
        ] {
            let mut p = Problems::new();
            check_name(name, "N", 63, &mut p);
            assert_eq!(p.is_empty(), ok, "{name}");
        }
        let mut p = Problems::new();
        check_name(&"a".repeat(33), "N", 32, &mut p);
        assert!(!p.is_empty());
    }
}
