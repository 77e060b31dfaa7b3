//! The head: mean of the fused DNA embeddings over bins `[pool_window_start, pool_window_end)`,
//! then a chain of Linear layers with an activation between consecutive layers (none after the
//! last). The official head is not public: its layer sizes come from the checkpoint (the Linear
//! layers that are neither encoder nor fusion, chained by shape from 2·enformer_dim to the
//! number of outputs); the activation, which weights cannot show, from
//! `isoformer_head_activation` (default softplus). See models/README.md.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, activation};

use crate::config::HeadActivation;
use crate::weights::Loader;

#[derive(Module, Debug)]
pub struct Head {
    pub layers: Vec<Linear>,
    #[module(skip)]
    pub activation: HeadActivation,
    pub pool_start: usize,
    pub pool_end: usize,
}

impl Head {
    /// `layers` are `(name prefix, in, out)` in order.
    pub fn load(l: &mut Loader, layers: &[(String, usize, usize)], activation: HeadActivation, pool: (usize, usize)) -> Self {
        Self {
            layers: layers.iter().map(|(p, i, o)| l.linear(p, *i, *o, true)).collect(),
            activation,
            pool_start: pool.0,
            pool_end: pool.1,
        }
    }

    pub fn outputs(&self) -> usize {
        self.layers.last().map(|l| l.weight.dims()[1]).unwrap_or(0)
    }

    /// `(b, bins, D)` → `(b, outputs)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let [b, _, d] = x.dims();
        let pooled = x.slice([0..b, self.pool_start..self.pool_end, 0..d]).mean_dim(1).reshape([b, d]);
        let last = self.layers.len().saturating_sub(1);
        let mut h = pooled;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
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
