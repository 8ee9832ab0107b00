//! SageMaker and Step Functions name rules, and the names derived for one execution.
//!
//! Names are `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`: training, model and transform job names at
//! most 63 characters, tuning job names at most 32, execution names at most 80. They are derived
//! from the model name, the data date and a short hash of the execution ARN, so two executions
//! never collide and a retry of the same execution gets the same names. The state machines
//! append `-<retry count>` to the SageMaker job names ([`RETRY_SUFFIX_RESERVE`] characters are
//! kept free for it), so a retried create never reuses the name its first try may have taken.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The project's Lambda functions, each with the placeholder its ARN fills in the state machine
/// definitions (`${InitializeFunctionArn}`, …: the `DefinitionSubstitutions` of
/// `infra/template.yaml`, and the local cloud's substitution).
pub const FUNCTIONS: [(&str, &str); 8] = [
    ("InitializeFunctionArn", "initialize"),
    ("TrainFunctionArn", "train"),
    ("CreateModelFunctionArn", "create-model"),
    ("RegisterModelFunctionArn", "register-model"),
    ("FindModelFunctionArn", "find-model"),
    ("MonitorPerformanceFunctionArn", "monitor-performance"),
    ("IsRetrainingNeededFunctionArn", "is-retraining-needed"),
    ("TrackExperimentFunctionArn", "track-experiment"),
];

/// Longest training / model / transform job name.
pub const MAX_JOB_NAME: usize = 63;
/// Longest hyperparameter tuning job name.
pub const MAX_TUNING_JOB_NAME: usize = 32;
/// Longest Step Functions execution name.
pub const MAX_EXECUTION_NAME: usize = 80;
/// Characters left free at the end of SageMaker job names for `-<retry count>`.
pub const RETRY_SUFFIX_RESERVE: usize = 2;
/// Length of the execution hash in names.
pub const HASH_LEN: usize = 8;
/// Longest model name accepted (the registry key; names are cut to fit job names).
pub const MAX_MODEL_NAME: usize = 48;

/// Whether `name` matches `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,max-1}` and is at most `max` long.
pub fn is_valid_name(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// The first [`HASH_LEN`] hex digits of SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = hex::encode(digest);
    hex.truncate(HASH_LEN);
    hex
}

/// `model` cut to at most `max` characters without a trailing hyphen.
fn cut(model: &str, max: usize) -> String {
    let mut s: String = model.chars().take(max).collect();
    while s.ends_with('-') {
        s.pop();
    }
    s
}

/// `<model, cut>-<suffix>` of at most `max` characters.
fn compose(model: &str, suffix: &str, max: usize) -> String {
    let room = max.saturating_sub(suffix.len() + 1);
    format!("{}-{suffix}", cut(model, room))
}

/// The names of one execution's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunNames {
    /// The hash of the execution ARN in every name.
    pub run_id: String,
    pub training_job: String,
    pub tuning_job: String,
    pub model: String,
    pub transform_job: String,
    /// Name of the training execution a retrain starts.
    pub retrain_execution: String,
}

impl RunNames {
    /// Names for `model` (a valid name), `data_date` (`YYYY-MM-DD`) and the execution ARN.
    pub fn derive(model: &str, data_date: &str, execution_arn: &str) -> RunNames {
        let run_id = short_hash(execution_arn);
        let date: String = data_date.chars().filter(char::is_ascii_digit).collect();
        let job_max = MAX_JOB_NAME - RETRY_SUFFIX_RESERVE;
        let tuning_max = MAX_TUNING_JOB_NAME - RETRY_SUFFIX_RESERVE;
        RunNames {
            training_job: compose(model, &format!("{date}-{run_id}-t"), job_max),
            tuning_job: compose(model, &format!("{date}-{run_id}"), tuning_max),
            model: compose(model, &format!("{date}-{run_id}-m"), job_max),
            transform_job: compose(model, &format!("{date}-{run_id}-x"), job_max),
            retrain_execution: compose(
                model,
                &format!("retrain-{date}-{run_id}"),
                MAX_EXECUTION_NAME,
            ),
            run_id,
        }
    }
}

/// The processing job name of the training flow's preprocessing step:
/// `<model, cut>-<date>-<run id>-p`, with room for the `-<retry count>` suffix.
pub fn processing_job_name(model: &str, data_date: &str, run_id: &str) -> String {
    let date: String = data_date.chars().filter(char::is_ascii_digit).collect();
    compose(
        model,
        &format!("{date}-{run_id}-p"),
        MAX_JOB_NAME - RETRY_SUFFIX_RESERVE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:states:us-east-1:1:execution:training:abc";

    #[test]
    fn given_long_model_name_when_derived_then_every_name_fits_its_limit() {
        let model = "a-very-long-model-name-with-many-parts-0123456789ab";
        let n = RunNames::derive(model, "2024-06-01", ARN);
        for (name, max) in [
            (&n.training_job, MAX_JOB_NAME - RETRY_SUFFIX_RESERVE),
            (&n.model, MAX_JOB_NAME - RETRY_SUFFIX_RESERVE),
            (&n.transform_job, MAX_JOB_NAME - RETRY_SUFFIX_RESERVE),
            (&n.tuning_job, MAX_TUNING_JOB_NAME - RETRY_SUFFIX_RESERVE),
            (&n.retrain_execution, MAX_EXECUTION_NAME),
        ] {
            assert!(is_valid_name(name, max), "{name:?} (max {max})");
            assert!(is_valid_name(&format!("{name}-9"), max + 2));
        }
        assert!(n.tuning_job.ends_with(&format!("20240601-{}", n.run_id)));
    }

    #[test]
    fn given_two_executions_when_derived_then_names_differ_and_retries_agree() {
        let a = RunNames::derive("churn", "2024-06-01", ARN);
        let b = RunNames::derive("churn", "2024-06-01", &format!("{ARN}x"));
        assert_ne!(a.training_job, b.training_job);
        assert_ne!(a.tuning_job, b.tuning_job);
        assert_eq!(a, RunNames::derive("churn", "2024-06-01", ARN));
        assert_eq!(a.training_job, format!("churn-20240601-{}-t", a.run_id));
    }

    #[test]
    fn given_a_run_when_processing_job_named_then_it_fits_with_the_retry_suffix_and_is_unique() {
        let model = "a-very-long-model-name-with-many-parts-0123456789ab";
        let n = RunNames::derive(model, "2024-06-01", ARN);
        let p = processing_job_name(model, "2024-06-01", &n.run_id);
        assert!(
            is_valid_name(&p, MAX_JOB_NAME - RETRY_SUFFIX_RESERVE),
            "{p}"
        );
        assert!(is_valid_name(&format!("{p}-9"), MAX_JOB_NAME));
        assert!(p.ends_with(&format!("20240601-{}-p", n.run_id)), "{p}");
        let other = RunNames::derive(model, "2024-06-01", &format!("{ARN}x"));
        assert_ne!(p, processing_job_name(model, "2024-06-01", &other.run_id));
        for name in [&n.training_job, &n.model, &n.transform_job] {
            assert_ne!(&p, name);
        }
    }

    #[test]
    fn cut_never_leaves_a_trailing_hyphen() {
        let n = RunNames::derive("abcdefghijklm-opqrstu", "2024-06-01", ARN);
        assert!(is_valid_name(&n.tuning_job, MAX_TUNING_JOB_NAME));
        assert!(!n.tuning_job.contains("--"), "{}", n.tuning_job);
    }

    #[test]
    fn name_rule_matches_the_sagemaker_pattern() {
        assert!(is_valid_name("a", 63));
        assert!(is_valid_name("a--b", 63));
        assert!(!is_valid_name("-a", 63));
        assert!(!is_valid_name("a-", 63));
        assert!(!is_valid_name("a_b", 63));
        assert!(!is_valid_name("", 63));
        assert!(!is_valid_name(&"a".repeat(64), 63));
    }
}
