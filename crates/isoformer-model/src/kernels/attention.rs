//! Scaled dot-product attention with a key-padding mask, and the softmax it ends in: the
//! reference implementation (plain burn ops) that the ESM-2 / NT-v2 self-attention
//! (`esm::EsmLayer`) and the fusion's cross-attention (`fusion::CrossAttention`) share.
//!
//! Where the `1/√head_dim` scaling happens differs upstream and changes the float32 result, so
//! the caller says which ([`LogitScale`]): transformers' ESM scales q before the rotary
//! embedding (models/esm/modeling_esm.py, `EsmSelfAttention.forward`); the fusion divides the
//! logits after the product (docs/REFERENCE.md, "Fusion and head").
//!
//! Padded keys get the logit [`MASKED`] (float32's minimum). transformers' ESM adds
//! `(1 − mask)·finfo(float32).min` and the fusion reference fills −1e30: whenever a row has at
//! least one valid key all three give exactly the same softmax (the padded terms' exponentials
//! are 0), and a row without valid keys attends uniformly in each.
//!
//! On wgpu (the `wgsl` feature) [`attention`] runs `shaders/flash_attention.wgsl` instead, which
//! never writes the scores: at NT-v2's 2,048 tokens and 16 heads they are 268 MB, over the 128
//! MiB a WebGPU storage binding is guaranteed. It reads the mask as a length per row, so a mask
//! whose padding is not at the end of its row takes the reference path. On the flex CPU backend
//! it calls burn's own attention op, which tiles large score matrices over the keys with an
//! online softmax; a row with no valid key takes the reference (the op does not attend
//! uniformly there).

use burn::tensor::{Bool, Device, Tensor, TensorData, activation};

/// The logit a padded key gets.
pub const MASKED: f32 = f32::MIN;

/// Softmax over the last dimension (burn subtracts the maximum first).
pub fn softmax_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activation::softmax(x, D - 1)
}

/// Which keys of each batch row are padding.
#[derive(Debug, Clone)]
pub struct KeyMask {
    /// `(b, keys)`, true = padding; `None` when no key is padding (nothing to mask).
    padded: Option<Tensor<2, Bool>>,
    /// Valid keys per row when every row's padding is at its end (what the kernel reads).
    lengths: Option<Vec<u32>>,
    /// Whether some row has no valid key (it attends uniformly: only the reference does that).
    empty_row: bool,
}

impl KeyMask {
    /// `padded` is `(b, keys)` row-major, true where the key is padding.
    pub fn new(padded: Vec<bool>, b: usize, keys: usize, device: &Device) -> Self {
        assert_eq!(padded.len(), b * keys, "key mask: {} flags for {b} rows of {keys} keys", padded.len());
        let lengths = (0..b)
            .map(|row| {
                let flags = &padded[row * keys..(row + 1) * keys];
                let len = flags.iter().take_while(|&&p| !p).count();
                flags[len..].iter().all(|&p| p).then_some(len as u32)
            })
            .collect();
        let empty_row = keys == 0 || padded.chunks(keys).any(|row| row.iter().all(|&p| p));
        if !padded.iter().any(|&p| p) {
            return Self { padded: None, lengths, empty_row };
        }
        Self { padded: Some(Tensor::from_data(TensorData::new(padded, [b, keys]), device)), lengths, empty_row }
    }

    /// Valid keys per row when every row has some and its padding is at its end: what the CPU
    /// kernels ([`super::cpu_attention::attend`]) take; `None` otherwise.
    pub fn prefix_lengths(&self) -> Option<&[u32]> {
        self.lengths.as_deref().filter(|_| !self.empty_row)
    }

    /// `valid[b][j]` false (or absent: rows shorter than `keys`) = key `j` of row `b` is padding.
    pub fn from_valid(valid: &[Vec<bool>], keys: usize, device: &Device) -> Self {
        let padded = valid.iter().flat_map(|row| (0..keys).map(|j| !row.get(j).copied().unwrap_or(false))).collect();
        Self::new(padded, valid.len(), keys, device)
    }
}

/// Where the `1/√head_dim` factor is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitScale {
    /// The caller already scaled q (transformers' ESM, before the rotary embedding).
    Prescaled,
    /// Divide `q·kᵀ` by `√head_dim` after the product (the fusion).
    DivideBySqrtHeadDim,
}

impl LogitScale {
    /// What the logits are divided by at head size `d`.
    fn divisor(self, d: usize) -> f64 {
        match self {
            LogitScale::Prescaled => 1.0,
            LogitScale::DivideBySqrtHeadDim => (d as f64).sqrt(),
        }
    }
}

/// `softmax(q·kᵀ (scaled), padded keys → MASKED) · v`.
///
/// `q (b, h, n, d)`, `k (b, h, m, d)`, `v (b, h, m, dv)` → `(b, h, n, dv)`. The WGSL kernel
/// where [`super::use_wgsl`] says so for the `(b, h, n, m)` scores the reference would make and
/// the mask is a length per row, else [`reference`].
pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &KeyMask, scale: LogitScale) -> Tensor<4> {
    #[cfg(feature = "wgsl")]
    if let Some(lengths) = &mask.lengths
        && super::use_wgsl(&q.device(), 4 * q.dims()[..3].iter().product::<usize>() * k.dims()[2])
    {
        use super::wgsl::WgslKernels;
        let divisor = scale.divisor(q.dims()[3]) as f32;
        let out = <burn::backend::Dispatch as WgslKernels>::flash_attention(
            q.into_dispatch(),
            k.into_dispatch(),
            v.into_dispatch(),
            lengths.clone(),
            divisor,
        );
        return Tensor::<4>::from_dispatch(out).swap_dims(1, 2);
    }
    if super::cpu::runs_on(&q.device()) && !mask.empty_row {
        if let Some(lengths) = mask.prefix_lengths() {
            let divisor = scale.divisor(q.dims()[3]);
            return super::cpu_attention::attention(q, k, v, lengths, divisor);
        }
        return flex(q, k, v, mask, scale);
    }
    unfused(q, k, v, mask, scale, super::matmul::matmul)
}


/// [`attention`] through `burn::tensor::module::attention` (every row has a valid key).
fn flex(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &KeyMask, scale: LogitScale) -> Tensor<4> {
    let [b, _, _, d] = q.dims();
    let m = k.dims()[2];
    let options = burn::tensor::ops::AttentionModuleOptions { scale: Some(1.0 / scale.divisor(d)), softcap: None, is_causal: false };
    let padded = mask.padded.clone().map(|p| p.reshape([b, 1, 1, m]));
    burn::tensor::module::attention(q, k, v, padded, None, options)
}

/// [`attention`] in plain burn ops: the scores as one `(b, h, n, m)` tensor, masked, softmax.
pub fn reference(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &KeyMask, scale: LogitScale) -> Tensor<4> {
    unfused(q, k, v, mask, scale, super::matmul::reference)
}

/// [`reference`] with its two matrix products by `mm` ([`super::matmul::matmul`] where the
/// attention kernel is not taken, so that CPU adapters get the register-blocked matmul).
fn unfused(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: &KeyMask, scale: LogitScale, mm: fn(Tensor<4>, Tensor<4>) -> Tensor<4>) -> Tensor<4> {
    let [b, h, n, d] = q.dims();
    let m = k.dims()[2];
    let logits = mm(q, k.swap_dims(2, 3));
    let logits = match scale {
        LogitScale::Prescaled => logits,
        LogitScale::DivideBySqrtHeadDim => logits.div_scalar(scale.divisor(d)),
    };
    let logits = match &mask.padded {
        Some(p) => logits.mask_fill(p.clone().reshape([b, 1, 1, m]).expand([b, h, n, m]), MASKED),
        None => logits,
    };
    mm(softmax_last(logits), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t4(v: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    fn read(t: Tensor<4>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
    }

    /// One head, one query `q = 1`, three keys `k = 0, 1, 2` with values 10, 20, 30; row 0 sees
    /// every key, row 1 has its last key padded (and a huge value there that must not leak).
    #[test]
    fn padded_keys_get_no_weight() {
        let device = Device::flex();
        let q = t4(vec![1.0, 1.0], [2, 1, 1, 1], &device);
        let k = t4(vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0], [2, 1, 3, 1], &device);
        let v = t4(vec![10.0, 20.0, 30.0, 10.0, 20.0, 1e6], [2, 1, 3, 1], &device);
        let mask = KeyMask::from_valid(&[vec![true; 3], vec![true, true]], 3, &device);
        let got = read(attention(q, k, v, &mask, LogitScale::Prescaled));
        let e = std::f64::consts::E;
        let row0 = (10.0 + 20.0 * e + 30.0 * e * e) / (1.0 + e + e * e);
        let row1 = (10.0 + 20.0 * e) / (1.0 + e);
        for (g, w) in got.iter().zip([row0, row1]) {
            assert!((*g as f64 - w).abs() < 1e-4, "got {got:?}, want [{row0}, {row1}]");
        }
    }

    /// A row whose keys are all padding attends uniformly (the mean of its values), as the
    /// upstream additive and fill masks both do.
    #[test]
    fn a_fully_padded_row_attends_uniformly() {
        let device = Device::flex();
        let q = t4(vec![1.0], [1, 1, 1, 1], &device);
        let k = t4(vec![0.0, 5.0], [1, 1, 2, 1], &device);
        let v = t4(vec![2.0, 4.0], [1, 1, 2, 1], &device);
        let mask = KeyMask::from_valid(&[vec![]], 2, &device);
        assert_eq!(read(attention(q, k, v, &mask, LogitScale::Prescaled)), vec![3.0]);
    }

    /// `DivideBySqrtHeadDim` divides the logits by √d: with d = 4 and `q·k = 2·(0, 1)` the
    /// weights are softmax(0, 1).
    #[test]
    fn logits_are_divided_by_the_root_of_the_head_size() {
        let device = Device::flex();
        let q = t4(vec![1.0; 4], [1, 1, 1, 4], &device);
        let k = t4(vec![0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5], [1, 1, 2, 4], &device);
        let v = t4(vec![0.0, 1.0], [1, 1, 2, 1], &device);
        let mask = KeyMask::from_valid(&[vec![true, true]], 2, &device);
        let got = read(attention(q, k, v, &mask, LogitScale::DivideBySqrtHeadDim))[0] as f64;
        let e = std::f64::consts::E;
        assert!((got - e / (1.0 + e)).abs() < 1e-6, "{got}");
    }
}
