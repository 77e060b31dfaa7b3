//! The kernels' parity cases, shared by the native tests (`tests/kernels.rs`, lavapipe in CI)
//! and the browser tests (`isoformer-web`, WebGPU on SwiftShader): each case runs one kernel's
//! public function and its reference twin on the same device and seeded input of awkward sizes
//! (lengths that are not a multiple of the 64-row workgroup or of the key tile, padded and fully
//! padded rows, heads 2/4/8/16/20, head sizes 6/8/10/32/48/64/192/384, batch > 1, key counts that
//! would cross Mesa lavapipe's per-invocation loop limit). The caller
//! reads both back (synchronously natively, asynchronously in a browser) and compares them at
//! [`ABS`] + [`REL`]·|reference|.

use burn::tensor::{Device, Tensor, TensorData};

use super::attention::{self, KeyMask, LogitScale};
use super::{conv1d, fusion_residual, matmul, relative_attention};

/// Absolute part of the tolerance (the PyTorch parity tests' 1e-4).
pub const ABS: f32 = 1e-4;
/// Relative part of the tolerance.
pub const REL: f32 = 1e-4;

/// One comparison: the kernel's output and the reference's, flattened to `(b, rows, cols)`.
pub struct Case {
    pub label: String,
    pub kernel: Tensor<3>,
    pub reference: Tensor<3>,
}

/// Deterministic values in [-scale, scale): a 64-bit LCG, so the inputs do not depend on the
/// backend's random generator.
pub fn seeded<const D: usize>(seed: u64, shape: [usize; D], scale: f32, device: &Device) -> Tensor<D> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn flat(t: Tensor<4>) -> Tensor<3> {
    let [b, h, n, d] = t.dims();
    t.reshape([b, h * n, d])
}

/// One attention: `lens[b]` valid keys of `m` (None: no padding).
#[allow(clippy::too_many_arguments)]
fn attention_case(device: &Device, seed: u64, [b, h, n, m, d, dv]: [usize; 6], lens: Option<&[usize]>, scale: LogitScale) -> Case {
    let q = seeded(seed, [b, h, n, d], 1.0, device);
    let k = seeded(seed + 1, [b, h, m, d], 1.0, device);
    let v = seeded(seed + 2, [b, h, m, dv], 1.0, device);
    let valid: Vec<Vec<bool>> = (0..b).map(|row| vec![true; lens.map_or(m, |l| l[row])]).collect();
    let mask = KeyMask::from_valid(&valid, m, device);
    Case {
        label: format!("attention b{b} h{h} n{n} m{m} d{d} dv{dv} {scale:?}"),
        kernel: flat(attention::attention(q.clone(), k.clone(), v.clone(), &mask, scale)),
        reference: flat(attention::reference(q, k, v, &mask, scale)),
    }
}

fn relative_case(device: &Device, seed: u64, [b, h, n, d, dv]: [usize; 5]) -> Case {
    let q = seeded(seed, [b, h, n, d], 0.5, device);
    let k = seeded(seed + 1, [b, h, n, d], 1.0, device);
    let v = seeded(seed + 2, [b, h, n, dv], 1.0, device);
    // (2n-1, h, d) laid out as the model makes it, then viewed (h, 2n-1, d).
    let r = seeded::<3>(seed + 3, [2 * n - 1, h, d], 1.0, device).swap_dims(0, 1);
    let u = seeded(seed + 4, [1, h, 1, d], 0.5, device);
    let w = seeded(seed + 5, [1, h, 1, d], 0.5, device);
    Case {
        label: format!("relative attention b{b} h{h} n{n} d{d} dv{dv}"),
        kernel: flat(relative_attention::relative_attention(q.clone(), k.clone(), v.clone(), r.clone(), u.clone(), w.clone())),
        reference: flat(relative_attention::reference(q, k, v, r, u, w)),
    }
}

fn residual_case(device: &Device, keep: &[bool]) -> Case {
    let y = seeded(20, [keep.len(), 17, 40], 1.0, device);
    let x = seeded(21, [keep.len(), 17, 40], 1.0, device);
    Case {
        label: format!("fusion residual keep {keep:?}"),
        kernel: fusion_residual::fusion_residual(y.clone(), x.clone(), keep),
        reference: fusion_residual::reference(y, x, keep),
    }
}

/// The flash-attention cases.
pub fn attention_cases(device: &Device) -> Vec<Case> {
    use LogitScale::{DivideBySqrtHeadDim, Prescaled};
    vec![
        // NT-v2-like: padding in one row, lengths off the 64-row workgroup.
        attention_case(device, 1, [2, 16, 77, 77, 64, 64], Some(&[77, 45]), Prescaled),
        // A head size that is not a multiple of 4 (the kernel pads its vec4s): the tiny NT's 10.
        attention_case(device, 6, [2, 4, 50, 50, 10, 10], Some(&[50, 31]), Prescaled),
        // ESM-2-like: 20 heads of 32, no padding, batch 3.
        attention_case(device, 2, [3, 20, 33, 33, 32, 32], None, Prescaled),
        // The fusion's cross-attention: queries ≠ keys, divided by √d, one row fully padded.
        attention_case(device, 3, [2, 8, 130, 51, 48, 48], Some(&[51, 0]), DivideBySqrtHeadDim),
        // Head size 192: a key tile of 10 keys.
        attention_case(device, 4, [1, 16, 70, 29, 192, 192], Some(&[23]), DivideBySqrtHeadDim),
        // The official fusion's head size (3,072 / 8 = 384): a key tile of 5 keys.
        attention_case(device, 5, [2, 8, 67, 12, 384, 384], Some(&[12, 7]), DivideBySqrtHeadDim),
        // 300 keys of 384: 300 × (96 + 96) head-vector steps, past the 65,535 loop iterations
        // lavapipe allows an invocation, were the head loops not unrolled.
        attention_case(device, 7, [1, 2, 67, 300, 384, 384], Some(&[300]), DivideBySqrtHeadDim),
    ]
}

/// The Enformer relative-attention cases.
pub fn relative_cases(device: &Device) -> Vec<Case> {
    vec![
        relative_case(device, 10, [2, 4, 37, 32, 48]),
        // Value size not a multiple of 4 (a 96-wide trunk over 16 heads).
        relative_case(device, 12, [1, 16, 70, 8, 6]),
        // The official geometry's head: key size 64, value size 1,536 / 8 = 192.
        relative_case(device, 11, [1, 8, 100, 64, 192]),
        // More queries than the CPU kernel's block of 256 (its second block's band of distances).
        relative_case(device, 13, [1, 2, 300, 16, 24]),
        // 1,100 keys at the official head sizes: past lavapipe's 65,535 loop iterations per
        // invocation, were the head loops not unrolled.
        relative_case(device, 13, [1, 2, 1100, 64, 192]),
    ]
}

/// The fusion-residual cases: a mixed batch, all coding, none coding.
pub fn residual_cases(device: &Device) -> Vec<Case> {
    [vec![true, false, true], vec![true; 3], vec![false; 3]].iter().map(|keep| residual_case(device, keep)).collect()
}

fn matmul_case(device: &Device, seed: u64, [za, zb, m, k, n]: [usize; 5], transposed_b: bool) -> Case {
    let a = seeded::<3>(seed, [za, m, k], 1.0, device);
    let b = if transposed_b {
        seeded::<3>(seed + 1, [zb, n, k], 1.0, device).swap_dims(1, 2)
    } else {
        seeded::<3>(seed + 1, [zb, k, n], 1.0, device)
    };
    Case {
        label: format!("matmul z{za}·{zb} m{m} k{k} n{n}{}", if transposed_b { " bᵀ" } else { "" }),
        kernel: matmul::matmul(a.clone(), b.clone()),
        reference: matmul::reference(a, b),
    }
}

fn conv_case(device: &Device, seed: u64, [b, cin, cout, k, len]: [usize; 5], slice: Option<std::ops::Range<usize>>) -> Case {
    let mut x = seeded::<3>(seed, [b, cin, len], 1.0, device);
    if let Some(r) = &slice {
        x = x.slice([0..b, 0..cin, r.clone()]);
    }
    let w = seeded::<3>(seed + 1, [cout, cin, k], 0.5, device);
    let bias = seeded::<1>(seed + 2, [cout], 1.0, device);
    Case {
        label: format!("conv1d b{b} in{cin} out{cout} k{k} len{}{}", x.dims()[2], if slice.is_some() { " (a slice)" } else { "" }),
        kernel: conv1d::conv1d(x.clone(), w.clone(), bias.clone()),
        reference: conv1d::reference(x, w, bias),
    }
}

/// The matmul and conv1d cases (the register-blocked kernels of CPU adapters): sizes off the
/// 16 × 8 invocation tile and its 8 × 8 workgroup, b read as vec4s (contiguous, n a multiple of
/// 4) or not (n odd, transposed), a broadcast batch, one row of 3,072; convolutions with
/// Enformer's kernel sizes 15, 5 and 1, lengths off the 16-position tile, a sliced input (an
/// offset and strides, as the conv tower's tiles are).
pub fn matmul_cases(device: &Device) -> Vec<Case> {
    vec![
        matmul_case(device, 30, [1, 1, 130, 77, 96], false),
        matmul_case(device, 31, [3, 3, 17, 40, 33], false),
        matmul_case(device, 32, [2, 2, 45, 64, 70], true),
        matmul_case(device, 33, [4, 1, 9, 384, 12], false),
        matmul_case(device, 34, [1, 1, 1, 3072, 30], false),
        conv_case(device, 35, [1, 4, 24, 15, 300], None),
        conv_case(device, 36, [2, 24, 40, 5, 133], None),
        conv_case(device, 37, [1, 48, 48, 1, 70], None),
        conv_case(device, 40, [2, 12, 9, 5, 90], Some(7..80)),
    ]
}

/// Largest |kernel − reference|, or the first index outside the tolerance.
pub fn compare(label: &str, kernel: &[f32], reference: &[f32]) -> Result<f32, String> {
    if kernel.len() != reference.len() {
        return Err(format!("{label}: {} values against {}", kernel.len(), reference.len()));
    }
    let mut max = 0f32;
    for (i, (g, w)) in kernel.iter().zip(reference).enumerate() {
        let d = (g - w).abs();
        if !(d <= ABS + REL * w.abs()) {
            return Err(format!("{label}: index {i}: kernel {g}, reference {w}"));
        }
        max = max.max(d);
    }
    Ok(max)
}
