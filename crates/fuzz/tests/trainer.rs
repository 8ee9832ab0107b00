//! Fuzz targets of the built-in trainer's user input: CSV data and hyperparameters.

use mdlc_fuzz::{fuzz, generators as g};
use mdlc_trainer::dataset::{CsvError, Layout, parse_csv};
use mdlc_trainer::params::TrainParams;
use serde_json::{Map, Value};

#[test]
fn fuzz_csv() {
    let stats = fuzz(
        "csv",
        (g::csv_text(), proptest::bool::ANY, 1usize..4),
        |(text, labelled, threads): &(String, bool, usize)| {
            let layout = if *labelled {
                Layout::LabelFirst
            } else {
                Layout::FeaturesOnly
            };
            let lines = text.split('\n').count();
            match parse_csv(text, layout, "fuzz.csv", *threads) {
                Ok(d) => {
                    if d.features().len() != d.n_rows() * d.n_features()
                        || d.labels().len() != d.n_rows()
                    {
                        return Err(format!(
                            "inconsistent data set: {} rows, {} features, {} values",
                            d.n_rows(),
                            d.n_features(),
                            d.features().len()
                        ));
                    }
                    if d.labels().iter().any(|l| !l.is_finite()) {
                        return Err("a label is not finite".into());
                    }
                    // The data set written back as CSV reads back to itself.
                    let again = parse_csv(&d.to_csv(), Layout::LabelFirst, "again.csv", 1)
                        .map_err(|e| format!("to_csv output does not parse: {e}"))?;
                    if again.n_rows() != d.n_rows() || again.n_features() != d.n_features() {
                        return Err("to_csv does not round-trip".into());
                    }
                    Ok("parsed")
                }
                Err(CsvError::Malformed { line, .. } | CsvError::ColumnCount { line, .. }) => {
                    if line == 0 || line > lines {
                        return Err(format!("error names line {line} of {lines}"));
                    }
                    Ok("rejected")
                }
                Err(CsvError::Empty { .. }) => Ok("empty"),
                Err(e @ CsvError::Io { .. }) => Err(format!("I/O error from text: {e}")),
            }
        },
    );
    stats.assert_no_crash();
    stats.assert_share(&["parsed"], 0.2);
    stats.assert_share(&["rejected"], 0.1);
}

#[test]
fn fuzz_hyperparameters() {
    let stats = fuzz(
        "hyperparameters",
        g::hyperparameters(),
        |hps: &Map<String, Value>| match TrainParams::from_json(hps) {
            Ok(_) => Ok("valid"),
            Err(errors) => {
                if errors.0.is_empty() {
                    return Err("invalid without an error".into());
                }
                for e in &errors.0 {
                    // An error names a hyperparameter (given, or one a given value needs).
                    let named = !e.name.is_empty()
                        && e.name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if !named && !hps.contains_key(&e.name) {
                        return Err(format!(
                            "error names {:?}, which is not a hyperparameter",
                            e.name
                        ));
                    }
                    if e.message.trim().is_empty() {
                        return Err(format!("error for {} has no message", e.name));
                    }
                }
                Ok("invalid")
            }
        },
    );
    stats.assert_no_crash();
    stats.assert_share(&["valid"], 0.05);
    stats.assert_share(&["invalid"], 0.2);
}
