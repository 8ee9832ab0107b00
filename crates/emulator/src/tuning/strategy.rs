//! Search strategies: which point to try next.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::gp::{Gp, expected_improvement, first_max};
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

impl BayesianSearch {
    /// The GP's training set: the finished points' features and objectives, then each running
    /// point at the mean objective of the finished ones (the "constant liar").
    fn training_set(
        &self,
        done: &[(Vec<f64>, f64)],
        pending: &[Vec<f64>],
    ) -> (Vec<Vec<f64>>, Vec<f64>) {
        let lie = done.iter().map(|(_, y)| *y).sum::<f64>() / done.len() as f64;
        let mut xs: Vec<Vec<f64>> = done.iter().map(|(u, _)| self.space.features(u)).collect();
        let mut ys: Vec<f64> = done.iter().map(|(_, y)| *y).collect();
        for u in pending {
            xs.push(self.space.features(u));
            ys.push(lie);
        }
        (xs, ys)
    }

    /// The points whose expected improvement is compared: `candidates` uniform ones, then
    /// 40 around each of the 5 best finished points (each coordinate moved by at most
    /// ±0.085, kept in [0, 1]).
    fn candidates(&mut self, done: &[(Vec<f64>, f64)]) -> Vec<Vec<f64>> {
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
        cands
    }
}

impl Strategy for BayesianSearch {
    fn next(&mut self, done: &[(Vec<f64>, f64)], pending: &[Vec<f64>]) -> Option<Vec<f64>> {
        if done.len() < self.initial || self.space.dims() == 0 {
            return Some(self.random_point());
        }
        let (xs, ys) = self.training_set(done, pending);
        let Some(gp) = Gp::fit(&xs, &ys) else {
            return Some(self.random_point());
        };
        let best = done.iter().map(|(_, y)| *y).fold(f64::INFINITY, f64::min);
        let xi = exploration_margin(&ys);
        let cands = self.candidates(done);
        let ei = |c: &Vec<f64>| {
            let (m, s) = gp.predict(&self.space.features(c));
            expected_improvement(m, s, best, xi)
        };
        // never None: there are always `candidates` (1,500) uniform candidates
        first_max(cands, ei)
    }
}

/// The improvement over the best objective that expected improvement asks for: 1 % of the
/// objectives' range, or 0.01 when the range is empty, zero or not finite.
fn exploration_margin(ys: &[f64]) -> f64 {
    let max = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let range = if (max - min).is_finite() && max > min {
        max - min
    } else {
        1.0
    };
    0.01 * range
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

    /// The first budget / 5 proposals (at least 2, at most 5) are the seed's uniform points,
    /// the same as random search's; from then on the GP proposes.
    #[test]
    fn bayesian_search_starts_with_a_fifth_of_its_budget_of_random_points() {
        for (budget, initial) in [(5, 2), (20, 4), (100, 5)] {
            let mut bayes = BayesianSearch::new(one_d(), 3, budget);
            let mut random = RandomSearch::new(1, 3);
            let mut done: Vec<(Vec<f64>, f64)> = Vec::new();
            for _ in 0..initial {
                let u = bayes.next(&done, &[]).unwrap();
                assert_eq!(u, random.next(&[], &[]).unwrap(), "budget {budget}");
                done.push((u.clone(), objective(&u)));
            }
            assert_ne!(
                bayes.next(&done, &[]),
                random.next(&[], &[]),
                "budget {budget}: the GP proposes after {initial} points"
            );
        }
    }

    /// A space without dimensions has one point, the empty one, whatever has run.
    #[test]
    fn bayesian_search_of_no_dimensions_proposes_the_empty_point() {
        let mut b = BayesianSearch::new(SearchSpace { params: vec![] }, 1, 10);
        let done = vec![(vec![], 1.0), (vec![], 2.0), (vec![], 0.5)];
        assert_eq!(b.next(&done, &[]), Some(vec![]));
    }

    /// Running points enter the GP at the mean objective of the finished ones.
    #[test]
    fn pending_points_enter_the_gp_at_the_mean_objective() {
        let b = BayesianSearch::new(one_d(), 1, 10);
        let done = vec![(vec![0.2], 1.0), (vec![0.6], 4.0)];
        let (xs, ys) = b.training_set(&done, &[vec![0.4], vec![0.9]]);
        assert_eq!(ys, vec![1.0, 4.0, 2.5, 2.5]);
        let features: Vec<Vec<f64>> = [0.2, 0.6, 0.4, 0.9]
            .iter()
            .map(|u| one_d().features(&[*u]))
            .collect();
        assert_eq!(xs, features);
    }

    /// The candidates: the uniform ones, then 40 around each of the 5 best finished points in
    /// order of objective, each coordinate within ±0.085 of its centre (both ways, most of that
    /// width used) and kept in [0, 1].
    #[test]
    fn candidates_are_uniform_then_near_the_five_best_points() {
        let mut b = BayesianSearch::new(one_d(), 5, 10);
        b.candidates = 10;
        let centres = [0.5, 0.99, 0.3, 0.01, 0.7, 0.8];
        // objectives rank the centres 0.5, 0.99, 0.3, 0.01, 0.7; 0.8 is the worst
        let done: Vec<(Vec<f64>, f64)> = centres
            .iter()
            .enumerate()
            .map(|(i, c)| (vec![*c], i as f64))
            .rev()
            .collect();
        let cands = b.candidates(&done);
        assert_eq!(cands.len(), 10 + 5 * 40);
        for (k, group) in cands[10..].chunks(40).enumerate() {
            let centre = centres[k];
            let moves: Vec<f64> = group.iter().map(|c| c[0] - centre).collect();
            assert!(group.iter().all(|c| (0.0..=1.0).contains(&c[0])));
            assert!(
                moves.iter().all(|m| m.abs() <= 0.085 + 1e-12),
                "{centre}: {moves:?}"
            );
            match centre {
                // at the edges the moves beyond [0, 1] are clamped onto it
                0.99 => assert!(group.iter().any(|c| c[0] == 1.0), "{moves:?}"),
                0.01 => assert!(group.iter().any(|c| c[0] == 0.0), "{moves:?}"),
                _ => {
                    assert!(moves.iter().any(|m| *m < 0.0), "{centre}: {moves:?}");
                    assert!(moves.iter().any(|m| *m > 0.0), "{centre}: {moves:?}");
                    let widest = moves.iter().fold(0.0f64, |w, m| w.max(m.abs()));
                    assert!(widest > 0.07, "{centre}: {moves:?}");
                }
            }
        }
    }

    /// The exploration margin is 1 % of the objectives' range, or of 1 when they have none or
    /// it overflows.
    #[test]
    fn the_exploration_margin_is_a_hundredth_of_the_objectives_range_or_of_one() {
        assert_eq!(exploration_margin(&[1.0, 5.0, 2.0]), 0.04);
        assert_eq!(exploration_margin(&[-4.0, 0.5]), 0.045);
        assert_eq!(exploration_margin(&[5.0, 5.0]), 0.01);
        assert_eq!(exploration_margin(&[1.0, f64::INFINITY]), 0.01);
        assert_eq!(exploration_margin(&[-1e308, 1e308]), 0.01);
        assert_eq!(exploration_margin(&[]), 0.01);
    }

    /// Of equal scores the first item wins; a later one must be strictly better.
    #[test]
    fn first_max_keeps_the_first_of_equal_scores() {
        let score = |x: &(u8, f64)| x.1;
        assert_eq!(
            first_max(vec![(1, 0.5), (2, 0.5), (3, 0.1)], score),
            Some((1, 0.5))
        );
        assert_eq!(
            first_max(vec![(1, 0.5), (2, 0.7), (3, 0.7)], score),
            Some((2, 0.7))
        );
        assert_eq!(first_max(Vec::<(u8, f64)>::new(), score), None);
    }

    #[test]
    fn grid_search_ends() {
        let mut g = GridSearch::new(vec![vec![0.1], vec![0.2]]);
        assert!(g.next(&[], &[]).is_some());
        assert!(g.next(&[], &[]).is_some());
        assert!(g.next(&[], &[]).is_none());
    }
}
