//! The whole IsoFormer: Enformer (DNA) → fusion with NT-v2 (RNA) and ESM-2 (protein) → head.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::config::IsoformerConfig;
use crate::encoder::SequenceEncoder;
use crate::enformer::Enformer;
use crate::esm::EsmEncoder;
use crate::fusion::{CrossAttention, Fusion};
use crate::head::Head;
use crate::weights::{LoadError, Loader, SeededSource, TensorSource};

use super::input::has_protein;
use super::layout::{Layout, audit, discover};

/// IsoFormer.
#[derive(Module, Debug)]
pub struct Isoformer {
    pub enformer: Enformer,
    pub nt: EsmEncoder,
    pub esm: EsmEncoder,
    pub fusion: Fusion,
    pub head: Head,
}

/// The encoders' and the fusion's outputs, before the head.
#[derive(Debug, Clone)]
pub struct Fused {
    /// NT-v2 last hidden state `(b, r, E1)` (padded to the longest RNA).
    pub rna_embeddings: Tensor<3>,
    /// ESM-2 last hidden state `(b, p, E2)` (padded to the longest protein).
    pub protein_embeddings: Tensor<3>,
    /// DNA embeddings after fusion `(b, bins, 2·dim)`.
    pub final_dna_embeddings: Tensor<3>,
}

/// What a forward pass gives.
#[derive(Debug, Clone)]
pub struct Output {
    /// `(b, outputs)`, one column per tissue.
    pub predictions: Tensor<2>,
    /// Enformer output `(b, bins, 2·dim)`.
    pub dna_embeddings: Tensor<3>,
    /// NT-v2 last hidden state `(b, r, E1)` (padded to the longest RNA).
    pub rna_embeddings: Tensor<3>,
    /// ESM-2 last hidden state `(b, p, E2)` (padded to the longest protein).
    pub protein_embeddings: Tensor<3>,
    /// DNA embeddings after fusion `(b, bins, 2·dim)`.
    pub final_dna_embeddings: Tensor<3>,
}

/// Per-module parameter counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamCounts {
    pub enformer: usize,
    pub nt: usize,
    pub esm: usize,
    pub fusion: usize,
    pub head: usize,
}

impl Isoformer {
    /// Build from a checkpoint; one error lists every missing, unexpected or mis-shaped tensor.
    pub fn load(cfg: &IsoformerConfig, source: &dyn TensorSource, device: &Device) -> Result<Self, LoadError> {
        let layout = discover(source, cfg)?;
        let mut l = Loader::new(source, device);
        let model = Self::build(&mut l, cfg, &layout);
        audit(l, source, &layout)?;
        Ok(model)
    }

    /// Check a checkpoint's names and shapes against the model `cfg` describes, reading no
    /// values (`_trunk.*` copies are not compared). Returns where each part was found.
    pub fn check(cfg: &IsoformerConfig, source: &dyn TensorSource, device: &Device) -> Result<Layout, LoadError> {
        let layout = discover(source, cfg)?;
        let mut l = Loader::dry_run(source, device);
        Self::build(&mut l, cfg, &layout);
        audit(l, source, &layout)?;
        Ok(layout)
    }

    /// A model with seeded pseudo-random weights (see [`SeededSource`]) and the given head sizes.
    pub fn seeded(cfg: &IsoformerConfig, head_hidden: &[usize], outputs: usize, device: &Device) -> Self {
        let layout = Layout::standard(cfg, head_hidden, outputs);
        let source = SeededSource;
        let mut l = Loader::new(&source, device);
        Self::build(&mut l, cfg, &layout)
    }

    /// Every part from `l` at the names `layout` gives.
    pub(crate) fn build(l: &mut Loader, cfg: &IsoformerConfig, layout: &Layout) -> Self {
        let dd = 2 * cfg.enformer_dim;
        let h = cfg.num_heads_omics_cross_attention;
        let [(_, nt_geometry), (_, esm_geometry)] = cfg.attended();
        let enformer = Enformer::load(l, &layout.enformer, &cfg.enformer());
        let nt = EsmEncoder::load(l, &layout.nt, &nt_geometry);
        let esm = EsmEncoder::load(l, &layout.esm, &esm_geometry);
        let fusion = Fusion {
            rna: CrossAttention::load(l, &layout.fusion_rna.0, layout.fusion_rna.1, dd, EsmEncoder::width(&nt_geometry), h),
            protein: CrossAttention::load(l, &layout.fusion_protein.0, layout.fusion_protein.1, dd, EsmEncoder::width(&esm_geometry), h),
        };
        let head = Head {
            transform: cfg.isoformer_target_transform.clone(),
            ..Head::load(l, &layout.head, cfg.isoformer_head_activation, (cfg.pool_window_start, cfg.pool_window_end))
        };
        Self { enformer, nt, esm, fusion, head }
    }

    /// Widths of the head's hidden layers (between 2·enformer_dim and the outputs).
    pub fn head_hidden(&self) -> Vec<usize> {
        let n = self.head.layers.len();
        self.head.layers.iter().take(n.saturating_sub(1)).map(|l| l.weight.dims()[1]).collect()
    }

    pub fn param_counts(&self) -> ParamCounts {
        ParamCounts {
            enformer: self.enformer.num_params(),
            nt: self.nt.num_params(),
            esm: self.esm.num_params(),
            fusion: self.fusion.num_params(),
            head: self.head.num_params(),
        }
    }

    /// `dna (b, length, 4)` one-hot; `rna[b]`, `protein[b]` token ids (unpadded). A row without
    /// a protein ([`has_protein`]) skips the protein cross-attention.
    pub fn forward(&self, dna: Tensor<3>, rna: &[Vec<u32>], protein: &[Vec<u32>]) -> Output {
        self.forward_from_dna(self.enformer.forward(dna), rna, protein)
    }

    /// Everything after Enformer, from its output `(b, bins, 2·dim)`: for callers that reuse DNA
    /// embeddings (isoforms sharing a TSS share one window).
    pub fn forward_from_dna(&self, dna_embeddings: Tensor<3>, rna: &[Vec<u32>], protein: &[Vec<u32>]) -> Output {
        let Fused { rna_embeddings, protein_embeddings, final_dna_embeddings } = self.fuse(dna_embeddings.clone(), rna, protein);
        let predictions = self.head.forward(final_dna_embeddings.clone());
        Output { predictions, dna_embeddings, rna_embeddings, protein_embeddings, final_dna_embeddings }
    }

    /// The RNA and protein encoders and the fusion, without the head: for training, which puts
    /// its own head call (raw, or on cached pooled features) after it.
    pub fn fuse(&self, dna_embeddings: Tensor<3>, rna: &[Vec<u32>], protein: &[Vec<u32>]) -> Fused {
        let rna_embeddings = self.nt.forward(rna);
        let protein_embeddings = self.esm.forward(protein);
        let valid = |rows: &[Vec<u32>]| -> Vec<Vec<bool>> { rows.iter().map(|r| vec![true; r.len()]).collect() };
        let with_protein: Vec<bool> = protein.iter().map(|p| has_protein(p)).collect();
        let final_dna_embeddings = self.fusion.forward(
            dna_embeddings,
            rna_embeddings.clone(),
            &valid(rna),
            protein_embeddings.clone(),
            &valid(protein),
            &with_protein,
        );
        Fused { rna_embeddings, protein_embeddings, final_dna_embeddings }
    }
}
