//! `nn.Conv1d(in, out, k, padding = k // 2)` with its bias: burn's `conv1d`, or on WebGPU
//! adapters that run on the CPU `shaders/conv1d.wgsl` (register-blocked, no barriers: see
//! [`super::matmul`]). Enformer's stem and conv tower are most of the official model's work.

use burn::module::Param;
use burn::tensor::Tensor;
use burn::tensor::module::conv1d as burn_conv1d;
use burn::tensor::ops::ConvOptions;

/// x `(b, in, len)`, weight `[out, in, k]` (PyTorch's layout, k odd), bias `[out]` →
/// `(b, out, len)`.
pub fn conv1d(x: Tensor<3>, weight: Tensor<3>, bias: Tensor<1>) -> Tensor<3> {
    #[cfg(feature = "wgsl")]
    if super::use_register_kernels(&x.device()) {
        use super::wgsl::WgslKernels;
        let out = <burn::backend::Dispatch as WgslKernels>::conv1d(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
        );
        return Tensor::from_dispatch(out);
    }
    if super::cpu::runs_on(&x.device()) {
        return super::cpu_gemm::conv1d(x, weight, bias);
    }
    reference(x, weight, bias)
}

/// [`conv1d`] of a layer's weight parameter: with [`super::set_int8_compute`] on and int8 weights,
/// [`super::cpu_int8::conv1d`] on the CPU; [`conv1d`] otherwise.
pub fn layer(x: Tensor<3>, weight: &Param<Tensor<3>>, bias: Tensor<1>) -> Tensor<3> {
    #[cfg(not(target_family = "wasm"))]
    let (x, bias) = if super::use_int8(&x.device()) {
        match super::cpu_int8::conv1d(x, weight, bias.clone()) {
            Ok(y) => return y,
            Err(x) => (x, bias),
        }
    } else {
        (x, bias)
    };
    conv1d(x, weight.val(), bias)
}

/// [`conv1d`] by burn: a pointwise convolution as a matmul over channels, others by `conv1d`.
pub fn reference(x: Tensor<3>, weight: Tensor<3>, bias: Tensor<1>) -> Tensor<3> {
    let [d_out, d_in, k] = weight.dims();
    if k == 1 {
        let [b, _, n] = x.dims();
        let w = weight.reshape([d_out, d_in]).transpose();
        let y = x.swap_dims(1, 2).reshape([b * n, d_in]).matmul(w) + bias.reshape([1, d_out]);
        return y.reshape([b, n, d_out]).swap_dims(1, 2);
    }
    burn_conv1d(
        x,
        weight,
        Some(bias),
        ConvOptions::new([1], [k / 2], [1], 1),
    )
}
