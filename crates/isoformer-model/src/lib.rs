//! IsoFormer (Garau-Luis et al., "Multi-modal Transfer Learning between Biological Foundation
//! Models", NeurIPS 2024) in burn: predicts the expression of a transcript isoform in 30 GTEx
//! tissues from its DNA (Enformer), spliced RNA (Nucleotide Transformer v2) and protein (ESM-2).
//!
//! This crate is the shared core: configuration, tokenizers, the three encoders, the
//! cross-attention fusion, the head, and weight loading by the official parameter names. It does
//! no file I/O (callers pass bytes) and never picks a backend (callers pass a `Device`), so it
//! builds for native targets and for `wasm32-unknown-unknown` alike.
//!
//! Data flows one way: [`model::Example`] → [`model::Tokenizers`] → [`model::Encoded`] (tokens)
//! → [`model::Isoformer`] (encoders → fusion → head) → [`model::Output`].
//!
//! Where to extend: a new encoder implements [`encoder::SequenceEncoder`] (its doc is the
//! checklist); a WGSL kernel goes beside its plain-burn reference under [`kernels`].

pub mod config;
pub mod encoder;
pub mod enformer;
pub mod esm;
pub mod fusion;
pub mod head;
pub mod kernels;
pub mod model;
pub mod nn;
pub mod quant;
pub mod safetensors_header;
pub mod tokenizer;
pub mod weights;

pub use config::IsoformerConfig;
pub use encoder::{Modality, SequenceEncoder};
pub use model::{Encoded, Example, InputError, Isoformer, ModelError, ModelFiles, Output, Predictor, Tokenizers, has_protein};

/// The 30 GTEx tissues of the official head, in output order (docs/REFERENCE.md).
pub const TISSUES: [&str; 30] = [
    "Adipose Tissue",
    "Adrenal Gland",
    "Bladder",
    "Blood",
    "Blood Vessel",
    "Brain",
    "Breast",
    "Cervix Uteri",
    "Colon",
    "Esophagus",
    "Fallopian Tube",
    "Heart",
    "Kidney",
    "Liver",
    "Lung",
    "Muscle",
    "Nerve",
    "Ovary",
    "Pancreas",
    "Pituitary",
    "Prostate",
    "Salivary Gland",
    "Skin",
    "Small Intestine",
    "Spleen",
    "Stomach",
    "Testis",
    "Thyroid",
    "Uterus",
    "Vagina",
];
