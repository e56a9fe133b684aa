//! The window: data set and model, start / pause / resume / stop, a live loss and accuracy
//! plot, the adapter, save the model, predict a chosen sample. Training runs on the UI thread a
//! few batches per frame through `Trainer::try_step`, which never waits for the GPU.

use std::path::PathBuf;
use std::time::Instant;

use eframe::egui;
use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints};
use wgfit::Device;

use crate::data::{self, Data};
use crate::selftest::SelfTest;
use crate::session::Session;
use crate::stats::FrameStats;

/// The loss curve's colour (the self-test looks for it in the screenshot).
pub const LOSS: Color32 = Color32::from_rgb(255, 120, 0);
/// The accuracy curve's colour.
pub const ACCURACY: Color32 = Color32::from_rgb(0, 170, 255);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Idle,
    Running,
    Paused,
    Finished,
}

/// The curves: (epochs, value) after each batch whose running logs arrived.
#[derive(Default)]
struct Curves {
    loss: Vec<[f64; 2]>,
    accuracy: Vec<[f64; 2]>,
    seen: Option<(usize, usize)>,
}

pub struct App {
    device: Device,
    adapter: String,
    data: Option<Data>,
    session: Option<Session>,
    status: Status,
    epochs: usize,
    pub batches_per_frame: usize,
    /// Training submits left running on the GPU (`Trainer::set_queue_depth`).
    pub queue_depth: usize,
    pub batch_size: usize,
    /// Train on one frame in this many: on a GPU that also draws the window (a software
    /// adapter above all), the frames between draw without training work queued before them.
    pub train_every: usize,
    frame: usize,
    curves: Curves,
    path: String,
    model_path: String,
    sample: usize,
    message: String,
    pub stats: FrameStats,
    pub self_test: Option<SelfTest>,
    /// The plot's rectangle in points, for the self-test's check.
    pub plot_rect: Option<egui::Rect>,
    /// Batches trained, as of the last frame.
    trained: usize,
}

impl App {
    pub fn new(device: Device, adapter: String, self_test: Option<SelfTest>) -> App {
        let mut app = App {
            device,
            adapter,
            data: None,
            session: None,
            status: Status::Idle,
            epochs: 40,
            batches_per_frame: 1,
            queue_depth: 1,
            batch_size: 32,
            train_every: 1,
            frame: 0,
            curves: Curves::default(),
            path: String::new(),
            model_path: "wgfit-desktop.wgfit".into(),
            sample: 0,
            message: String::new(),
            stats: FrameStats::default(),
            self_test,
            plot_rect: None,
            trained: 0,
        };
        app.load(data::japanese_vowels());
        app
    }

    fn load(&mut self, data: anyhow::Result<Data>) {
        match data {
            Ok(d) => {
                self.message = format!(
                    "{}: {} training, {} test samples of {:?}, {} classes",
                    d.name,
                    d.y_train.len(),
                    d.y_test.len(),
                    &d.x_train.shape()[1..],
                    d.classes
                );
                self.data = Some(d);
                self.session = None;
                self.status = Status::Idle;
                self.curves = Curves::default();
            }
            Err(e) => self.message = format!("could not load: {e:#}"),
        }
    }

    /// A fresh model and trainer on the loaded data.
    pub fn start(&mut self) {
        let Some(data) = &self.data else { return };
        self.session = None;
        match Session::new(data, &self.device, self.epochs, self.batch_size) {
            Ok(mut s) => {
                s.trainer().set_queue_depth(self.queue_depth);
                self.session = Some(s);
                self.status = Status::Running;
                self.curves = Curves::default();
            }
            Err(e) => self.message = format!("could not start: {e}"),
        }
    }

    /// Batches trained so far.
    pub fn batches_done(&mut self) -> usize {
        self.session.as_mut().map_or(0, |s| {
            let st = s.trainer().state();
            st.epoch * st.batches_per_epoch + st.batch
        })
    }

    /// Batches trained so far, without a `&mut` (for the report).
    pub fn batches_done_now(&self) -> usize {
        self.trained
    }

    /// Pauses training (the self-test's paused frames).
    pub fn pause(&mut self) {
        if self.status == Status::Running {
            self.status = Status::Paused;
        }
    }

    pub fn finished(&self) -> bool {
        self.status == Status::Finished
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn curve_points(&self) -> usize {
        self.curves.loss.len()
    }

    /// This frame's training: a few batches when running (never waiting for the GPU), else
    /// collecting what has arrived.
    fn train(&mut self) {
        self.frame += 1;
        let running = self.status == Status::Running;
        self.stats.frame(running);
        let running = running && self.frame.is_multiple_of(self.train_every.max(1));
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let before = session.trainer().state();
        let t0 = Instant::now();
        let result = if running {
            session.trainer().try_step(self.batches_per_frame)
        } else {
            session.trainer().poll()
        };
        let took = t0.elapsed();
        if took.as_millis() >= 20 && std::env::var_os("WGFIT_DESKTOP_TRACE").is_some() {
            eprintln!("slow training call: {took:?} at {before:?} -> {result:?}");
        }
        match result {
            Ok(state) => {
                if running {
                    let ran = (state.epoch * state.batches_per_epoch + state.batch)
                        .saturating_sub(before.epoch * before.batches_per_epoch + before.batch);
                    self.stats.step(took, ran);
                }
                self.trained = state.epoch * state.batches_per_epoch + state.batch;
                if state.done {
                    self.status = Status::Finished;
                }
            }
            Err(e) => {
                self.message = format!("training failed: {e}");
                self.status = Status::Finished;
            }
        }
        let steps = session.trainer().state().batches_per_epoch.max(1);
        if let Some(live) = session.latest()
            && self.curves.seen != Some((live.epoch, live.batch))
        {
            self.curves.seen = Some((live.epoch, live.batch));
            let x = live.epoch as f64 + live.batch as f64 / steps as f64;
            self.curves.loss.push([x, f64::from(live.logs.loss)]);
            if let Some(acc) = live.logs.get("accuracy") {
                self.curves.accuracy.push([x, f64::from(acc)]);
            }
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(format!("device: {}", self.adapter));
        });
        ui.horizontal_wrapped(|ui| {
            if ui.button("Japanese Vowels").clicked() {
                self.load(data::japanese_vowels());
            }
            if ui.button("digits").clicked() {
                self.load(data::digits());
            }
            ui.add(
                egui::TextEdit::singleline(&mut self.path)
                    .hint_text(".npz / .csv path")
                    .desired_width(110.0),
            );
            if ui.button("load").clicked() {
                self.load(data::user_file(&PathBuf::from(self.path.trim())));
            }
            ui.add(
                egui::DragValue::new(&mut self.epochs)
                    .range(1..=1000)
                    .prefix("epochs "),
            );
            ui.add(
                egui::DragValue::new(&mut self.batch_size)
                    .range(1..=512)
                    .prefix("batch "),
            );
            ui.add(
                egui::DragValue::new(&mut self.train_every)
                    .range(1..=10)
                    .prefix("train 1 frame in "),
            );
            ui.add(
                egui::DragValue::new(&mut self.batches_per_frame)
                    .range(1..=16)
                    .prefix("batches/frame "),
            );
            if ui
                .add(
                    egui::DragValue::new(&mut self.queue_depth)
                        .range(1..=2)
                        .prefix("queued "),
                )
                .changed()
                && let Some(s) = self.session.as_mut()
            {
                s.trainer().set_queue_depth(self.queue_depth);
            }
        });
        ui.horizontal_wrapped(|ui| {
            if ui.button("start").clicked() {
                self.start();
            }
            match self.status {
                Status::Running if ui.button("pause").clicked() => self.status = Status::Paused,
                Status::Paused if ui.button("resume").clicked() => self.status = Status::Running,
                _ => {}
            }
            let live = matches!(self.status, Status::Running | Status::Paused);
            if ui.add_enabled(live, egui::Button::new("stop")).clicked()
                && let Some(s) = self.session.as_mut()
            {
                s.trainer().cancel();
                self.status = Status::Finished;
            }
            ui.add(egui::TextEdit::singleline(&mut self.model_path).desired_width(150.0));
            if ui
                .add_enabled(self.session.is_some(), egui::Button::new("save model"))
                .clicked()
            {
                self.message = self.save_model().unwrap_or_else(|e| e);
            }
            self.predict(ui);
        });
    }

    fn predict(&mut self, ui: &mut egui::Ui) {
        let n = self.data.as_ref().map_or(0, |d| d.y_test.len());
        ui.add(
            egui::DragValue::new(&mut self.sample)
                .range(0..=n.saturating_sub(1))
                .prefix("test #"),
        );
        let can = self.session.is_some() && self.status != Status::Running;
        if ui
            .add_enabled(can, egui::Button::new("predict"))
            .on_disabled_hover_text("pause first")
            .clicked()
        {
            self.message = self.predict_sample().map_or_else(|e| e, |(line, _)| line);
        }
    }

    /// Predicts the chosen test sample: a line for the status bar, and the probabilities.
    pub fn predict_sample(&mut self) -> Result<(String, Vec<f32>), String> {
        let (Some(s), Some(d)) = (self.session.as_mut(), self.data.as_ref()) else {
            return Err("nothing trained yet".into());
        };
        let p = s
            .predict(&d.x_test, self.sample)
            .map_err(|e| format!("could not predict: {e}"))?;
        let (best, prob) = p
            .iter()
            .enumerate()
            .fold((0, 0.0f32), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        let line = format!(
            "test #{}: predicted class {best} ({:.0}%), true class {}",
            self.sample,
            100.0 * prob,
            d.y_test[self.sample]
        );
        Ok((line, p))
    }

    /// Saves the whole model (architecture, weights, optimizer state: `Model::save`) to the
    /// path in the text field; `wgfit::load_model` opens it without this app's code.
    pub fn save_model(&mut self) -> Result<String, String> {
        let s = self.session.as_mut().ok_or("nothing trained yet")?;
        s.save(std::path::Path::new(&self.model_path))
            .map(|()| format!("model saved to {}", self.model_path))
            .map_err(|e| format!("could not save: {e}"))
    }

    /// The test sample "predict" shows.
    pub fn sample(&self) -> usize {
        self.sample
    }

    /// Where "save model" writes.
    pub fn set_model_path(&mut self, path: &std::path::Path) {
        self.model_path = path.display().to_string();
    }

    fn plot(&mut self, ui: &mut egui::Ui) {
        let interactive = self.self_test.is_none();
        let response = Plot::new("curves")
            .legend(Legend::default())
            .include_y(0.0)
            .include_y(1.0)
            .x_axis_label("epoch")
            .show_x(interactive)
            .show_y(interactive)
            .allow_drag(interactive)
            .allow_zoom(interactive)
            .allow_scroll(interactive)
            .show(ui, |p| {
                p.line(
                    Line::new(
                        "loss (running, epoch)",
                        PlotPoints::from(self.curves.loss.clone()),
                    )
                    .color(LOSS)
                    .width(2.0),
                );
                p.line(
                    Line::new("accuracy", PlotPoints::from(self.curves.accuracy.clone()))
                        .color(ACCURACY)
                        .width(2.0),
                );
            });
        self.plot_rect = Some(response.response.rect);
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.train();
        let ctx = ui.ctx().clone();
        egui::Panel::top("controls").show(ui, |ui| self.controls(ui));
        egui::Panel::bottom("status").show(ui, |ui| {
            let state = self.session.as_mut().map(|s| s.trainer().state());
            let progress = state.map_or(String::new(), |s| {
                format!(
                    "epoch {} batch {}/{} · ",
                    s.epoch + 1,
                    s.batch,
                    s.batches_per_epoch
                )
            });
            ui.label(format!("{:?} · {progress}{}", self.status, self.message));
        });
        egui::CentralPanel::default().show(ui, |ui| self.plot(ui));
        if let Some(test) = self.self_test.take() {
            self.self_test = test.frame(self, &ctx);
        }
        ctx.request_repaint();
    }
}
