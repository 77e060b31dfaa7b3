//! Frozen encoders' outputs, as the trained part consumes them, computed once per example and
//! kept in the embedding cache ([`cache`]).
//!
//! Each example is run alone, so the bits of its embeddings do not depend on what else is in a
//! batch, cached or not. A cache key covers the exact input and the hash of the frozen
//! parameters that produce the value, so other weights or another sequence never hit.

pub mod cache;

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use isoformer_model::model::{Encoded, dna_batch};
use isoformer_model::{Isoformer, IsoformerConfig};
use sha2::{Digest, Sha256};

use crate::data::{Sample, f32_bytes, u32_bytes};
use crate::error::TrainError;
use crate::options::TrainParts;
use self::cache::{Cache, key, params_hash};

/// One example's output of a frozen module: `(shape, values)`, batch dimension dropped.
pub(crate) type Rows = (Vec<usize>, Vec<f32>);

/// The three encoders' outputs for one example: Enformer `(bins, D)`, NT `(r, E1)`, ESM `(p, E2)`.
pub(crate) struct EncoderOutputs {
    pub dna: Rows,
    pub rna: Rows,
    pub protein: Rows,
}

/// What the frozen part hands the trained part for a batch.
pub(crate) enum FrozenBatch {
    /// Nothing is frozen: the whole model runs on the inputs.
    None,
    /// Head only: the fused DNA embeddings averaged over the pool window, `(D)` per example.
    Pooled(Vec<Vec<f32>>),
    /// Fusion + head: the encoders' outputs per example.
    Encoders(Vec<EncoderOutputs>),
}

/// The frozen inputs of `batch`: none without a frozen part.
pub(crate) fn frozen_batch(features: Option<&mut Features>, batch: &[&Sample]) -> Result<FrozenBatch, TrainError> {
    match features {
        Some(f) => f.batch(batch),
        None => Ok(FrozenBatch::None),
    }
}

/// What is frozen, with the hash of the parameters each cached kind depends on.
#[derive(Clone, Copy)]
enum Frozen {
    Pooled { params: [u8; 32], window: (usize, usize) },
    Encoders { dna: [u8; 32], rna: [u8; 32], protein: [u8; 32] },
}

/// Computes (or reads from the cache) the frozen part's outputs.
pub(crate) struct Features {
    cache: Cache,
    model: Isoformer,
    frozen: Frozen,
}

fn digest(f: impl FnOnce(&mut Sha256)) -> [u8; 32] {
    let mut h = Sha256::new();
    f(&mut h);
    h.finalize().into()
}

fn read3(t: Tensor<3>) -> Rows {
    let [_, a, b] = t.dims();
    (vec![a, b], t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data"))
}

impl Features {
    /// The frozen part of `model` when `parts` leaves one (`None` when everything trains).
    pub fn new(model: &Isoformer, cfg: &IsoformerConfig, parts: TrainParts, cache: Cache) -> Option<Self> {
        let model = model.clone().valid();
        let frozen = match parts {
            TrainParts::All => return None,
            TrainParts::Head => Frozen::Pooled {
                params: digest(|h| {
                    params_hash(&model.enformer, h);
                    params_hash(&model.nt, h);
                    params_hash(&model.esm, h);
                    params_hash(&model.fusion, h);
                    h.update((cfg.pool_window_start as u64).to_le_bytes());
                    h.update((cfg.pool_window_end as u64).to_le_bytes());
                    h.update((cfg.num_heads_omics_cross_attention as u64).to_le_bytes());
                }),
                window: (cfg.pool_window_start, cfg.pool_window_end),
            },
            TrainParts::FusionHead => Frozen::Encoders {
                dna: digest(|h| params_hash(&model.enformer, h)),
                rna: digest(|h| params_hash(&model.nt, h)),
                protein: digest(|h| params_hash(&model.esm, h)),
            },
        };
        Some(Self { cache, model, frozen })
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The frozen inputs of `batch`.
    pub fn batch(&mut self, batch: &[&Sample]) -> Result<FrozenBatch, TrainError> {
        Ok(match self.frozen {
            Frozen::Pooled { params, window } => {
                FrozenBatch::Pooled(batch.iter().map(|s| self.pooled(&s.encoded, &params, window)).collect::<Result<_, _>>()?)
            }
            Frozen::Encoders { dna, rna, protein } => {
                FrozenBatch::Encoders(batch.iter().map(|s| self.encoders(&s.encoded, [&dna, &rna, &protein])).collect::<Result<_, _>>()?)
            }
        })
    }

    /// Compute one example's features into the cache.
    pub fn warm(&mut self, e: &Encoded) -> Result<(), TrainError> {
        match self.frozen {
            Frozen::Pooled { params, window } => self.pooled(e, &params, window).map(drop),
            Frozen::Encoders { dna, rna, protein } => self.encoders(e, [&dna, &rna, &protein]).map(drop),
        }
    }

    fn device(&self) -> Device {
        self.model.head.layers[0].weight.device()
    }

    fn dna_tensor(&self, e: &Encoded) -> Tensor<3> {
        dna_batch(&[e], &self.device())
    }

    fn cache_error(&self) -> impl FnOnce(std::io::Error) -> TrainError + use<> {
        let dir = self.cache.dir().map(PathBuf::from).unwrap_or_default();
        move |source| TrainError::Cache { dir, source }
    }

    /// The fused DNA embeddings averaged over the pool `window`; `params` hashes everything
    /// before the head.
    fn pooled(&mut self, e: &Encoded, params: &[u8; 32], window: (usize, usize)) -> Result<Vec<f32>, TrainError> {
        let mut input = f32_bytes(&e.dna_one_hot);
        input.extend(u32_bytes(&e.rna_tokens));
        input.extend((u32::MAX).to_le_bytes());
        input.extend(u32_bytes(&e.protein_tokens));
        let k = key("pooled", params, &input);
        let (dna, err) = (self.dna_tensor(e), self.cache_error());
        let model = &self.model;
        let (_, v) = self
            .cache
            .get_or(&k, || {
                let f = model.fuse(model.enformer.forward(dna), &[e.rna_tokens.clone()], &[e.protein_tokens.clone()]).final_dna_embeddings;
                let [b, _, d] = f.dims();
                let pooled = f.slice([0..b, window.0..window.1, 0..d]).mean_dim(1).reshape([d]);
                (vec![d], pooled.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data"))
            })
            .map_err(err)?;
        Ok(v)
    }

    /// The three encoders' outputs; `params` hashes each encoder's parameters.
    fn encoders(&mut self, e: &Encoded, params: [&[u8; 32]; 3]) -> Result<EncoderOutputs, TrainError> {
        let kd = key("dna", params[0], &f32_bytes(&e.dna_one_hot));
        let kr = key("rna", params[1], &u32_bytes(&e.rna_tokens));
        let kp = key("protein", params[2], &u32_bytes(&e.protein_tokens));
        let dna_in = self.dna_tensor(e);
        let model = &self.model;
        let dna = self.cache.get_or(&kd, || read3(model.enformer.forward(dna_in))).map_err(self.cache_error())?;
        let rna = self.cache.get_or(&kr, || read3(model.nt.forward(&[e.rna_tokens.clone()]))).map_err(self.cache_error())?;
        let protein = self.cache.get_or(&kp, || read3(model.esm.forward(&[e.protein_tokens.clone()]))).map_err(self.cache_error())?;
        Ok(EncoderOutputs { dna, rna, protein })
    }
}
