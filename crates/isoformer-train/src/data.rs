//! The examples a run sees: their checks, the hash a resume compares, and the batch order.

use isoformer_model::model::Encoded;
use sha2::{Digest, Sha256};

use crate::error::TrainError;
use crate::features::cache::hex;
use crate::options::TrainOptions;
use crate::split::SplitMix64;

/// One training or validation example: model inputs and targets in data units.
#[derive(Debug, Clone)]
pub struct Sample {
    pub encoded: Encoded,
    pub targets: Vec<f32>,
}

/// Refuse a run that cannot start: no batches, no examples, a wrong number of targets, or DNA
/// windows of more than one length.
pub(crate) fn check(options: &TrainOptions, train: &[Sample], valid: &[Sample], n_out: usize) -> Result<(), TrainError> {
    if options.batch_size == 0 || options.epochs == 0 {
        return Err(TrainError::NoBatches);
    }
    let Some(first) = train.first() else {
        return Err(TrainError::NoExamples);
    };
    for s in train.iter().chain(valid) {
        if s.targets.len() != n_out {
            return Err(TrainError::TargetCount { id: s.encoded.id.clone(), found: s.targets.len(), expected: n_out });
        }
        if s.encoded.dna_len != first.encoded.dna_len {
            return Err(TrainError::DnaLength { id: s.encoded.id.clone(), found: s.encoded.dna_len, first: first.encoded.dna_len });
        }
    }
    Ok(())
}

pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// SHA-256 (hex) of the output names and the training examples with their targets.
pub(crate) fn data_hash(train: &[Sample], names: &[String]) -> String {
    let mut h = Sha256::new();
    for n in names {
        h.update(n.as_bytes());
        h.update([0]);
    }
    for s in train {
        h.update(s.encoded.id.as_bytes());
        h.update([0]);
        h.update(f32_bytes(&s.encoded.dna_one_hot));
        h.update(u32_bytes(&s.encoded.rna_tokens));
        h.update(u32_bytes(&s.encoded.protein_tokens));
        h.update(f32_bytes(&s.targets));
    }
    hex(&h.finalize())
}

/// The per-epoch order of the training examples: a function of `(seed, epoch)` alone, so that
/// the epoch and the next batch are the whole state of the batch generator.
pub(crate) fn permutation(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ 0x5EED_0000_0000_0000 ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut p: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut p);
    p
}
