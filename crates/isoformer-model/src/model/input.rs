//! Turning a transcript into model inputs: [`Example`] (strings) → [`Tokenizers::encode`] →
//! [`Encoded`] (one-hot DNA and token ids, cropped to the model's limits), and the errors an
//! input can raise.

use burn::tensor::{Device, Tensor, TensorData};

use crate::config::{EnformerGeometry, IsoformerConfig};
use crate::encoder::Modality;
use crate::enformer::{DnaLengthError, check_dna_length};
use crate::tokenizer::{DnaTokenizer, ProteinTokenizer, RnaTokenizer, TokenizeError};

use super::files::{ModelError, ModelFiles};

/// One transcript to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub id: String,
    pub dna: String,
    pub rna: String,
    /// Empty for a non-coding transcript.
    pub protein: String,
}

/// An example turned into model inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub id: String,
    /// `(length × 4)` one-hot, row-major.
    pub dna_one_hot: Vec<f32>,
    pub dna_len: usize,
    pub rna_tokens: Vec<u32>,
    pub protein_tokens: Vec<u32>,
    /// RNA had more tokens than `num_tokens_per_seq_nuctf_rna`: its 5′ tokens were dropped.
    pub rna_cropped: bool,
    /// Protein had more tokens than `num_protein_tokens_per_seq`: its C-terminal residues were dropped.
    pub protein_cropped: bool,
}

impl Encoded {
    /// Whether the transcript has a protein (see [`has_protein`]).
    pub fn has_protein(&self) -> bool {
        has_protein(&self.protein_tokens)
    }
}

/// Whether a row of protein tokens holds a protein: an empty protein (non-coding transcript)
/// tokenizes to `<cls><eos>` alone, and such a row skips the protein cross-attention.
pub fn has_protein(tokens: &[u32]) -> bool {
    tokens.len() > 2
}

/// A batch of encoded examples as the model takes it: the DNA one-hot as one `(b, length, 4)`
/// tensor (every row of one length, which the caller guarantees) and the token rows, unpadded.
pub struct Batch {
    pub dna: Tensor<3>,
    pub rna: Vec<Vec<u32>>,
    pub protein: Vec<Vec<u32>>,
}

impl Batch {
    pub fn new<'a>(rows: impl IntoIterator<Item = &'a Encoded>, device: &Device) -> Self {
        let rows: Vec<&Encoded> = rows.into_iter().collect();
        Self { dna: dna_batch(&rows, device), rna: rows.iter().map(|e| e.rna_tokens.clone()).collect(), protein: rows.iter().map(|e| e.protein_tokens.clone()).collect() }
    }
}

/// The DNA one-hot of `rows` (all of one length) as one `(b, length, 4)` tensor.
pub fn dna_batch(rows: &[&Encoded], device: &Device) -> Tensor<3> {
    let len = rows.first().map_or(0, |e| e.dna_len);
    let dna: Vec<f32> = rows.iter().flat_map(|e| e.dna_one_hot.iter().copied()).collect();
    Tensor::from_data(TensorData::new(dna, [rows.len(), len, 4]), device)
}

/// An input the model cannot take; `id` names the transcript (`(batch)` for the batch as a whole).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{id}: {kind}")]
pub struct InputError {
    pub id: String,
    pub kind: InputErrorKind,
}

/// What is wrong with an input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputErrorKind {
    #[error(transparent)]
    DnaLength(#[from] DnaLengthError),
    #[error(transparent)]
    Tokenize(#[from] TokenizeError),
    #[error("empty batch")]
    EmptyBatch,
    #[error("DNA length {found} differs from {expected} in the same batch")]
    MixedDnaLength { found: usize, expected: usize },
}

impl InputError {
    pub fn new(id: impl Into<String>, kind: impl Into<InputErrorKind>) -> Self {
        Self { id: id.into(), kind: kind.into() }
    }
}

/// The three tokenizers with the model's input limits: strings in, [`Encoded`] out, no weights.
#[derive(Debug, Clone)]
pub struct Tokenizers {
    pub dna: DnaTokenizer,
    pub rna: RnaTokenizer,
    pub protein: ProteinTokenizer,
    /// The trunk's geometry, which decides the DNA lengths it takes.
    dna_geometry: EnformerGeometry,
    /// `num_tokens_per_seq_nuctf_rna` and `num_protein_tokens_per_seq`.
    max_rna: usize,
    max_protein: usize,
}

impl Tokenizers {
    /// From the model directory's three vocab files and its config (token limits, DNA geometry).
    /// The vocabularies' special tokens must have the ids config.json gives them (the model
    /// pads and masks by those ids).
    pub fn from_files<W>(files: &ModelFiles<W>, config: &IsoformerConfig) -> Result<Self, ModelError> {
        let rna = RnaTokenizer::from_vocab(files.vocab(Modality::Rna))?;
        let protein = ProteinTokenizer::from_vocab(files.vocab(Modality::Protein))?;
        for (file, token, in_vocab, field, in_config) in [
            (Modality::Rna.vocab_file(), "<pad>", rna.pad, "nt_pad_token_id", config.nt_pad_token_id),
            (Modality::Protein.vocab_file(), "<pad>", protein.pad, "esm_pad_token_id", config.esm_pad_token_id),
            (Modality::Protein.vocab_file(), "<mask>", protein.mask, "esm_mask_token_id", config.esm_mask_token_id),
        ] {
            if in_vocab != in_config {
                return Err(ModelError::SpecialToken { file, token, in_vocab, field, in_config });
            }
        }
        Ok(Self {
            dna: DnaTokenizer::from_vocab(files.vocab(Modality::Dna))?,
            rna,
            protein,
            dna_geometry: config.enformer(),
            max_rna: config.nt().max_tokens,
            max_protein: config.esm().max_tokens,
        })
    }

    /// Tokenize one example, cropping over-long RNA (keep the 3′ end) and protein (keep the
    /// N-terminus).
    pub fn encode(&self, ex: &Example) -> Result<Encoded, InputError> {
        let err = |e: TokenizeError| InputError::new(ex.id.clone(), e);
        check_dna_length(ex.dna.len(), &self.dna_geometry).map_err(|e| InputError::new(ex.id.clone(), e))?;
        let dna_one_hot = self.dna.one_hot(&ex.dna).map_err(err)?;
        let mut rna_tokens = self.rna.encode(&ex.rna).map_err(err)?;
        let rna_cropped = rna_tokens.len() > self.max_rna;
        if rna_cropped {
            // `<cls>` stays first; the tokens after it are the 5′ end.
            let drop = rna_tokens.len() - self.max_rna;
            rna_tokens.drain(1..1 + drop);
        }
        let mut protein_tokens = self.protein.encode(&ex.protein).map_err(err)?;
        let protein_cropped = protein_tokens.len() > self.max_protein;
        if protein_cropped {
            let eos = *protein_tokens.last().expect("eos");
            protein_tokens.truncate(self.max_protein - 1);
            protein_tokens.push(eos);
        }
        Ok(Encoded { id: ex.id.clone(), dna_len: ex.dna.len(), dna_one_hot, rna_tokens, protein_tokens, rna_cropped, protein_cropped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizers(config: &IsoformerConfig) -> Tokenizers {
        let files = ModelFiles {
            config_json: String::new(),
            safetensors: Vec::<u8>::new(),
            dna_vocab: include_str!("../../../../models/dna_vocab_list.txt").into(),
            rna_vocab: include_str!("../../../../models/rna_vocab_list.txt").into(),
            protein_vocab: include_str!("../../../../models/protein_vocab_list.txt").into(),
        };
        Tokenizers::from_files(&files, config).unwrap()
    }

    fn tiny() -> IsoformerConfig {
        IsoformerConfig::from_json(include_str!("../../../../models/tiny/config.json")).unwrap()
    }

    #[test]
    fn over_long_rna_keeps_its_3_prime_end_and_protein_its_n_terminus() {
        let mut config = tiny();
        config.num_tokens_per_seq_nuctf_rna = 3;
        config.num_protein_tokens_per_seq = 4;
        let t = tokenizers(&config);
        let dna = "A".repeat(t.dna_geometry.target_length * t.dna_geometry.bin_size());
        let ex = Example { id: "x".into(), dna, rna: "AAAAAACCCCCCGGGGGG".into(), protein: "MKVL".into() };
        let e = t.encode(&ex).unwrap();
        let full_rna = t.rna.encode(&ex.rna).unwrap();
        assert_eq!(e.rna_tokens, vec![full_rna[0], full_rna[2], full_rna[3]]);
        let full_protein = t.protein.encode(&ex.protein).unwrap();
        assert_eq!(e.protein_tokens, vec![full_protein[0], full_protein[1], full_protein[2], full_protein[5]]);
        assert!(e.rna_cropped && e.protein_cropped && e.has_protein());
    }

    #[test]
    fn errors_name_the_transcript_and_keep_their_messages() {
        let t = tokenizers(&tiny());
        let ex = Example { id: "tx".into(), dna: "ACGTACG".into(), rna: "A".into(), protein: String::new() };
        let e = t.encode(&ex).unwrap_err();
        assert!(matches!(e.kind, InputErrorKind::DnaLength(DnaLengthError::NotMultiple { len: 7, bin: 8 })), "{e:?}");
        assert_eq!(e.to_string(), "tx: DNA length 7 is not a positive multiple of 8 (2^enformer_num_downsamples)");
        let ex = Example { dna: "ACGTACGT".into(), ..ex };
        let e = t.encode(&ex).unwrap_err();
        assert_eq!(e.to_string(), "tx: DNA length 8 gives 1 bins, fewer than enformer_target_length 6 (need at least 48 bp)");
        let ex = Example { dna: "ACGTACGT".repeat(6), rna: "AC-GT".into(), ..ex };
        let e = t.encode(&ex).unwrap_err();
        assert_eq!(e.kind, InputErrorKind::Tokenize(TokenizeError::BadChar { kind: Modality::Rna, found: '-', position: 2 }));
        assert_eq!(e.to_string(), "tx: RNA sequence: '-' at position 2 is not a letter");
    }

    #[test]
    fn only_cls_and_eos_is_no_protein() {
        let t = tokenizers(&tiny());
        assert!(!has_protein(&t.protein.encode("").unwrap()));
        assert!(has_protein(&t.protein.encode("M").unwrap()));
    }
}
