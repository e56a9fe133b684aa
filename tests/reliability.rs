//! Runs that are never lost: seeded runs repeat bit for bit, a run resumed from a checkpoint
//! ends where an uninterrupted one does, checkpoints are written atomically, and the
//! callbacks stop, restore and save as Keras's do.

mod common;

use common::gpu;
use ndarray::{Array1, Array3, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::callbacks::{Callback, Control};
use wgfit::prelude::*;
use wgfit::{EarlyStopping, ModelCheckpoint, TerminateOnNaN};

fn model(device: &Device, optimizer: Optimizer) -> Sequential {
    let mut m = Sequential::new()
        .seed(11)
        .add(Flatten::new().input_shape([4, 3]))
        .add(Dense::new(16).activation(Activation::Tanh))
        .add(Dense::new(3).activation(Activation::Softmax));
    m.compile(
        device,
        optimizer,
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

fn data(n: usize) -> (Array3<f32>, Array1<f32>) {
    let mut rng = StdRng::seed_from_u64(5);
    (
        Array3::from_shape_fn((n, 4, 3), |_| rng.random_range(-1.0..1.0)),
        Array1::from_shape_fn(n, |_| rng.random_range(0..3) as f32),
    )
}

fn weights(m: &Sequential) -> Vec<ArrayD<f32>> {
    m.get_weights()
        .unwrap()
        .into_iter()
        .map(|(_, w)| w)
        .collect()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wgfit-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn two_seeded_runs_on_the_cpu_are_bit_identical() {
    let (x, y) = data(40);
    let run = || {
        let mut m = model(&Device::cpu(), Optimizer::adam());
        let h = m
            .fit(
                &x,
                &y,
                FitOptions::new().batch_size(8).epochs(3).seed(3).verbose(0),
            )
            .unwrap();
        (h.loss().to_vec(), weights(&m))
    };
    assert_eq!(run(), run());
}

#[test]
fn a_run_resumed_from_its_checkpoint_ends_where_an_uninterrupted_run_does() {
    let (x, y) = data(40);
    let dir = temp_dir("resume");
    let devices: Vec<Device> = std::iter::once(Device::cpu()).chain(gpu()).collect();
    for (d, device) in devices.iter().enumerate() {
        for optimizer in [
            Optimizer::adam(),
            Optimizer::sgd().momentum(0.9),
            Optimizer::rmsprop().momentum(0.5),
        ] {
            let opts = || FitOptions::new().batch_size(8).seed(9).verbose(0);
            let mut straight = model(device, optimizer);
            straight.fit(&x, &y, opts().epochs(4)).unwrap();

            let path = dir.join(format!("d{d}-{}-{{epoch}}.safetensors", optimizer.name()));
            let mut first = model(device, optimizer);
            first
                .fit(
                    &x,
                    &y,
                    opts().epochs(2).callback(ModelCheckpoint::new(&path)),
                )
                .unwrap();
            drop(first); // the "crash"

            let mut resumed = model(device, optimizer);
            let done = resumed
                .load_checkpoint(path.to_string_lossy().replace("{epoch}", "2"))
                .unwrap();
            assert_eq!(done, 2);
            resumed
                .fit(&x, &y, opts().epochs(4).initial_epoch(done))
                .unwrap();

            for (a, b) in weights(&straight).iter().zip(weights(&resumed).iter()) {
                if device.is_gpu() {
                    let diff = (a - b).iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    assert!(
                        diff <= 1e-5,
                        "{} on {}: resumed weights differ by {diff}",
                        optimizer.name(),
                        device.info()
                    );
                } else {
                    assert_eq!(
                        a,
                        b,
                        "{} on the CPU: resumed weights differ",
                        optimizer.name()
                    );
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_interrupted_checkpoint_write_leaves_the_previous_checkpoint_intact() {
    let dir = temp_dir("atomic");
    let path = dir.join("ckpt.safetensors");
    let (x, y) = data(16);
    let mut m = model(&Device::cpu(), Optimizer::adam());
    m.fit(&x, &y, FitOptions::new().epochs(1).verbose(0))
        .unwrap();
    m.save_checkpoint(&path, 1).unwrap();
    let saved = weights(&m);
    assert!(
        !dir.join("ckpt.safetensors.tmp").exists(),
        "no temporary file is left behind"
    );

    // A crash in the middle of the next save leaves a partial temporary file, never a partial
    // checkpoint: the rename that replaces the checkpoint happens only after a full write.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(dir.join("ckpt.safetensors.tmp"), &bytes[..bytes.len() / 2]).unwrap();
    let mut restored = model(&Device::cpu(), Optimizer::adam());
    assert_eq!(restored.load_checkpoint(&path).unwrap(), 1);
    assert_eq!(weights(&restored), saved);

    // A truncated or corrupt file is refused with an error, not a panic.
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    assert!(matches!(
        restored.load_checkpoint(&path),
        Err(Error::File { .. })
    ));
    std::fs::write(&path, b"not a checkpoint").unwrap();
    assert!(matches!(
        restored.load_checkpoint(&path),
        Err(Error::File { .. })
    ));
    // Another optimizer's state is refused, naming both.
    std::fs::write(&path, &bytes).unwrap();
    let mut sgd = model(&Device::cpu(), Optimizer::sgd().momentum(0.9));
    match sgd.load_checkpoint(&path) {
        Err(Error::File { problem, .. }) => assert!(
            problem.contains("adam") && problem.contains("sgd"),
            "{problem}"
        ),
        r => panic!("expected a data error, got {r:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn terminate_on_nan_stops_at_the_first_bad_batch_and_names_it() {
    let mut m = Sequential::new().add(Dense::new(1).input_shape([2]));
    m.compile(
        &Device::cpu(),
        Optimizer::sgd().learning_rate(1e30),
        Loss::MeanSquaredError,
        &[],
    )
    .unwrap();
    let x = ndarray::Array2::from_shape_fn((8, 2), |(i, j)| (i + j) as f32);
    let y = Array1::from_shape_fn(8, |i| i as f32 * 1e20);
    let h = m
        .fit(
            &x,
            &y,
            FitOptions::new()
                .batch_size(2)
                .epochs(5)
                .shuffle(false)
                .verbose(0)
                .callback(TerminateOnNaN),
        )
        .unwrap();
    let why = h.stopped.clone().expect("training must stop");
    assert!(why.contains("epoch 0, batch"), "{why}");
    assert_eq!(h.epochs(), 1, "no epoch after the NaN");
}

#[test]
fn fit_dataset_calls_on_batch_end_so_terminate_on_nan_stops_it() {
    use wgfit::data::SequenceDataset;
    // A callback recording every batch it sees, to compare with fit's calls.
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(usize, usize)>>>;
    #[derive(Debug)]
    struct Batches(Seen);
    impl Callback for Batches {
        fn wants_batch_loss(&self) -> bool {
            true
        }
        fn on_batch_end(&mut self, epoch: usize, batch: usize, _: f32) -> wgfit::Result<Control> {
            self.0.lock().unwrap().push((epoch, batch));
            Ok(Control::Continue)
        }
    }
    let new_model = |lr: f32| {
        let mut m = Sequential::new()
            .add(Masking::new(0.0).input_shape([None, Some(2)]))
            .add(Lstm::new(2))
            .add(Dense::new(1));
        m.compile(
            &Device::cpu(),
            Optimizer::sgd().learning_rate(lr),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
        m
    };
    let xs: Vec<_> = (1..=8)
        .map(|t| ndarray::Array2::<f32>::ones((t, 2)).into_dyn())
        .collect();
    let y = Array1::from_shape_fn(8, |i| i as f32 * 1e20).into_dyn();
    let ds = SequenceDataset::new(xs, y)
        .unwrap()
        .batch_size(2)
        .shuffle(false);

    let seen = Seen::default();
    let h = new_model(0.0)
        .fit_dataset(
            &ds,
            FitOptions::new()
                .epochs(2)
                .verbose(0)
                .callback(Batches(seen.clone())),
        )
        .unwrap();
    assert_eq!(h.stopped, None);
    let want: Vec<_> = (0..2).flat_map(|e| (0..4).map(move |b| (e, b))).collect();
    assert_eq!(*seen.lock().unwrap(), want);

    let h = new_model(1e30)
        .fit_dataset(
            &ds,
            FitOptions::new()
                .epochs(5)
                .verbose(0)
                .callback(TerminateOnNaN),
        )
        .unwrap();
    let why = h.stopped.clone().expect("training must stop");
    assert!(
        why.contains("TerminateOnNaN") && why.contains("epoch 0, batch"),
        "{why}"
    );
    assert_eq!(h.epochs(), 1, "no epoch after the NaN");
}

#[test]
fn set_weights_with_one_bad_shape_changes_no_weight() {
    let mut m = model(&Device::cpu(), Optimizer::sgd());
    let before = weights(&m);
    let mut new = before.clone();
    for w in &mut new {
        w.fill(0.25);
    }
    // The last weight has the wrong shape: the ones before it must not be written either.
    let last = new.len() - 1;
    new[last] = ArrayD::zeros(vec![new[last].len() + 1]);
    assert!(matches!(m.set_weights(&new), Err(Error::Shape(_))));
    assert_eq!(weights(&m), before);
}

#[test]
fn early_stopping_waits_for_its_patience_and_restores_the_best_weights() {
    // A learning rate of 0 never improves the loss: with patience 2 the run stops at epoch 2.
    let (x, y) = data(16);
    let mut m = model(&Device::cpu(), Optimizer::sgd().learning_rate(0.0));
    let opts = FitOptions::new().epochs(10).shuffle(false).verbose(0);
    let h = m
        .fit(
            &x,
            &y,
            opts.callback(EarlyStopping::new("loss").patience(2)),
        )
        .unwrap();
    assert_eq!(h.epochs(), 3);
    assert!(h.stopped.unwrap().contains("EarlyStopping"));

    // Driven by hand: the best epoch's weights come back when it stops.
    let mut m = model(&Device::cpu(), Optimizer::adam());
    let mut es = EarlyStopping::new("val_loss")
        .patience(1)
        .restore_best_weights(true);
    let best = weights(&m);
    let log = |v: f32| vec![("val_loss".to_string(), v)];
    assert_eq!(
        es.on_epoch_end(&mut m, 0, &log(1.0)).unwrap(),
        Control::Continue
    );
    let mut worse = best.clone();
    worse[0].fill(7.0);
    m.set_weights(&worse).unwrap();
    assert!(matches!(
        es.on_epoch_end(&mut m, 1, &log(2.0)).unwrap(),
        Control::Stop(_)
    ));
    assert_eq!(weights(&m), best);
    assert!(matches!(
        EarlyStopping::new("val_acc").on_epoch_end(&mut m, 0, &log(1.0)),
        Err(Error::Config(_))
    ));
}

#[test]
fn model_checkpoint_with_save_best_only_saves_improvements_only() {
    let dir = temp_dir("best");
    let path = dir.join("best.safetensors");
    let mut m = model(&Device::cpu(), Optimizer::adam());
    let mut cb = ModelCheckpoint::new(&path)
        .monitor("val_accuracy")
        .save_best_only(true);
    let log = |v: f32| vec![("val_accuracy".to_string(), v)];
    cb.on_epoch_end(&mut m, 0, &log(0.5)).unwrap();
    cb.on_epoch_end(&mut m, 1, &log(0.4)).unwrap();
    let mut probe = model(&Device::cpu(), Optimizer::adam());
    assert_eq!(
        probe.load_checkpoint(&path).unwrap(),
        1,
        "epoch 2 was worse: still epoch 1's file"
    );
    cb.on_epoch_end(&mut m, 2, &log(0.9)).unwrap();
    assert_eq!(probe.load_checkpoint(&path).unwrap(), 3);
    std::fs::remove_dir_all(&dir).ok();
}
