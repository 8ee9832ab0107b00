//! Reading an operation's request members with the constraints of Step Functions' model
//! (botocore's `stepfunctions` service-2.json): required members, string lengths, enums, integer
//! ranges. Every violation is collected and answered as one `ValidationException` naming each
//! member, as AWS does; a member of the wrong JSON type is a `SerializationException`.

use serde_json::{Map, Value};

use crate::error::{ApiError, constraint};

/// The request body of one operation, with the violations found so far.
pub struct Request<'a> {
    body: &'a Map<String, Value>,
    violations: Vec<String>,
    wrong_type: Option<String>,
}

/// Length limits of a string member (in characters, as the model counts them).
#[derive(Debug, Clone, Copy)]
pub struct Len {
    pub min: usize,
    pub max: usize,
}

pub const ARN: Len = Len { min: 1, max: 256 };
/// A Map Run's ARN (`mapRunArn`: up to 2,000 characters).
pub const LONG_ARN: Len = Len { min: 1, max: 2000 };
pub const NAME: Len = Len { min: 1, max: 80 };
pub const DEFINITION: Len = Len {
    min: 1,
    max: 1_048_576,
};
pub const DATA: Len = Len {
    min: 0,
    max: 262_144,
};
pub const ERROR: Len = Len { min: 0, max: 256 };
pub const CAUSE: Len = Len {
    min: 0,
    max: 32_768,
};
pub const TOKEN: Len = Len { min: 1, max: 2048 };
pub const PAGE_TOKEN: Len = Len { min: 1, max: 1024 };
pub const EXECUTIONS_PAGE_TOKEN: Len = Len { min: 1, max: 3096 };
pub const TRACE_HEADER: Len = Len { min: 0, max: 256 };
pub const VERSION_DESCRIPTION: Len = Len { min: 0, max: 256 };
pub const TAG_KEY: Len = Len { min: 1, max: 128 };
pub const TAG_VALUE: Len = Len { min: 0, max: 256 };

impl<'a> Request<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Request {
            body,
            violations: Vec::new(),
            wrong_type: None,
        }
    }

    fn typed<T>(
        &mut self,
        member: &str,
        want: &str,
        f: impl Fn(&'a Value) -> Option<T>,
    ) -> Option<T> {
        let v = self.body.get(member).filter(|v| !v.is_null())?;
        let got = f(v);
        if got.is_none() && self.wrong_type.is_none() {
            self.wrong_type = Some(format!("member '{member}' must be {want}"));
        }
        got
    }

    fn check_len(&mut self, member: &str, s: &str, len: Len) {
        let n = s.chars().count();
        if n < len.min {
            self.violations.push(constraint(
                Some(s),
                member,
                &format!(
                    "Member must have length greater than or equal to {}",
                    len.min
                ),
            ));
        } else if n > len.max {
            // the value itself is not echoed when it is long
            let shown = (n <= 256).then_some(s);
            self.violations.push(constraint(
                shown,
                member,
                &format!("Member must have length less than or equal to {}", len.max),
            ));
        }
    }

    /// An optional string member within `len`.
    pub fn string(&mut self, member: &str, len: Len) -> Option<&'a str> {
        let s = self.typed(member, "a string", Value::as_str)?;
        self.check_len(member, s, len);
        Some(s)
    }

    /// A required string member within `len`.
    pub fn required(&mut self, member: &str, len: Len) -> &'a str {
        match self.string(member, len) {
            Some(s) => s,
            None => {
                if self.body.get(member).is_none_or(Value::is_null) {
                    self.violations
                        .push(constraint(None, member, "Member must not be null"));
                }
                ""
            }
        }
    }

    /// An optional string member that must be one of `values`.
    pub fn enumeration(&mut self, member: &str, values: &[&str]) -> Option<&'a str> {
        let s = self.typed(member, "a string", Value::as_str)?;
        if !values.contains(&s) {
            self.violations.push(constraint(
                Some(s),
                member,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                ),
            ));
            return None;
        }
        Some(s)
    }

    /// An optional integer member within `min..=max`.
    pub fn integer(&mut self, member: &str, min: i64, max: i64) -> Option<i64> {
        let n = self.typed(member, "an integer", Value::as_i64)?;
        let text = n.to_string();
        if n < min {
            self.violations.push(constraint(
                Some(&text),
                member,
                &format!("Member must have value greater than or equal to {min}"),
            ));
        } else if n > max {
            self.violations.push(constraint(
                Some(&text),
                member,
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
        Some(n)
    }

    /// An optional boolean member.
    pub fn boolean(&mut self, member: &str) -> Option<bool> {
        self.typed(member, "a boolean", Value::as_bool)
    }

    /// An optional object member (kept as it is).
    pub fn object(&mut self, member: &str) -> Option<&'a Map<String, Value>> {
        self.typed(member, "an object", Value::as_object)
    }

    /// An optional list member.
    pub fn list(&mut self, member: &str) -> Option<&'a Vec<Value>> {
        self.typed(member, "a list", Value::as_array)
    }

    /// A required list member.
    pub fn required_list(&mut self, member: &str) -> &'a [Value] {
        match self.list(member) {
            Some(l) => l,
            None => {
                if self.body.get(member).is_none_or(Value::is_null) {
                    self.violations
                        .push(constraint(None, member, "Member must not be null"));
                }
                &[]
            }
        }
    }

    /// Records a violation found by the caller (e.g. a member of a list).
    pub fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    /// A wrong member type found by the caller.
    pub fn wrong_type(&mut self, text: String) {
        if self.wrong_type.is_none() {
            self.wrong_type = Some(text);
        }
    }

    /// `Err` when a member had the wrong type or violated a constraint.
    pub fn finish(self) -> Result<(), ApiError> {
        if let Some(t) = self.wrong_type {
            return Err(ApiError::serialization(t));
        }
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(&self.violations))
        }
    }
}

/// Tags of `tags` (`[{"key","value"}]`), checked as the model constrains them.
pub fn tags(req: &mut Request<'_>, list: &[Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let Some(o) = t.as_object() else {
            req.wrong_type(format!("member 'tags.{}' must be an object", i + 1));
            continue;
        };
        let mut one = Request::new(o);
        let key = one.required("key", TAG_KEY).to_string();
        let value = one.string("value", TAG_VALUE).unwrap_or("").to_string();
        for v in one.violations {
            req.violation(v.replace(" at '", &format!(" at 'tags.{}.member.", i + 1)));
        }
        if let Some(w) = one.wrong_type {
            req.wrong_type(w);
        }
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_and_too_long_members_are_all_named() {
        let body = json!({"name": "x".repeat(81)});
        let mut r = Request::new(body.as_object().unwrap());
        r.required("stateMachineArn", ARN);
        r.required("name", NAME);
        let e = r.finish().unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            format!(
                "2 validation errors detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null; Value '{}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80",
                "x".repeat(81)
            )
        );
    }

    #[test]
    fn a_member_of_the_wrong_type_is_a_serialization_error() {
        let body = json!({"maxResults": "ten"});
        let mut r = Request::new(body.as_object().unwrap());
        assert_eq!(r.integer("maxResults", 0, 1000), None);
        let e = r.finish().unwrap_err();
        assert_eq!(e.code, "SerializationException");
        assert_eq!(e.message, "member 'maxResults' must be an integer");
    }

    #[test]
    fn enums_and_ranges_are_checked() {
        let body = json!({"type": "FAST", "maxResults": 1001});
        let mut r = Request::new(body.as_object().unwrap());
        assert_eq!(r.enumeration("type", &["STANDARD", "EXPRESS"]), None);
        r.integer("maxResults", 0, 1000);
        let e = r.finish().unwrap_err();
        assert_eq!(
            e.message,
            "2 validation errors detected: Value 'FAST' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]; Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
        );
    }
}
