//! Search strategies: which point to try next.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::gp::{Gp, expected_improvement};
use super::space::SearchSpace;

/// Proposes the next point in `[0, 1]^d`; `done` holds finished points with their objective
/// (to minimise), `pending` the points still running. `None`: nothing left to try.
pub trait Strategy: Send {
    fn next(&mut self, done: &[(Vec<f64>, f64)], pending: &[Vec<f64>]) -> Option<Vec<f64>>;
}

/// Uniform random points (also Hyperband's configuration sampler).
pub struct RandomSearch {
    rng: ChaCha8Rng,
    dims: usize,
}

impl RandomSearch {
    pub fn new(dims: usize, seed: u64) -> Self {
        RandomSearch {
            rng: ChaCha8Rng::seed_from_u64(seed),
            dims,
        }
    }
}

impl Strategy for RandomSearch {
    fn next(&mut self, _: &[(Vec<f64>, f64)], _: &[Vec<f64>]) -> Option<Vec<f64>> {
        Some((0..self.dims).map(|_| self.rng.random::<f64>()).collect())
    }
}

/// Every grid point once, in order.
pub struct GridSearch {
    points: std::vec::IntoIter<Vec<f64>>,
}

impl GridSearch {
    pub fn new(points: Vec<Vec<f64>>) -> Self {
        GridSearch {
            points: points.into_iter(),
        }
    }
}

impl Strategy for GridSearch {
    fn next(&mut self, _: &[(Vec<f64>, f64)], _: &[Vec<f64>]) -> Option<Vec<f64>> {
        self.points.next()
    }
}

/// Bayesian optimisation: a Gaussian process on the features of the tried points, expected
/// improvement maximised over random and local candidates; running points enter as
/// "constant liars" at the mean objective so parallel proposals spread out.
pub struct BayesianSearch {
    space: SearchSpace,
    rng: ChaCha8Rng,
    initial: usize,
    candidates: usize,
}

impl BayesianSearch {
    pub fn new(space: SearchSpace, seed: u64, budget: usize) -> Self {
        let initial = (budget / 5).clamp(2, 5);
        BayesianSearch {
            space,
            rng: ChaCha8Rng::seed_from_u64(seed),
            initial,
            candidates: 1500,
        }
    }

    fn random_point(&mut self) -> Vec<f64> {
        (0..self.space.dims())
            .map(|_| self.rng.random::<f64>())
            .collect()
    }
}

impl Strategy for BayesianSearch {
    fn next(&mut self, done: &[(Vec<f64>, f64)], pending: &[Vec<f64>]) -> Option<Vec<f64>> {
        if done.len() < self.initial || self.space.dims() == 0 {
            return Some(self.random_point());
        }
        let lie = done.iter().map(|(_, y)| *y).sum::<f64>() / done.len() as f64;
        let mut xs: Vec<Vec<f64>> = done.iter().map(|(u, _)| self.space.features(u)).collect();
        let mut ys: Vec<f64> = done.iter().map(|(_, y)| *y).collect();
        for u in pending {
            xs.push(self.space.features(u));
            ys.push(lie);
        }
        let Some(gp) = Gp::fit(&xs, &ys) else {
            return Some(self.random_point());
        };
        let best = done.iter().map(|(_, y)| *y).fold(f64::INFINITY, f64::min);
        let mut ranked: Vec<&(Vec<f64>, f64)> = done.iter().collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut cands: Vec<Vec<f64>> = (0..self.candidates).map(|_| self.random_point()).collect();
        for (u, _) in ranked.iter().take(5) {
            for _ in 0..40 {
                let c: Vec<f64> = u
                    .iter()
                    .map(|x| {
                        (x + 0.05 * (self.rng.random::<f64>() * 2.0 - 1.0) * 1.7).clamp(0.0, 1.0)
                    })
                    .collect();
                cands.push(c);
            }
        }
        let scale = gp_scale(&ys);
        let mut best_c: Option<(f64, Vec<f64>)> = None;
        for c in cands {
            let (m, s) = gp.predict(&self.space.features(&c));
            let ei = expected_improvement(m, s, best, 0.01 * scale);
            if best_c.as_ref().is_none_or(|(b, _)| ei > *b) {
                best_c = Some((ei, c));
            }
        }
        best_c.map(|(_, c)| c).or_else(|| Some(self.random_point()))
    }
}

fn gp_scale(ys: &[f64]) -> f64 {
    let max = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = ys.iter().copied().fold(f64::INFINITY, f64::min);
    if (max - min).is_finite() && max > min {
        max - min
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuning::space::{Param, ParamKind, Scaling};

    fn one_d() -> SearchSpace {
        SearchSpace {
            params: vec![Param {
                name: "x".into(),
                kind: ParamKind::Continuous {
                    min: 0.0,
                    max: 1.0,
                    scaling: Scaling::Linear,
                },
            }],
        }
    }

    fn objective(u: &[f64]) -> f64 {
        let x = u[0];
        (x - 0.734).powi(2) + 0.05 * (9.0 * x).sin()
    }

    /// Random search: points of the space's dimension, each coordinate a uniform draw in
    /// [0, 1) that the seed decides (400 points, 1,200 draws, fill each quarter about equally).
    #[test]
    fn random_search_draws_seeded_uniform_points_of_its_dimension() {
        let mut a = RandomSearch::new(3, 7);
        let points: Vec<Vec<f64>> = (0..400).map(|_| a.next(&[], &[]).unwrap()).collect();
        assert!(points.iter().all(|u| u.len() == 3));
        let xs: Vec<f64> = points.iter().flatten().copied().collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        for q in 0..4 {
            let (lo, hi) = (f64::from(q) / 4.0, f64::from(q + 1) / 4.0);
            let n = xs.iter().filter(|x| (lo..hi).contains(*x)).count();
            // 1,200 draws, 300 expected a quarter; 5 standard deviations are 75
            assert!((225..=375).contains(&n), "quarter {q}: {n}");
        }
        let mut b = RandomSearch::new(3, 7);
        assert_eq!(b.next(&[], &[]).unwrap(), points[0]);
        let mut c = RandomSearch::new(3, 8);
        assert_ne!(c.next(&[], &[]).unwrap(), points[0]);
    }

    fn best_after(strategy: &mut dyn Strategy, budget: usize) -> f64 {
        let mut done: Vec<(Vec<f64>, f64)> = Vec::new();
        for _ in 0..budget {
            let u = strategy.next(&done, &[]).unwrap();
            let y = objective(&u);
            done.push((u, y));
        }
        done.iter().map(|d| d.1).fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn given_a_smooth_1d_objective_when_searching_with_the_same_seeds_then_bayesian_beats_random() {
        let grid_min = (0..=100_000)
            .map(|i| objective(&[i as f64 / 100_000.0]))
            .fold(f64::INFINITY, f64::min);
        let (mut regret_bayes, mut regret_random) = (0.0, 0.0);
        for seed in 0..12 {
            regret_bayes += best_after(&mut BayesianSearch::new(one_d(), seed, 12), 12) - grid_min;
            regret_random += best_after(&mut RandomSearch::new(1, seed), 12) - grid_min;
        }
        assert!(
            regret_bayes < regret_random / 3.0,
            "bayes {regret_bayes} random {regret_random}"
        );
        assert!(
            regret_bayes / 12.0 < 1e-3,
            "mean regret {}",
            regret_bayes / 12.0
        );
    }

    #[test]
    fn given_pending_points_when_proposing_in_parallel_then_proposals_differ() {
        let mut b = BayesianSearch::new(one_d(), 7, 20);
        let done: Vec<(Vec<f64>, f64)> = [0.1, 0.3, 0.5, 0.9, 0.95]
            .iter()
            .map(|x| (vec![*x], objective(&[*x])))
            .collect();
        let first = b.next(&done, &[]).unwrap();
        let second = b.next(&done, std::slice::from_ref(&first)).unwrap();
        assert!((first[0] - second[0]).abs() > 1e-3, "{first:?} {second:?}");
    }

    #[test]
    fn grid_search_ends() {
        let mut g = GridSearch::new(vec![vec![0.1], vec![0.2]]);
        assert!(g.next(&[], &[]).is_some());
        assert!(g.next(&[], &[]).is_some());
        assert!(g.next(&[], &[]).is_none());
    }
}
