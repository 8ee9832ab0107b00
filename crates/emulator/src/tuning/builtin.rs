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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::Problems;

    fn space(ranges: serde_json::Value) -> SearchSpace {
        let mut p = Problems::new();
        let s = SearchSpace::parse(&ranges, "ParameterRanges", false, &mut p);
        assert!(p.finish().is_ok());
        s
    }

    /// Ranges inside the algorithm's table give no message; one outside gives one naming its
    /// list, its name and the table's reason.
    #[test]
    fn given_ranges_then_one_message_per_range_outside_the_algorithms_table() {
        let fits = space(json!({
            "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}],
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "9"}]
        }));
        assert_eq!(range_problems(&fits), Vec::<String>::new());
        let outside = space(json!({
            "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "5"}],
            "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "9"}]
        }));
        let problems = range_problems(&outside);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let prefix = "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges \"eta\" does not fit the built-in XGBoost algorithm: ";
        assert!(problems[0].starts_with(prefix), "{}", problems[0]);
        assert!(problems[0].len() > prefix.len(), "{}", problems[0]);
    }
}
