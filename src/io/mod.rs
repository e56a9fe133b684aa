//! Files: model weights and training checkpoints as safetensors; `.npy` / `.npz` input.

mod checkpoint;
mod file;
mod npy;
mod weights;

pub use npy::{read_npy, read_npz};
