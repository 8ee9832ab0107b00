//! The emulator as the handlers' [`SageMakerApi`] port.

use async_trait::async_trait;
use mdlc_core::PortError;
use mdlc_core::ports::{CreateModelRequest, SageMakerApi, TrainingJobInfo};
use serde_json::json;

use crate::error::ApiError;
use crate::jobs::{JobKind, opt_string, port_error};
use crate::{SageMakerEmulator, history, model};

#[async_trait]
impl SageMakerApi for SageMakerEmulator {
    async fn describe_training_job(&self, name: &str) -> Result<TrainingJobInfo, PortError> {
        self.inner
            .check_throttle("describeTrainingJob")
            .map_err(port_error)?;
        let d = self
            .inner
            .describe(JobKind::Training, name)
            .map_err(port_error)?;
        let hyperparameters = history::hyperparameters_of(&d);
        let final_metrics = history::final_metrics_of(&d);
        Ok(TrainingJobInfo {
            name: name.to_string(),
            status: opt_string(&d, "/TrainingJobStatus").unwrap_or_default(),
            failure_reason: opt_string(&d, "/FailureReason"),
            model_artifacts: opt_string(&d, "/ModelArtifacts/S3ModelArtifacts"),
            image: opt_string(&d, "/AlgorithmSpecification/TrainingImage"),
            hyperparameters,
            final_metrics,
        })
    }

    async fn create_model(&self, request: &CreateModelRequest) -> Result<String, PortError> {
        self.inner
            .check_throttle("createModel")
            .map_err(port_error)?;
        let mut body = json!({
            "ModelName": request.model_name,
            "ExecutionRoleArn": request.execution_role_arn,
            "PrimaryContainer": {
                "Image": request.image,
                "ModelDataUrl": request.model_data_url,
                "Environment": request.environment,
            }
        });
        if let Some(vpc) = &request.vpc_config {
            body["VpcConfig"] = vpc.sagemaker();
        }
        match model::create(&self.inner, &body).await {
            Ok(v) => Ok(opt_string(&v, "/ModelArn").unwrap_or_default()),
            Err(ApiError::Validation(m)) if m.starts_with(model::ALREADY_EXISTS) => {
                Err(PortError::Conflict { message: m })
            }
            Err(e) => Err(port_error(e)),
        }
    }

    async fn describe_model(&self, name: &str) -> Result<Option<(String, String)>, PortError> {
        self.inner
            .check_throttle("describeModel")
            .map_err(port_error)?;
        Ok(self.inner.model(name).map(|m| {
            (
                opt_string(&m, "/PrimaryContainer/ModelDataUrl").unwrap_or_default(),
                opt_string(&m, "/ModelArn").unwrap_or_default(),
            )
        }))
    }
}
