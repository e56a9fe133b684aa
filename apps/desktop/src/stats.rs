//! Frame times: the interval between frames (what the user sees) and the time each frame
//! spent in training calls, kept apart for idle frames and training frames.

use std::time::{Duration, Instant};

/// Median, 95th percentile and maximum of some durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub frames: usize,
    pub mean: f64,
    pub median: f64,
    pub p95: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(ms: &[f64]) -> Summary {
        if ms.is_empty() {
            return Summary::default();
        }
        let mut v = ms.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Summary {
            frames: v.len(),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            median: at(0.5),
            p95: at(0.95),
            max: v[v.len() - 1],
        }
    }

    /// Frames per second at the median frame time.
    pub fn fps(&self) -> f64 {
        if self.median > 0.0 {
            1000.0 / self.median
        } else {
            0.0
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} frames: median {:.1} ms ({:.0} fps), mean {:.1} ms ({:.0} fps), p95 {:.1} ms, \
             max {:.1} ms",
            self.frames,
            self.median,
            self.fps(),
            self.mean,
            1000.0 / self.mean.max(1e-9),
            self.p95,
            self.max
        )
    }
}

/// Frame intervals and training time per frame.
#[derive(Default)]
pub struct FrameStats {
    last: Option<Instant>,
    /// Intervals ending in a frame that did not train, before any training (empty plot).
    pub idle: Vec<f64>,
    /// Intervals ending in a frame that did not train, after training (curves drawn).
    pub paused: Vec<f64>,
    /// Intervals ending in a frame that trained (or would have: the GPU was busy).
    pub training: Vec<f64>,
    /// Time each training frame spent in `try_step`.
    pub step: Vec<f64>,
    /// Training frames whose `try_step` ran no batch because the GPU had no room.
    pub gpu_busy: usize,
    /// The first training call (it compiles the model's pipelines), in ms.
    pub warmup: Option<f64>,
    /// Set by the warm-up call: the interval it lengthens is left out.
    skip_next: bool,
}

impl FrameStats {
    /// Records the interval since the previous frame: `training` says what this frame does.
    pub fn frame(&mut self, training: bool) {
        let now = Instant::now();
        if let Some(last) = self.last.replace(now) {
            let ms = ms(now - last);
            if std::mem::take(&mut self.skip_next) {
                return;
            }
            if training {
                self.training.push(ms)
            } else if self.training.is_empty() {
                self.idle.push(ms)
            } else {
                self.paused.push(ms)
            }
        }
    }

    /// Records a training call that took `took` and ran `batches` batches.
    pub fn step(&mut self, took: Duration, batches: usize) {
        if self.warmup.is_none() {
            // The first step compiles every pipeline the model uses: counted apart, and so is
            // the frame interval it lengthens.
            self.warmup = Some(ms(took));
            self.skip_next = true;
            return;
        }
        self.step.push(ms(took));
        if batches == 0 {
            self.gpu_busy += 1;
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
