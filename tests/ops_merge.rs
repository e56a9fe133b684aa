//! The merge op family (`shaders/merge.wgsl`) against its CPU twin: concatenation along every
//! axis and its backward (slices), and the row-mask choice the masked merges use, on fresh
//! random inputs of awkward sizes, outputs poisoned with NaN, dispatches split into 2-d grids.

mod common;

use common::{Tol, cross_check, random_input, rng, uniform};
use wgfit::Tensor;
use wgfit::ops::elementwise::{BinaryOp, binary};
use wgfit::ops::merge::{concat, select_rows, slice};

#[test]
fn concatenation_along_every_axis_matches_cpu() {
    let mut rng = rng("concat");
    for (b, t, fs) in [
        (1, 1, [1, 1]),
        (3, 7, [2, 5]),
        (5, 13, [257, 3]),
        (2, 131, [1, 300]),
    ] {
        let a = random_input(&mut rng, &[b, t, fs[0]]);
        let c = random_input(&mut rng, &[b, t, fs[1]]);
        cross_check(
            &format!("concat features {b}x{t}x{fs:?}"),
            &[a.clone(), c],
            Tol::Rel(0.0),
            |x| Ok(vec![concat(&[&x[0], &x[1]], 2)?]),
        );
        let d = random_input(&mut rng, &[b, t + 2, fs[0]]);
        cross_check(
            &format!("concat time {b}x{t}x{fs:?}"),
            &[a.clone(), d],
            Tol::Rel(0.0),
            |x| Ok(vec![concat(&[&x[0], &x[1]], 1)?]),
        );
        let e = random_input(&mut rng, &[b + 1, t, fs[0]]);
        cross_check(
            &format!("concat rows {b}x{t}x{fs:?}"),
            &[a, e],
            Tol::Rel(0.0),
            |x| Ok(vec![concat(&[&x[0], &x[1]], 0)?]),
        );
    }
}

#[test]
fn a_concatenation_past_one_dispatch_matches_cpu() {
    // 70 001 rows of 1 + 2 features: more workgroups of 256 than one grid dimension holds
    // on the split device, and a row count that is no multiple of anything.
    let mut rng = rng("concat big");
    let a = random_input(&mut rng, &[70_001, 1]);
    let c = random_input(&mut rng, &[70_001, 2]);
    cross_check("concat 70001 rows", &[a, c], Tol::Rel(0.0), |x| {
        Ok(vec![concat(&[&x[0], &x[1]], 1)?])
    });
}

#[test]
fn slices_undo_a_concatenation_on_every_device() {
    let mut rng = rng("slice");
    for (b, t, f) in [(1, 1, 3), (3, 7, 11), (4, 97, 5)] {
        let x = random_input(&mut rng, &[b, t, f]);
        for (axis, start, len) in [(2, 1, f - 1), (1, t / 2, t - t / 2), (0, 0, b)] {
            cross_check(
                &format!("slice {b}x{t}x{f} axis {axis} {start}+{len}"),
                std::slice::from_ref(&x),
                Tol::Rel(0.0),
                |x| Ok(vec![slice(&x[0], axis, start, len)?]),
            );
        }
    }
    // On the CPU: slicing the concatenation gives each part back.
    let device = wgfit::Device::cpu();
    let a = Tensor::from_vec(&device, [2, 1], vec![1.0, 2.0]).unwrap();
    let b = Tensor::from_vec(&device, [2, 2], vec![3.0, 4.0, 5.0, 6.0]).unwrap();
    let ab = concat(&[&a, &b], 1).unwrap();
    assert_eq!(
        slice(&ab, 1, 0, 1).unwrap().to_vec_blocking().unwrap(),
        vec![1.0, 2.0]
    );
    assert_eq!(
        slice(&ab, 1, 1, 2).unwrap().to_vec_blocking().unwrap(),
        vec![3.0, 4.0, 5.0, 6.0]
    );
}

#[test]
fn row_mask_choice_matches_cpu() {
    let mut rng = rng("select_rows");
    for (rows, inner) in [(1, 1), (7, 3), (131, 1), (300, 5), (70_001, 1)] {
        let mask = (
            vec![rows],
            (0..rows).map(|i| f32::from(u8::from(i % 3 != 1))).collect(),
        );
        let a = random_input(&mut rng, &[rows, inner]);
        let b = (vec![rows, inner], uniform(&mut rng, rows * inner, 2.0, 3.0));
        cross_check(
            &format!("select_rows {rows}x{inner}"),
            &[mask, a, b],
            Tol::Rel(0.0),
            |x| Ok(vec![select_rows(&x[0], &x[1], &x[2])?]),
        );
    }
}

#[test]
fn mismatched_merge_inputs_are_shape_errors() {
    let device = wgfit::Device::cpu();
    let a = Tensor::zeros(&device, [2, 3]).unwrap();
    let b = Tensor::zeros(&device, [3, 3]).unwrap();
    assert!(matches!(concat(&[&a, &b], 1), Err(wgfit::Error::Shape(_))));
    assert!(matches!(concat(&[&a, &a], 2), Err(wgfit::Error::Shape(_))));
    assert!(matches!(slice(&a, 1, 2, 2), Err(wgfit::Error::Shape(_))));
    let mask = Tensor::zeros(&device, [4]).unwrap();
    assert!(matches!(
        select_rows(&mask, &a, &a),
        Err(wgfit::Error::Shape(_))
    ));
    assert!(matches!(
        binary(&a, &b, BinaryOp::Max),
        Err(wgfit::Error::Shape(_))
    ));
}
