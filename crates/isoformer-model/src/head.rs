//! The head: mean of the fused DNA embeddings over bins `[pool_window_start, pool_window_end)`,
//! then a chain of Linear layers with an activation between consecutive layers (none after the
//! last). The official head is not public: its layer sizes come from the checkpoint (the Linear
//! layers that are neither encoder nor fusion, chained by shape from 2·enformer_dim to the
//! number of outputs); the activation, which weights cannot show, from
//! `isoformer_head_activation` (default softplus). See models/README.md.
//!
//! A model trained by `isoformer train` may carry a [`TargetTransform`] (`config.json`,
//! `isoformer_target_transform`): [`Head::forward`] applies its inverse so predictions come out
//! in the training file's units; [`Head::forward_raw`] is the fitted output (training uses it).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData, activation};

use crate::config::{HeadActivation, TargetFunction, TargetTransform};
use crate::kernels::matmul::linear;
use crate::weights::Loader;

#[derive(Module, Debug)]
pub struct Head {
    pub layers: Vec<Linear>,
    #[module(skip)]
    pub activation: HeadActivation,
    pub pool_start: usize,
    pub pool_end: usize,
    /// Undone on the raw outputs by [`Head::forward`]; `None` = identity.
    #[module(skip)]
    pub transform: Option<TargetTransform>,
}

impl Head {
    /// `layers` are `(name prefix, in, out)` in order.
    pub fn load(l: &mut Loader, layers: &[(String, usize, usize)], activation: HeadActivation, pool: (usize, usize)) -> Self {
        Self {
            layers: layers.iter().map(|(p, i, o)| l.linear(p, *i, *o, true)).collect(),
            activation,
            pool_start: pool.0,
            pool_end: pool.1,
            transform: None,
        }
    }

    pub fn outputs(&self) -> usize {
        self.layers.last().map(|l| l.weight.dims()[1]).unwrap_or(0)
    }

    /// `(b, bins, D)` → `(b, outputs)` in the units of the training targets (the inverse of
    /// [`Head::transform`] applied to [`Head::forward_raw`]).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let raw = self.forward_raw(x);
        match &self.transform {
            Some(t) if !t.is_identity() => Self::untransform(t, raw),
            _ => raw,
        }
    }

    /// `f⁻¹(raw · std + mean)` on `(b, outputs)`.
    pub fn untransform(t: &TargetTransform, raw: Tensor<2>) -> Tensor<2> {
        let [_, n] = raw.dims();
        let device = raw.device();
        let mut h = raw;
        if let (Some(m), Some(s)) = (&t.mean, &t.std) {
            let row = |v: &Vec<f32>| Tensor::<2>::from_data(TensorData::new(v.clone(), [1, n]), &device);
            h = h * row(s) + row(m);
        }
        match t.transform {
            TargetFunction::Log1p => h.exp().sub_scalar(1.0),
            TargetFunction::None => h,
        }
    }

    /// `(b, bins, D)` → `(b, outputs)`, the head's own output (the space training fits).
    pub fn forward_raw(&self, x: Tensor<3>) -> Tensor<2> {
        let [b, _, d] = x.dims();
        let pooled = x.slice([0..b, self.pool_start..self.pool_end, 0..d]).mean_dim(1).reshape([b, d]);
        self.forward_pooled(pooled)
    }

    /// The Linear chain on already pooled `(b, D)` embeddings (raw outputs).
    pub fn forward_pooled(&self, pooled: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len().saturating_sub(1);
        let mut h = pooled;
        for (i, layer) in self.layers.iter().enumerate() {
            h = linear(layer, h);
            if i < last {
                h = match self.activation {
                    HeadActivation::Softplus => activation::softplus(h, 1.0),
                    HeadActivation::Relu => activation::relu(h),
                    HeadActivation::Tanh => activation::tanh(h),
                    HeadActivation::Gelu => activation::gelu(h),
                };
            }
        }
        h
    }
}
