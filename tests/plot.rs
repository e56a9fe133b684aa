//! `History::plot`: the PNG and SVG pictures of loss and metrics per epoch.

use wgfit::{Error, History};

fn history(epochs: usize) -> History {
    let mut h = History::default();
    let curve = |a: f32, b: f32| (0..epochs).map(|e| a + b / (e as f32 + 1.0)).collect();
    h.history.insert("loss".into(), curve(0.2, 1.0));
    h.history.insert("val_loss".into(), curve(0.3, 1.1));
    h.history.insert("accuracy".into(), curve(0.95, -0.5));
    h.history.insert("val_accuracy".into(), curve(0.9, -0.5));
    h
}

/// Decodes a PNG into (width, height, RGB bytes).
fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn count(
    rgb: &[u8],
    width: u32,
    x: std::ops::Range<u32>,
    y: std::ops::Range<u32>,
    pred: impl Fn(&[u8]) -> bool,
) -> usize {
    y.flat_map(|y| x.clone().map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let i = ((y * width + x) * 3) as usize;
            pred(&rgb[i..i + 3])
        })
        .count()
}

#[test]
fn png_has_a_panel_per_quantity_with_both_curves_and_axis_text() {
    let (w, h, rgb) = decode(&history(12).plot_png().unwrap());
    assert_eq!(
        (w, h),
        (1040, 400),
        "two panels (loss, accuracy) side by side"
    );
    let blue = |p: &[u8]| p == [31, 119, 180];
    let orange = |p: &[u8]| p == [255, 127, 14];
    let dark = |p: &[u8]| p.iter().all(|&c| c < 100);
    for panel in 0..2 {
        let x = panel * 520..(panel + 1) * 520;
        assert!(
            count(&rgb, w, x.clone(), 0..h, blue) > 200,
            "panel {panel}: training curve"
        );
        assert!(
            count(&rgb, w, x.clone(), 0..h, orange) > 200,
            "panel {panel}: validation curve"
        );
        // Text: the caption above the plot, the `epoch` label and tick numbers below it.
        assert!(
            count(&rgb, w, x.clone(), 0..40, dark) > 30,
            "panel {panel}: caption"
        );
        assert!(
            count(&rgb, w, x, h - 40..h, dark) > 30,
            "panel {panel}: x axis text"
        );
    }
}

#[test]
fn svg_names_axes_panels_and_series() {
    let svg = history(3).plot_svg().unwrap();
    assert!(svg.starts_with("<svg"));
    for text in ["epoch", "loss", "accuracy", "training", "validation"] {
        assert!(
            svg.contains(&format!(">\n{text}\n</text>")),
            "{text} missing from the SVG"
        );
    }
    assert!(
        !svg.contains("wgfit-sans"),
        "the SVG names fonts a viewer has"
    );
}

#[test]
fn plot_writes_the_format_its_extension_names() {
    let dir = std::env::temp_dir().join(format!("wgfit-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let h = history(1);
    h.plot(dir.join("h.png")).unwrap();
    h.plot(dir.join("h.SVG")).unwrap();
    assert_eq!(
        &std::fs::read(dir.join("h.png")).unwrap()[..8],
        b"\x89PNG\r\n\x1a\n"
    );
    assert!(
        std::fs::read_to_string(dir.join("h.SVG"))
            .unwrap()
            .starts_with("<svg")
    );
    let err = h.plot(dir.join("h.jpg")).unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains(".png or .svg")),
        "{err}"
    );
    let err = h.plot(dir.join("missing-dir").join("h.png")).unwrap_err();
    assert!(matches!(err, Error::File { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_and_non_finite_histories() {
    let err = History::default().plot_png().unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err}");
    // A run stopped by TerminateOnNaN still plots: the NaN epoch is left out of the curve.
    let mut h = History::default();
    h.history.insert("loss".into(), vec![1.0, 0.5, f32::NAN]);
    let (w, _, rgb) = decode(&h.plot_png().unwrap());
    assert_eq!(w, 520);
    assert!(count(&rgb, w, 0..w, 0..400, |p| p == [31, 119, 180]) > 100);
    // Only NaN: an empty panel, not an error.
    h.history.insert("loss".into(), vec![f32::NAN]);
    h.plot_svg().unwrap();
}
