//! Attribute mapping of registry items (docs/ARCHITECTURE.md, "Model registry").
//!
//! | item | `sk` | attributes besides `pk` (model name) and `sk` |
//! | --- | --- | --- |
//! | version | `V#<10-digit version>` | `modelName` S, `version` N, `status` S, `sagemakerModelName` S, `trainingJobName` S, `tuningJobName` S?, `modelDataUrl` S, `image` S, `hyperparameters` M of S, `objectiveMetric` S?, `objectiveValue` N?, `dataDate` S, `createdAt` S, `executionArn` S, `parentVersion` N?, `reason` S, `profileUri` S? |
//! | evaluation | `E#<evaluatedAt>#<executionArn>` | `modelName` S, `version` N, `evaluatedAt` S, `executionArn` S, `dataDate` S, `metrics` M of N, `retrain` BOOL?, `reason` S?, `drift` M? (`rows` N, `maxPsi` N, `level` S, `features` L of M: `feature` S, `index` N, `psi` N, `level` S) |
//! | execution marker | `X#<executionArn>` | `version` N, `executionArn` S, `createdAt` S |
//! | counter | `COUNTER` | `lastVersion` N (the highest version assigned) |
//! | revision | `REVISION` | `revision` N (operations applied to the model), `version` N, `action` S, `actor` S, `at` S (the last operation) |
//! | history | `H#<10-digit version>#<10-digit revision>` | `modelName` S, `version` N, `revision` N, `action` S, `from` S, `to` S, `actor` S, `at` S, `reason` S, `rolledBackTo` N? |
//!
//! Optional attributes (`?`) are omitted when absent; a `NULL` value reads as absent too.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use mdlc_core::PortError;
use mdlc_core::drift::{DriftLevel, DriftReport, FeatureDrift};
use mdlc_core::registry::{
    EvaluationRecord, ModelVersion, NewVersion, VersionStatus, evaluation_sort_key,
    execution_marker_key, version_sort_key,
};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
pub(crate) const LAST_VERSION: &str = "lastVersion";
pub(crate) const VERSION: &str = "version";
pub(crate) const STATUS: &str = "status";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n_u64(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A finite f64 as a DynamoDB number (shortest round-trip form).
fn n_f64(value: f64, field: &str) -> Result<AttributeValue, PortError> {
    if value.is_finite() {
        Ok(AttributeValue::N(format!("{value:?}")))
    } else {
        Err(PortError::Rejected {
            message: format!("{field} is {value}, and the registry stores only finite numbers"),
        })
    }
}

/// The key of a registry item.
pub(crate) fn key(model: &str, sk: String) -> Item {
    HashMap::from([(PK.to_string(), s(model)), (SK.to_string(), s(sk))])
}

/// The version item of `version` with `status`.
pub(crate) fn version_item(
    new: &NewVersion,
    version: u64,
    status: VersionStatus,
) -> Result<Item, PortError> {
    let mut item = key(&new.model_name, version_sort_key(version));
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_string(), value);
    };
    put("modelName", s(&new.model_name));
    put(VERSION, n_u64(version));
    put(STATUS, s(status.as_str()));
    put("sagemakerModelName", s(&new.sagemaker_model_name));
    put("trainingJobName", s(&new.training_job_name));
    if let Some(tuning) = &new.tuning_job_name {
        put("tuningJobName", s(tuning));
    }
    put("modelDataUrl", s(&new.model_data_url));
    put("image", s(&new.image));
    put(
        "hyperparameters",
        AttributeValue::M(
            new.hyperparameters
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect(),
        ),
    );
    if let Some(metric) = &new.objective_metric {
        put("objectiveMetric", s(metric));
    }
    if let Some(value) = new.objective_value {
        put("objectiveValue", n_f64(value, "objectiveValue")?);
    }
    put("dataDate", s(&new.data_date));
    put("createdAt", s(&new.created_at));
    put("executionArn", s(&new.execution_arn));
    if let Some(parent) = new.parent_version {
        put("parentVersion", n_u64(parent));
    }
    put("reason", s(&new.reason));
    if let Some(profile) = &new.profile_uri {
        put("profileUri", s(profile));
    }
    if let Some(data) = &new.training_data {
        // The channels as the execution input writes them (JSON text).
        let text = serde_json::to_string(data).map_err(|e| PortError::Corrupt {
            message: format!("trainingData: {e}"),
        })?;
        put("trainingData", s(&text));
    }
    Ok(item)
}

/// The idempotency marker of `new.execution_arn`, pointing at `version`.
pub(crate) fn marker_item(new: &NewVersion, version: u64) -> Item {
    let mut item = key(&new.model_name, execution_marker_key(&new.execution_arn));
    item.insert(VERSION.to_string(), n_u64(version));
    item.insert("executionArn".to_string(), s(&new.execution_arn));
    item.insert("createdAt".to_string(), s(&new.created_at));
    item
}

/// The counter item after assigning `last_version`.
pub(crate) fn counter_item(model: &str, last_version: u64) -> Item {
    let mut item = key(model, mdlc_core::registry::COUNTER_SORT_KEY.to_string());
    item.insert(LAST_VERSION.to_string(), n_u64(last_version));
    item
}

/// The evaluation item of `record`.
pub(crate) fn evaluation_item(record: &EvaluationRecord) -> Result<Item, PortError> {
    let mut item = key(
        &record.model_name,
        evaluation_sort_key(&record.evaluated_at, &record.execution_arn),
    );
    let mut metrics = HashMap::new();
    for (name, value) in &record.metrics {
        metrics.insert(name.clone(), n_f64(*value, &format!("metrics.{name}"))?);
    }
    item.insert("modelName".into(), s(&record.model_name));
    item.insert(VERSION.into(), n_u64(record.version));
    item.insert("evaluatedAt".into(), s(&record.evaluated_at));
    item.insert("executionArn".into(), s(&record.execution_arn));
    item.insert("dataDate".into(), s(&record.data_date));
    item.insert("metrics".into(), AttributeValue::M(metrics));
    if let Some(retrain) = record.retrain {
        item.insert("retrain".into(), AttributeValue::Bool(retrain));
    }
    if let Some(reason) = &record.reason {
        item.insert("reason".into(), s(reason));
    }
    if let Some(drift) = &record.drift {
        item.insert("drift".into(), drift_value(drift)?);
    }
    Ok(item)
}

/// A drift report as a DynamoDB map (numbers finite, as everywhere in the registry).
fn drift_value(drift: &DriftReport) -> Result<AttributeValue, PortError> {
    let features = drift
        .features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            Ok(AttributeValue::M(HashMap::from([
                ("feature".to_string(), s(&f.feature)),
                ("index".to_string(), n_u64(f.index as u64)),
                (
                    "psi".to_string(),
                    n_f64(f.psi, &format!("drift.features[{i}].psi"))?,
                ),
                ("level".to_string(), s(f.level.as_str())),
            ])))
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    Ok(AttributeValue::M(HashMap::from([
        ("rows".to_string(), n_u64(drift.rows as u64)),
        ("maxPsi".to_string(), n_f64(drift.max_psi, "drift.maxPsi")?),
        ("level".to_string(), s(drift.level.as_str())),
        ("features".to_string(), AttributeValue::L(features)),
    ])))
}

/// Reads typed attributes out of an item, naming the item and attribute on every error.
pub(crate) struct ItemReader<'a> {
    item: &'a Item,
    /// The top-level item (named in errors) and the path of `item` inside it.
    root: &'a Item,
    path: String,
}

impl<'a> ItemReader<'a> {
    pub(crate) fn new(item: &'a Item) -> Self {
        ItemReader {
            item,
            root: item,
            path: String::new(),
        }
    }

    /// A reader of the map `item` found at `path` (`drift.features[1]`) inside this one's item.
    fn nested(&self, item: &'a Item, path: String) -> ItemReader<'a> {
        ItemReader {
            item,
            root: self.root,
            path: format!("{}{path}.", self.path),
        }
    }

    fn describe(&self) -> String {
        let part = |name: &str| match self.root.get(name) {
            Some(AttributeValue::S(v)) => format!("{v:?}"),
            _ => "?".to_string(),
        };
        format!("registry item (pk={}, sk={})", part(PK), part(SK))
    }

    pub(crate) fn corrupt(&self, name: &str, problem: impl std::fmt::Display) -> PortError {
        PortError::Corrupt {
            message: format!(
                "{}: attribute {:?} {problem}",
                self.describe(),
                format!("{}{name}", self.path)
            ),
        }
    }

    fn present(&self, name: &str) -> Option<&'a AttributeValue> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => None,
            Some(v) => Some(v),
        }
    }

    fn type_name(value: &AttributeValue) -> &'static str {
        match value {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::L(_) => "L",
            AttributeValue::M(_) => "M",
            AttributeValue::Null(_) => "NULL",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Bs(_) => "BS",
            _ => "an unknown type",
        }
    }

    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>, PortError> {
        match self.present(name) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(other) => Err(self.corrupt(
                name,
                format!("must be a string (S), found {}", Self::type_name(other)),
            )),
        }
    }

    /// A string attribute holding a version's training channels as JSON text, decoded.
    pub(crate) fn opt_training_data(
        &self,
        name: &str,
    ) -> Result<Option<mdlc_core::retrain::TrainingData>, PortError> {
        self.opt_string(name)?
            .map(|text| serde_json::from_str(&text).map_err(|e| self.corrupt(name, e)))
            .transpose()
    }

    pub(crate) fn string(&self, name: &str) -> Result<String, PortError> {
        self.opt_string(name)?
            .ok_or_else(|| self.corrupt(name, "is missing"))
    }

    fn opt_number(&self, name: &str) -> Result<Option<&'a str>, PortError> {
        match self.present(name) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => Ok(Some(v.as_str())),
            Some(other) => Err(self.corrupt(
                name,
                format!("must be a number (N), found {}", Self::type_name(other)),
            )),
        }
    }

    pub(crate) fn opt_u64(&self, name: &str) -> Result<Option<u64>, PortError> {
        match self.opt_number(name)? {
            None => Ok(None),
            Some(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
                self.corrupt(
                    name,
                    format!("must be a non-negative integer, found {text:?}"),
                )
            }),
        }
    }

    pub(crate) fn u64(&self, name: &str) -> Result<u64, PortError> {
        self.opt_u64(name)?
            .ok_or_else(|| self.corrupt(name, "is missing"))
    }

    fn parse_f64(&self, name: &str, text: &str) -> Result<f64, PortError> {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.corrupt(name, format!("must be a finite number, found {text:?}")))
    }

    pub(crate) fn opt_f64(&self, name: &str) -> Result<Option<f64>, PortError> {
        match self.opt_number(name)? {
            None => Ok(None),
            Some(text) => self.parse_f64(name, text).map(Some),
        }
    }

    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, PortError> {
        match self.present(name) {
            None => Ok(None),
            Some(AttributeValue::Bool(v)) => Ok(Some(*v)),
            Some(other) => Err(self.corrupt(
                name,
                format!("must be a boolean (BOOL), found {}", Self::type_name(other)),
            )),
        }
    }

    fn map(&self, name: &str) -> Result<&'a HashMap<String, AttributeValue>, PortError> {
        match self.present(name) {
            None => Err(self.corrupt(name, "is missing")),
            Some(AttributeValue::M(m)) => Ok(m),
            Some(other) => Err(self.corrupt(
                name,
                format!("must be a map (M), found {}", Self::type_name(other)),
            )),
        }
    }

    pub(crate) fn string_map(&self, name: &str) -> Result<BTreeMap<String, String>, PortError> {
        self.map(name)?
            .iter()
            .map(|(k, v)| match v {
                AttributeValue::S(text) => Ok((k.clone(), text.clone())),
                other => Err(self.corrupt(
                    &format!("{name}.{k}"),
                    format!("must be a string (S), found {}", Self::type_name(other)),
                )),
            })
            .collect()
    }

    pub(crate) fn number_map(&self, name: &str) -> Result<BTreeMap<String, f64>, PortError> {
        self.map(name)?
            .iter()
            .map(|(k, v)| {
                let field = format!("{name}.{k}");
                match v {
                    AttributeValue::N(text) => Ok((k.clone(), self.parse_f64(&field, text)?)),
                    other => Err(self.corrupt(
                        &field,
                        format!("must be a number (N), found {}", Self::type_name(other)),
                    )),
                }
            })
            .collect()
    }

    /// The optional drift report of an evaluation item (see [`drift_value`]).
    pub(crate) fn opt_drift(&self, name: &str) -> Result<Option<DriftReport>, PortError> {
        let Some(map) = self.opt_map(name)? else {
            return Ok(None);
        };
        let d = self.nested(map, name.to_string());
        let items = match d.present("features") {
            Some(AttributeValue::L(items)) => items,
            Some(other) => {
                return Err(d.corrupt(
                    "features",
                    format!("must be a list (L), found {}", Self::type_name(other)),
                ));
            }
            None => return Err(d.corrupt("features", "is missing")),
        };
        let mut features = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let AttributeValue::M(m) = item else {
                return Err(d.corrupt(
                    &format!("features[{i}]"),
                    format!("must be a map (M), found {}", Self::type_name(item)),
                ));
            };
            let f = d.nested(m, format!("features[{i}]"));
            features.push(FeatureDrift {
                feature: f.string("feature")?,
                index: f.u64("index")? as usize,
                psi: f.f64("psi")?,
                level: f.drift_level()?,
            });
        }
        Ok(Some(DriftReport {
            rows: d.u64("rows")? as usize,
            max_psi: d.f64("maxPsi")?,
            level: d.drift_level()?,
            features,
        }))
    }

    fn opt_map(
        &self,
        name: &str,
    ) -> Result<Option<&'a HashMap<String, AttributeValue>>, PortError> {
        match self.present(name) {
            None => Ok(None),
            Some(AttributeValue::M(m)) => Ok(Some(m)),
            Some(other) => Err(self.corrupt(
                name,
                format!("must be a map (M), found {}", Self::type_name(other)),
            )),
        }
    }

    fn f64(&self, name: &str) -> Result<f64, PortError> {
        self.opt_f64(name)?
            .ok_or_else(|| self.corrupt(name, "is missing"))
    }

    fn drift_level(&self) -> Result<DriftLevel, PortError> {
        let text = self.string("level")?;
        match text.as_str() {
            "stable" => Ok(DriftLevel::Stable),
            "moderate" => Ok(DriftLevel::Moderate),
            "significant" => Ok(DriftLevel::Significant),
            _ => Err(self.corrupt(
                "level",
                format!("has unknown value {text:?} (expected stable, moderate or significant)"),
            )),
        }
    }

    pub(crate) fn status(&self) -> Result<VersionStatus, PortError> {
        self.status_named(STATUS)
    }

    /// A status attribute (`status`, or a history item's `from`/`to`).
    pub(crate) fn status_named(&self, name: &str) -> Result<VersionStatus, PortError> {
        let text = self.string(name)?;
        VersionStatus::parse(&text).ok_or_else(|| {
            let expected: Vec<&str> = VersionStatus::ALL.iter().map(|s| s.as_str()).collect();
            self.corrupt(
                name,
                format!(
                    "has unknown value {text:?} (expected one of {})",
                    expected.join(", ")
                ),
            )
        })
    }
}

/// Decodes a version item.
pub(crate) fn parse_version(item: &Item) -> Result<ModelVersion, PortError> {
    let r = ItemReader::new(item);
    let model_name = match r.opt_string("modelName")? {
        Some(name) => name,
        None => r.string(PK)?,
    };
    Ok(ModelVersion {
        version: r.u64(VERSION)?,
        status: r.status()?,
        record: NewVersion {
            model_name,
            sagemaker_model_name: r.string("sagemakerModelName")?,
            training_job_name: r.string("trainingJobName")?,
            tuning_job_name: r.opt_string("tuningJobName")?,
            model_data_url: r.string("modelDataUrl")?,
            image: r.string("image")?,
            hyperparameters: r.string_map("hyperparameters")?,
            objective_metric: r.opt_string("objectiveMetric")?,
            objective_value: r.opt_f64("objectiveValue")?,
            data_date: r.string("dataDate")?,
            created_at: r.string("createdAt")?,
            execution_arn: r.string("executionArn")?,
            parent_version: r.opt_u64("parentVersion")?,
            reason: r.string("reason")?,
            profile_uri: r.opt_string("profileUri")?,
            training_data: r.opt_training_data("trainingData")?,
        },
    })
}

/// Decodes an evaluation item.
pub(crate) fn parse_evaluation(item: &Item) -> Result<EvaluationRecord, PortError> {
    let r = ItemReader::new(item);
    let model_name = match r.opt_string("modelName")? {
        Some(name) => name,
        None => r.string(PK)?,
    };
    Ok(EvaluationRecord {
        model_name,
        version: r.u64(VERSION)?,
        evaluated_at: r.string("evaluatedAt")?,
        execution_arn: r.string("executionArn")?,
        data_date: r.string("dataDate")?,
        metrics: r.number_map("metrics")?,
        retrain: r.opt_bool("retrain")?,
        reason: r.opt_string("reason")?,
        drift: r.opt_drift("drift")?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(model: &str) -> NewVersion {
        NewVersion {
            model_name: model.into(),
            sagemaker_model_name: "m-2024-01-01-abc".into(),
            training_job_name: "job-1".into(),
            tuning_job_name: Some("tune-1".into()),
            model_data_url: "s3://b/m/model.tar.gz".into(),
            image: "img:1".into(),
            hyperparameters: BTreeMap::from([("eta".into(), "0.1".into())]),
            objective_metric: Some("validation:rmse".into()),
            objective_value: Some(0.125),
            data_date: "2024-01-01".into(),
            created_at: "2024-01-02T03:04:05Z".into(),
            execution_arn: "arn:aws:states:us-east-1:1:execution:sm:e1".into(),
            parent_version: Some(3),
            reason: "initial".into(),
            profile_uri: Some("s3://b/m/preprocessing/profile/profile.json".into()),
            training_data: Some(mdlc_core::retrain::TrainingData {
                train: mdlc_core::input::DataSource::S3Uri(mdlc_core::S3Uri::new(
                    "bkt",
                    "m/preprocessing/train/",
                )),
                validation: mdlc_core::input::DataSource::S3Uri(mdlc_core::S3Uri::new(
                    "bkt",
                    "m/preprocessing/validation/",
                )),
            }),
        }
    }

    #[test]
    fn given_a_full_version_when_round_tripped_then_every_field_survives() {
        let new = sample("churn");
        let item = version_item(&new, 7, VersionStatus::Approved).unwrap();
        assert_eq!(
            item.get(SK),
            Some(&AttributeValue::S("V#0000000007".into()))
        );
        let back = parse_version(&item).unwrap();
        assert_eq!(back.version, 7);
        assert_eq!(back.status, VersionStatus::Approved);
        assert_eq!(back.record, new);
    }

    #[test]
    fn given_a_minimal_version_when_round_tripped_then_optionals_stay_absent() {
        let new = mdlc_core::contract::minimal_version(sample("churn"));
        let item = version_item(&new, 1, VersionStatus::Registered).unwrap();
        assert!(!item.contains_key("tuningJobName"));
        assert!(!item.contains_key("profileUri"));
        assert!(!item.contains_key("trainingData"));
        assert!(!item.contains_key("objectiveValue"));
        assert_eq!(parse_version(&item).unwrap().record, new);
    }

    #[test]
    fn given_non_finite_objective_when_mapping_then_rejected_naming_the_field() {
        let mut new = sample("churn");
        new.objective_value = Some(f64::NAN);
        let err = version_item(&new, 1, VersionStatus::Registered).unwrap_err();
        assert!(
            matches!(&err, PortError::Rejected { message } if message.contains("objectiveValue"))
        );
    }

    #[test]
    fn given_extreme_numbers_when_round_tripped_then_exact() {
        for value in [1e-7, 1e300, -0.0, 0.1 + 0.2, 123_456_789.123_456_78] {
            let text = match n_f64(value, "x").unwrap() {
                AttributeValue::N(t) => t,
                _ => unreachable!(),
            };
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                value.to_bits(),
                "{text}"
            );
        }
    }

    #[test]
    fn given_malformed_items_when_parsed_then_corrupt_names_the_attribute() {
        let new = sample("churn");
        let good = version_item(&new, 2, VersionStatus::Registered).unwrap();

        let mut bad = good.clone();
        bad.insert(STATUS.into(), AttributeValue::S("Deleted".into()));
        let err = parse_version(&bad).unwrap_err();
        assert!(
            matches!(&err, PortError::Corrupt { message } if message.contains("\"status\"") && message.contains("Deleted") && message.contains("V#0000000002")),
            "{err}"
        );

        let mut bad = good.clone();
        bad.insert(VERSION.into(), AttributeValue::S("2".into()));
        let err = parse_version(&bad).unwrap_err();
        assert!(matches!(&err, PortError::Corrupt { message } if message.contains("\"version\"")));

        let mut bad = good.clone();
        bad.remove("modelDataUrl");
        let err = parse_version(&bad).unwrap_err();
        assert!(
            matches!(&err, PortError::Corrupt { message } if message.contains("\"modelDataUrl\" is missing"))
        );

        let mut bad = good.clone();
        bad.insert(
            "hyperparameters".into(),
            AttributeValue::M(HashMap::from([(
                "eta".into(),
                AttributeValue::N("1".into()),
            )])),
        );
        let err = parse_version(&bad).unwrap_err();
        assert!(
            matches!(&err, PortError::Corrupt { message } if message.contains("hyperparameters.eta"))
        );

        let mut bad = good;
        bad.insert("objectiveValue".into(), AttributeValue::N("abc".into()));
        let err = parse_version(&bad).unwrap_err();
        assert!(
            matches!(&err, PortError::Corrupt { message } if message.contains("objectiveValue"))
        );
    }

    #[test]
    fn given_an_evaluation_when_round_tripped_then_every_field_survives() {
        let record = EvaluationRecord {
            model_name: "churn".into(),
            version: 4,
            evaluated_at: "2024-02-01T00:00:00Z".into(),
            execution_arn: "arn:e2".into(),
            data_date: "2024-02-01".into(),
            metrics: BTreeMap::from([("rmse".into(), 1.5), ("r2".into(), -0.25)]),
            retrain: Some(true),
            reason: Some("rmse above threshold".into()),
            drift: Some(mdlc_core::contract::sample_drift()),
        };
        let item = evaluation_item(&record).unwrap();
        assert_eq!(
            item.get(SK),
            Some(&AttributeValue::S("E#2024-02-01T00:00:00Z#arn:e2".into()))
        );
        assert_eq!(parse_evaluation(&item).unwrap(), record);

        let mut bad = item;
        bad.insert(
            "metrics".into(),
            AttributeValue::M(HashMap::from([(
                "rmse".into(),
                AttributeValue::S("x".into()),
            )])),
        );
        let err = parse_evaluation(&bad).unwrap_err();
        assert!(matches!(&err, PortError::Corrupt { message } if message.contains("metrics.rmse")));
    }

    #[test]
    fn given_an_evaluation_with_drift_when_mapped_then_drift_is_a_native_map() {
        let mut record = EvaluationRecord {
            model_name: "churn".into(),
            version: 4,
            evaluated_at: "2024-02-01T00:00:00Z".into(),
            execution_arn: "arn:e2".into(),
            data_date: "2024-02-01".into(),
            metrics: BTreeMap::from([("rmse".into(), 1.5)]),
            retrain: None,
            reason: None,
            drift: Some(mdlc_core::contract::sample_drift()),
        };
        let item = evaluation_item(&record).unwrap();
        let Some(AttributeValue::M(drift)) = item.get("drift") else {
            panic!("drift must be a map: {item:?}");
        };
        assert_eq!(
            drift.get("level"),
            Some(&AttributeValue::S("significant".into()))
        );
        assert_eq!(
            drift.get("maxPsi"),
            Some(&AttributeValue::N("0.4375".into()))
        );
        let Some(AttributeValue::L(features)) = drift.get("features") else {
            panic!("drift.features must be a list");
        };
        assert_eq!(features.len(), 2);

        // A corrupt nested attribute is named by its path.
        let mut bad = item.clone();
        let mut broken = drift.clone();
        let mut first = match &features[1] {
            AttributeValue::M(m) => m.clone(),
            other => panic!("{other:?}"),
        };
        first.insert("psi".into(), AttributeValue::S("high".into()));
        broken.insert(
            "features".into(),
            AttributeValue::L(vec![features[0].clone(), AttributeValue::M(first)]),
        );
        bad.insert("drift".into(), AttributeValue::M(broken));
        let err = parse_evaluation(&bad).unwrap_err();
        assert!(
            matches!(&err, PortError::Corrupt { message } if message.contains("drift.features[1].psi")),
            "{err}"
        );

        // Non-finite PSI values are rejected on write, naming the field.
        if let Some(d) = record.drift.as_mut() {
            d.features[0].psi = f64::NAN;
        }
        let err = evaluation_item(&record).unwrap_err();
        assert!(
            matches!(&err, PortError::Rejected { message } if message.contains("drift.features[0].psi")),
            "{err}"
        );
    }

    #[test]
    fn given_non_finite_metric_when_mapping_then_rejected_naming_the_metric() {
        let record = EvaluationRecord {
            model_name: "churn".into(),
            version: 1,
            evaluated_at: "t".into(),
            execution_arn: "e".into(),
            data_date: "d".into(),
            metrics: BTreeMap::from([("auc".into(), f64::INFINITY)]),
            retrain: None,
            reason: None,
            drift: None,
        };
        let err = evaluation_item(&record).unwrap_err();
        assert!(matches!(&err, PortError::Rejected { message } if message.contains("metrics.auc")));
    }
}
