//! `isoformer train`: fine-tune a model directory on a TSV of inputs and targets.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use burn::tensor::Device;
use clap::ValueEnum;
use isoformer_model::config::TargetFunction;
use isoformer_io::{DirLock, Outputs, open_input};
use isoformer_model::{IsoformerConfig, ModelFiles, Tokenizers};
use isoformer_pipeline::data::{Targets, read_labeled};
use isoformer_pipeline::input::Source;
use isoformer_train::{Event, Run, Sample, TrainOptions, TrainParts};

pub const HELP: &str = "EXAMPLE:\n  isoformer split --input data.tsv --by gene --fractions 0.8,0.1,0.1 --seed 1 -o data\n  \
isoformer train --model models/tiny --train data.train.tsv --valid data.valid.tsv --out trained --epochs 3\n  \
isoformer eval --model trained --data data.test.tsv --plot plots\n\n\
INPUT: `isoformer prepare`'s TSV (transcript_id, dna, rna, protein; gene_id is kept for splits) plus one \
numeric column per target. Targets are the columns named by --targets; by default the 30 GTEx tissue \
columns when all are present, else every column that `prepare` does not write. The targets define the \
head's outputs: when their number differs from the model's head (or with --new-head) the last head layer \
is replaced by one seeded from --seed.\n\n\
TRAINING: AdamW (β 0.9/0.999, ε 1e-8) with linear warmup then cosine decay, global gradient-norm clipping, \
MSE on the transformed targets: --target-transform log1p for raw TPM-like values, none for values already \
on a log scale; --standardize then centres and scales each target on the training set. Both are saved in \
config.json (isoformer_target_transform) and undone by predict, eval and the web page, so predictions come \
out in the training file's units.\n\n\
FROZEN PARTS: --train-parts head|fusion+head|all. Frozen encoders run once per sequence: their outputs \
are kept in the embedding cache (--cache-dir, default $XDG_CACHE_HOME/isoformer/embeddings), keyed by the \
SHA-256 of the input and of the encoder's weights, so later epochs and later runs reuse them. --no-cache \
runs them again on every batch.\n\n\
OUTPUT: OUT is a model directory (config.json, model.safetensors, the vocab files) for predict, eval and the \
page, plus training.json (options, data hash, final validation metrics), training_log.tsv (one row per \
step and per epoch) and checkpoint-STEP/ (weights, AdamW moments, position) every --checkpoint-every steps \
and at each epoch's end. --resume continues from the last checkpoint and ends with the same weights as an \
uninterrupted run (CPU backend, same options and data, same -j).";

/// What learns.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PartsArg {
    /// The head; everything before it frozen.
    Head,
    /// Cross-attention fusion and head; the encoders frozen.
    #[value(name = "fusion+head")]
    FusionHead,
    /// Every parameter (BatchNorm running statistics excepted).
    All,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TransformArg {
    /// log(1 + y): for raw TPM-like targets.
    Log1p,
    /// Targets as they are.
    None,
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Starting model directory (config.json, model.safetensors, the three vocab files).
    #[arg(short, long)]
    pub model: PathBuf,
    /// Training TSV (`.gz` accepted).
    #[arg(long)]
    pub train: PathBuf,
    /// Validation TSV, evaluated after each epoch.
    #[arg(long)]
    pub valid: Option<PathBuf>,
    /// Output model directory (created; also holds checkpoints and the training log).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Target columns, comma-separated (default: the 30 tissues if all present, else every non-`prepare` column).
    #[arg(long, value_delimiter = ',')]
    pub targets: Option<Vec<String>>,
    /// Which parts learn.
    #[arg(long, value_enum, default_value_t = PartsArg::FusionHead)]
    pub train_parts: PartsArg,
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Transcripts per optimizer step.
    #[arg(short, long, default_value_t = 8)]
    pub batch_size: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// Learning rate at the end of the cosine decay.
    #[arg(long, default_value_t = 0.0)]
    pub min_lr: f64,
    /// Steps of linear warmup to the peak.
    #[arg(long, default_value_t = 0)]
    pub warmup_steps: usize,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f32,
    /// Clip the global gradient norm to this (0: no clipping).
    #[arg(long, default_value_t = 1.0)]
    pub clip_grad_norm: f64,
    /// Seed of the batch order and of new head layers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Transform applied to the targets before fitting (undone at prediction).
    #[arg(long, value_enum, default_value_t = TransformArg::None)]
    pub target_transform: TransformArg,
    /// Standardise each target (training mean and standard deviation) before fitting.
    #[arg(long)]
    pub standardize: bool,
    /// Replace the head's last layer even when the number of outputs matches.
    #[arg(long)]
    pub new_head: bool,
    /// Checkpoint every N steps (0: only at the end of each epoch).
    #[arg(long, default_value_t = 0)]
    pub checkpoint_every: usize,
    /// Embedding cache directory for frozen encoders.
    #[arg(long, conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Run frozen encoders on every batch instead of caching their outputs.
    #[arg(long)]
    pub no_cache: bool,
    /// Continue from OUT's last checkpoint (give the same options and data).
    #[arg(long)]
    pub resume: bool,
    /// CPU threads (rayon's pool; default: all cores). Results depend on it: resume with the same.
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Read inputs and targets (every value a finite number) and tokenize them.
pub fn read_samples(path: &Path, targets: Targets<'_>, tokenizers: &Tokenizers) -> Result<(Vec<Sample>, Vec<String>)> {
    let data = read_labeled(Source::new(path, open_input(path)?), targets)?;
    let mut samples = Vec::with_capacity(data.targets.len());
    for (record, targets) in data.records.records.iter().zip(data.targets) {
        let encoded = tokenizers.encode(&record.example()).map_err(|e| anyhow!("{}: {e}", record.at))?;
        samples.push(Sample { encoded, targets });
    }
    Ok((samples, data.target_names))
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("isoformer").join("embeddings"))
}

/// Run training with an embeddings bar, then a step bar with loss and learning rate, and a line
/// per epoch.
fn run_with_progress(run: Run, quiet: bool) -> Result<isoformer_train::Summary, isoformer_train::TrainError> {
    let features = crate::progress::bar(0, "embeddings [{bar:40}] {pos}/{len} {per_sec} ETA {eta}", quiet);
    let bar = crate::progress::bar(0, "train [{bar:40}] {pos}/{len} steps {per_sec} ETA {eta} {msg}", quiet);
    let mut last_valid = String::new();
    let summary = run.run(&mut |e| match e {
        Event::Features { done, total } => {
            features.set_length(*total as u64);
            features.set_position(*done as u64);
        }
        Event::Started { total_steps, first_step } => {
            features.finish_and_clear();
            bar.set_length(*total_steps as u64);
            bar.set_position(*first_step as u64);
            bar.reset_eta();
        }
        Event::Step { step, loss, lr, .. } => {
            bar.set_position(*step as u64);
            bar.set_message(format!("loss {loss:.4} lr {lr:.2e}{last_valid}"));
        }
        Event::Epoch { epoch, train_loss, valid_loss, valid_mean_r2, .. } => {
            if let (Some(l), Some(r)) = (valid_loss, valid_mean_r2) {
                last_valid = format!(" valid loss {l:.4} R² {r:.3}");
            }
            let line = format!("epoch {}: train loss {train_loss:.5}{last_valid}", epoch + 1);
            if quiet || bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        Event::Checkpoint { step, dir } => log::info!("checkpoint at step {step}: {}", dir.display()),
    });
    bar.finish_and_clear();
    summary
}

/// The training options the flags give.
fn options(args: &TrainArgs, parts: TrainParts) -> TrainOptions {
    TrainOptions {
        parts,
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        min_learning_rate: args.min_lr,
        warmup_steps: args.warmup_steps,
        weight_decay: args.weight_decay,
        clip_grad_norm: (args.clip_grad_norm > 0.0).then_some(args.clip_grad_norm),
        seed: args.seed,
        target_function: match args.target_transform {
            TransformArg::Log1p => TargetFunction::Log1p,
            TransformArg::None => TargetFunction::None,
        },
        standardize: args.standardize,
        new_head: args.new_head,
        checkpoint_every: args.checkpoint_every,
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    crate::predict::set_threads(args.threads)?;
    anyhow::ensure!(args.lr > 0.0 && args.lr <= 1.0, "--lr {} must be in (0, 1]", args.lr);
    anyhow::ensure!(args.min_lr >= 0.0 && args.min_lr <= args.lr, "--min-lr {} must be in [0, --lr]", args.min_lr);
    anyhow::ensure!(args.clip_grad_norm >= 0.0, "--clip-grad-norm must be ≥ 0");
    // --out may not be (or hold) an input, e.g. the starting model; it is locked against a second
    // `train` writing into it, and removed again if this run created it and wrote nothing.
    let mut outputs = Outputs::new();
    outputs.input_dir(&args.model, &isoformer_pipeline::model_dir::FILES)?;
    for input in [Some(&args.train), args.valid.as_ref()].into_iter().flatten() {
        outputs.input(input)?;
    }
    outputs.dir(&args.out)?;
    let created = !args.out.exists();
    std::fs::create_dir_all(&args.out).with_context(|| format!("{}: cannot create", args.out.display()))?;
    let lock = DirLock::acquire(&args.out);
    let result = lock.map_err(anyhow::Error::from).and_then(|_lock| train(args));
    if result.is_err() && created {
        // Only if empty: checkpoints written before a failure are kept for --resume.
        let _ = std::fs::remove_dir(&args.out);
    }
    result
}

fn train(args: &TrainArgs) -> Result<()> {
    let device = Device::flex();
    let base = isoformer_pipeline::model_dir::read_files(&args.model)?;
    // Encoding needs the tokenizers only: the weights are loaded once, by the run.
    let config = IsoformerConfig::from_json(&base.config_json).with_context(|| format!("{}", args.model.join(ModelFiles::CONFIG).display()))?;
    let tokenizers = Tokenizers::from_files(&base, &config).map_err(|e| anyhow!("{}/{e}", args.model.display()))?;
    let asked = args.targets.as_deref().map_or(Targets::Default, Targets::Named);
    let (train, targets) = read_samples(&args.train, asked, &tokenizers)?;
    let valid = match &args.valid {
        Some(p) => read_samples(p, Targets::Named(&targets), &tokenizers)?.0,
        None => Vec::new(),
    };
    let parts = match args.train_parts {
        PartsArg::Head => TrainParts::Head,
        PartsArg::FusionHead => TrainParts::FusionHead,
        PartsArg::All => TrainParts::All,
    };
    let cache_dir = if args.no_cache || parts == TrainParts::All {
        None
    } else {
        Some(args.cache_dir.clone().or_else(default_cache_dir).context("no --cache-dir and no HOME for the default; pass --cache-dir or --no-cache")?)
    };
    let options = options(args, parts);
    eprintln!(
        "train: {} training and {} validation examples, {} targets, {:?}, cache {}",
        train.len(),
        valid.len(),
        targets.len(),
        args.train_parts,
        cache_dir.as_ref().map_or("off".to_string(), |d| d.display().to_string())
    );
    let run = Run {
        base: &base,
        train: &train,
        valid: &valid,
        output_names: targets,
        options,
        out_dir: args.out.clone(),
        cache_dir,
        resume: args.resume,
        device,
    };
    let summary = run_with_progress(run, args.quiet);
    // The starting model's faults are about its files, not about the run into --out.
    let summary = summary.map_err(|e| match e {
        isoformer_train::TrainError::BaseWeights(_) | isoformer_train::TrainError::BaseModel(_) => {
            anyhow::Error::from(e).context(args.model.join(ModelFiles::WEIGHTS).display().to_string())
        }
        e => anyhow::Error::from(e).context(format!("training into {}", args.out.display())),
    })?;
    eprintln!(
        "train: {} steps, {} examples in {:.2} s ({:.1} examples/s; embeddings before the first step {:.2} s, cache {} hits {} misses); model in {}",
        summary.steps,
        summary.examples_seen,
        summary.seconds,
        summary.examples_per_second,
        summary.feature_seconds,
        summary.cache_hits,
        summary.cache_misses,
        args.out.display()
    );
    Ok(())
}
