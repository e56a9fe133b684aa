//! The LSTM cell kernels against their CPU twins: forward over all steps and backward through
//! time, with and without a mask, from the last state or from every step's output, for units
//! below, at and past a workgroup and not a multiple of it, and a batch the CPU splits over
//! threads. Outputs are poisoned beforehand.

mod common;

use common::{Input, Tol, cross_check, rng, uniform};
use rand::Rng;
use wgfit::ops::lstm_cell::{LstmKernel, PERSISTENT_MAX_UNITS, lstm_backward, lstm_forward_with};

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
                    let from_last = lstm_backward(&s, &x[1], mask, Some(&x[3]), None)?;
                    let from_seq = lstm_backward(&s, &x[1], mask, None, Some(&x[4]))?;
                    Ok(vec![s.hseq, s.cseq, s.gates, s.hprev, from_last, from_seq])
                },
            );
        }
    }
}

/// `LstmKernel::Auto` picks per-step dispatches on a software adapter (measured faster there)
/// and the persistent kernel on a hardware GPU when the units fit it; told apart by the number
/// of dispatches each records.
#[test]
fn auto_kernel_follows_the_adapter_and_the_units() -> wgfit::Result<()> {
    let Some(device) = common::gpu() else {
        return Ok(());
    };
    let ctx = device.gpu_context().expect("a GPU device");
    let software = matches!(device.info(), wgfit::DeviceInfo::Gpu { ref device_type, .. } if device_type == "Cpu");
    let mut rng = rng("lstm_auto");
    let (b, t) = (3, 5);
    for u in [8, PERSISTENT_MAX_UNITS + 1] {
        let xp = wgfit::Tensor::from_vec(
            &device,
            [b, t, 4 * u],
            uniform(&mut rng, b * t * 4 * u, -1.0, 1.0),
        )?;
        let rk =
            wgfit::Tensor::from_vec(&device, [u, 4 * u], uniform(&mut rng, 4 * u * u, -0.1, 0.1))?;
        let dispatches = |kernel| -> wgfit::Result<u64> {
            let before = ctx.counters().dispatches;
            lstm_forward_with(&xp, &rk, None, kernel)?;
            Ok(ctx.counters().dispatches - before)
        };
        let per_step = dispatches(LstmKernel::PerStep)?;
        let auto = dispatches(LstmKernel::Auto)?;
        if software || u > PERSISTENT_MAX_UNITS {
            assert_eq!(auto, per_step, "U={u} on {}", device.info());
        } else {
            assert_eq!(
                auto,
                dispatches(LstmKernel::Persistent)?,
                "U={u} on {}",
                device.info()
            );
            assert!(auto < per_step, "U={u}: {auto} vs {per_step} dispatches");
        }
    }
    Ok(())
}
