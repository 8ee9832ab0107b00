//! initialize: validates the execution input (one `InvalidInput` listing every problem with its
//! JSON pointer into the execution input), fills the defaults, and derives the job names and S3
//! locations of this execution.

use mdlc_core::images;
use mdlc_core::input::{
    self, Context, DataSource, ExecutionInput, Flow, Preprocessing, TrackingConfig,
};
use mdlc_core::io::{InitializeInput, Locations, ProcessingPlan, RunPlan, parse_event, to_value};
use mdlc_core::names::{self, RunNames};
use mdlc_core::ports::Clock;
use mdlc_core::retrain;
use mdlc_core::s3uri::S3Uri;
use mdlc_core::{Dependencies, FnError, FunctionConfig, HandlerFailure, Problem};
use serde_json::{Value, json};

/// Longest execution ARN accepted (Step Functions ARNs are far shorter).
const MAX_EXECUTION_ARN: usize = 2048;

/// The run plan initialize writes for `input` as execution `execution` of the `flow`'s state
/// machine (`arn:aws:states:us-east-1:0:execution:<training|evaluation>:<execution>`), with the
/// world's configuration and clock. For the tests of the handlers that take a plan.
#[cfg(feature = "testing")]
pub fn plan_for(
    world: &mdlc_core::memory::InMemoryWorld,
    flow: Flow,
    execution: &str,
    input: Value,
) -> Result<RunPlan, FnError> {
    let machine = match flow {
        Flow::Training => "training",
        Flow::Evaluation => "evaluation",
    };
    handle(
        InitializeInput {
            flow,
            execution_arn: format!("arn:aws:states:us-east-1:0:execution:{machine}:{execution}"),
            input,
        },
        &world.config,
        world.clock.as_ref(),
    )
}

/// Validates and resolves the execution input into the run plan.
pub fn handle(
    input: InitializeInput,
    config: &FunctionConfig,
    clock: &dyn Clock,
) -> Result<RunPlan, FnError> {
    let mut problems: Vec<Problem> = Vec::new();
    let arn = input.execution_arn.trim().to_string();
    if arn.is_empty() || arn.len() > MAX_EXECUTION_ARN {
        problems.push(Problem::new(
            "/executionArn",
            "must be the execution ARN ($$.Execution.Id)",
        ));
    }
    let ctx = Context {
        artifact_bucket: &config.artifact_bucket,
        region: &config.region,
        today: clock.now().date_naive(),
        account: images::account_of_arn(&config.sagemaker_role_arn),
    };
    let resolved = input::validate(&input.input, &ctx);
    let resolved = match resolved {
        Ok(r) => Some(r),
        Err(mut p) => {
            problems.append(&mut p);
            None
        }
    };
    if let Some(r) = &resolved {
        if input.flow == Flow::Training && r.model_version.is_some() {
            problems.push(Problem::new(
                "/modelVersion",
                "only the evaluation flow takes modelVersion (the version to evaluate)",
            ));
        }
        if input.flow == Flow::Evaluation && r.parent_version.is_some() {
            problems.push(Problem::new(
                "/parentVersion",
                "only the training flow takes parentVersion",
            ));
        }
        if input.flow == Flow::Evaluation {
            for (pointer, message) in retrain::input_problems(&input.input) {
                problems.push(Problem::new(pointer, message));
            }
        }
        if let Some(p) = r.preprocessing.as_ref().filter(|p| p.enabled)
            && input.flow == Flow::Training
        {
            if p.split && p.raw.is_empty() {
                problems.push(Problem::new(
                    "/preprocessing/raw",
                    "is required: the S3 URI of the raw labelled CSV (an object or a prefix); or set preprocessing.split to false to profile data.train and data.validation as they are",
                ));
            }
            if !p.split && !p.raw.is_empty() {
                problems.push(Problem::new(
                    "/preprocessing/raw",
                    "must be absent with preprocessing.split false: the processing job then profiles data.train and data.validation and splits nothing",
                ));
            }
            if !p.split {
                for (pointer, source) in [
                    ("/data/train", &r.data.train),
                    ("/data/validation", &r.data.validation),
                ] {
                    if let DataSource::FileSystem(_) = source {
                        problems.push(Problem::new(
                            pointer,
                            "must be an S3 URI with preprocessing.split false: the processing job that profiles it reads S3 only",
                        ));
                    }
                }
            }
        }
    }
    let mut resolved = match resolved {
        Some(r) if problems.is_empty() => r,
        _ => return Err(FnError::InvalidInput { problems }),
    };
    // Without a tracking block, the stack's tracking server (MDLC_TRACKING_URI), if any.
    if resolved.tracking.is_none()
        && let Some(uri) = &config.tracking_uri
    {
        resolved.tracking = Some(TrackingConfig {
            uri: uri.clone(),
            experiment: resolved.model_name.clone(),
        });
    }
    let names = RunNames::derive(&resolved.model_name, &resolved.data_date, &arn);
    let bucket = &config.artifact_bucket;
    let locations = Locations {
        output_path: S3Uri::new(
            bucket.clone(),
            format!("models/{}/{}/", resolved.model_name, names.run_id),
        ),
        transform_output: S3Uri::new(
            bucket.clone(),
            format!(
                "evaluations/{}/{}/{}/",
                resolved.model_name, resolved.data_date, names.run_id
            ),
        ),
    };
    let preprocessing = match (&resolved.preprocessing, input.flow) {
        (Some(p), Flow::Training) if p.enabled => Some(processing_plan(
            &resolved,
            p,
            &names,
            &locations.output_path,
            config,
        )),
        _ => None,
    };
    if let Some(p) = &preprocessing {
        // Training reads the processing outputs (with split false: the given channels, which
        // the plan names as they are).
        resolved.data.train = DataSource::S3Uri(p.train.clone());
        resolved.data.validation = DataSource::S3Uri(p.validation.clone());
    }
    let retrain = (input.flow == Flow::Evaluation)
        .then(|| retrain::plan(&input.input, &resolved, &locations.transform_output));
    tracing::info!(
        model = %resolved.model_name,
        flow = ?input.flow,
        run_id = %names.run_id,
        "execution input validated"
    );
    Ok(RunPlan {
        flow: input.flow,
        execution_arn: arn,
        input: resolved,
        names,
        locations,
        preprocessing,
        retrain,
    })
}

/// Where the processing job reads and writes inside its container (SageMaker's processing
/// contract, as `mdlc-trainer preprocess` expects it).
const PROCESSING_INPUT: &str = "/opt/ml/processing/input";
const PROCESSING_OUTPUT: &str = "/opt/ml/processing/output";

/// The preprocessing step of a training execution: the processing job's name, its outputs
/// under the execution's prefix (`<output path>preprocessing/{train,validation,profile}/`) and
/// its CreateProcessingJob request.
fn processing_plan(
    input: &ExecutionInput,
    p: &Preprocessing,
    names: &RunNames,
    output_path: &S3Uri,
    config: &FunctionConfig,
) -> ProcessingPlan {
    let job_name = names::processing_job_name(&input.model_name, &input.data_date, &names.run_id);
    let base = output_path.join("preprocessing/");
    // With split false the channels are the given data (S3: initialize checked it), which the
    // job reads to profile and training reads where it is.
    let given = |source: &DataSource| match source {
        DataSource::S3Uri(u) if !p.split => Some(u.clone()),
        _ => None,
    };
    let (train, validation) = match (given(&input.data.train), given(&input.data.validation)) {
        (Some(t), Some(v)) => (t, v),
        _ => (base.join("train/"), base.join("validation/")),
    };
    let profile_dir = base.join("profile/");
    let profile = profile_dir.join("profile.json");
    let output = |name: &str, uri: &S3Uri| {
        json!({
            "OutputName": name,
            "S3Output": {
                "S3Uri": uri.to_string(),
                "LocalPath": format!("{PROCESSING_OUTPUT}/{name}"),
                "S3UploadMode": "EndOfJob"
            }
        })
    };
    let mut request = json!({
        "ProcessingJobName": job_name,
        "RoleArn": config.sagemaker_role_arn,
        "AppSpecification": {
            "ImageUri": p.image,
            "ContainerArguments": container_arguments(input, p)
        },
        "ProcessingInputs": if p.split {
            processing_inputs(&p.raw)
        } else {
            profiled_inputs(&train, &validation)
        },
        "ProcessingOutputConfig": {
            "Outputs": if p.split {
                json!([
                    output("train", &train),
                    output("validation", &validation),
                    output("profile", &profile_dir)
                ])
            } else {
                json!([output("profile", &profile_dir)])
            }
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": p.instance_type,
                "VolumeSizeInGB": p.volume_size_gb
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": p.max_runtime_seconds}
    });
    // The processing job runs in the execution's VPC too (CreateProcessingJob takes it in
    // NetworkConfig).
    if let (Some(vpc), Some(obj)) = (&input.vpc_config, request.as_object_mut()) {
        obj.insert(
            "NetworkConfig".into(),
            json!({"VpcConfig": vpc.sagemaker()}),
        );
    }
    ProcessingPlan {
        job_name,
        train,
        validation,
        profile,
        request,
    }
}

/// The processing program's arguments: the split's share and seed, or `--profile-only`.
fn container_arguments(input: &ExecutionInput, p: &Preprocessing) -> Value {
    let mut args = if p.split {
        vec![
            "--train-ratio".to_string(),
            format!("{}", 1.0 - p.validation_ratio),
            "--seed".to_string(),
            p.seed.to_string(),
        ]
    } else {
        vec!["--profile-only".to_string()]
    };
    args.extend([
        "--problem".to_string(),
        input.problem_type.as_str().to_string(),
        "--bins".to_string(),
        p.bins.to_string(),
    ]);
    json!(args)
}

/// With split false: the given channels, `train` and `validation` in sub-directories of the
/// input directory (the program profiles every file under it).
fn profiled_inputs(train: &S3Uri, validation: &S3Uri) -> Value {
    let input = |name: &str, uri: &S3Uri| {
        json!({
            "InputName": name,
            "S3Input": {
                "S3Uri": uri.to_string(),
                "LocalPath": format!("{PROCESSING_INPUT}/{name}"),
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated"
            }
        })
    };
    json!([input("train", train), input("validation", validation)])
}

/// One processing input per raw location: one location is `raw` at the input directory; several
/// are `raw-<i>` in sub-directories of it (the program reads the directory recursively).
fn processing_inputs(raw: &[S3Uri]) -> Value {
    let input = |name: String, uri: &S3Uri, local: String| {
        json!({
            "InputName": name,
            "S3Input": {
                "S3Uri": uri.to_string(),
                "LocalPath": local,
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated"
            }
        })
    };
    match raw {
        [one] => json!([input("raw".into(), one, PROCESSING_INPUT.into())]),
        many => Value::Array(
            many.iter()
                .enumerate()
                .map(|(i, uri)| {
                    input(
                        format!("raw-{i}"),
                        uri,
                        format!("{PROCESSING_INPUT}/raw-{i}"),
                    )
                })
                .collect(),
        ),
    }
}

/// The uniform JSON entry point (Lambda bin and local runtime).
pub async fn invoke(event: Value, deps: &Dependencies) -> Result<Value, HandlerFailure> {
    let input: InitializeInput = parse_event(event, &["flow", "executionArn", "input"], &[])?;
    let plan = handle(input, &deps.config, deps.clock.as_ref())?;
    Ok(to_value(&plan)?)
}

#[cfg(test)]
mod tests;
