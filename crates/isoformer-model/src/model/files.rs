//! The files of a model directory, gathered through a caller's reader (this crate does no I/O),
//! and what stops a model from being built from them.

use crate::config::ConfigError;
use crate::encoder::Modality;
use crate::tokenizer::VocabError;
use crate::weights::LoadError;

/// The files of a model directory, already read (the official HF repository layout with
/// safetensors weights; see models/README.md).
#[derive(Clone)]
pub struct ModelFiles {
    pub config_json: String,
    pub safetensors: Vec<u8>,
    pub dna_vocab: String,
    pub rna_vocab: String,
    pub protein_vocab: String,
}

impl ModelFiles {
    pub const CONFIG: &'static str = "config.json";
    pub const WEIGHTS: &'static str = "model.safetensors";

    /// Gather the five files through `read(file name)`, which the caller backs with a file
    /// system, the browser's File API or memory. Text files must be UTF-8.
    pub fn gather<E>(mut read: impl FnMut(&str) -> Result<Vec<u8>, E>) -> Result<Self, GatherError<E>> {
        let mut text = |name: &'static str| -> Result<String, GatherError<E>> {
            let bytes = read(name).map_err(|e| GatherError::Read { file: name, source: e })?;
            String::from_utf8(bytes).map_err(|_| GatherError::NotUtf8 { file: name })
        };
        Ok(Self {
            config_json: text(Self::CONFIG)?,
            dna_vocab: text(Modality::Dna.vocab_file())?,
            rna_vocab: text(Modality::Rna.vocab_file())?,
            protein_vocab: text(Modality::Protein.vocab_file())?,
            safetensors: read(Self::WEIGHTS).map_err(|e| GatherError::Read { file: Self::WEIGHTS, source: e })?,
        })
    }

    /// The vocabulary file's text of a modality.
    pub fn vocab(&self, m: Modality) -> &str {
        match m {
            Modality::Dna => &self.dna_vocab,
            Modality::Rna => &self.rna_vocab,
            Modality::Protein => &self.protein_vocab,
        }
    }
}

/// A model file that could not be had.
#[derive(Debug, thiserror::Error)]
pub enum GatherError<E> {
    #[error("{file}: cannot read")]
    Read {
        file: &'static str,
        #[source]
        source: E,
    },
    #[error("{file}: not UTF-8 text")]
    NotUtf8 { file: &'static str },
}

/// Anything that stops a model from being built from its files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("config.json: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Vocab(#[from] VocabError),
    #[error("model.safetensors: {0}")]
    Safetensors(#[source] safetensors::SafeTensorError),
    #[error("model.safetensors: {0}")]
    Weights(#[from] LoadError),
}
