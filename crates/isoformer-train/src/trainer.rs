//! The training loop on burn's autodiff.
//!
//! * What is trained ([`TrainParts`]): the other parts' parameters stop requiring gradients
//!   (`no_grad`), so they get none and the optimizer never sees them; BatchNorm running
//!   statistics are never trained (Enformer stays in inference mode, as upstream fine-tuning
//!   does). Frozen encoders' outputs come from the embedding cache ([`crate::cache`]).
//! * AdamW is burn-optim's (`AdamW` as an `Optimizer`, β = 0.9/0.999, ε = 1e-8 like torch),
//!   stepped parameter by parameter here with the moments kept by parameter path, because
//!   `ModuleOptimizer::load_record` rebuilds states on `Device::default()` (wgpu in this
//!   workspace) and keys them by random `ParamId`s; keeping them here makes a checkpoint a plain
//!   safetensors file and a resume exact. Parameter ids are derived from their paths.
//! * The learning rate is burn-optim's schedulers: linear warmup then cosine annealing
//!   (`SequentialLrScheduler`), replayed step by step on resume.
//! * Gradient clipping is on the global norm over all trained parameters (torch's
//!   `clip_grad_norm_`); burn's `GradientClipping::Norm` clips each parameter separately.
//! * Loss: MSE over examples × outputs in the transformed target space.
//! * Determinism: batches are drawn from a per-epoch permutation seeded by `(seed, epoch)`;
//!   frozen embeddings are computed one example at a time (so their bits do not depend on what
//!   else is in a batch, cached or not); new head layers are seeded from their names and the seed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::lr_scheduler::LrSchedulerConfig;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::{AdaptiveMomentumState, AdamW, AdamWConfig, AdamWState, GradientsParams, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::config::{TargetFunction, TargetTransform};
use isoformer_model::head::Head;
use isoformer_model::model::{Encoded, Layout};
use isoformer_model::weights::{Loader, SafetensorsSource, TensorSource, fnv1a64, seeded_values};
use isoformer_model::{Isoformer, IsoformerConfig, ModelFiles};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::{Cache, hex, key, params_hash};
use crate::metrics;
use crate::split::SplitMix64;

/// Which parts learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainParts {
    /// The head only; everything before it is frozen (its pooled input is cached).
    Head,
    /// Cross-attention fusion and head; the three encoders are frozen (their outputs cached).
    FusionHead,
    /// Everything (no cache).
    All,
}

impl TrainParts {
    /// Whether the parameter at `path` (burn field path, e.g. `fusion.rna.query.weight`) learns.
    pub fn trains(self, path: &str) -> bool {
        if path.ends_with("running_mean") || path.ends_with("running_var") {
            return false;
        }
        match self {
            TrainParts::Head => path.starts_with("head."),
            TrainParts::FusionHead => path.starts_with("head.") || path.starts_with("fusion."),
            TrainParts::All => true,
        }
    }
}

/// Everything that decides the result of a run (saved in checkpoints and the training record;
/// a resume must be given the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub parts: TrainParts,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub min_learning_rate: f64,
    pub warmup_steps: usize,
    pub weight_decay: f32,
    /// Global gradient-norm bound; `None` = no clipping.
    pub clip_grad_norm: Option<f64>,
    pub seed: u64,
    pub target_function: TargetFunction,
    pub standardize: bool,
    /// Replace the head's last layer even when the output count matches.
    pub new_head: bool,
    /// Save a checkpoint every this many steps (0: only at the end of each epoch).
    pub checkpoint_every: usize,
}

/// One training or validation example: model inputs and targets in data units.
#[derive(Debug, Clone)]
pub struct Sample {
    pub encoded: Encoded,
    pub targets: Vec<f32>,
}

/// What the loop reports as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    /// Computing frozen embeddings before the first step: `done` of `total` examples.
    Features { done: usize, total: usize },
    Started { total_steps: usize, first_step: usize },
    Step { epoch: usize, step: usize, lr: f64, loss: f64 },
    Epoch { epoch: usize, step: usize, train_loss: f64, valid_loss: Option<f64>, valid_mean_r2: Option<f64> },
    Checkpoint { step: usize, dir: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

/// The run's result.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub steps: usize,
    pub examples_seen: usize,
    pub seconds: f64,
    /// Training examples per second over the steps this process ran (feature computation before
    /// the first step excluded; see `feature_seconds`).
    pub examples_per_second: f64,
    pub feature_seconds: f64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub final_valid_loss: Option<f64>,
    pub final_valid: Option<metrics::Report>,
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let done = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done.map_err(io(path))
}

/// `(name, shape, values)` as a safetensors file (f32).
pub fn safetensors_bytes(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Result<Vec<u8>, TrainError> {
    use safetensors::tensor::TensorView;
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| TrainError::Invalid(format!("tensor {n}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, None).map_err(|e| TrainError::Invalid(format!("serialising weights: {e}")))
}

/// `model.safetensors` bytes of a model (standard names, PyTorch layout).
pub fn model_bytes(model: &Isoformer, cfg: &IsoformerConfig) -> Result<Vec<u8>, TrainError> {
    let tensors = model.named_tensors(cfg).map_err(|e| TrainError::Invalid(format!("saving the model: {e}")))?;
    safetensors_bytes(&tensors)
}

/// Write a model directory: `config.json` (the base file's other fields kept), weights and the
/// three vocabulary files.
pub fn write_model_dir(dir: &Path, base: &ModelFiles, cfg: &IsoformerConfig, model: &Isoformer) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut json: serde_json::Value = serde_json::from_str(&base.config_json).unwrap_or(serde_json::json!({}));
    let ours = serde_json::to_value(cfg).map_err(|e| TrainError::Invalid(e.to_string()))?;
    if let (Some(obj), serde_json::Value::Object(fields)) = (json.as_object_mut(), ours) {
        for k in ["isoformer_output_names", "isoformer_target_transform"] {
            obj.remove(k);
        }
        obj.extend(fields);
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| TrainError::Invalid(e.to_string()))? + "\n";
    write_atomic(&dir.join(ModelFiles::WEIGHTS), &model_bytes(model, cfg)?)?;
    write_atomic(&dir.join("dna_vocab_list.txt"), base.dna_vocab.as_bytes())?;
    write_atomic(&dir.join("rna_vocab_list.txt"), base.rna_vocab.as_bytes())?;
    write_atomic(&dir.join("protein_vocab_list.txt"), base.protein_vocab.as_bytes())?;
    write_atomic(&dir.join(ModelFiles::CONFIG), text.as_bytes())
}

/// Parameter values drawn from their names and a seed (as `SeededSource`, mixed with the seed).
struct SeededWith(u64);

impl TensorSource for SeededWith {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    fn shape(&self, _name: &str) -> Option<Vec<usize>> {
        None
    }
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        Ok(seeded_values(&format!("{name}#seed={}", self.0), shape))
    }
}

/// Give every parameter an id derived from its path and set which ones require gradients.
struct Prepare {
    path: Vec<String>,
    parts: TrainParts,
    trained: Vec<(String, usize)>,
}

impl ModuleMapper for Prepare {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.join(".");
        let trains = self.parts.trains(&path);
        if trains {
            self.trained.push((path.clone(), D));
        }
        let (_, tensor, mapper) = param.consume();
        Param::from_mapped_value(ParamId::from(fnv1a64(&path)), tensor, mapper).set_require_grad(trains)
    }
}

/// AdamW moments of one parameter, flattened.
#[derive(Clone)]
struct Moments {
    time: usize,
    m1: Tensor<1>,
    m2: Tensor<1>,
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

/// Frozen inputs of one example, as the trained part consumes them.
enum Frozen {
    /// Head only: the fused DNA embeddings averaged over the pool window `(D)`.
    Pooled(Vec<f32>),
    /// Fusion + head: Enformer `(bins, D)`, NT `(r, E1)`, ESM `(p, E2)` outputs.
    Encoders { dna: (Vec<usize>, Vec<f32>), rna: (Vec<usize>, Vec<f32>), protein: (Vec<usize>, Vec<f32>) },
}

/// Computes (or reads from the cache) the frozen encoders' outputs.
struct Features {
    cache: Cache,
    frozen: Isoformer,
    /// Hash of the frozen parameters each kind depends on.
    hashes: BTreeMap<&'static str, [u8; 32]>,
    pool: (usize, usize),
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn read3(t: Tensor<3>) -> (Vec<usize>, Vec<f32>) {
    let [_, a, b] = t.dims();
    (vec![a, b], t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data"))
}

impl Features {
    fn new(model: &Isoformer, cfg: &IsoformerConfig, parts: TrainParts, cache: Cache) -> Self {
        let frozen = model.clone().valid();
        let mut hashes = BTreeMap::new();
        let digest = |f: &dyn Fn(&mut Sha256)| -> [u8; 32] {
            let mut h = Sha256::new();
            f(&mut h);
            h.finalize().into()
        };
        match parts {
            TrainParts::Head => {
                hashes.insert(
                    "pooled",
                    digest(&|h| {
                        params_hash(&frozen.enformer, h);
                        params_hash(&frozen.nt, h);
                        params_hash(&frozen.esm, h);
                        params_hash(&frozen.fusion, h);
                        h.update((cfg.pool_window_start as u64).to_le_bytes());
                        h.update((cfg.pool_window_end as u64).to_le_bytes());
                        h.update((cfg.num_heads_omics_cross_attention as u64).to_le_bytes());
                    }),
                );
            }
            TrainParts::FusionHead => {
                hashes.insert("dna", digest(&|h| params_hash(&frozen.enformer, h)));
                hashes.insert("rna", digest(&|h| params_hash(&frozen.nt, h)));
                hashes.insert("protein", digest(&|h| params_hash(&frozen.esm, h)));
            }
            TrainParts::All => {}
        }
        Self { cache, frozen, hashes, pool: (cfg.pool_window_start, cfg.pool_window_end) }
    }

    fn device(&self) -> Device {
        self.frozen.head.layers[0].weight.device()
    }

    fn dna_tensor(&self, e: &Encoded) -> Tensor<3> {
        Tensor::from_data(TensorData::new(e.dna_one_hot.clone(), [1, e.dna_len, 4]), &self.device())
    }

    fn get(&mut self, parts: TrainParts, e: &Encoded) -> Result<Frozen, TrainError> {
        let dir = self.cache.dir().map(Path::to_path_buf).unwrap_or_default();
        let err = |source| TrainError::Io { path: dir.clone(), source };
        match parts {
            TrainParts::Head => {
                let mut input = f32_bytes(&e.dna_one_hot);
                input.extend(u32_bytes(&e.rna_tokens));
                input.extend((u32::MAX).to_le_bytes());
                input.extend(u32_bytes(&e.protein_tokens));
                let k = key("pooled", &self.hashes["pooled"], &input);
                let dna = self.dna_tensor(e);
                let (frozen, pool) = (&self.frozen, self.pool);
                let (_, v) = self
                    .cache
                    .get_or(&k, || {
                        let out = frozen.forward(dna, &[e.rna_tokens.clone()], &[e.protein_tokens.clone()]);
                        let f = out.final_dna_embeddings;
                        let [b, _, d] = f.dims();
                        let pooled = f.slice([0..b, pool.0..pool.1, 0..d]).mean_dim(1).reshape([d]);
                        (vec![d], pooled.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data"))
                    })
                    .map_err(err)?;
                Ok(Frozen::Pooled(v))
            }
            TrainParts::FusionHead => {
                let kd = key("dna", &self.hashes["dna"], &f32_bytes(&e.dna_one_hot));
                let kr = key("rna", &self.hashes["rna"], &u32_bytes(&e.rna_tokens));
                let kp = key("protein", &self.hashes["protein"], &u32_bytes(&e.protein_tokens));
                let dna_in = self.dna_tensor(e);
                let frozen = &self.frozen;
                let dna = self.cache.get_or(&kd, || read3(frozen.enformer.forward(dna_in))).map_err(err)?;
                let rna = self.cache.get_or(&kr, || read3(frozen.nt.forward(&[e.rna_tokens.clone()]))).map_err(err)?;
                let protein = self.cache.get_or(&kp, || read3(frozen.esm.forward(&[e.protein_tokens.clone()]))).map_err(err)?;
                Ok(Frozen::Encoders { dna, rna, protein })
            }
            TrainParts::All => Err(TrainError::Invalid("no frozen features when training everything".into())),
        }
    }
}

/// Rows of `(len_i, width)` zero-padded to `(b, max_len, width)`, with validity masks.
fn pad(rows: &[&(Vec<usize>, Vec<f32>)], device: &Device) -> (Tensor<3>, Vec<Vec<bool>>) {
    let width = rows[0].0[1];
    let max = rows.iter().map(|r| r.0[0]).max().unwrap_or(0);
    let mut flat = vec![0f32; rows.len() * max * width];
    let mut valid = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let n = r.0[0];
        flat[i * max * width..(i * max + n) * width].copy_from_slice(&r.1);
        valid.push((0..max).map(|j| j < n).collect());
    }
    (Tensor::from_data(TensorData::new(flat, [rows.len(), max, width]), device), valid)
}

/// Raw head outputs `(b, outputs)` for a batch, on `model`'s device.
fn forward_batch(model: &Isoformer, parts: TrainParts, batch: &[&Sample], frozen: &[Frozen]) -> Tensor<2> {
    let device = model.head.layers[0].weight.device();
    match parts {
        TrainParts::All => {
            let len = batch[0].encoded.dna_len;
            let dna: Vec<f32> = batch.iter().flat_map(|s| s.encoded.dna_one_hot.iter().copied()).collect();
            let dna = Tensor::<3>::from_data(TensorData::new(dna, [batch.len(), len, 4]), &device);
            let rna: Vec<Vec<u32>> = batch.iter().map(|s| s.encoded.rna_tokens.clone()).collect();
            let protein: Vec<Vec<u32>> = batch.iter().map(|s| s.encoded.protein_tokens.clone()).collect();
            let out = model.forward(dna, &rna, &protein);
            model.head.forward_raw(out.final_dna_embeddings)
        }
        TrainParts::Head => {
            let d = match &frozen[0] {
                Frozen::Pooled(v) => v.len(),
                Frozen::Encoders { .. } => unreachable!("head features"),
            };
            let flat: Vec<f32> = frozen
                .iter()
                .flat_map(|f| match f {
                    Frozen::Pooled(v) => v.iter().copied(),
                    Frozen::Encoders { .. } => unreachable!("head features"),
                })
                .collect();
            model.head.forward_pooled(Tensor::from_data(TensorData::new(flat, [batch.len(), d]), &device))
        }
        TrainParts::FusionHead => {
            let mut dna = Vec::new();
            let mut rna = Vec::new();
            let mut protein = Vec::new();
            for f in frozen {
                let Frozen::Encoders { dna: a, rna: b, protein: c } = f else { unreachable!("encoder features") };
                dna.push(a);
                rna.push(b);
                protein.push(c);
            }
            let (dna, _) = pad(&dna, &device);
            let (rna, rna_valid) = pad(&rna, &device);
            let (protein, protein_valid) = pad(&protein, &device);
            let has_protein: Vec<bool> = batch.iter().map(|s| s.encoded.protein_tokens.len() > 2).collect();
            let fused = model.fusion.forward(dna, rna, &rna_valid, protein, &protein_valid, &has_protein);
            model.head.forward_raw(fused)
        }
    }
}

/// The per-epoch order of the training examples.
fn permutation(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ 0x5EED_0000_0000_0000 ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut p: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut p);
    p
}

/// Warmup (linear from `lr / warmup` to `lr`) then cosine annealing to `min_lr`.
fn scheduler(o: &TrainOptions, total_steps: usize) -> Result<ModuleLrScheduler, TrainError> {
    let bad = |e: String| TrainError::Invalid(format!("learning-rate schedule: {e}"));
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

/// Checkpoint state besides weights and moments.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    /// Optimizer steps done.
    step: usize,
    /// The epoch to continue in and its next batch (the batch order is a function of
    /// `(seed, epoch)`: this pair is the generator's whole state).
    epoch: usize,
    next_batch: usize,
    /// Sum of the current epoch's batch losses so far (for its mean).
    epoch_loss_sum: f64,
    options: TrainOptions,
    config: IsoformerConfig,
    /// SHA-256 of the training examples and targets: a resume must see the same data.
    data_hash: String,
}

/// Everything a run needs.
pub struct Run<'a> {
    pub base: &'a ModelFiles,
    pub train: &'a [Sample],
    pub valid: &'a [Sample],
    pub output_names: Vec<String>,
    pub options: TrainOptions,
    pub out_dir: PathBuf,
    pub cache_dir: Option<PathBuf>,
    pub resume: bool,
    /// CPU device (autodiff is added here).
    pub device: Device,
}

fn data_hash(train: &[Sample], names: &[String]) -> String {
    let mut h = Sha256::new();
    for n in names {
        h.update(n.as_bytes());
        h.update([0]);
    }
    for s in train {
        h.update(s.encoded.id.as_bytes());
        h.update([0]);
        h.update(f32_bytes(&s.encoded.dna_one_hot));
        h.update(u32_bytes(&s.encoded.rna_tokens));
        h.update(u32_bytes(&s.encoded.protein_tokens));
        h.update(f32_bytes(&s.targets));
    }
    hex(&h.finalize())
}

/// Fit the target transform on the training targets.
pub fn fit_transform(train: &[Sample], f: TargetFunction, standardize: bool) -> Result<TargetTransform, TrainError> {
    let mut t = TargetTransform { transform: f, mean: None, std: None };
    let n_out = train.first().map(|s| s.targets.len()).unwrap_or(0);
    if f == TargetFunction::Log1p {
        if let Some((s, v)) = train.iter().find_map(|s| s.targets.iter().find(|v| **v <= -1.0).map(|v| (s, v))) {
            return Err(TrainError::Invalid(format!("{}: target {v} ≤ −1 cannot take log1p (use --target-transform none)", s.encoded.id)));
        }
    }
    if standardize {
        let mut mean = vec![0f64; n_out];
        let mut sq = vec![0f64; n_out];
        for s in train {
            for (j, v) in s.targets.iter().enumerate() {
                let x = t.forward(j, *v) as f64;
                mean[j] += x;
                sq[j] += x * x;
            }
        }
        let n = train.len() as f64;
        let mean: Vec<f64> = mean.iter().map(|m| m / n).collect();
        // population std; a constant target gets std 1 (its standardised value is then 0)
        let std: Vec<f32> = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let v = (s / n - m * m).max(0.0).sqrt();
                if v > 1e-6 { v as f32 } else { 1.0 }
            })
            .collect();
        t.mean = Some(mean.iter().map(|m| *m as f32).collect());
        t.std = Some(std);
    }
    Ok(t)
}

impl Run<'_> {
    fn checkpoint_pointer(&self) -> PathBuf {
        self.out_dir.join("checkpoint.json")
    }

    /// Train; the model directory, record and log are written to `out_dir`.
    pub fn run(self, on: &mut dyn FnMut(&Event)) -> Result<Summary, TrainError> {
        let o = self.options.clone();
        if o.batch_size == 0 || o.epochs == 0 {
            return Err(TrainError::Invalid("--batch-size and --epochs must be at least 1".into()));
        }
        if self.train.is_empty() {
            return Err(TrainError::Invalid("no training examples".into()));
        }
        let n_out = self.output_names.len();
        for s in self.train.iter().chain(self.valid) {
            if s.targets.len() != n_out {
                return Err(TrainError::Invalid(format!("{}: {} targets, expected {n_out}", s.encoded.id, s.targets.len())));
            }
            if s.encoded.dna_len != self.train[0].encoded.dna_len {
                return Err(TrainError::Invalid(format!(
                    "{}: DNA length {} differs from {} (one window length per run)",
                    s.encoded.id, s.encoded.dna_len, self.train[0].encoded.dna_len
                )));
            }
        }
        std::fs::create_dir_all(&self.out_dir).map_err(io(&self.out_dir))?;
        let device = self.device.clone().autodiff();
        let hash = data_hash(self.train, &self.output_names);

        // The model: from a checkpoint when resuming, else the base model (new head if needed).
        let resumed: Option<(State, PathBuf)> = if self.resume {
            let ptr = self.checkpoint_pointer();
            let text = std::fs::read_to_string(&ptr).map_err(|e| TrainError::Checkpoint {
                path: ptr.clone(),
                message: format!("cannot resume: {e} (no checkpoint was written in this output directory)"),
            })?;
            let dir: String = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("dir").and_then(|d| d.as_str()).map(str::to_string))
                .ok_or_else(|| TrainError::Checkpoint { path: ptr.clone(), message: "no `dir` field".into() })?;
            let dir = self.out_dir.join(dir);
            let sp = dir.join("state.json");
            let st: State = serde_json::from_slice(&std::fs::read(&sp).map_err(io(&sp))?)
                .map_err(|e| TrainError::Checkpoint { path: sp.clone(), message: e.to_string() })?;
            if st.options != o {
                return Err(TrainError::Checkpoint {
                    path: sp,
                    message: format!(
                        "the checkpoint was made with other training options:\n  checkpoint: {}\n  now:        {}",
                        serde_json::to_string(&st.options).unwrap_or_default(),
                        serde_json::to_string(&o).unwrap_or_default()
                    ),
                });
            }
            if st.data_hash != hash {
                return Err(TrainError::Checkpoint { path: sp, message: "the training data differ from the checkpoint's".into() });
            }
            Some((st, dir))
        } else {
            None
        };

        let base_cfg = IsoformerConfig::from_json(&self.base.config_json)
            .map_err(|e| TrainError::Invalid(format!("config.json: {e}")))?;
        let (mut cfg, mut model) = match &resumed {
            Some((st, dir)) => {
                let wp = dir.join(ModelFiles::WEIGHTS);
                let bytes = std::fs::read(&wp).map_err(io(&wp))?;
                let src = SafetensorsSource::new(&bytes).map_err(|e| TrainError::Checkpoint { path: wp.clone(), message: e.to_string() })?;
                let model = Isoformer::load(&st.config, &src, &device).map_err(|e| TrainError::Checkpoint { path: wp, message: e.to_string() })?;
                (st.config.clone(), model)
            }
            None => {
                let src = SafetensorsSource::new(&self.base.safetensors)
                    .map_err(|e| TrainError::Invalid(format!("model.safetensors: {e}")))?;
                let mut model = Isoformer::load(&base_cfg, &src, &device).map_err(|e| TrainError::Invalid(e.to_string()))?;
                if o.new_head || model.head.outputs() != n_out {
                    let hidden = model.head_hidden();
                    let layout = Layout::standard(&base_cfg, &hidden, n_out);
                    let seeded = SeededWith(o.seed);
                    let mut l = Loader::new(&seeded, &device);
                    model.head = Head::load(&mut l, &layout.head, base_cfg.isoformer_head_activation, (base_cfg.pool_window_start, base_cfg.pool_window_end));
                    log::info!("new head {:?} → {n_out} outputs (seed {})", hidden, o.seed);
                }
                let mut cfg = base_cfg.clone();
                cfg.isoformer_output_names = Some(self.output_names.clone());
                cfg.isoformer_target_transform = Some(fit_transform(self.train, o.target_function, o.standardize)?);
                (cfg, model)
            }
        };
        let transform = cfg.isoformer_target_transform.clone().unwrap_or_default();
        cfg.isoformer_output_names = Some(self.output_names.clone());
        // Training fits the raw outputs; the inverse transform is only for predictions.
        model.head.transform = None;
        let mut prep = Prepare { path: Vec::new(), parts: o.parts, trained: Vec::new() };
        let mut model = model.map(&mut prep);
        let trained = prep.trained;
        if trained.is_empty() {
            return Err(TrainError::Invalid("nothing to train".into()));
        }

        let targets_of = |s: &Sample| -> Vec<f32> { s.targets.iter().enumerate().map(|(j, v)| transform.forward(j, *v)).collect() };
        let train_targets: Vec<Vec<f32>> = self.train.iter().map(targets_of).collect();

        let adam = AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).with_weight_decay(o.weight_decay).build();
        let mut moments: BTreeMap<String, Moments> = BTreeMap::new();
        let inner = device.clone().without_autodiff();
        let batches_per_epoch = self.train.len().div_ceil(o.batch_size);
        let total_steps = batches_per_epoch * o.epochs;
        let mut sched = scheduler(&o, total_steps)?;
        let (mut step, mut epoch, mut next_batch, mut epoch_loss_sum) = (0, 0, 0, 0.0);
        if let Some((st, dir)) = &resumed {
            let mp = dir.join("optimizer.safetensors");
            let bytes = std::fs::read(&mp).map_err(io(&mp))?;
            moments = load_moments(&bytes, &inner).map_err(|message| TrainError::Checkpoint { path: mp, message })?;
            (step, epoch, next_batch, epoch_loss_sum) = (st.step, st.epoch, st.next_batch, st.epoch_loss_sum);
            for _ in 0..step {
                sched.step();
            }
            // keep the log's rows up to the checkpoint
            let lp = self.out_dir.join("training_log.tsv");
            if let Ok(text) = std::fs::read_to_string(&lp) {
                let kept: String = text
                    .lines()
                    .enumerate()
                    .filter(|(i, l)| *i == 0 || l.split('\t').nth(2).and_then(|s| s.parse::<usize>().ok()).is_some_and(|s| s <= step))
                    .map(|(_, l)| format!("{l}\n"))
                    .collect();
                write_atomic(&lp, kept.as_bytes())?;
            }
        }

        // Frozen features, computed (or read) once up front so that throughput is measured on steps.
        let cache = Cache::new(self.cache_dir.clone()).map_err(|e| TrainError::Io { path: self.cache_dir.clone().unwrap_or_default(), source: e })?;
        let mut features = Features::new(&model, &cfg, o.parts, cache);
        let t_feat = Instant::now();
        // Without a cache directory nothing is kept: the frozen encoders run again for every batch.
        if o.parts != TrainParts::All && self.cache_dir.is_some() {
            let all: Vec<&Sample> = self.train.iter().chain(self.valid).collect();
            for (i, s) in all.iter().enumerate() {
                features.get(o.parts, &s.encoded)?;
                on(&Event::Features { done: i + 1, total: all.len() });
            }
        }
        let feature_seconds = t_feat.elapsed().as_secs_f64();

        let log_path = self.out_dir.join("training_log.tsv");
        let mut log = open_log(&log_path)?;
        on(&Event::Started { total_steps, first_step: step });
        let t0 = Instant::now();
        let mut seen = 0usize;
        let mut last_valid: Option<(f64, metrics::Report)> = None;
        while epoch < o.epochs {
            let perm = permutation(o.seed, epoch, self.train.len());
            while next_batch < batches_per_epoch {
                let idx = &perm[next_batch * o.batch_size..((next_batch + 1) * o.batch_size).min(perm.len())];
                let batch: Vec<&Sample> = idx.iter().map(|&i| &self.train[i]).collect();
                let frozen = if o.parts == TrainParts::All {
                    Vec::new()
                } else {
                    batch.iter().map(|s| features.get(o.parts, &s.encoded)).collect::<Result<Vec<_>, _>>()?
                };
                let pred = forward_batch(&model, o.parts, &batch, &frozen);
                let target: Vec<f32> = idx.iter().flat_map(|&i| train_targets[i].iter().copied()).collect();
                let target = Tensor::<2>::from_data(TensorData::new(target, [batch.len(), n_out]), &device);
                let loss = (pred - target).square().mean();
                let loss_value = loss.clone().into_data().convert::<f64>().try_into_vec::<f64>().expect("scalar")[0];
                if !loss_value.is_finite() {
                    return Err(TrainError::Invalid(format!("loss became {loss_value} at step {step}: lower --lr or set --clip-grad-norm")));
                }
                let mut grads = loss.backward();
                let mut gp = GradientsParams::from_module(&mut grads, &model);
                if let Some(max) = o.clip_grad_norm {
                    clip_global_norm(&mut gp, &trained, max);
                }
                let lr = sched.step().base();
                model = model.map(&mut AdamStep { path: Vec::new(), adam: &adam, lr, grads: &mut gp, moments: &mut moments });
                step += 1;
                next_batch += 1;
                seen += batch.len();
                epoch_loss_sum += loss_value;
                writeln!(log, "step\t{epoch}\t{step}\t{lr:.6e}\t{loss_value:.6e}\t\t\t\t{:.3}", t0.elapsed().as_secs_f64()).map_err(io(&log_path))?;
                on(&Event::Step { epoch, step, lr, loss: loss_value });
                if o.checkpoint_every > 0 && step % o.checkpoint_every == 0 && !(next_batch == batches_per_epoch) {
                    log.flush().map_err(io(&log_path))?;
                    let st = State { step, epoch, next_batch, epoch_loss_sum, options: o.clone(), config: cfg.clone(), data_hash: hash.clone() };
                    let dir = self.save_checkpoint(&model, &moments, &st)?;
                    on(&Event::Checkpoint { step, dir });
                }
            }
            let train_loss = epoch_loss_sum / batches_per_epoch as f64;
            let valid = if self.valid.is_empty() {
                None
            } else {
                Some(evaluate(&model.clone().valid(), o.parts, self.valid, &mut features, &transform, &self.output_names)?)
            };
            let (vl, vr2) = valid.as_ref().map(|(l, r)| (Some(*l), Some(r.mean_r2))).unwrap_or((None, None));
            let fmt = |v: Option<f64>| v.map(|x| format!("{x:.6e}")).unwrap_or_default();
            let vp = valid.as_ref().map(|(_, r)| r.mean_pearson);
            writeln!(log, "epoch\t{epoch}\t{step}\t\t{train_loss:.6e}\t{}\t{}\t{}\t{:.3}", fmt(vl), fmt(vr2), fmt(vp), t0.elapsed().as_secs_f64())
                .map_err(io(&log_path))?;
            log.flush().map_err(io(&log_path))?;
            on(&Event::Epoch { epoch, step, train_loss, valid_loss: vl, valid_mean_r2: vr2 });
            last_valid = valid;
            epoch += 1;
            next_batch = 0;
            epoch_loss_sum = 0.0;
            let st = State { step, epoch, next_batch, epoch_loss_sum, options: o.clone(), config: cfg.clone(), data_hash: hash.clone() };
            let dir = self.save_checkpoint(&model, &moments, &st)?;
            on(&Event::Checkpoint { step, dir });
        }
        let seconds = t0.elapsed().as_secs_f64();

        // The model directory.
        let mut final_model = model.valid();
        final_model.head.transform = Some(transform.clone());
        write_model_dir(&self.out_dir, self.base, &cfg, &final_model)?;
        let summary = Summary {
            steps: step,
            examples_seen: seen,
            seconds,
            examples_per_second: if seconds > 0.0 { seen as f64 / seconds } else { 0.0 },
            feature_seconds,
            cache_hits: features.cache.hits,
            cache_misses: features.cache.misses,
            final_valid_loss: last_valid.as_ref().map(|v| v.0),
            final_valid: last_valid.map(|v| v.1),
        };
        let record = serde_json::json!({
            "options": o,
            "output_names": self.output_names,
            "target_transform": transform,
            "train_examples": self.train.len(),
            "valid_examples": self.valid.len(),
            "train_data_sha256": hash,
            "trained_parameters": trained.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "steps": step,
            "resumed": self.resume,
            "summary_of_this_process": summary,
        });
        write_atomic(&self.out_dir.join("training.json"), (serde_json::to_string_pretty(&record).unwrap_or_default() + "\n").as_bytes())?;
        Ok(summary)
    }

    /// `checkpoint-STEP/` (model, moments, state) written under a temporary name and renamed,
    /// then `checkpoint.json` pointed at it, then older checkpoints removed.
    fn save_checkpoint(&self, model: &Isoformer, moments: &BTreeMap<String, Moments>, st: &State) -> Result<PathBuf, TrainError> {
        let name = format!("checkpoint-{:08}", st.step);
        let dir = self.out_dir.join(&name);
        let tmp = self.out_dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        write_atomic(&tmp.join(ModelFiles::WEIGHTS), &model_bytes(model, &st.config)?)?;
        write_atomic(&tmp.join("optimizer.safetensors"), &moments_bytes(moments)?)?;
        write_atomic(&tmp.join("state.json"), serde_json::to_string_pretty(st).unwrap_or_default().as_bytes())?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
        write_atomic(&self.checkpoint_pointer(), serde_json::json!({ "dir": name, "step": st.step }).to_string().as_bytes())?;
        if let Ok(entries) = std::fs::read_dir(&self.out_dir) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("checkpoint-") && n != name {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(dir)
    }
}

fn open_log(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, TrainError> {
    let exists = path.exists();
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io(path))?;
    let mut w = std::io::BufWriter::new(f);
    if !exists {
        writeln!(w, "kind\tepoch\tstep\tlr\tloss\tvalid_loss\tvalid_mean_r2\tvalid_mean_pearson\tseconds").map_err(io(path))?;
    }
    Ok(w)
}

/// Scale all gradients by `min(1, max / ‖g‖₂)`, the norm taken over every trained parameter.
fn clip_global_norm(gp: &mut GradientsParams, trained: &[(String, usize)], max: f64) {
    fn sq<const D: usize>(gp: &GradientsParams, id: ParamId) -> f64 {
        gp.get::<D>(id).map(|g| g.square().sum().into_data().convert::<f64>().try_into_vec::<f64>().expect("scalar")[0]).unwrap_or(0.0)
    }
    fn scale<const D: usize>(gp: &mut GradientsParams, id: ParamId, c: f64) {
        if let Some(g) = gp.remove::<D>(id) {
            gp.register::<D>(id, g.mul_scalar(c));
        }
    }
    let ids: Vec<(ParamId, usize)> = trained.iter().map(|(p, d)| (ParamId::from(fnv1a64(p)), *d)).collect();
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

fn moments_bytes(m: &BTreeMap<String, Moments>) -> Result<Vec<u8>, TrainError> {
    let mut t = Vec::new();
    for (path, s) in m {
        let read = |x: &Tensor<1>| x.clone().into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
        let m1 = read(&s.m1);
        t.push((format!("{path}.time"), vec![1], vec![s.time as f32]));
        t.push((format!("{path}.moment_1"), vec![m1.len()], m1));
        let m2 = read(&s.m2);
        t.push((format!("{path}.moment_2"), vec![m2.len()], m2));
    }
    safetensors_bytes(&t)
}

fn load_moments(bytes: &[u8], device: &Device) -> Result<BTreeMap<String, Moments>, String> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let get = |n: &str| -> Result<Vec<f32>, String> {
        let t = st.tensor(n).map_err(|e| format!("{n}: {e}"))?;
        isoformer_model::weights::to_f32(t.dtype(), t.data())
    };
    let mut out = BTreeMap::new();
    for name in st.names() {
        let Some(path) = name.strip_suffix(".time") else { continue };
        let time = get(name)?[0] as usize;
        let m1 = get(&format!("{path}.moment_1"))?;
        let m2 = get(&format!("{path}.moment_2"))?;
        let t = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v.clone(), [v.len()]), device);
        out.insert(path.to_string(), Moments { time, m1: t(m1), m2: t(m2) });
    }
    Ok(out)
}

/// Validation: loss in the training space, metrics in data units.
fn evaluate(
    model: &Isoformer,
    parts: TrainParts,
    data: &[Sample],
    features: &mut Features,
    transform: &TargetTransform,
    names: &[String],
) -> Result<(f64, metrics::Report), TrainError> {
    let mut preds: Vec<Vec<f32>> = Vec::with_capacity(data.len());
    let n_out = names.len();
    for chunk in data.chunks(8) {
        let batch: Vec<&Sample> = chunk.iter().collect();
        let frozen = if parts == TrainParts::All {
            Vec::new()
        } else {
            batch.iter().map(|s| features.get(parts, &s.encoded)).collect::<Result<Vec<_>, _>>()?
        };
        let raw = forward_batch(model, parts, &batch, &frozen).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
        preds.extend(raw.chunks(n_out).map(<[f32]>::to_vec));
    }
    let mut sq = 0.0;
    for (p, s) in preds.iter().zip(data) {
        for j in 0..n_out {
            sq += (p[j] as f64 - transform.forward(j, s.targets[j]) as f64).powi(2);
        }
    }
    let loss = sq / (data.len() * n_out) as f64;
    let in_units: Vec<Vec<f32>> = preds.iter().map(|p| p.iter().enumerate().map(|(j, v)| transform.inverse(j, *v)).collect()).collect();
    let obs: Vec<Vec<f32>> = data.iter().map(|s| s.targets.clone()).collect();
    Ok((loss, metrics::report(names, &in_units, &obs)))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn parts_select_parameters() {
        assert!(TrainParts::Head.trains("head.layers.0.weight"));
        assert!(!TrainParts::Head.trains("fusion.rna.query.weight"));
        assert!(TrainParts::FusionHead.trains("fusion.rna.query.weight"));
        assert!(!TrainParts::FusionHead.trains("nt.layer.0.query.weight"));
        assert!(TrainParts::All.trains("enformer.stem.conv.weight"));
        assert!(!TrainParts::All.trains("enformer.stem.residual.norm.running_var"));
    }

    #[test]
    fn transform_round_trips_and_standardises() {
        let enc = Encoded {
            id: "x".into(),
            dna_one_hot: vec![],
            dna_len: 0,
            rna_tokens: vec![],
            protein_tokens: vec![],
            rna_cropped: false,
            protein_cropped: false,
        };
        let s = |a: f32, b: f32| Sample { encoded: enc.clone(), targets: vec![a, b] };
        let train = vec![s(0.0, 5.0), s(3.0, 5.0), s(8.0, 5.0)];
        let t = fit_transform(&train, TargetFunction::Log1p, true).unwrap();
        let z: Vec<f32> = train.iter().map(|x| t.forward(0, x.targets[0])).collect();
        let mean = z.iter().sum::<f32>() / 3.0;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 3.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "{mean} {var}");
        // constant target: std 1, value 0
        assert_eq!(t.std.as_ref().unwrap()[1], 1.0);
        assert!(t.forward(1, 5.0).abs() < 1e-6);
        for v in [0.0f32, 3.0, 8.0, 100.0] {
            assert!((t.inverse(0, t.forward(0, v)) - v).abs() < 1e-3 * (1.0 + v));
        }
        assert!(fit_transform(&[s(-1.0, 0.0)], TargetFunction::Log1p, false).is_err());
    }
}
