//! [`TrainingHistory`] over SageMaker (ListTrainingJobsForHyperParameterTuningJob,
//! DescribeHyperParameterTuningJob, DescribeTrainingJob) and CloudWatch Logs (the training
//! jobs' logs in `/aws/sagemaker/TrainingJobs`, streams `<job>/algo-N-…`).
//!
//! IAM: `sagemaker:ListTrainingJobsForHyperParameterTuningJob` and
//! `sagemaker:DescribeHyperParameterTuningJob` on `…:hyper-parameter-tuning-job/*`,
//! `sagemaker:DescribeTrainingJob` on `…:training-job/*`, `logs:DescribeLogStreams` and
//! `logs:GetLogEvents` on `arn:aws:logs:<region>:<account>:log-group:/aws/sagemaker/TrainingJobs:*`.

use async_trait::async_trait;
use aws_sdk_sagemaker::operation::describe_hyper_parameter_tuning_job::DescribeHyperParameterTuningJobOutput;
use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types::HyperParameterTuningJobConfig;
use chrono::{DateTime, Utc};
use mdlc_core::PortError;
use mdlc_core::history::{
    TrainingHistory, TrainingJobSummary, TuningJobSummary, flatten_tuning_config,
};
use serde_json::{Value, json};

use crate::error::map_sdk_error;
use crate::sagemaker::{map_sagemaker_error, metric_value};

/// The log group of SageMaker training jobs.
pub const TRAINING_LOG_GROUP: &str = "/aws/sagemaker/TrainingJobs";
/// At most this many log events are read per training job (the per-iteration metrics of a
/// long job stay well below it; the cap bounds a Lambda's memory).
pub const MAX_LOG_EVENTS: usize = 50_000;

/// The adapter. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsTrainingHistory {
    sagemaker: aws_sdk_sagemaker::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| t.to_millis().ok())
        .and_then(DateTime::from_timestamp_millis)
}

/// A DescribeTrainingJob answer as a [`TrainingJobSummary`].
pub fn training_summary(
    name: &str,
    out: &DescribeTrainingJobOutput,
) -> Result<TrainingJobSummary, PortError> {
    let status = out
        .training_job_status()
        .ok_or_else(|| PortError::Corrupt {
            message: format!("DescribeTrainingJob on {name}: the answer has no TrainingJobStatus"),
        })?;
    Ok(TrainingJobSummary {
        name: out.training_job_name().unwrap_or(name).to_string(),
        status: status.as_str().to_string(),
        failure_reason: out.failure_reason().map(str::to_string),
        hyperparameters: out
            .hyper_parameters()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        final_metrics: out
            .final_metric_data_list()
            .iter()
            .filter_map(|m| Some((m.metric_name()?.to_string(), metric_value(m.value()?))))
            .collect(),
        start_time: time(out.training_start_time()),
        end_time: time(out.training_end_time()),
        model_artifacts: out
            .model_artifacts()
            .and_then(|a| a.s3_model_artifacts())
            .map(str::to_string),
    })
}

/// A tuning job configuration in its API JSON shape (the parts
/// `mdlc_core::history::flatten_tuning_config` reads; absent parts are `null`).
fn config_json(config: &HyperParameterTuningJobConfig) -> Value {
    let objective = config.hyper_parameter_tuning_job_objective();
    let limits = config.resource_limits();
    let ranges = config.parameter_ranges();
    let span = |name: Option<&str>, min: Option<&str>, max: Option<&str>, scaling: Option<&str>| json!({"Name": name, "MinValue": min, "MaxValue": max, "ScalingType": scaling});
    json!({
        "Strategy": config.strategy().map(|s| s.as_str()),
        "HyperParameterTuningJobObjective": {
            "MetricName": objective.and_then(|o| o.metric_name()),
            "Type": objective.and_then(|o| o.r#type()).map(|t| t.as_str()),
        },
        "ResourceLimits": {
            "MaxNumberOfTrainingJobs": limits.and_then(|l| l.max_number_of_training_jobs()),
            "MaxParallelTrainingJobs": limits.and_then(|l| l.max_parallel_training_jobs()),
        },
        "TrainingJobEarlyStoppingType":
            config.training_job_early_stopping_type().map(|e| e.as_str()),
        "ParameterRanges": {
            "IntegerParameterRanges": ranges.map_or(&[][..], |r| r.integer_parameter_ranges())
                .iter()
                .map(|r| span(r.name(), r.min_value(), r.max_value(),
                              r.scaling_type().map(|s| s.as_str())))
                .collect::<Vec<_>>(),
            "ContinuousParameterRanges": ranges.map_or(&[][..], |r| r.continuous_parameter_ranges())
                .iter()
                .map(|r| span(r.name(), r.min_value(), r.max_value(),
                              r.scaling_type().map(|s| s.as_str())))
                .collect::<Vec<_>>(),
            "CategoricalParameterRanges": ranges.map_or(&[][..], |r| r.categorical_parameter_ranges())
                .iter()
                .map(|r| json!({"Name": r.name(), "Values": r.values()}))
                .collect::<Vec<_>>(),
        },
    })
}

/// A DescribeHyperParameterTuningJob answer as a [`TuningJobSummary`].
pub fn tuning_summary(name: &str, out: &DescribeHyperParameterTuningJobOutput) -> TuningJobSummary {
    TuningJobSummary {
        name: out
            .hyper_parameter_tuning_job_name()
            .unwrap_or(name)
            .to_string(),
        status: out
            .hyper_parameter_tuning_job_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        best_training_job: out
            .best_training_job()
            .and_then(|b| b.training_job_name())
            .map(str::to_string),
        config: out
            .hyper_parameter_tuning_job_config()
            .map(|c| flatten_tuning_config(&config_json(c)))
            .unwrap_or_default(),
    }
}

impl AwsTrainingHistory {
    pub fn new(sagemaker: aws_sdk_sagemaker::Client, logs: aws_sdk_cloudwatchlogs::Client) -> Self {
        AwsTrainingHistory { sagemaker, logs }
    }

    /// Both clients from one SDK configuration (region, credentials, `AWS_ENDPOINT_URL`).
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        AwsTrainingHistory::new(
            aws_sdk_sagemaker::Client::new(sdk),
            aws_sdk_cloudwatchlogs::Client::new(sdk),
        )
    }

    /// From the environment (no network call).
    pub async fn from_env() -> Self {
        let sdk = crate::config::sdk_loader().load().await;
        AwsTrainingHistory::from_sdk_config(&sdk)
    }

    async fn training_job_names(&self, tuning_job: &str) -> Result<Vec<String>, PortError> {
        let target = format!("hyperparameter tuning job {tuning_job}");
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .sagemaker
                .list_training_jobs_for_hyper_parameter_tuning_job()
                .hyper_parameter_tuning_job_name(tuning_job)
                .max_results(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    map_sagemaker_error("ListTrainingJobsForHyperParameterTuningJob", &target, &e)
                })?;
            names.extend(
                out.training_job_summaries()
                    .iter()
                    .filter_map(|s| s.training_job_name().map(str::to_string)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }
}

#[async_trait]
impl TrainingHistory for AwsTrainingHistory {
    async fn tuning_job(&self, tuning_job: &str) -> Result<TuningJobSummary, PortError> {
        let target = format!("hyperparameter tuning job {tuning_job}");
        let out = self
            .sagemaker
            .describe_hyper_parameter_tuning_job()
            .hyper_parameter_tuning_job_name(tuning_job)
            .send()
            .await
            .map_err(|e| map_sagemaker_error("DescribeHyperParameterTuningJob", &target, &e))?;
        Ok(tuning_summary(tuning_job, &out))
    }

    async fn tuning_training_jobs(
        &self,
        tuning_job: &str,
    ) -> Result<Vec<TrainingJobSummary>, PortError> {
        let names = self.training_job_names(tuning_job).await?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(self.training_job(&name).await?);
        }
        Ok(out)
    }

    async fn training_job(&self, job: &str) -> Result<TrainingJobSummary, PortError> {
        let target = format!("training job {job}");
        let out = self
            .sagemaker
            .describe_training_job()
            .training_job_name(job)
            .send()
            .await
            .map_err(|e| map_sagemaker_error("DescribeTrainingJob", &target, &e))?;
        training_summary(job, &out)
    }

    async fn training_log(&self, job: &str) -> Result<String, PortError> {
        let target = format!("log streams {TRAINING_LOG_GROUP}/{job}/");
        let mut streams = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .logs
                .describe_log_streams()
                .log_group_name(TRAINING_LOG_GROUP)
                .log_stream_name_prefix(format!("{job}/"))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| map_sdk_error("DescribeLogStreams", &target, &e))?;
            streams.extend(
                out.log_streams()
                    .iter()
                    .filter_map(|s| s.log_stream_name().map(str::to_string)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        if streams.is_empty() {
            return Err(PortError::not_found(format!("no log stream {target}")));
        }
        streams.sort();
        let mut lines: Vec<String> = Vec::new();
        'streams: for stream in streams {
            let mut token: Option<String> = None;
            loop {
                let out = self
                    .logs
                    .get_log_events()
                    .log_group_name(TRAINING_LOG_GROUP)
                    .log_stream_name(&stream)
                    .start_from_head(true)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| map_sdk_error("GetLogEvents", &stream, &e))?;
                let events = out.events();
                lines.extend(
                    events
                        .iter()
                        .filter_map(|e| e.message().map(str::to_string)),
                );
                if lines.len() >= MAX_LOG_EVENTS {
                    lines.truncate(MAX_LOG_EVENTS);
                    break 'streams;
                }
                // GetLogEvents returns the same forward token once the end is reached.
                let next = out.next_forward_token().map(str::to_string);
                if events.is_empty() || next.is_none() || next == token {
                    break;
                }
                token = next;
            }
        }
        Ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::mocked_client;
    use aws_sdk_cloudwatchlogs::operation::describe_log_streams::DescribeLogStreamsOutput;
    use aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
    use aws_sdk_cloudwatchlogs::types::{LogStream, OutputLogEvent};
    use aws_sdk_sagemaker::operation::list_training_jobs_for_hyper_parameter_tuning_job::ListTrainingJobsForHyperParameterTuningJobOutput;
    use aws_sdk_sagemaker::types::{HyperParameterTrainingJobSummary, TrainingJobStatus};
    use aws_smithy_mocks::mock;

    #[test]
    fn a_tuning_config_flattens_as_its_api_json_does() {
        use aws_sdk_sagemaker::types::{
            CategoricalParameterRange, ContinuousParameterRange, HyperParameterScalingType,
            HyperParameterTuningJobObjective, HyperParameterTuningJobObjectiveType,
            HyperParameterTuningJobStrategyType, IntegerParameterRange, ParameterRanges,
            ResourceLimits,
        };
        let config = HyperParameterTuningJobConfig::builder()
            .strategy(HyperParameterTuningJobStrategyType::Bayesian)
            .hyper_parameter_tuning_job_objective(
                HyperParameterTuningJobObjective::builder()
                    .metric_name("validation:rmse")
                    .r#type(HyperParameterTuningJobObjectiveType::Minimize)
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
                    .integer_parameter_ranges(
                        IntegerParameterRange::builder()
                            .name("max_depth")
                            .min_value("1")
                            .max_value("9")
                            .build(),
                    )
                    .continuous_parameter_ranges(
                        ContinuousParameterRange::builder()
                            .name("eta")
                            .min_value("0.1")
                            .max_value("0.5")
                            .scaling_type(HyperParameterScalingType::Logarithmic)
                            .build(),
                    )
                    .categorical_parameter_ranges(
                        CategoricalParameterRange::builder()
                            .name("booster")
                            .values("gbtree")
                            .values("dart")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let api_json = json!({
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"MetricName": "validation:rmse", "Type": "Minimize"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "9"}],
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5",
                                               "ScalingType": "Logarithmic"}],
                "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}]
            }
        });
        let flat = flatten_tuning_config(&config_json(&config));
        assert_eq!(flat, flatten_tuning_config(&api_json));
        assert_eq!(flat["range.eta"], "0.1..0.5 (Logarithmic)");
        assert_eq!(flat["range.booster"], "gbtree,dart");
        assert_eq!(flat["maxParallelTrainingJobs"], "2");
        assert!(!flat.contains_key("earlyStopping"));
    }

    fn listed(names: &[&str]) -> Vec<HyperParameterTrainingJobSummary> {
        names
            .iter()
            .map(|n| {
                HyperParameterTrainingJobSummary::builder()
                    .training_job_name(*n)
                    .build()
            })
            .collect()
    }

    #[tokio::test]
    async fn given_two_pages_of_training_jobs_when_listed_then_each_is_described_in_name_order() {
        let page1 =
            mock!(aws_sdk_sagemaker::Client::list_training_jobs_for_hyper_parameter_tuning_job)
                .match_requests(|r| r.next_token().is_none())
                .then_output(|| {
                    ListTrainingJobsForHyperParameterTuningJobOutput::builder()
                        .set_training_job_summaries(Some(listed(&["t-002", "t-003"])))
                        .next_token("p2")
                        .build()
                });
        let page2 =
            mock!(aws_sdk_sagemaker::Client::list_training_jobs_for_hyper_parameter_tuning_job)
                .match_requests(|r| r.next_token() == Some("p2"))
                .then_output(|| {
                    ListTrainingJobsForHyperParameterTuningJobOutput::builder()
                        .set_training_job_summaries(Some(listed(&["t-001"])))
                        .build()
                });
        let describe = mock!(aws_sdk_sagemaker::Client::describe_training_job)
            .match_requests(|_| true)
            .then_output(|| {
                DescribeTrainingJobOutput::builder()
                    .training_job_status(TrainingJobStatus::Completed)
                    .training_start_time(aws_smithy_types::DateTime::from_millis(1_700_000_000_000))
                    .build()
            });
        let sm = mocked_client!(aws_sdk_sagemaker, [&page1, &page2, &describe]);
        let logs = mocked_client!(
            aws_sdk_cloudwatchlogs,
            Vec::<&aws_smithy_mocks::Rule>::new()
        );
        let h = AwsTrainingHistory::new(sm, logs);
        let jobs = h.tuning_training_jobs("t").await.expect("jobs");
        let names: Vec<_> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["t-001", "t-002", "t-003"]);
        assert_eq!(
            jobs[0].start_time.map(|t| t.timestamp_millis()),
            Some(1_700_000_000_000)
        );
        assert_eq!(describe.num_calls(), 3);
    }

    #[tokio::test]
    async fn given_a_log_stream_over_pages_when_read_then_stops_at_the_repeated_token() {
        let streams = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_streams)
            .match_requests(|r| r.log_stream_name_prefix() == Some("job/"))
            .then_output(|| {
                DescribeLogStreamsOutput::builder()
                    .log_streams(LogStream::builder().log_stream_name("job/algo-1-1").build())
                    .build()
            });
        let first = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                GetLogEventsOutput::builder()
                    .events(OutputLogEvent::builder().message("[0]#011a-b:1").build())
                    .next_forward_token("f/2")
                    .build()
            });
        let second = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
            .match_requests(|r| r.next_token() == Some("f/2"))
            .then_output(|| {
                GetLogEventsOutput::builder()
                    .events(OutputLogEvent::builder().message("[1]#011a-b:2").build())
                    .next_forward_token("f/2")
                    .build()
            });
        let sm = mocked_client!(aws_sdk_sagemaker, Vec::<&aws_smithy_mocks::Rule>::new());
        let logs = mocked_client!(aws_sdk_cloudwatchlogs, [&streams, &first, &second]);
        let h = AwsTrainingHistory::new(sm, logs);
        assert_eq!(
            h.training_log("job").await.expect("log"),
            "[0]#011a-b:1\n[1]#011a-b:2"
        );
        assert_eq!(second.num_calls(), 1);
    }
}
