//! The Enformer trunk (DNA encoder), after enformer-pytorch 0.8.12
//! (lucidrains/enformer-pytorch, enformer_pytorch/modeling_enformer.py) with `use_tf_gamma=False`.
//!
//! One-hot DNA `(batch, length, 4)` → stem (Conv k15, residual ConvBlock k1, attention pool) →
//! conv tower (ConvBlock k5, residual ConvBlock k1, attention pool) × (num_downsamples − 1) →
//! pre-LN transformer with relative positional logits × depth → target-length crop → final
//! pointwise (ConvBlock k1 to 2·dim, GELU). Output `(batch, bins, 2·dim)`.
//!
//! Checkpoint names are enformer-pytorch's `nn.Sequential` positions, e.g. `stem.1.fn.0.weight`
//! is the stem's residual block's BatchNorm; the same tensors may also appear under `_trunk.*`
//! (`_trunk.1` = stem, `_trunk.2` = conv_tower, `_trunk.4` = transformer, `_trunk.6` =
//! final_pointwise), which the loader accepts as aliases.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData, activation};

use crate::config::EnformerGeometry;
use crate::kernels::{cpu, cpu_elementwise};
use crate::kernels::matmul::linear;
use crate::kernels::relative_attention::relative_attention;
use crate::nn::{BatchNorm, Conv1d, LayerNorm, gelu_sigmoid};
use crate::weights::Loader;

/// enformer-pytorch `_trunk` positions of each named submodule: (`canonical.`, `_trunk.N.`).
pub const TRUNK_ALIASES: [(&str, &str); 4] =
    [("stem.", "_trunk.1."), ("conv_tower.", "_trunk.2."), ("transformer.", "_trunk.4."), ("final_pointwise.", "_trunk.6.")];

/// The first layer of a downsampling stage: a plain convolution in the stem, a [`ConvBlock`] in
/// the conv tower. Both take `(prefix, in, out, kernel size)` and keep the length.
pub trait StageConv: Module {
    fn load(l: &mut Loader, prefix: &str, d_in: usize, d_out: usize, k: usize) -> Self;
    fn forward(&self, x: Tensor<3>) -> Tensor<3>;
    fn kernel_size(&self) -> usize;
}

impl StageConv for Conv1d {
    fn load(l: &mut Loader, prefix: &str, d_in: usize, d_out: usize, k: usize) -> Self {
        Conv1d::load(l, prefix, d_in, d_out, k)
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        Conv1d::forward(self, x)
    }

    fn kernel_size(&self) -> usize {
        self.weight.dims()[2]
    }
}

/// BatchNorm → GELU(sigmoid) → Conv1d(k, padding k // 2).
#[derive(Module, Debug)]
pub struct ConvBlock {
    pub norm: BatchNorm,
    pub conv: Conv1d,
}

impl StageConv for ConvBlock {
    fn load(l: &mut Loader, prefix: &str, d_in: usize, d_out: usize, k: usize) -> Self {
        Self { norm: BatchNorm::load(l, &format!("{prefix}.0"), d_in), conv: Conv1d::load(l, &format!("{prefix}.2"), d_in, d_out, k) }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        if cpu::runs_on(&x.device()) {
            // One pass on the CPU (kernels::cpu_elementwise) instead of five.
            let (scale, shift) = self.norm.scale_shift();
            let (scale, shift) = (cpu::vector(scale), cpu::vector(shift));
            return self.conv.forward(cpu_elementwise::norm_gelu_sigmoid(x, &scale, &shift));
        }
        self.conv.forward(gelu_sigmoid(self.norm.forward(x)))
    }

    fn kernel_size(&self) -> usize {
        self.conv.weight.dims()[2]
    }
}

/// Softmax-weighted pooling of neighbouring pairs; logits from a bias-free 1×1 Conv2d.
#[derive(Module, Debug)]
pub struct AttentionPool {
    /// `to_attn_logits.weight` as `[in, out]` (the Conv2d's `[out, in, 1, 1]`, transposed).
    pub weight: Param<Tensor<2>>,
}

impl AttentionPool {
    fn load(l: &mut Loader, prefix: &str, dim: usize) -> Self {
        let w = l.tensor(&format!("{prefix}.to_attn_logits.weight"), [dim, dim]);
        Self { weight: Param::from_tensor(w.transpose()) }
    }

    /// `(b, d, n)` → `(b, d, n / 2)`. `n` must be even (the caller checks the DNA length).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, d, n] = x.dims();
        // (b, d, n) -> (b, n/2, 2, d): each pair's two positions side by side.
        let pairs = x.swap_dims(1, 2).reshape([b, n / 2, 2, d]);
        let logits = crate::kernels::matmul::by_weight(pairs.clone().reshape([b * n, d]), &self.weight).reshape([b, n / 2, 2, d]);
        if cpu::runs_on(&logits.device()) {
            // One pass on the CPU (kernels::cpu_elementwise) instead of softmax, product and sum.
            return cpu_elementwise::attention_pool(pairs, logits).swap_dims(1, 2);
        }
        let attn = activation::softmax(logits, 2);
        (pairs * attn).sum_dim(2).reshape([b, n / 2, d]).swap_dims(1, 2)
    }
}

/// One halving of the sequence: `conv` → Residual(ConvBlock(k1)) → AttentionPool. The stem is
/// one with a plain Conv1d(4 → dim/2, k15) first, each conv-tower stage one with a ConvBlock(k5).
///
/// enformer-pytorch builds both as `nn.Sequential(conv, Residual(ConvBlock(k1)), AttentionPool)`,
/// so the names under a stage's prefix are the same positions: `0` (conv), `1.fn` (the residual
/// block), `2` (the pool).
#[derive(Module, Debug)]
pub struct Downsample<C: StageConv> {
    pub conv: C,
    pub residual: ConvBlock,
    pub pool: AttentionPool,
}

/// Conv1d(4 → dim/2, k15) → Residual(ConvBlock(k1)) → AttentionPool.
pub type Stem = Downsample<Conv1d>;

/// ConvBlock(k5) → Residual(ConvBlock(k1)) → AttentionPool.
pub type TowerStage = Downsample<ConvBlock>;

impl<C: StageConv> Downsample<C> {
    /// Load from `prefix.{0, 1.fn, 2}`; `conv` maps `d_in` to `d_out` channels with kernel `k`.
    pub fn load(l: &mut Loader, prefix: &str, d_in: usize, d_out: usize, k: usize) -> Self {
        Self {
            conv: C::load(l, &format!("{prefix}.0"), d_in, d_out, k),
            residual: ConvBlock::load(l, &format!("{prefix}.1.fn"), d_out, d_out, 1),
            pool: AttentionPool::load(l, &format!("{prefix}.2"), d_out),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.conv.forward(x);
        let x = self.residual.forward(x.clone()) + x;
        self.pool.forward(x)
    }

    /// Positions at each edge of a tile still spoiled after this stage, given `spoiled` before
    /// it: each convolution spoils `k / 2` more, the pool halves (rounding up: a pair is spoiled
    /// if either half is). BatchNorm and GELU act per position and add nothing.
    pub fn spoiled_after(&self, spoiled: usize) -> usize {
        (spoiled + self.conv.kernel_size() / 2 + self.residual.kernel_size() / 2).div_ceil(2)
    }
}

/// Multi-head attention with Transformer-XL relative positional logits.
#[derive(Module, Debug)]
pub struct RelAttention {
    pub to_q: Linear,
    pub to_k: Linear,
    pub to_v: Linear,
    pub to_out: Linear,
    pub to_rel_k: Linear,
    /// `(1, heads, 1, dim_key)`
    pub rel_content_bias: Param<Tensor<4>>,
    pub rel_pos_bias: Param<Tensor<4>>,
    pub heads: usize,
    pub dim_key: usize,
}

impl RelAttention {
    fn load(l: &mut Loader, prefix: &str, g: &EnformerGeometry) -> Self {
        let (d, h, k) = (g.dim, g.heads, g.attn_dim_key);
        Self {
            to_q: l.linear(&format!("{prefix}.to_q"), d, k * h, false),
            to_k: l.linear(&format!("{prefix}.to_k"), d, k * h, false),
            to_v: l.linear(&format!("{prefix}.to_v"), d, d, false),
            to_out: l.linear(&format!("{prefix}.to_out"), d, d, true),
            to_rel_k: l.linear(&format!("{prefix}.to_rel_k"), g.rel_pos_features(), k * h, false),
            rel_content_bias: l.param(&format!("{prefix}.rel_content_bias"), [1, h, 1, k]),
            rel_pos_bias: l.param(&format!("{prefix}.rel_pos_bias"), [1, h, 1, k]),
            heads: h,
            dim_key: k,
        }
    }

    /// `(b, n, dim)` → `(b, n, dim)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let (h, k) = (self.heads, self.dim_key);
        let dv = d / h;
        let split = |t: Tensor<3>, dh: usize| t.reshape([b, n, h, dh]).swap_dims(1, 2);
        let q = split(linear(&self.to_q, x.clone()), k).mul_scalar((k as f64).powf(-0.5));
        let key = split(linear(&self.to_k, x.clone()), k);
        let v = split(linear(&self.to_v, x.clone()), dv);

        let features = d / h;
        let positions = Tensor::<2>::from_data(
            TensorData::new(positional_features(n, features), [2 * n - 1, features]),
            &x.device(),
        );
        // (2n-1, h*k) -> (h, 2n-1, k)
        let rel_k = linear(&self.to_rel_k, positions).reshape([2 * n - 1, h, k]).swap_dims(0, 1);
        let out = relative_attention(q, key, v, rel_k, self.rel_content_bias.val(), self.rel_pos_bias.val());
        let out = out.swap_dims(1, 2).reshape([b, n, d]);
        linear(&self.to_out, out)
    }
}

/// Relative positional features, `(2n − 1, features)` row-major, rows for distances
/// −(n−1)..(n−1): exponential, central mask and gamma pdf families (features / 6 bases each),
/// then the same multiplied by sign(distance).
///
/// Computed in f32 in the order enformer-pytorch computes it (get_positional_embed), because
/// the gamma family is a difference of large logs (lgamma of concentrations up to 4096 at the
/// official length) whose f32 rounding is part of the reference's result.
pub fn positional_features(n: usize, features: usize) -> Vec<f32> {
    let per = features / 6;
    let rows = 2 * n - 1;
    let mut out = vec![0f32; rows * features];
    let seq_len = n as f64;

    // exponential: half_life = 2 ** linspace(3, log2(n), per); exp(-ln2 / half_life * |d|)
    let max_range = seq_len.ln() / 2f64.ln();
    let half_life: Vec<f32> = linspace_f32(3.0, max_range as f32, per).iter().map(|&t| 2f32.powf(t)).collect();
    let ln2 = std::f64::consts::LN_2 as f32;
    let exp_coef: Vec<f32> = half_life.iter().map(|&hl| hl.recip() * -ln2).collect();

    // central mask: 2 ** arange(1, per + 1) - 1 > |d|
    let widths: Vec<f32> = (1..=per).map(|i| 2f32.powi(i as i32) - 1.0).collect();

    // gamma pdf
    let stddev = seq_len / (2.0 * per as f64);
    let start_mean = seq_len / per as f64;
    let mean = linspace_f32(start_mean as f32, seq_len as f32, per);
    let stddev32 = stddev as f32;
    let var32 = (stddev * stddev) as f32;
    let conc: Vec<f32> = mean.iter().map(|&m| (m / stddev32).powi(2)).collect();
    let rate: Vec<f32> = mean.iter().map(|&m| m / var32).collect();
    let log_norm: Vec<f32> =
        conc.iter().zip(&rate).map(|(&c, &r)| lgamma_f32(c) - c * r.ln()).collect();

    let mut gamma = vec![0f32; per];
    for row in 0..rows {
        let dist = row as i64 - (n as i64 - 1);
        let a = dist.unsigned_abs() as f32;
        let sign = dist.signum() as f32;
        let o = &mut out[row * features..(row + 1) * features];
        for j in 0..per {
            o[j] = (exp_coef[j] * a).exp();
            o[per + j] = if widths[j] > a { 1.0 } else { 0.0 };
            // torch.xlogy(c − 1, x) is 0 only where c − 1 == 0; at x == 0 it is −inf, so every
            // gamma feature at distance 0 is exp(−inf) + 1e-8, and 1 after normalisation.
            let k = conc[j] - 1.0;
            let xlogy = if k == 0.0 { 0.0 } else { k * a.ln() };
            let unnorm = xlogy - rate[j] * a;
            gamma[j] = (unnorm - log_norm[j]).exp() + 1e-8;
        }
        let max = gamma.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for j in 0..per {
            o[2 * per + j] = gamma[j] / max;
        }
        for j in 0..3 * per {
            o[3 * per + j] = sign * o[j];
        }
    }
    out
}

/// torch's float32 `lgamma` is the float64 lgamma rounded to float32 (checked on torch 2.15 for
/// every concentration the positional features use); glibc's `lgammaf` differs by an ulp or two
/// on large arguments, which at lgamma ≈ 3e4 is a 0.2% error in the gamma features.
fn lgamma_f32(x: f32) -> f32 {
    libm::lgamma(x as f64) as f32
}

/// torch.linspace for float32 (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp): the first
/// half counts up from `start`, the second half down from `end`.
fn linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| if i < halfway { start + step * i as f32 } else { end - step * (steps - i - 1) as f32 })
        .collect()
}

/// Pre-LN transformer block: Residual(LN → attention), Residual(LN → Linear(d, 2d) → ReLU → Linear(2d, d)).
#[derive(Module, Debug)]
pub struct TransformerBlock {
    pub attn_norm: LayerNorm,
    pub attn: RelAttention,
    pub ffn_norm: LayerNorm,
    pub ffn_in: Linear,
    pub ffn_out: Linear,
}

impl TransformerBlock {
    /// `prefix` is `transformer.{i}` in a full checkpoint (the block's own names are
    /// `0.fn.0` (LN), `0.fn.1` (attention), `1.fn.0` (LN), `1.fn.1` and `1.fn.4` (Linear)).
    pub fn load(l: &mut Loader, prefix: &str, g: &EnformerGeometry) -> Self {
        let p = |s: &str| if prefix.is_empty() { s.to_string() } else { format!("{prefix}.{s}") };
        let d = g.dim;
        Self {
            attn_norm: LayerNorm::load(l, &p("0.fn.0"), d, 1e-5),
            attn: RelAttention::load(l, &p("0.fn.1"), g),
            ffn_norm: LayerNorm::load(l, &p("1.fn.0"), d, 1e-5),
            ffn_in: l.linear(&p("1.fn.1"), d, 2 * d, true),
            ffn_out: l.linear(&p("1.fn.4"), 2 * d, d, true),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.attn.forward(self.attn_norm.forward(x.clone())) + x;
        let y = linear(&self.ffn_out, activation::relu(linear(&self.ffn_in, self.ffn_norm.forward(x.clone()))));
        y + x
    }
}

/// The whole trunk.
#[derive(Module, Debug)]
pub struct Enformer {
    pub stem: Stem,
    pub conv_tower: Vec<TowerStage>,
    pub transformer: Vec<TransformerBlock>,
    pub final_pointwise: ConvBlock,
    pub target_length: usize,
    pub bin_size: usize,
    /// Run the stem and conv tower over the sequence in tiles of this many output bins (plus
    /// halos) for a batch of one, 0 = in one piece; a batch of `b` uses tiles `b` times shorter
    /// ([`Enformer::tile_bins_for`]). See [`Enformer::conv_tower_tiled`].
    pub tile_bins: usize,
}

/// A tile of `tile_bins` for one row, for a batch of `b` rows (0 stays 0: untiled).
pub fn batch_tile(tile_bins: usize, b: usize) -> usize {
    if tile_bins == 0 { 0 } else { (tile_bins / b.max(1)).max(1) }
}

/// Default tile of the convolution tower: 128 bins (16,384 bp at the official 128-bp bins).
/// At the official width the stem's activations for a whole 196,608-bp window are 604 MB per
/// tensor; a tile's are 1/12 of that.
pub const DEFAULT_TILE_BINS: usize = 128;

/// What each stage produced, for parity tests and bisecting.
#[derive(Debug, Default)]
pub struct EnformerTrace {
    pub stem: Option<Tensor<3>>,
    pub conv_tower: Vec<Tensor<3>>,
    pub transformer: Vec<Tensor<3>>,
    pub crop: Option<Tensor<3>>,
}

impl Enformer {
    /// Load from names under `prefix` (e.g. `"enformer."`, or `""`).
    pub fn load(l: &mut Loader, prefix: &str, g: &EnformerGeometry) -> Self {
        for (canonical, alias) in TRUNK_ALIASES {
            l.add_alias(format!("{prefix}{canonical}"), format!("{prefix}{alias}"));
        }
        let half = g.dim / 2;
        let stem = Stem::load(l, &format!("{prefix}stem"), 4, half, 15);
        let conv_tower = g
            .filters
            .windows(2)
            .enumerate()
            .map(|(i, w)| TowerStage::load(l, &format!("{prefix}conv_tower.{i}"), w[0], w[1], 5))
            .collect();
        let transformer =
            (0..g.depth).map(|i| TransformerBlock::load(l, &format!("{prefix}transformer.{i}"), g)).collect();
        let last = *g.filters.last().expect("filters");
        let final_pointwise = ConvBlock::load(l, &format!("{prefix}final_pointwise.1"), last, 2 * g.dim, 1);
        Self {
            stem,
            conv_tower,
            transformer,
            final_pointwise,
            target_length: g.target_length,
            bin_size: g.bin_size(),
            tile_bins: DEFAULT_TILE_BINS,
        }
    }

    /// The same trunk, running its conv tower in tiles of `tile_bins` output bins (0: untiled).
    pub fn with_tile_bins(mut self, tile_bins: usize) -> Self {
        self.tile_bins = tile_bins;
        self
    }

    /// The tile for a batch of `b`: [`tile_bins`](Self::tile_bins) divided by `b` (at least one
    /// bin), so that a tile's activations (`b × channels × tile`) stay those of one row's tile
    /// whatever the batch: at the official width 52.7 MB, where a batch of 3 in whole tiles
    /// would need 158 MB buffers, over the 128 MiB a WebGPU binding is guaranteed.
    pub fn tile_bins_for(&self, b: usize) -> usize {
        batch_tile(self.tile_bins, b)
    }

    /// How many output bins at each edge of a tile differ from the untiled result because the
    /// tile's convolutions see zero padding instead of the neighbouring sequence.
    ///
    /// Counted in positions of the current resolution: the stem's k15 convolution spoils 7; an
    /// attention pool halves the count (rounding up: a pair is spoiled if either half is); each
    /// stage's k5 convolution adds 2; k1 convolutions, BatchNorm and GELU add nothing. At the
    /// official geometry (7 pools) this is 3 bins = 384 bp.
    pub fn halo_bins(&self) -> usize {
        self.conv_tower.iter().fold(self.stem.spoiled_after(0), |spoiled, stage| stage.spoiled_after(spoiled))
    }

    /// Stem and conv tower, `(b, 4, length)` → `(b, channels, length / bin_size)`, in one piece.
    fn conv_tower_whole(&self, x: Tensor<3>, mut trace: Option<&mut EnformerTrace>) -> Tensor<3> {
        let mut h = self.stem.forward(x);
        if let Some(t) = trace.as_deref_mut() {
            t.stem = Some(h.clone());
        }
        for stage in &self.conv_tower {
            h = stage.forward(h);
            if let Some(t) = trace.as_deref_mut() {
                t.conv_tower.push(h.clone());
            }
        }
        h
    }

    /// Stem and conv tower over tiles of `tile_bins` output bins, each computed from its input
    /// slice widened by [`halo_bins`](Self::halo_bins) on both sides (clipped at the sequence
    /// ends, where the zero padding is the untiled path's own), keeping only the tile's own bins.
    /// Tiles start on bin boundaries, so every attention pool pairs the same positions as the
    /// untiled path. Peak memory is that of one tile instead of the whole window.
    /// `halo` is [`halo_bins`](Self::halo_bins) except in the test that shows it is needed.
    pub fn conv_tower_tiled(&self, x: Tensor<3>, tile_bins: usize, halo: usize) -> Tensor<3> {
        let [b, c, len] = x.dims();
        let unit = self.bin_size;
        let bins = len / unit;
        if tile_bins == 0 || tile_bins >= bins {
            return self.conv_tower_whole(x, None);
        }
        let mut pieces = Vec::with_capacity(bins.div_ceil(tile_bins));
        let mut start = 0;
        while start < bins {
            let end = (start + tile_bins).min(bins);
            let lo = start.saturating_sub(halo);
            let hi = (end + halo).min(bins);
            let y = self.conv_tower_whole(x.clone().slice([0..b, 0..c, lo * unit..hi * unit]), None);
            let channels = y.dims()[1];
            pieces.push(y.slice([0..b, 0..channels, start - lo..end - lo]));
            start = end;
        }
        Tensor::cat(pieces, 2)
    }

    /// Smallest accepted DNA length and the step between accepted lengths.
    pub fn length_rule(&self) -> (usize, usize) {
        (self.target_length * self.bin_size, self.bin_size)
    }

    /// `(b, length, 4)` one-hot → `(b, bins, 2·dim)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.forward_traced(x, None)
    }

    /// As [`forward`](Self::forward), recording each stage's output in `trace`. With a trace the
    /// conv tower runs untiled (a stage's whole output is what the trace is for).
    pub fn forward_traced(&self, x: Tensor<3>, mut trace: Option<&mut EnformerTrace>) -> Tensor<3> {
        let x = x.swap_dims(1, 2);
        let h = match trace.as_deref_mut() {
            Some(t) => self.conv_tower_whole(x, Some(t)),
            None => {
                let tile = self.tile_bins_for(x.dims()[0]);
                self.conv_tower_tiled(x, tile, self.halo_bins())
            }
        };
        let mut h = h.swap_dims(1, 2);
        for block in &self.transformer {
            h = block.forward(h);
            if let Some(t) = trace.as_deref_mut() {
                t.transformer.push(h.clone());
            }
        }
        let [b, bins, d] = h.dims();
        let (start, end) = crop_range(bins, self.target_length);
        let h = h.slice([0..b, start..end, 0..d]);
        if let Some(t) = trace.as_deref_mut() {
            t.crop = Some(h.clone());
        }
        gelu_sigmoid(self.final_pointwise.forward(h.swap_dims(1, 2)).swap_dims(1, 2))
    }
}

/// enformer-pytorch `TargetLengthCrop`: `x[:, -trim:trim]`, `trim = (target − bins) // 2`.
pub fn crop_range(bins: usize, target: usize) -> (usize, usize) {
    let trim = (bins - target).div_ceil(2);
    if trim == 0 { (0, bins) } else { (trim, bins - trim) }
}

/// A DNA length the trunk cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnaLengthError {
    #[error("DNA length {len} is not a positive multiple of {bin} (2^enformer_num_downsamples)")]
    NotMultiple { len: usize, bin: usize },
    #[error("DNA length {len} gives {bins} bins, fewer than enformer_target_length {target} (need at least {min} bp)")]
    TooShort { len: usize, bins: usize, target: usize, min: usize },
}

/// A device-independent check of a DNA length against the trunk's geometry.
pub fn check_dna_length(len: usize, g: &EnformerGeometry) -> Result<(), DnaLengthError> {
    let bin = g.bin_size();
    if len == 0 || len % bin != 0 {
        return Err(DnaLengthError::NotMultiple { len, bin });
    }
    if len / bin < g.target_length {
        return Err(DnaLengthError::TooShort { len, bins: len / bin, target: g.target_length, min: g.target_length * bin });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_shares_one_rows_tile() {
        assert_eq!(batch_tile(128, 1), 128);
        assert_eq!(batch_tile(128, 3), 42);
        assert_eq!(batch_tile(128, 500), 1);
        assert_eq!(batch_tile(0, 4), 0);
    }
}
