//! Enformer's attention with Transformer-XL relative position logits (enformer-pytorch
//! `Attention.forward`): content logits `(q + u)·kᵀ` plus position logits `(q + w)·rᵀ` after
//! the relative shift, softmax, times v.
//!
//! The reference builds the position logits over all 2n − 1 distances, `(b, h, n, 2n − 1)`
//! (151 MB at the official 1,536 bins and 8 heads, over WebGPU's 128 MiB per binding), and
//! shifts them with enformer-pytorch's pad/reshape/slice. On wgpu (the `wgsl` feature)
//! `shaders/relative_attention.wgsl` indexes the distance row `j − i + n − 1` directly instead
//! and keeps an online softmax, so neither that tensor nor the `(n, n)` scores exist.

use burn::tensor::Tensor;

use super::attention::softmax_last;

/// `q (b, h, n, d)` already scaled by `1/√d`, `k (b, h, n, d)`, `v (b, h, n, dv)`,
/// `rel_k (h, 2n − 1, d)` (the projected positional features, rows for distances −(n−1)..(n−1)),
/// `content_bias` and `pos_bias` `(1, h, 1, d)` → `(b, h, n, dv)`.
pub fn relative_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    rel_k: Tensor<3>,
    content_bias: Tensor<4>,
    pos_bias: Tensor<4>,
) -> Tensor<4> {
    #[cfg(feature = "wgsl")]
    if super::use_wgsl(&q.device(), {
        let [b, h, n, _] = q.dims();
        4 * b * h * n * (2 * n - 1)
    }) {
        use super::wgsl::WgslKernels;
        let [_, h, _, d] = q.dims();
        let biases = Tensor::cat(vec![content_bias.reshape([1, h, d]), pos_bias.reshape([1, h, d])], 0);
        let out = <burn::backend::Dispatch as WgslKernels>::relative_attention(
            q.into_dispatch(),
            k.into_dispatch(),
            v.into_dispatch(),
            rel_k.into_dispatch(),
            biases.into_dispatch(),
        );
        return Tensor::<4>::from_dispatch(out).swap_dims(1, 2);
    }
    if super::cpu::runs_on(&q.device()) {
        return super::cpu_attention::relative_attention(q, k, v, rel_k, content_bias, pos_bias);
    }
    unfused(q, k, v, rel_k, content_bias, pos_bias, super::matmul::matmul)
}

/// [`relative_attention`] in plain burn ops, as enformer-pytorch computes it.
pub fn reference(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    rel_k: Tensor<3>,
    content_bias: Tensor<4>,
    pos_bias: Tensor<4>,
) -> Tensor<4> {
    unfused(q, k, v, rel_k, content_bias, pos_bias, super::matmul::reference)
}

/// [`reference`] with its matrix products by `mm` ([`super::matmul::matmul`] where the kernel is
/// not taken, so that CPU adapters get the register-blocked matmul).
fn unfused(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    rel_k: Tensor<3>,
    content_bias: Tensor<4>,
    pos_bias: Tensor<4>,
    mm: fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
) -> Tensor<4> {
    let content = mm(q.clone() + content_bias, k.swap_dims(2, 3));
    let rel = mm(q + pos_bias, rel_k.unsqueeze::<4>().swap_dims(2, 3)); // (b, h, n, 2n-1)
    let attn = softmax_last(content + relative_shift(rel));
    mm(attn, v)
}

/// enformer-pytorch `relative_shift`: `(b, h, n, 2n−1)` logits over distances −(n−1)..(n−1) →
/// `(b, h, n, n)` with entry `[i, j]` for distance `j − i`. Same pad/reshape/slice sequence.
pub fn relative_shift(x: Tensor<4>) -> Tensor<4> {
    let [b, h, t1, t2] = x.dims();
    let pad = Tensor::<4>::zeros([b, h, t1, 1], &x.device());
    let x = Tensor::cat(vec![pad, x], 3); // (b, h, t1, t2+1)
    let t2p = t2 + 1;
    let x = x.reshape([b, h, t2p, t1]);
    let x = x.slice([0..b, 0..h, 1..t2p, 0..t1]);
    let x = x.reshape([b, h, t1, t2p - 1]);
    x.slice([0..b, 0..h, 0..t1, 0..t2p.div_ceil(2)])
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    /// Entry `[i, j]` of the shifted logits is the column for distance `j − i`, i.e. column
    /// `j − i + n − 1` of row `i`.
    #[test]
    fn the_shift_picks_the_distance_column() {
        let device = Device::flex();
        let n = 4;
        let cols = 2 * n - 1;
        let values: Vec<f32> = (0..n * cols).map(|x| x as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 1, n, cols]), &device);
        let got = relative_shift(x).into_data().try_to_vec::<f32>().expect("f32");
        for i in 0..n {
            for j in 0..n {
                assert_eq!(got[i * n + j], (i * cols + j + n - 1 - i) as f32, "[{i}, {j}]");
            }
        }
    }
}
