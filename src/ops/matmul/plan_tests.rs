//! The plan's unit tests: the tiles themselves, the software choice (lavapipe's, unchanged),
//! and the hardware choice for the workloads' training products at the target workgroup
//! counts of three real GPUs (two per compute unit), with the table of workgroups per
//! dispatch before (the software choice, which every adapter ran until now) and after.
//! Print the table with `cargo test --release --lib plan_table -- --nocapture`.

use super::*;

/// Target workgroups (two per compute unit) of the modelled GPUs: an H100/H200 (132 SMs), a
/// 10-core Apple M-series GPU, a 32-CU AMD GPU.
const GPUS: [(&str, u32); 3] = [
    ("H100 132 SMs", 264),
    ("Apple 10 cores", 20),
    ("AMD 32 CUs", 64),
];

/// The training products (batch, M, N, K) of W1-W4 (examples/workloads.rs): Dense forward
/// `x·W`, weight gradient `xᵀ·dy` (M = fan-in, K = batch rows), input gradient `dy·Wᵀ`
/// (K = fan-out); the LSTM's input projection over B·T rows and its two weight gradients.
type Shape = (usize, usize, usize, usize);

const PRODUCTS: [(&str, Shape); 17] = [
    ("W1 dense1 x·W [32,784]·[784,128]", (1, 32, 128, 784)),
    ("W1 dense1 xᵀ·dy", (1, 784, 128, 32)),
    ("W1 dense2 h·W [32,128]·[128,10]", (1, 32, 10, 128)),
    ("W1 dense2 hᵀ·dy", (1, 128, 10, 32)),
    ("W1 dense2 dy·Wᵀ", (1, 32, 128, 10)),
    ("W2 dense1 x·W [128,784]·[784,128]", (1, 128, 128, 784)),
    ("W2 dense1 xᵀ·dy", (1, 784, 128, 128)),
    ("W2 dense2 h·W [128,128]·[128,10]", (1, 128, 10, 128)),
    ("W2 dense2 hᵀ·dy", (1, 128, 10, 128)),
    ("W2 dense2 dy·Wᵀ", (1, 128, 128, 10)),
    ("W3 lstm x·Wx [38,10]·[10,128]", (1, 38, 128, 10)),
    ("W3 lstm hprevᵀ·dz", (1, 32, 128, 38)),
    ("W4 lstm x·Wx [6400,10]·[10,512]", (1, 6400, 512, 10)),
    ("W4 lstm xᵀ·dz", (1, 10, 512, 6400)),
    ("W4 lstm hprevᵀ·dz", (1, 128, 512, 6400)),
    ("W4 dense h·W [64,128]·[128,1]", (1, 64, 1, 128)),
    ("W4 dense hᵀ·dy", (1, 128, 1, 64)),
];

fn describe(p: Plan, shape: (usize, usize, usize, usize)) -> String {
    let (batch, m, n, _) = shape;
    let t = p.tile;
    let split = if p.splits > 1 {
        format!(" split {} (K {} each)", p.splits, p.k_split)
    } else {
        String::new()
    };
    format!("{} ({}x{}{split})", p.workgroups(batch, m, n), t.tm, t.tn)
}

#[test]
fn plan_table() {
    let limits = wgpu::Limits::default();
    println!(
        "| product | (M, N, K) | before (any adapter) | {} |",
        GPUS.map(|g| g.0).join(" | ")
    );
    println!("|---|---|---|---|---|---|");
    for (name, shape) in PRODUCTS {
        let before = plan(&limits, shape, None).unwrap();
        let after: Vec<String> = GPUS
            .iter()
            .map(|&(_, target)| describe(plan(&limits, shape, Some(target)).unwrap(), shape))
            .collect();
        let (_, m, n, k) = shape;
        println!(
            "| {name} | ({m}, {n}, {k}) | {} | {} |",
            describe(before, shape),
            after.join(" | ")
        );
    }
}

#[test]
fn every_tile_fits_webgpu_s_guaranteed_limits_and_divides_evenly() {
    for t in TILES {
        assert!(t.fits(&wgpu::Limits::default()), "{t:?}");
        let (x, y) = t.workgroup_size();
        assert!(x * y >= 64, "{t:?}: fewer than 64 invocations");
        // The staging loops move whole vec4s; the blocks are whole vec4s.
        assert_eq!((t.tk * t.tm / 4) % (x * y), 0, "{t:?}");
        assert_eq!((t.tk * t.tn / 4) % (x * y), 0, "{t:?}");
        assert!(t.rm % 4 == 0 && t.rn % 4 == 0 && t.tk % 4 == 0, "{t:?}");
        assert_eq!((t.tm % t.rm, t.tn % t.rn), (0, 0), "{t:?}");
    }
}

#[test]
fn trips_per_step_are_those_measured_on_lavapipe() {
    let trips: Vec<usize> = TILES.iter().map(|t| t.trips_per_step()).collect();
    // 128x128, 64x64 and 32x32 measured; 64x32 and 32x64 by the same count.
    assert_eq!(trips, [24, 28, 26, 26, 24]);
}

fn software(limits: &wgpu::Limits, m: usize, n: usize) -> Option<Tile> {
    plan(limits, (1, m, n, 64), None).map(|p| {
        assert_eq!(p.splits, 1, "a software adapter never splits K");
        p.tile
    })
}

#[test]
fn software_adapters_keep_lavapipe_s_choice_for_large_outputs() {
    let webgpu = wgpu::Limits::default();
    assert_eq!(software(&webgpu, 1024, 1024), Some(TILES[0]));
    // 16 352 bytes of workgroup memory (downlevel): the 16 KiB tile does not fit.
    let downlevel = wgpu::Limits::downlevel_defaults();
    assert_eq!(software(&downlevel, 1024, 1024), Some(TILES[1]));
    let tiny = wgpu::Limits {
        max_compute_invocations_per_workgroup: 64,
        max_compute_workgroup_storage_size: 4096,
        ..webgpu.clone()
    };
    assert_eq!(software(&tiny, 1024, 1024), Some(TILES[4]));
    let too_small = wgpu::Limits {
        max_compute_invocations_per_workgroup: 32,
        ..webgpu
    };
    assert_eq!(software(&too_small, 1024, 1024), None);
    assert_eq!(plan(&too_small, (1, 1024, 1024, 64), Some(264)), None);
}

#[test]
fn software_adapters_keep_lavapipe_s_choice_for_small_outputs() {
    let limits = wgpu::Limits::default();
    // An LSTM step's [64, 512]: 128-row tiles would compute 64 rows of padding.
    assert_eq!(software(&limits, 64, 512), Some(TILES[1]));
    assert_eq!(software(&limits, 7, 13), Some(TILES[4]));
    assert_eq!(software(&limits, 1024, 10), Some(TILES[4]));
    // 200 x 200: 32x32 tiles pad 23% less than 128x128, too little for their cost.
    assert_eq!(software(&limits, 200, 200), Some(TILES[0]));
    // W4's hprevᵀ·dz: 4 workgroups of 400 steps each, as before.
    let p = plan(&limits, (1, 128, 512, 6400), None).unwrap();
    assert_eq!(
        (p.tile, p.splits, p.workgroups(1, 128, 512)),
        (TILES[0], 1, 4)
    );
}

/// (tile (TM, TN), splits, workgroups) of the hardware plan.
fn hardware(shape: (usize, usize, usize, usize), target: u32) -> ((u32, u32), u32, u64) {
    let p = plan(&wgpu::Limits::default(), shape, Some(target)).unwrap();
    let (batch, m, n, _) = shape;
    ((p.tile.tm, p.tile.tn), p.splits, p.workgroups(batch, m, n))
}

#[test]
fn hardware_adapters_fill_an_h100_with_the_training_products() {
    let h100 = 264;
    // W2's forward [128,784]·[784,128]: 1 workgroup before; 32x32 tiles and K in 13 ranges
    // of 4 steps, the most allowed (208 of 264).
    assert_eq!(hardware((1, 128, 128, 784), h100), ((32, 32), 13, 208));
    // W4's hprevᵀ·dz (K = 6400): 4 workgroups before; 64x64 tiles, K in 17 ranges of 384.
    assert_eq!(hardware((1, 128, 512, 6400), h100), ((64, 64), 17, 272));
    // W4's xᵀ·dz (M = 10): 32-row tiles pad least; of those the larger, K in 34 ranges.
    assert_eq!(hardware((1, 10, 512, 6400), h100), ((32, 64), 34, 272));
    // W4's input projection [6400,10]·[10,512] needs no split: 64x64 tiles give 800.
    assert_eq!(hardware((1, 6400, 512, 10), h100), ((64, 64), 1, 800));
    // A large square product stays on the largest tile.
    assert_eq!(hardware((1, 4096, 4096, 4096), h100), ((128, 128), 1, 1024));
}

#[test]
fn hardware_plans_reach_the_target_or_the_most_workgroups_allowed() {
    let limits = wgpu::Limits::default();
    for (name, shape) in PRODUCTS {
        for (gpu, target) in GPUS {
            let p = plan(&limits, shape, Some(target)).unwrap();
            let (batch, m, n, k) = shape;
            let workgroups = p.workgroups(batch, m, n);
            let steps = (k as u32).div_ceil(p.tile.tk);
            // K is split only where the unsplit tile falls short, into ranges of whole steps
            // covering K exactly once, never more ranges than steps allow.
            assert!(
                p.k_split.is_multiple_of(p.tile.tk),
                "{name} on {gpu}: {p:?}"
            );
            assert!(
                u64::from(p.splits) * u64::from(p.k_split) >= k as u64,
                "{name}: {p:?}"
            );
            assert!(
                u64::from(p.splits - 1) * u64::from(p.k_split) < k.max(1) as u64,
                "{p:?}"
            );
            assert!(p.splits <= MAX_SPLITS, "{name} on {gpu}: {p:?}");
            if p.splits > 1 {
                assert!(
                    p.k_split / p.tile.tk >= MIN_STEPS_PER_SPLIT,
                    "{name} on {gpu}: {p:?}"
                );
                assert!(steps > p.k_split / p.tile.tk, "{name} on {gpu}: {p:?}");
                let unsplit = Plan::new(p.tile, k, 1).workgroups(batch, m, n);
                assert!(unsplit < u64::from(target), "{name} on {gpu}: {p:?}");
            }
            // Never fewer workgroups than the software choice gave.
            let before = plan(&limits, shape, None).unwrap().workgroups(batch, m, n);
            assert!(
                workgroups >= before.min(u64::from(target)),
                "{name} on {gpu}"
            );
        }
    }
}

#[test]
fn small_gpus_keep_large_tiles_where_they_already_have_enough_workgroups() {
    // A 10-core Apple GPU (target 20): W2's xᵀ·dy [784, 128] has 28 workgroups of 64x64.
    assert_eq!(hardware((1, 784, 128, 128), 20), ((64, 64), 1, 26));
    // W4's hprevᵀ·dz: 64x32 tiles give 32 without splitting K.
    assert_eq!(hardware((1, 128, 512, 6400), 20), ((64, 32), 1, 32));
    // W2's forward needs a split there too: 64x64 tiles, K in 5 ranges.
    assert_eq!(hardware((1, 128, 128, 784), 20), ((64, 64), 5, 20));
}

#[test]
fn a_split_never_outgrows_one_storage_binding() {
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 4 * 128 * 512 * 3,
        ..wgpu::Limits::default()
    };
    let p = plan(&limits, (1, 128, 512, 6400), Some(264)).unwrap();
    assert!(p.splits <= 3, "{p:?}");
}

#[test]
fn plans_cover_k_of_zero_and_one() {
    for k in [0, 1, 15, 16, 17] {
        let p = plan(&wgpu::Limits::default(), (1, 5, 7, k), Some(264)).unwrap();
        assert_eq!(p.splits, 1, "K = {k}: too short to split");
    }
    let p = Plan::new(TILES[0], 100, 64);
    assert_eq!((p.splits, p.k_split), (7, 16));
    let p = Plan::new(TILES[0], 6400, 17);
    assert_eq!((p.splits, p.k_split), (17, 384));
}

#[test]
fn default_targets_by_device_type() {
    assert_eq!(default_target(wgpu::DeviceType::Cpu), None);
    assert_eq!(default_target(wgpu::DeviceType::DiscreteGpu), Some(256));
    assert_eq!(default_target(wgpu::DeviceType::IntegratedGpu), Some(32));
}
