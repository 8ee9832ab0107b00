//! [`SageMakerApi`] over Amazon SageMaker.

use async_trait::async_trait;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::config::http::HttpResponse;
use aws_sdk_sagemaker::error::SdkError;
use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::{ContainerDefinition, VpcConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use mdlc_core::PortError;
use mdlc_core::ports::{CreateModelRequest, SageMakerApi, TrainingJobInfo};

use crate::error::{map_sdk_error, service_error_parts};

/// The input's VPC as SageMaker's `VpcConfig` (subnets, security groups).
fn vpc_config(vpc: &mdlc_core::input::VpcConfig) -> VpcConfig {
    VpcConfig::builder()
        .set_subnets(Some(vpc.subnets.clone()))
        .set_security_group_ids(Some(vpc.security_group_ids.clone()))
        .build()
}

/// The SageMaker adapter.
#[derive(Debug, Clone)]
pub struct SageMakerClient {
    client: Client,
}

/// How a SageMaker ValidationException is to be read: SageMaker reports "no such model / job"
/// and "model already exists" as ValidationException with a message, not with a code of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validation {
    NotFound,
    AlreadyExists,
    Other,
}

fn read_validation(message: &str) -> Validation {
    let lower = message.to_ascii_lowercase();
    if lower.contains("could not find")
        || lower.contains("not found")
        || lower.contains("does not exist")
    {
        Validation::NotFound
    } else if lower.contains("already exist") {
        Validation::AlreadyExists
    } else {
        Validation::Other
    }
}

/// [`map_sdk_error`] plus SageMaker's ValidationException messages.
pub(crate) fn map_sagemaker_error<E>(
    operation: &str,
    target: &str,
    err: &SdkError<E, HttpResponse>,
) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mapped = map_sdk_error(operation, target, err);
    let Some(parts) = service_error_parts(err) else {
        return mapped;
    };
    if parts.code.as_deref() != Some("ValidationException") {
        return mapped;
    }
    match read_validation(parts.message.as_deref().unwrap_or("")) {
        Validation::NotFound => PortError::NotFound {
            what: format!("{operation} on {target}: {}", parts.describe()),
        },
        Validation::AlreadyExists => PortError::Conflict {
            message: format!("{operation} on {target}: {}", parts.describe()),
        },
        Validation::Other => mapped,
    }
}

/// An f32 metric as the f64 with the same shortest decimal form (0.1f32 → 0.1, not 0.100000001).
pub(crate) fn metric_value(value: f32) -> f64 {
    value.to_string().parse::<f64>().unwrap_or(f64::from(value))
}

fn training_job_info(
    name: &str,
    out: &DescribeTrainingJobOutput,
) -> Result<TrainingJobInfo, PortError> {
    let status = out
        .training_job_status()
        .ok_or_else(|| PortError::Corrupt {
            message: format!("DescribeTrainingJob on {name}: the answer has no TrainingJobStatus"),
        })?;
    let final_metrics = out
        .final_metric_data_list()
        .iter()
        .filter_map(|m| Some((m.metric_name()?.to_string(), metric_value(m.value()?))))
        .collect();
    Ok(TrainingJobInfo {
        name: out.training_job_name().unwrap_or(name).to_string(),
        status: status.as_str().to_string(),
        failure_reason: out.failure_reason().map(str::to_string),
        model_artifacts: out
            .model_artifacts()
            .and_then(|a| a.s3_model_artifacts())
            .map(str::to_string),
        image: out
            .algorithm_specification()
            .and_then(|a| a.training_image())
            .map(str::to_string),
        hyperparameters: out
            .hyper_parameters()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        final_metrics,
    })
}

impl SageMakerClient {
    pub fn new(client: Client) -> Self {
        SageMakerClient { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl SageMakerApi for SageMakerClient {
    async fn describe_training_job(&self, name: &str) -> Result<TrainingJobInfo, PortError> {
        let target = format!("training job {name}");
        let out = self
            .client
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| map_sagemaker_error("DescribeTrainingJob", &target, &e))?;
        training_job_info(name, &out)
    }

    async fn create_model(&self, request: &CreateModelRequest) -> Result<String, PortError> {
        let target = format!("model {}", request.model_name);
        let container = ContainerDefinition::builder()
            .image(&request.image)
            .model_data_url(&request.model_data_url)
            .set_environment(if request.environment.is_empty() {
                None
            } else {
                Some(request.environment.clone().into_iter().collect())
            })
            .build();
        let out = self
            .client
            .create_model()
            .model_name(&request.model_name)
            .execution_role_arn(&request.execution_role_arn)
            .primary_container(container)
            .set_vpc_config(request.vpc_config.as_ref().map(vpc_config))
            .send()
            .await
            .map_err(|e| map_sagemaker_error("CreateModel", &target, &e))?;
        out.model_arn()
            .map(str::to_string)
            .ok_or_else(|| PortError::Corrupt {
                message: format!("CreateModel on {target}: the answer has no ModelArn"),
            })
    }

    async fn describe_model(&self, name: &str) -> Result<Option<(String, String)>, PortError> {
        let target = format!("model {name}");
        let out = match self.client.describe_model().model_name(name).send().await {
            Ok(out) => out,
            Err(e) => {
                return match map_sagemaker_error("DescribeModel", &target, &e) {
                    PortError::NotFound { .. } => Ok(None),
                    other => Err(other),
                };
            }
        };
        let arn = out
            .model_arn()
            .map(str::to_string)
            .ok_or_else(|| PortError::Corrupt {
                message: format!("DescribeModel on {target}: the answer has no ModelArn"),
            })?;
        // A model without a data URL (an inference-only image) describes as "".
        let data_url = out
            .primary_container()
            .and_then(|c| c.model_data_url())
            .or_else(|| out.containers().iter().find_map(|c| c.model_data_url()))
            .unwrap_or("")
            .to_string();
        Ok(Some((data_url, arn)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_sagemaker_validation_messages_when_read_then_classified() {
        assert_eq!(
            read_validation("Could not find model \"arn:aws:sagemaker:us-east-1:1:model/x\"."),
            Validation::NotFound
        );
        assert_eq!(
            read_validation("Requested resource not found."),
            Validation::NotFound
        );
        assert_eq!(
            read_validation("Cannot create already existing model \"arn:...\"."),
            Validation::AlreadyExists
        );
        assert_eq!(
            read_validation("1 validation error detected"),
            Validation::Other
        );
    }

    #[test]
    fn given_f32_metrics_when_converted_then_the_decimal_form_is_kept() {
        assert_eq!(metric_value(0.1), 0.1);
        assert_eq!(metric_value(1.25), 1.25);
        assert_eq!(metric_value(-3.0e-5), -3.0e-5);
    }
}

#[cfg(test)]
mod mocked_tests {
    use std::collections::BTreeMap;

    use aws_sdk_sagemaker::Client;
    use aws_sdk_sagemaker::error::ErrorMetadata;
    use aws_sdk_sagemaker::operation::create_model::{CreateModelError, CreateModelOutput};
    use aws_sdk_sagemaker::operation::describe_model::{DescribeModelError, DescribeModelOutput};
    use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobError;
    use aws_sdk_sagemaker::types::{
        AlgorithmSpecification, MetricData, ModelArtifacts, TrainingJobStatus,
    };
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::test_support::mocked_client;

    fn generic<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
        make: impl Fn(ErrorMetadata) -> E,
        code: &str,
        message: &str,
    ) -> E {
        make(ErrorMetadata::builder().code(code).message(message).build())
    }

    fn request() -> CreateModelRequest {
        CreateModelRequest {
            model_name: "churn-2024-01-01-abcd".into(),
            image: "img:1".into(),
            model_data_url: "s3://b/out/job/output/model.tar.gz".into(),
            execution_role_arn: "arn:aws:iam::1:role/sm".into(),
            environment: BTreeMap::from([("K".into(), "V".into())]),
            vpc_config: None,
        }
    }

    #[tokio::test]
    async fn given_a_completed_job_when_described_then_every_field_is_mapped() {
        let rule = mock!(Client::describe_training_job)
            .match_requests(|r| r.training_job_name() == Some("job-1"))
            .then_output(|| {
                DescribeTrainingJobOutput::builder()
                    .training_job_name("job-1")
                    .training_job_status(TrainingJobStatus::Completed)
                    .model_artifacts(
                        ModelArtifacts::builder()
                            .s3_model_artifacts("s3://b/job-1/output/model.tar.gz")
                            .build(),
                    )
                    .algorithm_specification(
                        AlgorithmSpecification::builder()
                            .training_image("img:1")
                            .build(),
                    )
                    .hyper_parameters("eta", "0.1")
                    .final_metric_data_list(
                        MetricData::builder()
                            .metric_name("validation:rmse")
                            .value(0.25)
                            .build(),
                    )
                    .build()
            });
        let sm = SageMakerClient::new(mocked_client!(aws_sdk_sagemaker, [&rule]));

        let info = sm.describe_training_job("job-1").await.unwrap();

        assert_eq!(
            info,
            TrainingJobInfo {
                name: "job-1".into(),
                status: "Completed".into(),
                failure_reason: None,
                model_artifacts: Some("s3://b/job-1/output/model.tar.gz".into()),
                image: Some("img:1".into()),
                hyperparameters: BTreeMap::from([("eta".into(), "0.1".into())]),
                final_metrics: BTreeMap::from([("validation:rmse".into(), 0.25)]),
            }
        );
    }

    #[tokio::test]
    async fn given_sagemaker_errors_when_describing_a_job_then_mapped() {
        let rule = mock!(Client::describe_training_job)
            .sequence()
            .error(|| {
                generic(
                    DescribeTrainingJobError::generic,
                    "ValidationException",
                    "Could not find training job 'arn:aws:sagemaker:us-east-1:1:training-job/x'.",
                )
            })
            .error(|| {
                generic(
                    DescribeTrainingJobError::generic,
                    "ThrottlingException",
                    "Rate exceeded",
                )
            })
            .error(|| {
                generic(
                    DescribeTrainingJobError::generic,
                    "AccessDeniedException",
                    "no",
                )
            })
            .http_status(500, None)
            .build();
        let sm = SageMakerClient::new(mocked_client!(aws_sdk_sagemaker, [&rule]));

        let not_found = sm.describe_training_job("x").await.unwrap_err();
        let throttled = sm.describe_training_job("x").await.unwrap_err();
        let denied = sm.describe_training_job("x").await.unwrap_err();
        let down = sm.describe_training_job("x").await.unwrap_err();

        assert!(
            matches!(not_found, PortError::NotFound { .. }),
            "{not_found}"
        );
        assert!(
            matches!(throttled, PortError::Unavailable { .. }),
            "{throttled}"
        );
        assert!(matches!(denied, PortError::Rejected { .. }), "{denied}");
        assert!(matches!(down, PortError::Unavailable { .. }), "{down}");
    }

    #[tokio::test]
    async fn given_a_request_when_creating_a_model_then_the_container_carries_it() {
        let rule = mock!(Client::create_model)
            .match_requests(|r| {
                let c = r.primary_container();
                r.model_name() == Some("churn-2024-01-01-abcd")
                    && r.execution_role_arn() == Some("arn:aws:iam::1:role/sm")
                    && c.and_then(|c| c.image()) == Some("img:1")
                    && c.and_then(|c| c.model_data_url())
                        == Some("s3://b/out/job/output/model.tar.gz")
                    && c.and_then(|c| c.environment())
                        .and_then(|e| e.get("K"))
                        .map(String::as_str)
                        == Some("V")
                    && r.vpc_config().is_none()
            })
            .then_output(|| {
                CreateModelOutput::builder()
                    .model_arn("arn:aws:sagemaker:us-east-1:1:model/churn-2024-01-01-abcd")
                    .build()
            });
        let sm = SageMakerClient::new(mocked_client!(aws_sdk_sagemaker, [&rule]));

        let arn = sm.create_model(&request()).await.unwrap();

        assert_eq!(
            arn,
            "arn:aws:sagemaker:us-east-1:1:model/churn-2024-01-01-abcd"
        );
    }

    #[tokio::test]
    async fn given_a_vpc_when_creating_a_model_then_the_request_carries_its_vpc_config() {
        let rule = mock!(Client::create_model)
            .match_requests(|r| {
                r.vpc_config().is_some_and(|v| {
                    v.subnets() == ["subnet-0a1b2c", "subnet-3d4e5f"]
                        && v.security_group_ids() == ["sg-0a1b2c"]
                })
            })
            .then_output(|| {
                CreateModelOutput::builder()
                    .model_arn("arn:aws:sagemaker:us-east-1:1:model/churn-2024-01-01-abcd")
                    .build()
            });
        let sm = SageMakerClient::new(mocked_client!(aws_sdk_sagemaker, [&rule]));
        let mut in_vpc = request();
        in_vpc.vpc_config = Some(mdlc_core::input::VpcConfig {
            subnets: vec!["subnet-0a1b2c".into(), "subnet-3d4e5f".into()],
            security_group_ids: vec!["sg-0a1b2c".into()],
        });

        let arn = sm.create_model(&in_vpc).await;

        assert!(arn.is_ok(), "{arn:?}");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn given_an_existing_model_when_creating_then_conflict() {
        let rule = mock!(Client::create_model)
            .sequence()
            .error(|| {
                generic(
                    CreateModelError::generic,
                    "ValidationException",
                    "Cannot create already existing model \"arn:aws:sagemaker:us-east-1:1:model/x\".",
                )
            })
            .error(|| generic(CreateModelError::generic, "ResourceInUse", "in use"))
            .error(|| {
                generic(
                    CreateModelError::generic,
                    "ResourceLimitExceeded",
                    "quota",
                )
            })
            .build();
        let sm = SageMakerClient::new(mocked_client!(aws_sdk_sagemaker, [&rule]));

        let exists = sm.create_model(&request()).await.unwrap_err();
        let in_use = sm.create_model(&request()).await.unwrap_err();
        let quota = sm.create_model(&request()).await.unwrap_err();

        assert!(matches!(exists, PortError::Conflict { .. }), "{exists}");
        assert!(matches!(in_use, PortError::Conflict { .. }), "{in_use}");
        assert!(matches!(quota, PortError::Rejected { .. }), "{quota}");
    }

    #[tokio::test]
    async fn given_models_when_described_then_found_or_none() {
        let rule = mock!(Client::describe_model)
            .sequence()
            .output(|| {
                DescribeModelOutput::builder()
                    .model_name("m")
                    .model_arn("arn:m")
                    .primary_container(
                        ContainerDefinition::builder()
                            .image("img:1")
                            .model_data_url("s3://b/model.tar.gz")
                            .build(),
                    )
                    .build()
            })
            .error(|| {
                generic(
                    DescribeModelError::generic,
                    "ValidationException",
                    "Could not find model \"arn:m2\".",
                )
            })
            .build();
        let sm = SageMakerClient::new(mocked_client!(aws_sdk_sagemaker, [&rule]));

        assert_eq!(
            sm.describe_model("m").await.unwrap(),
            Some(("s3://b/model.tar.gz".to_string(), "arn:m".to_string()))
        );
        assert_eq!(sm.describe_model("m2").await.unwrap(), None);
    }
}
