//! Small layers shared by the encoders, in PyTorch's eval-mode semantics.

use burn::module::{Module, Param};
use burn::tensor::{Tensor, activation};

use crate::weights::Loader;

/// `nn.LayerNorm` over the last dimension (biased variance, eps inside the square root).
#[derive(Module, Debug)]
pub struct LayerNorm {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub eps: f64,
}

impl LayerNorm {
    pub fn load(l: &mut Loader, prefix: &str, dim: usize, eps: f64) -> Self {
        Self {
            weight: l.param(&format!("{prefix}.weight"), [dim]),
            bias: l.param(&format!("{prefix}.bias"), [dim]),
            eps,
        }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if crate::kernels::cpu::runs_on(&x.device()) {
            return self.forward_cpu(x);
        }
        let mean = x.clone().mean_dim(D - 1);
        let centered = x - mean;
        let var = centered.clone().square().mean_dim(D - 1);
        let normed = centered / var.add_scalar(self.eps).sqrt();
        let shape = broadcast_shape::<D>(self.weight.dims()[0]);
        normed * self.weight.val().reshape(shape) + self.bias.val().reshape(shape)
    }

    /// [`forward`](Self::forward) on the CPU backend: one pass per row
    /// ([`crate::kernels::cpu_elementwise::layer_norm_rows`]).
    fn forward_cpu<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        use crate::kernels::cpu::{flex, values};
        let (device, shape) = (x.device(), x.shape());
        let xt = flex(x);
        let xs = values(&xt);
        let mut out = vec![0f32; xs.len()];
        self.rows(&xs, &mut out);
        drop(xs);
        Tensor::from_data(burn::tensor::TensorData::new(out, shape), &device)
    }

    /// [`forward`](Self::forward) on row-major rows of the CPU backend's values (the caller
    /// checked [`crate::kernels::cpu::runs_on`]).
    pub fn rows(&self, x: &[f32], out: &mut [f32]) {
        use crate::kernels::cpu::{flex, values};
        let (wt, bt) = (flex(self.weight.val()), flex(self.bias.val()));
        crate::kernels::cpu_elementwise::layer_norm_rows(x, &values(&wt), &values(&bt), self.eps as f32, out);
    }
}

/// `[1, …, 1, n]` for broadcasting a vector over the last dimension.
fn broadcast_shape<const D: usize>(n: usize) -> [usize; D] {
    let mut s = [1; D];
    s[D - 1] = n;
    s
}

/// `nn.BatchNorm1d` in eval mode on `(batch, channels, length)`: running statistics.
#[derive(Module, Debug)]
pub struct BatchNorm {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub running_mean: Param<Tensor<1>>,
    pub running_var: Param<Tensor<1>>,
    pub eps: f64,
}

impl BatchNorm {
    pub fn load(l: &mut Loader, prefix: &str, dim: usize) -> Self {
        // enformer-pytorch uses nn.BatchNorm1d's default eps (1e-5).
        Self {
            weight: l.param(&format!("{prefix}.weight"), [dim]),
            bias: l.param(&format!("{prefix}.bias"), [dim]),
            running_mean: l.param(&format!("{prefix}.running_mean"), [dim]),
            running_var: l.param(&format!("{prefix}.running_var"), [dim]),
            eps: 1e-5,
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let c = self.weight.dims()[0];
        let (scale, shift) = self.scale_shift();
        x * scale.reshape([1, c, 1]) + shift.reshape([1, c, 1])
    }

    /// The per-channel `(scale, shift)` with `forward(x) = x · scale + shift`.
    pub fn scale_shift(&self) -> (Tensor<1>, Tensor<1>) {
        let inv_std = self.running_var.val().add_scalar(self.eps).sqrt().recip();
        let scale = self.weight.val() * inv_std;
        let shift = self.bias.val() - self.running_mean.val() * scale.clone();
        (scale, shift)
    }
}

/// `nn.Conv1d(in, out, k, padding = k // 2)` on `(batch, channels, length)`.
#[derive(Module, Debug)]
pub struct Conv1d {
    /// `[out, in, k]`, PyTorch's layout.
    pub weight: Param<Tensor<3>>,
    pub bias: Param<Tensor<1>>,
}

impl Conv1d {
    pub fn load(l: &mut Loader, prefix: &str, d_in: usize, d_out: usize, k: usize) -> Self {
        Self {
            weight: l.param(&format!("{prefix}.weight"), [d_out, d_in, k]),
            bias: l.param(&format!("{prefix}.bias"), [d_out]),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        crate::kernels::conv1d::layer(x, &self.weight, self.bias.val())
    }
}

/// `x · sigmoid(1.702 x)`: enformer-pytorch's `GELU` (enformer_pytorch/modeling_enformer.py,
/// class GELU), not the erf GELU.
pub fn gelu_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activation::sigmoid(x.clone().mul_scalar(1.702)) * x
}

/// `x · ½(1 + erf(x/√2))`: transformers' ESM `gelu` (models/esm/modeling_esm.py).
pub fn gelu_erf<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if crate::kernels::cpu::runs_on(&x.device()) {
        return crate::kernels::cpu_elementwise::gelu_erf(x);
    }
    activation::gelu(x)
}
