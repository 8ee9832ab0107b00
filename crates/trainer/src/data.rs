//! Seeded synthetic data: regression and binary problems, with a drifted batch for a later
//! data date (shifted feature distribution and a changed relationship), so that a model
//! trained on the original data degrades clearly on it.
//!
//! Features are standard normal. The signal mixes a linear part over all features with a
//! few non-linear terms (a sine, an interaction, a step). Regression adds unit Gaussian
//! noise (the best achievable RMSE is about 1); binary draws the label from the logistic of
//! the signal.

use crate::dataset::Dataset;
use crate::fsio::write_atomically;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// The kind of problem to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Regression,
    Binary,
}

impl Problem {
    pub fn parse(s: &str) -> Option<Problem> {
        match s {
            "regression" => Some(Problem::Regression),
            "binary" => Some(Problem::Binary),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Problem::Regression => "regression",
            Problem::Binary => "binary",
        }
    }

    /// The XGBoost objective that fits this problem.
    pub fn objective(self) -> &'static str {
        match self {
            Problem::Regression => "reg:squarederror",
            Problem::Binary => "binary:logistic",
        }
    }
}

/// What to generate. `rows` is the training size; the other sets default to a quarter of it.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    pub problem: Problem,
    pub rows: usize,
    pub features: usize,
    pub seed: u64,
    pub validation_rows: Option<usize>,
    pub holdout_rows: Option<usize>,
    pub drift_rows: Option<usize>,
}

impl GenerateConfig {
    pub fn new(problem: Problem, rows: usize, features: usize, seed: u64) -> Self {
        GenerateConfig {
            problem,
            rows,
            features,
            seed,
            validation_rows: None,
            holdout_rows: None,
            drift_rows: None,
        }
    }
}

/// Generated sets, label first.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedData {
    pub problem: Problem,
    pub train: Dataset,
    pub validation: Dataset,
    /// Fresh rows from the training distribution (a later date without drift).
    pub holdout: Dataset,
    /// Rows from a later date with drift.
    pub drifted: Dataset,
}

/// Invalid generator settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("rows must be at least 8, got {0}")]
    TooFewRows(usize),
    #[error("features must be between 1 and 10000, got {0}")]
    BadFeatureCount(usize),
}

/// The file names written by [`write_dir`].
pub const TRAIN_FILE: &str = "train.csv";
pub const VALIDATION_FILE: &str = "validation.csv";
pub const HOLDOUT_FILE: &str = "holdout.csv";
pub const DRIFTED_FILE: &str = "drifted.csv";
pub const MANIFEST_FILE: &str = "manifest.json";

/// Shift added to the first half of the features in the drifted batch.
pub const DRIFT_SHIFT: f64 = 1.5;

struct Relationship {
    weights: Vec<f64>,
    sine: f64,
    interaction: f64,
    step: f64,
}

impl Relationship {
    fn new(nf: usize, rng: &mut ChaCha8Rng) -> Self {
        let weights = (0..nf)
            .map(|_| {
                let w: f64 = rng.random_range(0.2..1.0);
                if rng.random::<bool>() { w } else { -w }
            })
            .collect();
        Relationship {
            weights,
            sine: 1.5,
            interaction: 1.0,
            step: 2.0,
        }
    }

    /// The drifted relationship: the strongest terms change sign or size.
    fn drifted(&self) -> Self {
        let mut weights = self.weights.clone();
        for w in weights.iter_mut().step_by(2) {
            *w = -*w;
        }
        Relationship {
            weights,
            sine: -self.sine,
            interaction: -0.5 * self.interaction,
            step: self.step,
        }
    }

    fn signal(&self, x: &[f64]) -> f64 {
        let scale = 1.0 / (self.weights.len() as f64).sqrt();
        let linear: f64 = self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>() * scale;
        let get = |i: usize| x.get(i).copied().unwrap_or(0.0);
        linear
            + self.sine * (2.0 * get(0)).sin()
            + self.interaction * get(1) * get(2)
            + self.step * if get(3) > 0.5 { 1.0 } else { -0.5 }
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller; 1 - u keeps the logarithm finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn make_set(
    problem: Problem,
    rows: usize,
    nf: usize,
    rel: &Relationship,
    shift: f64,
    seed: u64,
    stream: u64,
) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut features = Vec::with_capacity(rows * nf);
    let mut labels = Vec::with_capacity(rows);
    let mut x = vec![0.0f64; nf];
    for _ in 0..rows {
        for (j, v) in x.iter_mut().enumerate() {
            *v = normal(&mut rng) + if j < nf.div_ceil(2) { shift } else { 0.0 };
        }
        let s = rel.signal(&x);
        let y = match problem {
            Problem::Regression => s + normal(&mut rng),
            Problem::Binary => {
                let p = 1.0 / (1.0 + (-(s - 0.5)).exp());
                if rng.random::<f64>() < p { 1.0 } else { 0.0 }
            }
        };
        features.extend(x.iter().map(|&v| v as f32));
        labels.push(y as f32);
    }
    Dataset::from_rows_unchecked(nf, features, labels)
}

/// Generates the four sets. The same configuration always gives the same data.
pub fn generate(cfg: &GenerateConfig) -> Result<GeneratedData, GenerateError> {
    if cfg.rows < 8 {
        return Err(GenerateError::TooFewRows(cfg.rows));
    }
    if cfg.features == 0 || cfg.features > 10_000 {
        return Err(GenerateError::BadFeatureCount(cfg.features));
    }
    let nf = cfg.features;
    let quarter = (cfg.rows / 4).max(2);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let rel = Relationship::new(nf, &mut rng);
    let drifted_rel = rel.drifted();
    let p = cfg.problem;
    Ok(GeneratedData {
        problem: p,
        train: make_set(p, cfg.rows, nf, &rel, 0.0, cfg.seed, 1),
        validation: make_set(
            p,
            cfg.validation_rows.unwrap_or(quarter),
            nf,
            &rel,
            0.0,
            cfg.seed,
            2,
        ),
        holdout: make_set(
            p,
            cfg.holdout_rows.unwrap_or(quarter),
            nf,
            &rel,
            0.0,
            cfg.seed,
            3,
        ),
        drifted: make_set(
            p,
            cfg.drift_rows.unwrap_or(quarter),
            nf,
            &drifted_rel,
            DRIFT_SHIFT,
            cfg.seed,
            4,
        ),
    })
}

/// Writes `train.csv`, `validation.csv`, `holdout.csv`, `drifted.csv` (label first, no
/// header) and `manifest.json` into `dir`; returns the paths written.
pub fn write_dir(
    data: &GeneratedData,
    cfg: &GenerateConfig,
    dir: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, set) in [
        (TRAIN_FILE, &data.train),
        (VALIDATION_FILE, &data.validation),
        (HOLDOUT_FILE, &data.holdout),
        (DRIFTED_FILE, &data.drifted),
    ] {
        let path = dir.join(name);
        write_atomically(&path, set.to_csv().as_bytes())?;
        written.push(path);
    }
    let manifest = serde_json::json!({
        "problem": data.problem.name(),
        "objective": data.problem.objective(),
        "features": cfg.features,
        "seed": cfg.seed,
        "layout": "label first, no header",
        "files": {
            TRAIN_FILE: data.train.n_rows(),
            VALIDATION_FILE: data.validation.n_rows(),
            HOLDOUT_FILE: data.holdout.n_rows(),
            DRIFTED_FILE: data.drifted.n_rows(),
        },
        "drift": format!(
            "{DRIFTED_FILE}: the first half of the features shifted by +{DRIFT_SHIFT}; \
             the relationship changed (every other linear weight and the sine term flipped, \
             the interaction halved and flipped)"
        ),
    });
    let path = dir.join(MANIFEST_FILE);
    let text = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
    write_atomically(&path, text.as_bytes())?;
    written.push(path);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbdt::train;
    use crate::metrics::{auc, rmse};
    use crate::params::{Objective, TrainParams};

    /// A problem's name reads back, and each names the XGBoost objective that fits it.
    #[test]
    fn problems_parse_their_names_and_name_their_objectives() {
        for (p, name, objective) in [
            (Problem::Regression, "regression", "reg:squarederror"),
            (Problem::Binary, "binary", "binary:logistic"),
        ] {
            assert_eq!((p.name(), p.objective()), (name, objective));
            assert_eq!(Problem::parse(name), Some(p));
        }
        assert_eq!(Problem::parse("multiclass"), None);
    }

    fn relationship() -> Relationship {
        Relationship {
            weights: vec![1.0, -0.5, 0.25, 2.0],
            sine: 1.5,
            interaction: 2.0,
            step: 2.0,
        }
    }

    /// The signal: the weighted sum over sqrt(features), 1.5 sin(2 x0), the x1 x2 interaction
    /// and a step of +1 / -0.5 at x3 > 0.5 (a missing feature counts as 0).
    #[test]
    fn the_signal_is_the_sum_of_its_four_terms() {
        let r = Relationship {
            interaction: 1.0,
            ..relationship()
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // 0.75 linear + 1.5 sin(0.6) + 2 + 2
        assert!(close(r.signal(&[0.3, 1.0, 2.0, 0.6]), 5.596963710092553));
        // at x3 = 0.5 the step is still low: -1
        assert!(close(r.signal(&[0.3, 1.0, 2.0, 0.5]), 2.4969637100925532));
        // three features: x3 is 0, the sum stops at x2
        assert!(close(r.signal(&[0.3, -1.5, 2.0]), -2.3780362899074468));
    }

    /// Box–Muller draws are standard normal: mean 0, standard deviation 1, 68.3 % within one
    /// standard deviation and 95.4 % within two (20,000 seeded draws; bounds at about 5
    /// standard errors).
    #[test]
    fn normal_draws_are_standard_normal() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let z: Vec<f64> = (0..20_000).map(|_| normal(&mut rng)).collect();
        let n = z.len() as f64;
        let mean = z.iter().sum::<f64>() / n;
        let sd = (z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let within = |k: f64| z.iter().filter(|v| v.abs() < k).count() as f64 / n;
        assert!(mean.abs() < 0.04, "mean {mean}");
        assert!((sd - 1.0).abs() < 0.03, "sd {sd}");
        assert!((within(1.0) - 0.6827).abs() < 0.017, "{}", within(1.0));
        assert!((within(2.0) - 0.9545).abs() < 0.008, "{}", within(2.0));
    }

    /// The drifted batch shifts the first half of the features (rounded up) by DRIFT_SHIFT and
    /// leaves the rest centred.
    #[test]
    fn the_drifted_batch_shifts_the_first_half_of_the_features() {
        let cfg = GenerateConfig {
            drift_rows: Some(4_000),
            ..GenerateConfig::new(Problem::Regression, 100, 5, 3)
        };
        let data = generate(&cfg).unwrap();
        let d = &data.drifted;
        for f in 0..5 {
            let mean = d
                .features()
                .iter()
                .skip(f)
                .step_by(5)
                .map(|&v| f64::from(v))
                .sum::<f64>()
                / 4_000.0;
            let expected = if f < 3 { DRIFT_SHIFT } else { 0.0 };
            assert!((mean - expected).abs() < 0.1, "feature {f}: mean {mean}");
        }
    }

    /// A binary label is 1 with probability sigmoid(signal - 0.5): at a signal of 0, 37.75 %
    /// (20,000 seeded rows; bound at about 5 standard errors).
    #[test]
    fn binary_labels_are_drawn_from_the_sigmoid_of_the_signal() {
        let flat = Relationship {
            weights: vec![0.0; 4],
            sine: 0.0,
            interaction: 0.0,
            step: 0.0,
        };
        let d = make_set(Problem::Binary, 20_000, 4, &flat, 0.0, 5, 1);
        let share = d.labels().iter().filter(|&&y| y == 1.0).count() as f64 / 20_000.0;
        let expected = 1.0 / (1.0 + 0.5f64.exp());
        assert!((share - expected).abs() < 0.017, "{share} vs {expected}");
        assert!(d.labels().iter().all(|&y| y == 0.0 || y == 1.0));
    }

    /// The drifted relationship flips every other weight and the sine, halves and flips the
    /// interaction, and keeps the step.
    #[test]
    fn the_drifted_relationship_flips_and_halves_the_strongest_terms() {
        let d = relationship().drifted();
        assert_eq!(d.weights, vec![-1.0, -0.5, -0.25, 2.0]);
        assert_eq!((d.sine, d.interaction, d.step), (-1.5, -1.0, 2.0));
    }

    #[test]
    fn given_same_seed_when_generating_then_identical_and_other_seed_differs() {
        let cfg = GenerateConfig::new(Problem::Regression, 200, 5, 42);
        let a = generate(&cfg).unwrap();
        let b = generate(&cfg).unwrap();
        assert_eq!(a, b);
        let c = generate(&GenerateConfig { seed: 43, ..cfg }).unwrap();
        assert_ne!(a.train, c.train);
        assert_eq!(a.train.n_rows(), 200);
        assert_eq!(a.validation.n_rows(), 50);
        assert_eq!(a.drifted.n_features(), 5);
    }

    #[test]
    fn given_bad_config_when_generating_then_typed_error() {
        let cfg = GenerateConfig::new(Problem::Binary, 3, 5, 1);
        assert_eq!(generate(&cfg), Err(GenerateError::TooFewRows(3)));
        let cfg = GenerateConfig::new(Problem::Binary, 30, 0, 1);
        assert_eq!(generate(&cfg), Err(GenerateError::BadFeatureCount(0)));
        // the limits themselves: at least 8 rows, at most 10,000 features
        assert_eq!(
            generate(&GenerateConfig::new(Problem::Binary, 7, 5, 1)),
            Err(GenerateError::TooFewRows(7))
        );
        assert!(generate(&GenerateConfig::new(Problem::Binary, 8, 10_000, 1)).is_ok());
        assert_eq!(
            generate(&GenerateConfig::new(Problem::Binary, 8, 10_001, 1)),
            Err(GenerateError::BadFeatureCount(10_001))
        );
    }

    #[test]
    fn given_regression_data_when_model_trained_then_drifted_batch_degrades_clearly() {
        let cfg = GenerateConfig::new(Problem::Regression, 4000, 6, 7);
        let d = generate(&cfg).unwrap();
        let mut p = TrainParams::new(40);
        p.eta = 0.2;
        p.max_depth = 4;
        let model = train(&p, &d.train, Some(&d.validation), &mut |_| {})
            .unwrap()
            .model;
        let h = rmse(d.holdout.labels(), &model.predict(d.holdout.features(), 6));
        let x = rmse(d.drifted.labels(), &model.predict(d.drifted.features(), 6));
        assert!(h < 1.5, "holdout rmse {h}");
        assert!(x > 2.0 * h, "drifted {x} vs holdout {h}");
    }

    #[test]
    fn given_binary_data_when_model_trained_then_drifted_auc_drops() {
        let cfg = GenerateConfig::new(Problem::Binary, 4000, 6, 8);
        let d = generate(&cfg).unwrap();
        assert!(d.train.labels().iter().all(|&y| y == 0.0 || y == 1.0));
        let mut p = TrainParams::new(30);
        p.objective = Objective::Logistic;
        p.max_depth = 3;
        let model = train(&p, &d.train, None, &mut |_| {}).unwrap().model;
        let h = auc(d.holdout.labels(), &model.predict(d.holdout.features(), 6)).unwrap();
        let x = auc(d.drifted.labels(), &model.predict(d.drifted.features(), 6)).unwrap();
        assert!(h > 0.75, "holdout auc {h}");
        assert!(x < h - 0.15, "drifted {x} vs holdout {h}");
    }

    #[test]
    fn given_dir_when_writing_then_files_parse_back() {
        let cfg = GenerateConfig::new(Problem::Binary, 40, 3, 1);
        let d = generate(&cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = write_dir(&d, &cfg, dir.path()).unwrap();
        assert_eq!(files.len(), 5);
        let back = crate::dataset::read_csv_file(
            &dir.path().join(TRAIN_FILE),
            crate::dataset::Layout::LabelFirst,
            1,
        )
        .unwrap();
        assert_eq!(back, d.train);
    }
}
