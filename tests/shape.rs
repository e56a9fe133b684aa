//! Shape validation: what a model input spec accepts, and errors that name batch, sample,
//! layer, expected and actual shape.

use ndarray::{ArrayD, IxDyn};
use wgfit::ops::matmul::{Transpose, matmul};
use wgfit::{Device, Error, InputSpec, ShapeError, Tensor, stack_samples};

fn shape_err(r: wgfit::Result<impl std::fmt::Debug>) -> ShapeError {
    match r {
        Err(Error::Shape(e)) => *e,
        other => panic!("expected a shape error, got {other:?}"),
    }
}

fn lstm_spec() -> InputSpec {
    InputSpec::new("lstm", [None, None, Some(10)])
}

#[test]
fn spec_with_dynamic_batch_and_time_accepts_any_length_with_ten_features() {
    let spec = lstm_spec();
    spec.check(&[2, 19, 10]).unwrap();
    spec.check(&[4, 7, 10]).unwrap();
    spec.check_batch(5, &[1, 1, 10]).unwrap();
}

#[test]
fn batch_with_wrong_feature_count_is_rejected_naming_batch_layer_and_shapes() {
    let err = shape_err(lstm_spec().check_batch(3, &[2, 19, 9]));
    assert_eq!(err.batch, Some(3));
    assert_eq!(err.sample, None);
    assert_eq!(err.layer.as_deref(), Some("lstm"));
    assert_eq!(err.expected, vec![None, None, Some(10)]);
    assert_eq!(err.actual, vec![2, 19, 9]);
    assert_eq!(
        err.to_string(),
        "batch 3, layer 'lstm': expected [*, *, 10], got [2, 19, 9]"
    );
}

#[test]
fn batch_with_wrong_rank_is_rejected_with_the_rank_named() {
    let err = shape_err(lstm_spec().check_batch(0, &[2, 10]));
    assert_eq!(err.actual, vec![2, 10]);
    assert!(
        err.reason
            .as_deref()
            .unwrap()
            .contains("rank 2 where rank 3"),
        "{err}"
    );
}

fn sample(t: usize, f: usize) -> ArrayD<f32> {
    ArrayD::from_elem(IxDyn(&[t, f]), 1.0)
}

#[test]
fn batch_with_ragged_sample_is_rejected_with_its_index() {
    let samples = [sample(19, 10), sample(19, 10), sample(17, 10)];
    let views: Vec<_> = samples.iter().map(|s| s.view()).collect();
    let err = shape_err(stack_samples(&views, Some(&lstm_spec())));
    assert_eq!(err.sample, Some(2));
    assert_eq!(err.expected, vec![Some(19), Some(10)]);
    assert_eq!(err.actual, vec![17, 10]);
    assert_eq!(err.layer.as_deref(), Some("lstm"));
    assert!(
        err.to_string()
            .starts_with("sample 2, layer 'lstm': ragged batch"),
        "{err}"
    );
}

#[test]
fn sample_with_wrong_features_is_rejected_against_the_spec_with_its_index() {
    let samples = [sample(7, 10), sample(7, 9)];
    let views: Vec<_> = samples.iter().map(|s| s.view()).collect();
    let err = shape_err(stack_samples(&views, Some(&lstm_spec())));
    assert_eq!(err.sample, Some(1));
    assert_eq!(err.expected, vec![None, Some(10)]);
    assert_eq!(err.actual, vec![7, 9]);
}

#[test]
fn samples_of_one_shape_stack_into_a_batch() {
    let samples = [sample(7, 10), ArrayD::from_elem(IxDyn(&[7, 10]), 2.0)];
    let views: Vec<_> = samples.iter().map(|s| s.view()).collect();
    let batch = stack_samples(&views, Some(&lstm_spec())).unwrap();
    assert_eq!(batch.shape(), &[2, 7, 10]);
    assert_eq!(batch[[1, 6, 9]], 2.0);
    assert_eq!(batch[[0, 0, 0]], 1.0);
    lstm_spec().check(batch.shape()).unwrap();
}

#[test]
fn an_empty_batch_is_rejected() {
    let err = shape_err(stack_samples(&[], None));
    assert!(err.to_string().contains("at least one sample"), "{err}");
}

#[test]
fn matmul_with_mismatched_inner_dims_names_the_op_and_both_shapes() {
    let device = Device::cpu();
    let a = Tensor::zeros(&device, [2, 3]).unwrap();
    let b = Tensor::zeros(&device, [4, 5]).unwrap();
    let err = shape_err(matmul(&a, &b, Transpose::None));
    assert_eq!(err.layer.as_deref(), Some("matmul"));
    assert_eq!(err.expected, vec![Some(3), None]);
    assert_eq!(err.actual, vec![4, 5]);
}

#[test]
fn a_tensor_from_too_few_values_is_a_shape_error() {
    let err = shape_err(Tensor::from_vec(&Device::cpu(), [2, 3], vec![0.0; 5]));
    assert_eq!(err.actual, vec![5]);
    assert_eq!(err.expected, vec![Some(2), Some(3)]);
}

#[test]
fn a_univariate_series_missing_its_feature_axis_is_told_to_add_it() {
    let spec = InputSpec::new("masking", [None, None, Some(1)]);
    let message = spec.check(&[50, 361]).unwrap_err().to_string();
    assert!(message.contains("layer 'masking'"), "{message}");
    assert!(message.contains("insert_axis(Axis(2))"), "{message}");
    // Twelve features are not one axis away: no such advice.
    let spec = InputSpec::new("masking", [None, None, Some(12)]);
    let message = spec.check(&[50, 361]).unwrap_err().to_string();
    assert!(message.contains("rank 2 where rank 3"), "{message}");
    assert!(!message.contains("insert_axis"), "{message}");
}
