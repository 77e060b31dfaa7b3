//! Matrix products: burn's, or on WebGPU adapters that run on the CPU `shaders/matmul.wgsl`.
//!
//! burn's wgpu matmul tiles through workgroup memory with barriers: right for GPUs, and 6× slower
//! than a register-blocked kernel without barriers on SwiftShader (Chromium's WebGPU without a
//! GPU; benches/README.md). Every matrix product of the model goes through [`matmul`] or
//! [`linear`], which take the kernel when [`super::use_register_kernels`] says so and burn's
//! matmul otherwise (the reference, which the PyTorch parity tests pin). With
//! [`super::set_int8_compute`] on, Linear layers with int8 weights run [`super::cpu_int8`] on the CPU.

use burn::nn::Linear;
use burn::tensor::Tensor;

/// `a (…, m, k)` · `b (…, k, n)` → `(…, m, n)`, with the same leading dimensions (or all 1 on
/// one side: broadcast).
pub fn matmul<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "wgsl")]
    if super::use_register_kernels(&a.device()) {
        return kernel(a, b);
    }
    reference(a, b)
}

/// [`matmul`] by burn.
pub fn reference<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    a.matmul(b)
}

/// `x (…, in) · weight [in, out]` for a weight parameter (as [`linear`] without a bias): with
/// [`super::set_int8_compute`] on and int8 weights, [`super::cpu_int8`] on the CPU.
pub fn by_weight<const D: usize>(x: Tensor<D>, weight: &burn::module::Param<Tensor<2>>) -> Tensor<D> {
    #[cfg(not(target_family = "wasm"))]
    let x = if super::use_int8(&x.device()) {
        match super::cpu_int8::product(weight, None, x) {
            Ok(y) => return y,
            Err(x) => x,
        }
    } else {
        x
    };
    let [d_in, d_out] = weight.dims();
    let mut dims = x.dims();
    let rows = dims[..D - 1].iter().product::<usize>();
    dims[D - 1] = d_out;
    matmul(x.reshape([rows, d_in]), weight.val()).reshape(dims)
}

/// burn's `Linear` layer (weight `[in, out]`, optional bias) on `x (…, in)`: on the CPU backend
/// [`super::cpu_gemm::linear`] (in int8 where [`super::set_int8_compute`] is on and the weight is
/// int8), else through [`matmul`].
pub fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    if super::cpu::runs_on(&x.device()) {
        return super::cpu_gemm::linear(layer, x);
    }
    #[cfg(feature = "wgsl")]
    if super::use_register_kernels(&x.device()) {
        let dims = x.dims();
        let d_in = dims[D - 1];
        let rows = dims[..D - 1].iter().product::<usize>();
        let w = layer.weight.val();
        let d_out = w.dims()[1];
        let mut y = kernel(x.reshape([1, rows, d_in]), w.unsqueeze::<3>());
        if let Some(bias) = &layer.bias {
            y = y + bias.val().reshape([1, 1, d_out]);
        }
        let mut out = dims;
        out[D - 1] = d_out;
        return y.reshape(out);
    }
    layer.forward(x)
}

#[cfg(feature = "wgsl")]
fn kernel<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    use super::wgsl::WgslKernels;
    assert!(D >= 2, "a matrix product of matrices");
    let (da, db) = (a.dims(), b.dims());
    let (m, k, n) = (da[D - 2], da[D - 1], db[D - 1]);
    let za = da[..D - 2].iter().product::<usize>();
    let zb = db[..D - 2].iter().product::<usize>();
    if da[..D - 2] != db[..D - 2] && za != 1 && zb != 1 {
        // A partial broadcast (e.g. (b, h, …) · (1, h, …)): burn's.
        return reference(a, b);
    }
    let a3: Tensor<3> = a.reshape([za, m, k]);
    let b3: Tensor<3> = b.reshape([zb, k, n]);
    let out = Tensor::<3>::from_dispatch(<burn::backend::Dispatch as WgslKernels>::matmul(
        a3.into_dispatch(),
        b3.into_dispatch(),
    ));
    let mut shape = if za >= zb { da } else { db };
    shape[D - 2] = m;
    shape[D - 1] = n;
    out.reshape(shape)
}
