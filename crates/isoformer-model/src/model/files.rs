//! The files of a model directory, gathered through a caller's reader (this crate does no I/O),
//! and what stops a model from being built from them.

use crate::config::ConfigError;
use crate::encoder::Modality;
use crate::tokenizer::VocabError;
use crate::safetensors_header::HeaderError;
use crate::weights::{LoadError, ReadAt};

/// The files of a model directory (the official HF repository layout with safetensors weights;
/// see models/README.md): the text files read, the weights either read (`Vec<u8>`, the default)
/// or a reader the loader takes them from one tensor at a time ([`ReadAt`]: a file on disk, a
/// browser `File`).
#[derive(Clone)]
pub struct ModelFiles<W = Vec<u8>> {
    pub config_json: String,
    pub safetensors: W,
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
        let texts = Texts::gather(&mut read)?;
        let weights = read(Self::WEIGHTS).map_err(|e| GatherError::Read { file: Self::WEIGHTS, source: e })?;
        Ok(texts.with(weights))
    }
}

impl<W: ReadAt> ModelFiles<W> {
    /// The four text files through `read(file name)`, then the weights through `open`.
    pub fn gather_with<E>(mut read: impl FnMut(&str) -> Result<Vec<u8>, E>, open: impl FnOnce() -> Result<W, E>) -> Result<Self, GatherError<E>> {
        let texts = Texts::gather(&mut read)?;
        Ok(texts.with(open().map_err(|e| GatherError::Read { file: ModelFiles::WEIGHTS, source: e })?))
    }
}

/// The four text files of a model directory.
struct Texts([String; 4]);

impl Texts {
    fn gather<E>(read: &mut impl FnMut(&str) -> Result<Vec<u8>, E>) -> Result<Self, GatherError<E>> {
        let mut text = |name: &'static str| -> Result<String, GatherError<E>> {
            let bytes = read(name).map_err(|e| GatherError::Read { file: name, source: e })?;
            String::from_utf8(bytes).map_err(|_| GatherError::NotUtf8 { file: name })
        };
        Ok(Self([text(ModelFiles::CONFIG)?, text(Modality::Dna.vocab_file())?, text(Modality::Rna.vocab_file())?, text(Modality::Protein.vocab_file())?]))
    }

    fn with<W>(self, safetensors: W) -> ModelFiles<W> {
        let [config_json, dna_vocab, rna_vocab, protein_vocab] = self.0;
        ModelFiles { config_json, safetensors, dna_vocab, rna_vocab, protein_vocab }
    }
}

impl<W> ModelFiles<W> {
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
    Safetensors(#[source] HeaderError),
    #[error("model.safetensors: {0}")]
    Weights(#[from] LoadError),
    #[error("{file}: `{token}` is token {in_vocab} here, but config.json's `{field}` says {in_config}: the vocabulary and the config disagree")]
    SpecialToken { file: &'static str, token: &'static str, in_vocab: u32, field: &'static str, in_config: u32 },
}
