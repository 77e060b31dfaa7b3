//! ESM-2's erf GELU on the CPU backend (flex): `x · ½(1 + erf(x/√2))` with a rational erf
//! (absolute error below 5e-7 against the exact erf) compiled for AVX-512 and AVX2+FMA and
//! chosen at run time. burn's `gelu` on flex calls libm's scalar `erff` per value (5 % of an
//! ESM-2 forward in `perf`).

use std::borrow::Cow;

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};

/// [`crate::nn::gelu_erf`] on a flex tensor without autodiff.
pub fn gelu_erf<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let shape = x.shape();
    let t = x.try_into_primitive::<Flex>().expect("a flex tensor");
    let values: Cow<'_, [f32]> = match t.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.clone().into_data().try_into_vec::<f32>().expect("an f32 tensor")),
    };
    let mut out = vec![0f32; values.len()];
    gelu_slice(&values, &mut out);
    drop(values);
    Tensor::from_data(TensorData::new(out, shape), &device)
}

fn gelu_slice(x: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { gelu_avx512(x, out) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { gelu_avx2(x, out) };
        }
    }
    gelu_plain(x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gelu_avx512(x: &[f32], out: &mut [f32]) {
    gelu_plain(x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_avx2(x: &[f32], out: &mut [f32]) {
    gelu_plain(x, out)
}

#[inline(always)]
fn gelu_plain(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v * 0.5 * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
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
    fn gelu_matches_the_definition() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) / 50.0).collect();
        let mut out = vec![0f32; x.len()];
        gelu_slice(&x, &mut out);
        for (&v, &g) in x.iter().zip(&out) {
            let want = v as f64 * 0.5 * (1.0 + libm::erf(v as f64 / std::f64::consts::SQRT_2));
            assert!((g as f64 - want).abs() < 1e-5, "gelu({v}) = {g}, want {want}");
        }
    }
}
