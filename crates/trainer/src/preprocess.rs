//! The processing-job program (`preprocess`). The drift of a batch against a profile written
//! here is measured by `mdlc_core::drift` (monitor-performance).
//!
//! * [`split`]: a seeded train/validation split, stratified by label for binary problems.
//! * [`profile`]: a data profile (per column: count, missing, mean, std, min, max, and decile
//!   bins with their shares, which drift is measured against).
//! * [`run_processing_job`]: SageMaker's processing contract: reads the raw labelled CSV under
//!   `/opt/ml/processing/input` (or overrides), writes `train/train.csv`,
//!   `validation/validation.csv` and `profile/profile.json` under `/opt/ml/processing/output`.

use crate::container::{DEFAULT_ROOT, JobError, ROOT_ENV, read_channel};
use crate::data::Problem;
use crate::dataset::Dataset;
use crate::fsio::{replace_file_with, temp_sibling, write_atomically};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors of the preprocessing functions.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("train ratio must be strictly between 0 and 1, got {0}")]
    BadRatio(f64),
    #[error("cannot split {rows} rows into two non-empty sets with ratio {ratio}")]
    TooFewRows { rows: usize, ratio: f64 },
    #[error("binary problems need labels 0 or 1; row {row} has {label}")]
    NotBinary { row: usize, label: f32 },
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Splits rows into (train, validation); `train_ratio` of the rows (of each class when
/// `stratify`) go to train. Rows keep their original order within each output.
pub fn split(
    ds: &Dataset,
    train_ratio: f64,
    seed: u64,
    stratify: bool,
) -> Result<(Dataset, Dataset), PreprocessError> {
    let in_train = split_mask(ds.labels(), train_ratio, seed, stratify)?;
    let nf = ds.n_features();
    let mut parts = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    for (i, &t) in in_train.iter().enumerate() {
        let part = &mut parts[usize::from(!t)];
        if let Some(row) = ds.row(i) {
            part.0.extend_from_slice(row);
            part.1.push(ds.labels()[i]);
        }
    }
    let [(tf, tl), (vf, vl)] = parts;
    Ok((
        Dataset::from_rows_unchecked(nf, tf, tl),
        Dataset::from_rows_unchecked(nf, vf, vl),
    ))
}

/// Which rows [`split`] sends to train (`true`) and which to validation, from the labels only.
pub fn split_mask(
    labels: &[f32],
    train_ratio: f64,
    seed: u64,
    stratify: bool,
) -> Result<Vec<bool>, PreprocessError> {
    if !(train_ratio > 0.0 && train_ratio < 1.0) {
        return Err(PreprocessError::BadRatio(train_ratio));
    }
    let n = labels.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    for (i, &y) in labels.iter().enumerate() {
        let key = if stratify { y.to_bits() } else { 0 };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups.sort_by_key(|(k, _)| *k);
    let mut in_train = vec![false; n];
    for (_, idx) in groups.iter_mut() {
        for i in (1..idx.len()).rev() {
            let j = rng.random_range(0..=i);
            idx.swap(i, j);
        }
        let k = (train_ratio * idx.len() as f64).round() as usize;
        for &i in idx.iter().take(k) {
            in_train[i] = true;
        }
    }
    let train_n = in_train.iter().filter(|&&b| b).count();
    if train_n == 0 || train_n == n {
        return Err(PreprocessError::TooFewRows {
            rows: n,
            ratio: train_ratio,
        });
    }
    Ok(in_train)
}

pub use mdlc_stats::ColumnBins;

/// Summary statistics of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub index: usize,
    pub count: usize,
    pub missing: usize,
    pub mean: Option<f64>,
    /// Sample standard deviation (n - 1); 0 with fewer than two values.
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub bins: ColumnBins,
}

/// A data profile: the label column first, then the features `f0`, `f1`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataProfile {
    pub rows: usize,
    pub problem: String,
    pub label: ColumnProfile,
    pub features: Vec<ColumnProfile>,
}

fn column_profile(name: String, index: usize, values: &[f32], n_bins: usize) -> ColumnProfile {
    let mut present: Vec<f64> = values
        .iter()
        .filter(|v| !v.is_nan())
        .map(|&v| f64::from(v))
        .collect();
    let count = present.len();
    let missing = values.len() - count;
    let (mean, std, min, max) = if count == 0 {
        (None, None, None, None)
    } else {
        let mean = present.iter().sum::<f64>() / count as f64;
        let var = if count > 1 {
            present.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (count - 1) as f64
        } else {
            0.0
        };
        let min = present.iter().copied().fold(f64::INFINITY, f64::min);
        let max = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (Some(mean), Some(var.sqrt()), Some(min), Some(max))
    };
    present.sort_unstable_by(f64::total_cmp);
    let mut edges: Vec<f64> = Vec::new();
    if count > 0 {
        for j in 1..n_bins.max(2) {
            let v = present[(j * count / n_bins.max(2)).min(count - 1)];
            if v > present[0] && edges.last().is_none_or(|&last| v > last) {
                edges.push(v);
            }
        }
    }
    ColumnProfile {
        name,
        index,
        count,
        missing,
        mean,
        std,
        min,
        max,
        bins: ColumnBins::with_edges(edges, values.iter().map(|&v| f64::from(v))),
    }
}

/// Profiles a labelled data set with `n_bins` quantile bins per column (10 gives deciles).
pub fn profile(ds: &Dataset, problem: Problem, n_bins: usize) -> DataProfile {
    let nf = ds.n_features();
    let mut column = vec![0f32; ds.n_rows()];
    let features = (0..nf)
        .map(|j| {
            for (c, row) in column.iter_mut().zip(ds.features().chunks(nf.max(1))) {
                *c = row.get(j).copied().unwrap_or(f32::NAN);
            }
            column_profile(format!("f{j}"), j, &column, n_bins)
        })
        .collect();
    DataProfile {
        rows: ds.n_rows(),
        problem: problem.name().to_string(),
        label: column_profile("label".into(), 0, ds.labels(), n_bins),
        features,
    }
}

/// Settings of the processing job.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingConfig {
    pub input: PathBuf,
    pub train_output: PathBuf,
    pub validation_output: PathBuf,
    pub profile_output: PathBuf,
    pub failure_file: PathBuf,
    pub train_ratio: f64,
    pub seed: u64,
    /// `None`: binary when every label is 0 or 1.
    pub problem: Option<Problem>,
    pub bins: usize,
    /// Write the profile only (`--profile-only`): the input is already split into the
    /// training job's channels, which are read where they are, so no train/validation copy.
    pub profile_only: bool,
}

impl ProcessingConfig {
    /// Default paths under the processing root (`$MDLC_OPT_ML/processing` or
    /// `/opt/ml/processing`).
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> ProcessingConfig {
        let root = get(ROOT_ENV)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        let processing = root.join("processing");
        let out = processing.join("output");
        ProcessingConfig {
            input: processing.join("input"),
            train_output: out.join("train"),
            validation_output: out.join("validation"),
            profile_output: out.join("profile"),
            // SageMaker Processing reports this file as the job's ExitMessage (training's
            // `output/failure` is not read for processing jobs).
            failure_file: root.join("output").join("message"),
            train_ratio: 0.8,
            seed: 0,
            problem: None,
            bins: 10,
            profile_only: false,
        }
    }
}

/// What the processing job wrote.
#[derive(Debug, Clone)]
pub struct ProcessingSummary {
    pub problem: Problem,
    /// Rows read (and profiled).
    pub rows: usize,
    /// Rows of each side of the split; `None` for a profile only.
    pub split: Option<(usize, usize)>,
    pub written: Vec<PathBuf>,
}

/// Runs the processing job; on failure the reason also goes to the failure file.
pub fn run_processing_job(cfg: &ProcessingConfig) -> Result<ProcessingSummary, PreprocessError> {
    let result = processing_inner(cfg);
    if let Err(e) = &result {
        if let Some(dir) = cfg.failure_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = write_atomically(&cfg.failure_file, e.to_string().as_bytes());
    }
    result
}

fn processing_inner(cfg: &ProcessingConfig) -> Result<ProcessingSummary, PreprocessError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let data = read_channel("input", &cfg.input, threads)?;
    let all_binary = data.labels().iter().all(|&y| y == 0.0 || y == 1.0);
    let problem = cfg.problem.unwrap_or(if all_binary {
        Problem::Binary
    } else {
        Problem::Regression
    });
    if problem == Problem::Binary {
        if let Some((i, &y)) = data
            .labels()
            .iter()
            .enumerate()
            .find(|(_, y)| **y != 0.0 && **y != 1.0)
        {
            return Err(PreprocessError::NotBinary {
                row: i + 1,
                label: y,
            });
        }
    }
    let mut written = Vec::new();
    if cfg.profile_only {
        let path = cfg.profile_output.join("profile.json");
        let prof = profile(&data, problem, cfg.bins);
        write_file(
            &path,
            &serde_json::to_string_pretty(&prof).unwrap_or_default(),
        )?;
        written.push(path);
        return Ok(ProcessingSummary {
            problem,
            rows: data.n_rows(),
            split: None,
            written,
        });
    }
    // The split is decided from the labels; each side's rows are then written straight from
    // the parsed values to its file, so no copy of either side (values or text) is made.
    let in_train = split_mask(
        data.labels(),
        cfg.train_ratio,
        cfg.seed,
        problem == Problem::Binary,
    )?;
    let train_rows = in_train.iter().filter(|&&t| t).count();
    let prof = profile(&data, problem, cfg.bins);
    for (path, side) in [
        (cfg.train_output.join("train.csv"), true),
        (cfg.validation_output.join("validation.csv"), false),
    ] {
        write_file_with(&path, |out| {
            data.write_csv_rows(out, &|i| in_train.get(i) == Some(&side))
        })?;
        written.push(path);
    }
    let path = cfg.profile_output.join("profile.json");
    write_file(
        &path,
        &serde_json::to_string_pretty(&prof).unwrap_or_default(),
    )?;
    written.push(path);
    Ok(ProcessingSummary {
        problem,
        rows: data.n_rows(),
        split: Some((train_rows, data.n_rows() - train_rows)),
        written,
    })
}

/// Writes `path` through a temp file, its content streamed by `fill` through a buffer.
fn write_file_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), PreprocessError> {
    let err = |source| PreprocessError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    replace_file_with(&temp_sibling(path), path, |file| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        fill(&mut out)?;
        out.flush()
    })
    .map_err(|e| err(e.into()))
}

fn write_file(path: &Path, text: &str) -> Result<(), PreprocessError> {
    let err = |source| PreprocessError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    write_atomically(path, text.as_bytes()).map_err(|e| err(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(n: usize) -> Dataset {
        let f: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let l: Vec<f32> = (0..n).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        Dataset::from_parts(1, f, l).unwrap()
    }

    #[test]
    fn given_binary_labels_when_split_stratified_then_class_shares_kept() {
        let d = binary(400); // 100 positives
        let (t, v) = split(&d, 0.8, 3, true).unwrap();
        assert_eq!(t.n_rows() + v.n_rows(), 400);
        let pos = |ds: &Dataset| ds.labels().iter().filter(|&&y| y == 1.0).count();
        assert_eq!(pos(&t), 80);
        assert_eq!(pos(&v), 20);
        assert_eq!(t.n_rows(), 320);
        // Every row lands in exactly one side, in the original order.
        let mut all: Vec<f32> = t.features().iter().chain(v.features()).copied().collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, d.features());
        assert!(t.features().windows(2).all(|w| w[0] < w[1]));
        // Deterministic for a seed.
        assert_eq!(split(&d, 0.8, 3, true).unwrap().0, t);
        assert_ne!(split(&d, 0.8, 4, true).unwrap().0, t);
    }

    #[test]
    fn given_bad_ratio_or_tiny_data_when_split_then_errors() {
        let d = binary(10);
        assert!(matches!(
            split(&d, 1.0, 0, false),
            Err(PreprocessError::BadRatio(_))
        ));
        let one = binary(1);
        assert!(matches!(
            split(&one, 0.5, 0, false),
            Err(PreprocessError::TooFewRows { .. })
        ));
    }

    #[test]
    fn given_known_column_when_profiled_then_statistics_match() {
        let d = Dataset::from_parts(
            2,
            vec![1.0, f32::NAN, 2.0, 5.0, 3.0, 7.0],
            vec![0.0, 1.0, 1.0],
        )
        .unwrap();
        let p = profile(&d, Problem::Binary, 10);
        assert_eq!(p.rows, 3);
        let f0 = &p.features[0];
        assert_eq!((f0.count, f0.missing), (3, 0));
        assert_eq!(f0.mean, Some(2.0));
        assert_eq!(f0.std, Some(1.0));
        assert_eq!((f0.min, f0.max), (Some(1.0), Some(3.0)));
        let f1 = &p.features[1];
        assert_eq!((f1.count, f1.missing), (2, 1));
        assert_eq!(f1.mean, Some(6.0));
        assert!((f1.bins.missing_share - 1.0 / 3.0).abs() < 1e-12);
        assert!((f1.bins.shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(p.label.mean, Some(2.0 / 3.0));
        let json = serde_json::to_string(&p).unwrap();
        let back: DataProfile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn given_processing_dirs_when_job_runs_then_outputs_written() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let root_s = root.display().to_string();
        let cfg = ProcessingConfig::from_env(&|k| (k == ROOT_ENV).then(|| root_s.clone()));
        std::fs::create_dir_all(&cfg.input).unwrap();
        std::fs::write(cfg.input.join("raw.csv"), binary(100).to_csv()).unwrap();
        let s = run_processing_job(&cfg).unwrap();
        assert_eq!(s.problem, Problem::Binary);
        assert_eq!((s.rows, s.split), (100, Some((80, 20))));
        let prof: DataProfile = serde_json::from_str(
            &std::fs::read_to_string(root.join("processing/output/profile/profile.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(prof.rows, 100);
        assert!(root.join("processing/output/train/train.csv").is_file());
        assert!(
            root.join("processing/output/validation/validation.csv")
                .is_file()
        );
        // A bad input fails through the failure file.
        std::fs::write(cfg.input.join("raw.csv"), "1,2\nx,3\n").unwrap();
        let err = run_processing_job(&cfg).unwrap_err();
        assert_eq!(cfg.failure_file, root.join("output/message"));
        let reason = std::fs::read_to_string(&cfg.failure_file).unwrap();
        assert_eq!(reason, err.to_string());
        assert!(reason.contains("line 2"), "{reason}");
    }

    /// `--profile-only` on channels already split (`input/train/`, `input/validation/`): the
    /// profile is that of all their rows, the same as a split job's of the same rows, and no
    /// train or validation output is written.
    #[test]
    fn a_profile_only_job_profiles_every_input_row_and_writes_no_split() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let root_s = root.display().to_string();
        let mut cfg = ProcessingConfig::from_env(&|k| (k == ROOT_ENV).then(|| root_s.clone()));
        let all = binary(100);
        let (train, validation) = split(&all, 0.8, 5, true).unwrap();
        for (name, ds) in [("train", &train), ("validation", &validation)] {
            let d = cfg.input.join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("{name}.csv")), ds.to_csv()).unwrap();
        }
        cfg.profile_only = true;
        let s = run_processing_job(&cfg).unwrap();
        assert_eq!((s.problem, s.rows, s.split), (Problem::Binary, 100, None));
        let out = root.join("processing/output");
        assert_eq!(s.written, vec![out.join("profile/profile.json")]);
        let prof: DataProfile =
            serde_json::from_str(&std::fs::read_to_string(&s.written[0]).unwrap()).unwrap();
        // The rows in another order profile the same (counts, moments, bins of every column).
        let reference = profile(&all, Problem::Binary, 10);
        assert_eq!(prof.rows, reference.rows);
        for (got, want) in std::iter::once((&prof.label, &reference.label))
            .chain(prof.features.iter().zip(&reference.features))
        {
            assert_eq!(
                (got.count, got.min, got.max),
                (want.count, want.min, want.max)
            );
            assert_eq!(got.bins.edges, want.bins.edges);
            assert_eq!(got.bins.shares, want.bins.shares);
            assert!((got.mean.unwrap() - want.mean.unwrap()).abs() < 1e-9);
        }
        assert!(!out.join("train").exists() && !out.join("validation").exists());
    }
}
