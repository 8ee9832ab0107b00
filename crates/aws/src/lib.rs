//! AWS adapters of the MDLC ports (`mdlc_core::ports`) over `aws-sdk-*`.
//!
//! - [`DynamoDbRegistry`] implements `RegistryRead` + `RegistryWrite` on one table
//!   (docs/ARCHITECTURE.md, "Model registry"; item layout in `dynamodb/items.rs`).
//! - [`S3ObjectStore`] implements `ObjectStore`.
//! - [`SageMakerClient`] implements `SageMakerApi`.
//! - [`EventBridgePublisher`] implements `EventPublisher` (PutEvents on the bus
//!   `MDLC_EVENT_BUS_NAME`, default `default`; docs/events.md). Feature `eventbridge` (off by
//!   default): it and aws-sdk-eventbridge are compiled only for the crates that publish (the CLI,
//!   the Lambda functions that enable `mdlc-lambda/eventbridge`).
//! - [`AwsConfig`] / [`AwsAdapters`]: typed configuration and the constructor that builds every
//!   client once, without network calls (Lambda cold start): `AwsAdapters::from_env().await`.
//!   Variables: `MDLC_TABLE_NAME` (required), `AWS_REGION`/`AWS_DEFAULT_REGION`,
//!   `AWS_ENDPOINT_URL` (optional; moto or LocalStack), `MDLC_S3_FORCE_PATH_STYLE` (optional).
//!
//! Every SDK error goes through one mapping (`error.rs`): throttling, 5xx, timeouts and dispatch
//! failures → `PortError::Unavailable`; not found → `NotFound`; failed conditions / in use /
//! already exists → `Conflict`; any other 4xx → `Rejected`; malformed items → `Corrupt` naming
//! the attribute.
//!
//! # IAM actions per adapter method (for least-privilege policies)
//!
//! Resources: the registry table `arn:aws:dynamodb:<region>:<account>:table/<table>` (no index is
//! used); the artifact bucket `arn:aws:s3:::<bucket>` (ListBucket) and its objects
//! `arn:aws:s3:::<bucket>/*`; SageMaker `arn:aws:sagemaker:<region>:<account>:training-job/*`
//! and `…:model/*`.
//!
//! | adapter method | IAM actions |
//! | --- | --- |
//! | `DynamoDbRegistry::register`, `register_as` | `dynamodb:GetItem`, `dynamodb:PutItem` (its TransactWriteItems holds three conditional Puts; IAM authorises a transaction per contained action, there is no action of its own) |
//! | `DynamoDbRegistry::operate` (operators, not a Lambda) | `dynamodb:GetItem`, `dynamodb:PutItem`, `dynamodb:UpdateItem`; a rollback also `dynamodb:Query` and `dynamodb:ConditionCheckItem` (the counter check). The actor comes from `sts:GetCallerIdentity`, which needs no permission |
//! | `DynamoDbRegistry::revision` | `dynamodb:GetItem` |
//! | `DynamoDbRegistry::version_history` | `dynamodb:Query` |
//! | `DynamoDbRegistry::put_evaluation` | `dynamodb:PutItem` |
//! | `DynamoDbRegistry::set_status` | `dynamodb:UpdateItem` |
//! | `DynamoDbRegistry::latest_version` | `dynamodb:Query` |
//! | `DynamoDbRegistry::get_version` | `dynamodb:GetItem` |
//! | `DynamoDbRegistry::list_versions` | `dynamodb:Query` |
//! | `DynamoDbRegistry::list_evaluations` | `dynamodb:Query` |
//! | `S3ObjectStore::get` | `s3:GetObject` (plus `s3:ListBucket` on the bucket, so a missing key answers 404 → `NotFound` instead of 403 → `Rejected`) |
//! | `S3ObjectStore::put` | `s3:PutObject` (plus `kms:GenerateDataKey` when the bucket uses a KMS key) |
//! | `S3ObjectStore::list` | `s3:ListBucket` (on the bucket ARN; condition `s3:prefix` may narrow it) |
//! | `S3ObjectStore::exists` | `s3:GetObject` (HeadObject) plus `s3:ListBucket` (for 404 instead of 403) |
//! | `SageMakerClient::describe_training_job` | `sagemaker:DescribeTrainingJob` |
//! | `SageMakerClient::create_model` | `sagemaker:CreateModel` and `iam:PassRole` on the SageMaker execution role (condition `iam:PassedToService: sagemaker.amazonaws.com`) |
//! | `SageMakerClient::describe_model` | `sagemaker:DescribeModel` |
//! | `EventBridgePublisher::publish` | `events:PutEvents` on the bus `arn:aws:events:<region>:<account>:event-bus/<bus>` |
//!
//! `s3:GetObject` on KMS-encrypted objects also needs `kms:Decrypt`. Constructing the adapters
//! needs no permission.

pub mod config;
pub mod dynamodb;
mod error;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
pub mod history;
#[cfg(any(test, feature = "testing"))]
pub mod moto;
pub mod s3;
pub mod sagemaker;

pub use config::{AwsAdapters, AwsConfig, https_client, sdk_loader};
pub use dynamodb::{DynamoDbRegistry, sts_client};
#[cfg(feature = "eventbridge")]
pub use eventbridge::EventBridgePublisher;
pub use s3::S3ObjectStore;
pub use sagemaker::SageMakerClient;

#[cfg(test)]
mod test_support;
