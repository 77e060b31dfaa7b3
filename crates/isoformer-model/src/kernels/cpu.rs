//! What the CPU kernels ([`super::cpu_attention`], [`super::cpu_elementwise`]) share: when they
//! run ([`runs_on`]), flex tensors' values read in place ([`flex`], [`values`], [`vector`]), the
//! polynomial [`exp`], and run-time dispatch of their inner loops ([`multiversion!`]): one plain
//! Rust loop, compiled three times (for AVX-512F, for AVX2+FMA and for the build's baseline)
//! and chosen by the CPU it runs on, so one binary runs on any x86-64 CPU and uses the widest
//! vectors it has. Other targets (wasm32, aarch64) take the plain loop as their build compiles
//! it.

use std::borrow::Cow;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{Device, Tensor};

/// Whether the CPU kernels run on `device`: flex without autodiff (training keeps burn's ops,
/// which have a backward pass).
pub fn runs_on(device: &Device) -> bool {
    matches!(device.as_dispatch(), burn::backend::DispatchDevice::Flex(_)) && !device.is_autodiff()
}

/// A flex tensor's primitive (the caller checked [`runs_on`]).
pub fn flex<const D: usize>(t: Tensor<D>) -> FlexTensor {
    t.try_into_primitive::<Flex>().expect("a flex tensor")
}

/// A flex tensor's values in row-major order (borrowed when it is contiguous).
pub fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.clone().into_data().try_into_vec::<f32>().expect("an f32 tensor")),
    }
}

/// A 1-D flex tensor's values.
pub fn vector(t: Tensor<1>) -> Vec<f32> {
    values(&flex(t)).into_owned()
}

/// e^x for x ≤ 0 (a softmax's shifted logits; larger x is clamped at 88), relative error below
/// 2e-7: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its degree-6 Taylor-like minimax polynomial
/// (Cephes `expf`), 2^n put in the exponent bits. Branch-free, so loops over it vectorise.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let (n, ni) = nearest(x * std::f32::consts::LOG2_E);
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((ni + 127) as u32) << 23)
}

/// `x` rounded to the nearest integer (ties to even), as a float and as an integer, for
/// |x| < 2^22: `x + 1.5·2^23` has no fraction bits left and its low mantissa bits are the integer
/// (plus 2^22). Plain float and integer arithmetic on the bits, so loops over it vectorise: a
/// float-to-integer `as` cast checks for NaN and range per value and compiles to scalar code.
/// Outside that range the integer is meaningless (but defined).
#[inline(always)]
pub fn nearest(x: f32) -> (f32, i32) {
    const ROUND: f32 = 12_582_912.0;
    let t = x + ROUND;
    (t - ROUND, (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32))
}


/// `dst = lhs · rhs · beta` (plus `dst` where `read_dst`) by `gemm::gemm` on the calling thread,
/// each matrix given as (pointer, column stride, row stride). A single-row product runs as two
/// rows (the row and a row of zeros): gemm 0.19 takes another path for one row (a matrix-vector
/// product at k = 640, for one) whose sums round differently, which would make a row's result
/// depend on how many rows it was computed with (the size of a batch, the last block of
/// queries).
///
/// # Safety
/// As `gemm::gemm`'s: every element the strides address lies within its allocation, and `dst`
/// does not overlap the inputs.
#[allow(clippy::too_many_arguments)]
#[rustfmt::skip]
pub unsafe fn gemm(
    m: usize, n: usize, k: usize,
    dst: *mut f32, dst_cs: isize, dst_rs: isize, read_dst: bool,
    lhs: *const f32, lhs_cs: isize, lhs_rs: isize,
    rhs: *const f32, rhs_cs: isize, rhs_rs: isize,
    beta: f32,
) {
    let alpha = if read_dst { 1.0 } else { 0.0 };
    if m != 1 {
        // SAFETY: the caller's guarantee.
        unsafe {
            gemm::gemm(m, n, k, dst, dst_cs, dst_rs, read_dst, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, alpha, beta, false, false, false, gemm::Parallelism::None);
        }
        return;
    }
    let mut rows = vec![0f32; 2 * k];
    let mut out = vec![0f32; 2 * n];
    // SAFETY: the caller's guarantee covers row 0 of lhs (k elements, column stride lhs_cs) and
    // of dst (n elements, column stride dst_cs); the two-row copies are local and contiguous.
    unsafe {
        for (c, v) in rows[..k].iter_mut().enumerate() {
            *v = *lhs.offset(c as isize * lhs_cs);
        }
        if read_dst {
            for (j, v) in out[..n].iter_mut().enumerate() {
                *v = *dst.offset(j as isize * dst_cs);
            }
        }
        gemm::gemm(2, n, k, out.as_mut_ptr(), 1, n as isize, read_dst, rows.as_ptr(), 1, k as isize, rhs, rhs_cs, rhs_rs, alpha, beta, false, false, false, gemm::Parallelism::None);
        for (j, &v) in out[..n].iter().enumerate() {
            *dst.offset(j as isize * dst_cs) = v;
        }
    }
}

/// `multiversion!(pub fn name(a: A, b: B) => plain);` defines `fn name`, which runs `plain`
/// compiled for the best instruction set this CPU has, and `mod name` holding each compiled
/// version (`name::avx512`, `name::avx2`: `unsafe`, for the tests that compare them).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $plain:ident;) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    return unsafe { $name::avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has AVX2 and FMA (checked just above).
                    return unsafe { $name::avx2($($arg),*) };
                }
            }
            $plain($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[allow(dead_code)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            /// # Safety
            /// The CPU must have AVX-512F.
            #[target_feature(enable = "avx512f")]
            pub unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                super::$plain($($arg),*)
            }

            /// # Safety
            /// The CPU must have AVX2 and FMA.
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                super::$plain($($arg),*)
            }
        }
    };
}

pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rounds_ties_to_even() {
        for (x, want) in [(2.5f32, 2), (3.5, 4), (-2.5, -2), (-0.4, 0), (-126.0, -126), (1_000_000.6, 1_000_001), (0.5, 0), (-1.5, -2)] {
            assert_eq!(nearest(x), (want as f32, want), "{x}");
        }
    }

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
}
