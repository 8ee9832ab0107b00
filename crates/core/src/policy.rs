//! The retrain policy: threshold with direction, degradation against the version's baseline,
//! cooldown, and the maximum number of retrains per window (the loop guard). The history comes
//! from the registry, never from the event, so the guard cannot be bypassed by input.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::input::Monitoring;
use crate::metrics::MetricName;
use crate::registry::{EvaluationRecord, ModelVersion};

/// The policy's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The model is fine (or cannot be judged): no retrain.
    Keep { reason: String },
    /// The model is degraded but a retrain started too recently.
    Cooldown { reason: String },
    /// The model is degraded but the window's retrains are used up.
    LimitReached { reason: String, retrains: u32 },
    /// Retrain.
    Retrain { reason: String },
}

impl Verdict {
    pub fn retrain(&self) -> bool {
        matches!(self, Verdict::Retrain { .. })
    }

    pub fn reason(&self) -> &str {
        match self {
            Verdict::Keep { reason }
            | Verdict::Cooldown { reason }
            | Verdict::LimitReached { reason, .. }
            | Verdict::Retrain { reason } => reason,
        }
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The longest span the policy looks back: a century (validated input allows a year). Longer
/// settings are cut to it, so `now - span` cannot overflow the calendar.
pub const MAX_SPAN_SECONDS: u64 = 3_162_240_000;

/// `seconds` as a duration, at most [`MAX_SPAN_SECONDS`].
fn span(seconds: u64) -> Duration {
    Duration::seconds(i64::try_from(seconds.min(MAX_SPAN_SECONDS)).unwrap_or_default())
}

/// How far back [`decide`] needs the evaluation history.
pub fn history_start(policy: &Monitoring, now: DateTime<Utc>) -> DateTime<Utc> {
    now - span(policy.window_seconds.max(policy.cooldown_seconds))
}

/// Applies the policy. `history` is the model's evaluations (any order); those of
/// `current_execution` are ignored, so a retried decision counts the same as the first.
pub fn decide(
    policy: &Monitoring,
    metrics: &BTreeMap<String, f64>,
    version: &ModelVersion,
    history: &[EvaluationRecord],
    current_execution: &str,
    now: DateTime<Utc>,
) -> Verdict {
    let metric = policy.metric;
    let Some(&value) = metrics.get(metric.as_str()) else {
        return Verdict::Keep {
            reason: format!("{metric} was not computed for this batch; nothing to judge"),
        };
    };
    let mut triggers = Vec::new();
    if let Some(threshold) = policy.threshold
        && policy.direction.is_worse(value, threshold)
    {
        triggers.push(format!(
            "{metric} {value:.6} is worse than the threshold {threshold}"
        ));
    }
    let baseline = version
        .record
        .objective_metric
        .as_deref()
        .and_then(MetricName::from_objective)
        .filter(|m| *m == metric)
        .and(version.record.objective_value);
    if let (Some(baseline), Some(limit)) = (baseline, policy.max_degradation)
        && let Some(d) = policy.direction.degradation(value, baseline)
        && d > limit
    {
        triggers.push(format!(
            "{metric} {value:.6} is {:.1}% worse than version {}'s baseline {baseline:.6} (limit {:.1}%)",
            d * 100.0,
            version.version,
            limit * 100.0
        ));
    }
    if triggers.is_empty() {
        let mut reason = format!("{metric} {value:.6} is acceptable");
        if let Some(t) = policy.threshold {
            reason.push_str(&format!(" (threshold {t}"));
        } else {
            reason.push_str(" (no threshold");
        }
        match (baseline, policy.max_degradation) {
            (Some(b), Some(l)) => reason.push_str(&format!(
                ", within {:.1}% of the baseline {b:.6})",
                l * 100.0
            )),
            _ => reason.push_str(", no comparable baseline)"),
        }
        return Verdict::Keep { reason };
    }
    let trigger = triggers.join("; ");

    let retrains: Vec<DateTime<Utc>> = history
        .iter()
        .filter(|e| e.model_name == version.record.model_name)
        .filter(|e| e.execution_arn != current_execution && e.retrain == Some(true))
        .filter_map(|e| parse_time(&e.evaluated_at))
        .collect();
    if let Some(last) = retrains.iter().max()
        && policy.cooldown_seconds > 0
    {
        let since = now.signed_duration_since(*last);
        if since < span(policy.cooldown_seconds) {
            return Verdict::Cooldown {
                reason: format!(
                    "{trigger}, but the last retrain started {} s ago (cooldown {} s)",
                    since.num_seconds(),
                    policy.cooldown_seconds
                ),
            };
        }
    }
    let window_start = now - span(policy.window_seconds);
    let in_window = retrains.iter().filter(|t| **t >= window_start).count() as u32;
    if in_window >= policy.max_retrains_per_window {
        return Verdict::LimitReached {
            reason: format!(
                "{trigger}, but {in_window} retrain(s) already started in the last {} s (maximum {})",
                policy.window_seconds, policy.max_retrains_per_window
            ),
            retrains: in_window,
        };
    }
    Verdict::Retrain { reason: trigger }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::sample_version;
    use crate::metrics::Direction;
    use crate::registry::VersionStatus;

    fn policy() -> Monitoring {
        Monitoring {
            metric: MetricName::Rmse,
            threshold: Some(1.0),
            direction: Direction::LowerIsBetter,
            max_degradation: Some(0.1),
            cooldown_seconds: 3600,
            max_retrains_per_window: 2,
            window_seconds: 86_400,
        }
    }

    fn version(baseline: f64) -> ModelVersion {
        let mut record = sample_version("m", "train-1");
        record.objective_metric = Some("validation:rmse".into());
        record.objective_value = Some(baseline);
        ModelVersion {
            version: 3,
            status: VersionStatus::Registered,
            record,
        }
    }

    fn metrics(rmse: f64) -> BTreeMap<String, f64> {
        BTreeMap::from([("rmse".to_string(), rmse)])
    }

    fn retrained_at(at: &str, exec: &str) -> EvaluationRecord {
        EvaluationRecord {
            model_name: "m".into(),
            version: 3,
            evaluated_at: at.into(),
            execution_arn: exec.into(),
            data_date: "2024-06-01".into(),
            metrics: metrics(2.0),
            retrain: Some(true),
            reason: Some("bad".into()),
            drift: None,
        }
    }

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-10T12:00:00Z").unwrap()
    }

    #[test]
    fn given_good_metric_then_keep() {
        let v = decide(&policy(), &metrics(0.95), &version(0.9), &[], "e", now());
        assert!(matches!(v, Verdict::Keep { .. }), "{v:?}");
        assert!(v.reason().contains("acceptable"));
    }

    #[test]
    fn given_metric_above_threshold_then_retrain() {
        let v = decide(&policy(), &metrics(1.5), &version(1.4), &[], "e", now());
        assert!(v.retrain(), "{v:?}");
        assert!(v.reason().contains("threshold 1"), "{}", v.reason());
    }

    #[test]
    fn given_degradation_beyond_limit_then_retrain_even_below_threshold() {
        let v = decide(&policy(), &metrics(0.7), &version(0.5), &[], "e", now());
        assert!(v.retrain(), "{v:?}");
        assert!(v.reason().contains("40.0% worse"), "{}", v.reason());
    }

    #[test]
    fn given_higher_is_better_metric_then_direction_is_respected() {
        let mut p = policy();
        p.metric = MetricName::Auc;
        p.direction = Direction::HigherIsBetter;
        p.threshold = Some(0.8);
        let m = BTreeMap::from([("auc".to_string(), 0.85)]);
        assert!(!decide(&p, &m, &version(0.86), &[], "e", now()).retrain());
        let m = BTreeMap::from([("auc".to_string(), 0.7)]);
        assert!(decide(&p, &m, &version(0.86), &[], "e", now()).retrain());
    }

    #[test]
    fn given_recent_retrain_then_cooldown() {
        let history = [retrained_at("2024-06-10T11:30:00.000Z", "other")];
        let v = decide(
            &policy(),
            &metrics(2.0),
            &version(0.9),
            &history,
            "e",
            now(),
        );
        assert!(matches!(v, Verdict::Cooldown { .. }), "{v:?}");
    }

    #[test]
    fn given_retrains_used_up_then_limit_reached() {
        let history = [
            retrained_at("2024-06-10T01:00:00.000Z", "a"),
            retrained_at("2024-06-10T05:00:00.000Z", "b"),
        ];
        let v = decide(
            &policy(),
            &metrics(2.0),
            &version(0.9),
            &history,
            "e",
            now(),
        );
        assert!(
            matches!(v, Verdict::LimitReached { retrains: 2, .. }),
            "{v:?}"
        );
        // Retrains older than the window do not count.
        let old = [
            retrained_at("2024-06-01T01:00:00.000Z", "a"),
            retrained_at("2024-06-10T05:00:00.000Z", "b"),
        ];
        assert!(decide(&policy(), &metrics(2.0), &version(0.9), &old, "e", now()).retrain());
    }

    #[test]
    fn given_own_earlier_decision_then_it_is_not_counted() {
        let history = [retrained_at("2024-06-10T11:59:00.000Z", "e")];
        assert!(
            decide(
                &policy(),
                &metrics(2.0),
                &version(0.9),
                &history,
                "e",
                now()
            )
            .retrain()
        );
    }

    #[test]
    fn given_missing_metric_then_keep_with_reason() {
        let v = decide(&policy(), &BTreeMap::new(), &version(0.9), &[], "e", now());
        assert!(!v.retrain());
        assert!(v.reason().contains("not computed"));
    }

    #[test]
    fn the_keep_reason_states_the_value_the_threshold_and_the_baseline() {
        let v = decide(&policy(), &metrics(0.95), &version(0.9), &[], "e", now());
        assert_eq!(
            v,
            Verdict::Keep {
                reason: "rmse 0.950000 is acceptable (threshold 1, within 10.0% of the baseline 0.900000)"
                    .into()
            }
        );
        let mut p = policy();
        p.threshold = None;
        p.max_degradation = None;
        let v = decide(&p, &metrics(0.95), &version(0.9), &[], "e", now());
        assert_eq!(
            v.reason(),
            "rmse 0.950000 is acceptable (no threshold, no comparable baseline)"
        );
    }

    #[test]
    fn the_history_starts_at_the_longer_of_window_and_cooldown() {
        let mut p = policy();
        assert_eq!(
            history_start(&p, now()),
            parse_time("2024-06-09T12:00:00Z").unwrap()
        );
        p.cooldown_seconds = 2 * 86_400;
        assert_eq!(
            history_start(&p, now()),
            parse_time("2024-06-08T12:00:00Z").unwrap()
        );
    }

    #[test]
    fn a_retrain_exactly_one_cooldown_ago_no_longer_blocks() {
        // the last retrain one hour ago exactly: the cooldown of 3600 s is over
        let history = [retrained_at("2024-06-10T11:00:00.000Z", "other")];
        let v = decide(
            &policy(),
            &metrics(2.0),
            &version(0.9),
            &history,
            "e",
            now(),
        );
        assert!(v.retrain(), "{v:?}");
        // one second later it still blocks, and the reason says how long ago and the cooldown
        let history = [retrained_at("2024-06-10T11:00:01.000Z", "other")];
        let v = decide(
            &policy(),
            &metrics(2.0),
            &version(0.9),
            &history,
            "e",
            now(),
        );
        assert_eq!(
            v,
            Verdict::Cooldown {
                reason: "rmse 2.000000 is worse than the threshold 1; rmse 2.000000 is 122.2% worse than version 3's baseline 0.900000 (limit 10.0%), but the last retrain started 3599 s ago (cooldown 3600 s)".into()
            }
        );
    }

    #[test]
    fn without_a_cooldown_only_the_window_limits_retrains() {
        let mut p = policy();
        p.cooldown_seconds = 0;
        // a retrain recorded a minute in the future (clock skew) is not a cooldown when there is none
        let history = [retrained_at("2024-06-10T12:01:00.000Z", "other")];
        assert!(decide(&p, &metrics(2.0), &version(0.9), &history, "e", now()).retrain());
    }

    #[test]
    fn a_retrain_exactly_at_the_window_start_counts() {
        let mut p = policy();
        p.cooldown_seconds = 0;
        p.max_retrains_per_window = 1;
        let history = [retrained_at("2024-06-09T12:00:00.000Z", "a")];
        let v = decide(&p, &metrics(2.0), &version(0.9), &history, "e", now());
        assert_eq!(
            v,
            Verdict::LimitReached {
                reason: "rmse 2.000000 is worse than the threshold 1; rmse 2.000000 is 122.2% worse than version 3's baseline 0.900000 (limit 10.0%), but 1 retrain(s) already started in the last 86400 s (maximum 1)".into(),
                retrains: 1
            }
        );
        let history = [retrained_at("2024-06-09T11:59:59.000Z", "a")];
        assert!(decide(&p, &metrics(2.0), &version(0.9), &history, "e", now()).retrain());
    }

    #[test]
    fn a_value_at_the_threshold_or_at_the_degradation_limit_is_kept() {
        let mut p = policy();
        p.max_degradation = None;
        assert!(!decide(&p, &metrics(1.0), &version(0.9), &[], "e", now()).retrain());
        // 0.75 against the baseline 0.5 is exactly 50% worse
        let mut p = policy();
        p.threshold = None;
        p.max_degradation = Some(0.5);
        assert!(!decide(&p, &metrics(0.75), &version(0.5), &[], "e", now()).retrain());
        assert_eq!(
            decide(&p, &metrics(0.76), &version(0.5), &[], "e", now()),
            Verdict::Retrain {
                reason:
                    "rmse 0.760000 is 52.0% worse than version 3's baseline 0.500000 (limit 50.0%)"
                        .into()
            }
        );
    }

    #[test]
    fn spans_longer_than_a_century_are_cut_to_one() {
        let mut p = policy();
        p.window_seconds = u64::MAX;
        p.cooldown_seconds = u64::MAX;
        let century_ago = now() - Duration::seconds(3_162_240_000);
        assert_eq!(history_start(&p, now()), century_ago);
        // a retrain 99 years ago is within both the cooldown and the window
        let history = [retrained_at("1925-06-10T12:00:00.000Z", "a")];
        let v = decide(&p, &metrics(2.0), &version(0.9), &history, "e", now());
        assert!(matches!(v, Verdict::Cooldown { .. }), "{v:?}");
        p.cooldown_seconds = 0;
        p.max_retrains_per_window = 1;
        let v = decide(&p, &metrics(2.0), &version(0.9), &history, "e", now());
        assert!(
            matches!(v, Verdict::LimitReached { retrains: 1, .. }),
            "{v:?}"
        );
        // one 101 years ago is outside the window
        let history = [retrained_at("1923-06-10T12:00:00.000Z", "a")];
        assert!(decide(&p, &metrics(2.0), &version(0.9), &history, "e", now()).retrain());
    }
}
