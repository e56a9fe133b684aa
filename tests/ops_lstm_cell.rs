//! The LSTM cell kernels against their CPU twins: forward over all steps and backward through
//! time, per-step and persistent, with and without a mask, from the last state or from every
//! step's output, for units below, at and past a workgroup and not a multiple of it (the
//! persistent kernels' one, two and four gates per invocation, and their limit), and a batch
//! the CPU splits over threads. Outputs are poisoned beforehand.

mod common;

use common::{Input, Tol, cross_check, random_mask as mask, rng, uniform};
use wgfit::ops::lstm_cell::{
    AUTO_PERSISTENT_MAX_UNITS, LstmKernel, PERSISTENT_MAX_UNITS, SOFTWARE_PERSISTENT_MIN_UNITS,
    lstm_backward_with, lstm_forward_with,
};

/// 1e-5 of each output's norm, and every element within 2e-4 of its magnitude (or of 1e-2
/// of the output's largest, if larger). Per element lavapipe met at most 5.6e-5 over nine
/// seeds (in the hidden states at 256 units, where 256-term dot products add in another
/// order than the CPU's), so 2e-4 leaves room without hiding a 0.6% error.
const LSTM_TOL: Tol = Tol::NormAndScaled {
    norm: 1e-5,
    element: 2e-4,
};

#[test]
fn lstm_forward_and_backward_match_cpu() {
    let mut rng = rng("lstm_cell");
    for &(b, t, u) in &[
        (1, 1, 1),
        (2, 7, 3),
        (3, 5, 13),
        (5, 9, 64),
        (4, 3, 67),
        (3, 6, 128),
        (2, 5, 131),
        (2, 4, 256),
        (2, 4, 257),
        // past the CPU's threading threshold (2^16 cell-steps): rows split over threads, and
        // full 6-row register blocks in the CPU's step GEMM
        (67, 31, 40),
    ] {
        let xp: Input = (
            vec![b, t, 4 * u],
            uniform(&mut rng, b * t * 4 * u, -2.0, 2.0),
        );
        // Recurrent weights scaled like an orthogonal matrix's entries.
        let scale = 1.0 / (u as f32).sqrt();
        let rk: Input = (vec![u, 4 * u], uniform(&mut rng, u * 4 * u, -scale, scale));
        let m: Input = (vec![b, t], mask(&mut rng, b, t));
        let dh: Input = (vec![b, u], uniform(&mut rng, b * u, -1.0, 1.0));
        let dy: Input = (vec![b, t, u], uniform(&mut rng, b * t * u, -1.0, 1.0));
        let name = format!("lstm B={b} T={t} U={u}");
        let inputs = [xp, rk, m, dh, dy];
        let kernels: &[LstmKernel] = if u <= PERSISTENT_MAX_UNITS {
            &[LstmKernel::PerStep, LstmKernel::Persistent]
        } else {
            &[LstmKernel::PerStep]
        };
        for (masked, &kernel) in [false, true]
            .into_iter()
            .flat_map(|m| kernels.iter().map(move |k| (m, k)))
        {
            cross_check(
                &format!("{name} masked={masked} {kernel:?}"),
                &inputs,
                LSTM_TOL,
                |x| {
                    let mask = masked.then_some(&x[2]);
                    let s = lstm_forward_with(&x[0], &x[1], mask, kernel)?;
                    let from_last = lstm_backward_with(&s, &x[1], mask, Some(&x[3]), None, kernel)?;
                    let from_seq = lstm_backward_with(&s, &x[1], mask, None, Some(&x[4]), kernel)?;
                    Ok(vec![s.hseq, s.cseq, s.gates, s.hprev, from_last, from_seq])
                },
            );
        }
    }
}

/// `LstmKernel::Auto` picks the persistent kernels on a software adapter from
/// `SOFTWARE_PERSISTENT_MIN_UNITS` units (measured faster there) and on a hardware GPU up to
/// `AUTO_PERSISTENT_MAX_UNITS` (reasoned), per-step dispatches otherwise: the op decides from
/// the adapter's facts. Told apart by the number of dispatches each records, forward and
/// backward.
#[test]
fn auto_kernel_follows_the_adapter_and_the_units() -> wgfit::Result<()> {
    // A context of this test's own: the suite's shared one counts the other tests' dispatches.
    if common::gpu().is_none() {
        return Ok(());
    }
    let device = wgfit::Device::gpu_with(wgfit::GpuOptions::default())?;
    let software = matches!(device.info(), wgfit::DeviceInfo::Gpu { ref device_type, .. } if device_type == "Cpu");
    let mut rng = rng("lstm_auto");
    let (b, t) = (3, 5);
    let edges = [
        SOFTWARE_PERSISTENT_MIN_UNITS - 1,
        SOFTWARE_PERSISTENT_MIN_UNITS,
    ];
    for u in [8, AUTO_PERSISTENT_MAX_UNITS, 128, PERSISTENT_MAX_UNITS + 1]
        .into_iter()
        .chain(edges)
    {
        let xp = uniform(&mut rng, b * t * 4 * u, -1.0, 1.0);
        let rk = uniform(&mut rng, 4 * u * u, -0.1, 0.1);
        let dh = uniform(&mut rng, b * u, -1.0, 1.0);
        // Dispatches of a forward and a backward pass with `kernel` on `device`.
        let dispatches = |kernel| -> wgfit::Result<u64> {
            let ctx = device.gpu_context().expect("a GPU device");
            let xp = wgfit::Tensor::from_vec(&device, [b, t, 4 * u], xp.clone())?;
            let rk = wgfit::Tensor::from_vec(&device, [u, 4 * u], rk.clone())?;
            let dh = wgfit::Tensor::from_vec(&device, [b, u], dh.clone())?;
            let before = ctx.counters().dispatches;
            let s = lstm_forward_with(&xp, &rk, None, kernel)?;
            lstm_backward_with(&s, &rk, None, Some(&dh), None, kernel)?;
            Ok(ctx.counters().dispatches - before)
        };
        let per_step = dispatches(LstmKernel::PerStep)?;
        let auto = dispatches(LstmKernel::Auto)?;
        let fits = u <= PERSISTENT_MAX_UNITS;
        let persistent_auto = if software {
            (SOFTWARE_PERSISTENT_MIN_UNITS..=PERSISTENT_MAX_UNITS).contains(&u)
        } else {
            u <= AUTO_PERSISTENT_MAX_UNITS
        };
        if !persistent_auto {
            assert_eq!(auto, per_step, "U={u} on {}", device.info());
        } else {
            assert_eq!(auto, dispatches(LstmKernel::Persistent)?, "U={u}");
        }
        if fits {
            let persistent = dispatches(LstmKernel::Persistent)?;
            assert!(persistent < per_step, "U={u}: {persistent} vs {per_step}");
        } else {
            // Past the persistent kernels' units, asking for them is a Config error naming
            // the limit and where the choice is made.
            match dispatches(LstmKernel::Persistent) {
                Err(wgfit::Error::Config(msg)) => assert!(
                    msg.contains(&format!("an LSTM of {u} units"))
                        && msg.contains("at most 256 units")
                        && msg.contains("Lstm::kernel"),
                    "{msg}"
                ),
                other => panic!("U={u}: expected a Config error, got {other:?}"),
            }
        }
    }
    Ok(())
}

/// `Lstm::kernel` reaches the op: a training step of a model whose LSTM asks for the
/// persistent kernels records fewer dispatches than one asking for per-step dispatches, and
/// `Auto` records what the adapter's choice records.
#[test]
fn the_layer_runs_the_kernel_it_was_built_with() -> wgfit::Result<()> {
    use wgfit::prelude::*;
    if common::gpu().is_none() {
        return Ok(());
    }
    let device = Device::gpu_with(wgfit::GpuOptions::default())?;
    let software = matches!(device.info(), wgfit::DeviceInfo::Gpu { ref device_type, .. } if device_type == "Cpu");
    let (b, t, f, u) = (4, 6, 3, 8);
    let x = ndarray::Array3::from_shape_fn((b, t, f), |(i, j, k)| (i + j + k) as f32 / 10.0);
    let y = ndarray::Array1::from_shape_fn(b, |i| (i % 2) as f32);
    let step = |kernel: LstmKernel| -> wgfit::Result<(u64, Vec<f32>)> {
        let mut model = Sequential::new()
            .seed(3)
            .add(Lstm::new(u).kernel(kernel).input_shape([None, Some(f)]))
            .add(Dense::new(1).activation(Activation::Sigmoid));
        model.compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])?;
        let ctx = device.gpu_context().expect("a GPU device");
        let before = ctx.counters().dispatches;
        model.train_on_batch(&x, &y)?;
        let dispatches = ctx.counters().dispatches - before;
        let weights = model.get_weights()?;
        Ok((dispatches, weights[1].1.iter().copied().collect()))
    };
    let (per_step, w_per_step) = step(LstmKernel::PerStep)?;
    let (persistent, w_persistent) = step(LstmKernel::Persistent)?;
    let (auto, _) = step(LstmKernel::Auto)?;
    assert!(persistent < per_step, "{persistent} vs {per_step}");
    assert_eq!(auto, if software { per_step } else { persistent });
    // The same training step either way (the recurrent kernel after one Adam update).
    let err = common::max_rel_err(&w_persistent, &w_per_step);
    assert!(err < 1e-4, "{err}");

    // Too many units for the persistent kernels: the layer's choice is refused by name.
    let mut wide = Sequential::new().add(
        Lstm::new(PERSISTENT_MAX_UNITS + 1)
            .kernel(LstmKernel::Persistent)
            .input_shape([None, Some(f)]),
    );
    wide.compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    match wide.predict(&x) {
        Err(Error::Config(msg)) => assert!(msg.contains("Lstm::kernel"), "{msg}"),
        other => panic!("expected a Config error, got {other:?}"),
    }
    Ok(())
}

/// The per-element comparison catches one wrong element that a norm could hide: a CPU
/// forward's cell states, one of them (the smallest at or above the floor) off by 0.6%.
#[test]
fn one_wrong_lstm_element_fails_the_comparison() -> wgfit::Result<()> {
    let mut rng = rng("lstm_planted");
    let (b, t, u) = (67, 31, 40);
    let device = wgfit::Device::cpu();
    let xp = uniform(&mut rng, b * t * 4 * u, -2.0, 2.0);
    let scale = 1.0 / (u as f32).sqrt();
    let rk = uniform(&mut rng, u * 4 * u, -scale, scale);
    let xp = wgfit::Tensor::from_vec(&device, [b, t, 4 * u], xp)?;
    let rk = wgfit::Tensor::from_vec(&device, [u, 4 * u], rk)?;
    let want = lstm_forward_with(&xp, &rk, None, LstmKernel::PerStep)?
        .cseq
        .to_vec_blocking()?;
    let floor = 1e-2 * want.iter().fold(0.0f32, |m, &c| m.max(c.abs()));
    let i = (0..want.len())
        .filter(|&i| want[i].abs() >= floor)
        .min_by(|&i, &j| want[i].abs().total_cmp(&want[j].abs()))
        .unwrap();
    let mut got = want.clone();
    got[i] *= 1.006;
    let (err, limit) = LSTM_TOL.err(&got, &want);
    assert!(err > limit, "element {i} off by 0.6% passes: {err:e}");
    // By norm alone the one element is lost in the whole.
    let (norm_err, norm_limit) = Tol::Norm(1e-5).err(&got, &want);
    eprintln!("planted element {i}: per element {err:e}, by norm {norm_err:e}");
    assert!(norm_err <= norm_limit, "{norm_err:e}");
    Ok(())
}

/// The persistent kernels run four batch rows per workgroup and split each unit's dot
/// products over up to eight invocations: against the CPU for units of every kind of plan
/// (1; 3 and 7, split as many ways as units; 33 past the on-chip recurrent kernel; 129 and
/// 256 unsplit), batches that leave a block part empty (1, 3, 5, 13; 13 also splits the grid
/// on the second device), rows padded before, after or both, and poisoned outputs.
#[test]
fn row_blocked_persistent_kernels_match_cpu_for_awkward_units_and_batches() {
    let mut rng = rng("lstm_blocked");
    let t = 4;
    for (i, &u) in [1, 3, 7, 33, 129, 256].iter().enumerate() {
        for (j, &b) in [1, 3, 5, 13].iter().enumerate() {
            let scale = 1.0 / (u as f32).sqrt();
            let mut m = mask(&mut rng, b, t);
            // Row 0 keeps its first steps and pads the rest (mask() left it all padding).
            m[..1 + (i + j) % t].fill(1.0);
            let inputs: [Input; 5] = [
                (
                    vec![b, t, 4 * u],
                    uniform(&mut rng, b * t * 4 * u, -2.0, 2.0),
                ),
                (vec![u, 4 * u], uniform(&mut rng, u * 4 * u, -scale, scale)),
                (vec![b, t], m),
                (vec![b, u], uniform(&mut rng, b * u, -1.0, 1.0)),
                (vec![b, t, u], uniform(&mut rng, b * t * u, -1.0, 1.0)),
            ];
            for masked in [false, true] {
                let name = format!("blocked lstm B={b} T={t} U={u} masked={masked}");
                cross_check(&name, &inputs, LSTM_TOL, |x| {
                    let mask = masked.then_some(&x[2]);
                    let kernel = LstmKernel::Persistent;
                    let s = lstm_forward_with(&x[0], &x[1], mask, kernel)?;
                    let from_last = lstm_backward_with(&s, &x[1], mask, Some(&x[3]), None, kernel)?;
                    let from_seq = lstm_backward_with(&s, &x[1], mask, None, Some(&x[4]), kernel)?;
                    Ok(vec![s.hseq, s.cseq, s.gates, s.hprev, from_last, from_seq])
                });
            }
        }
    }
}

/// An LSTM of zero units has empty states and gradients on every kernel, not a panic (the
/// persistent kernels have no zero-sized workgroup to build).
#[test]
fn zero_units_give_empty_outputs_on_every_kernel() {
    let (b, t) = (3, 2);
    let inputs: [Input; 3] = [
        (vec![b, t, 0], vec![]),
        (vec![0, 0], vec![]),
        (vec![b, 0], vec![]),
    ];
    for kernel in [
        LstmKernel::Auto,
        LstmKernel::PerStep,
        LstmKernel::Persistent,
    ] {
        cross_check(&format!("lstm U=0 {kernel:?}"), &inputs, LSTM_TOL, |x| {
            let s = lstm_forward_with(&x[0], &x[1], None, kernel)?;
            let dz = lstm_backward_with(&s, &x[1], None, Some(&x[2]), None, kernel)?;
            assert_eq!((s.hseq.dims(), dz.dims()), (&[b, t, 0][..], &[b, t, 0][..]));
            Ok(vec![s.hseq, s.cseq, s.gates, s.hprev, dz])
        });
    }
}

/// The partial sums of a unit's split dot products are added in a fixed order: the persistent
/// kernels give the same bits on every run, and on a grid split over two dimensions.
#[test]
fn row_blocked_persistent_kernels_are_deterministic() -> wgfit::Result<()> {
    let mut rng = rng("lstm_blocked_determinism");
    let (b, t) = (13, 6);
    for u in [7, 64, 128] {
        let xp = uniform(&mut rng, b * t * 4 * u, -2.0, 2.0);
        let rk = uniform(&mut rng, 4 * u * u, -0.2, 0.2);
        let dy = uniform(&mut rng, b * t * u, -1.0, 1.0);
        let run = |device: &wgfit::Device| -> wgfit::Result<Vec<Vec<u32>>> {
            let xp = wgfit::Tensor::from_vec(device, [b, t, 4 * u], xp.clone())?;
            let rk = wgfit::Tensor::from_vec(device, [u, 4 * u], rk.clone())?;
            let dy = wgfit::Tensor::from_vec(device, [b, t, u], dy.clone())?;
            let kernel = LstmKernel::Persistent;
            let s = lstm_forward_with(&xp, &rk, None, kernel)?;
            let dz = lstm_backward_with(&s, &rk, None, None, Some(&dy), kernel)?;
            [s.hseq, dz]
                .iter()
                .map(|t| Ok(t.to_vec_blocking()?.iter().map(|v| v.to_bits()).collect()))
                .collect()
        };
        let devices: Vec<_> = [common::gpu(), common::gpu_split()]
            .into_iter()
            .flatten()
            .collect();
        if let Some(first) = devices.first() {
            let want = run(first)?;
            for device in devices.iter().chain(&devices) {
                assert!(run(device)? == want, "U={u}: another run, other bits");
            }
        }
    }
    Ok(())
}

/// Forward + backward (from the last state) at B = 64, T = 100, U = 32 and 128 (or the
/// `BxTxU` shapes in `WGFIT_LSTM_SHAPES`, comma-separated) with each kernel on the suite's
/// adapter: milliseconds per pass and dispatches, for BENCHMARKS.md. Run by hand:
/// `cargo test --release --test ops_lstm_cell -- --ignored --nocapture time_`.
#[test]
#[ignore]
fn time_lstm_kernels_by_hand() -> wgfit::Result<()> {
    if common::gpu().is_none() {
        return Ok(());
    }
    let device = wgfit::Device::gpu_with(wgfit::GpuOptions::default())?;
    let ctx = device.gpu_context().expect("a GPU device");
    let mut rng = rng("lstm_timing");
    let reps: u32 = std::env::var("WGFIT_LSTM_REPS").map_or(3, |r| r.parse().unwrap_or(3));
    let shapes = std::env::var("WGFIT_LSTM_SHAPES").unwrap_or("64x100x32,64x100x128".into());
    for shape in shapes.split(',') {
        let d: Vec<usize> = shape
            .split('x')
            .map(|v| v.parse().expect("BxTxU"))
            .collect();
        let (b, t, u) = (d[0], d[1], d[2]);
        let xp = wgfit::Tensor::from_vec(
            &device,
            [b, t, 4 * u],
            uniform(&mut rng, b * t * 4 * u, -2.0, 2.0),
        )?;
        let rk =
            wgfit::Tensor::from_vec(&device, [u, 4 * u], uniform(&mut rng, 4 * u * u, -0.1, 0.1))?;
        let dh = wgfit::Tensor::from_vec(&device, [b, u], uniform(&mut rng, b * u, -1.0, 1.0))?;
        let pass = |kernel| -> wgfit::Result<(u64, u64)> {
            let before = ctx.counters().dispatches;
            let s = lstm_forward_with(&xp, &rk, None, kernel)?;
            let forward = ctx.counters().dispatches - before;
            let dz = lstm_backward_with(&s, &rk, None, Some(&dh), None, kernel)?;
            dz.to_vec_blocking()?;
            Ok((forward, ctx.counters().dispatches - before - forward))
        };
        // The kernels take turns, and the best of each is reported: this VM's other work
        // only ever adds time.
        let kernels = [LstmKernel::PerStep, LstmKernel::Persistent];
        let mut best = [f64::INFINITY; 2];
        let mut counts = [(0, 0); 2];
        for rep in 0..=reps {
            for (i, &kernel) in kernels.iter().enumerate() {
                let start = std::time::Instant::now();
                counts[i] = pass(kernel)?;
                if rep > 0 {
                    best[i] = best[i].min(start.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        for (i, kernel) in kernels.iter().enumerate() {
            println!(
                "lstm B={b} T={t} U={u} {kernel:?}: best {:.1} ms forward+backward of {reps}, {} + {} dispatches, on {}",
                best[i],
                counts[i].0,
                counts[i].1,
                device.info()
            );
        }
    }
    Ok(())
}
