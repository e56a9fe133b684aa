//! The GRU cell kernels against their CPU twin (the recurrent driver's GRU cell): forward over
//! all steps and backward through time, for both reset variants, with and without a mask
//! (rows padded before, after, both, or wholly), from the last state or from every step's
//! output, for units of 1, primes, past one workgroup (256 invocations) and batches the CPU
//! splits over threads, on poisoned outputs and (second device) a grid split over two
//! dimensions. Then the gradients against finite differences on the CPU, and the kernel
//! choice.

mod common;

use common::{Input, Tol, cross_check, random_mask as mask, rng, uniform};
use wgfit::ops::gru_cell::{GruReset, RecurrentKernel, gru_backward_with, gru_forward_with};
use wgfit::{Device, Tensor};

/// The LSTM's tolerance (tests/ops_lstm_cell.rs): 1e-5 of each output's norm, and every
/// element within 2e-4 of its magnitude (or of 1e-2 of the output's largest).
const GRU_TOL: Tol = Tol::NormAndScaled {
    norm: 1e-5,
    element: 2e-4,
};

/// Inputs: xp [B, T, 3U], rk [U, 3U], rb [3U], mask [B, T], dh [B, U], dy [B, T, U].
fn inputs(rng: &mut rand::rngs::StdRng, b: usize, t: usize, u: usize) -> [Input; 6] {
    // Recurrent weights scaled like an orthogonal matrix's entries.
    let scale = 1.0 / (u as f32).sqrt();
    [
        (vec![b, t, 3 * u], uniform(rng, b * t * 3 * u, -2.0, 2.0)),
        (vec![u, 3 * u], uniform(rng, u * 3 * u, -scale, scale)),
        (vec![3 * u], uniform(rng, 3 * u, -0.5, 0.5)),
        (vec![b, t], mask(rng, b, t)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, t, u], uniform(rng, b * t * u, -1.0, 1.0)),
    ]
}

fn reset(after: bool, rb: &Tensor) -> GruReset<'_> {
    if after {
        GruReset::After(rb)
    } else {
        GruReset::Before
    }
}

#[test]
fn gru_forward_and_backward_match_cpu_for_both_reset_variants() {
    let mut rng = rng("gru_cell");
    for &(b, t, u) in &[
        (1, 1, 1),
        (2, 7, 3),
        (3, 5, 13),
        (5, 9, 64),
        (4, 3, 67),
        (2, 5, 131),
        (2, 4, 257),
        // past the CPU's threading threshold (2^16 cell-steps): rows split over threads
        (67, 31, 40),
    ] {
        let inputs = inputs(&mut rng, b, t, u);
        for (after, masked) in [(true, false), (true, true), (false, false), (false, true)] {
            let name = format!("gru B={b} T={t} U={u} reset_after={after} masked={masked}");
            cross_check(&name, &inputs, GRU_TOL, |x| {
                let mask = masked.then_some(&x[3]);
                let kernel = RecurrentKernel::PerStep;
                let s = gru_forward_with(&x[0], &x[1], reset(after, &x[2]), mask, kernel)?;
                let from_last = gru_backward_with(&s, &x[1], mask, Some(&x[4]), None, kernel)?;
                let from_seq = gru_backward_with(&s, &x[1], mask, None, Some(&x[5]), kernel)?;
                Ok(vec![s.hseq, s.gates, s.hprev, s.hn, from_last, from_seq])
            });
        }
    }
}

/// A masked step carries h (so the last step holds the state of the last unmasked one) and
/// has zero gate gradients, on the CPU and on the GPU alike (cross_check above compares them).
#[test]
fn masked_steps_carry_h_and_get_no_gradient() -> wgfit::Result<()> {
    let mut rng = rng("gru_masked");
    let (b, t, u) = (3, 6, 5);
    let x = inputs(&mut rng, b, t, u);
    let device = Device::cpu();
    let tensor = |i: usize| Tensor::from_vec(&device, x[i].0.clone(), x[i].1.clone());
    let (xp, rk, rb) = (tensor(0)?, tensor(1)?, tensor(2)?);
    // row 0 post-padded after 2 steps, row 1 pre-padded by 3, row 2 unmasked
    let mut m = vec![1.0; b * t];
    m[2..6].fill(0.0);
    m[6..9].fill(0.0);
    let mask = Tensor::from_vec(&device, [b, t], m.clone())?;
    for after in [true, false] {
        let s = gru_forward_with(
            &xp,
            &rk,
            reset(after, &rb),
            Some(&mask),
            RecurrentKernel::Auto,
        )?;
        let h = s.hseq.to_vec_blocking()?;
        for step in 2..6 {
            assert_eq!(
                h[step * u..(step + 1) * u],
                h[u..2 * u],
                "row 0 step {step}"
            );
        }
        // pre-padding: the state is zero until the first kept step
        assert!(h[t * u..(t + 3) * u].iter().all(|&v| v == 0.0));
        assert!(h[(t + 3) * u..(t + 4) * u].iter().any(|&v| v != 0.0));
        let dy = Tensor::from_vec(&device, [b, t, u], x[5].1.clone())?;
        let dz = gru_backward_with(&s, &rk, Some(&mask), None, Some(&dy), RecurrentKernel::Auto)?
            .to_vec_blocking()?;
        for (bt, &keep) in m.iter().enumerate() {
            let row = &dz[bt * 3 * u..(bt + 1) * 3 * u];
            assert_eq!(keep == 0.0, row.iter().all(|&v| v == 0.0), "step {bt}");
        }
    }
    Ok(())
}

/// dz is the gradient of `Σ dh_last · h_T + Σ dy · hseq` w.r.t. xp: checked against central
/// differences of the CPU forward (f64 sums of f32 states), for both variants, with a mask.
#[test]
fn gradients_match_finite_differences_on_the_cpu() -> wgfit::Result<()> {
    let mut rng = rng("gru_fd");
    let (b, t, u) = (2, 4, 3);
    let x = inputs(&mut rng, b, t, u);
    let device = Device::cpu();
    let tensor = |v: &[f32], dims: &[usize]| Tensor::from_vec(&device, dims.to_vec(), v.to_vec());
    let mut m = vec![1.0; b * t];
    m[3] = 0.0; // row 0 post-padded by one
    m[4] = 0.0; // row 1 pre-padded by one
    let mask = tensor(&m, &[b, t])?;
    let (rk, rb, dy) = (
        tensor(&x[1].1, &[u, 3 * u])?,
        tensor(&x[2].1, &[3 * u])?,
        &x[5].1,
    );
    for after in [true, false] {
        let loss = |xp: &[f32]| -> wgfit::Result<f64> {
            let s = gru_forward_with(
                &tensor(xp, &[b, t, 3 * u])?,
                &rk,
                reset(after, &rb),
                Some(&mask),
                RecurrentKernel::Auto,
            )?;
            let h = s.hseq.to_vec_blocking()?;
            Ok(h.iter()
                .zip(dy)
                .map(|(&h, &d)| f64::from(h) * f64::from(d))
                .sum())
        };
        let xp = &x[0].1;
        let s = gru_forward_with(
            &tensor(xp, &[b, t, 3 * u])?,
            &rk,
            reset(after, &rb),
            Some(&mask),
            RecurrentKernel::Auto,
        )?;
        let dz = gru_backward_with(
            &s,
            &rk,
            Some(&mask),
            None,
            Some(&tensor(dy, &[b, t, u])?),
            RecurrentKernel::Auto,
        )?
        .to_vec_blocking()?;
        let eps = 1e-2f32;
        for i in 0..xp.len() {
            let (mut plus, mut minus) = (xp.clone(), xp.clone());
            plus[i] += eps;
            minus[i] -= eps;
            let fd = (loss(&plus)? - loss(&minus)?) / (2.0 * f64::from(eps));
            let err = (fd - f64::from(dz[i])).abs();
            assert!(
                err <= 2e-3 * (1.0 + fd.abs()),
                "reset_after={after} xp[{i}]: dz {} vs finite differences {fd}",
                dz[i]
            );
        }
    }
    Ok(())
}

/// At 8 units `Auto` runs the per-step kernels on a software adapter (as many dispatches as
/// `PerStep`: one per step forward and two backward with reset_after, two and three before
/// the product) and the persistent ones on a hardware GPU, which take fewer dispatches; on
/// the CPU every choice runs the same reference. (tests/ops_recurrent_persistent.rs checks
/// the persistent kernels' results and the choice at its edges.)
#[test]
fn auto_follows_the_adapter_and_persistent_takes_fewer_dispatches() -> wgfit::Result<()> {
    let mut rng = rng("gru_kernel");
    let (b, t, u) = (3, 5, 8);
    let x = inputs(&mut rng, b, t, u);
    let mut devices = vec![Device::cpu()];
    if common::gpu().is_some() {
        devices.push(Device::gpu_with(wgfit::GpuOptions::default())?);
    }
    for device in &devices {
        let tensor = |i: usize| Tensor::from_vec(device, x[i].0.clone(), x[i].1.clone());
        let (xp, rk, rb, dh) = (tensor(0)?, tensor(1)?, tensor(2)?, tensor(4)?);
        let software = matches!(device.info(), wgfit::DeviceInfo::Gpu { ref device_type, .. } if device_type == "Cpu");
        for after in [true, false] {
            let run = |kernel| -> wgfit::Result<u64> {
                let count = || device.gpu_context().map_or(0, |c| c.counters().dispatches);
                let before = count();
                let s = gru_forward_with(&xp, &rk, reset(after, &rb), None, kernel)?;
                gru_backward_with(&s, &rk, None, Some(&dh), None, kernel)?;
                Ok(count() - before)
            };
            let (auto, per_step) = (run(RecurrentKernel::Auto)?, run(RecurrentKernel::PerStep)?);
            let persistent = run(RecurrentKernel::Persistent)?;
            if device.gpu_context().is_some() {
                // per step: 1 + 2 (after) or 2 + 3 (before), and one transpose of rk
                let per = if after { 3 } else { 5 };
                assert!(per_step >= per * t as u64, "{per_step} dispatches");
                assert!(persistent < per_step, "{persistent} vs {per_step}");
                assert_eq!(auto, if software { per_step } else { persistent });
            }
        }
    }
    Ok(())
}

/// Shapes are checked on the host: a recurrent kernel that is not [U, 3U], a recurrent bias
/// that is not [3U] and a dh_last that is not [B, U] are Shape errors, not panics.
#[test]
fn bad_shapes_are_shape_errors() -> wgfit::Result<()> {
    let device = Device::cpu();
    let xp = Tensor::zeros(&device, [2, 3, 6])?;
    let rk = Tensor::zeros(&device, [2, 6])?;
    let bad_rk = Tensor::zeros(&device, [2, 8])?;
    let bad_rb = Tensor::zeros(&device, [4])?;
    let k = RecurrentKernel::Auto;
    let shape = |r: wgfit::Result<_>| matches!(r, Err(wgfit::Error::Shape(_)));
    assert!(shape(
        gru_forward_with(&xp, &bad_rk, GruReset::Before, None, k).map(|_| ())
    ));
    assert!(shape(
        gru_forward_with(&xp, &rk, GruReset::After(&bad_rb), None, k).map(|_| ())
    ));
    let s = gru_forward_with(&xp, &rk, GruReset::Before, None, k)?;
    let bad_dh = Tensor::zeros(&device, [3, 2])?;
    assert!(shape(
        gru_backward_with(&s, &rk, None, Some(&bad_dh), None, k).map(|_| ())
    ));
    Ok(())
}
