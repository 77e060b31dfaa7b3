//! ESM-architecture encoders: ESM-2 (protein) and Nucleotide Transformer v2 (RNA), after
//! transformers 4.56 `models/esm/modeling_esm.py` (`EsmModel`, eval mode, eager attention).
//!
//! Shared: token embeddings (no absolute positions), pre-LN layers with rotary position
//! embeddings applied to q and k after q is scaled by head_dim^-0.5 (rotate-half convention,
//! base 10000), padded keys masked with float32's minimum (`kernels::attention`), final
//! `emb_layer_norm_after`.
//! Differences, from the geometry:
//! * ESM-2: feed-forward Linear+bias → erf-GELU → Linear+bias; token dropout at inference:
//!   `<mask>` embeddings zeroed and all scaled by (1 − 0.15·0.8)/(1 − observed mask ratio).
//! * NT-v2: feed-forward SwiGLU without biases: Linear(d → 2i) split [x1, x2] → SiLU(x1)·x2 →
//!   Linear(i → d) (NT-v2's published definition; not in transformers).
//! Embeddings are multiplied by the attention mask (padding rows zero) in both.
//!
//! Names: `embeddings.word_embeddings.weight`, `encoder.layer.{i}.attention.self.{query,key,value}`,
//! `…attention.output.dense`, `…attention.LayerNorm`, `…intermediate.dense`, `…output.dense`,
//! `…LayerNorm`, `encoder.emb_layer_norm_after`.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Int, Tensor, TensorData, activation};

use crate::config::EsmGeometry;
use crate::kernels::attention::{KeyMask, LogitScale, attention};
use crate::kernels::matmul::linear;
use crate::nn::{LayerNorm, gelu_erf};
use crate::weights::Loader;

/// One ESM layer.
#[derive(Module, Debug)]
pub struct EsmLayer {
    pub attention_norm: LayerNorm,
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub attention_out: Linear,
    pub ffn_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub heads: usize,
    pub swiglu: bool,
}

impl EsmLayer {
    fn load(l: &mut Loader, p: &str, g: &EsmGeometry) -> Self {
        let d = g.hidden_size;
        let inter_out = if g.swiglu { 2 * g.intermediate_size } else { g.intermediate_size };
        Self {
            attention_norm: LayerNorm::load(l, &format!("{p}.attention.LayerNorm"), d, g.layer_norm_eps),
            query: l.linear(&format!("{p}.attention.self.query"), d, d, true),
            key: l.linear(&format!("{p}.attention.self.key"), d, d, true),
            value: l.linear(&format!("{p}.attention.self.value"), d, d, true),
            attention_out: l.linear(&format!("{p}.attention.output.dense"), d, d, true),
            ffn_norm: LayerNorm::load(l, &format!("{p}.LayerNorm"), d, g.layer_norm_eps),
            intermediate: l.linear(&format!("{p}.intermediate.dense"), d, inter_out, g.ffn_bias),
            output: l.linear(&format!("{p}.output.dense"), g.intermediate_size, d, g.ffn_bias),
            heads: g.num_heads,
            swiglu: g.swiglu,
        }
    }

    /// `x (b, l, d)`, `rotary = (cos, sin)` each `(l, head_dim)`, `mask` over the `l` keys.
    pub fn forward(&self, x: Tensor<3>, rotary: &(Tensor<2>, Tensor<2>), mask: &KeyMask) -> Tensor<3> {
        let x = linear(&self.attention_out, self.self_attention(x.clone(), rotary, mask)) + x;
        let y = linear(&self.intermediate, self.ffn_norm.forward(x.clone()));
        let y = if self.swiglu {
            let [b, l, two_i] = y.dims();
            let i = two_i / 2;
            let x1 = y.clone().slice([0..b, 0..l, 0..i]);
            let x2 = y.slice([0..b, 0..l, i..two_i]);
            activation::silu(x1) * x2
        } else {
            gelu_erf(y)
        };
        linear(&self.output, y) + x
    }

    /// Pre-LN multi-head self-attention with rotary q and k, before the output projection.
    fn self_attention(&self, x: Tensor<3>, rotary: &(Tensor<2>, Tensor<2>), mask: &KeyMask) -> Tensor<3> {
        let [b, l, d] = x.dims();
        let h = self.heads;
        let hd = d / h;
        let normed = self.attention_norm.forward(x);
        let split = |t: Tensor<3>| t.reshape([b, l, h, hd]).swap_dims(1, 2);
        // transformers scales q by head_dim^-0.5 before the rotary embedding.
        let q = split(linear(&self.query, normed.clone())).mul_scalar((hd as f64).powf(-0.5));
        let k = split(linear(&self.key, normed.clone()));
        let v = split(linear(&self.value, normed));
        let ctx = attention(apply_rotary(q, rotary), apply_rotary(k, rotary), v, mask, LogitScale::Prescaled);
        ctx.swap_dims(1, 2).reshape([b, l, d])
    }
}

/// The buffers of [`EsmLayer::forward_cpu`], reused from layer to layer.
#[derive(Default)]
struct Scratch {
    normed: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    context: Vec<f32>,
    hidden: Vec<f32>,
    inner: Vec<f32>,
    gated: Vec<f32>,
}

/// `v` resized to `len` (its values are about to be overwritten).
fn sized(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.resize(len, 0.0);
    &mut v[..]
}

impl EsmLayer {
    /// [`forward`](Self::forward) on the CPU backend, in place on `x` (`b·l` rows of `d`, row-major)
    /// with one pass per step: LayerNorm, the q/k/v products with their biases, the rotary
    /// embedding (q scaled first) in place, attention over each row's `lengths` valid keys
    /// reading q, k and v where the products wrote them and writing the heads side by side, the
    /// output product accumulated onto `x + bias` (the residual), then the same for the
    /// feed-forward block. The steps and their order are transformers'; only the passes differ.
    fn forward_cpu(&self, x: &mut Vec<f32>, s: &mut Scratch, b: usize, l: usize, (cos, sin): (&[f32], &[f32]), lengths: &[u32]) {
        use crate::kernels::cpu_attention::{Layout, Operand, Shape, attend};
        use crate::kernels::cpu_elementwise::{gelu_erf_in_place, rotary_rows, swiglu_rows};
        use crate::kernels::cpu_gemm::{linear_rows, linear_rows_shared};
        let rows = b * l;
        let d = x.len() / rows.max(1);
        let h = self.heads;
        let hd = d / h;
        let n = rows * d;
        self.attention_norm.rows(x, sized(&mut s.normed, n));
        linear_rows_shared(&[&self.query, &self.key, &self.value], &s.normed, rows, &mut [sized(&mut s.q, n), sized(&mut s.k, n), sized(&mut s.v, n)]);
        rotary_rows(&mut s.q, d, hd, cos, sin, (hd as f32).powf(-0.5));
        rotary_rows(&mut s.k, d, hd, cos, sin, 1.0);
        let layout = Layout::token_major(h, l, hd);
        attend(
            Operand { data: &s.q, layout },
            Operand { data: &s.k, layout },
            Operand { data: &s.v, layout },
            sized(&mut s.context, n),
            layout,
            Shape { b, h, n: l, m: l, d: hd, dv: hd },
            lengths,
            1.0,
        );
        linear_rows(&self.attention_out, &s.context, rows, sized(&mut s.hidden, n), Some(x));
        self.ffn_norm.rows(&s.hidden, sized(&mut s.normed, n));
        let inter_out = self.intermediate.weight.dims()[1];
        linear_rows(&self.intermediate, &s.normed, rows, sized(&mut s.inner, rows * inter_out), None);
        let act = if self.swiglu {
            swiglu_rows(&s.inner, sized(&mut s.gated, rows * inter_out / 2), inter_out / 2);
            &s.gated
        } else {
            gelu_erf_in_place(&mut s.inner);
            &s.inner
        };
        linear_rows(&self.output, act, rows, x, Some(&s.hidden));
    }
}

/// `x·cos + rotate_half(x)·sin`, `rotate_half(x) = cat(−x2, x1)`; `x (b, h, l, hd)`.
fn apply_rotary(x: Tensor<4>, (cos, sin): &(Tensor<2>, Tensor<2>)) -> Tensor<4> {
    let [b, h, l, hd] = x.dims();
    let half = hd / 2;
    let x1 = x.clone().slice([0..b, 0..h, 0..l, 0..half]);
    let x2 = x.clone().slice([0..b, 0..h, 0..l, half..hd]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone().reshape([1, 1, l, hd]) + rotated * sin.clone().reshape([1, 1, l, hd])
}

/// Rotary tables `(cos, sin)` of shape `(len, head_dim)`, computed as transformers'
/// `RotaryEmbedding` does in float32: `inv_freq = 1 / 10000^(arange(0, hd, 2) / hd)`,
/// `freqs = outer(t, inv_freq)`, `emb = cat(freqs, freqs)`.
pub fn rotary_tables(len: usize, head_dim: usize) -> (Vec<f32>, Vec<f32>) {
    let inv: Vec<f32> =
        (0..head_dim).step_by(2).map(|i| 1.0 / 10000f32.powf(i as f32 / head_dim as f32)).collect();
    let mut cos = vec![0f32; len * head_dim];
    let mut sin = vec![0f32; len * head_dim];
    let half = head_dim / 2;
    for t in 0..len {
        for (j, &f) in inv.iter().enumerate() {
            let a = t as f32 * f;
            let (s, c) = a.sin_cos();
            for col in [j, j + half] {
                cos[t * head_dim + col] = c;
                sin[t * head_dim + col] = s;
            }
        }
    }
    (cos, sin)
}

/// An ESM-architecture encoder.
#[derive(Module, Debug)]
pub struct EsmEncoder {
    /// `[vocab, d]`
    pub word_embeddings: Param<Tensor<2>>,
    pub layer: Vec<EsmLayer>,
    pub emb_layer_norm_after: LayerNorm,
    pub heads: usize,
    pub token_dropout: bool,
    pub mask_token_id: u32,
    pub pad_token_id: u32,
}

impl EsmEncoder {
    /// Load from names under `prefix` (e.g. `"esm_model.esm."`, or `""`).
    pub fn load(l: &mut Loader, prefix: &str, g: &EsmGeometry) -> Self {
        Self {
            word_embeddings: l.param(&format!("{prefix}embeddings.word_embeddings.weight"), [g.vocab_size, g.hidden_size]),
            layer: (0..g.num_layers).map(|i| EsmLayer::load(l, &format!("{prefix}encoder.layer.{i}"), g)).collect(),
            emb_layer_norm_after: LayerNorm::load(
                l,
                &format!("{prefix}encoder.emb_layer_norm_after"),
                g.hidden_size,
                g.layer_norm_eps,
            ),
            heads: g.num_heads,
            token_dropout: g.token_dropout,
            mask_token_id: g.mask_token_id,
            pad_token_id: g.pad_token_id,
        }
    }

    pub fn hidden_size(&self) -> usize {
        self.word_embeddings.dims()[1]
    }

    /// Token ids `(b, l)` padded with the pad id → last hidden state `(b, l, d)` after
    /// `emb_layer_norm_after`. The attention mask is `ids != pad`.
    pub fn forward(&self, ids: &[Vec<u32>]) -> Tensor<3> {
        self.forward_traced(ids, None)
    }

    /// As [`forward`](Self::forward), pushing the embeddings and each layer's output (before
    /// the final LayerNorm) to `trace`, as transformers' `hidden_states` holds them.
    pub fn forward_traced(&self, ids: &[Vec<u32>], mut trace: Option<&mut Vec<Tensor<3>>>) -> Tensor<3> {
        let (mut x, mask) = self.embed(ids);
        if let Some(t) = trace.as_deref_mut() {
            t.push(x.clone());
        }
        let device = self.word_embeddings.device();
        let l = x.dims()[1];
        let hd = self.hidden_size() / self.heads;
        let (cos, sin) = rotary_tables(l, hd);
        let rotary = (
            Tensor::<2>::from_data(TensorData::new(cos, [l, hd]), &device),
            Tensor::<2>::from_data(TensorData::new(sin, [l, hd]), &device),
        );
        match mask.prefix_lengths().filter(|_| crate::kernels::cpu::runs_on(&device)) {
            Some(lengths) => x = self.layers_cpu(x, &rotary, lengths, trace),
            None => {
                for layer in &self.layer {
                    x = layer.forward(x, &rotary, &mask);
                    if let Some(t) = trace.as_deref_mut() {
                        t.push(x.clone());
                    }
                }
            }
        }
        self.emb_layer_norm_after.forward(x)
    }

    /// Every layer on the CPU backend ([`EsmLayer::forward_cpu`]), the activations kept in
    /// buffers from the first layer to the last.
    fn layers_cpu(&self, x: Tensor<3>, rotary: &(Tensor<2>, Tensor<2>), lengths: &[u32], mut trace: Option<&mut Vec<Tensor<3>>>) -> Tensor<3> {
        use crate::kernels::cpu::{flex, values};
        let (device, dims) = (x.device(), x.dims());
        let [b, l, _] = dims;
        let mut xs = values(&flex(x)).into_owned();
        let (ct, st) = (flex(rotary.0.clone()), flex(rotary.1.clone()));
        let (cos, sin) = (values(&ct), values(&st));
        let mut scratch = Scratch::default();
        for layer in &self.layer {
            layer.forward_cpu(&mut xs, &mut scratch, b, l, (&cos, &sin), lengths);
            if let Some(t) = trace.as_deref_mut() {
                t.push(Tensor::from_data(TensorData::new(xs.clone(), dims), &device));
            }
        }
        Tensor::from_data(TensorData::new(xs, dims), &device)
    }

    /// Token embeddings `(b, l, d)` of the rows padded to the longest, after token dropout and
    /// with padding rows zeroed, and the key mask `ids != pad`.
    fn embed(&self, ids: &[Vec<u32>]) -> (Tensor<3>, KeyMask) {
        let device = self.word_embeddings.device();
        let b = ids.len();
        let l = ids.iter().map(Vec::len).max().unwrap_or(0);
        let mut flat = Vec::with_capacity(b * l);
        let mut mask = Vec::with_capacity(b * l);
        let mut padded = Vec::with_capacity(b * l);
        let mut scale = Vec::with_capacity(b);
        let mut keep = Vec::with_capacity(b * l);
        for row in ids {
            let masked = row.iter().filter(|&&t| t == self.mask_token_id).count();
            for j in 0..l {
                let tok = row.get(j).copied().unwrap_or(self.pad_token_id);
                flat.push(tok as i64);
                mask.push(if tok != self.pad_token_id { 1f32 } else { 0.0 });
                padded.push(tok == self.pad_token_id);
                keep.push(if self.token_dropout && tok == self.mask_token_id { 0f32 } else { 1.0 });
            }
            // transformers: src_lengths = attention_mask.sum(-1); ratio = #mask / src_length
            let valid = row.iter().filter(|&&t| t != self.pad_token_id).count().max(1);
            let observed = masked as f32 / valid as f32;
            scale.push(if self.token_dropout { (1.0 - 0.15 * 0.8) / (1.0 - observed) } else { 1.0 });
        }
        let idx = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, l]), &device);
        let mask_t = Tensor::<2>::from_data(TensorData::new(mask, [b, l]), &device);
        let mut x = burn::tensor::module::embedding(self.word_embeddings.val(), idx);
        if self.token_dropout {
            let keep = Tensor::<2>::from_data(TensorData::new(keep, [b, l]), &device);
            let scale = Tensor::<1>::from_data(TensorData::new(scale, [b]), &device);
            x = x * keep.reshape([b, l, 1]) * scale.reshape([b, 1, 1]);
        }
        x = x * mask_t.reshape([b, l, 1]);
        (x, KeyMask::new(padded, b, l, &device))
    }
}
