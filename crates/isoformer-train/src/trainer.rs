//! The training loop on burn's autodiff.
//!
//! * What is trained ([`crate::options::TrainParts`]): the other parts' parameters stop requiring gradients, so
//!   they get none and the optimiser never sees them ([`crate::params`]); BatchNorm running
//!   statistics are never trained (Enformer stays in inference mode, as upstream fine-tuning
//!   does). Frozen encoders' outputs come from the embedding cache ([`crate::features`]).
//! * The optimiser ([`crate::optim`]): AdamW with moments by parameter path, global-norm
//!   clipping, warmup then cosine decay.
//! * Loss: MSE over examples × outputs in the transformed target space ([`crate::transform`]).
//! * Determinism: batches are drawn from a per-epoch permutation seeded by `(seed, epoch)`;
//!   frozen embeddings are computed one example at a time; new head layers are seeded from their
//!   names and the seed. A checkpoint ([`crate::checkpoint`]) holds everything else, so a resumed
//!   run ends with the same bits as an uninterrupted one.

use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use isoformer_model::config::TargetTransform;
use isoformer_model::{Isoformer, ModelFiles};
use serde::Serialize;

use crate::checkpoint::{Checkpointer, State};
use crate::data::{Sample, check, data_hash, permutation};
use crate::error::{TrainError, write};
use crate::evaluate::{Validation, evaluate};
use crate::features::cache::Cache;
use crate::features::{Features, frozen_batch};
use crate::forward::forward_batch;
use crate::metrics;
use crate::optim::Optimiser;
use crate::options::TrainOptions;
use crate::params::prepare;
use crate::retention::RetentionPolicy;
pub use crate::save::{model_bytes, write_model_dir};
use crate::save::write_atomic;
use crate::start::{Start, fresh, resume};
use crate::training_log::{EpochRow, TrainingLog};

const LOG: &str = "training_log.tsv";

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

impl Run<'_> {
    /// Train; the model directory, record and log are written to `out_dir`.
    pub fn run(self, on: &mut dyn FnMut(&Event)) -> Result<Summary, TrainError> {
        check(&self.options, self.train, self.valid, self.output_names.len())?;
        std::fs::create_dir_all(&self.out_dir).map_err(write(&self.out_dir))?;
        let device = self.device.clone().autodiff();
        let checkpointer = Checkpointer::new(&self.out_dir, RetentionPolicy::LATEST);
        let hash = data_hash(self.train, &self.output_names);
        let start = if self.resume {
            resume(&checkpointer, &self.options, hash, &device)?
        } else {
            fresh(self.base, self.train, &self.output_names, &self.options, hash, &device)?
        };
        let (mut model, mut trainer) = Trainer::new(&self, start, checkpointer, &device)?;
        // Frozen features, computed (or read) once up front so that throughput is measured on steps.
        let feature_seconds = trainer.warm_features(on)?;
        let mut log = TrainingLog::open(self.out_dir.join(LOG))?;
        on(&Event::Started { total_steps: trainer.batches_per_epoch * self.options.epochs, first_step: trainer.state.step });
        let clock = Instant::now();
        let mut last_valid = None;
        while trainer.state.epoch < self.options.epochs {
            model = trainer.epoch(model, &mut log, clock, on)?;
            last_valid = trainer.end_epoch(&model, &mut log, clock, on)?;
        }
        let seconds = clock.elapsed().as_secs_f64();
        let summary = trainer.summary(seconds, feature_seconds, last_valid);
        self.finish(model, &trainer, &summary)?;
        Ok(summary)
    }

    /// The model directory and `training.json`.
    fn finish(&self, model: Isoformer, trainer: &Trainer, summary: &Summary) -> Result<(), TrainError> {
        let mut model = model.valid();
        model.head.transform = Some(trainer.transform.clone());
        write_model_dir(&self.out_dir, self.base, &trainer.state.config, &model)?;
        let record = serde_json::json!({
            "options": self.options,
            "output_names": self.output_names,
            "target_transform": trainer.transform,
            "train_examples": self.train.len(),
            "valid_examples": self.valid.len(),
            "train_data_sha256": trainer.state.data_hash,
            "trained_parameters": trainer.optimiser.trained().iter().map(|p| &p.path).collect::<Vec<_>>(),
            "steps": trainer.state.step,
            "resumed": self.resume,
            "summary_of_this_process": summary,
        });
        write_atomic(&self.out_dir.join("training.json"), (serde_json::to_string_pretty(&record).unwrap_or_default() + "\n").as_bytes())
    }
}

/// The loop's state besides the model, which its methods take and give back.
struct Trainer<'r> {
    run: &'r Run<'r>,
    state: State,
    transform: TargetTransform,
    /// Training targets in the transformed space, by example.
    targets: Vec<Vec<f32>>,
    optimiser: Optimiser,
    features: Option<Features>,
    checkpointer: Checkpointer,
    device: Device,
    batches_per_epoch: usize,
    /// Examples this process trained on.
    seen: usize,
}

impl<'r> Trainer<'r> {
    /// Make `start`'s model trainable, restore the optimiser and the log from its checkpoint, and
    /// set up the frozen features.
    fn new(run: &'r Run<'r>, start: Start, checkpointer: Checkpointer, device: &Device) -> Result<(Isoformer, Self), TrainError> {
        let Start { mut model, mut state, resumed } = start;
        let o = &run.options;
        let transform = state.config.isoformer_target_transform.clone().unwrap_or_default();
        state.config.isoformer_output_names = Some(run.output_names.clone());
        // Training fits the raw outputs; the inverse transform is only for predictions.
        model.head.transform = None;
        let (model, trained) = prepare(model, o.parts);
        if trained.is_empty() {
            return Err(TrainError::NothingToTrain);
        }
        let targets: Vec<Vec<f32>> = run.train.iter().map(|s| s.targets.iter().enumerate().map(|(j, v)| transform.forward(j, *v)).collect()).collect();
        let batches_per_epoch = run.train.len().div_ceil(o.batch_size);
        let mut optimiser = Optimiser::new(o, batches_per_epoch * o.epochs, trained)?;
        if let Some(checkpoint) = &resumed {
            checkpoint.resume_optimiser(&mut optimiser, &device.clone().without_autodiff())?;
            TrainingLog::truncate_after(&run.out_dir.join(LOG), state.step)?;
        }
        let cache_error = |source| TrainError::Cache { dir: run.cache_dir.clone().unwrap_or_default(), source };
        let cache = Cache::new(run.cache_dir.clone()).map_err(cache_error)?;
        let features = Features::new(&model, &state.config, o.parts, cache);
        let trainer = Self { run, state, transform, targets, optimiser, features, checkpointer, device: device.clone(), batches_per_epoch, seen: 0 };
        Ok((model, trainer))
    }

    /// Fill the embedding cache with every example's frozen features; the seconds it took.
    /// Without a cache directory nothing is kept: the frozen encoders run again for every batch.
    fn warm_features(&mut self, on: &mut dyn FnMut(&Event)) -> Result<f64, TrainError> {
        let (run, clock) = (self.run, Instant::now());
        if let Some(features) = &mut self.features
            && features.cache().dir().is_some()
        {
            let total = run.train.len() + run.valid.len();
            for (i, s) in run.train.iter().chain(run.valid).enumerate() {
                features.warm(&s.encoded)?;
                on(&Event::Features { done: i + 1, total });
            }
        }
        Ok(clock.elapsed().as_secs_f64())
    }

    /// The rest of the current epoch's batches.
    fn epoch(&mut self, mut model: Isoformer, log: &mut TrainingLog, clock: Instant, on: &mut dyn FnMut(&Event)) -> Result<Isoformer, TrainError> {
        let run = self.run;
        let o = &run.options;
        let order = permutation(o.seed, self.state.epoch, run.train.len());
        while self.state.next_batch < self.batches_per_epoch {
            let b = self.state.next_batch;
            let batch = &order[b * o.batch_size..((b + 1) * o.batch_size).min(order.len())];
            let (next, lr, loss) = self.step(model, batch)?;
            model = next;
            log.step(self.state.epoch, self.state.step, lr, loss, clock.elapsed().as_secs_f64())?;
            on(&Event::Step { epoch: self.state.epoch, step: self.state.step, lr, loss });
            let end_of_epoch = self.state.next_batch == self.batches_per_epoch;
            if o.checkpoint_every > 0 && self.state.step % o.checkpoint_every == 0 && !end_of_epoch {
                log.flush()?;
                self.checkpoint(&model, on)?;
            }
        }
        Ok(model)
    }

    /// One optimiser step on the training examples at `batch`: the updated model, the learning
    /// rate and the batch loss.
    fn step(&mut self, model: Isoformer, batch: &[usize]) -> Result<(Isoformer, f64, f64), TrainError> {
        let run = self.run;
        let samples: Vec<&Sample> = batch.iter().map(|&i| &run.train[i]).collect();
        let frozen = frozen_batch(self.features.as_mut(), &samples)?;
        let pred = forward_batch(&model, &samples, &frozen);
        let target: Vec<f32> = batch.iter().flat_map(|&i| self.targets[i].iter().copied()).collect();
        let target = Tensor::<2>::from_data(TensorData::new(target, [batch.len(), run.output_names.len()]), &self.device);
        let loss = (pred - target).square().mean();
        let value = loss.clone().into_data().convert::<f64>().try_into_vec::<f64>().expect("scalar")[0];
        if !value.is_finite() {
            return Err(TrainError::Diverged { value, step: self.state.step });
        }
        let (model, lr) = self.optimiser.step(model, loss);
        self.state.step += 1;
        self.state.next_batch += 1;
        self.state.epoch_loss_sum += value;
        self.seen += batch.len();
        Ok((model, lr, value))
    }

    /// Validate, log the epoch, move to the next one and checkpoint there.
    fn end_epoch(&mut self, model: &Isoformer, log: &mut TrainingLog, clock: Instant, on: &mut dyn FnMut(&Event)) -> Result<Option<Validation>, TrainError> {
        let run = self.run;
        let train_loss = self.state.epoch_loss_sum / self.batches_per_epoch as f64;
        let valid = if run.valid.is_empty() {
            None
        } else {
            Some(evaluate(&model.clone().valid(), run.valid, self.features.as_mut(), &self.transform, &run.output_names)?)
        };
        let (epoch, step) = (self.state.epoch, self.state.step);
        let (valid_loss, valid_mean_r2) = (valid.as_ref().map(|v| v.loss), valid.as_ref().map(|v| v.report.mean_r2));
        let valid_mean_pearson = valid.as_ref().map(|v| v.report.mean_pearson);
        let seconds = clock.elapsed().as_secs_f64();
        log.epoch(&EpochRow { epoch, step, train_loss, valid_loss, valid_mean_r2, valid_mean_pearson, seconds })?;
        log.flush()?;
        on(&Event::Epoch { epoch, step, train_loss, valid_loss, valid_mean_r2 });
        self.state.end_epoch();
        self.checkpoint(model, on)?;
        Ok(valid)
    }

    fn checkpoint(&self, model: &Isoformer, on: &mut dyn FnMut(&Event)) -> Result<(), TrainError> {
        let dir = self.checkpointer.save(model, &self.optimiser, &self.state)?;
        on(&Event::Checkpoint { step: self.state.step, dir });
        Ok(())
    }

    fn summary(&self, seconds: f64, feature_seconds: f64, last_valid: Option<Validation>) -> Summary {
        let (cache_hits, cache_misses) = self.features.as_ref().map_or((0, 0), |f| (f.cache().hits, f.cache().misses));
        Summary {
            steps: self.state.step,
            examples_seen: self.seen,
            seconds,
            examples_per_second: if seconds > 0.0 { self.seen as f64 / seconds } else { 0.0 },
            feature_seconds,
            cache_hits,
            cache_misses,
            final_valid_loss: last_valid.as_ref().map(|v| v.loss),
            final_valid: last_valid.map(|v| v.report),
        }
    }
}
