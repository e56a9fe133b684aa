//! The training loop's waits for the GPU: one blocking readback per epoch (its end), with
//! batch-end callbacks and validation; batch losses delivered a step late but equal to the
//! losses of the same batches stepped one at a time.

mod common;

use std::sync::{Arc, Mutex};

use ndarray::{Array1, Array3, Axis, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::callbacks::{Callback, Control};
use wgfit::prelude::*;
use wgfit::{History, TerminateOnNaN};

type Seen = Arc<Mutex<Vec<(usize, usize, f32)>>>;

/// Records every batch loss it is given.
#[derive(Debug)]
struct Record(Seen);

impl Callback for Record {
    fn wants_batch_loss(&self) -> bool {
        true
    }
    fn on_batch_end(&mut self, epoch: usize, batch: usize, loss: f32) -> wgfit::Result<Control> {
        self.0.lock().unwrap().push((epoch, batch, loss));
        Ok(Control::Continue)
    }
}

fn model(device: &Device) -> Sequential {
    let mut m = Sequential::new()
        .seed(3)
        .add(Masking::new(0.0).input_shape([None, Some(3)]))
        .add(Lstm::new(5))
        .add(Dense::new(2).activation(Activation::Softmax));
    m.compile(
        device,
        Optimizer::adam().learning_rate(0.01),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

fn data(n: usize) -> (Array3<f32>, Array1<f32>) {
    let mut rng = StdRng::seed_from_u64(9);
    let mut x = Array3::from_shape_fn((n, 6, 3), |_| rng.random_range(-1.0..1.0f32));
    for i in 0..n {
        // post-padding: the last i % 3 steps are masked
        x.slice_mut(s![i, 6 - i % 3.., ..]).fill(0.0);
    }
    let y = Array1::from_shape_fn(n, |i| (i % 2) as f32);
    (x, y)
}

fn fit_recording(device: &Device, epochs: usize) -> (History, Vec<(usize, usize, f32)>) {
    let (x, y) = data(22);
    let seen: Seen = Arc::default();
    let mut m = model(device);
    let h = m
        .fit(
            &x,
            &y,
            FitOptions::new()
                .batch_size(4)
                .epochs(epochs)
                .shuffle(false)
                .verbose(0)
                .validation_data(x.clone().into_dyn(), y.clone().into_dyn())
                .callback(Record(seen.clone()))
                .callback(TerminateOnNaN),
        )
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    (h, seen)
}

#[test]
fn batch_losses_arrive_a_step_late_but_are_each_batchs_own() {
    let device = Device::cpu();
    let (_, seen) = fit_recording(&device, 1);
    // 22 samples in batches of 4: 6 batches, the last of 2, every one delivered in order.
    let batches: Vec<(usize, usize)> = seen.iter().map(|&(e, b, _)| (e, b)).collect();
    assert_eq!(batches, (0..6).map(|b| (0, b)).collect::<Vec<_>>());
    // The same batches stepped one at a time, on a fresh model with the same seed.
    let (x, y) = data(22);
    let mut m = model(&device);
    for (b, &(_, _, loss)) in seen.iter().enumerate() {
        let rows = 4 * b..(4 * b + 4).min(22);
        let want = m
            .train_on_batch(
                &x.slice_axis(Axis(0), rows.clone().into()).to_owned(),
                &y.slice_axis(Axis(0), rows.into()).to_owned(),
            )
            .unwrap();
        assert!(
            (loss - want).abs() <= 1e-6 * want.abs().max(1.0),
            "batch {b}: {loss} against {want}"
        );
    }
}

#[test]
fn fit_waits_for_the_gpu_once_per_epoch_with_batch_callbacks_and_validation() {
    let Some(gpu) = common::open_gpu_with(Default::default()) else {
        return;
    };
    let ctx = gpu.gpu_context().expect("a GPU device").clone();
    let before = ctx.counters();
    let (h, seen) = fit_recording(&gpu, 3);
    let after = ctx.counters();
    assert_eq!(h.epochs(), 3);
    assert_eq!(
        seen.len(),
        18,
        "every batch of every epoch reaches the callback"
    );
    assert_eq!(
        after.readbacks - before.readbacks,
        3,
        "one blocking readback per epoch (its end, validation included)"
    );
    assert_eq!(
        after.overlapped_readbacks - before.overlapped_readbacks,
        18 + 3,
        "each batch's loss, a step late with the next batch queued, and each epoch's \
         training sums, behind the validation's"
    );
    // The GPU's batch losses and logs are the CPU's.
    let (cpu_h, cpu_seen) = fit_recording(&Device::cpu(), 3);
    for (g, c) in seen.iter().zip(&cpu_seen) {
        assert_eq!((g.0, g.1), (c.0, c.1));
        assert!(
            (g.2 - c.2).abs() < 1e-4,
            "batch {:?}: {} against {}",
            (g.0, g.1),
            g.2,
            c.2
        );
    }
    for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        for (g, c) in h.get(key).unwrap().iter().zip(cpu_h.get(key).unwrap()) {
            assert!((g - c).abs() < 1e-4, "{key}: {g} against {c}");
        }
    }
}

#[test]
fn train_on_batch_waits_once() {
    let Some(gpu) = common::open_gpu_with(Default::default()) else {
        return;
    };
    let ctx = gpu.gpu_context().expect("a GPU device").clone();
    let (x, y) = data(8);
    let mut m = model(&gpu);
    m.train_on_batch(&x, &y).unwrap();
    let before = ctx.counters();
    m.train_on_batch(&x, &y).unwrap();
    let after = ctx.counters();
    assert_eq!(after.readbacks - before.readbacks, 1);
    assert_eq!(
        after.submits - before.submits,
        1,
        "the loss rides with the step's submit"
    );
}

#[test]
fn the_host_runs_at_most_two_submits_ahead() {
    let Some(gpu) = common::open_gpu_with(Default::default()) else {
        return;
    };
    let ctx = gpu.gpu_context().expect("a GPU device").clone();
    let (x, y) = data(40);
    let mut m = model(&gpu);
    let mut most = 0;
    for _ in 0..6 {
        m.fit(&x, &y, FitOptions::new().batch_size(4).epochs(1).verbose(0))
            .unwrap();
        most = most.max(ctx.counters().in_flight);
    }
    assert!((1..=2).contains(&most), "{most} submits in flight");
    gpu.synchronize_blocking().unwrap();
    assert_eq!(ctx.counters().in_flight, 0);
}

#[test]
fn readbacks_from_many_threads_on_one_device_each_get_their_own_values() {
    // A readback's staging buffer may be mapped only once the submit carrying its copy has
    // really been made; mapping it while another thread's flush is mid-way fails that whole
    // submit (losing its work) and the readback never completes.
    let Some(gpu) = common::gpu() else { return };
    std::thread::scope(|scope| {
        for t in 0..6u32 {
            let gpu = gpu.clone();
            scope.spawn(move || {
                for i in 0..150u32 {
                    let v: Vec<f32> = (0..37).map(|k| (t * 1000 + i * 37 + k) as f32).collect();
                    let x = Tensor::from_vec(&gpu, [37], v.clone()).unwrap();
                    let y = wgfit::ops::elementwise::affine(&x, 2.0, 1.0).unwrap();
                    let want: Vec<f32> = v.iter().map(|a| 2.0 * a + 1.0).collect();
                    assert_eq!(y.to_vec_blocking().unwrap(), want, "thread {t}, round {i}");
                }
            });
        }
    });
}
