//! [`SageMakerApi`] over Amazon SageMaker.

use async_trait::async_trait;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::config::http::HttpResponse;
use aws_sdk_sagemaker::error::SdkError;
use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::ContainerDefinition;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use mdlc_core::PortError;
use mdlc_core::ports::{CreateModelRequest, SageMakerApi, TrainingJobInfo};

use crate::error::{map_sdk_error, service_error_parts};

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
fn map_sagemaker_error<E>(
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
fn metric_value(value: f32) -> f64 {
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
