//! 8-bit matrix products on the CPU backend (flex, native only) for models whose weights are int8
//! per output channel (`isoformer quantize --scheme int8`), switched on by [`super::set_int8_compute`].
//!
//! Such a model's weights load as f32 values that are exactly `q · scale` (see [`crate::quant`]).
//! This module finds that out once per weight ([`Int8Weight::exact`]: every value of every output
//! channel within 1e-6 of the channel's maximum of `q · max|w| / 127`, q an integer in −127..=127),
//! keeps the integers packed for rten-gemm's kernels (a cache by parameter id: the model itself is
//! untouched), and on every call:
//! * quantizes the activations to u8 with a zero point, per row for Linear layers (each token
//!   its own range) and per batch item for convolutions (an im2col row mixes positions);
//! * runs rten-gemm's u8 × i8 → i32 GEMM, which picks AVX-512 VNNI, AVX-512, AVX2 (or the plain
//!   kernel) at run time;
//! * scales the i32 sums back to f32 with the bias added in the same pass.
//!
//! Weights that are not exactly int8 (fp32 models, and the layers `quantize` keeps f32: the stem's
//! first convolution, the head, `to_rel_k`) take the f32 path. On x86 CPUs without VNNI the AVX2
//! kernel's `vpmaddubsw` adds two u8 × i8 products in 16 bits and would saturate: activations then
//! use 7 bits (0..=127), as ONNX Runtime does.
//!
//! The results differ from the f32 path by the activations' rounding (|Δ| about 1 % of a layer's
//! output range): the accuracy gate (`isoformer eval --against`) is how to judge it for a model.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex, OnceLock};

use burn::module::{Param, ParamId};
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;
use rten_gemm::{GemmExecutor, GemmInputA, GemmInputB, GemmUninitOptions, PackedBMatrix};
use rten_tensor::NdTensorView;

use super::cpu::{flex, nearest, values};

thread_local! {
    /// The u8 × i8 → i32 GEMM (rten-gemm's executor is not `Send`, so one per calling thread;
    /// every one picks the same kernel for this CPU, so weights packed by one suit all).
    static EXEC: GemmExecutor<u8, i8, i32> = GemmExecutor::default();
}

fn with_executor<R>(f: impl FnOnce(&GemmExecutor<u8, i8, i32>) -> R) -> R {
    EXEC.with(f)
}

/// The name of the int8 kernel this CPU runs (e.g. `x86_64-u8i8i32-avx512`), for reports.
pub fn kernel_name() -> String {
    with_executor(|e| e.kernel_name().to_string())
}

/// The largest activation level: 255, or 127 where the kernel could saturate (AVX2 without VNNI).
fn levels() -> f32 {
    if with_executor(|e| e.may_saturate()) { 127.0 } else { 255.0 }
}

/// A weight matrix as rten-gemm's packed `k × n` i8 "B" input, with a scale per output column.
pub struct Int8Weight {
    packed: PackedBMatrix<i8>,
    scale: Vec<f32>,
    /// Each column's sum of its integers (the zero points' correction).
    sums: Vec<i32>,
    k: usize,
    n: usize,
}

impl Int8Weight {
    /// The int8 form of an `n × k` weight given out-channel-major (`w[j·k + i]`, PyTorch's layout),
    /// or `None` when some channel's values are not exactly integers times one scale.
    pub fn exact(w: &[f32], n: usize, k: usize) -> Option<Int8Weight> {
        assert_eq!(w.len(), n * k, "an n × k weight");
        let mut q = vec![0i8; n * k];
        let mut scale = vec![0f32; n];
        if k > 0 {
            let exact = q.par_chunks_mut(k).zip(scale.par_iter_mut()).zip(w.par_chunks(k)).all(|((qr, s), row)| exact_row(row, qr, s));
            if !exact {
                return None;
            }
        }
        let view = NdTensorView::from_data([n, k], &q[..]);
        let packed = with_executor(|e| e.prepack_b(view.transposed()));
        let sums = q.chunks_exact(k.max(1)).map(|c| c.iter().map(|&v| v as i32).sum()).collect();
        Some(Int8Weight { packed, scale, sums, k, n })
    }
}

/// One channel: its integers and scale, or false when its values are not integers times
/// `max |w| / 127` (within 1e-6 of the maximum).
fn exact_row(row: &[f32], q: &mut [i8], scale: &mut f32) -> bool {
    let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
    if !max.is_finite() {
        return false;
    }
    if max == 0.0 {
        return true;
    }
    let s = max / 127.0;
    let tol = max * 1e-6;
    let mut ok = true;
    for (qi, &v) in q.iter_mut().zip(row) {
        let r = nearest(v / s).0;
        ok &= (r * s - v).abs() <= tol;
        *qi = r.clamp(-127.0, 127.0) as i8;
    }
    *scale = s;
    ok
}

/// Int8 forms by parameter id (`None`: the weight is not int8, take the f32 path).
type Cache = Mutex<HashMap<ParamId, Option<Arc<Int8Weight>>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The cached int8 form of `param`, made on first use from its values (`n × k`, out-major, after
/// `layout`, which turns the parameter's values into that order).
fn weight_for<const D: usize>(param: &Param<Tensor<D>>, n: usize, k: usize, out_major: impl FnOnce(Vec<f32>) -> Vec<f32>) -> Option<Arc<Int8Weight>> {
    let id = param.id;
    if let Some(hit) = cache().lock().expect("int8 cache").get(&id) {
        return hit.clone();
    }
    let raw = values(&flex(param.val())).into_owned();
    let made = Int8Weight::exact(&out_major(raw), n, k).map(Arc::new);
    cache().lock().expect("int8 cache").insert(id, made.clone());
    made
}

/// Finds and packs every int8 weight of `module` now (matrices `[in, out]` as Linear layers hold
/// them, convolutions `[out, in, k]`) rather than on each one's first use, so that the first
/// forward pass runs at full speed: the edges call it after loading when int8 compute is on.
/// Returns how many weights are int8.
pub fn prepare<M: burn::module::Module>(module: &M) -> usize {
    struct Visitor(usize);
    impl burn::module::ModuleVisitor for Visitor {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let dims = param.dims();
            if dims.iter().product::<usize>() < crate::quant::MIN_QUANTIZED || !super::cpu::runs_on(&param.val().device()) {
                return;
            }
            let made = match D {
                2 => weight_for(param, dims[1], dims[0], |v| transpose(&v, dims[0], dims[1])),
                3 => weight_for(param, dims[0], dims[1] * dims[2], |v| tap_major(&v, dims[0], dims[1], dims[2])),
                _ => None,
            };
            self.0 += made.is_some() as usize;
        }
    }
    let mut v = Visitor(0);
    module.visit(&mut v);
    v.0
}

/// Lets go of the f32 values of every weight [`prepare`] packed: each becomes a stand-in of the
/// same shape and parameter id holding a single zero (a broadcast view), so the module keeps its
/// shapes (Enformer reads kernel sizes from them) while the packed integers are the only copy of
/// those weights in memory (a quarter of the f32 bytes). For a process that computes in int8 from
/// then on: the f32 path must not run on the returned module's int8 layers.
pub fn release<M: burn::module::Module>(module: M) -> M {
    struct Mapper;
    impl burn::module::ModuleMapper for Mapper {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let packed = cache().lock().expect("int8 cache").get(&param.id).is_some_and(Option::is_some);
            if !packed {
                return param;
            }
            param.map(|t| {
                let (dims, device) = (t.dims(), t.device());
                Tensor::<D>::zeros([1; D], &device).expand(dims)
            })
        }
    }
    module.map(&mut Mapper)
}

/// `x (…, in) · weight [in, out] (+ bias)` in int8, or the input back when the weight is not int8.
pub fn product<const D: usize>(weight: &Param<Tensor<2>>, bias: Option<&Param<Tensor<1>>>, x: Tensor<D>) -> Result<Tensor<D>, Tensor<D>> {
    let [d_in, d_out] = weight.dims();
    let Some(w) = weight_for(weight, d_out, d_in, |v| transpose(&v, d_in, d_out)) else {
        return Err(x);
    };
    let device = x.device();
    let mut dims = x.dims();
    let rows = dims[..D - 1].iter().product::<usize>();
    let bias = bias.map(|b| values(&flex(b.val())).into_owned());
    let xt = flex(x);
    let xv = values(&xt);
    let mut out = vec![0f32; rows * d_out];
    gemm_rows(&xv, rows, &w, bias.as_deref(), &mut out);
    drop(xv);
    dims[D - 1] = d_out;
    Ok(Tensor::from_data(TensorData::new(out, dims), &device))
}

/// `outs[i] = x · layers[i].weight + bias` for `rows` rows of `x` (`rows × in`) in int8, the rows
/// quantized once for all the layers (the q, k and v of an attention read the same rows): false
/// (and `outs` untouched) when some layer's weight is not int8.
pub fn linear_rows(layers: &[&Linear], x: &[f32], rows: usize, outs: &mut [&mut [f32]]) -> bool {
    assert_eq!(layers.len(), outs.len(), "an output per layer");
    let weights: Option<Vec<Arc<Int8Weight>>> = layers
        .iter()
        .map(|layer| {
            let [d_in, d_out] = layer.weight.dims();
            weight_for(&layer.weight, d_out, d_in, |v| transpose(&v, d_in, d_out))
        })
        .collect();
    let Some(weights) = weights else {
        return false;
    };
    let Some(first) = weights.first() else {
        return true;
    };
    let quantized = Rows::quantize(x, rows, first.k);
    for ((layer, w), out) in layers.iter().zip(&weights).zip(outs.iter_mut()) {
        let bias = layer.bias.as_ref().map(|b| flex(b.val()));
        quantized.gemm(w, bias.as_ref().map(values).as_deref(), out);
    }
    true
}

/// [`super::conv1d`] (zero padding `k / 2`, stride 1) in int8, or `None` when the weight is not
/// int8. Activations are quantized per batch item, once, into a position-major copy with `k / 2`
/// rows of zero (the zero point) at each end; the im2col matrix (a row per output position: the
/// `k` input positions around it, all channels) is then a view of that copy whose rows overlap,
/// one position apart, so it is never written out. The weight is packed in the same order
/// (tap-major, channel-minor).
pub fn conv1d(x: Tensor<3>, weight: &Param<Tensor<3>>, bias: Tensor<1>) -> Result<Tensor<3>, Tensor<3>> {
    let [d_out, d_in, kk] = weight.dims();
    let Some(w) = weight_for(weight, d_out, d_in * kk, |v| tap_major(&v, d_out, d_in, kk)) else {
        return Err(x);
    };
    let device = x.device();
    let [b, c, len] = x.dims();
    assert_eq!(c, d_in, "conv1d input channels");
    let bias = values(&flex(bias)).into_owned();
    let xt = flex(x);
    let xv = values(&xt);
    let mut out = vec![0f32; b * d_out * len];
    let pad = kk / 2;
    let top = levels();
    let mut padded = vec![0u8; (len + 2 * pad) * d_in];
    let mut qx = vec![0u8; d_in * len];
    let mut rows_f32 = vec![0f32; len * d_out];
    let mut acc = vec![MaybeUninit::<i32>::uninit(); len * d_out];
    for (item, y) in xv.chunks_exact(d_in * len).zip(out.chunks_exact_mut(d_out * len)) {
        let (s, zp) = range_params_parallel(item, top);
        let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
        padded[..pad * d_in].fill(zp);
        padded[(pad + len) * d_in..].fill(zp);
        // Quantize each channel's row (vectorised), then transpose the bytes to (position, channel).
        qx.par_chunks_mut(len).zip(item.par_chunks(len)).for_each(|(q, xr)| quantize_row(xr, inv, zp, top, q));
        transpose_blocks(&qx, d_in, len, &mut padded[pad * d_in..(pad + len) * d_in]);
        let a = NdTensorView::from_slice_with_strides([len, d_in * kk], &padded[..], [d_in, 1]).expect("overlapping im2col view");
        let sums = raw_gemm(a, &w, &mut acc);
        // Back to f32 per position (vectorised, bias added), then transposed to (channel, position).
        rows_f32.par_chunks_mut(d_out).zip(sums.par_chunks(d_out)).for_each(|(o, a)| dequantize_row(a, s, zp as i32, &w.scale, &w.sums, Some(&bias), o));
        transpose_blocks(&rows_f32, len, d_out, y);
    }
    drop(xv);
    Ok(Tensor::from_data(TensorData::new(out, [b, d_out, len]), &device))
}

/// `src` (`rows × cols`, row-major) → `dst` (`cols × rows`), in square blocks (both sides stay
/// in cache), blocks of destination rows in parallel.
fn transpose_blocks<T: Copy + Send + Sync>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    const B: usize = 32;
    assert_eq!(src.len(), rows * cols);
    assert_eq!(dst.len(), rows * cols);
    if rows == 0 || cols == 0 {
        return;
    }
    dst.par_chunks_mut(B * rows).enumerate().for_each(|(cb, out)| {
        let c0 = cb * B;
        let nc = out.len() / rows;
        for r0 in (0..rows).step_by(B) {
            let nr = B.min(rows - r0);
            for c in 0..nc {
                let o = &mut out[c * rows + r0..c * rows + r0 + nr];
                for (r, v) in o.iter_mut().enumerate() {
                    *v = src[(r0 + r) * cols + c0 + c];
                }
            }
        }
    });
}

/// A convolution weight `[out, in, k]` → `[out, k, in]` (tap-major within each output channel).
fn tap_major(v: &[f32], d_out: usize, d_in: usize, kk: usize) -> Vec<f32> {
    let mut t = vec![0f32; v.len()];
    for o in 0..d_out {
        for ch in 0..d_in {
            for tap in 0..kk {
                t[o * d_in * kk + tap * d_in + ch] = v[o * d_in * kk + ch * kk + tap];
            }
        }
    }
    t
}

/// `out (rows × n) = dequant(quant(x) · w) + bias`, activations quantized per row.
fn gemm_rows(x: &[f32], rows: usize, w: &Int8Weight, bias: Option<&[f32]>, out: &mut [f32]) {
    Rows::quantize(x, rows, w.k).gemm(w, bias, out);
}

/// Activation rows quantized to u8, each with its scale and zero point.
struct Rows {
    a: Vec<u8>,
    scale: Vec<f32>,
    zps: Vec<u8>,
    rows: usize,
    k: usize,
}

impl Rows {
    /// `x` (`rows × k`) quantized per row.
    fn quantize(x: &[f32], rows: usize, k: usize) -> Rows {
        let top = levels();
        let mut a = vec![0u8; rows * k];
        let mut scale = vec![0f32; rows];
        let mut zps = vec![0u8; rows];
        if k > 0 {
            a.par_chunks_mut(k).zip(scale.par_iter_mut()).zip(zps.par_iter_mut()).zip(x.par_chunks(k)).for_each(|(((qa, s), zp), xr)| {
                let (sc, z) = range_params(xr, top);
                let inv = if sc > 0.0 { 1.0 / sc } else { 0.0 };
                quantize_row(xr, inv, z, top, qa);
                *s = sc;
                *zp = z;
            });
        }
        Rows { a, scale, zps, rows, k }
    }

    /// `out (rows × n) = dequant(self · w) + bias`.
    fn gemm(&self, w: &Int8Weight, bias: Option<&[f32]>, out: &mut [f32]) {
        assert_eq!(self.k, w.k, "activation width = weight rows");
        let n = w.n;
        let mut acc = vec![MaybeUninit::<i32>::uninit(); self.rows * n];
        let av = NdTensorView::from_data([self.rows, self.k], &self.a[..]);
        let sums = raw_gemm(av, w, &mut acc);
        out.par_chunks_mut(n).zip(sums.par_chunks(n)).zip(self.scale.par_iter().zip(self.zps.par_iter())).for_each(|((o, acc), (&s, &zp))| {
            dequantize_row(acc, s, zp as i32, &w.scale, &w.sums, bias, o);
        });
    }
}

/// `acc = a · w` over the raw integers (zero points 0). The activations' zero points are taken
/// out afterwards (`zp · Σ_i w[i, j]`): rten-gemm 0.27's own per-row LHS zero points gave wrong
/// sums for some shapes (rows past the first tile at k = 96; kept as a test case below).
fn raw_gemm<'a>(a: rten_tensor::NdTensorView<'_, u8, 2>, w: &Int8Weight, acc: &'a mut [MaybeUninit<i32>]) -> &'a mut [i32] {
    with_executor(|e| e.gemm_uninit(acc, GemmInputA::Unpacked(a), GemmInputB::Packed(&w.packed), GemmUninitOptions::default())).expect("int8 GEMM shapes")
}

/// Scale and zero point mapping `[min(x, 0), max(x, 0)]` onto `0..=top` (zero exact).
fn range_params(x: &[f32], top: f32) -> (f32, u8) {
    grid(range(x), top)
}

/// [`range_params`] over blocks in parallel, for a convolution's whole item.
fn range_params_parallel(x: &[f32], top: f32) -> (f32, u8) {
    grid(x.par_chunks(1 << 16).map(range).reduce(|| (0.0, 0.0), |a, b| (a.0.min(b.0), a.1.max(b.1))), top)
}

/// Scale and zero point mapping `[lo, hi]` (lo ≤ 0 ≤ hi) onto `0..=top`.
fn grid((lo, hi): (f32, f32), top: f32) -> (f32, u8) {
    if hi - lo <= 0.0 || !(hi - lo).is_finite() {
        return (0.0, 0);
    }
    let s = (hi - lo) / top;
    let zp = (-lo / s).round().clamp(0.0, top);
    (s, zp as u8)
}

super::cpu::multiversion! {
    /// `(min(x, 0), max(x, 0))`, in independent lanes (so it vectorises).
    fn range(x: &[f32]) -> (f32, f32) => range_plain;
}

#[inline(always)]
fn range_plain(x: &[f32]) -> (f32, f32) {
    const LANES: usize = 16;
    let (mut lo, mut hi) = ([0f32; LANES], [0f32; LANES]);
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        // Comparisons rather than f32::min/max, whose NaN rules kept this loop scalar.
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(c) {
            *l = if v < *l { v } else { *l };
            *h = if v > *h { v } else { *h };
        }
    }
    let fold = |acc: (f32, f32), &v: &f32| (acc.0.min(v), acc.1.max(v));
    let lanes = lo.iter().zip(&hi).fold((0f32, 0f32), |acc, (&l, &h)| (acc.0.min(l), acc.1.max(h)));
    chunks.remainder().iter().fold(lanes, fold)
}

/// `v` on the activation grid: `v·inv + zp` rounded to the nearest level, ties to even
/// ([`nearest`]: integer arithmetic that vectorises, where `round` is a libm call per value and
/// a float-to-`u8` cast scalar code), clamped to `0..=top` (|v·inv| < 2^22 for values within the
/// row's range; NaN gives some level, defined).
#[inline(always)]
fn quantize(v: f32, inv: f32, zp: u8, top: f32) -> u8 {
    nearest(v * inv + zp as f32).1.clamp(0, top as i32) as u8
}

super::cpu::multiversion! {
    fn quantize_row(x: &[f32], inv: f32, zp: u8, top: f32, out: &mut [u8]) => quantize_plain;
}

#[inline(always)]
fn quantize_plain(x: &[f32], inv: f32, zp: u8, top: f32, out: &mut [u8]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = quantize(v, inv, zp, top);
    }
}

super::cpu::multiversion! {
    fn dequantize_row(acc: &[i32], s: f32, zp: i32, w_scale: &[f32], w_sums: &[i32], bias: Option<&[f32]>, out: &mut [f32]) => dequantize_plain;
}

#[inline(always)]
fn dequantize_plain(acc: &[i32], s: f32, zp: i32, w_scale: &[f32], w_sums: &[i32], bias: Option<&[f32]>, out: &mut [f32]) {
    match bias {
        Some(b) => {
            for ((((o, &a), &ws), &sum), &bv) in out.iter_mut().zip(acc).zip(w_scale).zip(w_sums).zip(b) {
                *o = (a - zp * sum) as f32 * (s * ws) + bv;
            }
        }
        None => {
            for (((o, &a), &ws), &sum) in out.iter_mut().zip(acc).zip(w_scale).zip(w_sums) {
                *o = (a - zp * sum) as f32 * (s * ws);
            }
        }
    }
}

/// `rows × cols` row-major → `cols × rows`.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; v.len()];
    transpose_blocks(v, rows, cols, &mut t);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int8_weight(n: usize, k: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..n * k)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                // Each row reaches ±127 (its scale is max |w| / 127, as `quantize` makes it).
                let q = if i % k == 3 { 127 } else { (state >> 24) as i32 % 255 - 127 };
                q as f32 * (0.01 + (i / k) as f32 * 1e-3)
            })
            .collect()
    }

    #[test]
    fn only_exact_int8_weights_take_the_int8_path() {
        let w = int8_weight(8, 64, 7);
        assert!(Int8Weight::exact(&w, 8, 64).is_some());
        let mut off = w.clone();
        off[70] += 0.003;
        assert!(Int8Weight::exact(&off, 8, 64).is_none(), "a value between two levels");
        let fp: Vec<f32> = (0..512).map(|i| (i as f32 * 0.37).sin()).collect();
        assert!(Int8Weight::exact(&fp, 8, 64).is_none(), "an fp32 matrix");
    }

    #[test]
    fn int8_rows_match_the_f32_product_within_the_activation_rounding() {
        for (rows, k, n) in [(5, 96, 24), (300, 256, 80), (70, 1000, 33), (64, 96, 64), (64, 192, 96)] {
        let w = int8_weight(n, k, 11);
        let iw = Int8Weight::exact(&w, n, k).expect("int8");
        let x: Vec<f32> = (0..rows * k).map(|i| ((i * 37 % 101) as f32 - 40.0) * 0.05).collect();
        let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.1).collect();
        let mut got = vec![0f32; rows * n];
        gemm_rows(&x, rows, &iw, Some(&bias), &mut got);
        for r in 0..rows {
            let xr = &x[r * k..(r + 1) * k];
            let span = xr.iter().fold(0f32, |m, v| m.max(*v)) - xr.iter().fold(0f32, |m, v| m.min(*v));
            for j in 0..n {
                let want: f32 = xr.iter().zip(&w[j * k..(j + 1) * k]).map(|(a, b)| a * b).sum::<f32>() + bias[j];
                let wsum: f32 = w[j * k..(j + 1) * k].iter().map(|v| v.abs()).sum();
                // Each activation is off by at most half a level.
                let bound = 0.5 * span / levels() * wsum + 1e-4;
                assert!((got[r * n + j] - want).abs() <= bound, "{rows}×{k}×{n} row {r} col {j}: {} vs {want} (bound {bound})", got[r * n + j]);
            }
        }
        }
    }

    #[test]
    fn int8_conv1d_matches_burns_within_the_activation_rounding() {
        use burn::tensor::{Device, Distribution};
        let device = Device::flex();
        for (b, cin, cout, k, len) in [(2, 24, 16, 5, 37), (1, 32, 8, 1, 19), (2, 16, 40, 5, 150)] {
            let w = int8_weight(cout, cin * k, 5);
            let weight = Param::from_tensor(Tensor::<3>::from_data(TensorData::new(w.clone(), [cout, cin, k]), &device));
            let bias = Tensor::<1>::random([cout], Distribution::Uniform(-1.0, 1.0), &device);
            let x = Tensor::<3>::random([b, cin, len], Distribution::Uniform(-2.0, 3.0), &device);
            let want = values(&flex(super::super::conv1d::reference(x.clone(), weight.val(), bias.clone()))).into_owned();
            let got = values(&flex(conv1d(x.clone(), &weight, bias).ok().expect("int8 weights"))).into_owned();
            let xs = values(&flex(x)).into_owned();
            let span = xs.iter().fold(0f32, |m, v| m.max(*v)) - xs.iter().fold(0f32, |m, v| m.min(*v));
            let wsum = (0..cout).map(|j| w[j * cin * k..(j + 1) * cin * k].iter().map(|v| v.abs()).sum::<f32>()).fold(0f32, f32::max);
            let bound = 0.5 * span / levels() * wsum + 1e-4;
            let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(worst <= bound, "b {b} k {k}: max |Δ| {worst} > {bound}");
            assert!(worst > 0.0, "the int8 path ran");
        }
    }
}
