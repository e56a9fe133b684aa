//! Keras-style progress: `Epoch 3/10` (when there is more than one epoch, as Keras), then
//! `32/32 [==============================] 0s 2ms/step - loss: 0.4123 - accuracy: 0.8750`,
//! redrawn in place at most a few times a second on a terminal, printed once at the epoch's
//! end otherwise; with `verbose(2)` Keras's one-line log, `32/32 - 0s - 2ms/step - loss: ...`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub(crate) struct Progress {
    verbose: u8,
    steps: usize,
    start: Instant,
    last_draw: Option<Instant>,
    tty: bool,
}

/// Writes progress to stdout, ignoring failures: training goes on when the output is closed
/// (a pipe whose reader quit), where `print!` would panic.
pub(crate) fn say(text: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(text).and_then(|()| out.flush());
}

/// How often a terminal progress line is redrawn (each redraw reads the GPU's sums).
const REDRAW: Duration = Duration::from_millis(250);

fn fmt_logs(logs: &[(String, f32)]) -> String {
    logs.iter()
        .map(|(n, v)| format!(" - {n}: {}", fmt_value(*v)))
        .collect()
}

/// A log value as Keras's progress bar writes it: 4 decimals, or 4 in scientific notation
/// (Python's, a signed two-digit exponent) at magnitudes up to 1e-3.
fn fmt_value(v: f32) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v.abs() > 1e-3 {
        return format!("{v:.4}");
    }
    let s = format!("{v:.4e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

/// Time per step as Keras writes it: whole seconds from 1 s (or at 0), else ms, else µs.
fn fmt_per_step(seconds: f64) -> String {
    if seconds >= 1.0 || seconds == 0.0 {
        format!("{seconds:.0}s/step")
    } else if seconds >= 1e-3 {
        format!("{:.0}ms/step", seconds * 1e3)
    } else {
        format!("{:.0}us/step", seconds * 1e6)
    }
}

/// Keras's `verbose=2` line for an epoch of `steps` steps that took `elapsed`.
fn epoch_line(steps: usize, elapsed: Duration, logs: &[(String, f32)]) -> String {
    let per_step = elapsed.as_secs_f64() / steps.max(1) as f64;
    format!(
        "{steps}/{steps} - {:.0}s - {}{}",
        elapsed.as_secs_f64(),
        fmt_per_step(per_step),
        fmt_logs(logs)
    )
}

impl Progress {
    pub(crate) fn new(verbose: u8, epoch: usize, epochs: usize, steps: usize) -> Self {
        if verbose >= 1 && epochs > 1 {
            say(format_args!("Epoch {}/{}\n", epoch + 1, epochs));
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
        say(format_args!("\r{}", self.line(step, logs)));
    }

    pub(crate) fn finish(&mut self, steps: usize, logs: &[(String, f32)]) {
        // A generator's epoch ends when its data does: its count is known only now.
        self.steps = steps;
        match self.verbose {
            0 => {}
            1 => say(format_args!(
                "{}{}\n",
                if self.tty { "\r" } else { "" },
                self.line(self.steps, logs)
            )),
            _ => say(format_args!(
                "{}\n",
                epoch_line(self.steps, self.start.elapsed(), logs)
            )),
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
        let per_step = elapsed.as_secs_f64() / step.max(1) as f64;
        let digits = self.steps.to_string().len();
        format!(
            "{step:>digits$}/{} [{bar}] {:.0}s {}{}",
            self.steps,
            elapsed.as_secs_f64(),
            fmt_per_step(per_step),
            fmt_logs(logs)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_2_writes_keras_s_one_line_log() {
        let logs = [
            ("loss".to_string(), 0.41234),
            ("accuracy".to_string(), 0.875),
        ];
        assert_eq!(
            epoch_line(32, Duration::from_millis(70), &logs),
            "32/32 - 0s - 2ms/step - loss: 0.4123 - accuracy: 0.8750"
        );
        assert_eq!(
            epoch_line(2, Duration::from_secs(5), &[]),
            "2/2 - 5s - 2s/step"
        );
    }

    #[test]
    fn values_and_step_times_are_formatted_as_keras_formats_them() {
        assert_eq!(fmt_value(0.000_123_4), "1.2340e-04");
        assert_eq!(fmt_value(-0.5), "-0.5000");
        assert_eq!(fmt_value(0.0), "0.0000e+00");
        assert_eq!(fmt_value(f32::NAN), "nan");
        assert_eq!(fmt_value(f32::NEG_INFINITY), "-inf");
        assert_eq!(fmt_per_step(0.000_25), "250us/step");
        assert_eq!(fmt_per_step(0.0), "0s/step");
    }
}
