//! Training and evaluation for IsoFormer: the autodiff training loop with frozen or trained
//! parts, AdamW with warmup + cosine schedule and global-norm clipping, the on-disk embedding
//! cache for frozen encoders, resumable checkpoints, per-target metrics (R², Pearson, Spearman,
//! MSE) and gene-disjoint splits.

mod checkpoint;
pub mod data;
pub mod error;
mod evaluate;
pub mod features;
mod forward;
pub mod metrics;
pub mod optim;
pub mod options;
mod params;
mod retention;
pub mod save;
pub mod split;
mod start;
mod training_log;
pub mod trainer;
pub mod transform;

pub use data::Sample;
pub use error::TrainError;
pub use options::{TrainOptions, TrainParts};
pub use trainer::{Event, Run, Summary};
