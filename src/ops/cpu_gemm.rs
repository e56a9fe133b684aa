//! The CPU reference's GEMM: ndarray's (matrixmultiply's blocked kernels), with a product big
//! enough to repay a thread split into one column (or row) block per core.

use ndarray::{ArrayView2, ArrayViewMut2, Axis, linalg::general_mat_mul};

use crate::device::FlushDenormals;

/// Below this many multiply-adds a product stays on one thread. Measured on the 2-core CI
/// machine: W2's 12.8M-multiply-add products ran 13% slower split (a thread spawn, A or B
/// packed twice, and two vCPUs giving about 1.4 cores), while an LSTM's recurrent-kernel
/// gradient (B·T x 128 x 512, ~200M) gains; 2^26 (67M) keeps the first whole.
const SPLIT_MIN_MACS: usize = 1 << 26;

/// Products with an output or an operand of at least this many elements split too, whatever
/// their multiply-adds: with a short side (an LSTM's input projection `[B·T, F]·[F, 4U]` with
/// F = 10, its kernel gradient `xᵀ·dz`, `[F, B·T]·[B·T, 4U]`) a product costs by the output it
/// writes and the operand it packs, and a split halves both. W4's (3.3M outputs and 1.8M
/// operand elements, 33M and 18M multiply-adds) stayed on one thread before; W2's largest
/// output or operand has 100k elements.
const SPLIT_MIN_ELEMENTS: usize = 1 << 20;

/// The cores to split work over, asked once: `available_parallelism` reads the cgroup's
/// quota files on Linux, tens of microseconds a call.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `c = a · b` (c's previous values are overwritten, never read: c may hold anything), then
/// `epilogue(block, first_column)` over c in blocks of whole rows or whole columns, by the
/// thread that computed the block while it is in cache (a bias and activation, say).
pub(crate) fn gemm_then(
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    c: &mut ArrayViewMut2<'_, f32>,
    epilogue: impl Fn(&mut ArrayViewMut2<'_, f32>, usize) + Sync,
) {
    gemm_split_past(a, b, c, (SPLIT_MIN_MACS, SPLIT_MIN_ELEMENTS), &epilogue);
}

fn gemm_split_past(
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    c: &mut ArrayViewMut2<'_, f32>,
    (split_min_macs, split_min_elements): (usize, usize),
    epilogue: &(impl Fn(&mut ArrayViewMut2<'_, f32>, usize) + Sync),
) {
    let (m, k) = a.dim();
    let n = b.dim().1;
    let threads = cores();
    let largest = (m * n).max(m * k).max(k * n);
    let big = m * n * k >= split_min_macs || largest >= split_min_elements;
    if threads == 1 || !big || m.max(n) < 2 * threads {
        general_mat_mul(1.0, a, b, 0.0, c);
        epilogue(c, 0);
        return;
    }
    // Split the longer of c's sides: each thread gets whole rows of a (or columns of b) and
    // writes its own block of c, so there is nothing to sum afterwards.
    let (axis, len) = if n >= m { (Axis(1), n) } else { (Axis(0), m) };
    let chunk = len.div_ceil(threads);
    std::thread::scope(|scope| {
        let mut c_rest = c.view_mut();
        let (mut a_rest, mut b_rest) = (a.view(), b.view());
        let mut first = 0;
        while c_rest.len_of(axis) > 0 {
            let take = chunk.min(c_rest.len_of(axis));
            let (c_part, c_next) = c_rest.split_at(axis, take);
            let (a_part, b_part) = if axis == Axis(1) {
                let (b_part, b_next) = b_rest.split_at(Axis(1), take);
                b_rest = b_next;
                (a_rest, b_part)
            } else {
                let (a_part, a_next) = a_rest.split_at(Axis(0), take);
                a_rest = a_next;
                (a_part, b_rest)
            };
            c_rest = c_next;
            let mut c_part = c_part;
            let column = if axis == Axis(1) { first } else { 0 };
            first += take;
            scope.spawn(move || {
                // flush-to-zero is per thread: set it here as the caller's step does
                let _flush = FlushDenormals::new();
                general_mat_mul(1.0, &a_part, &b_part, 0.0, &mut c_part);
                epilogue(&mut c_part, column);
            });
        }
    });
}

/// `f(i, block)` for each block i of `u` columns of `c` (`[rows, n·u]`), the blocks spread
/// over the cores (a recurrent layer's per-gate products under dropout: n GEMMs too small to
/// split one by one, independent side by side). Each thread flushes denormals as the caller's
/// step does.
pub(crate) fn per_column_block(
    c: &mut ArrayViewMut2<'_, f32>,
    u: usize,
    f: impl Fn(usize, &mut ArrayViewMut2<'_, f32>) + Sync,
) {
    let mut blocks: Vec<_> = c
        .axis_chunks_iter_mut(Axis(1), u.max(1))
        .enumerate()
        .collect();
    let threads = cores().min(blocks.len());
    if threads <= 1 {
        blocks.iter_mut().for_each(|(i, block)| f(*i, block));
        return;
    }
    let per_thread = blocks.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        for chunk in blocks.chunks_mut(per_thread) {
            scope.spawn(move || {
                let _flush = FlushDenormals::new();
                chunk.iter_mut().for_each(|(i, block)| f(*i, block));
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::gemm_split_past;

    #[test]
    fn split_products_equal_the_single_thread_ones() {
        let mut rng = StdRng::seed_from_u64(3);
        // tiny (one thread), wide (columns split), tall (rows split), a transposed operand;
        // split whatever their size
        for (m, k, n) in [
            (1, 5, 1),
            (3, 5, 7),
            (64, 300, 513),
            (517, 300, 64),
            (131, 1031, 127),
        ] {
            let a = Array2::from_shape_fn((m, k), |_| rng.random_range(-1.0f32..1.0));
            let b = Array2::from_shape_fn((n, k), |_| rng.random_range(-1.0f32..1.0));
            let mut want = Array2::from_elem((m, n), f32::NAN);
            ndarray::linalg::general_mat_mul(1.0, &a, &b.t(), 0.0, &mut want);
            let mut got = Array2::from_elem((m, n), f32::NAN);
            gemm_split_past(&a.view(), &b.t(), &mut got.view_mut(), (0, 0), &|_, _| {});
            // each element is the same dot product in the same order, whoever computes it
            assert_eq!(got, want, "{m}x{k}x{n}");
            // an epilogue sees every block once, with its first column: c + 10 * column
            let mut with_epilogue = Array2::from_elem((m, n), f32::NAN);
            let add_column = |block: &mut ndarray::ArrayViewMut2<'_, f32>, first: usize| {
                for ((_, j), v) in block.indexed_iter_mut() {
                    *v += 10.0 * (first + j) as f32;
                }
            };
            for split in [(0, 0), (usize::MAX, usize::MAX)] {
                gemm_split_past(
                    &a.view(),
                    &b.t(),
                    &mut with_epilogue.view_mut(),
                    split,
                    &add_column,
                );
                let want = Array2::from_shape_fn((m, n), |(i, j)| want[(i, j)] + 10.0 * j as f32);
                assert_eq!(
                    with_epilogue, want,
                    "{m}x{k}x{n} with an epilogue, split {split:?}"
                );
            }
        }
    }
}
