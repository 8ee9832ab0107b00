//! Histogram-based gradient boosting with XGBoost's tree algorithm.
//!
//! * Features are cut into at most `max_bin` (≤ 255) quantile bins; missing values get their own
//!   slot and a learned default direction.
//! * Trees grow depth-wise. Each level builds histograms of gradient/hessian sums only for the
//!   smaller child of every split node; the larger child's histogram is its parent's minus the
//!   smaller's. Histogram building is split by feature over `nthread` threads, so results do not
//!   depend on the thread count.
//! * Split gain, leaf weights, `lambda`, `alpha`, `gamma` (post-pruning), `min_child_weight`,
//!   `max_delta_step`, row subsampling and column sampling by tree / level / node follow XGBoost.

use crate::dataset::Dataset;
use crate::metrics::Metric;
use crate::model::{Model, Tree, sigmoid};
use crate::params::{Objective, TrainParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;

/// The bin code of a missing value.
pub const MISSING_BIN: u8 = 255;
const SLOTS: usize = 256;
const RT_EPS: f64 = 1e-6;

type FeatureHist = [[f64; 2]; SLOTS];

/// Errors of [`train`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("the training data has no rows")]
    EmptyTrain,
    #[error("the {channel} data has {found} features, but the training data has {expected}")]
    FeatureMismatch {
        channel: String,
        expected: usize,
        found: usize,
    },
    #[error(
        "label {label} in row {row} of the {channel} data is outside [0, 1], required by binary:logistic"
    )]
    LabelOutOfRange {
        channel: String,
        row: usize,
        label: f32,
    },
    #[error("early_stopping_rounds needs a validation channel")]
    EarlyStoppingWithoutValidation,
}

/// Per-feature bin boundaries. A value `x` of feature `f` is in bin
/// `#{c in cuts[f] : c <= x}`; a split at bin `b` sends `x < cuts[f][b]` left. A split at the
/// last bin (every present value left, the missing ones right) uses `upper[f]`, a bound above
/// the feature's largest value, as XGBoost's last cut: `max + (|max| + 1e-5)`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinCuts {
    cuts: Vec<Vec<f32>>,
    upper: Vec<f32>,
}

impl BinCuts {
    /// Quantile cuts from the data (exact quantiles of the non-missing values; midpoints
    /// between distinct values when there are at most `max_bin` of them).
    pub fn compute(ds: &Dataset, max_bin: usize, threads: usize) -> BinCuts {
        let nf = ds.n_features();
        let n_bins = max_bin.clamp(2, 255);
        let feats: Vec<usize> = (0..nf).collect();
        let per = split_evenly(&feats, threads);
        let mut cuts: Vec<Vec<f32>> = vec![Vec::new(); nf];
        let mut upper = vec![f32::INFINITY; nf];
        std::thread::scope(|scope| {
            let handles: Vec<_> = per
                .iter()
                .map(|fs| {
                    scope.spawn(move || {
                        fs.iter()
                            .map(|&f| (f, feature_cuts(ds, f, n_bins)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                if let Ok(list) = h.join() {
                    for (f, (c, u)) in list {
                        cuts[f] = c;
                        upper[f] = u;
                    }
                }
            }
        });
        BinCuts { cuts, upper }
    }

    /// Number of real (non-missing) bins of feature `f`.
    pub fn n_bins(&self, f: usize) -> usize {
        self.cuts.get(f).map_or(1, |c| c.len() + 1)
    }

    /// The boundary that a split after bin `bin` of feature `f` uses.
    pub fn cut(&self, f: usize, bin: u8) -> f32 {
        self.cuts
            .get(f)
            .and_then(|c| c.get(bin as usize))
            .or_else(|| self.upper.get(f))
            .copied()
            .unwrap_or(f32::INFINITY)
    }

    pub fn bin_of(&self, f: usize, x: f32) -> u8 {
        if x.is_nan() {
            return MISSING_BIN;
        }
        match self.cuts.get(f) {
            Some(c) => c.partition_point(|&b| b <= x) as u8,
            None => 0,
        }
    }

    /// Row-major bin codes of a data set with the same features.
    pub fn bin_matrix(&self, ds: &Dataset, threads: usize) -> Vec<u8> {
        let nf = ds.n_features();
        let mut out = vec![0u8; ds.features().len()];
        if nf == 0 {
            return out;
        }
        let rows_per = ds.n_rows().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            for (chunk_out, chunk_in) in out
                .chunks_mut(rows_per * nf)
                .zip(ds.features().chunks(rows_per * nf))
            {
                scope.spawn(move || {
                    for (o_row, i_row) in chunk_out.chunks_mut(nf).zip(chunk_in.chunks(nf)) {
                        for (f, (o, &x)) in o_row.iter_mut().zip(i_row).enumerate() {
                            *o = self.bin_of(f, x);
                        }
                    }
                });
            }
        });
        out
    }
}

#[inline(never)]
/// The cuts of feature `f` and the bound above its largest value (infinite when it has none).
fn feature_cuts(ds: &Dataset, f: usize, n_bins: usize) -> (Vec<f32>, f32) {
    let nf = ds.n_features();
    let mut values: Vec<f32> = ds
        .features()
        .iter()
        .skip(f)
        .step_by(nf.max(1))
        .copied()
        .filter(|x| !x.is_nan())
        .collect();
    values.sort_unstable_by(f32::total_cmp);
    let Some(&max) = values.last() else {
        return (Vec::new(), f32::INFINITY);
    };
    // as XGBoost computes it: in double, with the float 1e-5 (so -3 gives 1e-5, not 1.0014e-5)
    let upper = (f64::from(max) + (f64::from(max).abs() + f64::from(1e-5f32))) as f32;
    let mut distinct = values.clone();
    distinct.dedup();
    if distinct.len() <= n_bins {
        let cuts = distinct
            .windows(2)
            .map(|w| {
                let mid = ((f64::from(w[0]) + f64::from(w[1])) / 2.0) as f32;
                if mid > w[0] { mid } else { w[1] }
            })
            .collect();
        return (cuts, upper);
    }
    let n = values.len();
    let mut cuts: Vec<f32> = Vec::with_capacity(n_bins);
    for j in 1..n_bins {
        // j < n_bins, so j * n / n_bins < n: always an index of `values`
        let v = values[j * n / n_bins];
        if v > values[0] && cuts.last().is_none_or(|&last| v > last) {
            cuts.push(v);
        }
    }
    (cuts, upper)
}

fn split_evenly<T: Copy>(items: &[T], parts: usize) -> Vec<Vec<T>> {
    let parts = parts.clamp(1, items.len().max(1));
    let per = items.len().div_ceil(parts).max(1);
    items.chunks(per).map(|c| c.to_vec()).collect()
}

/// Metrics of one round.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundRecord {
    pub round: usize,
    pub train: Vec<(Metric, f64)>,
    pub validation: Vec<(Metric, f64)>,
}

impl RoundRecord {
    /// XGBoost's log line as SageMaker's CloudWatch shows it (`#011` is a tab):
    /// `[3]#011train-rmse:0.12345#011validation-rmse:0.23456`.
    pub fn log_line(&self) -> String {
        let mut s = format!("[{}]", self.round);
        for (name, list) in [("train", &self.train), ("validation", &self.validation)] {
            for (m, v) in list {
                s.push_str(&format!("#011{name}-{m}:{v:.5}"));
            }
        }
        s
    }
}

/// The result of [`train`].
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub model: Model,
    pub history: Vec<RoundRecord>,
    /// Rounds actually run (before truncation to the best round).
    pub rounds_run: usize,
    pub stopped_early: bool,
}

/// Trains a model. `on_round` sees each round's metrics as soon as they are known.
pub fn train(
    params: &TrainParams,
    train: &Dataset,
    validation: Option<&Dataset>,
    on_round: &mut dyn FnMut(&RoundRecord),
) -> Result<TrainOutcome, TrainError> {
    train_impl(params, Cow::Borrowed(train), validation, on_round)
}

/// [`train`] taking the training set by value: its raw feature values are dropped as soon as
/// they are binned, so training holds the bin codes (one byte per value) instead of the `f32`
/// values (four). The model is the same as [`train`]'s.
pub fn train_owned(
    params: &TrainParams,
    train: Dataset,
    validation: Option<&Dataset>,
    on_round: &mut dyn FnMut(&RoundRecord),
) -> Result<TrainOutcome, TrainError> {
    train_impl(params, Cow::Owned(train), validation, on_round)
}

fn train_impl(
    params: &TrainParams,
    train: Cow<'_, Dataset>,
    validation: Option<&Dataset>,
    on_round: &mut dyn FnMut(&RoundRecord),
) -> Result<TrainOutcome, TrainError> {
    check_inputs(params, &train, validation)?;
    let n = train.n_rows();
    let nf = train.n_features();
    let threads = params.nthread.max(1);
    let cuts = BinCuts::compute(&train, params.max_bin, threads);
    let bins = cuts.bin_matrix(&train, threads);
    // From here on only the bins and the labels are read.
    let labels: Cow<'_, [f32]> = match train {
        Cow::Owned(ds) => Cow::Owned(ds.into_labels()),
        Cow::Borrowed(ds) => Cow::Borrowed(ds.labels()),
    };
    let labels: &[f32] = &labels;
    let base_score = params
        .base_score
        .unwrap_or_else(|| mean_base_score(params.objective, labels));
    let mut model = Model {
        objective: params.objective,
        base_score,
        num_feature: nf,
        trees: Vec::new(),
        best_iteration: None,
        best_score: None,
    };
    let base_margin = model.base_margin();
    let mut margins = vec![base_margin; n];
    let mut valid_margins = validation.map(|v| vec![base_margin; v.n_rows()]);
    let metrics = params.metrics();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut gh: Vec<[f32; 2]> = vec![[0.0, 0.0]; n];
    let mut grower = Grower::new(params, &cuts, &bins, nf, n);
    let mut history = Vec::with_capacity(params.num_round);
    let mut early_stopping = EarlyStopping::default();
    let mut stopped_early = false;
    let mut rounds_run = 0;
    let mut preds_f32 = vec![0.0f32; n];

    for round in 0..params.num_round {
        compute_gradients(params, labels, &margins, &mut gh);
        let tree = grower.grow(&gh, &mut rng);
        add_tree_to_margins(&grower, &bins, nf, &mut margins);
        // Training-set metrics on a second thread while this one updates and scores the
        // validation set.
        let objective = params.objective;
        let score_train = |preds: &mut Vec<f32>| -> Vec<(Metric, f64)> {
            for (p, &m) in preds.iter_mut().zip(&margins) {
                *p = output(objective, m) as f32;
            }
            metrics
                .iter()
                .map(|&m| (m, m.compute(labels, preds)))
                .collect()
        };
        let score_validation = |vm: &mut Vec<f64>, v: &Dataset| -> Vec<(Metric, f64)> {
            for (row, m) in v.features().chunks(nf).zip(vm.iter_mut()) {
                *m += f64::from(tree.predict_row(row));
            }
            let vp: Vec<f32> = vm.iter().map(|&m| output(objective, m) as f32).collect();
            metrics
                .iter()
                .map(|&m| (m, m.compute(v.labels(), &vp)))
                .collect()
        };
        let (train_scores, valid_scores) = match (validation, valid_margins.as_mut()) {
            (Some(v), Some(vm)) if threads > 1 => std::thread::scope(|scope| {
                let handle = scope.spawn(|| score_train(&mut preds_f32));
                let valid = score_validation(vm, v);
                match handle.join() {
                    Ok(t) => (t, valid),
                    Err(e) => std::panic::resume_unwind(e),
                }
            }),
            (Some(v), Some(vm)) => (score_train(&mut preds_f32), score_validation(vm, v)),
            _ => (score_train(&mut preds_f32), Vec::new()),
        };
        model.trees.push(tree);
        rounds_run = round + 1;
        let record = RoundRecord {
            round,
            train: train_scores,
            validation: valid_scores,
        };
        on_round(&record);
        let stop = match (params.early_stopping_rounds, record.validation.last()) {
            (Some(patience), Some(&(metric, score))) => {
                early_stopping.observe(round, metric, score, patience)
            }
            _ => false,
        };
        history.push(record);
        if stop {
            stopped_early = true;
            break;
        }
    }
    if let Some((best_round, score)) = early_stopping.best {
        model.trees.truncate(best_round + 1);
        model.best_iteration = Some(best_round);
        model.best_score = Some(score);
    }
    Ok(TrainOutcome {
        model,
        history,
        rounds_run,
        stopped_early,
    })
}

/// The training data's problems, before anything is computed: no rows or features, a validation
/// set of other features, early stopping without validation rows, a logistic label outside
/// [0, 1] (its channel and 1-based row).
fn check_inputs(
    params: &TrainParams,
    train: &Dataset,
    validation: Option<&Dataset>,
) -> Result<(), TrainError> {
    let nf = train.n_features();
    if train.n_rows() == 0 || nf == 0 {
        return Err(TrainError::EmptyTrain);
    }
    if let Some(v) = validation
        && v.n_features() != nf
    {
        return Err(TrainError::FeatureMismatch {
            channel: "validation".into(),
            expected: nf,
            found: v.n_features(),
        });
    }
    if params.early_stopping_rounds.is_some() && validation.is_none_or(|v| v.n_rows() == 0) {
        return Err(TrainError::EarlyStoppingWithoutValidation);
    }
    if params.objective == Objective::Logistic {
        let sets = std::iter::once(("train", train)).chain(validation.map(|v| ("validation", v)));
        for (channel, ds) in sets {
            if let Some((row, &label)) = ds
                .labels()
                .iter()
                .enumerate()
                .find(|(_, y)| !(0.0..=1.0).contains(*y))
            {
                return Err(TrainError::LabelOutOfRange {
                    channel: channel.into(),
                    row: row + 1,
                    label,
                });
            }
        }
    }
    Ok(())
}

/// The base score without `base_score`: the labels' mean (for logistic, kept inside (0, 1)).
fn mean_base_score(objective: Objective, labels: &[f32]) -> f64 {
    let mean = labels.iter().map(|&y| f64::from(y)).sum::<f64>() / labels.len() as f64;
    match objective {
        Objective::SquaredError => mean,
        Objective::Logistic => mean.clamp(1e-6, 1.0 - 1e-6),
    }
}

/// Adds the tree just grown to the training margins: from the leaves' row ranges when every
/// row is in the tree's row set, else (rows left out by subsampling) through the bins.
fn add_tree_to_margins(grower: &Grower<'_>, bins: &[u8], nf: usize, margins: &mut [f64]) {
    if grower.all_rows_in_tree {
        for (rows, value) in grower.leaves() {
            let value = f64::from(value);
            for &r in rows {
                if let Some(m) = margins.get_mut(r as usize) {
                    *m += value;
                }
            }
        }
    } else {
        for (r, m) in margins.iter_mut().enumerate() {
            *m += f64::from(grower.predict_binned(&bins[r * nf..(r + 1) * nf]));
        }
    }
}

/// Early stopping on the last validation metric, as XGBoost's callback does it: the best round
/// is the last strictly better score (a tie is no improvement; NaN never is), and training stops
/// once `patience` rounds have passed since it.
#[derive(Debug, Default)]
struct EarlyStopping {
    /// The best round and its score.
    best: Option<(usize, f64)>,
}

impl EarlyStopping {
    /// Records round `round`'s score; true when training stops after it.
    fn observe(&mut self, round: usize, metric: Metric, score: f64, patience: usize) -> bool {
        let better = |b: f64| {
            if metric.higher_is_better() {
                score > b
            } else {
                score < b
            }
        };
        if !score.is_nan() && self.best.is_none_or(|(_, b)| better(b)) {
            self.best = Some((round, score));
        }
        self.best
            .is_some_and(|(best_round, _)| round >= best_round + patience)
    }
}

/// A sample of `ratio` of the features `from` (at least one), in order; all of them, drawing
/// nothing from `rng`, when the ratio is 1 or there is one feature (as XGBoost's column sampler).
fn sample_features(from: &[usize], ratio: f64, rng: &mut ChaCha8Rng) -> Vec<usize> {
    if ratio >= 1.0 || from.len() <= 1 {
        return from.to_vec();
    }
    let k = ((ratio * from.len() as f64).round() as usize).clamp(1, from.len());
    let mut pool = from.to_vec();
    // Partial Fisher-Yates shuffle: the first k entries are the sample.
    for i in 0..k {
        let j = rng.random_range(i..pool.len());
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool.sort_unstable();
    pool
}

#[inline]
fn output(objective: Objective, margin: f64) -> f64 {
    match objective {
        Objective::SquaredError => margin,
        Objective::Logistic => sigmoid(margin),
    }
}

#[inline(never)]
fn compute_gradients(params: &TrainParams, labels: &[f32], margins: &[f64], gh: &mut [[f32; 2]]) {
    match params.objective {
        Objective::SquaredError => {
            for ((out, &y), &m) in gh.iter_mut().zip(labels).zip(margins) {
                *out = [(m - f64::from(y)) as f32, 1.0];
            }
        }
        Objective::Logistic => {
            let spw = params.scale_pos_weight;
            for ((out, &y), &m) in gh.iter_mut().zip(labels).zip(margins) {
                let p = sigmoid(m);
                let y = f64::from(y);
                // XGBoost weighs a row by scale_pos_weight when its label is exactly 1
                let w = if y == 1.0 { spw } else { 1.0 };
                let h = (p * (1.0 - p)).max(1e-16);
                *out = [((p - y) * w) as f32, (h * w) as f32];
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    bin: u8,
    default_left: bool,
    loss_chg: f64,
    gl: f64,
    hl: f64,
}

#[derive(Debug, Clone)]
struct BuildNode {
    start: usize,
    end: usize,
    g: f64,
    h: f64,
    parent: Option<usize>,
    children: Option<(usize, usize)>,
    split: Option<Split>,
}

struct Grower<'a> {
    params: &'a TrainParams,
    cuts: &'a BinCuts,
    bins: &'a [u8],
    nf: usize,
    n: usize,
    rows: Vec<u32>,
    scratch: Vec<u32>,
    /// Column-major copy of the bins: partitioning reads one feature of many rows.
    columns: Vec<u8>,
    nodes: Vec<BuildNode>,
    /// Leaf value (eta × weight) per node of the current tree, for leaves.
    leaf_values: Vec<f32>,
    pool: Vec<Vec<FeatureHist>>,
    all_rows_in_tree: bool,
}

impl<'a> Grower<'a> {
    fn new(
        params: &'a TrainParams,
        cuts: &'a BinCuts,
        bins: &'a [u8],
        nf: usize,
        n: usize,
    ) -> Self {
        Grower {
            params,
            cuts,
            bins,
            nf,
            n,
            rows: Vec::with_capacity(n),
            scratch: vec![0; n],
            columns: {
                let mut c = vec![MISSING_BIN; n * nf];
                for (r, row) in bins.chunks(nf.max(1)).enumerate() {
                    for (f, &b) in row.iter().enumerate() {
                        if let Some(slot) = c.get_mut(f * n + r) {
                            *slot = b;
                        }
                    }
                }
                c
            },
            nodes: Vec::new(),
            leaf_values: Vec::new(),
            pool: Vec::new(),
            all_rows_in_tree: true,
        }
    }

    fn take_hist(&mut self) -> Vec<FeatureHist> {
        match self.pool.pop() {
            Some(mut h) => {
                for f in h.iter_mut() {
                    f.fill([0.0, 0.0]);
                }
                h
            }
            None => vec![[[0.0, 0.0]; SLOTS]; self.nf],
        }
    }

    /// (rows, leaf value) of every leaf of the last grown tree.
    fn leaves(&self) -> impl Iterator<Item = (&[u32], f32)> + '_ {
        self.nodes.iter().enumerate().filter_map(|(i, node)| {
            if node.children.is_none() {
                Some((
                    self.rows.get(node.start..node.end).unwrap_or(&[]),
                    self.leaf_values.get(i).copied().unwrap_or(0.0),
                ))
            } else {
                None
            }
        })
    }

    fn predict_binned(&self, row_bins: &[u8]) -> f32 {
        let mut i = 0usize;
        while let Some(node) = self.nodes.get(i) {
            match (node.children, node.split) {
                (Some((l, r)), Some(s)) => {
                    let b = row_bins.get(s.feature).copied().unwrap_or(MISSING_BIN);
                    let left = if b == MISSING_BIN {
                        s.default_left
                    } else {
                        b <= s.bin
                    };
                    i = if left { l } else { r };
                }
                _ => return self.leaf_values.get(i).copied().unwrap_or(0.0),
            }
        }
        0.0
    }

    /// The tree's rows: every row, or (with `subsample` below 1) each row with that
    /// probability, at least one.
    fn select_rows(&mut self, rng: &mut ChaCha8Rng) {
        let subsample = self.params.subsample;
        self.rows.clear();
        if subsample < 1.0 {
            for r in 0..self.n {
                if rng.random::<f64>() < subsample {
                    self.rows.push(r as u32);
                }
            }
            if self.rows.is_empty() {
                self.rows.push(rng.random_range(0..self.n) as u32);
            }
            self.all_rows_in_tree = false;
        } else {
            self.rows.extend(0..self.n as u32);
            self.all_rows_in_tree = true;
        }
    }

    /// The root node over the selected rows (their gradient sums), and its histograms.
    fn root(&mut self, gh: &[[f32; 2]]) -> Vec<FeatureHist> {
        let (mut g, mut h) = (0.0f64, 0.0f64);
        for &r in &self.rows {
            if let Some(x) = gh.get(r as usize) {
                g += f64::from(x[0]);
                h += f64::from(x[1]);
            }
        }
        self.nodes.clear();
        self.nodes.push(BuildNode {
            start: 0,
            end: self.rows.len(),
            g,
            h,
            parent: None,
            children: None,
            split: None,
        });
        let mut root_hist = self.take_hist();
        build_histograms(
            &mut [(&self.rows[..], &mut root_hist[..])],
            self.bins,
            self.nf,
            gh,
            self.params.nthread,
        );
        root_hist
    }

    #[inline(never)]
    fn grow(&mut self, gh: &[[f32; 2]], rng: &mut ChaCha8Rng) -> Tree {
        let p = self.params;
        self.select_rows(rng);
        let all_features: Vec<usize> = (0..self.nf).collect();
        let tree_features = sample_features(&all_features, p.colsample_bytree, rng);
        let root_hist = self.root(gh);
        let mut level: Vec<(usize, Vec<FeatureHist>)> = vec![(0, root_hist)];
        // max_depth 0: no limit (XGBoost). Every split leaves rows on both sides, so depth
        // stays below the number of rows.
        let depth_limit = if p.max_depth == 0 {
            usize::MAX
        } else {
            p.max_depth
        };
        for depth in 0..depth_limit {
            let level_features = sample_features(&tree_features, p.colsample_bylevel, rng);
            let mut to_split = Vec::new();
            for (nid, hist) in level {
                let node_features = sample_features(&level_features, p.colsample_bynode, rng);
                let node = &self.nodes[nid];
                match best_split(p, self.cuts, &hist, &node_features, node.g, node.h) {
                    Some(s) if s.loss_chg > RT_EPS => {
                        self.nodes[nid].split = Some(s);
                        to_split.push((nid, hist));
                    }
                    _ => self.pool.push(hist),
                }
            }
            if to_split.is_empty() {
                break;
            }
            let need_hists = depth + 1 < depth_limit;
            let mut pending: Vec<(usize, usize, Vec<FeatureHist>, Vec<FeatureHist>)> = Vec::new();
            let jobs: Vec<(usize, usize, Split)> = to_split
                .iter()
                .filter_map(|(nid, _)| {
                    let node = &self.nodes[*nid];
                    node.split.map(|s| (node.start, node.end, s))
                })
                .collect();
            let mids = partition_level(
                &mut self.rows,
                &mut self.scratch,
                &jobs,
                &self.columns,
                self.n,
                p.nthread,
            );
            for ((nid, parent_hist), mid) in to_split.into_iter().zip(mids) {
                let (start, end, g, h, s) = {
                    let node = &self.nodes[nid];
                    (node.start, node.end, node.g, node.h, node.split)
                };
                let Some(s) = s else { continue };
                let left = self.nodes.len();
                let right = left + 1;
                for (a, b, cg, ch) in [(start, mid, s.gl, s.hl), (mid, end, g - s.gl, h - s.hl)] {
                    self.nodes.push(BuildNode {
                        start: a,
                        end: b,
                        g: cg,
                        h: ch,
                        parent: Some(nid),
                        children: None,
                        split: None,
                    });
                }
                self.nodes[nid].children = Some((left, right));
                if need_hists {
                    let (small, large) = if mid - start <= end - mid {
                        (left, right)
                    } else {
                        (right, left)
                    };
                    let small_hist = self.take_hist();
                    pending.push((small, large, small_hist, parent_hist));
                } else {
                    self.pool.push(parent_hist);
                }
            }
            if !need_hists {
                break;
            }
            {
                let mut tasks: Vec<(&[u32], &mut [FeatureHist])> = pending
                    .iter_mut()
                    .map(|(small, _, hist, _)| {
                        let node = &self.nodes[*small];
                        (&self.rows[node.start..node.end], &mut hist[..])
                    })
                    .collect();
                build_histograms(&mut tasks, self.bins, self.nf, gh, p.nthread);
            }
            let mut next = Vec::with_capacity(pending.len() * 2);
            for (small, large, small_hist, mut parent_hist) in pending {
                for (ph, sh) in parent_hist.iter_mut().zip(&small_hist) {
                    for (a, b) in ph.iter_mut().zip(sh) {
                        a[0] -= b[0];
                        a[1] -= b[1];
                    }
                }
                let (first, second) = if small < large {
                    (small_hist, parent_hist)
                } else {
                    (parent_hist, small_hist)
                };
                next.push((small.min(large), first));
                next.push((small.max(large), second));
            }
            level = next;
        }
        self.finish_tree()
    }

    /// Prunes by gamma, computes leaf values and renumbers the kept nodes breadth-first.
    #[inline(never)]
    fn finish_tree(&mut self) -> Tree {
        let p = self.params;
        // Children have larger ids than parents: walking ids downwards prunes bottom-up.
        for i in (0..self.nodes.len()).rev() {
            let Some((l, r)) = self.nodes[i].children else {
                continue;
            };
            let both_leaves = self.nodes[l].children.is_none() && self.nodes[r].children.is_none();
            let loss = self.nodes[i].split.map_or(0.0, |s| s.loss_chg);
            if both_leaves && loss < p.gamma {
                self.nodes[i].children = None;
            }
        }
        self.leaf_values.clear();
        self.leaf_values.extend(
            self.nodes
                .iter()
                .map(|node| (calc_weight(p, node.g, node.h) * p.eta) as f32),
        );
        let mut order = vec![0usize];
        let mut new_id = vec![usize::MAX; self.nodes.len()];
        new_id[0] = 0;
        let mut k = 0;
        while k < order.len() {
            let i = order[k];
            if let Some((l, r)) = self.nodes[i].children {
                new_id[l] = order.len();
                order.push(l);
                new_id[r] = order.len();
                order.push(r);
            }
            k += 1;
        }
        let m = order.len();
        let mut t = Tree {
            left_children: vec![-1; m],
            right_children: vec![-1; m],
            parents: vec![i32::MAX; m],
            split_indices: vec![0; m],
            split_conditions: vec![0.0; m],
            default_left: vec![false; m],
            base_weights: vec![0.0; m],
            loss_changes: vec![0.0; m],
            sum_hessian: vec![0.0; m],
        };
        for (j, &i) in order.iter().enumerate() {
            let node = &self.nodes[i];
            t.base_weights[j] = calc_weight(p, node.g, node.h) as f32;
            t.sum_hessian[j] = node.h as f32;
            if let Some(parent) = node.parent {
                t.parents[j] = new_id[parent] as i32;
            }
            match (node.children, node.split) {
                (Some((l, r)), Some(s)) => {
                    t.left_children[j] = new_id[l] as i32;
                    t.right_children[j] = new_id[r] as i32;
                    t.split_indices[j] = s.feature as u32;
                    t.split_conditions[j] = self.cuts.cut(s.feature, s.bin);
                    t.default_left[j] = s.default_left;
                    t.loss_changes[j] = s.loss_chg as f32;
                }
                _ => {
                    t.split_conditions[j] = self.leaf_values[i];
                }
            }
        }
        t
    }
}

fn threshold_l1(g: f64, alpha: f64) -> f64 {
    if g > alpha {
        g - alpha
    } else if g < -alpha {
        g + alpha
    } else {
        0.0
    }
}

fn calc_weight(p: &TrainParams, g: f64, h: f64) -> f64 {
    if h < p.min_child_weight || h <= 0.0 {
        return 0.0;
    }
    let w = -threshold_l1(g, p.alpha) / (h + p.lambda);
    if p.max_delta_step > 0.0 {
        w.clamp(-p.max_delta_step, p.max_delta_step)
    } else {
        w
    }
}

fn calc_gain(p: &TrainParams, g: f64, h: f64) -> f64 {
    if h < p.min_child_weight || h <= 0.0 {
        return 0.0;
    }
    if p.max_delta_step == 0.0 {
        let t = threshold_l1(g, p.alpha);
        t * t / (h + p.lambda)
    } else {
        // XGBoost's CalcGain (tree/param.h) adds alpha |w| to the gain given the weight
        let w = calc_weight(p, g, h);
        -(2.0 * g * w + (h + p.lambda) * w * w) + p.alpha * w.abs()
    }
}

/// The best split of a node with sums (g, h) over `features`, as XGBoost's hist evaluator
/// enumerates them: per feature, a forward scan with the missing values sent right, then, only
/// when the node has missing values, a backward scan with them sent left; a candidate replaces
/// the best only when strictly better (so at equal gain the earlier feature, the forward scan
/// and, within a scan, the first candidate win). With missing values the forward scan goes on
/// to the last bin, as XGBoost's does: every present value left, the missing ones right (its
/// mirror image in the backward scan has the same gain and so never wins).
#[inline(never)]
fn best_split(
    p: &TrainParams,
    cuts: &BinCuts,
    hist: &[FeatureHist],
    features: &[usize],
    g: f64,
    h: f64,
) -> Option<Split> {
    let parent = (g, h, calc_gain(p, g, h));
    let mut best: Option<Split> = None;
    for &f in features {
        let Some(fh) = hist.get(f) else { continue };
        let nb = cuts.n_bins(f);
        let has_missing = fh[MISSING_BIN as usize][1] > 0.0;
        let forward = nb - 1 + usize::from(has_missing);
        if forward == 0 {
            continue;
        }
        let mut consider = |bin: usize, gl: f64, hl: f64, default_left: bool| {
            let Some(loss) = split_loss(p, parent, gl, hl) else {
                return;
            };
            if best.is_none_or(|s| loss > s.loss_chg) {
                best = Some(Split {
                    feature: f,
                    bin: bin as u8,
                    default_left,
                    loss_chg: loss,
                    gl,
                    hl,
                });
            }
        };
        let (mut gl, mut hl) = (0.0f64, 0.0f64);
        for (b, [bg, bh]) in fh.iter().enumerate().take(forward) {
            gl += bg;
            hl += bh;
            consider(b, gl, hl, false);
        }
        if has_missing {
            let (mut gr, mut hr) = (0.0f64, 0.0f64);
            for b in (0..nb - 1).rev() {
                let [bg, bh] = fh[b + 1];
                gr += bg;
                hr += bh;
                consider(b, g - gr, h - hr, true);
            }
        }
    }
    best
}

/// The loss change of splitting a node (g, h, its gain) into a left side (gl, hl) and the
/// rest; `None` when either side's hessian is under min_child_weight or not positive.
fn split_loss(p: &TrainParams, (g, h, gain): (f64, f64, f64), gl: f64, hl: f64) -> Option<f64> {
    let (gr, hr) = (g - gl, h - hl);
    let mcw = p.min_child_weight;
    if hl < mcw || hr < mcw || hl <= 0.0 || hr <= 0.0 {
        return None;
    }
    Some(calc_gain(p, gl, hl) + calc_gain(p, gr, hr) - gain)
}

/// Stable in-place partition of `rows` by the split (branch-free); returns the number of
/// left rows. `scratch` is at least as long as `rows`.
#[inline(never)]
fn partition(rows: &mut [u32], scratch: &mut [u32], column: &[u8], s: Split) -> usize {
    let n = rows.len().min(scratch.len());
    let (mut l, mut k) = (0usize, 0usize);
    for i in 0..n {
        let r = rows[i];
        let b = column.get(r as usize).copied().unwrap_or(MISSING_BIN);
        let left = (b <= s.bin) | ((b == MISSING_BIN) & s.default_left);
        rows[l] = r;
        scratch[k] = r;
        l += usize::from(left);
        k += usize::from(!left);
    }
    rows[l..l + k].copy_from_slice(&scratch[..k]);
    l
}

/// (start, rows, scratch, split) of one node to partition.
type PartitionJob<'a> = (usize, &'a mut [u32], &'a mut [u32], Split);

/// Partitions every node of a level; `jobs` are (start, end, split) with disjoint ranges in
/// ascending order. Nodes are spread over threads by row count. Returns each node's split
/// point (absolute index into `rows`).
fn partition_level(
    rows: &mut [u32],
    scratch: &mut [u32],
    jobs: &[(usize, usize, Split)],
    columns: &[u8],
    n_rows: usize,
    threads: usize,
) -> Vec<usize> {
    let mut slices: Vec<PartitionJob<'_>> = Vec::with_capacity(jobs.len());
    let mut rest_r: &mut [u32] = rows;
    let mut rest_s: &mut [u32] = scratch;
    let mut offset = 0usize;
    for &(start, end, s) in jobs {
        if start < offset || end < start || end - offset > rest_r.len().min(rest_s.len()) {
            continue; // not reachable for ranges produced by the grower
        }
        let (_, tail_r) = std::mem::take(&mut rest_r).split_at_mut(start - offset);
        let (mine_r, tail_r) = tail_r.split_at_mut(end - start);
        let (_, tail_s) = std::mem::take(&mut rest_s).split_at_mut(start - offset);
        let (mine_s, tail_s) = tail_s.split_at_mut(end - start);
        rest_r = tail_r;
        rest_s = tail_s;
        offset = end;
        slices.push((start, mine_r, mine_s, s));
    }
    let total: usize = slices.iter().map(|x| x.1.len()).sum();
    let run = |group: &mut [PartitionJob<'_>]| -> Vec<usize> {
        group
            .iter_mut()
            .map(|(start, r, sc, s)| {
                let column = columns
                    .get(s.feature * n_rows..(s.feature + 1) * n_rows)
                    .unwrap_or(&[]);
                *start + partition(r, sc, column, *s)
            })
            .collect()
    };
    if threads <= 1 || total < 16_384 || slices.len() < 2 {
        return run(&mut slices);
    }
    // Cut the node list into `threads` groups of about equal row counts.
    let target = total.div_ceil(threads);
    let mut groups: Vec<&mut [PartitionJob<'_>]> = Vec::new();
    let mut rest: &mut [PartitionJob<'_>] = &mut slices;
    while !rest.is_empty() {
        let mut acc = 0;
        let mut take = 0;
        while take < rest.len() && (acc < target || take == 0) {
            acc += rest[take].1.len();
            take += 1;
        }
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(take);
        groups.push(head);
        rest = tail;
    }
    std::thread::scope(|scope| {
        let mut iter = groups.into_iter();
        let first = iter.next();
        let handles: Vec<_> = iter.map(|g| scope.spawn(move || run(g))).collect();
        let mut mids = first.map(run).unwrap_or_default();
        for h in handles {
            match h.join() {
                Ok(m) => mids.extend(m),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        mids
    })
}

/// Builds one histogram per task (rows → per-feature gradient sums). Threads split the
/// features, so every sum is computed in the same order whatever the thread count.
fn build_histograms(
    tasks: &mut [(&[u32], &mut [FeatureHist])],
    bins: &[u8],
    nf: usize,
    gh: &[[f32; 2]],
    threads: usize,
) {
    let total_rows: usize = tasks.iter().map(|t| t.0.len()).sum();
    let threads = if total_rows < 8192 {
        1
    } else {
        threads.clamp(1, nf.max(1))
    };
    if threads == 1 {
        for (rows, hist) in tasks.iter_mut() {
            accumulate(rows, hist, 0, bins, nf, gh);
        }
        return;
    }
    // Feature ranges per thread.
    let per = nf.div_ceil(threads);
    // Split every task's histogram into per-thread feature slices.
    let mut per_thread: Vec<Vec<(&[u32], &mut [FeatureHist])>> = (0..threads)
        .map(|_| Vec::with_capacity(tasks.len()))
        .collect();
    for (rows, hist) in tasks.iter_mut() {
        let mut rest: &mut [FeatureHist] = hist;
        for slot in per_thread.iter_mut() {
            let take = per.min(rest.len());
            let (head, tail) = rest.split_at_mut(take);
            slot.push((*rows, head));
            rest = tail;
        }
    }
    std::thread::scope(|scope| {
        let mut iter = per_thread.into_iter().enumerate();
        let first = iter.next();
        for (t, mut work) in iter {
            scope.spawn(move || {
                for (rows, hist) in work.iter_mut() {
                    accumulate(rows, hist, t * per, bins, nf, gh);
                }
            });
        }
        if let Some((t, mut work)) = first {
            for (rows, hist) in work.iter_mut() {
                accumulate(rows, hist, t * per, bins, nf, gh);
            }
        }
    });
}

#[inline(never)]
fn accumulate(
    rows: &[u32],
    hist: &mut [FeatureHist],
    first_feature: usize,
    bins: &[u8],
    nf: usize,
    gh: &[[f32; 2]],
) {
    let width = hist.len();
    if width == 0 {
        return;
    }
    for &r in rows {
        let r = r as usize;
        let Some(&[g, h]) = gh.get(r) else { continue };
        let start = r * nf + first_feature;
        let Some(row_bins) = bins.get(start..start + width) else {
            continue;
        };
        let (g, h) = (f64::from(g), f64::from(h));
        for (fh, &b) in hist.iter_mut().zip(row_bins) {
            let slot = &mut fh[b as usize];
            slot[0] += g;
            slot[1] += h;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(rows: &[(&[f32], f32)]) -> Dataset {
        let nf = rows[0].0.len();
        let mut f = Vec::new();
        let mut l = Vec::new();
        for (x, y) in rows {
            f.extend_from_slice(x);
            l.push(*y);
        }
        Dataset::from_parts(nf, f, l).unwrap()
    }

    #[test]
    fn given_distinct_values_when_cutting_then_midpoints_and_bins_agree_with_less_than() {
        let d = ds(&[
            (&[1.0], 0.0),
            (&[2.0], 0.0),
            (&[4.0], 0.0),
            (&[f32::NAN], 0.0),
        ]);
        let c = BinCuts::compute(&d, 256, 1);
        assert_eq!(c.cuts[0], vec![1.5, 3.0]);
        assert_eq!(c.bin_of(0, 1.0), 0);
        assert_eq!(c.bin_of(0, 1.5), 1);
        assert_eq!(c.bin_of(0, 100.0), 2);
        assert_eq!(c.bin_of(0, f32::NAN), MISSING_BIN);
        for x in [0.0f32, 1.0, 1.49, 1.5, 2.9, 3.0, 7.0] {
            for b in 0..2u8 {
                assert_eq!(c.bin_of(0, x) <= b, x < c.cut(0, b), "x={x} b={b}");
            }
        }
    }

    #[test]
    fn given_many_values_when_cutting_then_at_most_max_bin_bins() {
        let rows: Vec<f32> = (0..10_000).map(|i| (i % 997) as f32 * 0.37).collect();
        let d = Dataset::from_parts(1, rows, vec![0.0; 10_000]).unwrap();
        let c = BinCuts::compute(&d, 16, 2);
        assert!(c.n_bins(0) <= 16 && c.n_bins(0) >= 14, "{}", c.n_bins(0));
        assert!(c.cuts[0].windows(2).all(|w| w[0] < w[1]));
    }

    /// Two neighbouring f32 values: their midpoint rounds to the lower one, which as a cut would
    /// put both in the same bin (a value goes past every cut <= it); the upper one is the cut.
    #[test]
    fn given_neighbouring_floats_when_cutting_then_the_upper_one_is_the_cut_and_they_bin_apart() {
        let up = f32::from_bits(1.0f32.to_bits() + 1);
        let d = ds(&[(&[1.0], 0.0), (&[up], 0.0)]);
        let c = BinCuts::compute(&d, 256, 1);
        assert_eq!(c.cuts[0], vec![up]);
        assert_eq!((c.bin_of(0, 1.0), c.bin_of(0, up)), (0, 1));
    }

    /// More distinct values than bins, most rows at the minimum: the quantiles that fall on the
    /// minimum make no cut (a cut there would leave bin 0 empty), and the cuts rise strictly.
    #[test]
    fn given_a_heavy_minimum_when_cutting_by_quantiles_then_no_cut_at_the_minimum() {
        let mut values = vec![0.0f32; 600];
        values.extend((1..=400).map(|i| i as f32));
        let d = Dataset::from_parts(1, values, vec![0.0; 1000]).unwrap();
        let c = BinCuts::compute(&d, 16, 1);
        // quantile j of 16 is the value at row j * 1000 / 16: rows 62..562 are the minimum
        // (j = 1..=9), j = 10..=15 give rows 625, 687, 750, 812, 875, 937, whose values are
        // the row less 599
        assert_eq!(c.cuts[0], vec![26.0, 88.0, 151.0, 213.0, 276.0, 338.0]);
        assert_eq!(c.bin_of(0, 0.0), 0);
        assert_eq!(c.bin_of(0, 25.0), 0);
        assert_eq!(c.bin_of(0, 26.0), 1);
    }

    /// More distinct values than bins, and every quantile on one repeated value: one cut there,
    /// not one per quantile (cuts rise strictly).
    #[test]
    fn given_quantiles_on_one_repeated_value_when_cutting_then_one_cut() {
        let mut values: Vec<f32> = (0..20).map(|i| i as f32).collect();
        values.extend(std::iter::repeat_n(10.0f32, 980));
        let d = Dataset::from_parts(1, values, vec![0.0; 1000]).unwrap();
        let c = BinCuts::compute(&d, 16, 1);
        assert_eq!(c.cuts[0], vec![10.0]);
        assert_eq!(c.n_bins(0), 2);
    }

    /// No rows, or rows without features: nothing to train on.
    #[test]
    fn given_no_rows_or_no_features_when_training_then_empty_train() {
        let p = TrainParams::new(1);
        let no_rows = Dataset::from_parts(3, Vec::new(), Vec::new()).unwrap();
        let no_features = Dataset::from_parts(0, Vec::new(), vec![1.0, 2.0]).unwrap();
        for d in [no_rows, no_features] {
            assert_eq!(
                train(&p, &d, None, &mut |_| {}).unwrap_err(),
                TrainError::EmptyTrain
            );
        }
    }

    fn tree_depth(t: &crate::model::Tree) -> usize {
        let mut depth = vec![0usize; t.num_nodes()];
        for i in 0..t.num_nodes() {
            for c in [t.left_children[i], t.right_children[i]] {
                if c >= 0 {
                    depth[c as usize] = depth[i] + 1;
                }
            }
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// 64 distinct labels: max_depth 0 (no limit) grows past the depth a limit of 3 stops at.
    #[test]
    fn given_max_depth_zero_when_training_then_the_depth_is_unlimited() {
        let rows: Vec<([f32; 1], f32)> = (0..64).map(|i| ([i as f32], (i * i) as f32)).collect();
        let refs: Vec<(&[f32], f32)> = rows.iter().map(|(x, y)| (&x[..], *y)).collect();
        let d = ds(&refs);
        let mut p = TrainParams::new(1);
        p.nthread = 1;
        p.min_child_weight = 0.0;
        p.max_depth = 0;
        let unlimited = train(&p, &d, None, &mut |_| {}).unwrap();
        p.max_depth = 3;
        let limited = train(&p, &d, None, &mut |_| {}).unwrap();
        assert_eq!(tree_depth(&limited.model.trees[0]), 3);
        assert!(
            tree_depth(&unlimited.model.trees[0]) > 3,
            "{:?}",
            unlimited.model.trees[0]
        );
    }

    /// One round without regularisation or shrinkage (lambda 0, eta 1, min_child_weight 0):
    /// leaves and gains are the plain Newton values.
    fn exact_params() -> TrainParams {
        let mut p = TrainParams::new(1);
        p.lambda = 0.0;
        p.eta = 1.0;
        p.min_child_weight = 0.0;
        p
    }

    /// Four rows of one feature (1-4) labelled 0, 0, 10, 10, with `exact_params`.
    fn tiny_exact() -> (Dataset, TrainParams) {
        let d = ds(&[(&[1.0], 0.0), (&[2.0], 0.0), (&[3.0], 10.0), (&[4.0], 10.0)]);
        (d, exact_params())
    }

    /// Four rows, one feature, labels 0,0,10,10; lambda 0, eta 1, min_child_weight 0:
    /// the exact tree splits at x < 2.5 into leaves -5 and +5 around base score 5.
    #[test]
    fn given_tiny_dataset_when_training_one_round_then_exact_known_tree() {
        let (d, mut p) = tiny_exact();
        p.max_depth = 3;
        p.nthread = 1;
        let out = train(&p, &d, None, &mut |_| {}).unwrap();
        let t = &out.model.trees[0];
        assert_eq!(out.model.base_score, 5.0);
        assert_eq!(t.num_nodes(), 3, "{t:?}");
        assert_eq!(t.split_indices[0], 0);
        assert_eq!(t.split_conditions[0], 2.5);
        assert_eq!(t.split_conditions[1], -5.0);
        assert_eq!(t.split_conditions[2], 5.0);
        // gain: G_L^2/H_L + G_R^2/H_R - G^2/H = 100/2 + 100/2 - 0 = 100
        assert_eq!(t.loss_changes[0], 100.0);
        let preds = out.model.predict(d.features(), 1);
        assert_eq!(preds, vec![0.0, 0.0, 10.0, 10.0]);
    }

    /// x = 1, 2, missing, missing with labels 0, 10, 0, 0 (base score 2.5, lambda 0): the
    /// missing rows go left with x = 1 (gain 7.5²/3 + 7.5²/1 = 75; right would give 8.33),
    /// leaves -2.5 and 7.5. Without missing values, nothing is sent left by default.
    #[test]
    fn given_missing_values_when_splitting_then_the_exact_gain_picks_their_side() {
        let d = ds(&[
            (&[1.0], 0.0),
            (&[2.0], 10.0),
            (&[f32::NAN], 0.0),
            (&[f32::NAN], 0.0),
        ]);
        let p = exact_params();
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert_eq!(t.num_nodes(), 3, "{t:?}");
        assert!(t.default_left[0]);
        assert_eq!(t.loss_changes[0], 75.0);
        assert_eq!(t.split_conditions[1..], [-2.5, 7.5]);
        let (d, mut p) = tiny_exact();
        p.max_depth = 1;
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert!(!t.default_left[0]);
    }

    /// XGBoost's trees (3.2, hist, lambda 0, eta 1, depth 1) when the best split sends every
    /// present value left and the missing ones right: at the last cut, max + (|max| + 1e-5),
    /// even for a feature with a single present value.
    #[test]
    fn given_present_against_missing_as_best_split_then_xgboosts_last_cut() {
        // (x, labels, XGBoost's split_conditions, its loss change)
        type Case = ([f32; 4], [f32; 4], [f32; 3], f32);
        let nan = f32::NAN;
        let cases: [Case; 4] = [
            (
                [1.0, 1.0, nan, nan],
                [0.0, 0.0, 10.0, 10.0],
                [2.00001, -5.0, 5.0],
                100.0,
            ),
            (
                [1.0, 2.0, nan, nan],
                [0.0, 0.0, 10.0, 10.0],
                [4.00001, -5.0, 5.0],
                100.0,
            ),
            (
                [-3.0, -4.0, nan, nan],
                [0.0, 0.0, 10.0, 10.0],
                [1e-5, -5.0, 5.0],
                100.0,
            ),
            (
                [1.0, 2.0, 3.0, nan],
                [0.0, 5.0, 0.0, 10.0],
                [6.00001, -2.0833333, 6.25],
                52.083332,
            ),
        ];
        for (x, y, conditions, gain) in cases {
            let rows: Vec<([f32; 1], f32)> = x.iter().zip(y).map(|(&x, y)| ([x], y)).collect();
            let rows: Vec<(&[f32], f32)> = rows.iter().map(|(x, y)| (&x[..], *y)).collect();
            let mut p = exact_params();
            p.max_depth = 1;
            let t = &train(&p, &ds(&rows), None, &mut |_| {})
                .unwrap()
                .model
                .trees[0];
            assert_eq!(t.split_conditions, conditions, "x = {x:?}");
            assert_eq!(
                (t.default_left[0], t.loss_changes[0]),
                (false, gain),
                "x = {x:?}"
            );
        }
    }

    /// Children whose hessian equals min_child_weight may be made; a split that leaves either
    /// side under it may not (the 4 rows' cuts leave 1 | 3, 2 | 2 or 3 | 1 rows).
    #[test]
    fn given_min_child_weight_then_a_split_needs_it_on_both_sides() {
        let (d, mut p) = tiny_exact();
        p.max_depth = 1;
        p.min_child_weight = 2.0;
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert_eq!((t.num_nodes(), t.split_conditions[0]), (3, 2.5));
        p.min_child_weight = 3.0;
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert_eq!(t.num_nodes(), 1, "{t:?}");
    }

    /// Two identical features give equal gains: the first one is split on (a later candidate
    /// must be strictly better, as in XGBoost).
    #[test]
    fn given_equal_gains_when_splitting_then_the_first_feature_wins() {
        let rows: Vec<([f32; 2], f32)> = [(1.0, 0.0), (2.0, 0.0), (3.0, 10.0), (4.0, 10.0)]
            .iter()
            .map(|&(x, y)| ([x, x], y))
            .collect();
        let refs: Vec<(&[f32], f32)> = rows.iter().map(|(x, y)| (&x[..], *y)).collect();
        let mut p = TrainParams::new(1);
        p.min_child_weight = 0.0;
        p.max_depth = 1;
        let t = &train(&p, &ds(&refs), None, &mut |_| {})
            .unwrap()
            .model
            .trees[0];
        assert_eq!((t.split_indices[0], t.split_conditions[0]), (0, 2.5));
    }

    /// Logistic labels all 1 (or all 0): the base score is the mean clamped to
    /// [1e-6, 1 - 1e-6], so the base margin stays finite.
    #[test]
    fn given_logistic_labels_of_one_class_then_the_base_score_is_clamped_inside_0_1() {
        let mut p = TrainParams::new(1);
        p.objective = Objective::Logistic;
        for (label, base) in [(1.0, 1.0 - 1e-6), (0.0, 1e-6)] {
            let d = ds(&[(&[1.0], label), (&[2.0], label)]);
            let model = train(&p, &d, None, &mut |_| {}).unwrap().model;
            assert_eq!(model.base_score, base);
            assert!(model.base_margin().is_finite());
        }
    }

    /// A feature of two values has one cut, and splits there.
    #[test]
    fn given_a_binary_feature_when_training_then_it_splits_at_its_one_cut() {
        let d = ds(&[(&[0.0], 0.0), (&[1.0], 10.0), (&[0.0], 0.0), (&[1.0], 10.0)]);
        let mut p = TrainParams::new(1);
        p.min_child_weight = 0.0;
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert_eq!(t.num_nodes(), 3, "{t:?}");
        assert_eq!(t.split_conditions[0], 0.5);
    }

    /// A gain equal to gamma is kept (XGBoost prunes a gain below min_split_loss only).
    #[test]
    fn given_gamma_equal_to_the_gain_then_the_split_is_kept() {
        let (d, mut p) = tiny_exact();
        p.gamma = 100.0;
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert_eq!(t.num_nodes(), 3, "{t:?}");
        p.gamma = 100.5;
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert_eq!(t.num_nodes(), 1, "{t:?}");
    }

    fn weight_and_gain(p: &TrainParams, g: f64, h: f64) -> (f64, f64) {
        (calc_weight(p, g, h), calc_gain(p, g, h))
    }

    /// XGBoost's CalcWeight and CalcGain on sums (g, h): -T(g) / (h + lambda) and
    /// T(g)² / (h + lambda) with T the L1 threshold; with max_delta_step the weight is clamped
    /// and the gain is -(2 g w + (h + lambda) w²) + alpha |w|; 0 for a hessian under
    /// min_child_weight or not positive.
    #[test]
    fn calc_weight_and_calc_gain_have_xgboosts_values() {
        let mut p = TrainParams::new(1);
        p.lambda = 1.0;
        p.alpha = 0.0;
        p.min_child_weight = 1.0;
        assert_eq!(weight_and_gain(&p, -6.0, 2.0), (2.0, 12.0));
        // a hessian equal to min_child_weight counts; under it, or none, gives nothing
        assert_eq!(weight_and_gain(&p, -6.0, 1.0), (3.0, 18.0));
        assert_eq!(weight_and_gain(&p, -6.0, 0.5), (0.0, 0.0));
        p.min_child_weight = 0.0;
        assert_eq!(weight_and_gain(&p, -6.0, 0.0), (0.0, 0.0));
        assert_eq!(weight_and_gain(&p, -6.0, -1.0), (0.0, 0.0));
        p.alpha = 2.0;
        assert_eq!(weight_and_gain(&p, -6.0, 2.0), (4.0 / 3.0, 16.0 / 3.0));
        p.alpha = 0.0;
        p.max_delta_step = 1.0;
        assert_eq!(weight_and_gain(&p, -6.0, 2.0), (1.0, 9.0));
        assert_eq!(weight_and_gain(&p, 6.0, 2.0), (-1.0, 9.0));
        assert_eq!(calc_weight(&p, -0.75, 2.0), 0.25);
        p.alpha = 2.0;
        assert_eq!(weight_and_gain(&p, -6.0, 2.0), (1.0, 11.0));
    }

    /// L1's soft threshold: |g| shrunk by alpha, 0 within it.
    #[test]
    fn threshold_l1_shrinks_towards_zero_by_alpha() {
        assert_eq!(threshold_l1(5.0, 2.0), 3.0);
        assert_eq!(threshold_l1(-5.0, 2.0), -3.0);
        assert_eq!(threshold_l1(1.5, 2.0), 0.0);
        assert_eq!(threshold_l1(-1.5, 2.0), 0.0);
        assert_eq!(threshold_l1(-2.0, 2.0), 0.0);
        assert_eq!(threshold_l1(0.5, 0.0), 0.5);
    }

    /// base_score 0: the root's gradient sum is -20 over 4 rows, so its weight is 5 and the
    /// split's gain is 0/2 + 400/2 - 400/4 = 100 (the parent's term counts).
    #[test]
    fn given_a_root_gradient_when_splitting_then_the_gain_subtracts_the_parents_term() {
        let (d, mut p) = tiny_exact();
        p.max_depth = 1;
        p.base_score = Some(0.0);
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert_eq!(t.loss_changes[0], 100.0);
        assert_eq!(t.base_weights[0], 5.0);
        assert_eq!(t.sum_hessian[0], 4.0);
        assert_eq!(t.split_conditions[1..], [0.0, 10.0]);
    }

    /// subsample 0.2 of 2,000 rows: each tree's root covers about 400 of them (squared error:
    /// a hessian of 1 a row; 4 standard deviations are 72), never all of them.
    #[test]
    fn given_subsample_when_growing_then_the_root_covers_that_share_of_rows() {
        let d = synthetic(2_000, 6);
        let mut p = TrainParams::new(5);
        p.subsample = 0.2;
        let model = train(&p, &d, None, &mut |_| {}).unwrap().model;
        for t in &model.trees {
            let cover = t.sum_hessian[0];
            assert!((328.0..=472.0).contains(&cover), "{cover}");
        }
        p.subsample = 1.0;
        let model = train(&p, &d, None, &mut |_| {}).unwrap().model;
        assert!(model.trees.iter().all(|t| t.sum_hessian[0] == 2_000.0));
    }

    /// subsample 1 draws nothing for the rows: a tree's features are the first draw of the
    /// seeded generator (colsample_bytree 0.4 of 5 features: 2).
    #[test]
    fn given_no_row_sampling_then_the_first_draw_samples_the_trees_features() {
        let d = synthetic(2_000, 7);
        let mut p = TrainParams::new(1);
        p.colsample_bytree = 0.4;
        p.max_depth = 6;
        p.seed = 11;
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let features = sample_features(&[0, 1, 2, 3, 4], 0.4, &mut rng);
        assert_eq!(features.len(), 2);
        let used: Vec<u32> = (0..t.num_nodes())
            .filter(|&i| t.left_children[i] >= 0)
            .map(|i| t.split_indices[i])
            .collect();
        assert!(!used.is_empty());
        assert!(
            used.iter().all(|f| features.contains(&(*f as usize))),
            "{used:?} outside {features:?}"
        );
    }

    #[test]
    fn given_lambda_and_eta_when_training_then_leaf_is_shrunk_newton_step() {
        let d = ds(&[(&[1.0], 0.0), (&[2.0], 0.0), (&[3.0], 10.0), (&[4.0], 10.0)]);
        let mut p = TrainParams::new(1);
        p.lambda = 1.0;
        p.eta = 0.5;
        p.min_child_weight = 0.0;
        let out = train(&p, &d, None, &mut |_| {}).unwrap();
        let t = &out.model.trees[0];
        // right leaf: G = -10 (two rows, residual -5 each), H = 2 → w = 10/3, × 0.5
        assert!((t.split_conditions[2] - 5.0 / 3.0).abs() < 1e-6, "{t:?}");
        // gain with lambda: 100/3 + 100/3 - 0
        assert!((f64::from(t.loss_changes[0]) - 200.0 / 3.0).abs() < 1e-3);
    }

    #[test]
    fn given_gamma_above_gain_when_training_then_split_is_pruned() {
        let d = ds(&[(&[1.0], 0.0), (&[2.0], 0.0), (&[3.0], 10.0), (&[4.0], 10.0)]);
        let mut p = TrainParams::new(1);
        p.lambda = 0.0;
        p.min_child_weight = 0.0;
        p.gamma = 150.0;
        let out = train(&p, &d, None, &mut |_| {}).unwrap();
        assert_eq!(out.model.trees[0].num_nodes(), 1);
        p.gamma = 50.0;
        let out = train(&p, &d, None, &mut |_| {}).unwrap();
        assert_eq!(out.model.trees[0].num_nodes(), 3);
    }

    /// Labels 0,0,10,10,0,0 along x: the root splits after x = 2 (gain 33.3), its right child
    /// after x = 4 (gain 100). With gamma 50 the root's gain is under gamma, but it is kept, as
    /// XGBoost prunes only a node whose children are both leaves.
    #[test]
    fn given_gamma_between_a_parents_and_a_childs_gain_then_the_parent_is_kept() {
        let rows: Vec<([f32; 1], f32)> = [0.0, 0.0, 10.0, 10.0, 0.0, 0.0]
            .iter()
            .enumerate()
            .map(|(i, y)| ([i as f32 + 1.0], *y))
            .collect();
        let refs: Vec<(&[f32], f32)> = rows.iter().map(|(x, y)| (&x[..], *y)).collect();
        let d = ds(&refs);
        let mut p = TrainParams::new(1);
        p.lambda = 0.0;
        p.min_child_weight = 0.0;
        p.max_depth = 2;
        p.gamma = 50.0;
        let t = &train(&p, &d, None, &mut |_| {}).unwrap().model.trees[0];
        assert_eq!(t.num_nodes(), 5, "{t:?}");
        assert_eq!(t.split_conditions[0], 2.5);
        assert!((t.loss_changes[0] - 100.0 / 3.0).abs() < 1e-3, "{t:?}");
        assert_eq!(t.split_conditions[2], 4.5);
        assert!((t.loss_changes[2] - 100.0).abs() < 1e-3, "{t:?}");
    }

    #[test]
    fn given_min_child_weight_when_children_too_light_then_no_split() {
        let d = ds(&[(&[1.0], 0.0), (&[2.0], 0.0), (&[3.0], 10.0), (&[4.0], 10.0)]);
        let mut p = TrainParams::new(1);
        p.min_child_weight = 3.0;
        let out = train(&p, &d, None, &mut |_| {}).unwrap();
        assert_eq!(out.model.trees[0].num_nodes(), 1);
    }

    #[test]
    fn given_missing_values_when_training_then_default_direction_learned() {
        // Missing rows have label 10, like the large-x rows: they should default right.
        let d = ds(&[
            (&[1.0], 0.0),
            (&[2.0], 0.0),
            (&[3.0], 10.0),
            (&[f32::NAN], 10.0),
        ]);
        let p = exact_params();
        let out = train(&p, &d, None, &mut |_| {}).unwrap();
        let preds = out.model.predict(d.features(), 1);
        assert_eq!(preds, vec![0.0, 0.0, 10.0, 10.0]);
        assert!(!out.model.trees[0].default_left[0]);
    }

    fn synthetic(n: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut f = Vec::new();
        let mut l = Vec::new();
        for _ in 0..n {
            let x: Vec<f32> = (0..5).map(|_| rng.random::<f32>() * 4.0 - 2.0).collect();
            let y = x[0] * 2.0 + (x[1] * 3.0).sin() + if x[2] > 0.0 { 1.0 } else { -1.0 };
            f.extend_from_slice(&x);
            l.push(y + rng.random::<f32>() * 0.1);
        }
        Dataset::from_parts(5, f, l).unwrap()
    }

    #[test]
    fn given_the_training_set_by_value_when_training_then_the_same_model_and_history() {
        let d = synthetic(5_000, 2);
        let v = synthetic(1_000, 3);
        let mut p = TrainParams::new(8);
        p.subsample = 0.7;
        p.max_depth = 4;
        p.nthread = 2;
        let a = train(&p, &d, Some(&v), &mut |_| {}).unwrap();
        let b = train_owned(&p, d.clone(), Some(&v), &mut |_| {}).unwrap();
        assert_eq!(a.model, b.model);
        assert_eq!(a.history, b.history);
        assert_eq!(b.model.trees.len(), 8);
    }

    #[test]
    fn given_threads_when_training_then_identical_models() {
        // 40,000 rows with subsample 0.8: levels below the root hold over 16,384 rows in two or
        // more nodes, so they are partitioned on several threads
        let d = synthetic(40_000, 1);
        let mut p = TrainParams::new(5);
        p.subsample = 0.8;
        p.colsample_bytree = 0.8;
        p.nthread = 1;
        let a = train(&p, &d, None, &mut |_| {}).unwrap().model;
        p.nthread = 3;
        let b = train(&p, &d, None, &mut |_| {}).unwrap().model;
        assert_eq!(a, b);
        // with a validation set (scored beside the training set when there are threads)
        let v = synthetic(1_000, 5);
        let one = TrainParams {
            nthread: 1,
            ..p.clone()
        };
        let with_one = train(&one, &d, Some(&v), &mut |_| {}).unwrap();
        let with_three = train(&p, &d, Some(&v), &mut |_| {}).unwrap();
        assert_eq!(with_one.history, with_three.history);
        assert!(with_one.history.iter().all(|r| r.validation.len() == 1));
        p.seed = 99;
        let c = train(&p, &d, None, &mut |_| {}).unwrap().model;
        assert_ne!(a, c);
    }

    /// With subsampling, rows outside a tree's sample get their margins through the bins: the
    /// training metric of every round is still the one of the model's own predictions.
    #[test]
    fn given_subsampling_when_training_then_the_train_metric_is_the_models_own() {
        // every 7th row misses its first two features (they take the learned default direction)
        let full = synthetic(2_000, 4);
        let mut features = full.features().to_vec();
        for row in features.chunks_mut(5).step_by(7) {
            row[0] = f32::NAN;
            row[1] = f32::NAN;
        }
        let d = Dataset::from_parts(5, features, full.labels().to_vec()).unwrap();
        let mut p = TrainParams::new(8);
        p.subsample = 0.5;
        let out = train(&p, &d, None, &mut |_| {}).unwrap();
        assert_eq!(out.history.len(), 8);
        let preds = out.model.predict(d.features(), 5);
        let rmse = crate::metrics::rmse(d.labels(), &preds);
        let last = out.history[7].train[0].1;
        assert!((rmse - last).abs() < 1e-4, "{rmse} vs {last}");
    }

    /// Gradient and hessian per row: squared error's (m - y, 1); logistic's ((p - y) w,
    /// p (1 - p) w) with p = sigmoid(m) and w = scale_pos_weight for a label of exactly 1.
    #[test]
    fn given_margins_when_computing_gradients_then_xgboosts_exact_pairs() {
        let mut p = TrainParams::new(1);
        let mut gh = vec![[0.0f32; 2]; 3];
        compute_gradients(&p, &[0.5, 2.0, -1.0], &[2.0, 2.0, 0.0], &mut gh);
        assert_eq!(gh, vec![[1.5, 1.0], [0.0, 1.0], [1.0, 1.0]]);
        p.objective = Objective::Logistic;
        p.scale_pos_weight = 3.0;
        let margins = [0.0, 3.0f64.ln(), 0.0];
        compute_gradients(&p, &[1.0, 0.0, 0.7], &margins, &mut gh);
        let want = [[-1.5f32, 0.75], [0.75, 0.1875], [-0.2, 0.25]];
        for (row, (got, want)) in gh.iter().zip(want).enumerate() {
            for k in 0..2 {
                assert!(
                    (got[k] - want[k]).abs() < 1e-6,
                    "row {row}: {got:?} vs {want:?}"
                );
            }
        }
    }

    #[test]
    fn given_a_ratio_of_one_or_one_feature_when_sampling_features_then_all_and_no_draw() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let before = rng.clone();
        assert_eq!(sample_features(&[0, 2, 5], 1.0, &mut rng), vec![0, 2, 5]);
        assert_eq!(sample_features(&[4], 0.5, &mut rng), vec![4]);
        assert_eq!(rng, before);
        let half = sample_features(&[0, 1, 2, 3, 4, 5], 0.5, &mut rng);
        assert_eq!(half.len(), 3);
        assert!(half.windows(2).all(|w| w[0] < w[1]), "{half:?}");
        assert_ne!(rng, before);
    }

    /// Each round's (score, stop?) through `EarlyStopping::observe` with patience 2.
    fn early_stops(metric: Metric, scores: &[f64]) -> (Vec<bool>, Option<(usize, f64)>) {
        let mut e = EarlyStopping::default();
        let stops = (0..scores.len())
            .map(|r| e.observe(r, metric, scores[r], 2))
            .collect();
        (stops, e.best)
    }

    #[test]
    fn given_validation_scores_when_early_stopping_then_the_last_strictly_better_round_is_best() {
        // lower is better: the tie at round 2 is no improvement, so round 3 is 2 rounds on
        let (stops, best) = early_stops(Metric::Rmse, &[3.0, 2.0, 2.0, 2.5]);
        assert_eq!(stops, vec![false, false, false, true]);
        assert_eq!(best, Some((1, 2.0)));
        // higher is better
        let (stops, best) = early_stops(Metric::Auc, &[0.5, 0.7, 0.7, 0.6]);
        assert_eq!(stops, vec![false, false, false, true]);
        assert_eq!(best, Some((1, 0.7)));
        // a worse score is never best, whichever way is better
        assert_eq!(early_stops(Metric::Rmse, &[1.0, 2.0]).1, Some((0, 1.0)));
        assert_eq!(early_stops(Metric::Auc, &[0.9, 0.8]).1, Some((0, 0.9)));
        // NaN is never best, and without a best round nothing stops
        let (stops, best) = early_stops(Metric::Auc, &[f64::NAN, f64::NAN, f64::NAN, 0.6]);
        assert_eq!(stops, vec![false, false, false, false]);
        assert_eq!(best, Some((3, 0.6)));
        assert_eq!(
            early_stops(Metric::Rmse, &[1.0, f64::NAN]).1,
            Some((0, 1.0))
        );
    }

    #[test]
    fn given_regression_data_when_training_then_validation_error_falls() {
        let d = synthetic(5_000, 2);
        let v = synthetic(1_000, 3);
        let mut p = TrainParams::new(30);
        p.nthread = 2;
        let mut lines = Vec::new();
        let out = train(&p, &d, Some(&v), &mut |r| lines.push(r.log_line())).unwrap();
        let first = out.history[0].validation[0].1;
        let last = out.history[29].validation[0].1;
        assert!(last < first * 0.3, "{first} -> {last}");
        assert!(lines[3].starts_with("[3]#011train-rmse:"), "{}", lines[3]);
        assert!(lines[3].contains("#011validation-rmse:"));
        // The model file's predictions are the margins training tracked.
        let preds = out.model.predict(v.features(), 5);
        let rmse = crate::metrics::rmse(v.labels(), &preds);
        assert!((rmse - last).abs() < 1e-4, "{rmse} vs {last}");
    }

    #[test]
    fn given_early_stopping_when_validation_stops_improving_then_truncated_to_best() {
        let d = synthetic(500, 4);
        let v = synthetic(200, 5);
        let mut p = TrainParams::new(500);
        p.eta = 0.9;
        p.max_depth = 6;
        p.min_child_weight = 0.0;
        p.early_stopping_rounds = Some(3);
        let out = train(&p, &d, Some(&v), &mut |_| {}).unwrap();
        assert!(out.stopped_early);
        let best = out.model.best_iteration.unwrap();
        assert_eq!(out.model.trees.len(), best + 1);
        assert_eq!(out.rounds_run, best + 4);
    }

    #[test]
    fn given_logistic_labels_out_of_range_when_training_then_error_names_row() {
        let d = ds(&[(&[1.0], 0.0), (&[2.0], 2.0)]);
        let mut p = TrainParams::new(1);
        p.objective = Objective::Logistic;
        let err = train(&p, &d, None, &mut |_| {}).unwrap_err();
        assert_eq!(
            err,
            TrainError::LabelOutOfRange {
                channel: "train".into(),
                row: 2,
                label: 2.0
            }
        );
    }

    #[test]
    fn given_binary_data_when_training_logistic_then_auc_is_high() {
        let d = synthetic(4_000, 6);
        let to_binary = |d: &Dataset| {
            let labels = d.labels().iter().map(|&y| f32::from(y > 0.0)).collect();
            Dataset::from_parts(5, d.features().to_vec(), labels).unwrap()
        };
        let (b, vb) = (to_binary(&d), to_binary(&synthetic(1_000, 7)));
        let mut p = TrainParams::new(20);
        p.objective = Objective::Logistic;
        p.eval_metrics = vec![Metric::Logloss, Metric::Auc];
        let out = train(&p, &b, Some(&vb), &mut |_| {}).unwrap();
        let auc = out.history.last().unwrap().validation[1].1;
        assert!(auc > 0.9, "{auc}");
        let preds = out.model.predict(vb.features(), 5);
        assert!(preds.iter().all(|&p| (0.0..=1.0).contains(&p)));
    }
}
