//! What a run trains and with which settings.

use isoformer_model::config::TargetFunction;
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_select_parameters() {
        assert!(TrainParts::Head.trains("head.layers.0.weight"));
        assert!(!TrainParts::Head.trains("fusion.rna.query.weight"));
        assert!(TrainParts::FusionHead.trains("fusion.rna.query.weight"));
        assert!(!TrainParts::FusionHead.trains("nt.layer.0.query.weight"));
        assert!(TrainParts::All.trains("enformer.stem.conv.weight"));
        assert!(!TrainParts::All.trains("enformer.stem.residual.norm.running_var"));
    }
}
