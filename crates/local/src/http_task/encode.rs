//! URL encoding of an HTTP Task's query parameters and of a `URL_ENCODED` request body.
//!
//! Keys and values are percent-encoded except for RFC 3986's unreserved characters (a space is
//! `%20`, brackets `%5B`/`%5D`), as AWS's example request of the HTTP Task page shows
//! (`description=Monthly%20subscription&metadata%5Border_details%5D=monthly%20report%20data`).
//! A nested object's members are `key[member]`; an array is encoded as its `ArrayFormat` says
//! (`INDICES` `a[0]=x&a[1]=y`, `REPEAT` `a=x&a=y`, `COMMAS` `a=x,y`, `BRACKETS` `a[]=x&a[]=y`).

use serde_json::{Map, Value};

/// `Transform.RequestEncodingOptions.ArrayFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayFormat {
    Indices,
    Repeat,
    Commas,
    Brackets,
}

impl ArrayFormat {
    pub const NAMES: &'static [&'static str] = &["INDICES", "REPEAT", "COMMAS", "BRACKETS"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "INDICES" => ArrayFormat::Indices,
            "REPEAT" => ArrayFormat::Repeat,
            "COMMAS" => ArrayFormat::Commas,
            "BRACKETS" => ArrayFormat::Brackets,
            _ => return None,
        })
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A scalar as text: a string as it is, `null` as nothing, anything else as its JSON.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One encoded `key=value` pair with the top-level key it came from (a connection's parameter
/// replaces the pairs of its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: String,
    pub encoded: String,
}

/// The encoded pairs of an object.
pub fn pairs(object: &Map<String, Value>, format: ArrayFormat) -> Vec<Pair> {
    let mut out = Vec::new();
    for (k, v) in object {
        let mut encoded = Vec::new();
        flatten(k.clone(), v, format, &mut encoded);
        out.extend(encoded.into_iter().map(|e| Pair {
            key: k.clone(),
            encoded: e,
        }));
    }
    out
}

/// One pair from a plain key and value.
pub fn pair(key: &str, value: &str) -> Pair {
    Pair {
        key: key.to_string(),
        encoded: format!("{}={}", percent(key), percent(value)),
    }
}

/// The pairs joined with `&`.
pub fn join(pairs: &[Pair]) -> String {
    pairs
        .iter()
        .map(|p| p.encoded.as_str())
        .collect::<Vec<_>>()
        .join("&")
}

fn flatten(prefix: String, v: &Value, format: ArrayFormat, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, inner) in m {
                flatten(format!("{prefix}[{k}]"), inner, format, out);
            }
        }
        Value::Array(items) => match format {
            ArrayFormat::Commas => {
                let joined: Vec<String> = items.iter().map(|i| percent(&scalar_text(i))).collect();
                out.push(format!("{}={}", percent(&prefix), joined.join(",")));
            }
            _ => {
                for (i, item) in items.iter().enumerate() {
                    let key = match format {
                        ArrayFormat::Indices => format!("{prefix}[{i}]"),
                        ArrayFormat::Brackets => format!("{prefix}[]"),
                        _ => prefix.clone(),
                    };
                    flatten(key, item, format, out);
                }
            }
        },
        scalar => out.push(format!(
            "{}={}",
            percent(&prefix),
            percent(&scalar_text(scalar))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(v: Value, f: ArrayFormat) -> String {
        join(&pairs(v.as_object().unwrap(), f))
    }

    #[test]
    fn given_the_array_formats_of_aws_examples_then_their_encodings() {
        let body = json!({"array": ["a", "b", "c", "d"]});
        assert_eq!(
            encode(body.clone(), ArrayFormat::Indices),
            "array%5B0%5D=a&array%5B1%5D=b&array%5B2%5D=c&array%5B3%5D=d"
        );
        assert_eq!(
            encode(body.clone(), ArrayFormat::Repeat),
            "array=a&array=b&array=c&array=d"
        );
        assert_eq!(encode(body.clone(), ArrayFormat::Commas), "array=a,b,c,d");
        assert_eq!(
            encode(body, ArrayFormat::Brackets),
            "array%5B%5D=a&array%5B%5D=b&array%5B%5D=c&array%5B%5D=d"
        );
    }

    #[test]
    fn given_aws_invoice_example_then_nested_members_and_spaces_as_aws_sends_them() {
        let body = json!({"description": "Monthly subscription",
            "metadata": {"order_details": "monthly report data"}, "customer": "1234567890"});
        assert_eq!(
            encode(body, ArrayFormat::Indices),
            "description=Monthly%20subscription&metadata%5Border_details%5D=monthly%20report%20data&customer=1234567890"
        );
        assert_eq!(
            encode(
                json!({"n": 1, "b": true, "z": null, "u": "é&="}),
                ArrayFormat::Indices
            ),
            "n=1&b=true&z=&u=%C3%A9%26%3D"
        );
    }
}
