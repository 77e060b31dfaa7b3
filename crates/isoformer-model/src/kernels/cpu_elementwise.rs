//! Element-wise passes on the CPU backend (flex), each one pass where burn's ops made several,
//! compiled for AVX-512 and AVX2+FMA and chosen at run time:
//! * ESM-2's erf GELU `x · ½(1 + erf(x/√2))` with a rational erf (absolute error below 5e-7
//!   against the exact erf); burn's `gelu` on flex calls libm's scalar `erff` per value (5 % of
//!   an ESM-2 forward in `perf`);
//! * Enformer's BatchNorm (running statistics, as a per-channel scale and shift) followed by its
//!   sigmoid GELU `y · σ(1.702 y)`, with the polynomial exp of [`super::cpu::exp`]: one pass
//!   where burn's ops made five over each conv block's input;
//! * Enformer's attention pooling of adjacent positions (a softmax over each pair, product and
//!   sum).

use burn::tensor::{Tensor, TensorData};

use super::cpu::{exp, flex, values};

/// [`crate::nn::gelu_erf`] on a flex tensor without autodiff.
pub fn gelu_erf<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let shape = x.shape();
    let mut out = values(&flex(x)).into_owned();
    gelu_erf_in_place(&mut out);
    Tensor::from_data(TensorData::new(out, shape), &device)
}

/// Enformer's attention pooling of adjacent positions on flex: `pairs` `(b, n/2, 2, d)`
/// (positions 2j and 2j+1 of each channel) and their `logits` (the same shape) →
/// `(b, n/2, d)`: each channel's two values weighted by the softmax of its two logits, in one
/// pass (burn's softmax over a dimension of 2, product and sum made five over the stem's
/// 98,304 × 2 × 768 values).
pub fn attention_pool(pairs: Tensor<4>, logits: Tensor<4>) -> Tensor<3> {
    let device = pairs.device();
    let [b, half, two, d] = pairs.dims();
    assert_eq!(two, 2, "pairs of positions");
    assert_eq!(logits.dims(), [b, half, 2, d], "one logit per value");
    let (pt, lt) = (flex(pairs), flex(logits));
    let (p, l) = (values(&pt), values(&lt));
    let mut out = vec![0f32; b * half * d];
    if d > 0 {
        for ((o, pv), lv) in out.chunks_exact_mut(d).zip(p.chunks_exact(2 * d)).zip(l.chunks_exact(2 * d)) {
            pool_row(pv, lv, o);
        }
    }
    drop((p, l));
    Tensor::from_data(TensorData::new(out, [b, half, d]), &device)
}

super::cpu::multiversion! {
    fn pool_row(p: &[f32], l: &[f32], out: &mut [f32]) => pool_plain;
}

#[inline(always)]
fn pool_plain(p: &[f32], l: &[f32], out: &mut [f32]) {
    let d = out.len();
    let (p0, p1) = p.split_at(d);
    let (l0, l1) = l.split_at(d);
    for i in 0..d {
        let m = l0[i].max(l1[i]);
        let (e0, e1) = (exp(l0[i] - m), exp(l1[i] - m));
        out[i] = (p0[i] * e0 + p1[i] * e1) / (e0 + e1);
    }
}

/// `(b, c, len)` on flex: `g(x·scale[c] + shift[c])` with `g(y) = y · σ(1.702 y)`.
pub fn norm_gelu_sigmoid(x: Tensor<3>, scale: &[f32], shift: &[f32]) -> Tensor<3> {
    let device = x.device();
    let [_, c, len] = x.dims();
    assert!(scale.len() == c && shift.len() == c, "one scale and shift per channel");
    let t = flex(x);
    let values = values(&t);
    let mut out = vec![0f32; values.len()];
    if len > 0 {
        for (row, (o, v)) in out.chunks_exact_mut(len).zip(values.chunks_exact(len)).enumerate() {
            norm_gelu_row(v, o, scale[row % c], shift[row % c]);
        }
    }
    let shape = t.layout().shape().clone();
    drop(values);
    Tensor::from_data(TensorData::new(out, shape), &device)
}

super::cpu::multiversion! {
    fn norm_gelu_row(x: &[f32], out: &mut [f32], a: f32, b: f32) => norm_gelu_plain;
}

#[inline(always)]
fn norm_gelu_plain(x: &[f32], out: &mut [f32], a: f32, b: f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        let y = v * a + b;
        *o = y / (1.0 + exp(-1.702 * y));
    }
}

/// Rows per parallel task of the row-wise passes below.
const ROWS_PER_TASK: usize = 64;

/// Runs `f(first_row, input rows, output rows)` over blocks of rows, in parallel on native builds.
fn par_rows(x: &[f32], x_width: usize, out: &mut [f32], out_width: usize, f: impl Fn(usize, &[f32], &mut [f32]) + Sync + Send) {
    if x_width == 0 || out_width == 0 {
        return;
    }
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(ROWS_PER_TASK * out_width)
            .zip(x.par_chunks(ROWS_PER_TASK * x_width))
            .enumerate()
            .for_each(|(i, (o, x))| f(i * ROWS_PER_TASK, x, o));
    }
    #[cfg(target_family = "wasm")]
    for (i, (o, x)) in out.chunks_mut(ROWS_PER_TASK * out_width).zip(x.chunks(ROWS_PER_TASK * x_width)).enumerate() {
        f(i * ROWS_PER_TASK, x, o);
    }
}

/// `nn.LayerNorm` over rows of `weight.len()` values: `(x − mean) / √(var + eps) · weight + bias`
/// (biased variance), rows in parallel.
pub fn layer_norm_rows(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    assert_eq!(bias.len(), d, "one bias per weight");
    assert_eq!(x.len(), out.len(), "as many outputs as inputs");
    par_rows(x, d, out, d, |_, x, o| {
        for (x, o) in x.chunks_exact(d).zip(o.chunks_exact_mut(d)) {
            layer_norm_row(x, weight, bias, eps, o);
        }
    });
}

super::cpu::multiversion! {
    fn layer_norm_row(x: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) => layer_norm_plain;
}

/// Independent accumulators of the row sums (so they vectorise).
const LANES: usize = 16;

#[inline(always)]
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().map(|&v| f(v)).sum::<f32>()
}

#[inline(always)]
fn layer_norm_plain(x: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) {
    let d = x.len() as f32;
    let mean = lane_sum(x, |v| v) / d;
    let var = lane_sum(x, |v| (v - mean) * (v - mean)) / d;
    let inv = 1.0 / (var + eps).sqrt();
    for (((o, &v), &w), &b) in out.iter_mut().zip(x).zip(w).zip(b) {
        *o = (v - mean) * inv * w + b;
    }
}

/// transformers' rotary embedding on rows of `heads · head_dim` values (token-major: batch item,
/// position, head), in place: each head's `x·scale` (the query's `head_dim^-½`, or 1) becomes
/// `x·cos + rotate_half(x)·sin` with `rotate_half(x) = cat(−x₂, x₁)`; `cos` and `sin` are
/// `(len, head_dim)` and a row's position is its index modulo `len`.
pub fn rotary_rows(x: &mut [f32], width: usize, head_dim: usize, cos: &[f32], sin: &[f32], scale: f32) {
    assert!(head_dim % 2 == 0 && head_dim <= MAX_HEAD_DIM && width % head_dim.max(1) == 0, "whole heads of even size");
    assert_eq!(cos.len(), sin.len(), "cos and sin tables of one size");
    let len = cos.len() / head_dim.max(1);
    if width == 0 || len == 0 {
        return;
    }
    let mut blocks: Vec<(usize, &mut [f32])> = x.chunks_mut(ROWS_PER_TASK * width).enumerate().map(|(i, c)| (i * ROWS_PER_TASK, c)).collect();
    let run = |(first, block): &mut (usize, &mut [f32])| {
        for (r, row) in block.chunks_exact_mut(width).enumerate() {
            let t = (*first + r) % len;
            let (c, s) = (&cos[t * head_dim..(t + 1) * head_dim], &sin[t * head_dim..(t + 1) * head_dim]);
            for head in row.chunks_exact_mut(head_dim) {
                rotary_head(head, c, s, scale);
            }
        }
    };
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        blocks.par_iter_mut().for_each(run);
    }
    #[cfg(target_family = "wasm")]
    blocks.iter_mut().for_each(run);
}

/// The largest head size [`rotary_rows`] takes (a head is copied to the stack).
pub const MAX_HEAD_DIM: usize = 256;

super::cpu::multiversion! {
    fn rotary_head(x: &mut [f32], cos: &[f32], sin: &[f32], scale: f32) => rotary_plain;
}

#[inline(always)]
fn rotary_plain(x: &mut [f32], cos: &[f32], sin: &[f32], scale: f32) {
    let hd = x.len();
    let half = hd / 2;
    let mut t = [0f32; MAX_HEAD_DIM];
    for (t, &v) in t.iter_mut().zip(x.iter()) {
        *t = v * scale;
    }
    for i in 0..half {
        x[i] = t[i] * cos[i] + -t[i + half] * sin[i];
    }
    for i in half..hd {
        x[i] = t[i] * cos[i] + t[i - half] * sin[i];
    }
}

/// NT-v2's SwiGLU on rows of `2·i` values `[x₁, x₂]` → rows of `i`: `silu(x₁) · x₂` with
/// `silu(x) = x · σ(x)`, rows in parallel.
pub fn swiglu_rows(x: &[f32], out: &mut [f32], i: usize) {
    assert_eq!(x.len(), 2 * out.len(), "rows of 2i in, i out");
    par_rows(x, 2 * i, out, i, |_, x, o| {
        for (x, o) in x.chunks_exact(2 * i).zip(o.chunks_exact_mut(i)) {
            swiglu_row(x, o);
        }
    });
}

super::cpu::multiversion! {
    fn swiglu_row(x: &[f32], out: &mut [f32]) => swiglu_plain;
}

#[inline(always)]
fn swiglu_plain(x: &[f32], out: &mut [f32]) {
    let (x1, x2) = x.split_at(out.len());
    for ((o, &a), &g) in out.iter_mut().zip(x1).zip(x2) {
        *o = a / (1.0 + exp(-a)) * g;
    }
}

/// [`crate::nn::gelu_erf`] in place on a buffer, in parallel.
pub fn gelu_erf_in_place(x: &mut [f32]) {
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        x.par_chunks_mut(ROWS_PER_TASK * 1024).for_each(|c| gelu_slice_in_place(c));
    }
    #[cfg(target_family = "wasm")]
    gelu_slice_in_place(x);
}

super::cpu::multiversion! {
    fn gelu_slice_in_place(x: &mut [f32]) => gelu_in_place_plain;
}

#[inline(always)]
fn gelu_in_place_plain(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = *v * 0.5 * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf(x) as a ratio of odd and even polynomials in x over [−4, 4] (x clamped there; erf(4)
/// rounds to 1 in f32). Branch-free, so loops over it vectorise.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_6e-3;
    p = x2 * p + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_3e-3;
    q = x2 * q + -1.426_473_9e-2;
    p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_5e_7_of_libm() {
        let mut worst = 0f64;
        for i in 0..=400_000 {
            let x = -8.0 + 16.0 * i as f64 / 400_000.0;
            worst = worst.max((erf(x as f32) as f64 - libm::erf(x)).abs());
        }
        assert!(worst < 5e-7, "worst absolute error {worst:e}");
    }

    #[test]
    fn pooling_weighs_each_pair_by_the_softmax_of_its_logits() {
        let p = [1.0f32, -2.0, 3.0, 5.0, 0.5, -1.0];
        let l = [0.3f32, -4.0, 20.0, -0.7, 1.0, 20.0];
        let mut out = [0f32; 3];
        pool_row(&p, &l, &mut out);
        for i in 0..3 {
            let (e0, e1) = ((l[i] as f64).exp(), (l[3 + i] as f64).exp());
            let want = (p[i] as f64 * e0 + p[3 + i] as f64 * e1) / (e0 + e1);
            assert!((out[i] as f64 - want).abs() < 1e-6, "{} against {want}", out[i]);
        }
    }

    #[test]
    fn norm_gelu_matches_the_definition() {
        let x: Vec<f32> = (0..600).map(|i| (i as f32 - 300.0) / 20.0).collect();
        let mut out = vec![0f32; x.len()];
        norm_gelu_row(&x, &mut out, 0.7, -0.3);
        for (&v, &g) in x.iter().zip(&out) {
            let y = v as f64 * 0.7 - 0.3;
            let want = y / (1.0 + (-1.702 * y).exp());
            assert!((g as f64 - want).abs() < 1e-5 * (1.0 + want.abs()), "g({v}) = {g}, want {want}");
        }
    }

    /// Every compiled version the run-time dispatch can pick on this CPU gives the same values.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn every_dispatched_version_agrees() {
        let x: Vec<f32> = (0..777).map(|i| (i as f32 - 388.0) / 37.0).collect();
        let (mut plain, mut v) = (x.clone(), x.clone());
        gelu_in_place_plain(&mut plain);
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-6 * (1.0 + q.abs()));
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            unsafe { gelu_slice_in_place::avx2(&mut v) };
            assert!(close(&v, &plain), "AVX2 GELU");
            let mut n = vec![0f32; x.len()];
            norm_gelu_plain(&x, &mut plain, 0.9, 0.1);
            unsafe { norm_gelu_row::avx2(&x, &mut n, 0.9, 0.1) };
            assert!(close(&n, &plain), "AVX2 BatchNorm + GELU");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            let (mut plain, mut v) = (x.clone(), x.clone());
            gelu_in_place_plain(&mut plain);
            unsafe { gelu_slice_in_place::avx512(&mut v) };
            assert!(close(&v, &plain), "AVX-512 GELU");
        }
    }

    /// The encoder layers' row kernels: every compiled version this CPU can run gives the plain
    /// loop's values.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn every_dispatched_row_kernel_agrees() {
        let x: Vec<f32> = (0..64).map(|i| ((i * 7919) % 41) as f32 / 7.0 - 3.0).collect();
        let w: Vec<f32> = (0..64).map(|i| 0.5 + i as f32 / 50.0).collect();
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-6 * (1.0 + q.abs()));
        let mut plain = [vec![0f32; 64], x.clone(), vec![0f32; 32]];
        layer_norm_plain(&x, &w, &x, 1e-5, &mut plain[0]);
        rotary_plain(&mut plain[1], &w, &x, 0.25);
        swiglu_plain(&x, &mut plain[2]);
        let mut versions: Vec<(&str, [Vec<f32>; 3])> = Vec::new();
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            let mut v = [vec![0f32; 64], x.clone(), vec![0f32; 32]];
            unsafe {
                layer_norm_row::avx2(&x, &w, &x, 1e-5, &mut v[0]);
                rotary_head::avx2(&mut v[1], &w, &x, 0.25);
                swiglu_row::avx2(&x, &mut v[2]);
            }
            versions.push(("AVX2", v));
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            let mut v = [vec![0f32; 64], x.clone(), vec![0f32; 32]];
            unsafe {
                layer_norm_row::avx512(&x, &w, &x, 1e-5, &mut v[0]);
                rotary_head::avx512(&mut v[1], &w, &x, 0.25);
                swiglu_row::avx512(&x, &mut v[2]);
            }
            versions.push(("AVX-512", v));
        }
        for (name, v) in versions {
            for (kernel, (got, want)) in ["LayerNorm", "rotary", "SwiGLU"].iter().zip(v.iter().zip(&plain)) {
                assert!(close(got, want), "{name} {kernel}");
            }
        }
    }

    #[test]
    fn layer_norm_rotary_and_swiglu_match_their_definitions() {
        let (rows, d) = (70, 24);
        let x: Vec<f32> = (0..rows * d).map(|i| ((i * 104_729) % 53) as f32 / 9.0 - 2.5).collect();
        let w: Vec<f32> = (0..d).map(|i| 0.8 + i as f32 / 40.0).collect();
        let b: Vec<f32> = (0..d).map(|i| i as f32 / 30.0 - 0.4).collect();
        let mut out = vec![0f32; rows * d];
        layer_norm_rows(&x, &w, &b, 1e-5, &mut out);
        for (r, o) in x.chunks(d).zip(out.chunks(d)) {
            let mean = r.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
            let var = r.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / d as f64;
            for i in 0..d {
                let want = (r[i] as f64 - mean) / (var + 1e-5).sqrt() * w[i] as f64 + b[i] as f64;
                assert!((o[i] as f64 - want).abs() < 1e-5, "LayerNorm {} against {want}", o[i]);
            }
        }

        // Two heads of 12, positions cycling through a table of 5.
        let (hd, len) = (12, 5);
        let cos: Vec<f32> = (0..len * hd).map(|i| (i as f32 * 0.3).cos()).collect();
        let sin: Vec<f32> = (0..len * hd).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut rot = x.clone();
        rotary_rows(&mut rot, d, hd, &cos, &sin, 0.5);
        for (row, (r, o)) in x.chunks(d).zip(rot.chunks(d)).enumerate() {
            let t = row % len;
            for (head, o) in r.chunks(hd).zip(o.chunks(hd)) {
                for c in 0..hd {
                    let rotated = if c < hd / 2 { -head[c + hd / 2] } else { head[c - hd / 2] };
                    let want = head[c] * 0.5 * cos[t * hd + c] + rotated * 0.5 * sin[t * hd + c];
                    assert!((o[c] - want).abs() < 1e-6, "rotary {} against {want}", o[c]);
                }
            }
        }

        let mut gated = vec![0f32; rows * d / 2];
        swiglu_rows(&x, &mut gated, d / 2);
        for (r, o) in x.chunks(d).zip(gated.chunks(d / 2)) {
            for i in 0..d / 2 {
                let a = r[i] as f64;
                let want = a / (1.0 + (-a).exp()) * r[d / 2 + i] as f64;
                assert!((o[i] as f64 - want).abs() < 1e-5, "SwiGLU {} against {want}", o[i]);
            }
        }
    }

    #[test]
    fn gelu_matches_the_definition() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) / 50.0).collect();
        let mut out = x.clone();
        gelu_erf_in_place(&mut out);
        for (&v, &g) in x.iter().zip(&out) {
            let want = v as f64 * 0.5 * (1.0 + libm::erf(v as f64 / std::f64::consts::SQRT_2));
            assert!((g as f64 - want).abs() < 1e-5, "gelu({v}) = {g}, want {want}");
        }
    }
}
