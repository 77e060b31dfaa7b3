//! Linear layers on the CPU backend (flex) over plain row-major buffers, for the fused encoder
//! layers (`esm::EsmLayer`'s CPU path) and burn `Linear`s ([`super::matmul::linear`]).
//!
//! The product is the `gemm` crate's, the same kernels burn-flex's matmul calls (AVX-512 where
//! the CPU has it, chosen at run time), with two differences that measured faster on the encoders'
//! shapes (benches/README.md):
//! * the threads split the rows, each running a single-threaded product on its block
//!   ([`gemm_rows`]), where `gemm`'s own parallelism split each product's panels: 2,048 × 640 ×
//!   2,560 ran at 300 instead of 264 GFLOP/s, 512 × 640 × 1,920 at 281 instead of 179 (2 threads,
//!   Xeon AVX-512);
//! * the output starts as the bias (and the residual, where a layer adds one) and the product is
//!   accumulated onto it, so neither is a separate pass over the output.

use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};

use super::cpu::{flex, values};

/// Rows per thread below which a product stays on one thread (a task's packing would cost more
/// than it saves).
#[cfg(not(target_family = "wasm"))]
const MIN_ROWS_PER_TASK: usize = 32;

/// `out (rows × n) = init + x (rows × k) · w (k × n)`, all row-major, where `init` is what `out`
/// holds on entry when `accumulate` (else 0). The rows are split into one block per thread.
pub fn gemm_rows(x: &[f32], w: &[f32], out: &mut [f32], rows: usize, k: usize, n: usize, accumulate: bool) {
    assert_eq!(x.len(), rows * k, "x is rows × k");
    assert_eq!(w.len(), k * n, "w is k × n");
    assert_eq!(out.len(), rows * n, "out is rows × n");
    if rows == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    let one = |x: &[f32], out: &mut [f32]| {
        let m = out.len() / n;
        // SAFETY: out is m × n (row stride n), x m × k (row stride k), w k × n (row stride n),
        // as asserted above and by the chunking below.
        unsafe {
            super::cpu::gemm(
                m, n, k,
                out.as_mut_ptr(), 1, n as isize, accumulate,
                x.as_ptr(), 1, k as isize,
                w.as_ptr(), 1, n as isize,
                1.0,
            );
        }
    };
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        let tasks = rayon::current_num_threads().min(rows.div_ceil(MIN_ROWS_PER_TASK)).max(1);
        let per = rows.div_ceil(tasks);
        out.par_chunks_mut(per * n).zip(x.par_chunks(per * k)).for_each(|(o, xs)| one(xs, o));
    }
    #[cfg(target_family = "wasm")]
    one(x, out);
}

/// Fills `out` (rows of `bias.len()`) with `bias` in every row, plus `residual` where given.
pub fn init_rows(out: &mut [f32], bias: Option<&[f32]>, residual: Option<&[f32]>) {
    match (bias, residual) {
        (None, None) => out.fill(0.0),
        (None, Some(r)) => out.copy_from_slice(r),
        (Some(b), None) => out.chunks_exact_mut(b.len()).for_each(|o| o.copy_from_slice(b)),
        (Some(b), Some(r)) => {
            for (o, r) in out.chunks_exact_mut(b.len()).zip(r.chunks_exact(b.len())) {
                for ((o, &r), &b) in o.iter_mut().zip(r).zip(b) {
                    *o = r + b;
                }
            }
        }
    }
}

/// `out = x · weight + bias (+ residual)` for `rows` rows of `x` (`rows × in`) and a Linear layer
/// (weight `[in, out]`): in int8 where [`super::use_int8`] is on and the weight is int8
/// ([`super::cpu_int8`]), else in f32 by [`gemm_rows`].
pub fn linear_rows(layer: &Linear, x: &[f32], rows: usize, out: &mut [f32], residual: Option<&[f32]>) {
    #[cfg(not(target_family = "wasm"))]
    if super::use_int8(&layer.weight.val().device()) && super::cpu_int8::linear_rows(&[layer], x, rows, &mut [&mut *out]) {
        if let Some(r) = residual {
            out.iter_mut().zip(r).for_each(|(o, &r)| *o += r);
        }
        return;
    }
    f32_rows(layer, x, rows, out, residual);
}

/// [`linear_rows`] for several layers reading the same rows of `x` (an attention's q, k and v):
/// in int8 the rows are quantized once for all of them.
pub fn linear_rows_shared(layers: &[&Linear], x: &[f32], rows: usize, outs: &mut [&mut [f32]]) {
    #[cfg(not(target_family = "wasm"))]
    if layers.first().is_some_and(|l| super::use_int8(&l.weight.val().device())) && super::cpu_int8::linear_rows(layers, x, rows, outs) {
        return;
    }
    for (layer, out) in layers.iter().zip(outs.iter_mut()) {
        f32_rows(layer, x, rows, out, None);
    }
}

/// [`linear_rows`] in f32.
fn f32_rows(layer: &Linear, x: &[f32], rows: usize, out: &mut [f32], residual: Option<&[f32]>) {
    let [k, n] = layer.weight.dims();
    let wt = flex(layer.weight.val());
    let w = values(&wt);
    let bt = layer.bias.as_ref().map(|b| flex(b.val()));
    let bias = bt.as_ref().map(values);
    init_rows(out, bias.as_deref(), residual);
    gemm_rows(x, &w, out, rows, k, n, true);
}

/// burn's `Linear` on `x (…, in)` through [`linear_rows`] (the caller checked
/// [`super::cpu::runs_on`]).
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let mut dims = x.dims();
    let d_out = layer.weight.dims()[1];
    let rows = dims[..D - 1].iter().product::<usize>();
    let xt = flex(x);
    let xs = values(&xt);
    let mut out = vec![0f32; rows * d_out];
    linear_rows(layer, &xs, rows, &mut out, None);
    drop(xs);
    dims[D - 1] = d_out;
    Tensor::from_data(TensorData::new(out, dims), &device)
}

/// `nn.Conv1d(in, out, k, padding = k // 2)` with its bias on flex: x `(b, in, len)`, weight
/// `[out, in, k]` → `(b, out, len)`, as `k` products accumulated onto the bias: tap `t` adds
/// `weight[:, :, t] · x[:, p + t − k/2]` for the output positions `p` whose input exists (the
/// zero padding is the positions left out). Both operands are read where they lie (the tap's
/// weight with a stride of `k`, the input shifted), so nothing is copied: burn's convolution
/// wrote the `in · k × len` im2col matrix first.
pub fn conv1d(x: Tensor<3>, weight: Tensor<3>, bias: Tensor<1>) -> Tensor<3> {
    let device = x.device();
    let [d_out, d_in, k] = weight.dims();
    let [b, c, len] = x.dims();
    assert_eq!(c, d_in, "conv1d input channels");
    assert!(k % 2 == 1, "an odd kernel size");
    let (xt, wt, bt) = (flex(x), flex(weight), flex(bias));
    let (xs, ws, bs) = (values(&xt), values(&wt), values(&bt));
    let mut out = vec![0f32; b * d_out * len];
    if len > 0 && d_out > 0 {
        for (xi, y) in xs.chunks_exact(d_in * len).zip(out.chunks_exact_mut(d_out * len)) {
            conv1d_item(xi, &ws, &bs, y, [d_out, d_in, k, len]);
        }
    }
    drop((xs, ws, bs));
    Tensor::from_data(TensorData::new(out, [b, d_out, len]), &device)
}

/// One batch item of [`conv1d`]: `x` `in × len`, `w` `[out, in, k]`, `y` `out × len`; blocks
/// of output channels in parallel.
fn conv1d_item(x: &[f32], w: &[f32], bias: &[f32], y: &mut [f32], [d_out, d_in, k, len]: [usize; 4]) {
    assert_eq!(y.len(), d_out * len, "y is out × len");
    let pad = k / 2;
    let one = |o0: usize, y: &mut [f32]| {
        let rows = y.len() / len;
        for (row, &b) in y.chunks_exact_mut(len).zip(&bias[o0..o0 + rows]) {
            row.fill(b);
        }
        for tap in 0..k {
            // Output position p reads input p + tap − pad.
            let first = pad.saturating_sub(tap);
            let end = (len + pad).saturating_sub(tap).min(len);
            if end <= first || d_in == 0 {
                continue;
            }
            let src = first + tap - pad;
            // SAFETY: y is rows × len (row stride len) and columns first..end are within it; the
            // tap's weight rows o0..o0 + rows are elements (o, ch) at o·in·k + ch·k + tap of w
            // (in × k per row); the input columns src..src + (end − first) of x's in rows
            // (row stride len) are within x since src + end − first ≤ len.
            unsafe {
                super::cpu::gemm(
                    rows, end - first, d_in,
                    y.as_mut_ptr().add(first), 1, len as isize, true,
                    w.as_ptr().add(o0 * d_in * k + tap), k as isize, (d_in * k) as isize,
                    x.as_ptr().add(src), 1, len as isize,
                    1.0,
                );
            }
        }
    };
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        let tasks = rayon::current_num_threads().min(d_out).max(1);
        let per = d_out.div_ceil(tasks);
        y.par_chunks_mut(per * len).enumerate().for_each(|(i, y)| one(i * per, y));
    }
    #[cfg(target_family = "wasm")]
    one(0, y);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], w: &[f32], rows: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; rows * n];
        for r in 0..rows {
            for j in 0..n {
                out[r * n + j] = (0..k).map(|i| x[r * k + i] as f64 * w[i * n + j] as f64).sum::<f64>() as f32;
            }
        }
        out
    }

    #[test]
    fn conv1d_matches_burns_convolution() {
        let device = burn::tensor::Device::flex();
        for (b, d_in, d_out, k, len) in [(2, 3, 5, 5, 9), (1, 8, 70, 1, 33), (1, 4, 6, 15, 7)] {
            let seq = |n: usize, m: usize| (0..n).map(|i| ((i * m) % 19) as f32 * 0.1 - 0.9).collect::<Vec<f32>>();
            let x = Tensor::<3>::from_data(TensorData::new(seq(b * d_in * len, 7919), [b, d_in, len]), &device);
            let w = Tensor::<3>::from_data(TensorData::new(seq(d_out * d_in * k, 104_729), [d_out, d_in, k]), &device);
            let bias = Tensor::<1>::from_data(TensorData::new(seq(d_out, 31), [d_out]), &device);
            let want = burn::tensor::module::conv1d(x.clone(), w.clone(), Some(bias.clone()), burn::tensor::ops::ConvOptions::new([1], [k / 2], [1], 1));
            let got = conv1d(x, w, bias);
            let (g, w) = (got.into_data().try_to_vec::<f32>().unwrap(), want.into_data().try_to_vec::<f32>().unwrap());
            assert_eq!(g.len(), w.len());
            for (a, e) in g.iter().zip(&w) {
                assert!((a - e).abs() < 1e-4, "k{k} len {len}: {a} against {e}");
            }
        }
    }

    /// A row's values do not depend on how many rows it was computed with (one row alone took
    /// gemm's matrix-vector path, whose sums round differently at k = 640).
    #[test]
    fn a_row_is_the_same_alone_and_in_a_batch() {
        let (k, n) = (640, 64);
        let x: Vec<f32> = (0..5 * k).map(|i| ((i * 7919) % 101) as f32 * 0.013 - 0.6).collect();
        let w: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 97) as f32 * 0.017 - 0.8).collect();
        let mut all = vec![0f32; 5 * n];
        gemm_rows(&x, &w, &mut all, 5, k, n, false);
        for r in 0..5 {
            let mut one = vec![0f32; n];
            gemm_rows(&x[r * k..(r + 1) * k], &w, &mut one, 1, k, n, false);
            assert_eq!(one, all[r * n..(r + 1) * n], "row {r}");
        }
    }

    #[test]
    fn split_rows_give_the_product_plus_what_out_held() {
        for (rows, k, n) in [(1, 3, 5), (67, 19, 33), (300, 64, 7)] {
            let x: Vec<f32> = (0..rows * k).map(|i| ((i * 7919) % 17) as f32 * 0.25 - 2.0).collect();
            let w: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 13) as f32 * 0.5 - 3.0).collect();
            let want = naive(&x, &w, rows, k, n);
            let mut out = vec![7f32; rows * n];
            gemm_rows(&x, &w, &mut out, rows, k, n, false);
            assert!(out.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-3), "{rows}×{k}×{n} product");
            let bias: Vec<f32> = (0..n).map(|j| j as f32).collect();
            let residual = vec![0.5f32; rows * n];
            init_rows(&mut out, Some(&bias), Some(&residual));
            gemm_rows(&x, &w, &mut out, rows, k, n, true);
            for (i, (a, b)) in out.iter().zip(&want).enumerate() {
                let expect = b + (i % n) as f32 + 0.5;
                assert!((a - expect).abs() < 1e-3, "{rows}×{k}×{n} accumulated: {a} against {expect}");
            }
        }
    }
}
