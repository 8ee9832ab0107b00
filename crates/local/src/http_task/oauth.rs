//! The OAuth tokens of the HTTP Task's connections, kept as EventBridge keeps them. Its user
//! guide ("Authorization methods for connections in EventBridge") says it refreshes an OAuth
//! token "when a 401 or 407 response is returned" and "proactively during an HTTPS invocation, if
//! the token is about to expire" (its Chinese edition: when the token expires within 60 seconds).
//! So a token is reused until it is within [`REFRESH_MARGIN`] of the `expires_in` its endpoint
//! gave (for ever without one), and forgotten after the API answered 401 or 407: the next
//! invocation, a Retry for instance, fetches a new one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long before its expiry a token is fetched again.
pub(super) const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A token endpoint's answer: `access_token` and, when it says, `expires_in` seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub value: String,
    pub expires_in: Option<u64>,
}

/// The tokens by connection ARN.
#[derive(Debug, Default)]
pub(super) struct TokenCache(Mutex<HashMap<String, Kept>>);

#[derive(Debug)]
struct Kept {
    value: String,
    /// From then on the token is fetched again; `None`: never (no `expires_in`).
    refresh_at: Option<Instant>,
}

impl TokenCache {
    /// The kept token of `arn`, unless it is about to expire at `now`.
    pub fn get(&self, arn: &str, now: Instant) -> Option<String> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(arn)
            .filter(|k| k.refresh_at.is_none_or(|at| now < at))
            .map(|k| k.value.clone())
    }

    /// Keeps the token fetched at `now` for `arn` (one that expires within the margin is not
    /// worth keeping: it would be fetched again next time anyway).
    pub fn keep(&self, arn: &str, token: Token, now: Instant) {
        let refresh_at = match token.expires_in {
            None => None,
            Some(secs) => match Duration::from_secs(secs).checked_sub(REFRESH_MARGIN) {
                Some(left) if !left.is_zero() => now.checked_add(left),
                _ => return self.forget(arn),
            },
        };
        let kept = Kept {
            value: token.value,
            refresh_at,
        };
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(arn.to_string(), kept);
    }

    /// Drops the token of `arn` (the API refused it).
    pub fn forget(&self, arn: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(arn);
    }
}

/// Whether an API's answer makes EventBridge refresh the connection's token.
pub(super) fn refuses_token(status: u16) -> bool {
    status == 401 || status == 407
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:events:us-east-1:000000000000:connection/OAuth/1";

    fn token(value: &str, expires_in: Option<u64>) -> Token {
        Token {
            value: value.to_string(),
            expires_in,
        }
    }

    #[test]
    fn a_token_is_reused_until_a_minute_before_it_expires() {
        let cache = TokenCache::default();
        let t0 = Instant::now();
        cache.keep(ARN, token("t", Some(3600)), t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(cache.get(ARN, at(0)), Some("t".into()));
        assert_eq!(cache.get(ARN, at(3539)), Some("t".into()));
        assert_eq!(cache.get(ARN, at(3540)), None);
        assert_eq!(cache.get("arn:other", at(0)), None);
    }

    #[test]
    fn a_token_that_expires_within_a_minute_is_not_kept_and_one_without_expiry_is_kept() {
        let cache = TokenCache::default();
        let t0 = Instant::now();
        cache.keep(ARN, token("forever", None), t0);
        assert_eq!(
            cache.get(ARN, t0 + Duration::from_secs(10 * 365 * 86_400)),
            Some("forever".into())
        );
        for short in [0, 30, 60] {
            cache.keep(ARN, token("short", Some(short)), t0);
            assert_eq!(cache.get(ARN, t0), None, "expires_in {short}");
        }
        cache.keep(ARN, token("t61", Some(61)), t0);
        assert_eq!(cache.get(ARN, t0), Some("t61".into()));
        assert_eq!(cache.get(ARN, t0 + Duration::from_secs(1)), None);
    }

    #[test]
    fn a_refused_token_is_forgotten_on_401_and_407_only() {
        let cache = TokenCache::default();
        let t0 = Instant::now();
        cache.keep(ARN, token("t", None), t0);
        cache.forget(ARN);
        assert_eq!(cache.get(ARN, t0), None);
        let refusing: Vec<u16> = (100..600).filter(|s| refuses_token(*s)).collect();
        assert_eq!(refusing, vec![401, 407]);
    }
}
