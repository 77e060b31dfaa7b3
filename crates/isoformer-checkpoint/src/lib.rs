//! Checkpoints from outside: read PyTorch pickles and safetensors without executing anything,
//! convert them to `model.safetensors` as the model crate loads it, inspect and check them,
//! and fetch the official model from the Hugging Face Hub. Native only (files and network).

pub mod checkpoint;
pub mod convert;
pub mod download;
pub mod error;
pub mod globals;
pub mod inspect;
/// The safetensors header reader lives in the model crate (the loader reads weights through it).
pub use isoformer_model::safetensors_header;

pub use checkpoint::{Checkpoint, Entry, Format};
pub use error::{CheckpointError, ErrorKind};
