//! Weight initializers with Keras's definitions and defaults, seeded and reproducible.

use rand::Rng;
use rand::rngs::StdRng;

use crate::error::{Error, Result};

/// How a weight tensor's initial values are drawn, as Keras's `kernel_initializer=` and
/// `bias_initializer=` (see [`Dense::kernel_initializer`](crate::layers::Dense::kernel_initializer)).
///
/// Values come from the model's seeded generator ([`Model::seed`](crate::Model::seed)),
/// so the same seed gives the same initial weights on every device.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use wgfit::Initializer;
/// let mut rng = StdRng::seed_from_u64(0);
/// let w = Initializer::Uniform { min: -0.1, max: 0.1 }.sample(&[3, 4], &mut rng)?;
/// assert_eq!(w.len(), 12);
/// assert!(w.iter().all(|v| (-0.1..0.1).contains(v)));
/// assert_eq!(Initializer::Zeros.sample(&[2], &mut rng)?, vec![0.0, 0.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Initializer {
    /// Uniform in `±sqrt(6 / (fan_in + fan_out))` (Keras's `GlorotUniform`, its default for
    /// kernels). For a `[in, out]` kernel the fans are `in` and `out`.
    GlorotUniform,
    /// All zeros (Keras's `Zeros`, its default for biases).
    Zeros,
    /// A random orthogonal matrix (Keras's `Orthogonal`, its default for recurrent kernels):
    /// the columns (or rows, for a wide matrix) of `[rows, cols]` are orthonormal.
    Orthogonal,
    /// Uniform in `[min, max)` (Keras's `RandomUniform`, default ±0.05). The bounds must be
    /// finite with `min < max` (else sampling is an [`Error::Config`]).
    Uniform {
        /// The lowest value (inclusive).
        min: f32,
        /// The highest value (exclusive); must be above `min`.
        max: f32,
    },
    /// Normal with this mean and standard deviation (Keras's `RandomNormal`, default 0, 0.05).
    /// Both must be finite and `stddev >= 0` (else sampling is an [`Error::Config`]).
    RandomNormal {
        /// The mean of the distribution.
        mean: f32,
        /// The standard deviation of the distribution.
        stddev: f32,
    },
}

/// (fan_in, fan_out) as Keras computes them: for `[in, out]` the two dims; for a vector its
/// length twice; for more dims the receptive field multiplies both.
fn fans(shape: &[usize]) -> (f64, f64) {
    match shape {
        [] => (1.0, 1.0),
        [n] => (*n as f64, *n as f64),
        [i, o] => (*i as f64, *o as f64),
        _ => {
            let field: usize = shape[..shape.len() - 2].iter().product();
            let (i, o) = (shape[shape.len() - 2], shape[shape.len() - 1]);
            ((i * field) as f64, (o * field) as f64)
        }
    }
}

/// A standard normal sample (Box-Muller, f64).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl Initializer {
    /// Checks the parameters: [`Error::Config`] naming the initializer and its values for
    /// `Uniform` bounds that are not finite with `min < max` (`max - min` finite too), or a
    /// `RandomNormal` whose mean or stddev is not finite or whose stddev is negative.
    ///
    /// ```
    /// use wgfit::{Error, Initializer};
    /// assert!(Initializer::Uniform { min: -0.1, max: 0.1 }.validate().is_ok());
    /// let err = Initializer::Uniform { min: 0.5, max: 0.5 }.validate().unwrap_err();
    /// assert!(matches!(err, Error::Config(ref m) if m.contains("min 0.5") && m.contains("max 0.5")));
    /// ```
    pub fn validate(&self) -> Result<()> {
        match *self {
            Initializer::Uniform { min, max }
                if !(min < max
                    && min.is_finite()
                    && max.is_finite()
                    && (max - min).is_finite()) =>
            {
                Err(Error::Config(format!(
                    "Initializer::Uniform {{ min {min}, max {max} }}: the bounds must be finite \
                     with min < max (and max - min within f32)"
                )))
            }
            Initializer::RandomNormal { mean, stddev }
                if !(mean.is_finite() && stddev.is_finite() && stddev >= 0.0) =>
            {
                Err(Error::Config(format!(
                    "Initializer::RandomNormal {{ mean {mean}, stddev {stddev} }}: the mean \
                     must be finite and the stddev finite and at least 0"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Row-major values for a tensor of `shape`, drawn from `rng`.
    ///
    /// # Errors
    /// [`Error::Config`] for parameters [`Initializer::validate`] rejects (nothing is drawn).
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use wgfit::Initializer;
    /// let a = Initializer::GlorotUniform.sample(&[4, 2], &mut StdRng::seed_from_u64(7))?;
    /// let b = Initializer::GlorotUniform.sample(&[4, 2], &mut StdRng::seed_from_u64(7))?;
    /// assert_eq!(a, b); // seeded: reproducible
    /// let limit = (6.0f32 / (4.0 + 2.0)).sqrt();
    /// assert!(a.iter().all(|v| v.abs() <= limit));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn sample(&self, shape: &[usize], rng: &mut StdRng) -> Result<Vec<f32>> {
        self.validate()?;
        let n: usize = shape.iter().product();
        Ok(match *self {
            Initializer::Zeros => vec![0.0; n],
            Initializer::GlorotUniform => {
                let (fan_in, fan_out) = fans(shape);
                let limit = (6.0 / (fan_in + fan_out)).sqrt() as f32;
                (0..n).map(|_| rng.random_range(-limit..limit)).collect()
            }
            Initializer::Uniform { min, max } => {
                (0..n).map(|_| rng.random_range(min..max)).collect()
            }
            Initializer::RandomNormal { mean, stddev } => {
                (0..n).map(|_| mean + stddev * normal(rng) as f32).collect()
            }
            Initializer::Orthogonal => orthogonal(shape, rng),
        })
    }
}

/// Keras's orthogonal: a normal `[rows, cols]` matrix (rows = all dims but the last) through QR,
/// with Q's columns signed by R's diagonal; transposed when there are fewer rows than columns.
fn orthogonal(shape: &[usize], rng: &mut StdRng) -> Vec<f32> {
    let cols = shape.last().copied().unwrap_or(1);
    let rows: usize = shape.iter().product::<usize>() / cols.max(1);
    let (tall, short) = (rows.max(cols), rows.min(cols));
    // Columns of a [tall, short] normal matrix, orthonormalised by modified Gram-Schmidt;
    // the sign fix of Keras's QR is implicit (each column keeps its own direction).
    let mut q: Vec<Vec<f64>> = (0..short)
        .map(|_| (0..tall).map(|_| normal(rng)).collect())
        .collect();
    for j in 0..short {
        let (done, rest) = q.split_at_mut(j);
        let col = &mut rest[0];
        for prev in done.iter() {
            let dot: f64 = col.iter().zip(prev).map(|(a, b)| a * b).sum();
            col.iter_mut().zip(prev).for_each(|(v, p)| *v -= dot * p);
        }
        let norm = col.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
        col.iter_mut().for_each(|v| *v /= norm);
    }
    let mut out = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[r * cols + c] = if rows >= cols { q[c][r] } else { q[r][c] } as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn orthogonal_matrices_have_orthonormal_columns_or_rows() {
        let mut rng = StdRng::seed_from_u64(3);
        for (rows, cols) in [(8, 8), (12, 5), (5, 12)] {
            let m = Initializer::Orthogonal
                .sample(&[rows, cols], &mut rng)
                .unwrap();
            // Entry i of vector v: columns when tall, rows when wide.
            let at = |v: usize, i: usize| {
                if rows >= cols {
                    m[i * cols + v]
                } else {
                    m[v * cols + i]
                }
            };
            let (n, len) = (rows.min(cols), rows.max(cols));
            for a in 0..n {
                for b in 0..n {
                    let dot: f32 = (0..len).map(|i| at(a, i) * at(b, i)).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!(
                        (dot - want).abs() < 1e-5,
                        "[{rows}, {cols}] {a}.{b} = {dot}"
                    );
                }
            }
        }
    }

    #[test]
    fn glorot_uniform_stays_within_its_limit_and_is_seeded() {
        let a = Initializer::GlorotUniform
            .sample(&[784, 128], &mut StdRng::seed_from_u64(1))
            .unwrap();
        let b = Initializer::GlorotUniform
            .sample(&[784, 128], &mut StdRng::seed_from_u64(1))
            .unwrap();
        let limit = (6.0f32 / (784.0 + 128.0)).sqrt();
        assert_eq!(a, b);
        assert!(a.iter().all(|v| v.abs() <= limit));
        assert!(
            a.iter().any(|v| v.abs() > 0.9 * limit),
            "values should spread to the limit"
        );
    }
}
