//! Keras-style progress: `Epoch 3/10`, then
//! `32/32 [==============================] 0s 2ms/step - loss: 0.4123 - accuracy: 0.8750`.
//! Redrawn in place at most a few times a second on a terminal; one line per epoch otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub(crate) struct Progress {
    verbose: u8,
    steps: usize,
    start: Instant,
    last_draw: Option<Instant>,
    tty: bool,
}

/// How often a terminal progress line is redrawn (each redraw reads the GPU's sums).
const REDRAW: Duration = Duration::from_millis(250);

fn fmt_logs(logs: &[(String, f32)]) -> String {
    logs.iter()
        .map(|(n, v)| format!(" - {n}: {v:.4}"))
        .collect()
}

impl Progress {
    pub(crate) fn new(verbose: u8, epoch: usize, epochs: usize, steps: usize) -> Self {
        if verbose >= 1 {
            println!("Epoch {}/{}", epoch + 1, epochs);
        }
        Progress {
            verbose,
            steps,
            start: Instant::now(),
            last_draw: None,
            tty: std::io::stdout().is_terminal(),
        }
    }

    /// True when a redraw is due after `step` steps (so the caller reads the running sums).
    pub(crate) fn wants_update(&self, step: usize) -> bool {
        self.verbose == 1
            && self.tty
            && step < self.steps
            && self.last_draw.is_none_or(|t| t.elapsed() >= REDRAW)
    }

    pub(crate) fn update(&mut self, step: usize, logs: &[(String, f32)]) {
        self.last_draw = Some(Instant::now());
        print!("\r{}", self.line(step, logs));
        let _ = std::io::stdout().flush();
    }

    pub(crate) fn finish(&mut self, steps: usize, logs: &[(String, f32)]) {
        // A generator's epoch ends when its data does: its count is known only now.
        self.steps = steps;
        match self.verbose {
            0 => {}
            1 => println!(
                "{}{}",
                if self.tty { "\r" } else { "" },
                self.line(self.steps, logs)
            ),
            _ => println!(
                "{}/{} - {:.0}s{}",
                self.steps,
                self.steps,
                self.start.elapsed().as_secs_f64(),
                fmt_logs(logs)
            ),
        }
    }

    fn line(&self, step: usize, logs: &[(String, f32)]) -> String {
        let width = 30;
        let done = (width * step).checked_div(self.steps).unwrap_or(width);
        let bar = if done >= width {
            "=".repeat(width)
        } else {
            format!("{}>{}", "=".repeat(done), ".".repeat(width - done - 1))
        };
        let elapsed = self.start.elapsed();
        let per_step = elapsed.as_secs_f64() * 1e3 / step.max(1) as f64;
        let digits = self.steps.to_string().len();
        format!(
            "{step:>digits$}/{} [{bar}] {:.0}s {per_step:.0}ms/step{}",
            self.steps,
            elapsed.as_secs_f64(),
            fmt_logs(logs)
        )
    }
}
