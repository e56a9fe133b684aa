//! The GRU's (reset after and before) and the SimpleRNN's persistent (row-blocked) kernels
//! against their CPU twins, beside the per-step kernels: units of every kind of plan (1; 7,
//! split as many ways; 33 and 64 past the on-chip recurrent kernel; 129 and 256 unsplit),
//! batches that leave a block of four rows part empty (1, 5) or take many blocks (67; a grid
//! split over two dimensions on the second device), rows padded before, after or both, from
//! an initial state, under recurrent dropout, on poisoned outputs; over more steps than one
//! dispatch may loop on a software adapter; the same bits every run; the kernel choice and its
//! limit.

mod common;

use common::{Input, Tol, cross_check, gpu, random_mask, rng, uniform};
use rand::Rng;
use wgfit::ops::gru_cell::{
    GruReset, gru_backward_to_state, gru_backward_with, gru_forward_from, gru_forward_with,
};
use wgfit::ops::recurrent::{PERSISTENT_MAX_UNITS, RecurrentInputs, RecurrentKernel};
use wgfit::ops::simple_rnn_cell::{
    simple_rnn_backward_to_state, simple_rnn_backward_with, simple_rnn_forward_from,
    simple_rnn_forward_with,
};
use wgfit::ops::{gru_cell, simple_rnn_cell};
use wgfit::{Device, DeviceInfo, GpuOptions, Tensor};

/// The LSTM's tolerance (tests/ops_lstm_cell.rs): 1e-5 of each output's norm, and every
/// element within 2e-4 of its magnitude (or of 1e-2 of the output's largest); or every element
/// within 1e-6, since a GRU's dh0 at B = U = 1 sums a product per gate, which can cancel to
/// near 0 (failed 1 of 17 seeds at 1.2e-5 relative, 6e-8 absolute).
const TOL: Tol = Tol::NormAndScaledOrAbs {
    norm: 1e-5,
    element: 2e-4,
    abs: 1e-6,
};

const KERNELS: [RecurrentKernel; 2] = [RecurrentKernel::PerStep, RecurrentKernel::Persistent];

/// The cells under test: a GRU resetting after the product, one resetting before, a
/// SimpleRNN.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    GruAfter,
    GruBefore,
    SimpleRnn,
}

const CELLS: [Cell; 3] = [Cell::GruAfter, Cell::GruBefore, Cell::SimpleRnn];

impl Cell {
    fn gates(self) -> usize {
        if self == Cell::SimpleRnn { 1 } else { 3 }
    }

    /// Forward from `h0` and backward to it, from dh_last and dy_seq both: every state, dz
    /// and dh0. `x`: as [`inputs`].
    fn run(
        self,
        x: &[Tensor],
        masked: bool,
        from_h0: bool,
        k: RecurrentKernel,
    ) -> wgfit::Result<Vec<Tensor>> {
        self.run_with(x, (masked, from_h0, false), k)
    }

    /// [`Cell::run`], under recurrent dropout (x[7]) when `rdrop`.
    fn run_with(
        self,
        x: &[Tensor],
        (masked, from_h0, rdrop): (bool, bool, bool),
        k: RecurrentKernel,
    ) -> wgfit::Result<Vec<Tensor>> {
        let inputs = RecurrentInputs::new()
            .mask(masked.then_some(&x[2]))
            .init(from_h0.then_some(&x[3]))
            .rdrop(rdrop.then_some(&x[7]));
        let mask = inputs.mask;
        let grads = (Some(&x[4]), Some(&x[5]));
        let reset = match self {
            Cell::GruAfter => GruReset::After(&x[6]),
            _ => GruReset::Before,
        };
        if self == Cell::SimpleRnn {
            let s = simple_rnn_forward_from(&x[0], &x[1], inputs, k)?;
            let g = simple_rnn_backward_to_state(&s, &x[1], mask, grads, k)?;
            return Ok(vec![s.hseq, s.hprev, g.dz, g.dh0]);
        }
        let s = gru_forward_from(&x[0], &x[1], reset, inputs, k)?;
        let g = gru_backward_to_state(&s, &x[1], mask, grads, k)?;
        Ok(vec![s.hseq, s.gates, s.hprev, s.hn, g.dz, g.dh0])
    }

    /// Forward and backward from dh_last alone: the dispatches counted below.
    fn pass(self, x: &[Tensor], k: RecurrentKernel) -> wgfit::Result<Tensor> {
        if self == Cell::SimpleRnn {
            let s = simple_rnn_forward_with(&x[0], &x[1], None, k)?;
            return simple_rnn_backward_with(&s, &x[1], None, Some(&x[4]), None, k);
        }
        let reset = match self {
            Cell::GruAfter => GruReset::After(&x[6]),
            _ => GruReset::Before,
        };
        let s = gru_forward_with(&x[0], &x[1], reset, None, k)?;
        gru_backward_with(&s, &x[1], None, Some(&x[4]), None, k)
    }
}

/// Inputs for `cell`: xp [B, T, GU], rk [U, GU], mask [B, T], h0, dh [B, U], dy [B, T, U],
/// rb [GU], rdrop [G, B, U] (recurrent dropout at rate 0.3: 0 or 1 / 0.7).
fn inputs(
    rng: &mut rand::rngs::StdRng,
    cell: Cell,
    (b, t, u): (usize, usize, usize),
) -> Vec<Input> {
    let g = cell.gates();
    // Recurrent weights scaled like an orthogonal matrix's entries.
    let scale = 1.0 / (u.max(1) as f32).sqrt();
    let mut mask = random_mask(rng, b, t);
    // Row 0 keeps its first step (random_mask leaves it all padding) and pads the rest.
    mask[0] = 1.0;
    vec![
        (vec![b, t, g * u], uniform(rng, b * t * g * u, -2.0, 2.0)),
        (vec![u, g * u], uniform(rng, u * g * u, -scale, scale)),
        (vec![b, t], mask),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, t, u], uniform(rng, b * t * u, -1.0, 1.0)),
        (vec![g * u], uniform(rng, g * u, -0.5, 0.5)),
        (
            vec![g, b, u],
            (0..g * b * u)
                .map(|_| if rng.random_bool(0.3) { 0.0 } else { 1.0 / 0.7 })
                .collect(),
        ),
    ]
}

fn tensors(device: &Device, x: &[Input]) -> wgfit::Result<Vec<Tensor>> {
    x.iter()
        .map(|(shape, v)| Tensor::from_vec(device, shape.clone(), v.clone()))
        .collect()
}

fn software(device: &Device) -> bool {
    matches!(device.info(), DeviceInfo::Gpu { ref device_type, .. } if device_type == "Cpu")
}

#[test]
fn persistent_kernels_match_cpu_for_awkward_units_and_batches() {
    let mut rng = rng("recurrent_persistent");
    for (i, &u) in [1, 7, 33, 64, 129, 256].iter().enumerate() {
        for (j, &b) in [1, 5, 67].iter().enumerate() {
            // T from 1 to 4, and 67 rows only at a few units (lavapipe's time)
            let t = 1 + (i + j) % 4;
            if b == 67 && !matches!(u, 7 | 64) {
                continue;
            }
            for cell in CELLS {
                let x = inputs(&mut rng, cell, (b, t, u));
                for (masked, from_h0) in [(false, false), (true, false), (true, true)] {
                    let name = format!("{cell:?} B={b} T={t} U={u} masked={masked} h0={from_h0}");
                    cross_check(&name, &x, TOL, |x| {
                        cell.run(x, masked, from_h0, RecurrentKernel::Persistent)
                    });
                }
            }
        }
    }
}

/// Per-step and persistent kernels, on the same inputs, both against the CPU: a longer
/// sequence, every row padded somewhere, from an initial state whose first step is masked,
/// with and without recurrent dropout.
#[test]
fn per_step_and_persistent_kernels_agree_with_the_cpu() {
    let mut rng = rng("recurrent_persistent_vs_per_step");
    let (b, t, u) = (6, 17, 19);
    for cell in CELLS {
        let mut x = inputs(&mut rng, cell, (b, t, u));
        x[2].1[0] = 0.0;
        for (k, rdrop) in KERNELS.into_iter().flat_map(|k| [(k, false), (k, true)]) {
            let name = format!("{cell:?} B={b} T={t} U={u} {k:?} rdrop={rdrop}");
            cross_check(&name, &x, TOL, |x| cell.run_with(x, (true, true, rdrop), k));
        }
    }
}

/// A cell of zero units has empty states and gradients on every kernel, not a panic.
#[test]
fn zero_units_give_empty_outputs_on_every_kernel() {
    let mut rng = rng("recurrent_persistent_zero");
    for cell in CELLS {
        let x = inputs(&mut rng, cell, (3, 2, 0));
        for k in KERNELS {
            cross_check(&format!("{cell:?} U=0 {k:?}"), &x, TOL, |x| {
                cell.run(x, true, true, k)
            });
        }
    }
}

/// Past the software adapters' loop budget the persistent kernels run in several dispatches
/// (trips per step counted in src/ops/recurrent/blocked.rs; at 64 units a GRU loops 53 per
/// step forward (74 resetting before the product) and 58 backward, a SimpleRNN 53 and 48:
/// past the budget of 64 511 after 1 217 steps at most), and no dispatch runs past 4 096 steps
/// on any adapter: 5 000 steps at 1 unit cross both.
#[test]
fn persistent_kernels_over_more_steps_than_one_dispatch_can_loop_match_the_cpu() {
    let mut rng = rng("recurrent_persistent_long");
    for (b, t, u) in [(2, 1_400, 64), (2, 5_000, 1)] {
        for cell in CELLS {
            let mut x = inputs(&mut rng, cell, (b, t, u));
            x[2].1 = (0..b * t)
                .map(|i| if i % 7 == 3 || i == t - 1 { 0.0 } else { 1.0 })
                .collect();
            // dy small: a recurrence of thousands of steps, held to the whole output's norm
            x[5].1.iter_mut().for_each(|v| *v *= 0.1);
            let run = |device: &Device, x: &[Input]| -> Vec<Vec<f32>> {
                let x = tensors(device, x).unwrap();
                let out = cell
                    .run(&x, true, true, RecurrentKernel::Persistent)
                    .unwrap();
                out.iter().map(|t| t.to_vec_blocking().unwrap()).collect()
            };
            let want = run(&Device::cpu(), &x);
            let Some(_) = gpu() else { return };
            // A context of this test's own, so that its dispatch count is this test's alone.
            let poisoned = GpuOptions {
                poison_outputs: true,
                ..GpuOptions::default()
            };
            let device = Device::gpu_with(poisoned).unwrap();
            let ctx = device.gpu_context().expect("a GPU device");
            let dispatches = |x: &[Input]| {
                let before = ctx.counters().dispatches;
                let got = run(&device, x);
                (got, ctx.counters().dispatches - before)
            };
            // The same pass over 10 steps, one dispatch each way.
            let (_, unsplit) = dispatches(&inputs(&mut rng, cell, (b, 10, u)));
            let (got, split) = dispatches(&x);
            if software(&device) {
                assert!(
                    split >= unsplit + 2,
                    "{cell:?} U={u}: {split} dispatches against {unsplit} unsplit"
                );
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let err = common::norm_rel_err(g, w);
                assert!(err <= 1e-5, "{cell:?} U={u} T={t} output {i}: {err:e}");
            }
        }
    }
}

/// The partial sums of a unit's split dot products are added in a fixed order: the same bits
/// on every run, and on a grid split over two dimensions.
#[test]
fn persistent_kernels_are_deterministic() -> wgfit::Result<()> {
    let mut rng = rng("recurrent_persistent_determinism");
    let devices: Vec<_> = [common::gpu(), common::gpu_split()]
        .into_iter()
        .flatten()
        .collect();
    for cell in CELLS {
        for u in [7, 64, 128] {
            let x = inputs(&mut rng, cell, (13, 6, u));
            let bits = |device: &Device| -> wgfit::Result<Vec<Vec<u32>>> {
                let x = tensors(device, &x)?;
                let out = cell.run(&x, true, false, RecurrentKernel::Persistent)?;
                out.iter()
                    .map(|t| Ok(t.to_vec_blocking()?.iter().map(|v| v.to_bits()).collect()))
                    .collect()
            };
            if let Some(first) = devices.first() {
                let want = bits(first)?;
                for device in devices.iter().chain(&devices) {
                    assert!(
                        bits(device)? == want,
                        "{cell:?} U={u}: another run, other bits"
                    );
                }
            }
        }
    }
    Ok(())
}

/// `Auto` runs the persistent kernels on a software adapter from the cell's
/// `SOFTWARE_PERSISTENT_MIN_UNITS` (measured faster there) and on a hardware GPU up to its
/// `AUTO_PERSISTENT_MAX_UNITS`, per-step dispatches otherwise; `Persistent` records fewer
/// dispatches than `PerStep`, and past 256 units is a Config error naming the cell, the
/// limit and where the choice is made. Told apart by the dispatches each records.
#[test]
fn auto_follows_the_adapter_and_the_units_and_persistent_has_a_limit() -> wgfit::Result<()> {
    if gpu().is_none() {
        return Ok(());
    }
    // A context of this test's own: the suite's shared one counts the other tests' dispatches.
    let device = Device::gpu_with(GpuOptions::default())?;
    let ctx = device.gpu_context().expect("a GPU device");
    let mut rng = rng("recurrent_persistent_auto");
    for cell in CELLS {
        let (min, max) = if cell == Cell::SimpleRnn {
            use simple_rnn_cell::{AUTO_PERSISTENT_MAX_UNITS, SOFTWARE_PERSISTENT_MIN_UNITS};
            (SOFTWARE_PERSISTENT_MIN_UNITS, AUTO_PERSISTENT_MAX_UNITS)
        } else {
            use gru_cell::{AUTO_PERSISTENT_MAX_UNITS, SOFTWARE_PERSISTENT_MIN_UNITS};
            (SOFTWARE_PERSISTENT_MIN_UNITS, AUTO_PERSISTENT_MAX_UNITS)
        };
        for u in [1, min - 1, min, max, max + 1, PERSISTENT_MAX_UNITS + 1] {
            let x = tensors(&device, &inputs(&mut rng, cell, (3, 5, u)))?;
            let dispatches = |k| -> wgfit::Result<u64> {
                let before = ctx.counters().dispatches;
                cell.pass(&x, k)?;
                Ok(ctx.counters().dispatches - before)
            };
            let per_step = dispatches(RecurrentKernel::PerStep)?;
            let auto = dispatches(RecurrentKernel::Auto)?;
            if u > PERSISTENT_MAX_UNITS {
                assert_eq!(auto, per_step, "{cell:?} U={u}");
                match dispatches(RecurrentKernel::Persistent) {
                    Err(wgfit::Error::Config(msg)) => {
                        let (what, layer) = match cell {
                            Cell::SimpleRnn => ("a SimpleRNN", "SimpleRnn::kernel"),
                            _ => ("a GRU", "Gru::kernel"),
                        };
                        assert!(
                            msg.contains(&format!("{what} of {u} units"))
                                && msg.contains("at most 256 units")
                                && msg.contains(layer),
                            "{msg}"
                        );
                    }
                    other => panic!("{cell:?} U={u}: expected a Config error, got {other:?}"),
                }
                continue;
            }
            let persistent = dispatches(RecurrentKernel::Persistent)?;
            assert!(
                persistent < per_step,
                "{cell:?} U={u}: {persistent} vs {per_step}"
            );
            let chosen = if software(&device) {
                u >= min
            } else {
                u <= max
            };
            let want = if chosen { persistent } else { per_step };
            assert_eq!(auto, want, "{cell:?} U={u} on {}", device.info());
        }
    }
    Ok(())
}

/// Recurrent dropout (one mask per gate, `[G, B, U]`, drawn once per sequence) in the
/// persistent kernels against the CPU reference: gate g's recurrent product reads
/// h(t - 1) ⊙ r_g, a GRU's z-path and every saved state the undropped h(t - 1), a GRU resetting
/// before the product saves hn = r ⊙ (h(t - 1) ⊙ r_h); backward, the gradient through h(t - 1)
/// is Σ_g (dhz_g · R_gᵀ) ⊙ r_g. Awkward units and batches, masks, initial states, poisoned
/// outputs.
#[test]
fn recurrent_dropout_in_the_persistent_kernels_matches_cpu() {
    let mut rng = rng("recurrent_persistent_rdrop");
    for (b, t, u) in [(1, 3, 1), (5, 4, 7), (67, 3, 33), (5, 3, 129), (2, 2, 256)] {
        for cell in CELLS {
            let x = inputs(&mut rng, cell, (b, t, u));
            for (masked, from_h0) in [(false, false), (true, true)] {
                let name = format!("{cell:?} B={b} T={t} U={u} masked={masked} h0={from_h0} rdrop");
                cross_check(&name, &x, TOL, |x| {
                    cell.run_with(x, (masked, from_h0, true), RecurrentKernel::Persistent)
                });
            }
        }
    }
}

/// Forward + backward (from the last state) at B = 64, T = 100, U = 32, 64 and 128 (or the
/// `BxTxU` shapes in `WGFIT_RNN_SHAPES`, comma-separated) of each cell with each kernel on
/// the suite's adapter, best of `WGFIT_RNN_REPS` (3): milliseconds per pass, for
/// BENCHMARKS.md. Run by hand:
/// `cargo test --release --test ops_recurrent_persistent -- --ignored --nocapture time_`.
#[test]
#[ignore]
fn time_persistent_and_per_step_kernels_by_hand() -> wgfit::Result<()> {
    if gpu().is_none() {
        return Ok(());
    }
    let device = Device::gpu_with(GpuOptions::default())?;
    let mut rng = rng("recurrent_persistent_timing");
    let reps: u32 = std::env::var("WGFIT_RNN_REPS").map_or(3, |r| r.parse().unwrap_or(3));
    let shapes =
        std::env::var("WGFIT_RNN_SHAPES").unwrap_or("64x100x32,64x100x64,64x100x128".into());
    for shape in shapes.split(',') {
        let d: Vec<usize> = shape
            .split('x')
            .map(|v| v.parse().expect("BxTxU"))
            .collect();
        for cell in CELLS {
            let x = tensors(&device, &inputs(&mut rng, cell, (d[0], d[1], d[2])))?;
            // The kernels take turns, and the best of each is reported: this VM's other work
            // only ever adds time.
            let mut best = [f64::INFINITY; 2];
            for rep in 0..=reps {
                for (i, &k) in KERNELS.iter().enumerate() {
                    let start = std::time::Instant::now();
                    cell.pass(&x, k)?.to_vec_blocking()?;
                    if rep > 0 {
                        best[i] = best[i].min(start.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
            println!(
                "{cell:?} B={} T={} U={}: per-step {:.1} ms, persistent {:.1} ms ({:.2}x) \
                 forward+backward, best of {reps} on {}",
                d[0],
                d[1],
                d[2],
                best[0],
                best[1],
                best[1] / best[0],
                device.info()
            );
        }
    }
    Ok(())
}
