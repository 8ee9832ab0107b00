//! Typed configuration of the AWS adapters and the constructor that builds every client once.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use mdlc_core::deps::ConfigError;
use mdlc_core::deps::{env_value, region_from, table_name_from};

use crate::dynamodb::{DEFAULT_REGISTER_MAX_ATTEMPTS, DynamoDbRegistry};
use crate::s3::S3ObjectStore;
use crate::sagemaker::SageMakerClient;

/// The standard AWS variable that points every SDK client at another endpoint (moto, LocalStack).
pub const ENV_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// `true`/`false`: address S3 buckets in the path (`http://host/bucket/key`) instead of the host
/// name. Defaults to `true` when an endpoint URL is set (local servers), `false` otherwise.
pub const ENV_S3_FORCE_PATH_STYLE: &str = "MDLC_S3_FORCE_PATH_STYLE";

/// Everything the adapters need besides credentials (which the SDK resolves lazily, on the
/// first call, from its standard chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// `None`: the SDK's default region chain (environment, profile, instance metadata).
    pub region: Option<String>,
    /// Endpoint of every client (for example moto's server); `None`: the AWS endpoints.
    pub endpoint_url: Option<String>,
    /// The registry table (docs/ARCHITECTURE.md, "Model registry").
    pub table_name: String,
    /// Path-style S3 addressing (needed by local servers).
    pub s3_force_path_style: bool,
    /// Bound on registration attempts lost to concurrent registrations of the same model.
    pub register_max_attempts: u32,
}

impl AwsConfig {
    /// A configuration for `table_name` with AWS defaults for everything else.
    pub fn new(table_name: impl Into<String>) -> Self {
        AwsConfig {
            region: None,
            endpoint_url: None,
            table_name: table_name.into(),
            s3_force_path_style: false,
            register_max_attempts: DEFAULT_REGISTER_MAX_ATTEMPTS,
        }
    }

    /// Reads `MDLC_TABLE_NAME` (required), `AWS_REGION` / `AWS_DEFAULT_REGION`,
    /// `AWS_ENDPOINT_URL` and `MDLC_S3_FORCE_PATH_STYLE` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`AwsConfig::from_env`] with any variable source (tests, config files).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = table_name_from(&lookup)?;
        let region = region_from(&lookup);
        let endpoint_url = env_value(&lookup, ENV_ENDPOINT_URL);
        if let Some(url) = &endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: ENV_ENDPOINT_URL,
                reason: format!("{url:?} must start with http:// or https://"),
            });
        }
        let s3_force_path_style = match env_value(&lookup, ENV_S3_FORCE_PATH_STYLE) {
            None => endpoint_url.is_some(),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: ENV_S3_FORCE_PATH_STYLE,
                        reason: format!("{v:?} must be true or false"),
                    });
                }
            },
        };
        Ok(AwsConfig {
            region,
            endpoint_url,
            table_name,
            s3_force_path_style,
            register_max_attempts: DEFAULT_REGISTER_MAX_ATTEMPTS,
        })
    }

    /// Loads the shared SDK configuration: the region and endpoint of this configuration, the
    /// standard credential chain. Makes no network call when the region is set (credentials are
    /// resolved lazily on the first request).
    pub async fn load_sdk_config(&self) -> SdkConfig {
        let mut loader = sdk_loader();
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        loader.load().await
    }
}

/// The HTTPS client of every SDK client: hyper + rustls with the `ring` crypto provider, TLS
/// roots from the system (read when a client first needs them, not at start-up). The SDK's
/// default client would bring aws-lc as well: about a megabyte more per Lambda zip, and more
/// start-up work, for nothing these functions use.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// `aws_config::defaults` (latest behaviour version) with [`https_client`]: every SDK
/// configuration of the project starts here (the SDK crates are built without a default client).
pub fn sdk_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// Every AWS adapter, built once (at Lambda cold start) and shared.
#[derive(Clone, Debug)]
pub struct AwsAdapters {
    pub registry: Arc<DynamoDbRegistry>,
    pub store: Arc<S3ObjectStore>,
    pub sagemaker: Arc<SageMakerClient>,
}

impl AwsAdapters {
    /// [`AwsConfig::from_env`] then [`AwsAdapters::from_config`].
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = AwsConfig::from_env()?;
        Ok(Self::from_config(&config).await)
    }

    /// Loads the SDK configuration for `config` and builds the clients.
    pub async fn from_config(config: &AwsConfig) -> Self {
        let sdk = config.load_sdk_config().await;
        Self::from_sdk_config(&sdk, config)
    }

    /// Builds the clients from an SDK configuration made by the caller (tests use static
    /// credentials and moto's endpoint). `config.endpoint_url` / `config.region`, when set,
    /// override the SDK configuration's.
    pub fn from_sdk_config(sdk: &SdkConfig, config: &AwsConfig) -> Self {
        let mut ddb = aws_sdk_dynamodb::config::Builder::from(sdk);
        let mut s3 =
            aws_sdk_s3::config::Builder::from(sdk).force_path_style(config.s3_force_path_style);
        let mut sm = aws_sdk_sagemaker::config::Builder::from(sdk);
        if let Some(url) = &config.endpoint_url {
            ddb = ddb.endpoint_url(url.clone());
            s3 = s3.endpoint_url(url.clone());
            sm = sm.endpoint_url(url.clone());
        }
        if let Some(region) = &config.region {
            ddb = ddb.region(Region::new(region.clone()));
            s3 = s3.region(Region::new(region.clone()));
            sm = sm.region(Region::new(region.clone()));
        }
        AwsAdapters {
            registry: Arc::new(
                DynamoDbRegistry::new(
                    aws_sdk_dynamodb::Client::from_conf(ddb.build()),
                    config.table_name.clone(),
                )
                .with_max_attempts(config.register_max_attempts),
            ),
            store: Arc::new(S3ObjectStore::new(aws_sdk_s3::Client::from_conf(
                s3.build(),
            ))),
            sagemaker: Arc::new(SageMakerClient::new(aws_sdk_sagemaker::Client::from_conf(
                sm.build(),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use mdlc_core::memory::env_lookup as lookup;

    use super::*;

    #[test]
    fn given_no_table_when_loading_then_the_missing_variable_is_named() {
        let err = AwsConfig::from_lookup(lookup(&[("AWS_REGION", "eu-west-1")])).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                name: "MDLC_TABLE_NAME"
            }
        );
        assert!(err.to_string().contains("MDLC_TABLE_NAME"));
    }

    #[test]
    fn given_full_environment_when_loading_then_every_field_is_read() {
        let config = AwsConfig::from_lookup(lookup(&[
            ("MDLC_TABLE_NAME", "registry"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]))
        .unwrap();
        assert_eq!(config.table_name, "registry");
        assert_eq!(config.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            config.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert!(
            config.s3_force_path_style,
            "a custom endpoint implies path style"
        );
        assert_eq!(config.register_max_attempts, DEFAULT_REGISTER_MAX_ATTEMPTS);
    }

    #[test]
    fn given_aws_region_and_default_region_when_loading_then_aws_region_wins() {
        let config = AwsConfig::from_lookup(lookup(&[
            ("MDLC_TABLE_NAME", "registry"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]))
        .unwrap();
        assert_eq!(config.region.as_deref(), Some("us-east-2"));
        assert_eq!(config.endpoint_url, None);
        assert!(!config.s3_force_path_style);
    }

    #[test]
    fn given_bad_values_when_loading_then_the_variable_is_named() {
        let err = AwsConfig::from_lookup(lookup(&[
            ("MDLC_TABLE_NAME", "registry"),
            ("AWS_ENDPOINT_URL", "localhost:5000"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "AWS_ENDPOINT_URL",
                ..
            }
        ));

        let err = AwsConfig::from_lookup(lookup(&[("MDLC_TABLE_NAME", "a b")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "MDLC_TABLE_NAME",
                ..
            }
        ));

        let err = AwsConfig::from_lookup(lookup(&[
            ("MDLC_TABLE_NAME", "registry"),
            ("MDLC_S3_FORCE_PATH_STYLE", "maybe"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "MDLC_S3_FORCE_PATH_STYLE",
                ..
            }
        ));
    }

    #[tokio::test]
    async fn given_a_region_when_building_adapters_then_clients_use_it_without_any_call() {
        let mut config = AwsConfig::new("registry");
        config.region = Some("eu-central-1".into());
        config.endpoint_url = Some("http://127.0.0.1:9".into());
        let adapters = AwsAdapters::from_config(&config).await;
        assert_eq!(adapters.registry.table_name(), "registry");
        assert_eq!(
            adapters
                .registry
                .client()
                .config()
                .region()
                .map(|r| r.as_ref()),
            Some("eu-central-1")
        );
    }
}
