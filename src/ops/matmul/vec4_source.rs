//! The part of `shaders/matmul_vec4.wgsl` generated per tile and transpose of `a`, every loop
//! over an invocation's registers unrolled: an array indexed in loops may live in local
//! memory, and naga marks no loop for unrolling.
//!
//! - `struct Acc`: the invocation's `RM x RN/4` accumulators as named fields;
//! - `struct Staged`, `fetch`, `stage`: the invocation's share of the next K-tile, loaded
//!   into registers by `fetch` (vec4s `li, li + THREADS, ...` of each tile as stored) while
//!   the current tile is multiplied, then stored to the shared tiles by `stage`;
//! - `accumulate`: four k of the inner product, the same multiply-adds in the same order (k
//!   ascending, one product at a time) whichever layout `a_s` has;
//! - `store_tile`: the epilogue through the kernel's `finish`.

use std::fmt::Write as _;

use super::plan::Tile;

const LANE: [&str; 4] = ["x", "y", "z", "w"];

/// The generated WGSL for `tile`, with `a` stored `[K, M]` when `trans_a`.
pub(super) fn generated(tile: Tile, trans_a: bool) -> String {
    let mut s = accumulators(tile);
    s += &staging(tile);
    s += &if trans_a {
        accumulate_k_major(tile)
    } else {
        accumulate_k_contiguous(tile)
    };
    s + &store_tile(tile)
}

fn accumulators(tile: Tile) -> String {
    let mut s = String::from("struct Acc {\n");
    for i in 0..tile.rm {
        for j4 in 0..tile.rn / 4 {
            writeln!(s, "    c{i}_{j4}: vec4<f32>,").unwrap();
        }
    }
    s + "}\n\n"
}

/// Vec4s of each tile per invocation: the tiles hold `TM·TK/4` and `TN·TK/4` of them, which
/// every tile of `TILES` divides evenly among its `(TM/RM)·(TN/RN)` invocations (tested).
pub(super) fn staged_per_invocation(tile: Tile) -> Option<(u32, u32)> {
    let threads = (tile.tm / tile.rm) * (tile.tn / tile.rn);
    let (a, b) = (tile.tm * tile.tk / 4, tile.tn * tile.tk / 4);
    (a.is_multiple_of(threads) && b.is_multiple_of(threads)).then_some((a / threads, b / threads))
}

fn staging(tile: Tile) -> String {
    let (a, b) = staged_per_invocation(tile).expect("every tile divides its staging evenly");
    let mut s = String::from("struct Staged {\n");
    for q in 0..a {
        writeln!(s, "    a{q}: vec4<f32>,").unwrap();
    }
    for q in 0..b {
        writeln!(s, "    b{q}: vec4<f32>,").unwrap();
    }
    s += "}\n\nfn fetch(a_base: u32, b_base: u32, m0: u32, n0: u32, k0: u32, li: u32) -> Staged {\n    var s: Staged;\n";
    for q in 0..a {
        writeln!(
            s,
            "    s.a{q} = fetch_a(a_base, m0, k0, li + {q}u * THREADS);"
        )
        .unwrap();
    }
    for q in 0..b {
        writeln!(
            s,
            "    s.b{q} = fetch_b(b_base, n0, k0, li + {q}u * THREADS);"
        )
        .unwrap();
    }
    s += "    return s;\n}\n\nfn stage(s: Staged, li: u32) {\n";
    for q in 0..a {
        writeln!(s, "    stage_a(s.a{q}, li + {q}u * THREADS);").unwrap();
    }
    for q in 0..b {
        writeln!(s, "    stage_b(s.b{q}, li + {q}u * THREADS);").unwrap();
    }
    s + "}\n\n"
}

/// `a_s` as `[TM][TK/4]`: per k-quad `kq`, one vec4 (4 k) per row of the invocation, then
/// for each of the 4 k its `RN/4` vec4s of `b_s` and the `RM x RN/4` multiply-adds.
fn accumulate_k_contiguous(tile: Tile) -> String {
    let (rm, rn4) = (tile.rm, tile.rn / 4);
    let mut s = String::from("fn accumulate(acc: ptr<function, Acc>, kq: u32, x: u32, y: u32) {\n");
    for i in 0..rm {
        let row = format!("4u * (y + WG_Y * {}u) + {}u", i / 4, i % 4);
        writeln!(s, "    let a{i} = a_s[({row}) * TK4 + kq];").unwrap();
    }
    for (kk, lane) in LANE.iter().enumerate() {
        writeln!(s, "    {{").unwrap();
        for j4 in 0..rn4 {
            writeln!(
                s,
                "        let b{j4} = b_s[(4u * kq + {kk}u) * TN4 + x + WG_X * {j4}u];"
            )
            .unwrap();
        }
        for i in 0..rm {
            for j4 in 0..rn4 {
                writeln!(s, "        (*acc).c{i}_{j4} += a{i}.{lane} * b{j4};").unwrap();
            }
        }
        writeln!(s, "    }}").unwrap();
    }
    s + "}\n\n"
}

/// `a_s` as `[TK][TM/4]`: for each of the 4 k of quad `kq`, the invocation's `RM/4` vec4s
/// of `a_s` (4 rows each) and `RN/4` of `b_s`, and the `RM x RN/4` multiply-adds.
fn accumulate_k_major(tile: Tile) -> String {
    let (rm, rn4) = (tile.rm, tile.rn / 4);
    let mut s = String::from("fn accumulate(acc: ptr<function, Acc>, kq: u32, x: u32, y: u32) {\n");
    for kk in 0..4 {
        writeln!(s, "    {{\n        let kk = 4u * kq + {kk}u;").unwrap();
        for i4 in 0..rm / 4 {
            writeln!(s, "        let a{i4} = a_s[kk * TM4 + y + WG_Y * {i4}u];").unwrap();
        }
        for j4 in 0..rn4 {
            writeln!(s, "        let b{j4} = b_s[kk * TN4 + x + WG_X * {j4}u];").unwrap();
        }
        for i in 0..rm {
            for j4 in 0..rn4 {
                let a = format!("a{}.{}", i / 4, LANE[(i % 4) as usize]);
                writeln!(s, "        (*acc).c{i}_{j4} += {a} * b{j4};").unwrap();
            }
        }
        writeln!(s, "    }}").unwrap();
    }
    s + "}\n\n"
}

fn store_tile(tile: Tile) -> String {
    let (rm, rn4) = (tile.rm, tile.rn / 4);
    let mut s = String::from(
        "fn store_tile(acc: ptr<function, Acc>, c_base: u32, m0: u32, n0: u32, x: u32, y: u32) {\n",
    );
    for j4 in 0..rn4 {
        writeln!(
            s,
            "    {{\n        let col = n0 + 4u * (x + WG_X * {j4}u);\n        if col < p.n {{\n            \
             var bias = vec4<f32>(0.0);\n            if p.has_bias != 0u {{\n                \
             bias = load_bias4(col);\n            }}"
        )
        .unwrap();
        for i in 0..rm {
            let row = format!("m0 + 4u * (y + WG_Y * {}u) + {}u", i / 4, i % 4);
            writeln!(
                s,
                "            finish(c_base, {row}, col, (*acc).c{i}_{j4}, bias);"
            )
            .unwrap();
        }
        s += "        }\n    }\n";
    }
    s + "}\n"
}

#[cfg(test)]
mod tests {
    use super::super::plan::TILES;
    use super::*;

    #[test]
    fn every_tile_divides_its_staging_evenly() {
        for tile in TILES {
            let (a, b) = staged_per_invocation(tile).expect("divides");
            assert!(a >= 1 && b >= 1, "{tile:?}");
        }
    }

    #[test]
    fn k_contiguous_rows_stay_inside_the_a_tile() {
        // The largest a_s index accumulate reads: the invocation's last row, last k-quad.
        for tile in TILES {
            let (wg_y, tk4) = (tile.tm / tile.rm, tile.tk / 4);
            let last_row = 4 * (wg_y - 1 + wg_y * (tile.rm / 4 - 1)) + 3;
            assert_eq!(last_row, tile.tm - 1, "{tile:?}");
            assert!(last_row * tk4 + tk4 - 1 < tile.tm * tk4);
        }
    }
}
