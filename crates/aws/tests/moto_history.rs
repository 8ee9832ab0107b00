//! Wire test of `AwsTrainingHistory` against moto's server ($MDLC_TEST_MOTO_ENDPOINT):
//! DescribeTrainingJob, DescribeHyperParameterTuningJob and the CloudWatch Logs reads
//! (DescribeLogStreams + GetLogEvents). moto has no ListTrainingJobsForHyperParameterTuningJob,
//! so `tuning_training_jobs` is covered by the emulator's adapter and the mocks only.
//!
//! Run with `scripts/with-servers.sh cargo nextest run -p mdlc-aws --run-ignored all`.

mod common;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, ContinuousParameterRange, HyperParameterTrainingJobDefinition,
    HyperParameterTuningJobConfig, HyperParameterTuningJobObjective,
    HyperParameterTuningJobObjectiveType, HyperParameterTuningJobStrategyType, OutputDataConfig,
    ParameterRanges, ResourceConfig, ResourceLimits, StoppingCondition, TrainingInputMode,
    TrainingInstanceType,
};
use common::{moto_endpoint, test_sdk_loader, unique};
use mdlc_aws::history::{AwsTrainingHistory, TRAINING_LOG_GROUP};
use mdlc_core::PortError;
use mdlc_core::history::TrainingHistory;

const ROLE: &str = "arn:aws:iam::123456789012:role/SageMakerRole";
const IMAGE: &str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1";

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    test_sdk_loader().endpoint_url(endpoint).load().await
}

#[tokio::test]
#[ignore = "needs moto: run under scripts/with-servers.sh with --run-ignored all (make test)"]
async fn given_jobs_and_logs_in_moto_when_read_as_history_then_described() {
    let endpoint = moto_endpoint();
    let sdk = sdk(&endpoint).await;
    let history = AwsTrainingHistory::from_sdk_config(&sdk);
    let sm = aws_sdk_sagemaker::Client::new(&sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let job = unique("hist-job");

    // Missing things are NotFound.
    assert!(matches!(
        history.training_job(&job).await,
        Err(PortError::NotFound { .. })
    ));
    assert!(matches!(
        history.tuning_job(&job).await,
        Err(PortError::NotFound { .. })
    ));

    // GIVEN a training job
    let algorithm = AlgorithmSpecification::builder()
        .training_image(IMAGE)
        .training_input_mode(TrainingInputMode::File)
        .build();
    let output = OutputDataConfig::builder()
        .s3_output_path("s3://mdlc-artifacts/training")
        .build();
    let resources = ResourceConfig::builder()
        .instance_type(TrainingInstanceType::MlM5Large)
        .instance_count(1)
        .volume_size_in_gb(10)
        .build();
    let stopping = StoppingCondition::builder()
        .max_runtime_in_seconds(3600)
        .build();
    sm.create_training_job()
        .training_job_name(&job)
        .algorithm_specification(algorithm.clone())
        .role_arn(ROLE)
        .output_data_config(output.clone())
        .resource_config(resources.clone())
        .stopping_condition(stopping.clone())
        .hyper_parameters("eta", "0.2")
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTrainingJob on moto failed: {e:?}"));

    // WHEN it is described THEN the summary carries status, hyperparameters and artifacts
    let summary = history.training_job(&job).await.expect("training job");
    assert_eq!(summary.name, job);
    assert_eq!(summary.status, "Completed");
    assert_eq!(summary.hyperparameters["eta"], "0.2");
    assert_eq!(
        summary.model_artifacts,
        Some(format!(
            "s3://mdlc-artifacts/training/{job}/output/model.tar.gz"
        ))
    );

    // GIVEN its log in two streams of the SageMaker log group
    match logs
        .create_log_group()
        .log_group_name(TRAINING_LOG_GROUP)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if format!("{e:?}").contains("ResourceAlreadyExists") => {}
        Err(e) => panic!("CreateLogGroup on moto failed: {e:?}"),
    }
    assert!(matches!(
        history.training_log(&job).await,
        Err(PortError::NotFound { .. })
    ));
    let now = chrono::Utc::now().timestamp_millis();
    for (stream, lines) in [
        (
            "algo-1-1700000000",
            vec!["[0]#011validation-rmse:1.5", "[1]#011validation-rmse:1.25"],
        ),
        ("algo-2-1700000000", vec!["[0]#011validation-rmse:1.75"]),
    ] {
        let name = format!("{job}/{stream}");
        logs.create_log_stream()
            .log_group_name(TRAINING_LOG_GROUP)
            .log_stream_name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateLogStream failed: {e:?}"));
        let mut put = logs
            .put_log_events()
            .log_group_name(TRAINING_LOG_GROUP)
            .log_stream_name(&name);
        for (i, line) in lines.iter().enumerate() {
            put = put.log_events(
                InputLogEvent::builder()
                    .timestamp(now + i as i64)
                    .message(*line)
                    .build()
                    .expect("event"),
            );
        }
        put.send()
            .await
            .unwrap_or_else(|e| panic!("PutLogEvents failed: {e:?}"));
    }
    // WHEN the log is read THEN every line of every stream comes back, streams in name order
    let log = history.training_log(&job).await.expect("log");
    assert_eq!(
        log,
        "[0]#011validation-rmse:1.5\n[1]#011validation-rmse:1.25\n[0]#011validation-rmse:1.75"
    );

    // GIVEN a tuning job WHEN described THEN its configuration is flattened
    let tuning = unique("hist-tune");
    let config = HyperParameterTuningJobConfig::builder()
        .strategy(HyperParameterTuningJobStrategyType::Bayesian)
        .hyper_parameter_tuning_job_objective(
            HyperParameterTuningJobObjective::builder()
                .r#type(HyperParameterTuningJobObjectiveType::Minimize)
                .metric_name("validation:rmse")
                .build(),
        )
        .resource_limits(
            ResourceLimits::builder()
                .max_number_of_training_jobs(4)
                .max_parallel_training_jobs(2)
                .build(),
        )
        .parameter_ranges(
            ParameterRanges::builder()
                .continuous_parameter_ranges(
                    ContinuousParameterRange::builder()
                        .name("eta")
                        .min_value("0.1")
                        .max_value("0.5")
                        .build(),
                )
                .build(),
        )
        .build();
    let definition = HyperParameterTrainingJobDefinition::builder()
        .algorithm_specification(
            aws_sdk_sagemaker::types::HyperParameterAlgorithmSpecification::builder()
                .training_image(IMAGE)
                .training_input_mode(TrainingInputMode::File)
                .build(),
        )
        .role_arn(ROLE)
        .output_data_config(output)
        .resource_config(resources)
        .stopping_condition(stopping)
        .build();
    sm.create_hyper_parameter_tuning_job()
        .hyper_parameter_tuning_job_name(&tuning)
        .hyper_parameter_tuning_job_config(config)
        .training_job_definition(definition)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateHyperParameterTuningJob on moto failed: {e:?}"));
    let t = history.tuning_job(&tuning).await.expect("tuning job");
    assert_eq!(t.name, tuning);
    assert_eq!(t.config["strategy"], "Bayesian");
    assert_eq!(t.config["objective"], "validation:rmse");
    assert_eq!(t.config["objectiveType"], "Minimize");
    assert_eq!(t.config["maxNumberOfTrainingJobs"], "4");
    assert_eq!(t.config["range.eta"], "0.1..0.5");
}
