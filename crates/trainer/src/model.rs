//! The trained model: regression trees in XGBoost's JSON model layout (`xgboost-model`),
//! prediction, loading and saving.
//!
//! The file follows XGBoost's JSON schema (learner / gradient_booster / trees with
//! `left_children`, `right_children`, `split_indices`, `split_conditions`, `default_left`, ...),
//! so the same file can be inspected with XGBoost's tools. A row goes left when
//! `x < split_condition`, and to the `default_left` side when `x` is missing.

use crate::fsio::write_atomically;
use crate::params::Objective;
use serde_json::{Value, json};
use std::path::Path;

/// The model's file name inside the model directory (as SageMaker's XGBoost container).
pub const MODEL_FILE_NAME: &str = "xgboost-model";

/// One regression tree in XGBoost's array layout. Node 0 is the root; a leaf has
/// `left == -1` and its value in `split_conditions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    pub left_children: Vec<i32>,
    pub right_children: Vec<i32>,
    pub parents: Vec<i32>,
    pub split_indices: Vec<u32>,
    pub split_conditions: Vec<f32>,
    pub default_left: Vec<bool>,
    pub base_weights: Vec<f32>,
    pub loss_changes: Vec<f32>,
    pub sum_hessian: Vec<f32>,
}

impl Tree {
    pub fn num_nodes(&self) -> usize {
        self.left_children.len()
    }

    pub fn is_leaf(&self, node: usize) -> bool {
        self.left_children.get(node).is_none_or(|&l| l < 0)
    }

    /// The leaf value reached by `row` (features; a missing value is `NaN`).
    pub fn predict_row(&self, row: &[f32]) -> f32 {
        let mut node = 0usize;
        // Validated trees have children with larger ids, so this loop ends; the bound
        // guards against a tree built in code without validation.
        for _ in 0..=self.num_nodes() {
            let left = self.left_children.get(node).copied().unwrap_or(-1);
            if left < 0 {
                return self.split_conditions.get(node).copied().unwrap_or(0.0);
            }
            let feature = self.split_indices.get(node).copied().unwrap_or(0) as usize;
            let x = row.get(feature).copied().unwrap_or(f32::NAN);
            let go_left = if x.is_nan() {
                self.default_left.get(node).copied().unwrap_or(true)
            } else {
                x < self.split_conditions.get(node).copied().unwrap_or(0.0)
            };
            node = if go_left {
                left as usize
            } else {
                self.right_children.get(node).copied().unwrap_or(-1).max(0) as usize
            };
        }
        0.0
    }

    /// Depth of the tree (a single leaf has depth 0).
    pub fn depth(&self) -> usize {
        fn walk(t: &Tree, node: usize, d: usize, budget: usize) -> usize {
            if t.is_leaf(node) || budget == 0 {
                return d;
            }
            let l = t.left_children.get(node).copied().unwrap_or(-1).max(0) as usize;
            let r = t.right_children.get(node).copied().unwrap_or(-1).max(0) as usize;
            walk(t, l, d + 1, budget - 1).max(walk(t, r, d + 1, budget - 1))
        }
        walk(self, 0, 0, self.num_nodes())
    }

    fn validate(&self, num_feature: usize, path: &str) -> Result<(), ModelError> {
        let n = self.num_nodes();
        if n == 0 {
            return Err(ModelError::invalid(path, "a tree has no nodes"));
        }
        for (name, len) in [
            ("right_children", self.right_children.len()),
            ("split_indices", self.split_indices.len()),
            ("split_conditions", self.split_conditions.len()),
            ("default_left", self.default_left.len()),
        ] {
            if len != n {
                return Err(ModelError::invalid(
                    &format!("{path}/{name}"),
                    &format!("has {len} entries, expected {n}"),
                ));
            }
        }
        for node in 0..n {
            let l = self.left_children[node];
            let r = self.right_children[node];
            if l < 0 && r < 0 {
                continue;
            }
            let ok = |c: i32| c > node as i32 && (c as usize) < n;
            if !ok(l) || !ok(r) {
                return Err(ModelError::invalid(
                    &format!("{path}/left_children/{node}"),
                    "children must be later nodes of the same tree",
                ));
            }
            if self.split_indices[node] as usize >= num_feature {
                return Err(ModelError::invalid(
                    &format!("{path}/split_indices/{node}"),
                    &format!(
                        "feature {} is out of range (num_feature {num_feature})",
                        self.split_indices[node]
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A gradient-boosted tree ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub objective: Objective,
    /// On the output scale: a probability for `binary:logistic`.
    pub base_score: f64,
    pub num_feature: usize,
    pub trees: Vec<Tree>,
    /// Set when training stopped early: the best round (0-based) and its score.
    pub best_iteration: Option<usize>,
    pub best_score: Option<f64>,
}

/// Errors loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("model is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid model at {pointer}: {message}")]
    Invalid { pointer: String, message: String },
    #[error("no model file in {0} (expected {MODEL_FILE_NAME})")]
    NotFound(String),
}

impl ModelError {
    fn invalid(pointer: &str, message: &str) -> ModelError {
        ModelError::Invalid {
            pointer: pointer.to_string(),
            message: message.to_string(),
        }
    }
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Model {
    /// The base margin added to the sum of leaves.
    pub fn base_margin(&self) -> f64 {
        match self.objective {
            Objective::SquaredError => self.base_score,
            Objective::Logistic => {
                let p = self.base_score.clamp(1e-16, 1.0 - 1e-16);
                (p / (1.0 - p)).ln()
            }
        }
    }

    /// Raw margin for one row.
    pub fn predict_margin(&self, row: &[f32]) -> f64 {
        let sum: f64 = self
            .trees
            .iter()
            .map(|t| f64::from(t.predict_row(row)))
            .sum();
        self.base_margin() + sum
    }

    /// Prediction on the output scale (a probability for `binary:logistic`).
    pub fn predict_row(&self, row: &[f32]) -> f32 {
        self.transform(self.predict_margin(row)) as f32
    }

    pub fn transform(&self, margin: f64) -> f64 {
        match self.objective {
            Objective::SquaredError => margin,
            Objective::Logistic => sigmoid(margin),
        }
    }

    /// Predictions for a row-major matrix with `n_features` columns. Rows with fewer columns
    /// than the model's features treat the rest as missing.
    pub fn predict(&self, features: &[f32], n_features: usize) -> Vec<f32> {
        if n_features == 0 {
            return Vec::new();
        }
        features
            .chunks(n_features)
            .map(|row| self.predict_row(row))
            .collect()
    }

    /// XGBoost's JSON model document.
    pub fn to_json(&self) -> Value {
        let trees: Vec<Value> = self
            .trees
            .iter()
            .enumerate()
            .map(|(id, t)| {
                json!({
                    "base_weights": t.base_weights,
                    "categories": [],
                    "categories_nodes": [],
                    "categories_segments": [],
                    "categories_sizes": [],
                    "default_left": t.default_left.iter().map(|&b| u8::from(b)).collect::<Vec<_>>(),
                    "id": id,
                    "left_children": t.left_children,
                    "loss_changes": t.loss_changes,
                    "parents": t.parents,
                    "right_children": t.right_children,
                    "split_conditions": t.split_conditions,
                    "split_indices": t.split_indices,
                    "split_type": vec![0u8; t.num_nodes()],
                    "sum_hessian": t.sum_hessian,
                    "tree_param": {
                        "num_deleted": "0",
                        "num_feature": self.num_feature.to_string(),
                        "num_nodes": t.num_nodes().to_string(),
                        "size_leaf_vector": "1"
                    }
                })
            })
            .collect();
        let n = self.trees.len();
        let mut attributes = serde_json::Map::new();
        if let Some(best) = self.best_iteration {
            attributes.insert("best_iteration".into(), json!(best.to_string()));
        }
        if let Some(score) = self.best_score {
            attributes.insert("best_score".into(), json!(score.to_string()));
        }
        json!({
            "learner": {
                "attributes": attributes,
                "feature_names": [],
                "feature_types": [],
                "gradient_booster": {
                    "model": {
                        "gbtree_model_param": {
                            "num_parallel_tree": "1",
                            "num_trees": n.to_string()
                        },
                        "iteration_indptr": (0..=n).collect::<Vec<_>>(),
                        "tree_info": vec![0u8; n],
                        "trees": trees
                    },
                    "name": "gbtree"
                },
                "learner_model_param": {
                    "base_score": format!("{:E}", self.base_score as f32),
                    "boost_from_average": "1",
                    "num_class": "0",
                    "num_feature": self.num_feature.to_string(),
                    "num_target": "1"
                },
                "objective": {
                    "name": self.objective.name(),
                    "reg_loss_param": { "scale_pos_weight": "1" }
                }
            },
            "version": [2, 1, 0]
        })
    }

    /// Parses a model document written by [`Model::to_json`] (or by XGBoost for the
    /// supported objectives).
    pub fn from_json(doc: &Value) -> Result<Model, ModelError> {
        let learner = field(doc, "/learner")?;
        let objective_name = str_at(learner, "/objective/name")?;
        let objective = Objective::parse(objective_name).ok_or_else(|| {
            ModelError::invalid(
                "/learner/objective/name",
                &format!("objective {objective_name:?} is not supported"),
            )
        })?;
        let params = field(learner, "/learner_model_param")?;
        let base_text = str_at(params, "/base_score")?;
        let base_score: f64 = base_text
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .map_err(|_| {
                ModelError::invalid(
                    "/learner/learner_model_param/base_score",
                    &format!("{base_text:?} is not a number"),
                )
            })?;
        let num_feature: usize = str_at(params, "/num_feature")?.parse().map_err(|_| {
            ModelError::invalid(
                "/learner/learner_model_param/num_feature",
                "is not an integer",
            )
        })?;
        let trees_v = field(learner, "/gradient_booster/model/trees")?
            .as_array()
            .ok_or_else(|| {
                ModelError::invalid("/learner/gradient_booster/model/trees", "is not an array")
            })?;
        let mut trees = Vec::with_capacity(trees_v.len());
        for (i, t) in trees_v.iter().enumerate() {
            let path = format!("/learner/gradient_booster/model/trees/{i}");
            let ints = |name: &str| -> Result<Vec<i64>, ModelError> {
                let arr = t.get(name).and_then(Value::as_array).ok_or_else(|| {
                    ModelError::invalid(&format!("{path}/{name}"), "missing or not an array")
                })?;
                arr.iter()
                    .enumerate()
                    .map(|(k, v)| {
                        v.as_i64()
                            .or_else(|| v.as_bool().map(i64::from))
                            .ok_or_else(|| {
                                ModelError::invalid(&format!("{path}/{name}/{k}"), "not an integer")
                            })
                    })
                    .collect()
            };
            let floats = |name: &str, required: bool| -> Result<Vec<f32>, ModelError> {
                let Some(arr) = t.get(name).and_then(Value::as_array) else {
                    return if required {
                        Err(ModelError::invalid(
                            &format!("{path}/{name}"),
                            "missing or not an array",
                        ))
                    } else {
                        Ok(Vec::new())
                    };
                };
                arr.iter()
                    .enumerate()
                    .map(|(k, v)| {
                        v.as_f64().map(|f| f as f32).ok_or_else(|| {
                            ModelError::invalid(&format!("{path}/{name}/{k}"), "not a number")
                        })
                    })
                    .collect()
            };
            let to_i32 = |v: Vec<i64>, name: &str| -> Result<Vec<i32>, ModelError> {
                v.into_iter()
                    .map(|x| {
                        i32::try_from(x).map_err(|_| {
                            ModelError::invalid(&format!("{path}/{name}"), "index out of range")
                        })
                    })
                    .collect()
            };
            let left_children = to_i32(ints("left_children")?, "left_children")?;
            let right_children = to_i32(ints("right_children")?, "right_children")?;
            let split_indices = ints("split_indices")?
                .into_iter()
                .map(|x| {
                    u32::try_from(x).map_err(|_| {
                        ModelError::invalid(&format!("{path}/split_indices"), "negative index")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let default_left = ints("default_left")?.into_iter().map(|x| x != 0).collect();
            let parents = match t.get("parents") {
                Some(_) => to_i32(ints("parents")?, "parents")?,
                None => Vec::new(),
            };
            let tree = Tree {
                left_children,
                right_children,
                parents,
                split_indices,
                split_conditions: floats("split_conditions", true)?,
                default_left,
                base_weights: floats("base_weights", false)?,
                loss_changes: floats("loss_changes", false)?,
                sum_hessian: floats("sum_hessian", false)?,
            };
            tree.validate(num_feature, &path)?;
            trees.push(tree);
        }
        let attr = |name: &str| {
            learner
                .get("attributes")
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
        };
        Ok(Model {
            objective,
            base_score,
            num_feature,
            trees,
            best_iteration: attr("best_iteration").and_then(|s| s.parse().ok()),
            best_score: attr("best_score").and_then(|s| s.parse().ok()),
        })
    }

    /// Writes `<dir>/xgboost-model` atomically (temporary file, then rename).
    pub fn save(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(MODEL_FILE_NAME);
        let text = serde_json::to_string(&self.to_json()).map_err(std::io::Error::other)?;
        write_atomically(&path, text.as_bytes())?;
        Ok(path)
    }

    /// Loads a model file.
    pub fn load_file(path: &Path) -> Result<Model, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let doc: Value = serde_json::from_str(&text)?;
        Model::from_json(&doc)
    }

    /// Loads `<dir>/xgboost-model`, or the only regular file in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Model, ModelError> {
        let preferred = dir.join(MODEL_FILE_NAME);
        if preferred.is_file() {
            return Model::load_file(&preferred);
        }
        let entries = std::fs::read_dir(dir).map_err(|source| ModelError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        match files.as_slice() {
            [only] => Model::load_file(only),
            _ => Err(ModelError::NotFound(dir.display().to_string())),
        }
    }
}

fn field<'a>(v: &'a Value, pointer: &str) -> Result<&'a Value, ModelError> {
    v.pointer(pointer)
        .ok_or_else(|| ModelError::invalid(pointer, "missing"))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Result<&'a str, ModelError> {
    field(v, pointer)?
        .as_str()
        .ok_or_else(|| ModelError::invalid(pointer, "is not a string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 < 0.5 ? (x1 < 2 ? 1 : 2) : 3, missing x0 goes right.
    pub(crate) fn small_tree() -> Tree {
        Tree {
            left_children: vec![1, 3, -1, -1, -1],
            right_children: vec![2, 4, -1, -1, -1],
            parents: vec![i32::MAX, 0, 0, 1, 1],
            split_indices: vec![0, 1, 0, 0, 0],
            split_conditions: vec![0.5, 2.0, 3.0, 1.0, 2.0],
            default_left: vec![false, true, false, false, false],
            base_weights: vec![0.0; 5],
            loss_changes: vec![0.0; 5],
            sum_hessian: vec![1.0; 5],
        }
    }

    /// A tree built in code without validation: `left` and `right` children, the leaf value of
    /// node 1 is 4, everything else as given by the arrays.
    fn unvalidated(left: Vec<i32>, right: Vec<i32>) -> Tree {
        let n = left.len();
        Tree {
            left_children: left,
            right_children: right,
            parents: vec![i32::MAX; n],
            split_indices: vec![0; n],
            split_conditions: vec![0.5, 4.0][..n.min(2)].to_vec(),
            default_left: Vec::new(),
            base_weights: vec![0.0; n],
            loss_changes: vec![0.0; n],
            sum_hessian: vec![1.0; n],
        }
    }

    /// Trees that validation would refuse still end: a cycle stops after as many steps as
    /// there are nodes (prediction 0, depth bounded by the node count), a missing right child
    /// leads back to the root, a missing default direction is left, a child past the arrays is
    /// a leaf of value 0.
    #[test]
    fn given_unvalidated_trees_when_predicting_then_the_walk_ends() {
        let cyclic = unvalidated(vec![0], vec![0]);
        assert_eq!(cyclic.predict_row(&[0.0]), 0.0);
        assert_eq!(cyclic.depth(), 1);
        let no_right = unvalidated(vec![1, -1], vec![]);
        assert_eq!(no_right.predict_row(&[0.0]), 4.0);
        assert_eq!(
            no_right.predict_row(&[1.0]),
            0.0,
            "right goes back to the root"
        );
        assert_eq!(no_right.predict_row(&[f32::NAN]), 4.0, "missing goes left");
        assert_eq!(no_right.depth(), 2);
        let beyond = unvalidated(vec![5, -1], vec![1, -1]);
        assert_eq!(
            beyond.predict_row(&[-1.0]),
            0.0,
            "a node past the arrays is a leaf of 0"
        );
    }

    /// Validation refuses a node with one child only, a node that is its own child and a child
    /// past the last node.
    #[test]
    fn given_a_half_leaf_or_a_self_loop_when_validated_then_the_node_is_named() {
        assert!(small_tree().validate(2, "/trees/0").is_ok());
        for (left, right) in [(-1, 2), (1, -1), (-1, 0), (0, -1), (0, 0), (1, 5)] {
            let mut t = small_tree();
            t.left_children[0] = left;
            t.right_children[0] = right;
            match t.validate(2, "/trees/0") {
                Err(ModelError::Invalid { pointer, message }) => {
                    assert_eq!(pointer, "/trees/0/left_children/0", "{left} {right}");
                    assert_eq!(message, "children must be later nodes of the same tree");
                }
                other => panic!("{left} {right}: {other:?}"),
            }
        }
    }

    #[test]
    fn given_tree_when_predicting_then_follows_less_than_and_default_direction() {
        let t = small_tree();
        assert_eq!(t.predict_row(&[0.0, 1.0]), 1.0);
        assert_eq!(t.predict_row(&[0.0, 2.0]), 2.0);
        assert_eq!(t.predict_row(&[0.5, 0.0]), 3.0);
        assert_eq!(t.predict_row(&[f32::NAN, 0.0]), 3.0);
        assert_eq!(t.predict_row(&[0.1, f32::NAN]), 1.0);
        assert_eq!(t.depth(), 2);
    }

    #[test]
    fn given_model_when_saved_as_json_then_loads_identically() {
        let m = Model {
            objective: Objective::Logistic,
            base_score: 0.25,
            num_feature: 2,
            trees: vec![small_tree(), small_tree()],
            best_iteration: Some(1),
            best_score: Some(0.5),
        };
        let back = Model::from_json(&m.to_json()).unwrap();
        assert_eq!(back, m);
        let p = m.predict_row(&[0.0, 1.0]);
        let expected = sigmoid((0.25f64 / 0.75).ln() + 2.0) as f32;
        assert!((p - expected).abs() < 1e-6);
    }

    #[test]
    fn given_cyclic_tree_when_loaded_then_invalid_with_pointer() {
        let mut t = small_tree();
        t.left_children[1] = 0;
        let m = Model {
            objective: Objective::SquaredError,
            base_score: 0.5,
            num_feature: 2,
            trees: vec![t],
            best_iteration: None,
            best_score: None,
        };
        let err = Model::from_json(&m.to_json()).unwrap_err();
        assert!(
            err.to_string()
                .contains("/learner/gradient_booster/model/trees/0/left_children/1"),
            "{err}"
        );
    }

    #[test]
    fn given_bad_documents_when_loaded_then_errors_name_the_field() {
        let err = Model::from_json(&json!({"learner": {}})).unwrap_err();
        assert!(err.to_string().contains("/objective/name"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Model::load_dir(dir.path()),
            Err(ModelError::NotFound(_))
        ));
    }

    fn model(objective: Objective, base_score: f64) -> Model {
        Model {
            objective,
            base_score,
            num_feature: 2,
            trees: vec![small_tree()],
            best_iteration: None,
            best_score: None,
        }
    }

    /// Without `xgboost-model`, a directory's only regular file is the model; hidden files do
    /// not count, and two candidates are NotFound.
    #[test]
    fn given_a_dir_without_xgboost_model_then_its_only_visible_file_is_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let saved = model(Objective::SquaredError, 0.5)
            .save(dir.path())
            .unwrap();
        assert_eq!(saved, dir.path().join(MODEL_FILE_NAME));
        std::fs::rename(&saved, dir.path().join("model.json")).unwrap();
        std::fs::write(dir.path().join(".hidden"), "not a model").unwrap();
        let loaded = Model::load_dir(dir.path()).unwrap();
        assert_eq!(loaded, model(Objective::SquaredError, 0.5));
        std::fs::write(dir.path().join("other.json"), "{}").unwrap();
        assert!(matches!(
            Model::load_dir(dir.path()),
            Err(ModelError::NotFound(_))
        ));
    }

    /// XGBoost 2 and later write the base score in brackets (`[5E-1]`).
    #[test]
    fn given_a_bracketed_base_score_when_loaded_then_it_is_read() {
        let mut doc = model(Objective::SquaredError, 0.5).to_json();
        doc["learner"]["learner_model_param"]["base_score"] = json!("[2.5E-1]");
        assert_eq!(Model::from_json(&doc).unwrap().base_score, 0.25);
    }

    /// A logistic base score of 0 or 1 gives a finite margin: the probability is kept 1e-16
    /// inside (0, 1).
    #[test]
    fn given_a_logistic_base_score_at_zero_or_one_then_the_margin_is_finite() {
        let one = model(Objective::Logistic, 1.0).base_margin();
        let zero = model(Objective::Logistic, 0.0).base_margin();
        assert!((one - 36.7368005696771).abs() < 1e-9, "{one}");
        assert!((zero + 36.841361487904734).abs() < 1e-9, "{zero}");
        assert_eq!(model(Objective::SquaredError, 3.0).base_margin(), 3.0);
    }
}
