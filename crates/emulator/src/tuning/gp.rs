//! A Gaussian-process surrogate (Matérn 5/2 kernel on the normalised space) and expected
//! improvement, for the Bayesian strategy. Minimisation throughout.

/// A fitted Gaussian process.
#[derive(Debug, Clone)]
pub struct Gp {
    x: Vec<Vec<f64>>,
    /// Lower Cholesky factor of K + σ²I.
    chol: Vec<Vec<f64>>,
    /// (K + σ²I)⁻¹ y (standardised y).
    alpha: Vec<f64>,
    lengthscale: f64,
    y_mean: f64,
    y_std: f64,
}

const NOISE: f64 = 1e-4;
const LENGTHSCALES: &[f64] = &[0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 2.0];

fn matern52(a: &[f64], b: &[f64], l: f64) -> f64 {
    let d2: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let r = d2.sqrt() / l;
    let s5 = 5f64.sqrt() * r;
    (1.0 + s5 + 5.0 * r * r / 3.0) * (-s5).exp()
}

/// Lower Cholesky factor, or `None` when the matrix is not positive definite.
#[allow(clippy::needless_range_loop)]
fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i][j];
            for k in 0..j {
                sum -= l[i][k] * l[j][k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i][j] = sum.sqrt();
            } else {
                l[i][j] = sum / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solves L z = b (forward substitution).
fn forward(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut z = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i][k] * z[k]).sum();
        z[i] = (b[i] - s) / l[i][i];
    }
    z
}

/// Solves Lᵀ x = z (backward substitution).
fn backward(l: &[Vec<f64>], z: &[f64]) -> Vec<f64> {
    let n = z.len();
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k][i] * x[k]).sum();
        x[i] = (z[i] - s) / l[i][i];
    }
    x
}

impl Gp {
    /// Fits on `x` (rows of features) and `y`, choosing the length scale by maximum marginal
    /// likelihood. `None` with fewer than two points or a degenerate system.
    pub fn fit(x: &[Vec<f64>], y: &[f64]) -> Option<Gp> {
        let n = x.len();
        if n < 2 || y.len() != n {
            return None;
        }
        let mean = y.iter().sum::<f64>() / n as f64;
        let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let std = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        let ys: Vec<f64> = y.iter().map(|v| (v - mean) / std).collect();
        let fits = LENGTHSCALES.iter().filter_map(|&l| {
            let k: Vec<Vec<f64>> = (0..n)
                .map(|i| {
                    (0..n)
                        .map(|j| matern52(&x[i], &x[j], l) + if i == j { NOISE } else { 0.0 })
                        .collect()
                })
                .collect();
            let chol = cholesky(&k)?;
            let alpha = backward(&chol, &forward(&chol, &ys));
            let fit: f64 = ys.iter().zip(&alpha).map(|(a, b)| a * b).sum();
            let logdet: f64 = (0..n).map(|i| chol[i][i].ln()).sum();
            let lml = -0.5 * fit - logdet;
            Some((
                lml,
                Gp {
                    x: x.to_vec(),
                    chol,
                    alpha,
                    lengthscale: l,
                    y_mean: mean,
                    y_std: std,
                },
            ))
        });
        first_max(fits, |(lml, _)| *lml).map(|(_, g)| g)
    }

    /// Posterior mean and standard deviation at `q`, in the units of `y`.
    pub fn predict(&self, q: &[f64]) -> (f64, f64) {
        let k: Vec<f64> = self
            .x
            .iter()
            .map(|xi| matern52(xi, q, self.lengthscale))
            .collect();
        let mean: f64 = k.iter().zip(&self.alpha).map(|(a, b)| a * b).sum();
        let v = forward(&self.chol, &k);
        let var = (1.0 - v.iter().map(|a| a * a).sum::<f64>()).max(1e-12);
        (self.y_mean + mean * self.y_std, var.sqrt() * self.y_std)
    }

    pub fn lengthscale(&self) -> f64 {
        self.lengthscale
    }
}

/// The first of `items` with the largest `score` (a later one must be strictly better); `None`
/// when there are no items.
pub(super) fn first_max<T>(
    items: impl IntoIterator<Item = T>,
    score: impl Fn(&T) -> f64,
) -> Option<T> {
    let mut best: Option<(f64, T)> = None;
    for item in items {
        let v = score(&item);
        if best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, item));
        }
    }
    best.map(|(_, item)| item)
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7).
pub fn norm_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    let erf = if x >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

pub fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Expected improvement below `best` (minimisation) with exploration margin `xi`.
pub fn expected_improvement(mean: f64, std: f64, best: f64, xi: f64) -> f64 {
    if std <= 1e-12 {
        return (best - mean - xi).max(0.0);
    }
    let imp = best - mean - xi;
    let z = imp / std;
    imp * norm_cdf(z) + std * norm_pdf(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() < tol, "{got} vs {want}");
    }

    /// Matérn 5/2 at distance d and length scale l, r = d / l: (1 + √5 r + 5r²/3) e^(-√5 r).
    #[test]
    fn matern52_has_its_closed_form_values() {
        assert_eq!(matern52(&[0.3, 0.7], &[0.3, 0.7], 0.5), 1.0);
        // d = 5 (a 3-4-5 triangle), l = 2: r = 2.5
        close(
            matern52(&[0.0, 0.0], &[3.0, 4.0], 2.0),
            0.063_510_214_548_943_73,
            1e-15,
        );
        close(
            matern52(&[3.0, 4.0], &[0.0, 0.0], 2.0),
            0.063_510_214_548_943_73,
            1e-15,
        );
    }

    /// [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]]; L z = [2, 3] gives z = [1, √2], and
    /// Lᵀ x = z gives x = [0, 1]. Matrices that are not positive definite have no factor.
    #[test]
    fn cholesky_and_the_substitutions_solve_a_known_system() {
        let l = cholesky(&[vec![4.0, 2.0], vec![2.0, 3.0]]).unwrap();
        close(l[0][0], 2.0, 1e-15);
        close(l[1][0], 1.0, 1e-15);
        close(l[1][1], 2f64.sqrt(), 1e-15);
        assert_eq!(l[0][1], 0.0);
        let z = forward(&l, &[2.0, 3.0]);
        close(z[0], 1.0, 1e-15);
        close(z[1], 2f64.sqrt(), 1e-15);
        let x = backward(&l, &z);
        close(x[0], 0.0, 1e-15);
        close(x[1], 1.0, 1e-15);
        assert!(cholesky(&[vec![1.0, 2.0], vec![2.0, 1.0]]).is_none());
        assert!(cholesky(&[vec![0.0]]).is_none());
        assert!(cholesky(&[vec![f64::NAN]]).is_none());
        assert!(cholesky(&[vec![f64::INFINITY]]).is_none());
    }

    /// Φ within the approximation's 1.5e-7 of the exact values, φ exact.
    #[test]
    fn the_normal_cdf_and_pdf_have_their_known_values() {
        for (z, p) in [
            (1.0, 0.841_344_746_068_542_9),
            (-1.0, 0.158_655_253_931_457_07),
            (0.5, 0.691_462_461_274_013_1),
            (2.0, 0.977_249_868_051_820_8),
            (-2.5, 0.006_209_665_325_776_159),
        ] {
            close(norm_cdf(z), p, 2e-7);
        }
        close(norm_pdf(0.0), 0.398_942_280_401_432_7, 1e-15);
        close(norm_pdf(1.0), 0.241_970_724_519_143_37, 1e-15);
        close(norm_pdf(-1.0), 0.241_970_724_519_143_37, 1e-15);
    }

    /// EI = imp Φ(imp / σ) + σ φ(imp / σ), imp = best - mean - ξ; with no uncertainty, the
    /// improvement itself or 0.
    #[test]
    fn expected_improvement_has_its_closed_form_values() {
        close(
            expected_improvement(0.0, 1.0, 0.5, 0.1),
            0.630_438_836_947_453,
            1e-6,
        );
        close(
            expected_improvement(1.0, 2.0, 0.5, 0.1),
            0.533_522_484_234_419_8,
            1e-6,
        );
        close(expected_improvement(0.2, 0.0, 1.0, 0.3), 0.5, 1e-15);
        assert_eq!(expected_improvement(0.9, 1e-13, 1.0, 0.3), 0.0);
    }

    /// Two points too far apart to correlate at any length scale: every length scale has the
    /// same likelihood and the first (shortest) is kept; at a point, the posterior is the value
    /// pulled towards the mean by the noise σ² = 1e-4 on the diagonal: mean 2 - 1/(1 + σ²),
    /// standard deviation √(σ² / (1 + σ²)) (the values' standard deviation is 1).
    #[test]
    fn given_uncorrelated_points_then_the_noise_sets_the_posterior_and_the_shortest_scale_wins() {
        let gp = Gp::fit(&[vec![0.0], vec![100.0]], &[1.0, 3.0]).unwrap();
        assert_eq!(gp.lengthscale(), LENGTHSCALES[0]);
        let (m, s) = gp.predict(&[0.0]);
        close(m, 2.0 - 1.0 / (1.0 + NOISE), 1e-12);
        close(s, (NOISE / (1.0 + NOISE)).sqrt(), 1e-9);
    }

    /// Fewer than two points, or as many values as points but not the same, fit nothing.
    #[test]
    fn a_gp_needs_two_points_and_one_value_per_point() {
        assert!(Gp::fit(&[vec![0.0]], &[1.0]).is_none());
        assert!(Gp::fit(&[vec![0.0], vec![1.0]], &[1.0]).is_none());
        assert!(Gp::fit(&[vec![0.0], vec![1.0]], &[1.0, 2.0, 3.0]).is_none());
        let two = Gp::fit(&[vec![0.0], vec![1.0]], &[1.0, 3.0]).unwrap();
        close(two.predict(&[0.0]).0, 1.0, 1e-2);
        close(two.predict(&[1.0]).0, 3.0, 1e-2);
    }

    /// Values far from 0 and wide: the GP interpolates them in their own units, and far from
    /// the data it falls back to their mean and standard deviation.
    #[test]
    fn given_offset_and_scaled_values_when_fitted_then_predictions_are_in_their_units() {
        let xs: Vec<Vec<f64>> = (0..6).map(|i| vec![f64::from(i) * 0.2]).collect();
        let ys: Vec<f64> = xs
            .iter()
            .map(|x| 100.0 + 50.0 * (6.0 * x[0]).sin())
            .collect();
        let gp = Gp::fit(&xs, &ys).unwrap();
        for (x, y) in xs.iter().zip(&ys) {
            let (m, s) = gp.predict(x);
            close(m, *y, 0.5);
            assert!(s < 1.0, "{s}");
        }
        let mean = ys.iter().sum::<f64>() / 6.0;
        let std = (ys.iter().map(|y| (y - mean) * (y - mean)).sum::<f64>() / 6.0).sqrt();
        let (m, s) = gp.predict(&[50.0]);
        close(m, mean, 1e-6);
        close(s, std, 1e-3 * std);
        // constant values: a standard deviation of 1 is used, and the constant is predicted
        let flat = Gp::fit(&xs, &[7.0; 6]).unwrap();
        close(flat.predict(&[0.5]).0, 7.0, 1e-9);
        close(flat.predict(&[50.0]).1, 1.0, 1e-3);
    }

    #[test]
    fn given_samples_of_a_smooth_function_when_fitted_then_it_interpolates_and_is_unsure_far_away()
    {
        let xs: Vec<Vec<f64>> = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
            .iter()
            .map(|v| vec![*v])
            .collect();
        let ys: Vec<f64> = xs.iter().map(|x| (6.0 * x[0]).sin()).collect();
        let gp = Gp::fit(&xs, &ys).unwrap();
        let (m, s) = gp.predict(&[0.4]);
        assert!((m - (2.4f64).sin()).abs() < 0.02, "{m}");
        assert!(s < 0.05);
        let (m, _) = gp.predict(&[0.5]);
        assert!((m - 3f64.sin()).abs() < 0.15, "{m}");
        let (_, far) = gp.predict(&[5.0]);
        assert!(far > 0.5, "{far}");
    }

    #[test]
    fn normal_functions_and_ei_behave() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.96) - 0.975).abs() < 1e-3);
        assert!(
            expected_improvement(0.0, 1.0, 0.0, 0.0) > expected_improvement(0.5, 1.0, 0.0, 0.0)
        );
        assert!(
            expected_improvement(0.0, 2.0, 0.0, 0.0) > expected_improvement(0.0, 1.0, 0.0, 0.0)
        );
        assert_eq!(expected_improvement(1.0, 0.0, 0.0, 0.0), 0.0);
    }
}
