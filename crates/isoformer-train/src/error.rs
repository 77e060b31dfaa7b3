//! Why a training run stops: one variant per failure, naming the file it concerns where there is
//! one. The underlying error is the `source`, not repeated in the message (the CLI prints the
//! chain as `caused by:` lines).

use std::path::{Path, PathBuf};

use isoformer_model::config::ConfigError;
use isoformer_model::model::ExportError;
use isoformer_model::weights::LoadError;

use crate::optim::MomentsError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{}: cannot read", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] isoformer_io::IoError),
    #[error("{}: cannot write", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: embedding cache", .dir.display())]
    Cache {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    // What the run was given.
    #[error("--batch-size and --epochs must be at least 1")]
    NoBatches,
    #[error("no training examples")]
    NoExamples,
    #[error("{id}: {found} targets, expected {expected}")]
    TargetCount { id: String, found: usize, expected: usize },
    #[error("{id}: DNA length {found} differs from {first} (one window length per run)")]
    DnaLength { id: String, found: usize, first: usize },
    #[error("{id}: target {value} ≤ −1 cannot take log1p (use --target-transform none)")]
    Log1pDomain { id: String, value: f32 },
    #[error("nothing to train")]
    NothingToTrain,
    /// burn's schedulers report their configuration errors as text.
    #[error("learning-rate schedule: {message}")]
    Schedule { message: String },

    // The starting model.
    #[error("the starting model's config.json")]
    BaseConfig(#[source] ConfigError),
    #[error("the starting model's model.safetensors is not a safetensors file")]
    BaseWeights(#[source] isoformer_model::safetensors_header::HeaderError),
    #[error("the starting model's model.safetensors does not fit its config.json")]
    BaseModel(#[source] LoadError),

    // During training.
    #[error("loss became {value} at step {step}: lower --lr or set --clip-grad-norm")]
    Diverged { value: f64, step: usize },

    // Saving.
    #[error("saving the model")]
    Export(#[source] ExportError),
    #[error("tensor {name}: cannot serialise")]
    TensorView {
        name: String,
        #[source]
        source: safetensors::SafeTensorError,
    },
    #[error("cannot serialise weights")]
    Serialise(#[source] safetensors::SafeTensorError),
    #[error("cannot write {what} as JSON")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

    // Resuming.
    #[error("{}: cannot resume (no checkpoint was written in this output directory)", .path.display())]
    NoCheckpoint {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no `dir` field", .path.display())]
    CheckpointPointer { path: PathBuf },
    #[error("{}: not a checkpoint state", .path.display())]
    CheckpointState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: the checkpoint was made with other training options:\n  checkpoint: {checkpoint}\n  now:        {now}", .path.display())]
    OtherOptions { path: PathBuf, checkpoint: String, now: String },
    #[error("{}: the training data differ from the checkpoint's", .path.display())]
    OtherData { path: PathBuf },
    #[error("{}: not a safetensors file", .path.display())]
    CheckpointWeights {
        path: PathBuf,
        #[source]
        source: isoformer_model::safetensors_header::HeaderError,
    },
    #[error("{}: does not fit the checkpoint's config", .path.display())]
    CheckpointModel {
        path: PathBuf,
        #[source]
        source: LoadError,
    },
    #[error("{}: AdamW moments", .path.display())]
    CheckpointMoments {
        path: PathBuf,
        #[source]
        source: MomentsError,
    },
}

/// `map_err` for a failed read of `path`.
pub(crate) fn read(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Read { path: path.to_path_buf(), source }
}

/// `map_err` for a failed write (or create, or rename) of `path`.
pub(crate) fn write(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Write { path: path.to_path_buf(), source }
}
