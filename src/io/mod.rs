//! Files: model weights and training checkpoints as safetensors; `.npy` / `.npz` input; the
//! UCR/UEA archive's `.ts` time series; variable-length sequences from long-form CSV and
//! from `.npz` lists.

mod checkpoint;
mod csv_sequences;
pub(crate) mod file;
mod model_file;
mod npy;
mod onnx;
mod ts;
mod weights;

pub use csv_sequences::{CsvSequences, read_csv_sequences};
pub use model_file::{MODEL_FORMAT_VERSION, load_model};
pub use npy::{read_npy, read_npz, read_npz_sequences};
pub use onnx::ONNX_OPSET;
pub use ts::{TsData, TsMeta, parse_ts, read_ts};
