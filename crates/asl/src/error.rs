//! Validation errors: every problem of a definition, each with its JSON pointer.

use std::fmt;

/// One problem in a state machine definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// JSON pointer (RFC 6901) to the offending field, e.g. `/States/Train/Retry/0/BackoffRate`.
    pub pointer: String,
    /// What is wrong, e.g. `must be >= 1.0`.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

/// Every problem found in a definition (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    /// The number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no problem.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the problems.
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }
}

/// Escapes one reference token of a JSON pointer (`~` → `~0`, `/` → `~1`).
pub(crate) fn escape_token(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_string()
    }
}

/// Collects problems while walking a definition.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub errors: Vec<ValidationError>,
}

impl Collector {
    pub fn push(&mut self, pointer: &str, message: impl Into<String>) {
        self.errors.push(ValidationError {
            pointer: pointer.to_string(),
            message: message.into(),
        });
    }
}

/// `base` + `/` + escaped `token`.
pub(crate) fn ptr(base: &str, token: &str) -> String {
    format!("{base}/{}", escape_token(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_one_problem_per_line() {
        let errs = ValidationErrors(vec![
            ValidationError {
                pointer: "/States/A/Next".into(),
                message: "unknown state \"B\"".into(),
            },
            ValidationError {
                pointer: String::new(),
                message: "missing field StartAt".into(),
            },
        ]);
        assert_eq!(
            errs.to_string(),
            "/States/A/Next: unknown state \"B\"\n/: missing field StartAt"
        );
    }

    #[test]
    fn the_count_and_emptiness_follow_the_problems() {
        let none = ValidationErrors(Vec::new());
        assert!(none.is_empty());
        assert_eq!((none.len(), none.iter().count()), (0, 0));
        let one = ValidationErrors(vec![ValidationError {
            pointer: "/StartAt".into(),
            message: "is required".into(),
        }]);
        assert!(!one.is_empty());
        assert_eq!((one.len(), one.iter().count()), (1, 1));
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(ptr("/States", "a/b~c"), "/States/a~1b~0c");
    }
}
