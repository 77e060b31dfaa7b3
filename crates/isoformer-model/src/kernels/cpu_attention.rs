//! Attention on the CPU backend (flex) over each row's valid keys only.
//!
//! The key-padding masks of this model are prefixes (a row's padding is at its end), so instead
//! of masking scores this computes, per (batch row, head, block of [`QUERY_BLOCK`] queries), one
//! gemm for the scores against the row's valid keys, a softmax over them, and one gemm with the
//! matching values: padding keys cost nothing, no mask is read, and a block's scores stay in a
//! per-thread buffer (256 × keys, 2 MiB at NT-v2's 2,048). The softmax's exponential is a
//! polynomial ([`super::cpu::exp`]) compiled for AVX-512 and AVX2+FMA and chosen at run time
//! ([`softmax_rows`]).
//!
//! burn's own `attention` op on flex computed the same with a scalar masked softmax (17 % of an
//! ESM-2 8 × 256 forward in `perf`); benches/README.md has the figures.

use burn::tensor::{Tensor, TensorData};

use super::cpu::{exp, flex, values};

/// Queries per task: bounds the scores buffer and gives the threads work of even size.
pub const QUERY_BLOCK: usize = 256;

/// `q (b, h, n, d)`, `k (b, h, m, d)`, `v (b, h, m, dv)` on flex, `lengths[row]` valid keys
/// (a prefix; at least one), logits divided by `divisor` → `(b, h, n, dv)`.
pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, lengths: &[u32], divisor: f64) -> Tensor<4> {
    let device = q.device();
    let [b, h, n, d] = q.dims();
    let m = k.dims()[2];
    let dv = v.dims()[3];
    assert_eq!(lengths.len(), b, "one key length per batch row");
    assert!(lengths.iter().all(|&l| l >= 1 && l as usize <= m), "every row has 1..=m valid keys");
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

super::cpu::multiversion! {
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

#[cfg(test)]
mod tests {
    use super::*;

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
