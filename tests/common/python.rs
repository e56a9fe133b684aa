//! The Python interpreter that tests of the repo's Python tools (tools/*.py: the Keras model
//! converters, the ONNX check) run them with: `WGFIT_PYTHON` (default `python3`).

use std::process::Command;

/// The interpreter when it imports every module in `modules`. Otherwise a loud warning and
/// `None` (the test's Python half is skipped), or a panic under `WGFIT_REQUIRE_PYTHON=1`:
/// CI sets it (and installs the modules in a venv), so there these tests never skip.
pub fn python(modules: &[&str]) -> Option<String> {
    let py = std::env::var("WGFIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = format!("import {}", modules.join(", "));
    let ok = Command::new(&py)
        .args(["-c", &probe])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    let msg = format!(
        "`{py} -c '{probe}'` failed: install them (pip install {}) or set WGFIT_PYTHON",
        modules.join(" ")
    );
    if std::env::var("WGFIT_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
        panic!("{msg} (WGFIT_REQUIRE_PYTHON=1)");
    }
    eprintln!("WARNING: {msg}: this test's Python half is SKIPPED");
    None
}

/// Runs `py script args...`, panicking with its output when it fails.
pub fn run(py: &str, script: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{py} {script}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{py} {script} {args:?} failed:\n{text}"
    );
    text
}
