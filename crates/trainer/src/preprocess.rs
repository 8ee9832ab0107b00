//! The processing-job program (`preprocess`). The drift of a batch against a profile written
//! here is measured by `mdlc_core::drift` (monitor-performance).
//!
//! * [`split`]: a seeded train/validation split, stratified by label for binary problems.
//! * [`profile`]: a data profile (per column: count, missing, mean, std, min, max, and decile
//!   bins with their shares, which drift is measured against).
//! * [`run_processing_job`]: SageMaker's processing contract: reads the raw labelled CSV under
//!   `/opt/ml/processing/input` (or overrides), writes `train/train.csv`,
//!   `validation/validation.csv` and `profile/profile.json` under `/opt/ml/processing/output`.

use crate::container::{DEFAULT_ROOT, JobError, ROOT_ENV, for_each_channel_chunk};
use crate::data::Problem;
use crate::dataset::{Dataset, push_csv_row};
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
    #[error(
        "the input {path} changed while it was read: {found:?} (features, rows) on a later pass, {expected:?} on the first"
    )]
    InputChanged {
        path: String,
        expected: (usize, usize),
        found: (usize, usize),
    },
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

/// The key of an `f32` whose unsigned order is [`f32::total_cmp`]'s order of the values.
fn order_key(v: f32) -> u32 {
    let bits = v.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    }
}

/// The `f32` of an [`order_key`].
fn from_order_key(key: u32) -> f32 {
    f32::from_bits(if key >> 31 == 1 {
        key & !(1 << 31)
    } else {
        !key
    })
}

/// Exact order statistics of a column in bounded memory, over three passes of its values:
/// pass 1 counts the values by the top 16 bits of their [`order_key`], pass 2 by the next 8
/// bits among those whose top 16 bits hold a wanted rank, pass 3 by the last 8 bits among
/// those whose top 24 bits do. Each rank's key, hence its value, is then known exactly.
#[derive(Debug, Clone)]
struct RankSearch {
    top: Vec<u64>,
    /// Per wanted rank: the key bits found so far and the rank among the values with them.
    ranks: Vec<(usize, u32, u64)>,
    /// Pass 2 and 3: the key prefixes looked into, sorted, each with its 256 counts.
    prefixes: Vec<(u32, Vec<u64>)>,
}

impl RankSearch {
    fn new() -> RankSearch {
        RankSearch {
            top: vec![0; 1 << 16],
            ranks: Vec::new(),
            prefixes: Vec::new(),
        }
    }

    /// Pass 1 (`level` 0) counts by `key >> 16`; pass 2 (1) `key >> 8` within the prefixes
    /// `key >> 16`; pass 3 (2) `key` within `key >> 8`.
    fn add(&mut self, level: u32, v: f32) {
        let key = order_key(v);
        if level == 0 {
            self.top[(key >> 16) as usize] += 1;
            return;
        }
        let shift = 16 - 8 * level;
        let prefix = key >> (shift + 8);
        if let Ok(i) = self.prefixes.binary_search_by_key(&prefix, |(p, _)| *p) {
            self.prefixes[i].1[((key >> shift) & 0xff) as usize] += 1;
        }
    }

    /// After pass 1: the ranks wanted (each below the number of values counted).
    fn start(&mut self, wanted: &[usize]) {
        self.ranks = wanted.iter().map(|&r| (r, 0, r as u64)).collect();
        Self::resolve(&self.top, &mut self.ranks, |_| true, 16);
        self.next_prefixes();
    }

    /// Finds, for each rank whose prefix passes `mine`, the bucket of `counts` holding it.
    fn resolve(
        counts: &[u64],
        ranks: &mut [(usize, u32, u64)],
        mine: impl Fn(u32) -> bool,
        bits: u32,
    ) {
        for (_, prefix, rest) in ranks.iter_mut() {
            if !mine(*prefix) {
                continue;
            }
            let mut seen = 0u64;
            for (b, &c) in counts.iter().enumerate() {
                if *rest < seen + c {
                    *prefix = (*prefix << bits) | b as u32;
                    *rest -= seen;
                    break;
                }
                seen += c;
            }
        }
    }

    fn next_prefixes(&mut self) {
        let mut p: Vec<u32> = self.ranks.iter().map(|r| r.1).collect();
        p.sort_unstable();
        p.dedup();
        self.prefixes = p.into_iter().map(|p| (p, vec![0; 256])).collect();
    }

    /// After pass 2 or 3: the next 8 bits of each rank's key.
    fn descend(&mut self) {
        let prefixes = std::mem::take(&mut self.prefixes);
        let before: Vec<u32> = self.ranks.iter().map(|r| r.1).collect();
        for (p, counts) in &prefixes {
            for (r, b) in self.ranks.iter_mut().zip(&before) {
                if b == p {
                    Self::resolve(&counts[..], std::slice::from_mut(r), |_| true, 8);
                }
            }
        }
        self.next_prefixes();
    }

    /// After pass 3: the value of each rank.
    fn values(&self) -> Vec<(usize, f32)> {
        self.ranks
            .iter()
            .map(|&(r, key, _)| (r, from_order_key(key)))
            .collect()
    }
}

/// One column's profile built over passes of its values (see [`ProfileBuilder`]).
#[derive(Debug, Clone)]
struct ColumnStream {
    name: String,
    index: usize,
    total: usize,
    count: usize,
    sum: f64,
    min: f64,
    max: f64,
    mean: f64,
    squares: f64,
    search: RankSearch,
    bins: Option<ColumnBins>,
    in_bin: Vec<u64>,
}

/// The number of passes over the rows [`ProfileBuilder`] needs.
const PROFILE_PASSES: u32 = 4;

/// A data profile computed from passes over the rows, a chunk at a time, holding per column a
/// fixed number of counts rather than its values. Pass 1: count, missing, sum (the mean), min,
/// max and the first level of the quantile search; pass 2: the squared deviations (the std,
/// summed in row order as before) and the second level; pass 3: the third level, which gives the
/// bin edges; pass 4: the share of each bin. [`ProfileBuilder::finish`] gives what
/// [`profile`]'s all-in-memory computation gave, to the bit.
#[derive(Debug, Clone)]
pub struct ProfileBuilder {
    n_bins: usize,
    pass: u32,
    rows: usize,
    columns: Vec<ColumnStream>,
}

impl ProfileBuilder {
    /// A builder for data with `n_features` features and `n_bins` quantile bins per column.
    pub fn new(n_features: usize, n_bins: usize) -> ProfileBuilder {
        // The identity float sums start from, so that the sums are the iterator sums of before.
        let zero = std::iter::empty::<f64>().sum::<f64>();
        let column = |name: String, index: usize| ColumnStream {
            name,
            index,
            total: 0,
            count: 0,
            sum: zero,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            squares: zero,
            search: RankSearch::new(),
            bins: None,
            in_bin: Vec::new(),
        };
        let mut columns = vec![column("label".into(), 0)];
        columns.extend((0..n_features).map(|j| column(format!("f{j}"), j)));
        ProfileBuilder {
            n_bins,
            pass: 0,
            rows: 0,
            columns,
        }
    }

    /// Whether another pass over the rows is wanted.
    pub fn wants_pass(&self) -> bool {
        self.pass < PROFILE_PASSES
    }

    /// Adds rows (their labels and features, `n_features` a row) to the current pass.
    pub fn add(&mut self, labels: &[f32], features: &[f32]) {
        let nf = self.columns.len() - 1;
        if self.pass == 0 {
            self.rows += labels.len();
        }
        for (c, col) in self.columns.iter_mut().enumerate() {
            let values: Box<dyn Iterator<Item = f32>> = if c == 0 {
                Box::new(labels.iter().copied())
            } else {
                Box::new(
                    features
                        .chunks(nf.max(1))
                        .map(move |row| row.get(c - 1).copied().unwrap_or(f32::NAN)),
                )
            };
            col.add(self.pass, values);
        }
    }

    /// Ends the current pass.
    pub fn end_pass(&mut self) {
        let n_bins = self.n_bins;
        for col in &mut self.columns {
            col.end_pass(self.pass, n_bins);
        }
        self.pass += 1;
    }

    /// The profile, once every pass is done.
    pub fn finish(self, problem: Problem) -> DataProfile {
        let mut columns = self.columns.into_iter().map(ColumnStream::finish);
        let label = columns
            .next()
            .unwrap_or_else(|| unreachable!("the label column"));
        DataProfile {
            rows: self.rows,
            problem: problem.name().to_string(),
            label,
            features: columns.collect(),
        }
    }
}

impl ColumnStream {
    fn add(&mut self, pass: u32, values: impl Iterator<Item = f32>) {
        match pass {
            0 => {
                for v in values {
                    self.total += 1;
                    if v.is_nan() {
                        continue;
                    }
                    self.count += 1;
                    let x = f64::from(v);
                    self.sum += x;
                    self.min = f64::min(self.min, x);
                    self.max = f64::max(self.max, x);
                    self.search.add(0, v);
                }
            }
            1 | 2 => {
                for v in values.filter(|v| !v.is_nan()) {
                    if pass == 1 {
                        let x = f64::from(v);
                        self.squares += (x - self.mean) * (x - self.mean);
                    }
                    self.search.add(pass, v);
                }
            }
            _ => {
                if let Some(bins) = &self.bins {
                    for v in values.filter(|v| !v.is_nan()) {
                        if let Some(n) = self.in_bin.get_mut(bins.bin_of(f64::from(v))) {
                            *n += 1;
                        }
                    }
                }
            }
        }
    }

    fn end_pass(&mut self, pass: u32, n_bins: usize) {
        match pass {
            0 if self.count > 0 => {
                self.mean = self.sum / self.count as f64;
                let n = n_bins.max(2);
                // ranks 0 and j·count/n, each below count since j < n
                let mut wanted: Vec<usize> = std::iter::once(0)
                    .chain((1..n).map(|j| j * self.count / n))
                    .collect();
                wanted.sort_unstable();
                wanted.dedup();
                self.search.start(&wanted);
            }
            1 | 2 => self.search.descend(),
            _ => {}
        }
        if pass == 2 {
            let at: std::collections::BTreeMap<usize, f64> = self
                .search
                .values()
                .into_iter()
                .map(|(r, v)| (r, f64::from(v)))
                .collect();
            let mut edges: Vec<f64> = Vec::new();
            if self.count > 0 {
                let first = at[&0];
                let n = n_bins.max(2);
                for j in 1..n {
                    let v = at[&(j * self.count / n)];
                    if v > first && edges.last().is_none_or(|&last| v > last) {
                        edges.push(v);
                    }
                }
            }
            self.in_bin = vec![0; edges.len() + 1];
            self.bins = Some(ColumnBins::with_edges(edges, std::iter::empty()));
            self.search = RankSearch {
                top: Vec::new(),
                ranks: Vec::new(),
                prefixes: Vec::new(),
            };
        }
    }

    fn finish(self) -> ColumnProfile {
        let count = self.count;
        let (mean, std, min, max) = if count == 0 {
            (None, None, None, None)
        } else {
            let var = if count > 1 {
                self.squares / (count - 1) as f64
            } else {
                0.0
            };
            (
                Some(self.mean),
                Some(var.sqrt()),
                Some(self.min),
                Some(self.max),
            )
        };
        let mut bins = self
            .bins
            .unwrap_or_else(|| ColumnBins::with_edges(Vec::new(), std::iter::empty()));
        if count > 0 {
            for (s, &n) in bins.shares.iter_mut().zip(&self.in_bin) {
                *s = n as f64 / count as f64;
            }
        }
        if self.total > 0 {
            bins.missing_share = (self.total - count) as f64 / self.total as f64;
        }
        ColumnProfile {
            name: self.name,
            index: self.index,
            count,
            missing: self.total - count,
            mean,
            std,
            min,
            max,
            bins,
        }
    }
}

/// Profiles a labelled data set with `n_bins` quantile bins per column (10 gives deciles).
pub fn profile(ds: &Dataset, problem: Problem, n_bins: usize) -> DataProfile {
    let mut builder = ProfileBuilder::new(ds.n_features(), n_bins);
    while builder.wants_pass() {
        builder.add(ds.labels(), ds.features());
        builder.end_pass();
    }
    builder.finish(problem)
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

/// One pass over the input's rows, a chunk at a time; an error when the input no longer has
/// the features and rows of the first pass.
fn input_pass(
    cfg: &ProcessingConfig,
    threads: usize,
    expected: (usize, usize),
    each: &mut dyn FnMut(&Dataset),
) -> Result<(), PreprocessError> {
    let found = for_each_channel_chunk("input", &cfg.input, threads, each)?;
    if found != expected {
        return Err(PreprocessError::InputChanged {
            path: cfg.input.display().to_string(),
            expected,
            found,
        });
    }
    Ok(())
}

fn processing_inner(cfg: &ProcessingConfig) -> Result<ProcessingSummary, PreprocessError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Pass 1 keeps the labels (the split is decided from them) and starts the profile, which
    // then reads the input again rather than keeping its values (see ProfileBuilder).
    let mut labels: Vec<f32> = Vec::new();
    let mut builder: Option<ProfileBuilder> = None;
    let shape = for_each_channel_chunk("input", &cfg.input, threads, &mut |ds| {
        labels.extend_from_slice(ds.labels());
        builder
            .get_or_insert_with(|| ProfileBuilder::new(ds.n_features(), cfg.bins))
            .add(ds.labels(), ds.features());
    })?;
    let mut builder = builder.unwrap_or_else(|| ProfileBuilder::new(shape.0, cfg.bins));
    builder.end_pass();
    let all_binary = labels.iter().all(|&y| y == 0.0 || y == 1.0);
    let problem = cfg.problem.unwrap_or(if all_binary {
        Problem::Binary
    } else {
        Problem::Regression
    });
    if problem == Problem::Binary {
        if let Some((i, &y)) = labels
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
    let rows = labels.len();
    let mut written = Vec::new();
    let in_train = if cfg.profile_only {
        None
    } else {
        Some(split_mask(
            &labels,
            cfg.train_ratio,
            cfg.seed,
            problem == Problem::Binary,
        )?)
    };
    drop(labels);
    // Every pass but the last: the profile's.
    while builder.pass + 1 < PROFILE_PASSES {
        input_pass(cfg, threads, shape, &mut |ds| {
            builder.add(ds.labels(), ds.features())
        })?;
        builder.end_pass();
    }
    // The last: the bins' shares, and the split's rows written straight from the values
    // parsed, a row at a time, to their files.
    let split = match &in_train {
        None => {
            input_pass(cfg, threads, shape, &mut |ds| {
                builder.add(ds.labels(), ds.features())
            })?;
            None
        }
        Some(in_train) => {
            let train_path = cfg.train_output.join("train.csv");
            let validation_path = cfg.validation_output.join("validation.csv");
            let mut failed: Option<PreprocessError> = None;
            let result = write_file_with(&train_path, |train| {
                write_file_with(&validation_path, |validation| {
                    let mut row = 0usize;
                    let mut line = String::new();
                    let mut io: std::io::Result<()> = Ok(());
                    let pass = input_pass(cfg, threads, shape, &mut |ds| {
                        builder.add(ds.labels(), ds.features());
                        let nf = ds.n_features();
                        for (i, &label) in ds.labels().iter().enumerate() {
                            let to_train = in_train.get(row) == Some(&true);
                            row += 1;
                            if io.is_err() {
                                continue;
                            }
                            line.clear();
                            let features = &ds.features()[i * nf..(i + 1) * nf];
                            push_csv_row(&mut line, label, features);
                            let out: &mut dyn Write = if to_train {
                                &mut *train
                            } else {
                                &mut *validation
                            };
                            io = out.write_all(line.as_bytes());
                        }
                    });
                    if let Err(e) = pass {
                        failed = Some(e);
                        return Err(std::io::Error::other("the input could not be read"));
                    }
                    io
                })
                .map_err(|e| {
                    let message = e.to_string();
                    failed.get_or_insert(e);
                    std::io::Error::other(message)
                })
            });
            if let Some(e) = failed {
                return Err(e);
            }
            result?;
            written.push(train_path);
            written.push(validation_path);
            let train_rows = in_train.iter().filter(|&&t| t).count();
            Some((train_rows, rows - train_rows))
        }
    };
    builder.end_pass();
    let prof = builder.finish(problem);
    let path = cfg.profile_output.join("profile.json");
    write_file(
        &path,
        &serde_json::to_string_pretty(&prof).unwrap_or_default(),
    )?;
    written.push(path);
    Ok(ProcessingSummary {
        problem,
        rows,
        split,
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
    use crate::container::read_channel;
    use rand::{Rng, SeedableRng};

    // The all-in-memory profile of before (the oracle):
    fn column_profile_in_memory(
        name: String,
        index: usize,
        values: &[f32],
        n_bins: usize,
    ) -> ColumnProfile {
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

    /// The profile as it was computed before ProfileBuilder, every value of a column held and
    /// sorted: the oracle the builder is checked against.
    fn profile_in_memory(ds: &Dataset, problem: Problem, n_bins: usize) -> DataProfile {
        let nf = ds.n_features();
        let mut column = vec![0f32; ds.n_rows()];
        let features = (0..nf)
            .map(|j| {
                for (c, row) in column.iter_mut().zip(ds.features().chunks(nf.max(1))) {
                    *c = row.get(j).copied().unwrap_or(f32::NAN);
                }
                column_profile_in_memory(format!("f{j}"), j, &column, n_bins)
            })
            .collect();
        DataProfile {
            rows: ds.n_rows(),
            problem: problem.name().to_string(),
            label: column_profile_in_memory("label".into(), 0, ds.labels(), n_bins),
            features,
        }
    }

    /// A column value of the kind `kind`: few distinct values, signed zeros, missing values,
    /// subnormal, tiny and huge values, values crowded near one another, all equal, ...
    fn value(rng: &mut ChaCha8Rng, kind: u32) -> f32 {
        match kind {
            0 => [0.0, -0.0, 1.0, -1.0, 2.5, f32::NAN][rng.random_range(0..6)],
            1 => rng.random_range(-1000i32..1000) as f32 / 8.0,
            2 => 7.25,
            3 => f32::NAN,
            4 => {
                // about a thousand values within one top-16-bit bucket and around it
                f32::from_bits(1.0f32.to_bits() + rng.random_range(0..300_000))
            }
            5 => [
                1e-45,
                -1e-45,
                1e-38,
                -3e38,
                3e38,
                f32::MIN_POSITIVE,
                0.0,
                -0.0,
            ][rng.random_range(0..8)],
            6 => {
                if rng.random_range(0..10) == 0 {
                    f32::NAN
                } else {
                    f32::from_bits(
                        rng.random::<u32>() & 0x7f7f_ffff | (rng.random::<u32>() & 1 << 31),
                    )
                }
            }
            _ => rng.random::<f32>() * 2.0 - 1.0,
        }
    }

    fn random_dataset(rng: &mut ChaCha8Rng, rows: usize, nf: usize) -> Dataset {
        let kinds: Vec<u32> = (0..=nf).map(|_| rng.random_range(0..8)).collect();
        let mut labels = Vec::with_capacity(rows);
        let mut features = Vec::with_capacity(rows * nf);
        for _ in 0..rows {
            let mut y = value(rng, kinds[0]);
            if y.is_nan() {
                y = -0.0; // the parser refuses missing labels
            }
            labels.push(y);
            for k in &kinds[1..] {
                features.push(value(rng, *k));
            }
        }
        Dataset::from_rows_unchecked(nf, features, labels)
    }

    /// The profile built over passes of rows given in chunks of random sizes.
    fn profile_in_chunks(rng: &mut ChaCha8Rng, ds: &Dataset, n_bins: usize) -> DataProfile {
        let nf = ds.n_features();
        let mut b = ProfileBuilder::new(nf, n_bins);
        while b.wants_pass() {
            let mut at = 0;
            while at < ds.n_rows() {
                let end = (at + rng.random_range(1..=ds.n_rows())).min(ds.n_rows());
                b.add(&ds.labels()[at..end], &ds.features()[at * nf..end * nf]);
                at = end;
            }
            b.end_pass();
        }
        b.finish(Problem::Regression)
    }

    fn json(p: &DataProfile) -> String {
        serde_json::to_string_pretty(p).unwrap()
    }

    #[test]
    fn the_order_key_orders_as_total_cmp_and_gives_the_value_back() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut v: Vec<f32> = (0..5000)
            .map(|_| {
                let kind = rng.random_range(0..8);
                value(&mut rng, kind)
            })
            .collect();
        v.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
        ]);
        for &a in &v {
            assert_eq!(from_order_key(order_key(a)).to_bits(), a.to_bits());
            for &b in v.iter().step_by(97) {
                assert_eq!(order_key(a).cmp(&order_key(b)), a.total_cmp(&b), "{a} {b}");
            }
        }
    }

    /// The profile from passes in bounded memory is, to the byte of its JSON (so -0.0 and the
    /// last bit of every mean, std and edge included), the one of the old all-in-memory
    /// computation, on seeded data sets of 1 to 3,000 rows of columns of every kind above and
    /// any number of bins, fed whole or in chunks.
    #[test]
    fn the_streamed_profile_is_the_in_memory_profile_to_the_byte() {
        let mut rng = ChaCha8Rng::seed_from_u64(2026);
        let mut cases = 0;
        for case in 0..300 {
            let rows = match case % 5 {
                0 => rng.random_range(1..4),
                1 => rng.random_range(4..40),
                2 => rng.random_range(40..400),
                _ => rng.random_range(400..3000),
            };
            let nf = rng.random_range(1..5);
            let ds = random_dataset(&mut rng, rows, nf);
            let n_bins = [0, 1, 2, 3, 10, 10, 10, 37, 100][rng.random_range(0..9)];
            let oracle = json(&profile_in_memory(&ds, Problem::Regression, n_bins));
            assert_eq!(
                json(&profile(&ds, Problem::Regression, n_bins)),
                oracle,
                "case {case}"
            );
            assert_eq!(
                json(&profile_in_chunks(&mut rng, &ds, n_bins)),
                oracle,
                "case {case} in chunks"
            );
            cases += 1;
        }
        assert_eq!(cases, 300);
    }

    /// Columns of signed zeros only, all equal, all missing, or of one row: the same profile as
    /// before, signs of zero included (a mean of -0.0 stays -0.0).
    #[test]
    fn signed_zero_equal_and_missing_columns_profile_as_before() {
        let nz = -0.0f32;
        let ds = Dataset::from_rows_unchecked(
            4,
            vec![
                nz,
                0.0,
                5.0,
                f32::NAN,
                nz,
                nz,
                5.0,
                f32::NAN,
                nz,
                0.0,
                5.0,
                f32::NAN,
            ],
            vec![nz, nz, nz],
        );
        for n_bins in [0, 2, 10] {
            let p = profile(&ds, Problem::Regression, n_bins);
            assert!(p.label.mean.unwrap().is_sign_negative());
            assert!(p.features[0].mean.unwrap().is_sign_negative());
            assert_eq!(p.features[3].count, 0);
            assert_eq!(p.features[3].bins.missing_share, 1.0);
            assert_eq!(p.features[3].bins.shares, [0.0], "no value, no share");
            assert_eq!(
                json(&p),
                json(&profile_in_memory(&ds, Problem::Regression, n_bins))
            );
            let one = Dataset::from_rows_unchecked(1, vec![nz], vec![1.5]);
            assert_eq!(
                json(&profile(&one, Problem::Regression, n_bins)),
                json(&profile_in_memory(&one, Problem::Regression, n_bins))
            );
        }
    }

    /// A column crowded into one bucket of the first level (and of the second) still gets its
    /// exact deciles: 100,000 values within 4,096 neighbouring floats, many repeated.
    #[test]
    fn a_column_crowded_into_one_bucket_gets_exact_deciles() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let n = 100_000;
        let base = 3.0f32.to_bits();
        let f: Vec<f32> = (0..n)
            .map(|_| f32::from_bits(base + rng.random_range(0..4096)))
            .collect();
        let ds = Dataset::from_parts(1, f, vec![0.0; n]).unwrap();
        let p = profile(&ds, Problem::Regression, 10);
        assert_eq!(p.features[0].bins.edges.len(), 9);
        assert_eq!(
            json(&p),
            json(&profile_in_memory(&ds, Problem::Regression, 10))
        );
    }

    /// The job's three files are, byte for byte, what the all-in-memory job of before wrote
    /// (the channel read whole, the split of [`split_mask`] written with
    /// [`Dataset::write_csv_rows`], the oracle profile), for input in several files with
    /// signed zeros, missing values and duplicates, binary and regression; its row counts too.
    #[test]
    fn the_streamed_job_writes_the_bytes_of_the_in_memory_job() {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        for (case, binary_labels) in [(0, false), (1, true), (2, false)] {
            let dir = tempfile::tempdir().unwrap();
            let root_s = dir.path().display().to_string();
            let mut cfg = ProcessingConfig::from_env(&|k| (k == ROOT_ENV).then(|| root_s.clone()));
            cfg.seed = case;
            std::fs::create_dir_all(cfg.input.join("more")).unwrap();
            let mut parts = Vec::new();
            for (k, name) in ["a.csv", "b.csv", "more/c.csv"].into_iter().enumerate() {
                let mut ds = random_dataset(&mut rng, 500 + 700 * k, 3);
                if binary_labels {
                    let l: Vec<f32> = (0..ds.n_rows())
                        .map(|i| (i % 3 == 0) as u8 as f32)
                        .collect();
                    ds = Dataset::from_rows_unchecked(3, ds.features().to_vec(), l);
                }
                std::fs::write(cfg.input.join(name), ds.to_csv()).unwrap();
                parts.push(ds);
            }
            // before: everything in memory
            let data = read_channel("input", &cfg.input, 2).unwrap();
            let problem = if binary_labels {
                Problem::Binary
            } else {
                Problem::Regression
            };
            let mask = split_mask(data.labels(), 0.8, case, binary_labels).unwrap();
            let side = |t: bool| {
                let mut out = Vec::new();
                data.write_csv_rows(&mut out, &|i| mask[i] == t).unwrap();
                out
            };
            let s = run_processing_job(&cfg).unwrap();
            assert_eq!(s.problem, problem);
            let train_n = mask.iter().filter(|&&t| t).count();
            assert_eq!(
                (s.rows, s.split),
                (data.n_rows(), Some((train_n, data.n_rows() - train_n)))
            );
            assert_eq!(s.rows, parts.iter().map(Dataset::n_rows).sum::<usize>());
            assert_eq!(
                std::fs::read(&s.written[0]).unwrap(),
                side(true),
                "case {case}"
            );
            assert_eq!(
                std::fs::read(&s.written[1]).unwrap(),
                side(false),
                "case {case}"
            );
            assert_eq!(
                std::fs::read_to_string(&s.written[2]).unwrap(),
                serde_json::to_string_pretty(&profile_in_memory(&data, problem, 10)).unwrap(),
                "case {case}"
            );
        }
    }

    /// A later file with another number of features, or a bad line in it, fails the streamed
    /// job with read_channel's message; a channel without rows too.
    #[test]
    fn the_streamed_job_fails_with_the_errors_of_the_channel_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let root_s = dir.path().display().to_string();
        let cfg = ProcessingConfig::from_env(&|k| (k == ROOT_ENV).then(|| root_s.clone()));
        std::fs::create_dir_all(&cfg.input).unwrap();
        std::fs::write(cfg.input.join("a.csv"), "1,2,3\n0,4,5\n").unwrap();
        for b in ["1,2\n0,3\n", "1,2\n0,x\n", "1,2,3\n0,4\n", "\n"] {
            std::fs::write(cfg.input.join("b.csv"), b).unwrap();
            let whole = read_channel("input", &cfg.input, 1).map(|d| d.n_rows());
            let job = run_processing_job(&cfg);
            match (whole, job) {
                (Err(want), Err(got)) => assert_eq!(got.to_string(), want.to_string(), "{b:?}"),
                // Two rows pass the read but are too few to split.
                (Ok(2), Err(got)) => {
                    assert!(matches!(got, PreprocessError::TooFewRows { .. }), "{got}")
                }
                other => panic!("{b:?}: {other:?}"),
            }
        }
        std::fs::write(cfg.input.join("a.csv"), "").unwrap();
        std::fs::write(cfg.input.join("b.csv"), "\n\n").unwrap();
        let want = read_channel("input", &cfg.input, 1)
            .unwrap_err()
            .to_string();
        assert!(want.contains("no data rows"), "{want}");
        assert_eq!(run_processing_job(&cfg).unwrap_err().to_string(), want);
    }

    /// A data set without rows profiles as nothing seen and nothing missing (no 0/0).
    #[test]
    fn an_empty_data_set_has_no_missing_share() {
        let empty = Dataset::from_rows_unchecked(2, Vec::new(), Vec::new());
        let p = profile(&empty, Problem::Regression, 4);
        assert_eq!(p.rows, 0);
        for c in std::iter::once(&p.label).chain(&p.features) {
            assert_eq!((c.count, c.bins.missing_share), (0, 0.0), "{}", c.name);
        }
    }

    /// A binary job whose labels are not all 0 or 1 fails naming the first such row (1-based).
    #[test]
    fn a_binary_job_with_another_label_names_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let root_s = dir.path().display().to_string();
        let mut cfg = ProcessingConfig::from_env(&|k| (k == ROOT_ENV).then(|| root_s.clone()));
        cfg.problem = Some(Problem::Binary);
        std::fs::create_dir_all(&cfg.input).unwrap();
        std::fs::write(cfg.input.join("a.csv"), "1,2\n0,3\n2,4\n0.5,5\n").unwrap();
        let e = run_processing_job(&cfg).unwrap_err();
        assert!(
            matches!(e, PreprocessError::NotBinary { row: 3, label } if label == 2.0),
            "{e:?}"
        );
    }

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
        for ratio in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(
                matches!(
                    split(&d, ratio, 0, false),
                    Err(PreprocessError::BadRatio(_))
                ),
                "{ratio}"
            );
        }
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
