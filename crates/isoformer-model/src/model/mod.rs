//! The whole IsoFormer and what surrounds it, one idea per file:
//! * [`layout`]: finding each part in a checkpoint whatever its top-level names ([`discover`]),
//!   and the audit that everything was used;
//! * [`isoformer`]: the model ([`Isoformer`]) and its forward pass ([`Output`]);
//! * [`export`]: every parameter back under its PyTorch name (saving trained models);
//! * [`files`]: the files of a model directory ([`ModelFiles`]) and the errors building from them;
//! * [`input`]: transcripts to model inputs ([`Example`] → [`Tokenizers`] → [`Encoded`]);
//! * [`predictor`]: a model with its tokenizers ([`Predictor`]).

pub mod export;
pub mod files;
pub mod input;
pub mod isoformer;
pub mod layout;
pub mod predictor;

pub use export::{ExportError, NamedTensor};
pub use files::{GatherError, ModelError, ModelFiles};
pub use input::{Batch, Encoded, Example, InputError, InputErrorKind, Tokenizers, dna_batch, has_protein};
pub use isoformer::{Fused, Isoformer, Output, ParamCounts};
pub use layout::{Layout, discover, is_ignored};
pub use predictor::Predictor;
