//! Files: model weights and training checkpoints as safetensors; `.npy` / `.npz` input; the
//! UCR/UEA archive's `.ts` time series.

mod checkpoint;
mod file;
mod npy;
mod ts;
mod weights;

pub use npy::{read_npy, read_npz};
pub use ts::{TsData, TsMeta, parse_ts, read_ts};
