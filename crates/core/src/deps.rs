//! What every handler's uniform entry point (`invoke`) receives: the ports and the configuration.

use std::sync::Arc;

use thiserror::Error;

use crate::ports::{Clock, EventPublisher, ObjectStore, RegistryRead, RegistryWrite, SageMakerApi};

/// Environment variable: the registry table name.
pub const ENV_TABLE_NAME: &str = "MDLC_TABLE_NAME";
/// Environment variable: the artifact bucket (datasets, model outputs, transform outputs).
pub const ENV_ARTIFACT_BUCKET: &str = "MDLC_ARTIFACT_BUCKET";
/// Environment variable: the role SageMaker jobs and models run as.
pub const ENV_SAGEMAKER_ROLE_ARN: &str = "MDLC_SAGEMAKER_ROLE_ARN";
/// Environment variable: the training state machine (only where used).
pub const ENV_TRAINING_STATE_MACHINE_ARN: &str = "MDLC_TRAINING_STATE_MACHINE_ARN";
/// Environment variable: the default MLflow tracking server (URI or SageMaker tracking server
/// ARN) of executions whose input has no `tracking` block (optional).
pub const ENV_TRACKING_URI: &str = "MDLC_TRACKING_URI";
/// The standard region variables, in the order they are consulted.
pub const ENV_REGIONS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];
/// Default region when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A missing or malformed environment variable (the functions' and the AWS adapters').
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} is not set (or empty)")]
    Missing { name: &'static str },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A variable read through `lookup`, trimmed; `None` when it is unset or blank.
pub fn env_value(lookup: impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `MDLC_TABLE_NAME`: required, and a DynamoDB table name (3 to 255 letters, digits, `_`, `-`
/// and `.`).
pub fn table_name_from(lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let name = env_value(lookup, ENV_TABLE_NAME).ok_or(ConfigError::Missing {
        name: ENV_TABLE_NAME,
    })?;
    let valid = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid {
        return Err(ConfigError::Invalid {
            name: ENV_TABLE_NAME,
            reason: format!(
                "{name:?} is not a DynamoDB table name (3-255 characters of letters, digits, '_', '-' and '.')"
            ),
        });
    }
    Ok(name)
}

/// The region the environment names (`AWS_REGION`, else `AWS_DEFAULT_REGION`), if any.
pub fn region_from(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    ENV_REGIONS.iter().find_map(|name| env_value(&lookup, name))
}

/// The functions' configuration (from the environment on Lambda and in the local runtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// `MDLC_TABLE_NAME`.
    pub table_name: String,
    /// `MDLC_ARTIFACT_BUCKET`.
    pub artifact_bucket: String,
    /// `MDLC_SAGEMAKER_ROLE_ARN`.
    pub sagemaker_role_arn: String,
    /// `MDLC_TRAINING_STATE_MACHINE_ARN` (optional).
    pub training_state_machine_arn: Option<String>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    /// `MDLC_TRACKING_URI` (optional): the tracking server when the execution input names none.
    pub tracking_uri: Option<String>,
}

impl FunctionConfig {
    /// A configuration with the given table, bucket and role, in `us-east-1`.
    pub fn new(
        table_name: impl Into<String>,
        artifact_bucket: impl Into<String>,
        sagemaker_role_arn: impl Into<String>,
    ) -> Self {
        FunctionConfig {
            table_name: table_name.into(),
            artifact_bucket: artifact_bucket.into(),
            sagemaker_role_arn: sagemaker_role_arn.into(),
            training_state_machine_arn: None,
            region: DEFAULT_REGION.to_string(),
            tracking_uri: None,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (for tests and the local runtime).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| env_value(&lookup, name);
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing { name });
        let table_name = table_name_from(&lookup)?;
        let artifact_bucket = required(ENV_ARTIFACT_BUCKET)?;
        if format!("s3://{artifact_bucket}/")
            .parse::<crate::S3Uri>()
            .is_err()
        {
            return Err(ConfigError::Invalid {
                name: ENV_ARTIFACT_BUCKET,
                reason: format!("{artifact_bucket:?} is not a valid S3 bucket name"),
            });
        }
        let sagemaker_role_arn = required(ENV_SAGEMAKER_ROLE_ARN)?;
        if !sagemaker_role_arn.starts_with("arn:") {
            return Err(ConfigError::Invalid {
                name: ENV_SAGEMAKER_ROLE_ARN,
                reason: format!("{sagemaker_role_arn:?} is not an ARN"),
            });
        }
        let training_state_machine_arn = get(ENV_TRAINING_STATE_MACHINE_ARN);
        let tracking_uri = get(ENV_TRACKING_URI);
        if let Some(uri) = &tracking_uri
            && let Err(reason) = crate::input::check_tracking_uri(uri)
        {
            return Err(ConfigError::Invalid {
                name: ENV_TRACKING_URI,
                reason: format!("{uri:?}: {reason}"),
            });
        }
        let region = region_from(&lookup).unwrap_or_else(|| DEFAULT_REGION.to_string());
        Ok(FunctionConfig {
            table_name,
            artifact_bucket,
            sagemaker_role_arn,
            training_state_machine_arn,
            region,
            tracking_uri,
        })
    }
}

/// Everything a handler may use. Each handler borrows only the ports it needs from it.
#[derive(Clone)]
pub struct Dependencies {
    pub store: Arc<dyn ObjectStore>,
    pub registry_read: Arc<dyn RegistryRead>,
    pub registry_write: Arc<dyn RegistryWrite>,
    pub sagemaker: Arc<dyn SageMakerApi>,
    pub clock: Arc<dyn Clock>,
    /// Where the flows' events go (`registry_write` publishes the registry's own).
    pub events: Arc<dyn EventPublisher>,
    pub config: FunctionConfig,
}

impl std::fmt::Debug for Dependencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dependencies")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::env_lookup as lookup;

    #[test]
    fn given_all_variables_when_read_then_config_is_complete() {
        let c = FunctionConfig::from_lookup(lookup(&[
            (ENV_TABLE_NAME, "registry"),
            (ENV_ARTIFACT_BUCKET, "artifacts-1"),
            (ENV_SAGEMAKER_ROLE_ARN, "arn:aws:iam::123456789012:role/sm"),
            ("AWS_REGION", "eu-west-1"),
        ]))
        .unwrap();
        assert_eq!(c.table_name, "registry");
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.training_state_machine_arn, None);
    }

    #[test]
    fn given_a_tracking_uri_when_read_then_kept_and_a_bad_one_is_named() {
        let base = [
            (ENV_TABLE_NAME, "registry"),
            (ENV_ARTIFACT_BUCKET, "artifacts-1"),
            (ENV_SAGEMAKER_ROLE_ARN, "arn:aws:iam::123456789012:role/sm"),
        ];
        let c = FunctionConfig::from_lookup(lookup(&base)).unwrap();
        assert_eq!(c.tracking_uri, None);
        let mut vars = base.to_vec();
        vars.push((ENV_TRACKING_URI, " http://127.0.0.1:5000 "));
        let c = FunctionConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(c.tracking_uri.as_deref(), Some("http://127.0.0.1:5000"));
        let mut vars = base.to_vec();
        vars.push((ENV_TRACKING_URI, "ftp://x"));
        let e = FunctionConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Invalid {
                    name: ENV_TRACKING_URI,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn given_a_table_name_dynamodb_refuses_when_read_then_the_variable_is_named() {
        for bad in ["t", "a b", &"x".repeat(256)] {
            let e = table_name_from(lookup(&[(ENV_TABLE_NAME, bad)])).unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        name: ENV_TABLE_NAME,
                        ..
                    }
                ),
                "{bad:?}: {e}"
            );
        }
        assert_eq!(
            table_name_from(lookup(&[(ENV_TABLE_NAME, " mdlc-registry.v1_2 ")])),
            Ok("mdlc-registry.v1_2".to_string())
        );
        assert_eq!(
            table_name_from(lookup(&[(ENV_TABLE_NAME, "  ")])),
            Err(ConfigError::Missing {
                name: ENV_TABLE_NAME
            })
        );
    }

    #[test]
    fn given_both_region_variables_when_read_then_aws_region_wins_and_blank_ones_are_skipped() {
        let both = [
            ("AWS_REGION", "us-east-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ];
        assert_eq!(region_from(lookup(&both)).as_deref(), Some("us-east-2"));
        let blank = [("AWS_REGION", " "), ("AWS_DEFAULT_REGION", "eu-west-1")];
        assert_eq!(region_from(lookup(&blank)).as_deref(), Some("eu-west-1"));
        assert_eq!(region_from(lookup(&[])), None);
    }

    #[test]
    fn given_missing_variable_when_read_then_error_names_it() {
        let e = FunctionConfig::from_lookup(lookup(&[(ENV_TABLE_NAME, "registry")])).unwrap_err();
        assert_eq!(
            e,
            ConfigError::Missing {
                name: ENV_ARTIFACT_BUCKET
            }
        );
        assert!(e.to_string().contains("MDLC_ARTIFACT_BUCKET"));
    }

    #[test]
    fn given_bad_bucket_when_read_then_invalid_names_it() {
        let e = FunctionConfig::from_lookup(lookup(&[
            (ENV_TABLE_NAME, "registry"),
            (ENV_ARTIFACT_BUCKET, "Bad_Bucket"),
            (ENV_SAGEMAKER_ROLE_ARN, "arn:aws:iam::1:role/x"),
        ]))
        .unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                name: ENV_ARTIFACT_BUCKET,
                ..
            }
        ));
    }

    #[test]
    fn given_dependencies_when_debug_printed_then_only_the_config_is_shown() {
        let world = crate::memory::InMemoryWorld::new();
        assert_eq!(
            format!("{:?}", world.dependencies()),
            format!("Dependencies {{ config: {:?}, .. }}", world.config)
        );
    }
}
