//! The LSTM cell kernels against their CPU twins: forward over all steps and backward through
//! time, per-step and persistent, with and without a mask, from the last state or from every
//! step's output, for units below, at and past a workgroup and not a multiple of it (the
//! persistent kernels' one, two and four gates per invocation, and their limit), and a batch
//! the CPU splits over threads. Outputs are poisoned beforehand.

mod common;

use common::{Input, Tol, cross_check, rng, uniform};
use rand::Rng;
use wgfit::ops::lstm_cell::{
    LstmKernel, PERSISTENT_MAX_UNITS, lstm_backward_with, lstm_forward_with,
};

fn mask(rng: &mut rand::rngs::StdRng, b: usize, t: usize) -> Vec<f32> {
    // Each row keeps a random run of steps, padded before, after or both; row 0 keeps none.
    let mut m = vec![0.0; b * t];
    for row in 1..b {
        let start = rng.random_range(0..t);
        let end = rng.random_range(start + 1..=t);
        m[row * t + start..row * t + end].fill(1.0);
    }
    m
}

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
                Tol::Norm(1e-5),
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

/// `LstmKernel::Auto` picks per-step dispatches on a software adapter (measured faster there)
/// and the persistent kernels on a hardware GPU when the units fit them; a context opened with
/// `GpuOptions::lstm_kernel` runs that kernel under `Auto`. Told apart by the number of
/// dispatches each records, forward and backward.
#[test]
fn auto_kernel_follows_the_adapter_the_units_and_the_context() -> wgfit::Result<()> {
    // Contexts of this test's own: the suite's shared one counts the other tests' dispatches.
    if common::gpu().is_none() {
        return Ok(());
    }
    let device = wgfit::Device::gpu_with(wgfit::GpuOptions::default())?;
    let software = matches!(device.info(), wgfit::DeviceInfo::Gpu { ref device_type, .. } if device_type == "Cpu");
    let persistent_ctx = wgfit::Device::gpu_with(wgfit::GpuOptions {
        lstm_kernel: LstmKernel::Persistent,
        ..wgfit::GpuOptions::default()
    })?;
    let per_step_ctx = wgfit::Device::gpu_with(wgfit::GpuOptions {
        lstm_kernel: LstmKernel::PerStep,
        ..wgfit::GpuOptions::default()
    })?;
    let mut rng = rng("lstm_auto");
    let (b, t) = (3, 5);
    for u in [8, 128, PERSISTENT_MAX_UNITS + 1] {
        let xp = uniform(&mut rng, b * t * 4 * u, -1.0, 1.0);
        let rk = uniform(&mut rng, 4 * u * u, -0.1, 0.1);
        let dh = uniform(&mut rng, b * u, -1.0, 1.0);
        // Dispatches of a forward and a backward pass with `kernel` on `device`.
        let dispatches = |device: &wgfit::Device, kernel| -> wgfit::Result<u64> {
            let ctx = device.gpu_context().expect("a GPU device");
            let xp = wgfit::Tensor::from_vec(device, [b, t, 4 * u], xp.clone())?;
            let rk = wgfit::Tensor::from_vec(device, [u, 4 * u], rk.clone())?;
            let dh = wgfit::Tensor::from_vec(device, [b, u], dh.clone())?;
            let before = ctx.counters().dispatches;
            let s = lstm_forward_with(&xp, &rk, None, kernel)?;
            lstm_backward_with(&s, &rk, None, Some(&dh), None, kernel)?;
            Ok(ctx.counters().dispatches - before)
        };
        let per_step = dispatches(&device, LstmKernel::PerStep)?;
        let auto = dispatches(&device, LstmKernel::Auto)?;
        let fits = u <= PERSISTENT_MAX_UNITS;
        if software || !fits {
            assert_eq!(auto, per_step, "U={u} on {}", device.info());
        } else {
            assert_eq!(auto, dispatches(&device, LstmKernel::Persistent)?, "U={u}");
        }
        // A context's option rules `Auto`, and an explicit kernel rules the context's option.
        assert_eq!(
            dispatches(&per_step_ctx, LstmKernel::Auto)?,
            per_step,
            "U={u}"
        );
        if fits {
            let persistent = dispatches(&device, LstmKernel::Persistent)?;
            assert!(persistent < per_step, "U={u}: {persistent} vs {per_step}");
            assert_eq!(dispatches(&persistent_ctx, LstmKernel::Auto)?, persistent);
            assert_eq!(dispatches(&persistent_ctx, LstmKernel::PerStep)?, per_step);
        } else {
            // Past the persistent kernels' units, asking for them is a Config error naming
            // the limit, from the op or through the context's option.
            for (result, source) in [
                (dispatches(&device, LstmKernel::Persistent), "was passed to"),
                (dispatches(&persistent_ctx, LstmKernel::Auto), "GpuOptions"),
            ] {
                match result {
                    Err(wgfit::Error::Config(msg)) => assert!(
                        msg.contains(&format!("an LSTM of {u} units"))
                            && msg.contains("at most 256 units")
                            && msg.contains(source),
                        "{msg}"
                    ),
                    other => panic!("U={u}: expected a Config error, got {other:?}"),
                }
            }
        }
    }
    Ok(())
}
