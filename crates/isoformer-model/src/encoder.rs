//! The three input modalities and the contract a token encoder meets, so the code that finds,
//! loads and feeds encoders is written once instead of once per encoder.

use std::fmt;

use burn::tensor::Tensor;

use crate::config::EsmGeometry;
use crate::esm::EsmEncoder;
use crate::tokenizer::{DnaTokenizer, ProteinTokenizer, RnaTokenizer};
use crate::weights::Loader;

/// What a sequence is: the key wherever the model, the tokenizers and the loaders treat inputs
/// differently. Display gives the word used in messages ("DNA", "RNA", "protein").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Modality {
    /// Genomic window around the transcription start site (Enformer, one-hot input).
    Dna,
    /// Spliced transcript (Nucleotide Transformer v2, 6-mer tokens).
    Rna,
    /// Translated protein, empty for non-coding transcripts (ESM-2, residue tokens).
    Protein,
}

impl Modality {
    /// Every modality, in input order.
    pub const ALL: [Modality; 3] = [Modality::Dna, Modality::Rna, Modality::Protein];

    /// The token modalities the DNA embeddings attend to, in fusion order (RNA layer first).
    pub const ATTENDED: [Modality; 2] = [Modality::Rna, Modality::Protein];

    /// Lower-case key used in checkpoint names (`cross_attention_layer_rna`) and to tell
    /// same-shaped parts apart by name.
    pub fn key(self) -> &'static str {
        match self {
            Modality::Dna => "dna",
            Modality::Rna => "rna",
            Modality::Protein => "protein",
        }
    }

    /// The encoder, as messages name it.
    pub fn encoder_name(self) -> &'static str {
        match self {
            Modality::Dna => "Enformer (DNA)",
            Modality::Rna => "NT-v2 (RNA)",
            Modality::Protein => "ESM-2 (protein)",
        }
    }

    /// The vocabulary file of the official model directory.
    pub fn vocab_file(self) -> &'static str {
        match self {
            Modality::Dna => DnaTokenizer::FILE,
            Modality::Rna => RnaTokenizer::FILE,
            Modality::Protein => ProteinTokenizer::FILE,
        }
    }

    /// Words that, in a checkpoint prefix, mark a part as belonging to this modality; used only
    /// when shapes cannot tell two parts apart.
    pub fn name_hints(self) -> &'static [&'static str] {
        match self {
            Modality::Dna => &["enformer", "dna"],
            Modality::Rna => &["nt", "rna", "nucleotide"],
            Modality::Protein => &["esm", "protein"],
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Modality::Dna => "DNA",
            Modality::Rna => "RNA",
            Modality::Protein => "protein",
        })
    }
}

/// A token encoder whose last hidden state the DNA embeddings attend to through one fusion
/// layer. [`EsmEncoder`] implements it for both NT-v2 (RNA) and ESM-2 (protein).
///
/// Adding an encoder (a new architecture for an existing modality, or a new modality):
/// 1. Implement this trait for its module (one file under `src/`, opened by a doc comment naming
///    the paper and the pinned upstream source), with its geometry read from `config.json`
///    under the official field names (`config.rs`).
/// 2. New modality only: add a [`Modality`] variant (its key, encoder name, vocab file and name
///    hints), a tokenizer in `tokenizer.rs` and a field of `model::Tokenizers`, and a token
///    limit in `IsoformerConfig`.
/// 3. Give `IsoformerConfig::attended` the encoder's geometry in fusion order; discovery
///    (`model::discover`) then finds it by [`ANCHOR`](Self::ANCHOR) and
///    [`anchor_shape`](Self::anchor_shape).
/// 4. Add a field for it in `model::Isoformer` and `model::Layout`, a `CrossAttention` in
///    `fusion::Fusion` whose key and value read [`width`](Self::width), and its output in
///    `model::Output`.
/// 5. Fixtures: extend tools/make_fixtures.py and compare every layer in tests/parity.rs.
pub trait SequenceEncoder: Sized {
    /// What `config.json` says about one instance.
    type Geometry;

    /// The tensor, relative to the encoder's prefix, whose presence marks an encoder of this
    /// kind in a checkpoint.
    const ANCHOR: &'static str;

    /// The anchor's shape under `g`: tells apart encoders of one architecture (NT-v2 and ESM-2
    /// by vocabulary size and width).
    fn anchor_shape(g: &Self::Geometry) -> Vec<usize>;

    /// Build from checkpoint names under `prefix` (ends with `.`, or is empty).
    fn load(l: &mut Loader, prefix: &str, g: &Self::Geometry) -> Self;

    /// Unpadded token rows → last hidden state `(b, longest row, width)`.
    fn forward(&self, tokens: &[Vec<u32>]) -> Tensor<3>;

    /// Hidden width under `g`: what the fusion layer's key and value projections read (from the
    /// geometry, because a dry-run build holds no real tensors to measure).
    fn width(g: &Self::Geometry) -> usize;
}

impl SequenceEncoder for EsmEncoder {
    type Geometry = EsmGeometry;

    const ANCHOR: &'static str = "embeddings.word_embeddings.weight";

    fn anchor_shape(g: &EsmGeometry) -> Vec<usize> {
        vec![g.vocab_size, g.hidden_size]
    }

    fn load(l: &mut Loader, prefix: &str, g: &EsmGeometry) -> Self {
        EsmEncoder::load(l, prefix, g)
    }

    fn forward(&self, tokens: &[Vec<u32>]) -> Tensor<3> {
        EsmEncoder::forward(self, tokens)
    }

    fn width(g: &EsmGeometry) -> usize {
        g.hidden_size
    }
}
