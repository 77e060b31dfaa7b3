//! Cross-attention fusion: the DNA embeddings attend to the RNA encoder's last hidden states,
//! then to the protein encoder's (docs/REFERENCE.md, "Fusion and head").
//!
//! Each layer: q = Linear(D→D)(dna), k, v = Linear(E→D)(other), heads of D / h, softmax(q·kᵀ/√(D/h))
//! with padded keys masked (the reference fills −1e30; `kernels::attention` says why float32's
//! minimum gives the same result), `out = dense(context) + dna`; no LayerNorm, no
//! feed-forward. A transcript without protein (non-coding) skips the protein layer: its DNA
//! embeddings after the RNA layer pass through unchanged (documented in models/README.md).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;

use crate::kernels::attention::{KeyMask, LogitScale, attention};
use crate::kernels::fusion_residual::fusion_residual;
use crate::kernels::matmul::linear;
use crate::weights::Loader;

/// Leaf names accepted for the four projections, in (query, key, value, output) order.
pub const PROJECTION_NAMES: [[&str; 4]; 3] =
    [["query", "key", "value", "dense"], ["to_q", "to_k", "to_v", "to_out"], ["q_proj", "k_proj", "v_proj", "out_proj"]];

#[derive(Module, Debug)]
pub struct CrossAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub dense: Linear,
    pub heads: usize,
}

impl CrossAttention {
    /// `prefix` ends with `.` (or is empty); `names` is one row of [`PROJECTION_NAMES`].
    pub fn load(l: &mut Loader, prefix: &str, names: [&str; 4], dim: usize, other_dim: usize, heads: usize) -> Self {
        Self {
            query: l.linear(&format!("{prefix}{}", names[0]), dim, dim, true),
            key: l.linear(&format!("{prefix}{}", names[1]), other_dim, dim, true),
            value: l.linear(&format!("{prefix}{}", names[2]), other_dim, dim, true),
            dense: l.linear(&format!("{prefix}{}", names[3]), dim, dim, true),
            heads,
        }
    }

    /// `x (b, n, D)`, `other (b, m, E)`, `other_valid[b][m]` (false = padding) → `(b, n, D)`;
    /// rows with `keep[b]` false come out as their `x`.
    pub fn forward(&self, x: Tensor<3>, other: Tensor<3>, other_valid: &[Vec<bool>], keep: &[bool]) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let m = other.dims()[1];
        let h = self.heads;
        let hd = d / h;
        let q = linear(&self.query, x.clone()).reshape([b, n, h, hd]).swap_dims(1, 2);
        let k = linear(&self.key, other.clone()).reshape([b, m, h, hd]).swap_dims(1, 2);
        let v = linear(&self.value, other).reshape([b, m, h, hd]).swap_dims(1, 2);
        let mask = KeyMask::from_valid(other_valid, m, &x.device());
        let ctx = attention(q, k, v, &mask, LogitScale::DivideBySqrtHeadDim);
        let ctx = ctx.swap_dims(1, 2).reshape([b, n, d]);
        fusion_residual(linear(&self.dense, ctx), x, keep)
    }
}

/// Both fusion layers.
#[derive(Module, Debug)]
pub struct Fusion {
    pub rna: CrossAttention,
    pub protein: CrossAttention,
}

impl Fusion {
    /// `dna (b, n, D)`, `rna (b, r, E1)`, `protein (b, p, E2)`; `has_protein[b]` false skips the
    /// protein layer for that row.
    pub fn forward(
        &self,
        dna: Tensor<3>,
        rna: Tensor<3>,
        rna_valid: &[Vec<bool>],
        protein: Tensor<3>,
        protein_valid: &[Vec<bool>],
        has_protein: &[bool],
    ) -> Tensor<3> {
        let x = self.rna.forward(dna, rna, rna_valid, &vec![true; has_protein.len()]);
        if !has_protein.iter().any(|&p| p) {
            return x;
        }
        self.protein.forward(x, protein, protein_valid, has_protein)
    }
}
