//! # wgfit
//!
//! Keras-style `model.fit` in Rust, on any GPU through wgpu compute shaders (Vulkan, Metal,
//! DX12, GL), with a CPU reference backend that every kernel is checked against.
//!
//! Graph [`Model`]s (several inputs and outputs, merges, shared layers) and [`Sequential`]
//! stacks train with `fit` on a [`Device`] (a wgpu adapter or the CPU reference); every op in
//! [`ops`] is a WGSL kernel with a CPU twin.
//!
//! ```
//! use wgfit::prelude::*;
//! let device = Device::cpu();
//! let a = Tensor::from_vec(&device, [2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let b = Tensor::from_vec(&device, [3, 1], vec![1.0, 0.0, -1.0])?;
//! let c = ops::matmul::matmul(&a, &b, Transpose::None)?;
//! assert_eq!(c.to_vec_blocking()?, vec![-2.0, -2.0]);
//! # Ok::<(), wgfit::Error>(())
//! ```

#![warn(missing_docs)]

pub mod activation;
pub mod callbacks;
pub mod data;
pub mod device;
pub mod error;
pub mod initializers;
pub mod io;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod optimizers;
mod progress;
mod seed;
pub mod shape;
pub mod tensor;
pub mod text;

pub use activation::Activation;
pub use callbacks::{Callback, EarlyStopping, ModelCheckpoint, TerminateOnNaN};
pub use device::{
    Backend, Device, DeviceInfo, GpuContext, GpuCounters, GpuFeatures, GpuOptions, SubgroupUse,
};
pub use error::{Error, Result, ShapeError};
pub use initializers::Initializer;
pub use io::ONNX_OPSET;
pub use io::{MODEL_FORMAT_VERSION, load_model};
pub use layers::Gru;
pub use layers::Normalization;
pub use layers::SimpleRnn;
pub use layers::{
    Add, Average, Concatenate, Dense, Embedding, Flatten, Layer, Lstm, Masking, Maximum, Minimum,
    Multiply, Subtract,
};
pub use layers::{Bidirectional, MergeMode};
pub use layers::{Dropout, SpatialDropout1D};
pub use layers::{LayerConfig, register_layer};
pub use losses::Loss;
pub use metrics::Metric;
pub use model::LiveLogs;
pub use model::{
    Arrays, Call, CallMany, Evaluation, FitOptions, History, Input, IntoLayer, Model, NameLayer,
    Named, Node, Nodes, OutputLoss, Sequential, Shared, Trainer, TrainerState, WeightBuffer, XY,
};
pub use optimizers::Optimizer;
pub use seed::{random_seed, set_random_seed};
pub use shape::{InputSpec, Shape, stack_samples};
pub use tensor::{DType, Tensor};
pub use text::{IntegerLookup, StringLookup, TextModel, TextVectorization};

/// The names most programs need.
pub mod prelude {
    pub use crate::Gru;
    pub use crate::Normalization;
    pub use crate::SimpleRnn;
    pub use crate::data::{PadOptions, Padding, SequenceDataset, pad_sequences, to_categorical};
    pub use crate::data::{TimeseriesOptions, timeseries_dataset_from_array};
    pub use crate::io::{TsData, read_ts};
    pub use crate::io::{read_csv_sequences, read_npz_sequences};
    pub use crate::load_model;
    pub use crate::ops;
    pub use crate::ops::matmul::Transpose;
    pub use crate::text::{IntegerLookup, OutputMode, StringLookup, TextModel, TextVectorization};
    pub use crate::{
        Activation, Add, Average, Call, CallMany, Concatenate, Dense, Device, Embedding, Error,
        FitOptions, Flatten, Input, InputSpec, Loss, Lstm, Masking, Maximum, Metric, Minimum,
        Model, Multiply, NameLayer, Node, Optimizer, OutputLoss, Result, Sequential, Shape, Shared,
        Subtract, Tensor,
    };
    pub use crate::{Bidirectional, MergeMode};
    pub use crate::{Dropout, SpatialDropout1D};
    pub use crate::{Evaluation, History, data::pad_feature_sequences};
    pub use crate::{random_seed, set_random_seed};
}
