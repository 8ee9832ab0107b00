//! `s3://bucket/key` URIs.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A parsed `s3://bucket/key` URI. The key may be empty (a bucket root) or end with `/` (a prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S3Uri {
    pub bucket: String,
    pub key: String,
}

#[derive(Debug, Error, Clone, PartialEq)]
#[error("invalid S3 URI {uri:?}: {reason}")]
pub struct S3UriError {
    pub uri: String,
    pub reason: &'static str,
}

impl S3Uri {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        S3Uri {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    /// This URI with `segment` appended, inserting a `/` when needed.
    pub fn join(&self, segment: &str) -> S3Uri {
        let segment = segment.trim_start_matches('/');
        let key = if self.key.is_empty() || self.key.ends_with('/') {
            format!("{}{}", self.key, segment)
        } else {
            format!("{}/{}", self.key, segment)
        };
        S3Uri::new(self.bucket.clone(), key)
    }

    /// The last path segment of the key (the "file name"), or "" for a prefix.
    pub fn file_name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or("")
    }
}

impl FromStr for S3Uri {
    type Err = S3UriError;

    fn from_str(uri: &str) -> Result<Self, Self::Err> {
        let err = |reason| S3UriError {
            uri: uri.to_string(),
            reason,
        };
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| err("must start with s3://"))?;
        let (bucket, key) = match rest.split_once('/') {
            Some((b, k)) => (b, k),
            None => (rest, ""),
        };
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid_bucket {
            return Err(err(
                "bucket name must be 3-63 characters of lowercase letters, digits, '-' and '.'",
            ));
        }
        Ok(S3Uri::new(bucket, key))
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl serde::Serialize for S3Uri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for S3Uri {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins() {
        let u: S3Uri = "s3://my-bucket/data/2024-01-01/".parse().unwrap();
        assert_eq!(u.bucket, "my-bucket");
        assert_eq!(
            u.join("train.csv").to_string(),
            "s3://my-bucket/data/2024-01-01/train.csv"
        );
        assert_eq!(u.join("x").file_name(), "x");
    }

    #[test]
    fn rejects_bad_uris() {
        assert!("http://x/y".parse::<S3Uri>().is_err());
        assert!("s3://A/y".parse::<S3Uri>().is_err());
        assert!("s3://".parse::<S3Uri>().is_err());
    }
}
