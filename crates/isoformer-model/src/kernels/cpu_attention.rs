//! Attention on the CPU backend (flex) over each row's valid keys only.
//!
//! The key-padding masks of this model are prefixes (a row's padding is at its end), so instead
//! of masking scores this computes, per (batch row, head, block of [`QUERY_BLOCK`] queries), one
//! gemm for the scores against the row's valid keys, a softmax over them, and one gemm with the
//! matching values: padding keys cost nothing, no mask is read, and a block's scores stay in a
//! per-thread buffer (256 × keys, 2 MiB at NT-v2's 2,048). The softmax's exponential is a
//! polynomial compiled for AVX-512 and AVX2+FMA and chosen at run time ([`softmax_rows`]).
//!
//! burn's own `attention` op on flex computed the same with a scalar masked softmax (17 % of an
//! ESM-2 8 × 256 forward in `perf`); benches/README.md has the figures.

use std::borrow::Cow;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{Tensor, TensorData};

/// Queries per task: bounds the scores buffer and gives the threads work of even size.
pub const QUERY_BLOCK: usize = 256;

/// A tensor's values in row-major order (borrowed when the flex tensor is contiguous).
fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.clone().into_data().try_into_vec::<f32>().expect("an f32 tensor")),
    }
}

/// `q (b, h, n, d)`, `k (b, h, m, d)`, `v (b, h, m, dv)` on flex, `lengths[row]` valid keys
/// (a prefix; at least one), logits divided by `divisor` → `(b, h, n, dv)`.
pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, lengths: &[u32], divisor: f64) -> Tensor<4> {
    let device = q.device();
    let [b, h, n, d] = q.dims();
    let m = k.dims()[2];
    let dv = v.dims()[3];
    assert_eq!(lengths.len(), b, "one key length per batch row");
    assert!(lengths.iter().all(|&l| l >= 1 && l as usize <= m), "every row has 1..=m valid keys");
    let flex = |t: Tensor<4>| t.try_into_primitive::<Flex>().expect("a flex tensor");
    let (qt, kt, vt) = (flex(q), flex(k), flex(v));
    let (qs, ks, vs) = (values(&qt), values(&kt), values(&vt));
    let scale = (1.0 / divisor) as f32;
    let mut out = vec![0f32; b * h * n * dv];
    let mut tasks: Vec<(usize, usize, &mut [f32])> = Vec::new();
    if dv > 0 {
        for (bh, chunk) in out.chunks_mut(n * dv).enumerate() {
            for (block, o) in chunk.chunks_mut(QUERY_BLOCK * dv).enumerate() {
                tasks.push((bh, block, o));
            }
        }
    }
    let run = |scores: &mut Vec<f32>, (bh, block, o): (usize, usize, &mut [f32])| {
        let len = lengths[bh / h] as usize;
        let rows = o.len() / dv;
        let q0 = (bh * n + block * QUERY_BLOCK) * d;
        let q_rows = &qs[q0..q0 + rows * d];
        let keys = &ks[bh * m * d..bh * m * d + len * d];
        let vals = &vs[bh * m * dv..bh * m * dv + len * dv];
        scores.resize(rows * len, 0.0);
        // SAFETY: every pointer/stride pair addresses within its slice: scores rows × len
        // (row stride len), q_rows rows × d (row stride d), keys len × d read transposed
        // (element (c, j) at j·d + c), vals len × dv, o rows × dv.
        unsafe {
            gemm::gemm(
                rows, len, d,
                scores.as_mut_ptr(), 1, len as isize, false,
                q_rows.as_ptr(), 1, d as isize,
                keys.as_ptr(), d as isize, 1,
                0.0, scale, false, false, false, gemm::Parallelism::None,
            );
        }
        softmax_rows(scores, len);
        unsafe {
            gemm::gemm(
                rows, dv, len,
                o.as_mut_ptr(), 1, dv as isize, false,
                scores.as_ptr(), 1, len as isize,
                vals.as_ptr(), 1, dv as isize,
                0.0, 1.0, false, false, false, gemm::Parallelism::None,
            );
        }
    };
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        tasks.into_par_iter().for_each_init(Vec::new, run);
    }
    #[cfg(target_family = "wasm")]
    {
        let mut scores = Vec::new();
        for t in tasks {
            run(&mut scores, t);
        }
    }
    drop((qs, ks, vs));
    Tensor::from_data(TensorData::new(out, [b, h, n, dv]), &device)
}

super::cpu_simd::multiversion! {
    /// Softmax of each `len`-long row of `scores`, in place.
    pub fn softmax_rows(scores: &mut [f32], len: usize) => softmax_rows_plain;
}

/// Lanes of the max and sum reductions (independent accumulators, so they vectorise).
const LANES: usize = 16;

#[inline(always)]
fn softmax_rows_plain(scores: &mut [f32], len: usize) {
    for row in scores.chunks_exact_mut(len) {
        let mut lane_max = [f32::NEG_INFINITY; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for c in &mut chunks {
            for (m, &x) in lane_max.iter_mut().zip(c) {
                *m = m.max(x);
            }
        }
        let max = chunks.remainder().iter().fold(lane_max.iter().copied().fold(f32::NEG_INFINITY, f32::max), |a, &x| a.max(x));
        for x in row.iter_mut() {
            *x = exp(*x - max);
        }
        let mut lane_sum = [0f32; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for c in &mut chunks {
            for (s, &x) in lane_sum.iter_mut().zip(c) {
                *s += x;
            }
        }
        let sum = lane_sum.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
        let inv = 1.0 / sum;
        for x in row.iter_mut() {
            *x *= inv;
        }
    }
}

/// e^x for x ≤ 0 (a softmax's shifted logits; larger x is clamped at 88), relative error below
/// 2e-7: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its degree-6 Taylor-like minimax polynomial
/// (Cephes `expf`), 2^n put in the exponent bits. Branch-free, so loops over it vectorise.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Round x / ln 2 to the nearest integer by the 1.5 · 2^23 trick (no rounding instruction).
    const ROUND: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_2e_7_relative_of_std() {
        let mut worst = 0f32;
        for i in 0..=200_000 {
            let x = -87.0 + 88.0 * i as f32 / 200_000.0;
            let (got, want) = (exp(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 2e-7, "worst relative error {worst}");
    }

    /// Every compiled version the run-time dispatch can pick on this CPU gives the same rows.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn every_dispatched_version_agrees() {
        let len = 53;
        let rows: Vec<f32> = (0..4 * len).map(|i| ((i * 104_729) % 31) as f32 * 0.61 - 9.0).collect();
        let mut plain = rows.clone();
        softmax_rows_plain(&mut plain, len);
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            let mut v = rows.clone();
            unsafe { softmax_rows::avx2(&mut v, len) };
            assert!(v.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-7), "AVX2 version");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            let mut v = rows.clone();
            unsafe { softmax_rows::avx512(&mut v, len) };
            assert!(v.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-7), "AVX-512 version");
        }
    }

    #[test]
    fn softmax_rows_match_the_definition() {
        let len = 37;
        let mut rows: Vec<f32> = (0..3 * len).map(|i| ((i * 7919) % 23) as f32 * 0.37 - 4.0).collect();
        let want: Vec<f32> = rows
            .chunks(len)
            .flat_map(|r| {
                let m = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let s: f32 = r.iter().map(|x| (x - m).exp()).sum();
                r.iter().map(move |x| (x - m).exp() / s).collect::<Vec<_>>()
            })
            .collect();
        softmax_rows(&mut rows, len);
        for (g, w) in rows.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{g} against {w}");
        }
    }
}
