//! Every WGSL kernel wgfit dispatches (`wgfit::ops::kernels()`), parsed and validated by naga
//! and checked against its Rust declaration: the uniform `Params` struct at binding 0 (field
//! names, order, byte offsets, types, size) against the `#[repr(C)]` one declared with
//! `params!`, and the bindings each entry point uses against the number of buffers its
//! dispatch binds (Params at 0, buffers at 1..=n: wgpu derives the layout from what the entry
//! point uses, so both sides must agree exactly). The dispatches themselves are checked
//! against the same declaration at run time.

use naga::valid::{Capabilities, ValidationFlags, Validator};
use wgfit::device::{Kernel, ParamsLayout};

/// WGSL's name of a scalar type, as Rust spells the same one.
fn wgsl_type(module: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
    match module.types[ty].inner {
        naga::TypeInner::Scalar(naga::Scalar { kind, width: 4 }) => match kind {
            naga::ScalarKind::Uint => "u32".into(),
            naga::ScalarKind::Sint => "i32".into(),
            naga::ScalarKind::Float => "f32".into(),
            other => format!("{other:?}"),
        },
        ref other => format!("{other:?}"),
    }
}

/// What is wrong with `kernel`, one line each; empty when its declaration fits its WGSL.
fn problems(kernel: &Kernel) -> Vec<String> {
    let name = kernel.name;
    let module = match naga::front::wgsl::parse_str(kernel.source) {
        Ok(m) => m,
        Err(e) => return vec![format!("{name}: {}", e.emit_to_string(kernel.source))],
    };
    let info = match Validator::new(ValidationFlags::all(), Capabilities::all()).validate(&module) {
        Ok(info) => info,
        Err(e) => return vec![format!("{name}: {}", e.emit_to_string(kernel.source))],
    };
    let mut out = Vec::new();

    let bound: Vec<_> = module
        .global_variables
        .iter()
        .filter_map(|(h, g)| g.binding.as_ref().map(|b| (h, g, b)))
        .collect();
    for (_, g, b) in &bound {
        if b.group != 0 {
            out.push(format!(
                "{name}: {:?} is in group {}, not 0",
                g.name, b.group
            ));
        }
    }
    match bound.iter().find(|(_, _, b)| b.binding == 0) {
        None => out.push(format!("{name}: nothing at binding 0, where the Params go")),
        Some((_, g, _)) => {
            if g.space != naga::AddressSpace::Uniform {
                out.push(format!("{name}: binding 0 is {:?}, not a uniform", g.space));
            }
            match &module.types[g.ty].inner {
                naga::TypeInner::Struct { members, span } => {
                    let wgsl: Vec<(String, usize, String)> = members
                        .iter()
                        .map(|m| {
                            let field = m.name.clone().unwrap_or_default();
                            (field, m.offset as usize, wgsl_type(&module, m.ty))
                        })
                        .collect();
                    let rust: Vec<(String, usize, String)> = kernel
                        .params
                        .fields
                        .iter()
                        .map(|&(f, o, t)| (f.to_string(), o, t.to_string()))
                        .collect();
                    if wgsl != rust {
                        out.push(format!(
                            "{name}: Params fields differ: WGSL {wgsl:?}, Rust {rust:?}"
                        ));
                    }
                    if *span as usize != kernel.params.size {
                        out.push(format!(
                            "{name}: Params is {span} bytes in WGSL, {} in Rust",
                            kernel.params.size
                        ));
                    }
                }
                other => out.push(format!("{name}: binding 0 is {other:?}, not a struct")),
            }
        }
    }

    for (i, entry) in module.entry_points.iter().enumerate() {
        let uses = info.get_entry_point(i);
        let mut used: Vec<u32> = bound
            .iter()
            .filter(|(h, _, _)| !uses[*h].is_empty())
            .map(|(_, _, b)| b.binding)
            .collect();
        used.sort_unstable();
        match kernel.entries.iter().find(|(e, _)| *e == entry.name) {
            None => out.push(format!(
                "{name}::{}: an entry point the Rust side does not declare",
                entry.name
            )),
            Some(&(_, n)) => {
                let bound_by_dispatch: Vec<u32> = (0..=n as u32).collect();
                if used != bound_by_dispatch {
                    out.push(format!(
                        "{name}::{}: uses bindings {used:?}, but its dispatch binds \
                         {bound_by_dispatch:?} (Params and {n} buffers)",
                        entry.name
                    ));
                }
            }
        }
    }
    for (entry, _) in kernel.entries {
        if !module.entry_points.iter().any(|e| e.name == *entry) {
            out.push(format!("{name}::{entry}: declared, but not in the WGSL"));
        }
    }
    out
}

#[test]
fn every_kernel_s_params_and_bindings_match_its_wgsl() {
    let kernels = wgfit::ops::kernels();
    let all: Vec<String> = kernels.iter().flat_map(|k| problems(k)).collect();
    assert!(all.is_empty(), "{}", all.join("\n"));
    // Every kernel is checked once: names are unique.
    let mut names: Vec<_> = kernels.iter().map(|k| k.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), kernels.len());
}

/// A shader that no registered kernel includes would escape the check above. The I/O files
/// of the vec4 matmul are composed by sections (`// @a`, `// @b`, `// @c`): each must appear.
#[test]
fn every_shader_file_is_in_a_registered_kernel() {
    let kernels = wgfit::ops::kernels();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut pieces = vec![String::new()];
        for line in text.split_inclusive('\n') {
            if line.starts_with("// @") {
                pieces.push(String::new());
            }
            pieces.last_mut().unwrap().push_str(line);
        }
        // A sectioned file's preamble (before its first marker) is a comment no kernel takes.
        let sections = if pieces.len() > 1 {
            &pieces[1..]
        } else {
            &pieces[..]
        };
        for piece in sections.iter().filter(|p| !p.trim().is_empty()) {
            assert!(
                kernels.iter().any(|k| k.source.contains(piece.as_str())),
                "{} (or one of its sections) is in no kernel of wgfit::ops::kernels()",
                path.display()
            );
        }
        files += 1;
    }
    assert!(files >= 20, "{files} shader files in {}", dir.display());
}

const TOY: &str = "
struct Params {
    n: u32,
    scale: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;

@compute @workgroup_size(64)
fn both(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < p.n { x[id.x] = y[id.x] * p.scale; }
}

@compute @workgroup_size(64)
fn only_x(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < p.n { x[id.x] = p.scale; }
}
";

fn toy(fields: &'static [(&'static str, usize, &'static str)], size: usize) -> Kernel {
    Kernel {
        name: "toy",
        source: TOY,
        params: ParamsLayout { fields, size },
        entries: &[("both", 2), ("only_x", 1)],
        trusted: false,
    }
}

#[test]
fn the_checker_reports_each_kind_of_mismatch() {
    let right: &[(&str, usize, &str)] = &[("n", 0, "u32"), ("scale", 4, "f32")];
    assert_eq!(problems(&toy(right, 8)), Vec::<String>::new());

    let one = |k: Kernel, needle: &str| {
        let found = problems(&k);
        assert!(
            found.len() == 1 && found[0].contains(needle),
            "expected one problem mentioning {needle:?}, got {found:?}"
        );
    };
    // Fields swapped (offsets follow the order), a field of the wrong type, one missing.
    one(
        toy(&[("scale", 0, "f32"), ("n", 4, "u32")], 8),
        "fields differ",
    );
    one(
        toy(&[("n", 0, "u32"), ("scale", 4, "u32")], 8),
        "fields differ",
    );
    one(toy(&[("n", 0, "u32")], 8), "fields differ");
    // The right fields, but a Rust struct padded to another size.
    one(toy(right, 16), "8 bytes in WGSL, 16 in Rust");
    // Bindings: a dispatch binding too few, an undeclared entry, a declared one not there.
    let mut k = toy(right, 8);
    k.entries = &[("both", 1), ("only_x", 1)];
    one(k, "toy::both: uses bindings [0, 1, 2]");
    let mut k = toy(right, 8);
    k.entries = &[("both", 2)];
    one(
        k,
        "toy::only_x: an entry point the Rust side does not declare",
    );
    let mut k = toy(right, 8);
    k.entries = &[("both", 2), ("only_x", 1), ("gone", 1)];
    one(k, "toy::gone: declared, but not in the WGSL");
    // WGSL that does not parse is reported, not a panic.
    let mut k = toy(right, 8);
    k.source = "fn (";
    assert_eq!(problems(&k).len(), 1);
}
