//! Recurrent dropout in the recurrent ops (rdrop `[G, B, U]`, one mask per gate, Keras's
//! implementation 1), for the LSTM, the GRU (reset after and before) and the SimpleRNN. On
//! the CPU: masks of all ones change nothing; each batch row equals a run of that row alone
//! without dropout whose recurrent kernel has gate g's row j scaled by its mask r_g[b, j]
//! (an independent statement of the semantics, forward and backward, masked steps and
//! initial state included); dz, dh0 and dc0 against finite differences. The GPU kernels
//! (per-step, and the LSTM's persistent ones) against the CPU on awkward sizes and poisoned
//! outputs; the dispatches per step unchanged by dropout; bad masks refused.

mod common;

use common::{Input, Tol, cross_check, gpu, random_mask, rng, uniform};
use rand::Rng;
use rand::rngs::StdRng;
use wgfit::ops::gru_cell::{GruReset, gru_backward_to_state, gru_forward_from};
use wgfit::ops::lstm_cell::{lstm_backward_to_state, lstm_forward_from};
use wgfit::ops::recurrent::{RecurrentInputs, RecurrentKernel};
use wgfit::ops::simple_rnn_cell::{simple_rnn_backward_to_state, simple_rnn_forward_from};
use wgfit::{Device, Error, Tensor};

/// The recurrent cells' tolerance (tests/ops_lstm_cell.rs), or every element within 1e-6:
/// dh0 and dc0 at B = T = U = 1 sum a product per gate, which can cancel to near 0.
const RNN_TOL: Tol = Tol::NormAndScaledOrAbs {
    norm: 1e-5,
    element: 2e-4,
    abs: 1e-6,
};

/// Keras's dropout rate the masks are drawn for: kept entries are 1 / (1 - RATE).
const RATE: f32 = 0.3;

#[derive(Clone, Copy, Debug)]
enum Cell {
    Lstm,
    Gru { after: bool },
    SimpleRnn,
}

const CELLS: [Cell; 4] = [
    Cell::Lstm,
    Cell::Gru { after: true },
    Cell::Gru { after: false },
    Cell::SimpleRnn,
];

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru { .. } => 3,
            Cell::SimpleRnn => 1,
        }
    }
}

/// Which optional inputs a pass takes.
#[derive(Clone, Copy, Debug)]
struct Opts {
    masked: bool,
    init: bool,
    rdrop: bool,
}

/// Inputs: xp `[B, T, G·U]`, rk `[U, G·U]`, rb `[3U]` (a GRU's), mask `[B, T]`, h0, c0
/// `[B, U]`, dy `[B, T, U]`, dh_last `[B, U]`, rdrop `[G, B, U]` (0 or 1 / (1 - RATE)).
fn inputs(rng: &mut StdRng, cell: Cell, (b, t, u): (usize, usize, usize)) -> Vec<Input> {
    let g = cell.gates();
    let scale = 1.5 / (u as f32).sqrt();
    let keep = 1.0 / (1.0 - RATE);
    let rdrop = (0..g * b * u)
        .map(|_| {
            if rng.random::<f32>() < RATE {
                0.0
            } else {
                keep
            }
        })
        .collect();
    vec![
        (vec![b, t, g * u], uniform(rng, b * t * g * u, -2.0, 2.0)),
        (vec![u, g * u], uniform(rng, u * g * u, -scale, scale)),
        (vec![3 * u], uniform(rng, 3 * u, -0.5, 0.5)),
        (vec![b, t], random_mask(rng, b, t)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, t, u], uniform(rng, b * t * u, -1.0, 1.0)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![g, b, u], rdrop),
    ]
}

fn tensors(device: &Device, x: &[Input]) -> wgfit::Result<Vec<Tensor>> {
    x.iter()
        .map(|(s, v)| Tensor::from_vec(device, s.clone(), v.clone()))
        .collect()
}

/// A forward and backward pass (from dh_last and dy) of `cell` on `x` (as [`inputs`]):
/// hseq, the gates (not a SimpleRNN's, whose one gate is h), dz, dh0 and an LSTM's dc0.
fn pass(cell: Cell, x: &[Tensor], o: Opts, k: RecurrentKernel) -> wgfit::Result<Vec<Tensor>> {
    let mask = o.masked.then_some(&x[3]);
    let rdrop = o.rdrop.then_some(&x[8]);
    let (dh, dy) = (Some(&x[7]), Some(&x[6]));
    let h0 = o.init.then_some(&x[4]);
    fn inputs_of<'a, S>(
        (mask, rdrop): (Option<&'a Tensor>, Option<&'a Tensor>),
        init: Option<S>,
    ) -> RecurrentInputs<'a, S> {
        RecurrentInputs::new().mask(mask).init(init).rdrop(rdrop)
    }
    let with_h0 = inputs_of((mask, rdrop), h0);
    Ok(match cell {
        Cell::Lstm => {
            let s = lstm_forward_from(
                &x[0],
                &x[1],
                inputs_of((mask, rdrop), h0.map(|h| (h, &x[5]))),
                k,
            )?;
            let g = lstm_backward_to_state(&s, &x[1], mask, (dh, None, dy), k)?;
            vec![s.hseq, s.gates, g.dz, g.dh0, g.dc0.expect("an LSTM's dc0")]
        }
        Cell::Gru { after } => {
            let reset = if after {
                GruReset::After(&x[2])
            } else {
                GruReset::Before
            };
            let s = gru_forward_from(&x[0], &x[1], reset, with_h0, k)?;
            let g = gru_backward_to_state(&s, &x[1], mask, (dh, dy), k)?;
            vec![s.hseq, s.gates, g.dz, g.dh0]
        }
        Cell::SimpleRnn => {
            let s = simple_rnn_forward_from(&x[0], &x[1], with_h0, k)?;
            let g = simple_rnn_backward_to_state(&s, &x[1], mask, (dh, dy), k)?;
            vec![s.hseq, g.dz, g.dh0]
        }
    })
}

fn values(outputs: &[Tensor]) -> wgfit::Result<Vec<Vec<f32>>> {
    outputs.iter().map(Tensor::to_vec_blocking).collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert!(want.iter().all(|v| v.is_finite()), "{what}: not finite");
    let (err, limit) = RNN_TOL.err(got, want);
    assert!(err <= limit, "{what}: differs by {err:e} (limit {limit:e})");
}

/// Sizes: one of each; primes; a unit count past one GEMM panel; a batch the CPU splits over
/// threads (B·T·U ≥ 2^16).
const SIZES: [(usize, usize, usize); 5] =
    [(1, 1, 1), (3, 5, 7), (2, 4, 19), (5, 3, 33), (67, 31, 40)];

#[test]
fn masks_of_all_ones_change_nothing() -> wgfit::Result<()> {
    let mut rng = rng("rdrop_ones");
    let device = Device::cpu();
    let k = RecurrentKernel::Auto;
    for cell in CELLS {
        for dims in SIZES {
            let mut x = inputs(&mut rng, cell, dims);
            x[8].1.fill(1.0);
            let x = tensors(&device, &x)?;
            for (masked, init) in [(false, false), (true, true)] {
                let name = format!("{cell:?} {dims:?} masked={masked} init={init}");
                let o = Opts {
                    masked,
                    init,
                    rdrop: false,
                };
                let want = values(&pass(cell, &x, o, k)?)?;
                let got = values(&pass(cell, &x, Opts { rdrop: true, ..o }, k)?)?;
                // forward: the same multiply-adds in the same order, so the same bits
                let forward = if matches!(cell, Cell::SimpleRnn) {
                    1
                } else {
                    2
                };
                assert_eq!(got[..forward], want[..forward], "{name}: forward");
                // backward: the per-gate GEMMs sum dh_prev's terms in another order
                for (i, (g, w)) in got.iter().zip(&want).enumerate().skip(forward) {
                    assert_close(&format!("{name}: output {i}"), g, w);
                }
            }
        }
    }
    Ok(())
}

/// Row `bi` of the batch-major `v` of `row` values per batch row.
fn row(v: &[f32], bi: usize, row: usize) -> Vec<f32> {
    v[bi * row..(bi + 1) * row].to_vec()
}

/// Each batch row with masks r equals that row alone, without dropout, on the recurrent
/// kernel `rk'[j, g·U + k] = rk[j, g·U + k] · r_g[b, j]`: `(h ⊙ r_g) · rk_g = h · rk'_g`, and
/// `Σ_g (dz_g · rk_gᵀ) ⊙ r_g = dz · rk'ᵀ`. A GRU's `z ⊙ h_prev` reads the undropped h in
/// both, so this holds for every cell, with masked steps and an initial state.
#[test]
fn each_row_equals_its_masks_folded_into_the_recurrent_kernel() -> wgfit::Result<()> {
    let mut rng = rng("rdrop_folded");
    let device = Device::cpu();
    let k = RecurrentKernel::Auto;
    for cell in CELLS {
        let g = cell.gates();
        for (b, t, u) in SIZES {
            let x = inputs(&mut rng, cell, (b, t, u));
            for (masked, init) in [(false, false), (true, true), (true, false)] {
                let o = Opts {
                    masked,
                    init,
                    rdrop: true,
                };
                let all = values(&pass(cell, &tensors(&device, &x)?, o, k)?)?;
                for bi in 0..b {
                    let name = format!("{cell:?} B={b} T={t} U={u} {o:?} row {bi}");
                    let r = &x[8].1;
                    let mut rk = x[1].1.clone();
                    for (i, w) in rk.iter_mut().enumerate() {
                        let (j, gate) = (i / (g * u), (i % (g * u)) / u);
                        *w *= r[(gate * b + bi) * u + j];
                    }
                    let one = |i: usize, per_row: usize| -> Input {
                        let mut dims = x[i].0.clone();
                        dims[0] = 1;
                        (dims, row(&x[i].1, bi, per_row))
                    };
                    let x1 = vec![
                        one(0, t * g * u),
                        (x[1].0.clone(), rk),
                        x[2].clone(),
                        one(3, t),
                        one(4, u),
                        one(5, u),
                        one(6, t * u),
                        one(7, u),
                        (vec![g, 1, u], vec![1.0; g * u]),
                    ];
                    let o1 = Opts { rdrop: false, ..o };
                    let want = values(&pass(cell, &tensors(&device, &x1)?, o1, k)?)?;
                    for (i, (all, want)) in all.iter().zip(&want).enumerate() {
                        let got = row(all, bi, want.len());
                        assert_close(&format!("{name}: output {i}"), &got, want);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Central differences of `loss` at `v[i]`.
fn fd(v: &[f32], i: usize, loss: &dyn Fn(&[f32]) -> wgfit::Result<f64>) -> wgfit::Result<f64> {
    let eps = 1e-2f32;
    let (mut plus, mut minus) = (v.to_vec(), v.to_vec());
    (plus[i], minus[i]) = (plus[i] + eps, minus[i] - eps);
    Ok((loss(&plus)? - loss(&minus)?) / (2.0 * f64::from(eps)))
}

/// dz, dh0 (and an LSTM's dc0) are the gradients of `Σ dy · hseq + Σ dh · h_last` w.r.t. xp,
/// h0 and c0 under fixed recurrent dropout masks, with a row post-padded and one pre-padded.
#[test]
fn gradients_match_finite_differences_under_recurrent_dropout() -> wgfit::Result<()> {
    let mut rng = rng("rdrop_fd");
    let (b, t, u) = (2, 4, 3);
    let device = Device::cpu();
    let k = RecurrentKernel::Auto;
    let o = Opts {
        masked: true,
        init: true,
        rdrop: true,
    };
    for cell in CELLS {
        let mut x = inputs(&mut rng, cell, (b, t, u));
        x[3].1 = vec![1.0; b * t];
        (x[3].1[3], x[3].1[4]) = (0.0, 0.0);
        // at least one dropped and one kept entry per gate
        for gate in 0..cell.gates() {
            let m = &mut x[8].1[gate * b * u..(gate + 1) * b * u];
            (m[0], m[1]) = (0.0, 1.0 / (1.0 - RATE));
        }
        let (dy, dh) = (x[6].1.clone(), x[7].1.clone());
        // the loss with input `at` replaced by `v`
        let loss = |at: usize, v: &[f32]| -> wgfit::Result<f64> {
            let mut x = x.clone();
            x[at].1 = v.to_vec();
            let h = pass(cell, &tensors(&device, &x)?, o, k)?[0].to_vec_blocking()?;
            let seq: f64 = h.iter().zip(&dy).map(|(&h, &d)| f64::from(h * d)).sum();
            let last: f64 = (0..b * u)
                .map(|i| f64::from(h[((i / u) * t + t - 1) * u + i % u] * dh[i]))
                .sum();
            Ok(seq + last)
        };
        let got = values(&pass(cell, &tensors(&device, &x)?, o, k)?)?;
        let n = got.len();
        let (dz, dh0) = if matches!(cell, Cell::SimpleRnn) {
            (&got[1], &got[2])
        } else {
            (&got[2], &got[3])
        };
        let mut checks = vec![("dz", 0, dz), ("dh0", 4, dh0)];
        if matches!(cell, Cell::Lstm) {
            checks.push(("dc0", 5, &got[n - 1]));
        }
        for (what, at, grad) in checks {
            for (i, &an) in grad.iter().enumerate() {
                let want = fd(&x[at].1, i, &|v| loss(at, v))?;
                assert!(
                    (want - f64::from(an)).abs() <= 2e-3 * (1.0 + want.abs()),
                    "{cell:?} {what}[{i}]: {an} vs finite differences {want}"
                );
            }
        }
    }
    Ok(())
}

/// Masks that are not f32 `[G, B, U]` on the sequence's device are refused with the op's
/// name.
#[test]
fn bad_masks_are_refused() -> wgfit::Result<()> {
    let device = Device::cpu();
    let (b, t, u) = (2, 3, 4);
    let k = RecurrentKernel::Auto;
    for cell in CELLS {
        let g = cell.gates();
        let mut rng = rng("rdrop_bad");
        let x = tensors(&device, &inputs(&mut rng, cell, (b, t, u)))?;
        let with = |r: &Tensor| {
            let mut x = x.clone();
            x[8] = r.clone();
            let o = Opts {
                masked: false,
                init: false,
                rdrop: true,
            };
            pass(cell, &x, o, k).map(|_| ())
        };
        for dims in [
            vec![g, b, u + 1],
            vec![g + 1, b, u],
            vec![b, u],
            vec![g, 1, u],
        ] {
            let n = dims.iter().product();
            let r = Tensor::from_vec(&device, dims.clone(), vec![1.0; n])?;
            match with(&r) {
                Err(Error::Shape(e)) => {
                    let msg = e.to_string();
                    assert!(msg.contains("recurrent dropout masks"), "{cell:?}: {msg}");
                }
                other => panic!("{cell:?} {dims:?}: expected a shape error, got {other:?}"),
            }
        }
        let r = Tensor::from_u32(&device, [g, b, u], vec![1; g * b * u])?;
        assert!(matches!(with(&r), Err(Error::Data(_))), "{cell:?}: u32");
        if let Some(gpu) = gpu() {
            let r = Tensor::from_vec(&gpu, [g, b, u], vec![1.0; g * b * u])?;
            assert!(
                matches!(with(&r), Err(Error::Data(_))),
                "{cell:?}: two devices"
            );
        }
    }
    // the backward pass checks the masks its states carry
    let x = tensors(
        &device,
        &inputs(&mut rng("rdrop_bad_states"), Cell::Lstm, (b, t, u)),
    )?;
    let mut s = lstm_forward_from(&x[0], &x[1], RecurrentInputs::new(), k)?;
    s.rdrop = Some(Tensor::zeros(&device, [4, b + 1, u])?);
    let r = lstm_backward_to_state(&s, &x[1], None, (Some(&x[7]), None, None), k);
    assert!(matches!(r, Err(Error::Shape(_))), "{r:?}");
    Ok(())
}

/// The kernels that read the masks against the CPU: every cell's per-step kernels and the
/// LSTM's persistent ones, units 1, primes, past one workgroup (257: per-step only, past the
/// persistent kernels' limit), batches 1 to 67 (past a persistent block of 4 rows), with and
/// without a sequence mask and an initial state, on poisoned outputs and a split grid.
#[test]
fn gpu_kernels_match_cpu_under_recurrent_dropout() {
    let mut rng = rng("rdrop_gpu");
    for cell in CELLS {
        for (b, t, u) in [(1, 1, 1), (3, 5, 7), (67, 3, 7), (5, 4, 33), (2, 3, 257)] {
            let x = inputs(&mut rng, cell, (b, t, u));
            let kernels: &[RecurrentKernel] = match cell {
                Cell::Lstm if u <= 256 => &[RecurrentKernel::PerStep, RecurrentKernel::Persistent],
                _ => &[RecurrentKernel::PerStep],
            };
            for &k in kernels {
                for (masked, init) in [(false, false), (true, true), (true, false)] {
                    let o = Opts {
                        masked,
                        init,
                        rdrop: true,
                    };
                    let name = format!("{cell:?} B={b} T={t} U={u} {k:?} {o:?}");
                    cross_check(&name, &x, RNN_TOL, |x| pass(cell, x, o, k));
                }
            }
        }
    }
}

/// Recurrent dropout keeps the fused path: the dispatches a forward and backward pass add per
/// step are the same with masks as without (the masks cost a fixed few, to put them after the
/// sequence mask in one binding).
#[test]
fn recurrent_dropout_adds_no_dispatch_per_step() -> wgfit::Result<()> {
    // A device of its own: its counters count only this test's work.
    let Some(device) = common::open_gpu_with(wgfit::GpuOptions::default()) else {
        return Ok(());
    };
    let ctx = device.gpu_context().expect("a GPU device");
    let rng = rng("rdrop_dispatches");
    for cell in CELLS {
        let kernels: &[RecurrentKernel] = match cell {
            Cell::Lstm => &[RecurrentKernel::PerStep, RecurrentKernel::Persistent],
            _ => &[RecurrentKernel::PerStep],
        };
        for &k in kernels {
            let count = |t: usize, rdrop: bool| -> wgfit::Result<u64> {
                let x = tensors(&device, &inputs(&mut rng.clone(), cell, (3, t, 5)))?;
                let o = Opts {
                    masked: true,
                    init: true,
                    rdrop,
                };
                let before = ctx.counters().dispatches;
                pass(cell, &x, o, k)?;
                Ok(ctx.counters().dispatches - before)
            };
            let plain = (count(4, false)?, count(8, false)?);
            let dropped = (count(4, true)?, count(8, true)?);
            eprintln!("{cell:?} {k:?}: dispatches at T = 4, 8: {plain:?}, with rdrop {dropped:?}");
            assert_eq!(
                dropped.1 - dropped.0,
                plain.1 - plain.0,
                "{cell:?} {k:?}: per step"
            );
            assert!(
                dropped.0 - plain.0 <= 4,
                "{cell:?} {k:?}: {dropped:?} vs {plain:?}"
            );
        }
    }
    Ok(())
}

/// W4's LSTM (B = 64, T = 100, U = 128, rows post-padded to random lengths) forward and
/// backward on the CPU, best of 5, with recurrent dropout and without: the ratio for
/// BENCHMARKS.md. A measurement, not a check: `cargo test --release --test
/// ops_recurrent_dropout -- --ignored --nocapture`.
#[test]
#[ignore = "a timing, run by hand"]
fn w4_lstm_cpu_time_with_and_without_recurrent_dropout() -> wgfit::Result<()> {
    let mut rng = rng("rdrop_w4");
    let (b, t, u) = (64, 100, 128);
    let mut x = inputs(&mut rng, Cell::Lstm, (b, t, u));
    x[3].1 = (0..b)
        .flat_map(|_| {
            let len = rng.random_range(t / 2..=t);
            (0..t).map(move |s| if s < len { 1.0 } else { 0.0 })
        })
        .collect();
    let x = tensors(&Device::cpu(), &x)?;
    let time = |rdrop: bool| -> wgfit::Result<f64> {
        let o = Opts {
            masked: true,
            init: false,
            rdrop,
        };
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            pass(Cell::Lstm, &x, o, RecurrentKernel::Auto)?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    let (plain, dropped) = (time(false)?, time(true)?);
    eprintln!(
        "W4 LSTM forward + backward on the CPU: {:.1} ms, with recurrent dropout {:.1} ms \
         ({:.2}x)",
        plain * 1e3,
        dropped * 1e3,
        dropped / plain
    );
    Ok(())
}
