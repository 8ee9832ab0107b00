//! What the operations share: the pages of the List operations and GetExecutionHistory
//! (`maxResults` and the `nextToken`s this server gives), a failure of the state directory.

use serde_json::{Map, Value};

use crate::app::App;
use crate::arn::{self, Target};
use crate::error::ApiError;
use crate::store::ExecutionRecord;

/// A failure of the state directory: the server's fault (HTTP 500).
pub(super) fn internal(e: crate::store::StoreError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// The default page size of the List operations and GetExecutionHistory.
pub(super) const DEFAULT_PAGE: usize = 100;

/// One page of `items` from `token` (a `nextToken` this server gave), at most `max` (0: the
/// default of 100) items; the token of the next page, if any.
pub(super) fn page<T>(
    items: Vec<T>,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let size = match max {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(DEFAULT_PAGE),
        _ => DEFAULT_PAGE,
    };
    let start = match token {
        None => 0,
        Some(t) => t
            .strip_prefix("mdlc-page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::invalid_token(&format!("Invalid pagination token: {t}")))?,
    };
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| format!("mdlc-page-{end}"));
    let page = items.into_iter().skip(start).take(end - start).collect();
    Ok((page, next))
}

/// `{key: [one page of items]}` (see [`page`]) plus `nextToken` when more follow: the answer
/// of a List operation or GetExecutionHistory.
pub(super) fn paged(
    key: &str,
    items: Vec<Value>,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<Value, ApiError> {
    let (items, next) = page(items, max, token)?;
    let mut out = Map::new();
    out.insert(key.into(), Value::Array(items));
    if let Some(t) = next {
        out.insert("nextToken".into(), Value::String(t));
    }
    Ok(Value::Object(out))
}

/// The execution an ARN names: `InvalidArn` or `ExecutionDoesNotExist` otherwise.
pub(super) fn find_execution(app: &App, execution_arn: &str) -> Result<ExecutionRecord, ApiError> {
    match arn::parse_execution(execution_arn)? {
        Target::Execution => app
            .execution(execution_arn)
            .ok_or_else(|| ApiError::execution_does_not_exist(execution_arn)),
        _ => Err(ApiError::execution_does_not_exist(execution_arn)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_their_tokens_and_a_foreign_token_is_invalid() {
        let (p, next) = page((0..5).collect::<Vec<_>>(), Some(2), None).unwrap();
        assert_eq!((p, next.as_deref()), (vec![0, 1], Some("mdlc-page-2")));
        let (p, next) = page((0..5).collect::<Vec<_>>(), Some(2), Some("mdlc-page-4")).unwrap();
        assert_eq!((p, next), (vec![4], None));
        let (p, _) = page((0..150).collect::<Vec<_>>(), Some(0), None).unwrap();
        assert_eq!(p.len(), 100);
        assert_eq!(
            page((0..5).collect::<Vec<_>>(), None, Some("x"))
                .unwrap_err()
                .code,
            "InvalidToken"
        );
    }
}
