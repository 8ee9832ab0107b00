//! train: builds the full SageMaker request of the training flow from the run plan — a
//! CreateHyperParameterTuningJob request (ranges with scaling, static hyperparameters,
//! objective, resource limits, early stopping) or, with tuning off, a CreateTrainingJob request
//! — with channels from S3 prefixes or a file system, metric definitions, resources, stopping
//! condition, output path and the VPC (`VpcConfig`, needed by file-system channels). The state
//! machine passes it to SageMaker unchanged.

use std::collections::BTreeMap;

use mdlc_core::images;
use mdlc_core::input::{
    DataSource, ExecutionInput, Flow, ObjectiveType, ParameterRange, RangeType, ScalingType,
    Strategy,
};
use mdlc_core::io::{RunPlan, TrainInput, TrainOutput, parse_event, to_value};
use mdlc_core::{Dependencies, FnError, FunctionConfig, HandlerFailure};
use serde_json::{Map, Value, json};

fn channel(name: &str, source: &DataSource, content_type: &str) -> Value {
    let data_source = match source {
        DataSource::S3Uri(uri) => json!({
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri.to_string(),
                "S3DataDistributionType": "FullyReplicated"
            }
        }),
        DataSource::FileSystem(fs) => json!({
            "FileSystemDataSource": {
                "FileSystemId": fs.id,
                "FileSystemAccessMode": if fs.read_only { "ro" } else { "rw" },
                "FileSystemType": fs.kind.as_str(),
                "DirectoryPath": fs.directory_path
            }
        }),
    };
    json!({
        "ChannelName": name,
        "ContentType": content_type,
        "CompressionType": "None",
        "InputMode": "File",
        "DataSource": data_source
    })
}

fn algorithm_specification(input: &ExecutionInput) -> Value {
    let mut spec = Map::new();
    spec.insert("TrainingImage".into(), json!(input.algorithm.image));
    spec.insert("TrainingInputMode".into(), json!("File"));
    // Built-in algorithms publish their own metrics and reject MetricDefinitions.
    if !images::is_builtin_xgboost(&input.algorithm.image)
        && !input.algorithm.metric_definitions.is_empty()
    {
        let defs: Vec<Value> = input
            .algorithm
            .metric_definitions
            .iter()
            .map(|d| json!({"Name": d.name, "Regex": d.regex}))
            .collect();
        spec.insert("MetricDefinitions".into(), Value::Array(defs));
    }
    Value::Object(spec)
}

/// The parts shared by CreateTrainingJob and a tuning job's TrainingJobDefinition.
fn job_parts(plan: &RunPlan, config: &FunctionConfig) -> Map<String, Value> {
    let input = &plan.input;
    let ct = &input.data.content_type;
    let mut m = Map::new();
    m.insert(
        "AlgorithmSpecification".into(),
        algorithm_specification(input),
    );
    m.insert("RoleArn".into(), json!(config.sagemaker_role_arn));
    m.insert(
        "InputDataConfig".into(),
        json!([
            channel("train", &input.data.train, ct),
            channel("validation", &input.data.validation, ct)
        ]),
    );
    m.insert(
        "OutputDataConfig".into(),
        json!({"S3OutputPath": plan.locations.output_path.to_string()}),
    );
    m.insert(
        "ResourceConfig".into(),
        json!({
            "InstanceType": input.algorithm.instance_type,
            "InstanceCount": input.algorithm.instance_count,
            "VolumeSizeInGB": input.algorithm.volume_size_gb
        }),
    );
    m.insert(
        "StoppingCondition".into(),
        json!({"MaxRuntimeInSeconds": input.algorithm.max_runtime_seconds}),
    );
    // Required by SageMaker with a file-system channel (initialize enforces it).
    if let Some(vpc) = &input.vpc_config {
        m.insert("VpcConfig".into(), vpc.sagemaker());
    }
    m
}

/// A number as SageMaker range bounds take it (strings; integers without a fraction).
fn bound(x: f64) -> String {
    format!("{x}")
}

fn scaling(s: ScalingType) -> &'static str {
    match s {
        ScalingType::Auto => "Auto",
        ScalingType::Linear => "Linear",
        ScalingType::Logarithmic => "Logarithmic",
        ScalingType::ReverseLogarithmic => "ReverseLogarithmic",
    }
}

fn parameter_ranges(ranges: &[ParameterRange]) -> Value {
    let (mut continuous, mut integer, mut categorical) = (vec![], vec![], vec![]);
    for r in ranges {
        match r.kind {
            RangeType::Continuous | RangeType::Integer => {
                let v = json!({
                    "Name": r.name,
                    "MinValue": bound(r.min_value.unwrap_or_default()),
                    "MaxValue": bound(r.max_value.unwrap_or_default()),
                    "ScalingType": scaling(r.scaling_type)
                });
                if r.kind == RangeType::Continuous {
                    continuous.push(v)
                } else {
                    integer.push(v)
                }
            }
            RangeType::Categorical => categorical.push(json!({"Name": r.name, "Values": r.values})),
        }
    }
    json!({
        "ContinuousParameterRanges": continuous,
        "IntegerParameterRanges": integer,
        "CategoricalParameterRanges": categorical
    })
}

fn strategy(s: Strategy) -> &'static str {
    match s {
        Strategy::Bayesian => "Bayesian",
        Strategy::Random => "Random",
        Strategy::Grid => "Grid",
        Strategy::Hyperband => "Hyperband",
    }
}

/// The static hyperparameters SageMaker's Hyperband strategy reads its `MaxResource` from
/// (API reference, `HyperbandStrategyConfig.MaxResource`).
const EPOCH_KEYS: [&str; 5] = ["epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"];

/// `MaxResource` for the Hyperband strategy when SageMaker cannot infer it: XGBoost counts its
/// epochs in `num_round`, a key SageMaker does not read, so the request names it. `None` for
/// other strategies, when an epoch key is there, or without a static whole `num_round`.
fn hyperband_max_resource(strategy: Strategy, statics: &BTreeMap<String, String>) -> Option<u64> {
    if strategy != Strategy::Hyperband || EPOCH_KEYS.iter().any(|k| statics.contains_key(*k)) {
        return None;
    }
    statics.get("num_round")?.trim().parse().ok()
}

/// Builds the request. Pure: the same plan always gives the same request.
pub fn handle(input: TrainInput, config: &FunctionConfig) -> Result<TrainOutput, FnError> {
    let plan = &input.plan;
    plan.require_flow(Flow::Training, "train runs in the training flow")?;
    let tuning = &plan.input.tuning;
    let mut parts = job_parts(plan, config);
    if !tuning.enabled {
        parts.insert("TrainingJobName".into(), json!(plan.names.training_job));
        parts.insert(
            "HyperParameters".into(),
            json!(tuning.static_hyper_parameters),
        );
        return Ok(TrainOutput {
            use_tuning: false,
            request: Value::Object(parts),
        });
    }
    parts.insert(
        "StaticHyperParameters".into(),
        json!(tuning.static_hyper_parameters),
    );
    let mut limits = Map::new();
    // The Grid strategy runs one job per combination and SageMaker computes that count itself
    // ("You do not need to specify the MaxNumberOfTrainingJobs", developer guide, Grid search):
    // the request never carries one, so it can never differ from the number of combinations
    // (execution input validation already refused a maxJobs that did).
    if tuning.strategy != Strategy::Grid {
        limits.insert("MaxNumberOfTrainingJobs".into(), json!(tuning.max_jobs));
    }
    limits.insert(
        "MaxParallelTrainingJobs".into(),
        json!(tuning.max_parallel_jobs),
    );
    let objective_type = match tuning.objective.kind {
        ObjectiveType::Minimize => "Minimize",
        ObjectiveType::Maximize => "Maximize",
    };
    let mut tuning_config = json!({
        "Strategy": strategy(tuning.strategy),
        "HyperParameterTuningJobObjective": {
            "Type": objective_type,
            "MetricName": tuning.objective.metric
        },
        "ResourceLimits": Value::Object(limits),
        "ParameterRanges": parameter_ranges(&tuning.ranges),
        "TrainingJobEarlyStoppingType": tuning.early_stopping.sagemaker()
    });
    if let Some(max) = hyperband_max_resource(tuning.strategy, &tuning.static_hyper_parameters) {
        tuning_config["StrategyConfig"] = json!({"HyperbandStrategyConfig": {"MaxResource": max}});
    }
    let request = json!({
        "HyperParameterTuningJobName": plan.names.tuning_job,
        "HyperParameterTuningJobConfig": tuning_config,
        "TrainingJobDefinition": Value::Object(parts)
    });
    tracing::info!(
        job = %plan.names.tuning_job,
        strategy = strategy(tuning.strategy),
        max_jobs = tuning.max_jobs,
        "tuning request built"
    );
    Ok(TrainOutput {
        use_tuning: true,
        request,
    })
}

/// The uniform JSON entry point (Lambda bin and local runtime).
pub async fn invoke(event: Value, deps: &Dependencies) -> Result<Value, HandlerFailure> {
    let input: TrainInput = parse_event(event, &["plan"], &[])?;
    let out = handle(input, &deps.config)?;
    Ok(to_value(&out)?)
}

#[cfg(test)]
mod tests {
    use mdlc_core::memory::InMemoryWorld;

    use super::*;

    fn plan(world: &InMemoryWorld, flow: Flow, input: Value) -> RunPlan {
        initialize::plan_for(world, flow, "e1", input).unwrap()
    }

    #[tokio::test]
    async fn given_default_input_then_a_bayesian_tuning_request_is_built() {
        let world = InMemoryWorld::new();
        let p = plan(&world, Flow::Training, json!({"modelName": "churn"}));
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["useTuning"], true);
        let r = &out["request"];
        assert_eq!(r["HyperParameterTuningJobName"], json!(p.names.tuning_job));
        let cfg = &r["HyperParameterTuningJobConfig"];
        assert_eq!(cfg["Strategy"], "Bayesian");
        assert_eq!(
            cfg["HyperParameterTuningJobObjective"],
            json!({"Type": "Minimize", "MetricName": "validation:rmse"})
        );
        assert_eq!(
            cfg["ResourceLimits"],
            json!({"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2})
        );
        assert_eq!(cfg["TrainingJobEarlyStoppingType"], "Off");
        assert_eq!(
            cfg["ParameterRanges"]["IntegerParameterRanges"][0],
            json!({"Name": "max_depth", "MinValue": "3", "MaxValue": "8", "ScalingType": "Auto"})
        );
        assert_eq!(
            cfg["ParameterRanges"]["ContinuousParameterRanges"][0]["MinValue"],
            "0.05"
        );
        let def = &r["TrainingJobDefinition"];
        assert_eq!(def["RoleArn"], json!(world.config.sagemaker_role_arn));
        assert_eq!(
            def["StaticHyperParameters"]["objective"],
            "reg:squarederror"
        );
        assert!(
            def["AlgorithmSpecification"]
                .get("MetricDefinitions")
                .is_none(),
            "built-in image"
        );
        assert_eq!(def["InputDataConfig"][0]["ChannelName"], "train");
        assert_eq!(
            def["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"],
            "s3://mdlc-artifacts/datasets/churn/2024-06-01/validation/"
        );
        assert_eq!(
            def["OutputDataConfig"]["S3OutputPath"],
            json!(p.locations.output_path.to_string())
        );
        assert_eq!(def["ResourceConfig"]["InstanceType"], "ml.m5.xlarge");
        assert_eq!(def["StoppingCondition"]["MaxRuntimeInSeconds"], 3600);
    }

    #[tokio::test]
    async fn given_tuning_off_then_a_single_training_job_request_is_built() {
        let world = InMemoryWorld::new();
        let p = plan(
            &world,
            Flow::Training,
            json!({"modelName": "churn", "tuning": {"enabled": false, "staticHyperParameters": {"eta": 0.1}},
                   "data": {"train": {"fileSystem": {"id": "fs-0123456789abcdef0", "type": "EFS", "directoryPath": "/efs/train", "readOnly": false}}},
                   "vpcConfig": {"subnets": ["subnet-0a1b2c3d"], "securityGroupIds": ["sg-0a1b2c3d"]}}),
        );
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["useTuning"], false);
        let r = &out["request"];
        assert_eq!(r["TrainingJobName"], json!(p.names.training_job));
        assert_eq!(r["HyperParameters"]["eta"], "0.1");
        assert_eq!(r["HyperParameters"]["num_round"], "100");
        assert_eq!(
            r["InputDataConfig"][0]["DataSource"]["FileSystemDataSource"],
            json!({"FileSystemId": "fs-0123456789abcdef0", "FileSystemAccessMode": "rw", "FileSystemType": "EFS", "DirectoryPath": "/efs/train"})
        );
        assert_eq!(
            r["VpcConfig"],
            json!({"Subnets": ["subnet-0a1b2c3d"], "SecurityGroupIds": ["sg-0a1b2c3d"]})
        );
        // Every part a tuning job's TrainingJobDefinition gets, the single job gets as well.
        for (key, part) in job_parts(&p, &world.config) {
            assert_eq!(r[&key], part, "{key}");
        }
    }

    #[tokio::test]
    async fn given_a_vpc_config_then_the_tuning_jobs_training_definition_carries_vpc_config() {
        let world = InMemoryWorld::new();
        let p = plan(
            &world,
            Flow::Training,
            json!({"modelName": "churn",
                   "data": {"validation": {"fileSystem": {"id": "fs-0123456789abcdef0", "type": "FSxLustre", "directoryPath": "/fsx/val"}}},
                   "vpcConfig": {"subnets": ["subnet-0a1b2c3d", "subnet-1a1b2c3d"], "securityGroupIds": ["sg-0a1b2c3d"]}}),
        );
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        assert_eq!(out["useTuning"], true);
        let def = &out["request"]["TrainingJobDefinition"];
        assert_eq!(
            def["VpcConfig"],
            json!({"Subnets": ["subnet-0a1b2c3d", "subnet-1a1b2c3d"], "SecurityGroupIds": ["sg-0a1b2c3d"]})
        );
        assert_eq!(
            def["InputDataConfig"][1]["DataSource"]["FileSystemDataSource"]["FileSystemType"],
            "FSxLustre"
        );
    }

    #[tokio::test]
    async fn given_no_vpc_config_then_requests_have_no_vpc_config() {
        let world = InMemoryWorld::new();
        for tuning in [true, false] {
            let p = plan(
                &world,
                Flow::Training,
                json!({"modelName": "churn", "tuning": {"enabled": tuning}}),
            );
            let out = invoke(json!({"plan": p}), &world.dependencies())
                .await
                .unwrap();
            let r = &out["request"];
            let parts = if tuning {
                &r["TrainingJobDefinition"]
            } else {
                r
            };
            assert!(parts.get("VpcConfig").is_none(), "{r}");
        }
    }

    #[tokio::test]
    async fn given_custom_image_grid_and_categoricals_then_request_follows() {
        let world = InMemoryWorld::new();
        let p = plan(
            &world,
            Flow::Training,
            json!({"modelName": "m",
                   "algorithm": {"image": "1.dkr.ecr.us-east-1.amazonaws.com/mine:2",
                                 "metricDefinitions": [{"name": "valid:loss", "regex": "loss=([0-9.]+)"}]},
                   "tuning": {"strategy": "Grid", "objective": {"metric": "valid:loss", "type": "Minimize"},
                              "ranges": [{"name": "depth", "type": "Categorical", "values": ["2", 4]},
                                         {"name": "lr", "type": "Categorical", "values": ["0.1", "0.2", "0.3"]}],
                              "maxJobs": 6}}),
        );
        assert_eq!(p.input.tuning.max_jobs, 6, "2 x 3 combinations");
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        let cfg = &out["request"]["HyperParameterTuningJobConfig"];
        assert_eq!(cfg["Strategy"], "Grid");
        // SageMaker computes a Grid job's count itself: even a maxJobs equal to it is not sent.
        assert_eq!(cfg["ResourceLimits"], json!({"MaxParallelTrainingJobs": 2}));
        assert_eq!(
            cfg["ParameterRanges"]["CategoricalParameterRanges"][0]["Values"],
            json!(["2", "4"])
        );
        assert_eq!(
            out["request"]["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"],
            json!([{"Name": "valid:loss", "Regex": "loss=([0-9.]+)"}])
        );
    }

    #[tokio::test]
    async fn given_hyperband_then_max_resource_is_the_static_num_round() {
        let world = InMemoryWorld::new();
        let p = plan(
            &world,
            Flow::Training,
            json!({"modelName": "m",
                   "tuning": {"strategy": "Hyperband",
                              "staticHyperParameters": {"num_round": "40"}}}),
        );
        let out = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap();
        let cfg = &out["request"]["HyperParameterTuningJobConfig"];
        assert_eq!(cfg["Strategy"], "Hyperband");
        assert_eq!(
            cfg["StrategyConfig"],
            json!({"HyperbandStrategyConfig": {"MaxResource": 40}})
        );
        let statics = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        // SageMaker infers it from an epoch key itself; other strategies take no StrategyConfig
        let with_epochs = statics(&[("num_round", "40"), ("n_epochs", "7")]);
        assert_eq!(
            hyperband_max_resource(Strategy::Hyperband, &with_epochs),
            None
        );
        let rounds = statics(&[("num_round", "40")]);
        assert_eq!(hyperband_max_resource(Strategy::Bayesian, &rounds), None);
        assert_eq!(
            hyperband_max_resource(Strategy::Hyperband, &statics(&[])),
            None
        );
        let bayesian = plan(&world, Flow::Training, json!({"modelName": "m"}));
        let out = invoke(json!({"plan": bayesian}), &world.dependencies())
            .await
            .unwrap();
        assert!(
            out["request"]["HyperParameterTuningJobConfig"]
                .get("StrategyConfig")
                .is_none()
        );
    }

    #[tokio::test]
    async fn given_bad_events_then_invalid_input() {
        let world = InMemoryWorld::new();
        let f = invoke(json!({"plan": {"flow": "training"}}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_is("InvalidInput", "/plan");
        let p = plan(&world, Flow::Evaluation, json!({"modelName": "churn"}));
        let f = invoke(json!({"plan": p}), &world.dependencies())
            .await
            .unwrap_err();
        f.assert_mentions("/plan/flow");
        let f = invoke(json!(null), &world.dependencies())
            .await
            .unwrap_err();
        assert_eq!(f.error_type, "InvalidInput");
    }
}
