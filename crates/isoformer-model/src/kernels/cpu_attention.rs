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
//!
//! [`attend`] takes each operand with its [`Layout`], so the ESM layers' q, k and v are read where
//! their Linear layers wrote them (token-major, heads side by side) and the heads' outputs are
//! written side by side, ready for the output projection: no transposes. [`relative_attention`]
//! is Enformer's variant with relative position logits.

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
    let (qt, kt, vt) = (flex(q), flex(k), flex(v));
    let (qs, ks, vs) = (values(&qt), values(&kt), values(&vt));
    let mut out = vec![0f32; b * h * n * dv];
    let shape = Shape { b, h, n, m, d, dv };
    attend(
        Operand { data: &qs, layout: Layout::head_major(h, n, d) },
        Operand { data: &ks, layout: Layout::head_major(h, m, d) },
        Operand { data: &vs, layout: Layout::head_major(h, m, dv) },
        &mut out,
        Layout::head_major(h, n, dv),
        shape,
        lengths,
        (1.0 / divisor) as f32,
    );
    drop((qs, ks, vs));
    Tensor::from_data(TensorData::new(out, [b, h, n, dv]), &device)
}

/// Where an operand's heads lie in its buffer: element `c` of position `t` of head `hh` of batch
/// row `bi` is at `bi·batch + hh·head + t·row + c`.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub batch: usize,
    pub head: usize,
    pub row: usize,
}

impl Layout {
    /// `(b, h, len, width)` contiguous.
    pub fn head_major(h: usize, len: usize, width: usize) -> Self {
        Layout { batch: h * len * width, head: len * width, row: width }
    }

    /// `(b, len, h, width)` contiguous: the rows of a Linear layer's output, `h · width` wide.
    pub fn token_major(h: usize, len: usize, width: usize) -> Self {
        Layout { batch: len * h * width, head: width, row: h * width }
    }

    /// One past the last element of `(b, h, len, width)` in this layout.
    fn extent(&self, [b, h, len, width]: [usize; 4]) -> usize {
        if b == 0 || h == 0 || len == 0 || width == 0 {
            return 0;
        }
        (b - 1) * self.batch + (h - 1) * self.head + (len - 1) * self.row + width
    }
}

/// An attention input and its [`Layout`].
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a> {
    pub data: &'a [f32],
    pub layout: Layout,
}

/// Attention's sizes: `b` batch rows, `h` heads, `n` queries, `m` keys, head sizes `d` (q, k)
/// and `dv` (v, out).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub b: usize,
    pub h: usize,
    pub n: usize,
    pub m: usize,
    pub d: usize,
    pub dv: usize,
}

/// The output pointer shared by the tasks, each of which writes its own rows.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: the tasks write disjoint rows of the output (distinct batch row, head and query block,
// in a layout whose heads and rows do not overlap).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// `softmax(q·kᵀ · scale over row bi's first lengths[bi] keys) · v` into `out` (in `out_layout`),
/// per (batch row, head, block of [`QUERY_BLOCK`] queries) in parallel. The layouts may
/// interleave heads (a Linear layer's output read in place) but must not overlap within `out`.
#[allow(clippy::too_many_arguments)]
pub fn attend(q: Operand, k: Operand, v: Operand, out: &mut [f32], out_layout: Layout, s: Shape, lengths: &[u32], scale: f32) {
    let Shape { b, h, n, m, d, dv } = s;
    assert_eq!(lengths.len(), b, "one key length per batch row");
    assert!(lengths.iter().all(|&l| l >= 1 && l as usize <= m), "every row has 1..=m valid keys");
    assert!(q.layout.extent([b, h, n, d]) <= q.data.len(), "q fits its buffer");
    assert!(k.layout.extent([b, h, m, d]) <= k.data.len(), "k fits its buffer");
    assert!(v.layout.extent([b, h, m, dv]) <= v.data.len(), "v fits its buffer");
    assert!(out_layout.extent([b, h, n, dv]) <= out.len(), "out fits its buffer");
    assert!(out_layout.row >= dv && (h <= 1 || out_layout.head >= dv || out_layout.head >= n * out_layout.row), "output rows do not overlap");
    if dv == 0 || n == 0 {
        return;
    }
    let out_ptr = OutPtr(out.as_mut_ptr());
    let run = |scores: &mut Vec<f32>, (bi, hh, block): (usize, usize, usize)| {
        let out_ptr = out_ptr;
        let len = lengths[bi] as usize;
        let t0 = block * QUERY_BLOCK;
        let rows = QUERY_BLOCK.min(n - t0);
        let (ql, kl, vl, ol) = (q.layout, k.layout, v.layout, out_layout);
        let q0 = bi * ql.batch + hh * ql.head + t0 * ql.row;
        let k0 = bi * kl.batch + hh * kl.head;
        let v0 = bi * vl.batch + hh * vl.head;
        let o0 = bi * ol.batch + hh * ol.head + t0 * ol.row;
        // SAFETY: the extents asserted above bound every element addressed: q rows × d from q0
        // (row stride ql.row), keys len × d from k0 (row stride kl.row), values len × dv from v0
        // (row stride vl.row), and this task's own output rows × dv from o0 (row stride
        // ol.row), which no other task writes.
        unsafe {
            logits(scores, rows, len, d, q.data.as_ptr().add(q0), ql.row, k.data.as_ptr().add(k0), kl.row, scale);
            softmax_rows(scores, len);
            weighted(out_ptr.0.add(o0), ol.row, scores, rows, len, v.data.as_ptr().add(v0), vl.row, dv);
        }
    };
    for_each_block(b, h, n, run);
}

/// `out` (resized to `rows × cols`, row-major) `= scale · a·bᵀ`, `a` `rows × d` and `b` `cols × d`
/// with row strides `a_rs` and `b_rs`: a block's logits.
///
/// # Safety
/// `a` and `b` address those rows.
#[allow(clippy::too_many_arguments)]
unsafe fn logits(out: &mut Vec<f32>, rows: usize, cols: usize, d: usize, a: *const f32, a_rs: usize, b: *const f32, b_rs: usize, scale: f32) {
    out.resize(rows * cols, 0.0);
    // SAFETY: out is rows × cols; a and b as the caller guarantees, b read transposed (element
    // (c, j) at j·b_rs + c).
    unsafe { super::cpu::gemm(rows, cols, d, out.as_mut_ptr(), 1, cols as isize, false, a, 1, a_rs as isize, b, b_rs as isize, 1, scale) };
}

/// `out` (`rows × dv`, row stride `out_rs`) `= p · v`, `p` `rows × len` row-major (a block's
/// softmax), `v` `len × dv` with row stride `v_rs`.
///
/// # Safety
/// `out` and `v` address those rows, and `out` no other thread's.
#[allow(clippy::too_many_arguments)]
unsafe fn weighted(out: *mut f32, out_rs: usize, p: &[f32], rows: usize, len: usize, v: *const f32, v_rs: usize, dv: usize) {
    // SAFETY: as the caller guarantees; p is rows × len.
    unsafe { super::cpu::gemm(rows, dv, len, out, 1, out_rs as isize, false, p.as_ptr(), 1, len as isize, v, 1, v_rs as isize, 1.0) };
}

/// Runs `run(scratch, (batch row, head, block of queries))` over every block of [`QUERY_BLOCK`]
/// queries of every head of every batch row: in parallel on native builds, each thread with its
/// own scratch buffers.
fn for_each_block<S: Default>(b: usize, h: usize, n: usize, run: impl Fn(&mut S, (usize, usize, usize)) + Sync + Send) {
    let blocks = n.div_ceil(QUERY_BLOCK);
    let tasks = (0..b).flat_map(|bi| (0..h).flat_map(move |hh| (0..blocks).map(move |block| (bi, hh, block))));
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        tasks.collect::<Vec<_>>().into_par_iter().for_each_init(S::default, run);
    }
    #[cfg(target_family = "wasm")]
    {
        let mut scratch = S::default();
        for t in tasks {
            run(&mut scratch, t);
        }
    }
}

/// Enformer's attention with relative position logits on flex (see
/// [`super::relative_attention`]): `q (b, h, n, d)` (scaled), `k (b, h, n, d)`, `v (b, h, n, dv)`,
/// `r (h, 2n − 1, d)` (one row per distance −(n−1)..(n−1)), biases `u`, `w` (`h × d`) →
/// `(b, n, h, dv)` contiguous, as `(b, h, n, dv)` strides. Per (batch row, head, block of
/// queries): the content logits `(q + u)·kᵀ` and the block's band of relative logits `(q + w)·rᵀ`
/// (the `n + rows − 1` distances its rows reach, where the reference computed all `2n − 1` for
/// every row and then shifted them with copies), added at distance `j − i + n − 1`, softmax, `·v`.
pub fn relative_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, r: Tensor<3>, u: Tensor<4>, w: Tensor<4>) -> Tensor<4> {
    let device = q.device();
    let [b, h, n, d] = q.dims();
    let dv = v.dims()[3];
    assert_eq!(k.dims(), [b, h, n, d], "k matches q");
    assert_eq!(r.dims(), [h, (2 * n).saturating_sub(1), d], "one relative row per distance");
    let (qt, kt, vt, rt, ut, wt) = (flex(q), flex(k), flex(v), flex(r), flex(u), flex(w));
    let (qs, ks, vs, rs, us, ws) = (values(&qt), values(&kt), values(&vt), values(&rt), values(&ut), values(&wt));
    assert!(us.len() == h * d && ws.len() == h * d, "a bias per head");
    let mut out = vec![0f32; b * n * h * dv];
    let out_layout = Layout::token_major(h, n, dv);
    let out_ptr = OutPtr(out.as_mut_ptr());
    let (qs, ks, vs, rs, us, ws) = (&qs[..], &ks[..], &vs[..], &rs[..], &us[..], &ws[..]);
    let run = |buf: &mut [Vec<f32>; 4], (bi, hh, block): (usize, usize, usize)| {
        let out_ptr = out_ptr;
        let [qu, qw, scores, rel] = buf;
        let t0 = block * QUERY_BLOCK;
        let rows = QUERY_BLOCK.min(n - t0);
        let band = n + rows - 1;
        let bh = bi * h + hh;
        let q_rows = &qs[(bh * n + t0) * d..(bh * n + t0 + rows) * d];
        let (ub, wb) = (&us[hh * d..(hh + 1) * d], &ws[hh * d..(hh + 1) * d]);
        qu.clear();
        qw.clear();
        for row in q_rows.chunks_exact(d) {
            qu.extend(row.iter().zip(ub).map(|(a, b)| a + b));
            qw.extend(row.iter().zip(wb).map(|(a, b)| a + b));
        }
        let keys = &ks[bh * n * d..(bh + 1) * n * d];
        // The band's first distance row: query t0 + rows − 1 against key 0.
        let lo = n - t0 - rows;
        let r_band = &rs[(hh * (2 * n - 1) + lo) * d..(hh * (2 * n - 1) + lo + band) * d];
        // SAFETY: qu and qw are rows × d, keys n × d and r_band band × d, all row-major.
        unsafe {
            logits(scores, rows, n, d, qu.as_ptr(), d, keys.as_ptr(), d, 1.0);
            logits(rel, rows, band, d, qw.as_ptr(), d, r_band.as_ptr(), d, 1.0);
        }
        // Query t0 + a against key j is at distance j − (t0 + a) + n − 1, band column j − a + rows − 1.
        for (a, row) in scores.chunks_exact_mut(n).enumerate() {
            let shifted = &rel[a * band + rows - 1 - a..a * band + rows - 1 - a + n];
            row.iter_mut().zip(shifted).for_each(|(s, r)| *s += r);
        }
        softmax_rows(scores, n);
        let o0 = bi * out_layout.batch + hh * out_layout.head + t0 * out_layout.row;
        let vals = &vs[bh * n * dv..(bh + 1) * n * dv];
        // SAFETY: this task's output rows × dv from o0 (row stride h·dv) lie within out and no
        // other task writes them; vals is n × dv.
        unsafe { weighted(out_ptr.0.add(o0), out_layout.row, scores, rows, n, vals.as_ptr(), dv, dv) };
    };
    if n > 0 && dv > 0 && d > 0 {
        for_each_block(b, h, n, run);
    }
    Tensor::<4>::from_data(TensorData::new(out, [b, n, h, dv]), &device).swap_dims(1, 2)
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
            // A comparison rather than f32::max, whose NaN rule kept this loop scalar.
            for (m, &x) in lane_max.iter_mut().zip(c) {
                *m = if x > *m { x } else { *m };
            }
        }
        let max = chunks.remainder().iter().fold(lane_max.iter().copied().fold(f32::NEG_INFINITY, f32::max), |a, &x| a.max(x));
        // The exponentials and their sum in one pass.
        let mut lane_sum = [0f32; LANES];
        let mut chunks = row.chunks_exact_mut(LANES);
        for c in &mut chunks {
            for (s, x) in lane_sum.iter_mut().zip(c) {
                *x = exp(*x - max);
                *s += *x;
            }
        }
        let mut rest = 0f32;
        for x in chunks.into_remainder() {
            *x = exp(*x - max);
            rest += *x;
        }
        let sum = lane_sum.iter().sum::<f32>() + rest;
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
