//! Files: model weights as safetensors.

mod weights;
