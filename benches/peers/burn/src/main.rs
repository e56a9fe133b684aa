//! W1-W4u in Burn (ndarray backend, autodiff), same recipe as wgfit's examples/workloads.rs.
//! Burn has no masking, so W3 and W4 train on the zero-padded batch as W4u does.

use std::time::Instant;

use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig};
use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

impl Mlp {
    /// x: [B, 28, 28] -> logits [B, 10]
    fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        self.out.forward(relu(self.hidden.forward(x.flatten(1, 2))))
    }
}

#[derive(Module, Debug)]
struct Rnn {
    lstm: Lstm,
    out: Linear,
}

impl Rnn {
    /// x: [B, T, 10] -> logit [B, 1], from the LSTM's last state
    fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let (_, state) = self.lstm.forward(x, None);
        self.out.forward(state.hidden)
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

fn main() {
    let start = Instant::now();
    let name = std::env::args().nth(1).unwrap_or_else(|| "W1".into());
    let (n, batch, epochs) = match name.as_str() {
        "W1" => (1000, 32, 10),
        "W2" => (60_000, 128, 3),
        "W3" => (10, 2, 10),
        "W4" | "W4u" => (2000, 64, 3),
        other => panic!("unknown workload {other}: W1 W2 W3 W4 W4u"),
    };
    let device = Device::default().autodiff();
    let mut rng = StdRng::seed_from_u64(0);
    let mlp = matches!(name.as_str(), "W1" | "W2");
    let (x, y, dims): (Vec<f32>, Vec<i64>, [usize; 3]) = if mlp {
        let x = (0..n * 784).map(|_| rng.random::<f32>()).collect();
        let y = (0..n).map(|_| rng.random_range(0..10)).collect();
        (x, y, [n, 28, 28])
    } else {
        let (lo, t) = if name == "W3" { (10, 19) } else { (10, 100) };
        let mut x = vec![0.0f32; n * t * 10];
        for i in 0..n {
            let len = rng.random_range(lo..=t);
            for v in &mut x[i * t * 10..(i * t + len) * 10] {
                *v = rng.random_range(f32::EPSILON..1.0);
            }
        }
        let y = (0..n).map(|_| rng.random_range(0..2)).collect();
        (x, y, [n, t, 10])
    };
    let x_all = Tensor::<3>::from_data(TensorData::new(x, dims), &device);
    let y_all = Tensor::<1, Int>::from_data(TensorData::new(y, [n]), &device);

    let mut optim = AdamConfig::new().with_epsilon(1e-7).init();
    let lr = 1e-3;
    let mut ends = vec![Instant::now()];
    let mut last_loss = f32::NAN;
    let mut mlp_model = mlp.then(|| Mlp {
        hidden: LinearConfig::new(784, 128).init(&device),
        out: LinearConfig::new(128, 10).init(&device),
    });
    let units = if name == "W3" { 32 } else { 128 };
    let mut rnn_model = (!mlp).then(|| Rnn {
        lstm: LstmConfig::new(10, units, true).init(&device),
        out: LinearConfig::new(units, 1).init(&device),
    });
    let xent = CrossEntropyLossConfig::new().init(&device);
    let bce = BinaryCrossEntropyLossConfig::new().with_logits(true).init(&device);
    for _ in 0..epochs {
        let mut order: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let (mut total, mut seen) = (0.0f32, 0);
        for chunk in order.chunks(batch) {
            let idx = Tensor::<1, Int>::from_data(TensorData::new(chunk.to_vec(), [chunk.len()]), &device);
            let xb = x_all.clone().select(0, idx.clone());
            let yb = y_all.clone().select(0, idx);
            let loss = if let Some(m) = mlp_model.take() {
                let loss = xent.forward(m.forward(xb), yb);
                let grads = GradientsParams::from_grads(loss.backward(), &m);
                mlp_model = Some(optim.step(lr, m, grads));
                loss
            } else {
                let m = rnn_model.take().expect("a model");
                let targets = yb.reshape([chunk.len(), 1]);
                let loss = bce.forward(m.forward(xb), targets);
                let grads = GradientsParams::from_grads(loss.backward(), &m);
                rnn_model = Some(optim.step(lr, m, grads));
                loss
            };
            total += loss.into_scalar::<f32>() * chunk.len() as f32;
            seen += chunk.len();
        }
        last_loss = total / seen as f32;
        ends.push(Instant::now());
    }
    let first = if matches!(name.as_str(), "W1" | "W3") { 0 } else { 1 };
    let secs = ends[ends.len() - 1].duration_since(ends[first]).as_secs_f64();
    let samples = n * (ends.len() - 1 - first);
    println!(
        "workload={name} tool=burn-0.22 device=\"cpu (ndarray, no masking)\" samples_per_s={:.0} wall_s={:.2} peak_rss_mib={:.0} final_loss={last_loss:.4}",
        samples as f64 / secs,
        start.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}
