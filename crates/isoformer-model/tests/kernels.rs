//! Each WGSL kernel against its reference twin (plain burn ops) on the same wgpu device, on
//! seeded input of awkward sizes: lengths that are not a multiple of the 64-row workgroup or of
//! the key tile, padded and fully padded rows, heads 4/8/16/20, head sizes 6/8/10/32/48/64/192/384,
//! batch > 1. Tolerance: the parity tests' 1e-4 + 1e-4·|ref|.
#![cfg(feature = "wgsl")]

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::{read, wgpu};
use isoformer_model::kernels::attention::{self, KeyMask, LogitScale};
use isoformer_model::kernels::{fusion_residual, relative_attention, wgsl_runs_on};

const ABS: f32 = 1e-4;
const REL: f32 = 1e-4;

/// Deterministic values in [-scale, scale): a 64-bit LCG, so the inputs do not depend on the
/// backend's random generator.
fn seeded<const D: usize>(seed: u64, shape: [usize; D], scale: f32, device: &Device) -> Tensor<D> {
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

fn assert_close(label: &str, got: Vec<f32>, want: Vec<f32>) {
    assert_eq!(got.len(), want.len(), "{label}: lengths");
    let mut max = 0f32;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let d = (g - w).abs();
        assert!(d <= ABS + REL * w.abs(), "{label}: index {i}: kernel {g}, reference {w}");
        max = max.max(d);
    }
    println!("max |Δ| kernel {label:<46} {max:.3e}");
}

/// One attention case: `lens[b]` valid keys of `m` (None: no padding).
#[allow(clippy::too_many_arguments)]
fn attention_case(device: &Device, seed: u64, b: usize, h: usize, n: usize, m: usize, d: usize, dv: usize, lens: Option<&[usize]>, scale: LogitScale) {
    let q = seeded(seed, [b, h, n, d], 1.0, device);
    let k = seeded(seed + 1, [b, h, m, d], 1.0, device);
    let v = seeded(seed + 2, [b, h, m, dv], 1.0, device);
    let valid: Vec<Vec<bool>> = (0..b).map(|row| vec![true; lens.map_or(m, |l| l[row])]).collect();
    let mask = KeyMask::from_valid(&valid, m, device);
    let label = format!("attention b{b} h{h} n{n} m{m} d{d} dv{dv} {scale:?}");
    let got = attention::attention(q.clone(), k.clone(), v.clone(), &mask, scale);
    let want = attention::reference(q, k, v, &mask, scale);
    assert_eq!(got.dims(), want.dims(), "{label}: shape");
    assert_close(&label, read(got), read(want));
}

#[test]
fn flash_attention_matches_its_reference() {
    let Some(device) = wgpu() else { return };
    assert!(wgsl_runs_on(&device), "the wgpu device must take the kernel path");
    // NT-v2-like: padding in one row, lengths off the 64-row workgroup.
    attention_case(&device, 1, 2, 16, 77, 77, 64, 64, Some(&[77, 45]), LogitScale::Prescaled);
    // A head size that is not a multiple of 4 (the kernel pads its vec4s): the tiny NT's 10.
    attention_case(&device, 6, 2, 4, 50, 50, 10, 10, Some(&[50, 31]), LogitScale::Prescaled);
    // ESM-2-like: 20 heads of 32, no padding, batch 3.
    attention_case(&device, 2, 3, 20, 33, 33, 32, 32, None, LogitScale::Prescaled);
    // The fusion's cross-attention: queries ≠ keys, divided by √d, one row fully padded.
    attention_case(&device, 3, 2, 8, 130, 51, 48, 48, Some(&[51, 0]), LogitScale::DivideBySqrtHeadDim);
    // Head size 192: a key tile of 10 keys.
    attention_case(&device, 4, 1, 16, 70, 29, 192, 192, Some(&[23]), LogitScale::DivideBySqrtHeadDim);
    // The official fusion's head size (3,072 / 8 = 384): a key tile of 5 keys.
    attention_case(&device, 5, 2, 8, 67, 12, 384, 384, Some(&[12, 7]), LogitScale::DivideBySqrtHeadDim);
}

fn relative_case(device: &Device, seed: u64, b: usize, h: usize, n: usize, d: usize, dv: usize) {
    let q = seeded(seed, [b, h, n, d], 0.5, device);
    let k = seeded(seed + 1, [b, h, n, d], 1.0, device);
    let v = seeded(seed + 2, [b, h, n, dv], 1.0, device);
    // (2n-1, h, d) laid out as the model makes it, then viewed (h, 2n-1, d).
    let r = seeded::<3>(seed + 3, [2 * n - 1, h, d], 1.0, device).swap_dims(0, 1);
    let u = seeded(seed + 4, [1, h, 1, d], 0.5, device);
    let w = seeded(seed + 5, [1, h, 1, d], 0.5, device);
    let label = format!("relative attention b{b} h{h} n{n} d{d} dv{dv}");
    let got = relative_attention::relative_attention(q.clone(), k.clone(), v.clone(), r.clone(), u.clone(), w.clone());
    let want = relative_attention::reference(q, k, v, r, u, w);
    assert_eq!(got.dims(), want.dims(), "{label}: shape");
    assert_close(&label, read(got), read(want));
}

#[test]
fn relative_attention_matches_its_reference() {
    let Some(device) = wgpu() else { return };
    relative_case(&device, 10, 2, 4, 37, 32, 48);
    // Value size not a multiple of 4 (a 96-wide trunk over 16 heads).
    relative_case(&device, 12, 1, 16, 70, 8, 6);
    // The official geometry's head: key size 64, value size 1,536 / 8 = 192.
    relative_case(&device, 11, 1, 8, 100, 64, 192);
}

#[test]
fn fusion_residual_matches_its_reference() {
    let Some(device) = wgpu() else { return };
    for keep in [vec![true, false, true], vec![true; 3], vec![false; 3]] {
        let y = seeded(20, [3, 17, 40], 1.0, &device);
        let x = seeded(21, [3, 17, 40], 1.0, &device);
        let got = fusion_residual::fusion_residual(y.clone(), x.clone(), &keep);
        let want = fusion_residual::reference(y, x, &keep);
        assert_close(&format!("fusion residual keep {keep:?}"), read(got), read(want));
    }
}
