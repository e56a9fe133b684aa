//! `History::plot`: loss and metrics per epoch as a PNG or SVG picture, one panel per quantity,
//! training and validation curves in each, with labelled axes and a legend.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::History;
use crate::error::{Error, Result};

/// Pixels per panel; one panel per quantity (loss, accuracy...) side by side.
const PANEL: (u32, u32) = (520, 400);
/// The family our embedded font is registered under (a name of our own, so an app's own
/// plotters fonts are left alone). In SVG output it is replaced by a generic family.
const FONT: &str = "wgfit-sans";
const TRAINING: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(255, 127, 14);

/// One quantity: its name and its training and validation values per epoch.
struct Panel {
    name: String,
    series: Vec<(&'static str, RGBColor, Vec<f32>)>,
}

impl History {
    /// Writes loss and metrics per epoch to `path`, as a PNG or an SVG picture chosen by the
    /// extension (`.png`, `.svg`): one panel per quantity (`loss`, then each metric), training
    /// and validation (`val_*`) curves in each, x axis `epoch`, y axis the quantity, a legend.
    ///
    /// ```
    /// use wgfit::History;
    /// let mut history = History::default();
    /// history.history.insert("loss".into(), vec![0.9, 0.5, 0.4]);
    /// history.history.insert("val_loss".into(), vec![1.0, 0.7, 0.6]);
    /// let path = std::env::temp_dir().join(format!("wgfit-doc-history-{}.png", std::process::id()));
    /// history.plot(&path)?;
    /// assert_eq!(&std::fs::read(&path)?[1..4], b"PNG");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    ///
    /// Errors: [`Error::Empty`] for a history with no epochs, [`Error::Config`] for another
    /// extension, [`Error::File`] when the file cannot be written.
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let bytes = match extension.as_deref() {
            Some("png") => self.plot_png()?,
            Some("svg") => self.plot_svg()?.into_bytes(),
            _ => {
                return Err(Error::Config(format!(
                    "History::plot writes .png or .svg files; {} has neither extension",
                    path.display()
                )));
            }
        };
        std::fs::write(path, bytes).map_err(|e| Error::File {
            path: path.to_path_buf(),
            tensor: None,
            problem: format!("cannot write the plot: {e}"),
        })
    }

    /// The plot of [`History::plot`] as PNG bytes, for an app that shows it without a file.
    pub fn plot_png(&self) -> Result<Vec<u8>> {
        let panels = self.panels()?;
        let (w, h) = (PANEL.0 * panels.len() as u32, PANEL.1);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            draw(root, &panels).map_err(plot_error)?;
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(plot_error)?;
        writer.write_image_data(&rgb).map_err(plot_error)?;
        writer.finish().map_err(plot_error)?;
        Ok(out)
    }

    /// The plot of [`History::plot`] as an SVG document.
    pub fn plot_svg(&self) -> Result<String> {
        let panels = self.panels()?;
        let mut svg = String::new();
        {
            let size = (PANEL.0 * panels.len() as u32, PANEL.1);
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            draw(root, &panels).map_err(plot_error)?;
        }
        // Text in an SVG is drawn by its viewer: name fonts it has.
        Ok(svg.replace(
            &format!("font-family=\"{FONT}\""),
            "font-family=\"Go, Helvetica, Arial, sans-serif\"",
        ))
    }

    /// `loss` first, then the other quantities by name; `val_x` joins `x`'s panel.
    fn panels(&self) -> Result<Vec<Panel>> {
        if self.epochs() == 0 {
            return Err(Error::Empty {
                what: "the History to plot".into(),
                sample: None,
            });
        }
        let mut names: Vec<&str> = self
            .history
            .keys()
            .map(|k| k.strip_prefix("val_").unwrap_or(k))
            .collect();
        names.sort_by_key(|n| (*n != "loss", n.to_string()));
        names.dedup();
        Ok(names
            .into_iter()
            .map(|name| {
                let series = [
                    ("training", TRAINING, name.to_string()),
                    ("validation", VALIDATION, format!("val_{name}")),
                ]
                .into_iter()
                .filter_map(|(label, color, key)| {
                    self.get(&key).map(|v| (label, color, v.to_vec()))
                })
                .collect();
                Panel {
                    name: name.to_string(),
                    series,
                }
            })
            .collect())
    }
}

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Data(format!("drawing the History plot failed: {e}"))
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/Go-Regular.ttf");
        // The embedded font is a valid TrueType file, checked by the tests that plot.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, bytes);
    });
}

/// The finite range of all series, widened so flat curves still get a readable axis.
fn value_range(panel: &Panel) -> (f64, f64) {
    let finite = panel
        .series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .map(f64::from);
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3 * hi.abs().max(1.0));
    (lo - pad, hi + pad)
}

/// The legend goes in the upper right unless the curves end there (rising accuracy, say).
fn legend_position(panel: &Panel, lo: f64, hi: f64) -> SeriesLabelPosition {
    let ends_high = panel.series.iter().any(|(_, _, v)| {
        v.iter()
            .rev()
            .find(|v| v.is_finite())
            .is_some_and(|&v| f64::from(v) > (lo + hi) / 2.0)
    });
    if ends_high {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    }
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panels: &[Panel],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    register_font();
    root.fill(&WHITE)?;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        let epochs = panel.series.iter().map(|s| s.2.len()).max().unwrap_or(0) as i32;
        let (lo, hi) = value_range(panel);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.name, (FONT, 22))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(1..epochs.max(2), lo..hi)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(panel.name.as_str())
            .x_labels(epochs.clamp(2, 10) as usize)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (label, color, values) in &panel.series {
            let style = color.stroke_width(2);
            let points = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, &v)| (i as i32 + 1, f64::from(v)));
            chart
                .draw_series(LineSeries::new(points.clone(), style))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart.draw_series(points.map(|p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(legend_position(panel, lo, hi))
            .draw()?;
    }
    root.present()
}
