//! `--self-test N`: the app drives itself in its real window. It draws idle frames, starts
//! training, and once N batches are trained and the curves have points, pauses for as many
//! frames as it drew idle (the same window with its curves, nothing training), screenshots
//! its own window, checks that the plot area shows both curves (pixels of their colours), writes the
//! PNG, prints the frame times and closes with exit code 0, or 1 on any failure.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eframe::egui::{self, Color32, ColorImage};

use crate::app::{ACCURACY, App, LOSS};
use crate::stats::Summary;

/// Frames drawn before training starts (the idle figures).
const IDLE_FRAMES: usize = 60;
/// Give up after this long (a hung GPU, a training error).
const PATIENCE: Duration = Duration::from_secs(600);
/// Pixels of each curve's colour the plot must show.
const MIN_PIXELS: usize = 40;

type Shot = Arc<Mutex<Option<Arc<ColorImage>>>>;

pub struct SelfTest {
    batches: usize,
    min_fps: Option<f64>,
    out: PathBuf,
    exit: Arc<AtomicI32>,
    started: Instant,
    idle: usize,
    paused: usize,
    shot: Option<Shot>,
}

impl SelfTest {
    pub fn new(batches: usize, min_fps: Option<f64>, out: PathBuf, exit: Arc<AtomicI32>) -> Self {
        SelfTest {
            batches,
            min_fps,
            out,
            exit,
            started: Instant::now(),
            idle: 0,
            paused: 0,
            shot: None,
        }
    }

    /// Runs one frame's worth of the test; `None` once it is over (the window is closing).
    pub fn frame(mut self, app: &mut App, ctx: &egui::Context) -> Option<SelfTest> {
        if self.started.elapsed() > PATIENCE {
            return self.finish(
                ctx,
                Err(format!(
                    "no verdict after {}s: {}",
                    PATIENCE.as_secs(),
                    app.message()
                )),
            );
        }
        if self.idle < IDLE_FRAMES {
            self.idle += 1;
            if self.idle == IDLE_FRAMES {
                app.start();
            }
            return Some(self);
        }
        if app.finished() && app.batches_done() < self.batches {
            return self.finish(ctx, Err(format!("training ended early: {}", app.message())));
        }
        let trained = app.batches_done() >= self.batches && app.curve_points() >= 2;
        if trained && self.paused < IDLE_FRAMES {
            app.pause();
            self.paused += 1;
            return Some(self);
        }
        match &self.shot {
            None if trained => {
                if let Err(e) = features(app) {
                    return self.finish(ctx, Err(e));
                }
                let slot: Shot = Arc::default();
                let to = slot.clone();
                ctx.request_screenshot(move |image| {
                    *to.lock().unwrap_or_else(|p| p.into_inner()) = Some(image)
                });
                self.shot = Some(slot);
            }
            Some(slot) => {
                let image = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(image) = image {
                    let verdict = self.check(app, ctx, &image);
                    return self.finish(ctx, verdict);
                }
            }
            None => {}
        }
        Some(self)
    }

    /// The screenshot's plot area shows both curves; the PNG is written; the frame times
    /// are printed (and meet `--min-fps` when given).
    fn check(&self, app: &App, ctx: &egui::Context, image: &ColorImage) -> Result<String, String> {
        save_png(&self.out, image).map_err(|e| format!("writing {}: {e}", self.out.display()))?;
        let rect = app.plot_rect.ok_or("no plot drawn")?;
        let ppp = ctx.pixels_per_point();
        let [w, h] = image.size;
        let (x0, y0) = ((rect.min.x * ppp) as usize, (rect.min.y * ppp) as usize);
        let (x1, y1) = (
            ((rect.max.x * ppp) as usize).min(w),
            ((rect.max.y * ppp) as usize).min(h),
        );
        let count = |want: Color32| {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| close(image.pixels[y * w + x], want))
                .count()
        };
        let (loss, accuracy) = (count(LOSS), count(ACCURACY));
        let stats = &app.stats;
        let paused = Summary::of(&stats.paused);
        let (idle, training, step) = (
            Summary::of(&stats.idle),
            Summary::of(&stats.training),
            Summary::of(&stats.step),
        );
        let report = format!(
            "window {w}x{h} px, plot {}x{} px: {loss} loss and {accuracy} accuracy pixels\n\
             idle frames:     {idle}\n\
             paused frames:   {paused}\n\
             training frames: {training}\n\
             time in try_step per training frame: {step}\n\
             training frames where the GPU had no room (no batch run): {}\n\
             first step (compiles the pipelines, left out above): {:.0} ms\n\
             batches trained: {}",
            x1.saturating_sub(x0),
            y1.saturating_sub(y0),
            stats.gpu_busy,
            stats.warmup.unwrap_or(0.0),
            app.batches_done_now(),
        );
        println!("{report}");
        if loss < MIN_PIXELS || accuracy < MIN_PIXELS {
            return Err(format!(
                "the plot looks blank: {loss} loss and {accuracy} accuracy pixels (want {MIN_PIXELS} each)"
            ));
        }
        if let Some(min) = self.min_fps
            && training.fps() < min
        {
            return Err(format!(
                "{:.1} fps while training, below {min}",
                training.fps()
            ));
        }
        Ok(format!("screenshot: {}", self.out.display()))
    }

    fn finish(self, ctx: &egui::Context, verdict: Result<String, String>) -> Option<SelfTest> {
        let code = match verdict {
            Ok(msg) => {
                println!("self-test passed; {msg}");
                0
            }
            Err(msg) => {
                eprintln!("self-test FAILED: {msg}");
                1
            }
        };
        self.exit.store(code, Ordering::SeqCst);
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        None
    }
}

/// The rest of the window's features, once: predicting a test sample (probabilities that sum
/// to 1), saving the model (a file `wgfit::load_model` opens, predicting the same), and the other data
/// sets' loaders (digits, a user's CSV).
fn features(app: &mut App) -> Result<(), String> {
    let (line, p) = app.predict_sample()?;
    let total: f32 = p.iter().sum();
    if p.len() != 9 || (total - 1.0).abs() > 1e-3 {
        return Err(format!(
            "prediction of {} classes summing to {total}",
            p.len()
        ));
    }
    println!("{line}");
    let dir = std::env::temp_dir().join(format!("wgfit-desktop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("model.wgfit");
    app.set_model_path(&file);
    println!("{}", app.save_model()?);
    // The file opens without the app's code, and predicts what the app predicted.
    let mut model = wgfit::load_model(&file, &wgfit::Device::cpu())
        .map_err(|e| format!("the saved model does not load: {e}"))?;
    let vowels = crate::data::japanese_vowels().map_err(|e| e.to_string())?;
    let one = (vowels.x_test.index_axis(ndarray::Axis(0), app.sample()))
        .insert_axis(ndarray::Axis(0))
        .to_owned();
    let loaded = model.predict(&one).map_err(|e| e.to_string())?;
    if loaded.iter().zip(&p).any(|(a, b)| (a - b).abs() > 1e-4) {
        return Err(format!(
            "the loaded model predicts {loaded} where the app predicted {p:?}"
        ));
    }
    let digits = crate::data::digits().map_err(|e| e.to_string())?;
    let csv = dir.join("user.csv");
    std::fs::write(&csv, "0.5,1.5,0\n1,2,1\n3,4,2\n0,0,0\n1,1,1\n2,2,2\n")
        .map_err(|e| e.to_string())?;
    let user = crate::data::user_file(&csv).map_err(|e| e.to_string())?;
    let shapes = (
        digits.x_train.shape().to_vec(),
        digits.classes,
        user.x_train.shape().to_vec(),
        user.classes,
    );
    if shapes != (vec![1437, 64], 10, vec![4, 2], 3) {
        return Err(format!(
            "data sets: digits and a user CSV loaded as {shapes:?}"
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Within a few levels of `want` on every channel (the curves are antialiased).
fn close(got: Color32, want: Color32) -> bool {
    let d = |a: u8, b: u8| a.abs_diff(b) as u32;
    d(got.r(), want.r()) + d(got.g(), want.g()) + d(got.b(), want.b()) < 60
}

fn save_png(path: &std::path::Path, image: &ColorImage) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let [w, h] = image.size;
    let bytes: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&bytes)?;
    Ok(())
}
