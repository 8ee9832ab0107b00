//! initialize: validates the execution input (one `InvalidInput` listing every problem with its
//! JSON pointer into the execution input), fills the defaults, and derives the job names and S3
//! locations of this execution.

use mdlc_core::input::{self, Context, Flow};
use mdlc_core::io::{InitializeInput, Locations, RunPlan, parse_event, to_value};
use mdlc_core::names::RunNames;
use mdlc_core::ports::Clock;
use mdlc_core::s3uri::S3Uri;
use mdlc_core::{Dependencies, FnError, FunctionConfig, HandlerFailure, Problem};
use serde_json::Value;

/// Longest execution ARN accepted (Step Functions ARNs are far shorter).
const MAX_EXECUTION_ARN: usize = 2048;

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
    }
    let resolved = match resolved {
        Some(r) if problems.is_empty() => r,
        _ => return Err(FnError::InvalidInput { problems }),
    };
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
    })
}

/// The uniform JSON entry point (Lambda bin and local runtime).
pub async fn invoke(event: Value, deps: &Dependencies) -> Result<Value, HandlerFailure> {
    let input: InitializeInput = parse_event(event, &["flow", "executionArn", "input"], &[])?;
    let plan = handle(input, &deps.config, deps.clock.as_ref())?;
    Ok(to_value(&plan)?)
}

#[cfg(test)]
mod tests;
