use ndarray::{Array1, Array3};
use wgfit::prelude::*;
fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("{}", device.info());
    let n = 270;
    let x = Array3::from_shape_fn((n, 29, 12), |(i, t, f)| {
        if t < 7 + i % 22 {
            ((i * 31 + t * 7 + f) % 13) as f32 / 6.0 - 1.0
        } else {
            0.0
        }
    });
    let y = Array1::from_shape_fn(n, |i| (i % 9) as f32);
    let mut m = Sequential::new()
        .add(Masking::new(0.0).input_shape([None, Some(12)]))
        .add(Lstm::new(64))
        .add(Dense::new(9).activation(Activation::Softmax));
    m.compile(
        &device,
        Optimizer::adam(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    let mut t = m.trainer(
        &x,
        &y,
        FitOptions::new().batch_size(32).epochs(5).verbose(0),
    )?;
    t.set_live(true);
    let ctx = device.gpu_context().cloned();
    for i in 0..30 {
        let c0 = ctx.as_ref().map(|c| c.counters());
        let t0 = std::time::Instant::now();
        let st = t.try_step(1)?;
        let el = t0.elapsed();
        let c1 = ctx.as_ref().map(|c| c.counters());
        if let (Some(a), Some(b)) = (c0, c1) {
            println!(
                "{i}: {:.1} ms submits {} dispatches {} readbacks {} {:?}",
                el.as_secs_f64() * 1e3,
                b.submits - a.submits,
                b.dispatches - a.dispatches,
                b.readbacks - a.readbacks,
                (st.epoch, st.batch)
            );
        } else {
            println!("{i}: {:.1} ms", el.as_secs_f64() * 1e3);
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    Ok(())
}
