//! The optimiser: AdamW with its moments kept by parameter path, global-norm gradient clipping
//! and the warmup + cosine learning-rate schedule.
//!
//! * AdamW is burn-optim's (`AdamW` as an `Optimizer`, β = 0.9/0.999, ε = 1e-8 like torch),
//!   stepped parameter by parameter here with the moments kept by parameter path, because
//!   `ModuleOptimizer::load_record` rebuilds states on `Device::default()` (wgpu in this
//!   workspace) and keys them by random `ParamId`s; keeping them here makes a checkpoint a plain
//!   safetensors file and a resume exact.
//! * The learning rate is burn-optim's schedulers: linear warmup then cosine annealing
//!   (`SequentialLrScheduler`), replayed step by step on resume.
//! * Gradient clipping is on the global norm over all trained parameters (torch's
//!   `clip_grad_norm_`); burn's `GradientClipping::Norm` clips each parameter separately.

use std::collections::BTreeMap;

use burn::lr_scheduler::LrSchedulerConfig;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::{AdaptiveMomentumState, AdamW, AdamWConfig, AdamWState, GradientsParams, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::Isoformer;
use isoformer_model::weights::{DtypeError, to_f32};

use crate::error::TrainError;
use crate::options::TrainOptions;
use crate::params::{TrainedParam, param_id};
use crate::save::safetensors_bytes;

/// AdamW, its moments, the schedule and the clipping bound of one run.
pub struct Optimiser {
    adam: AdamW,
    moments: BTreeMap<String, Moments>,
    schedule: ModuleLrScheduler,
    clip: Option<f64>,
    trained: Vec<TrainedParam>,
}

impl Optimiser {
    /// A fresh optimiser for a run of `total_steps` over the `trained` parameters.
    pub fn new(o: &TrainOptions, total_steps: usize, trained: Vec<TrainedParam>) -> Result<Self, TrainError> {
        let adam = AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).with_weight_decay(o.weight_decay).build();
        Ok(Self { adam, moments: BTreeMap::new(), schedule: scheduler(o, total_steps)?, clip: o.clip_grad_norm, trained })
    }

    /// Continue after `steps` steps from saved moments ([`Optimiser::record`]'s bytes), kept on
    /// `device`; the schedule is replayed to the same point.
    pub fn resume(&mut self, record: &[u8], steps: usize, device: &Device) -> Result<(), MomentsError> {
        self.moments = load_moments(record, device)?;
        for _ in 0..steps {
            self.schedule.step();
        }
        Ok(())
    }

    pub fn trained(&self) -> &[TrainedParam] {
        &self.trained
    }

    /// Back-propagate `loss`, clip, and take one AdamW step at the schedule's next learning
    /// rate, which is returned with the updated model.
    pub fn step(&mut self, model: Isoformer, loss: Tensor<1>) -> (Isoformer, f64) {
        let mut grads = loss.backward();
        let mut gp = GradientsParams::from_module(&mut grads, &model);
        if let Some(max) = self.clip {
            clip_global_norm(&mut gp, &self.trained, max);
        }
        let lr = self.schedule.step().base();
        let mut step = AdamStep { path: Vec::new(), adam: &self.adam, lr, grads: &mut gp, moments: &mut self.moments };
        (model.map(&mut step), lr)
    }

    /// The moments as a safetensors file: `PATH.time`, `PATH.moment_1`, `PATH.moment_2`
    /// (flattened) for every parameter stepped so far.
    pub fn record(&self) -> Result<Vec<u8>, TrainError> {
        let read = |x: &Tensor<1>| x.clone().into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
        let mut t = Vec::new();
        for (path, s) in &self.moments {
            let m1 = read(&s.m1);
            t.push((format!("{path}.time"), vec![1], vec![s.time as f32]));
            t.push((format!("{path}.moment_1"), vec![m1.len()], m1));
            let m2 = read(&s.m2);
            t.push((format!("{path}.moment_2"), vec![m2.len()], m2));
        }
        safetensors_bytes(&t)
    }
}

/// Saved moments that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum MomentsError {
    #[error("not a safetensors file")]
    File(#[source] safetensors::SafeTensorError),
    #[error("no tensor `{name}`")]
    Missing {
        name: String,
        #[source]
        source: safetensors::SafeTensorError,
    },
    #[error("`{name}`: cannot decode")]
    Values {
        name: String,
        #[source]
        source: DtypeError,
    },
    #[error("`{name}` is empty")]
    Empty { name: String },
}

/// AdamW moments of one parameter, flattened.
#[derive(Clone)]
struct Moments {
    time: usize,
    m1: Tensor<1>,
    m2: Tensor<1>,
}

fn load_moments(bytes: &[u8], device: &Device) -> Result<BTreeMap<String, Moments>, MomentsError> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(MomentsError::File)?;
    let get = |name: &str| -> Result<Vec<f32>, MomentsError> {
        let t = st.tensor(name).map_err(|source| MomentsError::Missing { name: name.to_string(), source })?;
        to_f32(t.dtype(), t.data()).map_err(|source| MomentsError::Values { name: name.to_string(), source })
    };
    let tensor = |v: Vec<f32>| {
        let n = v.len();
        Tensor::<1>::from_data(TensorData::new(v, [n]), device)
    };
    let mut out = BTreeMap::new();
    for name in st.names() {
        let Some(path) = name.strip_suffix(".time") else { continue };
        let time = *get(name)?.first().ok_or_else(|| MomentsError::Empty { name: name.to_string() })? as usize;
        let m1 = get(&format!("{path}.moment_1"))?;
        let m2 = get(&format!("{path}.moment_2"))?;
        out.insert(path.to_string(), Moments { time, m1: tensor(m1), m2: tensor(m2) });
    }
    Ok(out)
}

/// One AdamW step over every parameter that has a gradient.
struct AdamStep<'a> {
    path: Vec<String>,
    adam: &'a AdamW,
    lr: f64,
    grads: &'a mut GradientsParams,
    moments: &'a mut BTreeMap<String, Moments>,
}

impl ModuleMapper for AdamStep<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let path = self.path.join(".");
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let state = self.moments.remove(&path).map(|m| AdamWState {
            momentum: AdaptiveMomentumState {
                time: m.time,
                moment_1: m.m1.reshape(dims),
                moment_2: m.m2.reshape(dims),
                max_moment_2: None,
            },
        });
        let (updated, state) = self.adam.step(self.lr, tensor.inner(), grad, state);
        let state = state.expect("AdamW keeps a state");
        self.moments.insert(
            path,
            Moments {
                time: state.momentum.time,
                m1: state.momentum.moment_1.reshape([n]),
                m2: state.momentum.moment_2.reshape([n]),
            },
        );
        Param::from_mapped_value(id, Tensor::from_inner(updated).require_grad(), mapper)
    }
}

/// Scale all gradients by `min(1, max / ‖g‖₂)`, the norm taken over every trained parameter.
fn clip_global_norm(gp: &mut GradientsParams, trained: &[TrainedParam], max: f64) {
    fn sq<const D: usize>(gp: &GradientsParams, id: ParamId) -> f64 {
        gp.get::<D>(id).map(|g| g.square().sum().into_data().convert::<f64>().try_into_vec::<f64>().expect("scalar")[0]).unwrap_or(0.0)
    }
    fn scale<const D: usize>(gp: &mut GradientsParams, id: ParamId, c: f64) {
        if let Some(g) = gp.remove::<D>(id) {
            gp.register::<D>(id, g.mul_scalar(c));
        }
    }
    let ids: Vec<(ParamId, usize)> = trained.iter().map(|p| (param_id(&p.path), p.rank)).collect();
    let mut total = 0.0;
    for &(id, d) in &ids {
        total += match d {
            1 => sq::<1>(gp, id),
            2 => sq::<2>(gp, id),
            3 => sq::<3>(gp, id),
            4 => sq::<4>(gp, id),
            _ => 0.0,
        };
    }
    let norm = total.sqrt();
    if norm > max {
        let c = max / (norm + 1e-6);
        for &(id, d) in &ids {
            match d {
                1 => scale::<1>(gp, id, c),
                2 => scale::<2>(gp, id, c),
                3 => scale::<3>(gp, id, c),
                4 => scale::<4>(gp, id, c),
                _ => {}
            }
        }
    }
}

/// Warmup (linear from `lr / warmup` to `lr`) then cosine annealing to `min_lr`.
fn scheduler(o: &TrainOptions, total_steps: usize) -> Result<ModuleLrScheduler, TrainError> {
    let bad = |message: String| TrainError::Schedule { message };
    let cosine_steps = total_steps.saturating_sub(o.warmup_steps).max(1);
    let cosine = CosineAnnealingLrSchedulerConfig::new(o.learning_rate, cosine_steps).with_min_lr(o.min_learning_rate);
    if o.warmup_steps < 2 {
        return cosine.init().map_err(bad);
    }
    let warm = LinearLrSchedulerConfig::new(o.learning_rate / o.warmup_steps as f64, o.learning_rate, o.warmup_steps - 1);
    SequentialLrSchedulerConfig::new(vec![LrSchedulerConfig::Linear(warm), LrSchedulerConfig::Cosine(cosine)], vec![o.warmup_steps])
        .init()
        .map_err(bad)
}

/// The learning rates of steps `0..n` (for the record and tests).
pub fn learning_rates(o: &TrainOptions, total_steps: usize, n: usize) -> Result<Vec<f64>, TrainError> {
    let mut s = scheduler(o, total_steps)?;
    Ok((0..n).map(|_| s.step().base()).collect())
}

#[cfg(test)]
mod tests {
    use isoformer_model::config::TargetFunction;

    use super::*;
    use crate::options::TrainParts;

    fn opts(warmup: usize) -> TrainOptions {
        TrainOptions {
            parts: TrainParts::FusionHead,
            epochs: 1,
            batch_size: 1,
            learning_rate: 1e-3,
            min_learning_rate: 0.0,
            warmup_steps: warmup,
            weight_decay: 0.0,
            clip_grad_norm: None,
            seed: 0,
            target_function: TargetFunction::None,
            standardize: false,
            new_head: false,
            checkpoint_every: 0,
        }
    }

    #[test]
    fn warmup_then_cosine() {
        let lr = learning_rates(&opts(4), 14, 14).unwrap();
        // warmup: 1/4, 2/4, 3/4, 4/4 of the peak
        for (i, want) in [0.25e-3, 0.5e-3, 0.75e-3].iter().enumerate() {
            assert!((lr[i] - want).abs() < 1e-12, "step {i}: {}", lr[i]);
        }
        // cosine from the peak over the 10 remaining steps: lr_k = 0.5·peak·(1 + cos(πk/10))
        for k in 0..10 {
            let want = 0.5e-3 * (1.0 + (std::f64::consts::PI * k as f64 / 10.0).cos());
            assert!((lr[4 + k] - want).abs() < 1e-12, "cosine step {k}: {} vs {want}", lr[4 + k]);
        }
    }
}
