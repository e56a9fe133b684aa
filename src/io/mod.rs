//! Files: model weights and training checkpoints as safetensors.

mod checkpoint;
mod file;
mod weights;
