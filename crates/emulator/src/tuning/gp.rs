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
        let mut best: Option<(f64, Gp)> = None;
        for &l in LENGTHSCALES {
            let k: Vec<Vec<f64>> = (0..n)
                .map(|i| {
                    (0..n)
                        .map(|j| matern52(&x[i], &x[j], l) + if i == j { NOISE } else { 0.0 })
                        .collect()
                })
                .collect();
            let Some(chol) = cholesky(&k) else { continue };
            let alpha = backward(&chol, &forward(&chol, &ys));
            let fit: f64 = ys.iter().zip(&alpha).map(|(a, b)| a * b).sum();
            let logdet: f64 = (0..n).map(|i| chol[i][i].ln()).sum();
            let lml = -0.5 * fit - logdet;
            if best.as_ref().is_none_or(|(b, _)| lml > *b) {
                best = Some((
                    lml,
                    Gp {
                        x: x.to_vec(),
                        chol,
                        alpha,
                        lengthscale: l,
                        y_mean: mean,
                        y_std: std,
                    },
                ));
            }
        }
        best.map(|(_, g)| g)
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
