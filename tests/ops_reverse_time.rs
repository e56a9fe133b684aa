//! The time reversal op (`shaders/reverse_time.wgsl`) against its CPU twin on fresh random
//! inputs of awkward sizes (one step, one feature, primes, past one workgroup, past one
//! dispatch), outputs poisoned with NaN, dispatches split into 2-d grids; and what it is for.

mod common;

use common::{Tol, cross_check, random_input, rng};
use wgfit::ops::reverse_time::reverse_time;
use wgfit::{Device, Error, Tensor};

#[test]
fn reversing_values_and_masks_matches_cpu() {
    let mut rng = rng("reverse_time");
    for dims in [
        vec![1, 1, 1],
        vec![1, 7, 1],
        vec![3, 1, 5],
        vec![5, 13, 3],
        vec![2, 131, 257],
        vec![7, 97],
        vec![1, 1],
        vec![4, 3, 2, 5],
    ] {
        let x = random_input(&mut rng, &dims);
        cross_check(
            &format!("reverse_time {dims:?}"),
            &[x],
            Tol::Rel(0.0),
            |x| Ok(vec![reverse_time(&x[0])?]),
        );
    }
}

#[test]
fn a_reversal_past_one_dispatch_matches_cpu() {
    // 3 x 23 339 x 1 = 70 017 elements: more workgroups of 256 than one grid dimension holds
    // on the split device, and an odd step count (the middle step stays in place).
    let mut rng = rng("reverse_time big");
    let x = random_input(&mut rng, &[3, 23_339, 1]);
    cross_check("reverse_time 3x23339x1", &[x], Tol::Rel(0.0), |x| {
        Ok(vec![reverse_time(&x[0])?])
    });
}

#[test]
fn reversing_twice_gives_the_input_back_and_flips_each_row_alone() {
    let mut rng = rng("reverse_time twice");
    let (dims, values) = random_input(&mut rng, &[3, 5, 2]);
    let device = Device::cpu();
    let x = Tensor::from_vec(&device, dims, values.clone()).unwrap();
    let once = reverse_time(&x).unwrap().to_vec_blocking().unwrap();
    // Row 1's step 0 is row 1's last step, not another row's.
    assert_eq!(once[10..12], values[18..20]);
    assert_ne!(once, values);
    let twice = reverse_time(&reverse_time(&x).unwrap()).unwrap();
    assert_eq!(twice.to_vec_blocking().unwrap(), values);
}

#[test]
fn empty_and_flat_tensors() {
    let device = Device::cpu();
    let empty = Tensor::zeros(&device, [2, 0, 3]).unwrap();
    assert_eq!(reverse_time(&empty).unwrap().dims(), &[2, 0, 3]);
    let flat = Tensor::zeros(&device, [4]).unwrap();
    assert!(matches!(reverse_time(&flat), Err(Error::Shape(_))));
    let ids = Tensor::from_u32(&device, [1, 2], vec![1, 2]).unwrap();
    assert!(matches!(reverse_time(&ids), Err(Error::Data(_))));
}
