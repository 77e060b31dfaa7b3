//! Training and evaluation for IsoFormer (issue 7): the autodiff training loop with frozen or
//! trained parts, AdamW with warmup + cosine schedule and global-norm clipping, the on-disk
//! embedding cache for frozen encoders, resumable checkpoints, per-target metrics (R², Pearson,
//! Spearman, MSE) and gene-disjoint splits.

pub mod cache;
pub mod metrics;
pub mod split;
pub mod trainer;

pub use trainer::{Event, Run, Sample, Summary, TrainError, TrainOptions, TrainParts};
