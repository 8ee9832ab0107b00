//! The emulator as a `TrainingHistory`: a tuning job's configuration, best job, training jobs
//! (hyperparameters, final metrics, times, artifacts) and their logs, read back after the fact,
//! also by a new emulator over the same work directory (another process).

mod common;

use common::*;
use mdlc_core::PortError;
use mdlc_core::history::TrainingHistory;
use mdlc_emulator::SageMakerEmulator;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_a_finished_tuning_job_when_read_as_history_then_every_training_job_is_described() {
    let env = setup();
    put(&env.store, "s3://bucket/data/train/a.csv", "1\n").await;
    let def = training_request("unused", json!({}));
    let req = json!({
        "HyperParameterTuningJobName": "hist-tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}]},
            "RandomSeed": 3
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "2", "epoch_ms": "20"},
            "AlgorithmSpecification": def["AlgorithmSpecification"],
            "RoleArn": ROLE,
            "InputDataConfig": def["InputDataConfig"],
            "OutputDataConfig": def["OutputDataConfig"],
            "ResourceConfig": def["ResourceConfig"],
            "StoppingCondition": def["StoppingCondition"]
        }
    });
    let d = env
        .emu
        .call("createHyperParameterTuningJob", true, req)
        .await
        .expect("tuning");
    let best = d["BestTrainingJob"]["TrainingJobName"]
        .as_str()
        .expect("best job")
        .to_string();

    let history: &dyn TrainingHistory = &env.emu;
    let tuning = history.tuning_job("hist-tune").await.expect("tuning job");
    assert_eq!(tuning.status, "Completed");
    assert_eq!(tuning.best_training_job.as_deref(), Some(best.as_str()));
    assert_eq!(tuning.config["strategy"], "Random");
    assert_eq!(tuning.config["objective"], "loss");
    assert_eq!(tuning.config["range.x"], "0..1 (Linear)");

    let jobs = history
        .tuning_training_jobs("hist-tune")
        .await
        .expect("jobs");
    assert_eq!(jobs.len(), 3, "{jobs:#?}");
    let mut names: Vec<_> = jobs.iter().map(|j| j.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        jobs.iter().map(|j| j.name.clone()).collect::<Vec<_>>()
    );
    for job in &jobs {
        assert_eq!(job.status, "Completed", "{job:#?}");
        assert!(job.hyperparameters.contains_key("x"), "{job:#?}");
        assert_eq!(job.hyperparameters["epochs"], "2");
        assert!(job.final_metrics.contains_key("loss"), "{job:#?}");
        assert!(job.model_artifacts.is_some(), "{job:#?}");
        let (start, end) = (job.start_time.expect("start"), job.end_time.expect("end"));
        assert!(start <= end);
        let log = history.training_log(&job.name).await.expect("log");
        assert!(log.contains("loss="), "{log}");
    }
    assert!(jobs.iter().any(|j| j.name == best));

    // Another process (a new emulator over the same work directory) reads the same history.
    let later = SageMakerEmulator::new(env.emu.config().clone());
    let again = later.tuning_training_jobs("hist-tune").await.expect("jobs");
    assert_eq!(again, jobs);
    let log = later.training_log(&best).await.expect("log from disk");
    assert!(log.contains("loss="), "{log}");

    assert!(matches!(
        history.tuning_job("nope").await,
        Err(PortError::NotFound { .. })
    ));
    assert!(matches!(
        history.training_log("nope").await,
        Err(PortError::NotFound { .. })
    ));
}
