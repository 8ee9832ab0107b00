//! Tuning ranges of jobs whose image is SageMaker's built-in XGBoost, checked against the
//! trainer's hyperparameter table (`mdlc_trainer::hyperparameters`): SageMaker validates the
//! ranges of a built-in algorithm when the tuning job is created.

use mdlc_trainer::hyperparameters::{check_categorical_range, check_numeric_range};

use super::space::{ParamKind, SearchSpace, format_float};

/// One message per tuned range that does not fit the built-in XGBoost algorithm.
pub(crate) fn range_problems(space: &SearchSpace) -> Vec<String> {
    space
        .params
        .iter()
        .filter_map(|p| {
            let problem = match &p.kind {
                ParamKind::Integer { min, max, .. } => {
                    check_numeric_range(&p.name, &min.to_string(), &max.to_string(), true)
                }
                ParamKind::Continuous { min, max, .. } => {
                    check_numeric_range(&p.name, &format_float(*min), &format_float(*max), false)
                }
                ParamKind::Categorical { values } => check_categorical_range(&p.name, values),
            };
            problem.map(|m| {
                format!(
                    "HyperParameterTuningJobConfig.ParameterRanges.{} {:?} does not fit the built-in XGBoost algorithm: {m}",
                    p.list_name(),
                    p.name
                )
            })
        })
        .collect()
}
