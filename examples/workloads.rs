//! The performance issue's workloads W1-W4, whole-process, one per run, printing one line in
//! the format `benches/peers/` scripts print for Keras, PyTorch and Burn:
//!
//!     cargo run --release --example workloads -- W2        # W1-W4, W4u-W6u; WGFIT_DEVICE picks
//!     cargo run --release --example workloads -- W4 10     # any workload, 10 epochs
//!
//! On a GPU it also prints the buffer pool's size at the end of every epoch, and
//! `WGFIT_LSTM_KERNEL=per-step` or `persistent` picks the recurrent kernels of the LSTM and GRU
//! workloads (default: `auto`, the choice by adapter and units).
//!
//! - W1: the seed MLP (28x28 -> 128 relu -> 10 softmax), 1 000 samples, batch 32, 10 epochs
//! - W2: the same MLP on 60 000 samples, batch 128, 3 epochs
//! - W3: the seed masked LSTM (10 sequences of 10..19 steps, 10 features, units 32), batch 2,
//!   10 epochs
//! - W4: 2 000 sequences of 10..100 steps, 10 features, post-padded to 100 and masked,
//!   LSTM(128) -> Dense(1, sigmoid), batch 64, 3 epochs; W4u: the same without Masking;
//!   W4d: the same with `dropout(0.2)` and `recurrent_dropout(0.2)`
//! - W5: W4's data through a masked GRU(128) (Keras's defaults, `reset_after`) instead of the
//!   LSTM; W5u without Masking
//! - W6: W4's data through a masked Bidirectional(LSTM(64)) (concat: 128 features into the
//!   Dense); W6u without Masking
//!
//! Data: uniform [0, 1) features (never the mask value 0 inside a sequence), uniform random
//! labels, Adam with Keras's defaults. `samples_per_s` is the steady rate: the epochs after the
//! first (which pays for warm-up), or all epochs for W1 and W3, whose figure is the wall time.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ndarray::{Array1, Array3, ArrayD, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::Callback;
use wgfit::callbacks::Control;
use wgfit::ops::lstm_cell::LstmKernel;
use wgfit::prelude::*;

/// Records when each epoch ends, and on a GPU the bytes its buffer pool holds then.
#[derive(Debug)]
struct EpochClock {
    ends: Arc<Mutex<Vec<Instant>>>,
    pool: Arc<Mutex<Vec<u64>>>,
    device: Device,
}

impl Callback for EpochClock {
    fn on_epoch_end(
        &mut self,
        _model: &mut wgfit::Model,
        _epoch: usize,
        _logs: &[(String, f32)],
    ) -> wgfit::Result<Control> {
        self.ends.lock().unwrap().push(Instant::now());
        if let Some(ctx) = self.device.gpu_context() {
            self.pool.lock().unwrap().push(ctx.counters().pooled_bytes);
        }
        Ok(Control::Continue)
    }
}

struct Workload {
    x: ArrayD<f32>,
    y: ArrayD<f32>,
    model: Model,
    loss: Loss,
    batch_size: usize,
    epochs: usize,
}

fn mlp(rng: &mut StdRng, n: usize, batch_size: usize, epochs: usize) -> wgfit::Result<Workload> {
    let x = Array3::from_shape_fn((n, 28, 28), |_| rng.random::<f32>()).into_dyn();
    let labels = Array1::from_shape_fn(n, |_| rng.random_range(0..10) as f32);
    let inputs = Input::new([Some(28), Some(28)]);
    let hidden = Dense::new(128)
        .activation(Activation::Relu)
        .call(&Flatten::new().call(&inputs));
    let outputs = Dense::new(10).activation(Activation::Softmax).call(&hidden);
    Ok(Workload {
        x,
        y: to_categorical(&labels, 10)?.into_dyn(),
        model: Model::new(&inputs, &outputs)?,
        loss: Loss::CategoricalCrossentropy,
        batch_size,
        epochs,
    })
}

/// The recurrent layer of a sequence workload.
#[derive(Clone, Copy)]
enum Rnn {
    Lstm(LstmKernel),
    // W4d: dropout and recurrent_dropout 0.2 (issue 17's bound: at most 1.3x W4's time)
    LstmDropout(LstmKernel),
    Gru(LstmKernel),
    BidirectionalLstm(LstmKernel),
}

impl Rnn {
    fn call(self, units: usize, seq: &Node) -> Node {
        match self {
            Rnn::Lstm(kernel) => Lstm::new(units).kernel(kernel).call(seq),
            Rnn::LstmDropout(kernel) => {
                let lstm = Lstm::new(units).dropout(0.2).recurrent_dropout(0.2);
                lstm.kernel(kernel).call(seq)
            }
            Rnn::Gru(kernel) => Gru::new(units).kernel(kernel).call(seq),
            Rnn::BidirectionalLstm(kernel) => {
                Bidirectional::new(Lstm::new(units).kernel(kernel)).call(seq)
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn recurrent(
    rng: &mut StdRng,
    n: usize,
    lengths: (usize, usize),
    rnn: Rnn,
    units: usize,
    masked: bool,
    batch_size: usize,
    epochs: usize,
) -> Workload {
    let t_max = lengths.1;
    let mut x = Array3::<f32>::zeros((n, t_max, 10));
    for i in 0..n {
        let len = rng.random_range(lengths.0..=lengths.1);
        x.slice_mut(s![i, ..len, ..])
            .mapv_inplace(|_| rng.random_range(f32::EPSILON..1.0));
    }
    let y = Array1::from_shape_fn(n, |_| f32::from(u8::from(rng.random_bool(0.5))));
    let inputs = Input::new([None, Some(10)]);
    let seq = if masked {
        Masking::new(0.0).call(&inputs)
    } else {
        inputs.clone()
    };
    let outputs = Dense::new(1)
        .activation(Activation::Sigmoid)
        .call(&rnn.call(units, &seq));
    Workload {
        x: x.into_dyn(),
        y: y.into_dyn(),
        model: Model::new(&inputs, &outputs).expect("a chain"),
        loss: Loss::BinaryCrossentropy,
        batch_size,
        epochs,
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() -> wgfit::Result<()> {
    let start = Instant::now();
    let name = std::env::args().nth(1).unwrap_or_else(|| "W1".into());
    let mut rng = StdRng::seed_from_u64(0);
    let lstm_kernel = match std::env::var("WGFIT_LSTM_KERNEL").as_deref() {
        Err(_) | Ok("auto") => LstmKernel::Auto,
        Ok("per-step") => LstmKernel::PerStep,
        Ok("persistent") => LstmKernel::Persistent,
        Ok(other) => {
            return Err(wgfit::Error::Config(format!(
                "WGFIT_LSTM_KERNEL={other}: auto, per-step or persistent"
            )));
        }
    };
    let (lstm, bilstm) = (Rnn::Lstm(lstm_kernel), Rnn::BidirectionalLstm(lstm_kernel));
    let gru = Rnn::Gru(lstm_kernel);
    let masked = !name.ends_with('u');
    let mut w = match name.as_str() {
        "W1" => mlp(&mut rng, 1000, 32, 10)?,
        "W2" => mlp(&mut rng, 60_000, 128, 3)?,
        "W3" => recurrent(&mut rng, 10, (10, 19), lstm, 32, true, 2, 10),
        "W4" | "W4u" => recurrent(&mut rng, 2000, (10, 100), lstm, 128, masked, 64, 3),
        "W4d" => {
            let dropped = Rnn::LstmDropout(lstm_kernel);
            recurrent(&mut rng, 2000, (10, 100), dropped, 128, true, 64, 3)
        }
        "W5" | "W5u" => recurrent(&mut rng, 2000, (10, 100), gru, 128, masked, 64, 3),
        "W6" | "W6u" => recurrent(&mut rng, 2000, (10, 100), bilstm, 64, masked, 64, 3),
        other => {
            return Err(wgfit::Error::Config(format!(
                "unknown workload {other}: W1, W2, W3, W4, W4u, W4d, W5, W5u, W6 or W6u"
            )));
        }
    };
    let device = Device::auto()?;
    w.model
        .compile(&device, Optimizer::adam(), w.loss, &[Metric::Accuracy])?;
    if let Some(epochs) = std::env::args().nth(2) {
        w.epochs = epochs
            .parse()
            .map_err(|_| wgfit::Error::Config(format!("epochs must be a number, not {epochs}")))?;
    }
    let clock = Arc::new(Mutex::new(vec![Instant::now()]));
    let pool = Arc::new(Mutex::new(Vec::new()));
    let opts = FitOptions::new()
        .batch_size(w.batch_size)
        .epochs(w.epochs)
        .verbose(0)
        .callback(EpochClock {
            ends: clock.clone(),
            pool: pool.clone(),
            device: device.clone(),
        });
    let history = w.model.fit(&w.x, &w.y, opts)?;
    let ends = clock.lock().unwrap().clone();
    let n = w.x.shape()[0];
    // W1 and W3 are whole-process figures; the others skip the first epoch's warm-up.
    let first = if matches!(name.as_str(), "W1" | "W3") {
        0
    } else {
        1
    };
    let secs = ends[ends.len() - 1]
        .duration_since(ends[first])
        .as_secs_f64();
    let samples = n * (ends.len() - 1 - first);
    println!(
        "workload={name} tool=wgfit device=\"{}\" samples_per_s={:.0} wall_s={:.2} peak_rss_mib={:.0} final_loss={:.4}",
        device.info(),
        samples as f64 / secs,
        start.elapsed().as_secs_f64(),
        peak_rss_mib(),
        history.loss().last().copied().unwrap_or(f32::NAN)
    );
    // GPU memory across epochs: the pool's size at each epoch's end (constant once the
    // shapes of an epoch have all been seen).
    let pool = pool.lock().unwrap();
    if !pool.is_empty() {
        let mib: Vec<String> = pool
            .iter()
            .map(|&b| format!("{:.1}", b as f64 / (1 << 20) as f64))
            .collect();
        println!("workload={name} gpu_pool_mib_per_epoch={}", mib.join(","));
    }
    Ok(())
}
